"""Contextual bandit policies (thin wrappers over the C++ core ``_core.BanditCore``).

Every policy keeps float64 state in C++, makes deterministic decisions for a
given seed (ties go to the lowest arm index) and keeps each decision pending,
keyed by its id, until its reward arrives (or its time-to-live runs out).
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from ..errors import CorruptFileError

__all__ = [
    "Decision",
    "DecisionBatch",
    "Policy",
    "LinUCB",
    "HybridLinUCB",
    "LinearThompsonSampling",
    "EpsilonGreedy",
    "DiscountedLinUCB",
    "SlidingWindowLinUCB",
    "load_policy",
    "policy_from_state_dict",
]

_STATE_FORMAT = "superinstance.frozen_model_rl.policy"


class Decision(NamedTuple):
    """One decision: its id (pass it to ``update``), the arm index, the arm's
    score (UCB, sampled value or estimate) and the probability with which the
    policy chose this arm (1.0 for the deterministic UCB policies)."""

    id: int
    arm: int
    score: float
    propensity: float


class DecisionBatch(NamedTuple):
    """Decisions of ``select_batch``: one array entry per context row."""

    ids: np.ndarray
    arms: np.ndarray
    scores: np.ndarray
    propensities: np.ndarray


DecisionRef = Union[int, Decision, Tuple[int, Any]]


def _arms_arg(arms: Union[int, Sequence[Any]]) -> Tuple[int, Optional[List[Any]]]:
    """(n_arms, the arm objects); None for ``arms`` given as a count: the arms
    are then range(n_arms), listed once the core has accepted n_arms (the core
    refuses an empty arm set, the binding a count out of range)."""
    if isinstance(arms, (int, np.integer)) and not isinstance(arms, bool):
        return int(arms), None
    try:
        items = list(arms)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"arms must be an int or a sequence of arms, got {type(arms).__name__}") from None
    return len(items), items


class Policy:
    """Base class of the policies. Use a subclass (:class:`LinUCB`, ...).

    Parameters common to every policy:
      arms: number of arms, or a sequence of arm objects (e.g. ConstraintArm);
        decisions refer to arms by index into this sequence.
      dim: number of context features.
      lam: ridge regularisation (prior precision), > 0.
      seed: random seed (exploration, Thompson draws); runs reproduce.
      reinvert_every: exact re-inversion of A from A's running sum every this
        many rank-1 updates of an arm (bounds rounding drift; 0 disables).
      max_pending: bound on decisions waiting for a reward; when full, the
        oldest one is evicted (and gets ``default_reward`` if set).
      ttl: time-to-live of a pending decision in rounds (decisions); None: none.
      default_reward: reward applied to a decision that expires or is evicted;
        None: such decisions are dropped without a reward.
      log: a :class:`~superinstance.frozen_model_rl.DecisionLog` that records
        every tracked decision and its reward, or None.
      simd: SIMD level of the float64 kernels ("scalar", "avx2", "avx512");
        None: the active level (see superinstance.capabilities()).
    """

    _algo = ""

    def __init__(self, arms: Union[int, Sequence[Any]], dim: int, *, alpha: float = 1.0,
                 lam: float = 1.0, seed: int = 0, reinvert_every: int = 64,
                 max_pending: int = 100_000, ttl: Optional[int] = None,
                 default_reward: Optional[float] = None, log: Any = None, simd: Optional[str] = None,
                 **algo_params: Any) -> None:
        n, items = _arms_arg(arms)
        # The core checks every argument's type and value and names it when wrong.
        self._core = _core.BanditCore(
            self._algo, n, dim, alpha=alpha, lam=lam, seed=seed, reinvert_every=reinvert_every,
            max_pending=max_pending, ttl=0 if ttl is None else ttl, default_reward=default_reward,
            simd=simd, **algo_params)
        self._arms = items if items is not None else list(range(n))
        self.log = log

    # ------------------------------------------------------------ construction helpers
    @classmethod
    def _wrap(cls, core: "_core.BanditCore", arms: Optional[Sequence[Any]] = None) -> "Policy":
        klass = _ALGO_CLASSES[core.algo]
        obj = klass.__new__(klass)
        obj._core = core
        obj._arms = list(arms) if arms is not None else list(range(core.n_arms))
        if len(obj._arms) != core.n_arms:
            raise ValueError(f"arms has {len(obj._arms)} entries, the saved policy has {core.n_arms} arms")
        obj.log = None
        return obj

    # ------------------------------------------------------------ properties
    @property
    def arms(self) -> List[Any]:
        """The arms, in index order."""
        return list(self._arms)

    @property
    def n_arms(self) -> int:
        return self._core.n_arms

    @property
    def dim(self) -> int:
        return self._core.dim

    @property
    def algo(self) -> str:
        return self._core.algo

    @property
    def config(self) -> Dict[str, Any]:
        """The policy's parameters (as the core holds them)."""
        return self._core.config()

    def stats(self) -> Dict[str, int]:
        """Counters: rounds, updates, pending (table size), expired, expired_default,
        evicted, reinversions, next_id."""
        return self._core.stats()

    @property
    def n_pending(self) -> int:
        """Decisions waiting for their reward (the pending table's size)."""
        return self._core.stats()["pending"]

    def pending_ids(self) -> np.ndarray:
        return self._core.pending_ids()

    # ------------------------------------------------------------ decisions
    def select(self, x: Any, *, track: bool = True) -> Decision:
        """Choose an arm for context ``x`` (``dim`` finite values).

        With ``track`` (default) the decision waits for ``update(decision, reward)``.
        """
        d = Decision(*self._core.select(x, track))
        if self.log is not None and track:
            self.log.record(d, x)
        return d

    def select_batch(self, X: Any, *, track: bool = True) -> DecisionBatch:
        """One decision per row of ``X`` (n, dim); each row is one round."""
        ids, arms, scores, props = self._core.select_batch(X, track)
        batch = DecisionBatch(ids, arms, scores, props)
        if self.log is not None and track:
            self.log.record_batch(batch, X)
        return batch

    def scores(self, x: Any) -> np.ndarray:
        """Per-arm scores for ``x`` without deciding: UCBs for the UCB policies,
        posterior means for Thompson sampling and epsilon-greedy."""
        return self._core.scores(x)

    def means(self, x: Any) -> np.ndarray:
        """Per-arm estimated expected reward for ``x``."""
        return self._core.means(x)

    def greedy(self, X: Any) -> np.ndarray:
        """Arm with the highest estimated reward for each row of X (no exploration)."""
        X = np.asarray(X)
        rows = X.reshape(1, -1) if X.ndim == 1 else X
        if rows.ndim != 2:
            raise ValueError(f"X must be (n, dim) or (dim,), got shape {X.shape}")
        # The core checks each row's dtype, length and values.
        return np.array([int(np.argmax(self._core.means(x))) for x in rows], dtype=np.int64)

    # ------------------------------------------------------------ rewards
    def update(self, decision: DecisionRef, reward: float) -> None:
        """Give the reward of a decision: a :class:`Decision`, its id, or an
        ``(arm, x)`` pair (learning from an observation made without ``select``).

        Raises UnknownIdError for an id never issued, expired or evicted, and
        ValueError for a duplicate reward or a non-finite reward; the learned
        state is unchanged then.
        """
        if isinstance(decision, tuple) and not isinstance(decision, Decision):
            if len(decision) != 2:
                raise TypeError("update(): decision must be a Decision, an id, or an (arm, x) pair")
            arm, x = decision
            self._core.update_arm(arm, x, reward)
            return
        did = decision.id if isinstance(decision, Decision) else decision
        if isinstance(did, bool) or not isinstance(did, (int, np.integer)):
            raise TypeError(f"update(): decision id must be an int, got {type(did).__name__}")
        self._core.update(did, reward)
        if self.log is not None:
            self.log.set_reward(int(did), float(reward))

    def update_batch(self, decisions: Any, rewards: Any) -> None:
        """Rewards for many decisions (ids or a DecisionBatch); all or none are applied."""
        ids = decisions.ids if isinstance(decisions, DecisionBatch) else decisions
        self._core.update_batch(ids, rewards)
        if self.log is not None:
            self.log.set_rewards(ids, rewards)

    def update_arms(self, arms: Any, X: Any, rewards: Any) -> None:
        """Learn from observations (arm, x, reward) made without ``select``."""
        self._core.update_arm_batch(arms, X, rewards)

    def expire(self) -> None:
        """Apply the time-to-live now (it is also applied on every select)."""
        self._core.expire()

    # ------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything: back to the freshly constructed state (same seed)."""
        self._core.reset()

    def copy(self) -> "Policy":
        """An independent deep copy (same arms, state, random stream)."""
        return type(self)._wrap(self._core.copy(), self._arms)

    def theta(self, arm: int) -> np.ndarray:
        """The arm's current coefficient estimate."""
        return self._core.theta(arm)

    def a_inv(self, arm: int) -> np.ndarray:
        """The arm's current inverse design matrix (A^-1 or V^-1)."""
        return self._core.a_inv(arm)

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to restore this policy (pending decisions included)."""
        return {"format": _STATE_FORMAT, "version": _core.BanditCore.format_version,
                "algo": self.algo, "state": self._core.state_bytes()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Replace this policy's state; on a bad state nothing changes."""
        blob = _check_state(state)
        core = _core.BanditCore.from_state_bytes(blob, _state_version(state))
        if core.algo != self.algo:
            raise ValueError(f"state is for a {core.algo} policy, this is {self.algo}")
        if core.n_arms != self.n_arms:
            raise ValueError(f"state has {core.n_arms} arms, this policy has {self.n_arms}")
        self._core = core

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Atomic, versioned, checksummed save (cpp/common/atomic_file.hpp)."""
        self._core.save(os.fspath(path))

    @classmethod
    def load(cls, path: Union[str, os.PathLike], arms: Optional[Sequence[Any]] = None) -> "Policy":
        """Load a saved policy; raises CorruptFileError / WrongFileKindError /
        UnsupportedVersionError on a bad file. ``arms`` restores arm objects."""
        p = load_policy(path, arms)
        if cls is not Policy and not isinstance(p, cls):
            raise ValueError(f"{os.fspath(path)} holds a {p.algo} policy, not {cls.__name__}")
        return p

    def __repr__(self) -> str:
        c = self.config
        return f"{type(self).__name__}(n_arms={c['n_arms']}, dim={c['dim']}, alpha={c['alpha']})"


def _check_state(state: Dict[str, Any]) -> bytes:
    if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
        raise ValueError("not a frozen_model_rl policy state_dict")
    if _state_version(state) > _core.BanditCore.format_version:
        from ..errors import UnsupportedVersionError

        raise UnsupportedVersionError(f"policy state version {state.get('version')} is newer than this build reads")
    blob = state.get("state")
    if not isinstance(blob, (bytes, bytearray)):
        raise CorruptFileError("policy state_dict has no 'state' bytes")
    return bytes(blob)


def _state_version(state: Dict[str, Any]) -> int:
    """The state_dict's format version (older versions still load)."""
    version = state.get("version")
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise CorruptFileError(f"policy state_dict has a bad version {version!r}")
    return int(version)


