"""Multi-objective rewards: a reward may be a vector (user satisfaction, equilibrium
stability, latency cost, ...).

Two ways to learn from it:

* :class:`ScalarizedPolicy` wraps one policy and teaches it ``weights . r``: cheap,
  but the weights are fixed into what it learns.
* :class:`MultiObjectivePolicy` keeps one policy per objective (each learns its own
  reward), decides by the weighted sum of their scores (the weights can change at any
  time without relearning) and reports the Pareto front of arms for a context: the
  arms that no other arm beats on every objective.

:func:`pareto_front` and :func:`scalarize` work on plain arrays.
"""

from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .policies import Decision

__all__ = ["scalarize", "pareto_front", "ScalarizedPolicy", "MultiObjectivePolicy"]


def _weights(weights: Any, m: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64) if weights is not None else np.full(m, 1.0 / m)
    if w.shape != (m,):
        raise ValueError(f"weights must have one entry per objective ({m}), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite")
    return w


def _vector(reward: Any, m: int) -> np.ndarray:
    try:
        r = np.asarray(reward, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"a reward must be a vector of {m} numbers, got {reward!r}") from None
    if r.shape != (m,):
        raise ValueError(f"a reward must be a vector of {m} numbers (one per objective), got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("reward contains NaN or Inf")
    return r


def scalarize(rewards: Any, weights: Any) -> Union[float, np.ndarray]:
    """``rewards @ weights`` for an (m,) vector or (n, m) rows of rewards."""
    R = np.asarray(rewards, dtype=np.float64)
    if R.ndim not in (1, 2):
        raise ValueError(f"rewards must be (m,) or (n, m), got shape {R.shape}")
    w = _weights(weights, R.shape[-1])
    out = R @ w
    return float(out) if R.ndim == 1 else out


def pareto_front(values: Any, maximize: Union[bool, Sequence[bool]] = True) -> np.ndarray:
    """Indices (ascending) of the rows of ``values`` (K, m) that no other row
    dominates (at least as good on every objective and better on one). ``maximize``:
    one bool, or one per objective (False for a cost such as latency). Equal rows are
    all kept."""
    V = np.asarray(values, dtype=np.float64)
    if V.ndim != 2:
        raise ValueError(f"values must be (K, m), got shape {V.shape}")
    if not np.all(np.isfinite(V)):
        raise ValueError("values contain NaN or Inf")
    sign = np.where(np.broadcast_to(np.asarray(maximize, dtype=bool), (V.shape[1],)), 1.0, -1.0)
    G = V * sign  # larger is better everywhere
    ge = np.all(G[:, None, :] >= G[None, :, :], axis=2)  # ge[i, j]: i at least as good as j everywhere
    gt = np.any(G[:, None, :] > G[None, :, :], axis=2)
    dominated = np.any(ge & gt, axis=0)
    return np.flatnonzero(~dominated)


class ScalarizedPolicy:
    """A policy that learns ``weights . reward`` from vector rewards."""

    def __init__(self, policy: Any, weights: Any) -> None:
        self.policy = policy
        self.weights = _weights(weights, len(np.atleast_1d(np.asarray(weights))))

    @property
    def n_objectives(self) -> int:
        return len(self.weights)

    def select(self, x: Any, **kw: Any) -> Any:
        return self.policy.select(x, **kw)

    def update(self, decision: Any, reward: Any) -> None:
        self.policy.update(decision, float(_vector(reward, self.n_objectives) @ self.weights))


class MultiObjectivePolicy:
    """One policy per objective (e.g. ``[LinUCB(K, d), LinUCB(K, d)]``, same arms and
    dim); decisions maximise ``sum_j weights[j] * scores_j(x)`` (for UCB policies an
    optimistic estimate of the weighted reward when the weights are >= 0)."""

    def __init__(self, policies: Sequence[Any], weights: Any = None,
                 objectives: Optional[Sequence[str]] = None) -> None:
        self.policies = list(policies)
        if len(self.policies) < 1:
            raise ValueError("give one policy per objective")
        first = self.policies[0]
        for p in self.policies[1:]:
            if p.n_arms != first.n_arms or p.dim != first.dim:
                raise ValueError("the policies must have the same arms and dim")
        self.n_arms, self.dim = first.n_arms, first.dim
        m = len(self.policies)
        self.objectives = list(objectives) if objectives is not None else [f"objective{j}" for j in range(m)]
        if len(self.objectives) != m:
            raise ValueError(f"{len(self.objectives)} objective names for {m} policies")
        self.weights = _weights(weights, m)
        self._pending: Dict[int, Tuple[int, np.ndarray]] = {}
        self._ids = itertools.count()

    @property
    def n_objectives(self) -> int:
        return len(self.policies)

    def set_weights(self, weights: Any) -> None:
        self.weights = _weights(weights, self.n_objectives)

    def _context(self, x: Any) -> np.ndarray:
        v = np.asarray(x, dtype=np.float64).ravel()
        if v.shape != (self.dim,) or not np.all(np.isfinite(v)):
            raise ValueError(f"a context must be {self.dim} finite numbers")
        return v

    def scores(self, x: Any) -> np.ndarray:
        """(K,) weighted scores that select maximises."""
        x = self._context(x)
        return sum(w * np.asarray(p.scores(x)) for w, p in zip(self.weights, self.policies))

    def means(self, x: Any) -> np.ndarray:
        """(K, m) estimated reward of every arm on every objective."""
        x = self._context(x)
        return np.stack([np.asarray(p.means(x)) for p in self.policies], axis=1)

    def pareto_front(self, x: Any, maximize: Union[bool, Sequence[bool]] = True) -> np.ndarray:
        """Arms on the Pareto front of the estimated means for context x."""
        return pareto_front(self.means(x), maximize)

    def select(self, x: Any, *, track: bool = True) -> Decision:
        x = self._context(x)
        s = self.scores(x)
        arm = int(np.argmax(s))  # ties: lowest index, like the policies
        i = next(self._ids)
        if track:
            self._pending[i] = (arm, x)
        return Decision(i, arm, float(s[arm]), 1.0)

    def update(self, decision: Any, reward: Any) -> None:
        """Teach each objective's policy its component of the reward vector."""
        key = decision.id if isinstance(decision, Decision) else decision
        if key not in self._pending:
            raise KeyError(f"decision {key!r} is unknown or already has its reward")
        r = _vector(reward, self.n_objectives)
        arm, x = self._pending.pop(key)
        for p, rj in zip(self.policies, r):
            p.update((arm, x), float(rj))

    @property
    def pending(self) -> List[int]:
        return list(self._pending)