def load_policy(path: Union[str, os.PathLike], arms: Optional[Sequence[Any]] = None) -> Policy:
    """Load any saved policy; returns an instance of the right class."""
    return Policy._wrap(_core.BanditCore.load(os.fspath(path)), arms)


def policy_from_state_dict(state: Dict[str, Any], arms: Optional[Sequence[Any]] = None) -> Policy:
    return Policy._wrap(_core.BanditCore.from_state_bytes(_check_state(state), _state_version(state)), arms)


class LinUCB(Policy):
    """Disjoint LinUCB (Li et al. 2010, algorithm 1): per arm ridge regression,
    score ``theta_a.x + alpha * sqrt(x' A_a^-1 x)``. ``alpha >= 0``.

    pending_in_design (default True): a tracked decision enters A at selection
    with its predicted reward (theta is unchanged by that) and its real reward
    corrects b when it arrives, so exploration shrinks while rewards are
    delayed; once every reward is in, the model is exactly the usual one."""

    _algo = "linucb"

    def __init__(self, arms: Union[int, Sequence[Any]], dim: int, *, alpha: float = 1.0, **kw: Any) -> None:
        super().__init__(arms, dim, alpha=alpha, **kw)


class HybridLinUCB(Policy):
    """Hybrid LinUCB (Li et al. 2010, algorithm 2). Shared features are
    ``kron(arm_features[a], x)`` with one shared coefficient vector, so what is
    learnt about one arm configuration transfers to similar ones.

    arm_features: (n_arms, m) array, e.g. ConstraintArm weight vectors; if
    ``arms`` are ConstraintArms and arm_features is None, their weights are used.
    """

    _algo = "hybrid_linucb"

    def __init__(self, arms: Union[int, Sequence[Any]], dim: int, *, arm_features: Any = None,
                 alpha: float = 1.0, **kw: Any) -> None:
        n, items = _arms_arg(arms)
        if arm_features is None and n > 0:  # (no arms: the core names the empty arm set)
            if items is not None and all(hasattr(a, "as_array") for a in items):
                arm_features = np.stack([a.as_array() for a in items])
            else:
                raise ValueError("HybridLinUCB needs arm_features (n_arms, m), or arms that are ConstraintArms")
        super().__init__(arms, dim, alpha=alpha, arm_features=arm_features, **kw)


class LinearThompsonSampling(Policy):
    """Linear Thompson sampling (Agrawal & Goyal 2013): draws each arm's score
    from N(theta_a.x, v^2 x'A_a^-1 x). ``v`` scales exploration.

    Each decision's propensity P(arm wins) is the integral of
    phi(z) prod_b Phi(...) computed by the trapezoid rule with
    ``propensity_points`` nodes (deterministic, about 1e-3 accurate with the
    default 48; 0 skips it: propensity NaN). pending_in_design as in LinUCB."""

    _algo = "lints"

    def __init__(self, arms: Union[int, Sequence[Any]], dim: int, *, v: float = 1.0,
                 propensity_points: int = 48, **kw: Any) -> None:
        super().__init__(arms, dim, alpha=v, ts_propensity_draws=propensity_points, **kw)


class EpsilonGreedy(Policy):
    """Ridge regression per arm; greedy with probability 1 - epsilon, else a uniform arm."""

    _algo = "epsilon_greedy"

    def __init__(self, arms: Union[int, Sequence[Any]], dim: int, *, epsilon: float = 0.1, **kw: Any) -> None:
        super().__init__(arms, dim, alpha=0.0, epsilon=epsilon, **kw)


class DiscountedLinUCB(Policy):
    """D-LinUCB (Russac, Vernade & Cappe, NeurIPS 2019) per arm: statistics
    decay towards the prior (``V <- g V + (1 - g) lam I``, ``b <- g b``), so
    drifting preferences are tracked. Decisions cost O(K d^2); updates O(d^3)
    (an eigen-decomposition).

    clock: what time the decay counts.
      "round" (default, the paper): every arm decays by ``gamma`` every round,
        so an arm that is not played regains its prior uncertainty and is
        re-explored (K d coefficients re-measured every 1/(1 - gamma) rounds).
      "update": an arm decays only on its own updates, by ``gamma ** n_arms``
        per update (an arm played in 1/K of the rounds forgets at the round
        clock's pace; ``config["arm_gamma"]``). No re-exploration of unplayed
        arms, at the price of not noticing that an arm no longer played has
        improved; a late reward counts from its arrival.
    idle_gamma: with clock="update", a further per-round decay of every arm
      (two-rate forgetting; 1 = none) that bounds how stale an unplayed arm's
      estimate gets, e.g. ``1 - 1/change_period``.
    """

    _algo = "dlinucb"

    def __init__(self, arms: Union[int, Sequence[Any]], dim: int, *, gamma: float = 0.99,
                 alpha: float = 1.0, clock: str = "round", idle_gamma: float = 1.0, **kw: Any) -> None:
        super().__init__(arms, dim, alpha=alpha, gamma=gamma, clock=clock, idle_gamma=idle_gamma, **kw)


class SlidingWindowLinUCB(Policy):
    """LinUCB over a window of recent observations (older ones are removed by
    rank-1 downdates).

    clock: "round" (default): the observations of the last ``window`` rounds.
      "update": each arm's own last ``round(window / n_arms)`` observations
      (``config["arm_window"]``), so an unplayed arm keeps its estimate.
    max_age: with clock="update", observations older than this many rounds
      also leave the window (bounds an unplayed arm's staleness; None = none).
    """

    _algo = "sw_linucb"

    def __init__(self, arms: Union[int, Sequence[Any]], dim: int, *, window: int = 1000,
                 alpha: float = 1.0, clock: str = "round", max_age: Optional[int] = None, **kw: Any) -> None:
        super().__init__(arms, dim, alpha=alpha, window=window, clock=clock,
                         max_age=0 if max_age is None else max_age, **kw)


_ALGO_CLASSES = {
    "linucb": LinUCB,
    "hybrid_linucb": HybridLinUCB,
    "lints": LinearThompsonSampling,
    "epsilon_greedy": EpsilonGreedy,
    "dlinucb": DiscountedLinUCB,
    "sw_linucb": SlidingWindowLinUCB,
}
