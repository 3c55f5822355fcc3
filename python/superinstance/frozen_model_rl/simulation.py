"""Simulated environments with a known optimum, and regret analysis.

Every environment gives, for contexts X (n, d) at rounds t0..t0+n-1, the
expected reward of every arm (n, K); the simulator draws rewards around them
with common random numbers, so policies compared in one call see the same
contexts and the same noise.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .policies import Decision, Policy

__all__ = [
    "LinearEnvironment",
    "DriftingEnvironment",
    "BinaryEnvironment",
    "RandomPolicy",
    "TwoObjectiveUser",
    "RegretResult",
    "simulate",
    "plot_regret",
]


def _unit_contexts(rng: np.random.Generator, n: int, d: int, bias: bool) -> np.ndarray:
    k = d - 1 if bias else d
    X = rng.normal(size=(n, k))
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    if bias:
        X = np.hstack([np.ones((n, 1)), X])
    return X


class LinearEnvironment:
    """Rewards ``theta_a . x + noise`` with contexts on the unit sphere (plus a
    bias feature of 1 when ``bias``); theta_a ~ N(0, 1/d)."""

    def __init__(self, n_arms: int, dim: int, *, noise: float = 0.1, bias: bool = True, seed: int = 0,
                 theta: Optional[np.ndarray] = None) -> None:
        if n_arms < 1 or dim < 1:
            raise ValueError("n_arms and dim must be >= 1")
        if noise < 0:
            raise ValueError("noise must be >= 0")
        self.n_arms, self.dim, self.noise, self.bias = int(n_arms), int(dim), float(noise), bias
        rng = np.random.default_rng(seed)
        self.theta = (np.asarray(theta, dtype=np.float64) if theta is not None
                      else rng.normal(size=(n_arms, dim)) / np.sqrt(dim))
        if self.theta.shape != (n_arms, dim):
            raise ValueError("theta must be (n_arms, dim)")

    def contexts(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return _unit_contexts(rng, n, self.dim, self.bias)

    def theta_at(self, t: int) -> np.ndarray:
        return self.theta

    def expected(self, X: np.ndarray, t0: int = 0) -> np.ndarray:
        return X @ self.theta.T

    def draw(self, means: np.ndarray, chosen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return means + self.noise * rng.normal(size=means.shape)


class DriftingEnvironment(LinearEnvironment):
    """Linear rewards whose parameters change.

    kind "abrupt": at each round in ``change_points`` the arms' parameters
    switch to a fresh draw. kind "gradual": parameters move linearly from one
    draw to the next over each ``period`` rounds.
    """

    def __init__(self, n_arms: int, dim: int, *, kind: str = "abrupt", change_points: Sequence[int] = (5000,),
                 period: int = 5000, noise: float = 0.1, bias: bool = True, seed: int = 0) -> None:
        super().__init__(n_arms, dim, noise=noise, bias=bias, seed=seed)
        if kind not in ("abrupt", "gradual"):
            raise ValueError("kind must be 'abrupt' or 'gradual'")
        if period < 1:
            raise ValueError("period must be >= 1")
        self.kind, self.period = kind, int(period)
        self.change_points = sorted(int(c) for c in change_points)
        rng = np.random.default_rng(seed + 1)
        n_segments = len(self.change_points) + 1 if kind == "abrupt" else 64
        self.thetas = [self.theta] + [rng.normal(size=(n_arms, dim)) / np.sqrt(dim) for _ in range(n_segments)]

    def theta_at(self, t: int) -> np.ndarray:
        if self.kind == "abrupt":
            seg = int(np.searchsorted(self.change_points, t, side="right"))
            return self.thetas[seg]
        seg, frac = divmod(t, self.period)
        seg = min(seg, len(self.thetas) - 2)
        f = frac / self.period
        return (1 - f) * self.thetas[seg] + f * self.thetas[seg + 1]

    def optimum_change(self, t: int, n_contexts: int = 10000, seed: int = 0) -> float:
        """Share of contexts whose optimal arm at round ``t`` differs from the one
        at round ``t - 1`` (how real a change at ``t`` is), over ``n_contexts``
        contexts drawn like the environment's."""
        if t < 1 or n_contexts < 1:
            raise ValueError("t and n_contexts must be >= 1")
        X = self.contexts(n_contexts, np.random.default_rng(seed))
        before = np.argmax(X @ self.theta_at(t - 1).T, axis=1)
        after = np.argmax(X @ self.theta_at(t).T, axis=1)
        return float(np.mean(before != after))

    def expected(self, X: np.ndarray, t0: int = 0) -> np.ndarray:
        out = np.empty((X.shape[0], self.n_arms))
        if self.kind == "abrupt":
            bounds = [0] + [c - t0 for c in self.change_points if t0 < c < t0 + X.shape[0]] + [X.shape[0]]
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                out[lo:hi] = X[lo:hi] @ self.theta_at(t0 + lo).T
            return out
        for i in range(X.shape[0]):
            out[i] = self.theta_at(t0 + i) @ X[i]
        return out


class BinaryEnvironment(LinearEnvironment):
    """Sparse binary rewards: P(r = 1) = sigmoid(scale * theta_a . x + offset)
    (offset -3 gives a base rate of about 5 %)."""

    def __init__(self, n_arms: int, dim: int, *, scale: float = 4.0, offset: float = -3.0, bias: bool = True,
                 seed: int = 0) -> None:
        super().__init__(n_arms, dim, noise=0.0, bias=bias, seed=seed)
        self.scale, self.offset = float(scale), float(offset)

    def expected(self, X: np.ndarray, t0: int = 0) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.scale * (X @ self.theta.T) + self.offset)))

    def draw(self, means: np.ndarray, chosen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return (rng.random(size=means.shape) < means).astype(np.float64)


class TwoObjectiveUser:
    """A simulated user of the equilibrium loop whose reward is a vector of two
    objectives in [0, 1], for constraint weights ``w = (rate, context, sentiment,
    interruption)`` and the user's state ``(rate_error, context_confidence, arousal,
    interrupted)`` (each in [0, 1]):

    * satisfaction ``1 - |w - ideal(state)|^2 / 4``, the ideal weights following the
      user's state (the same model as ``superinstance.equilibrium``'s SimulatedUser);
    * stability ``1 - |w - steady(state)|^2 / 4``: the loop holds its rate when the
      rate weight grows with the rate error and sentiment and interruptions weigh
      little, which pulls against satisfaction for aroused or interrupted users.

    ``reward`` adds Gaussian noise (``noise``) and clips to [0, 1]. Scalarise with
    ``weights`` (default (0.5, 0.5)) or learn one model per objective
    (``MultiObjectivePolicy``) and read the Pareto front with ``pareto(arms, state)``.
    """

    objectives = ("satisfaction", "stability")

    def __init__(self, noise: float = 0.1, seed: int = 2, weights: Sequence[float] = (0.5, 0.5)) -> None:
        if not noise >= 0:
            raise ValueError("noise must be >= 0")
        self.noise = float(noise)
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.shape != (2,) or not np.all(np.isfinite(self.weights)):
            raise ValueError("weights must be two finite numbers")
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def _state(state: Sequence[float]) -> np.ndarray:
        s = np.asarray(state, dtype=np.float64)
        if s.shape != (4,) or not np.all(np.isfinite(s)):
            raise ValueError("state must be 4 finite numbers (rate_error, context_confidence, arousal, interrupted)")
        return np.clip(s, 0.0, 1.0)

    @classmethod
    def ideal_weights(cls, state: Sequence[float]) -> np.ndarray:
        rate_error, context_conf, arousal, interrupted = cls._state(state)
        return np.array([0.5 + 1.0 * rate_error, 0.3 + 1.2 * context_conf, 0.4 + 1.4 * arousal,
                         0.3 + 1.4 * interrupted])

    @classmethod
    def steady_weights(cls, state: Sequence[float]) -> np.ndarray:
        rate_error, context_conf, _, _ = cls._state(state)
        return np.array([1.0 + 1.0 * rate_error, 0.8 + 0.4 * context_conf, 0.3, 0.3])

    def expected(self, weights: Sequence[float], state: Sequence[float]) -> np.ndarray:
        """(2,) expected (satisfaction, stability)."""
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (4,):
            raise ValueError("weights must be the 4 constraint weights")
        out = []
        for target in (self.ideal_weights(state), self.steady_weights(state)):
            d = w - target
            out.append(float(np.clip(1.0 - d @ d / 4.0, 0.0, 1.0)))
        return np.array(out)

    def reward(self, weights: Sequence[float], state: Sequence[float]) -> np.ndarray:
        """(2,) noisy (satisfaction, stability)."""
        e = self.expected(weights, state)
        return np.clip(e + self.rng.normal(0.0, self.noise, 2), 0.0, 1.0)

    def scalar_reward(self, weights: Sequence[float], state: Sequence[float]) -> float:
        return float(self.reward(weights, state) @ self.weights)

    def best(self, arms: Sequence[Sequence[float]], state: Sequence[float],
             weights: Optional[Sequence[float]] = None) -> Tuple[int, float]:
        """The arm with the largest expected scalarised reward, and that reward."""
        w = self.weights if weights is None else np.asarray(weights, dtype=np.float64)
        values = [float(self.expected(a, state) @ w) for a in arms]
        i = int(np.argmax(values))
        return i, values[i]

    def pareto(self, arms: Sequence[Sequence[float]], state: Sequence[float]) -> np.ndarray:
        """Indices of the arms on the Pareto front of the expected objectives."""
        from .multiobjective import pareto_front

        return pareto_front(np.stack([self.expected(a, state) for a in arms]))


class RandomPolicy:
    """Uniformly random arm (a baseline with the Policy select/update API)."""

    algo = "random"

    def __init__(self, n_arms: int, dim: int, seed: int = 0) -> None:
        self.n_arms, self.dim = int(n_arms), int(dim)
        self._rng = np.random.default_rng(seed)
        self._next = 0

    def select(self, x: Any, *, track: bool = True) -> Decision:
        a = int(self._rng.integers(self.n_arms))
        self._next += 1
        return Decision(self._next - 1, a, 0.0, 1.0 / self.n_arms)

    def update(self, decision: Any, reward: float) -> None:
        pass


@dataclass
class RegretResult:
    """Per-policy cumulative (pseudo-)regret and reward curves."""

    names: List[str]
    cumulative_regret: np.ndarray  # (n_policies, n_rounds)
    cumulative_reward: np.ndarray  # (n_policies, n_rounds)
    optimal_reward: np.ndarray     # (n_rounds,) cumulative expected reward of the optimum
    stats: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def final(self) -> Dict[str, float]:
        return {n: float(self.cumulative_regret[i, -1]) for i, n in enumerate(self.names)}

    def regret_between(self, start: int, stop: int) -> Dict[str, float]:
        """Regret accumulated in rounds [start, stop)."""
        c = self.cumulative_regret
        base = c[:, start - 1] if start > 0 else 0.0
        return {n: float(c[i, stop - 1] - (base[i] if start > 0 else 0.0)) for i, n in enumerate(self.names)}


def simulate(policies: Union[Policy, Mapping[str, Any]], env: LinearEnvironment, n_rounds: int, *,
             delay: int = 0, random_delay: bool = False, seed: int = 0) -> RegretResult:
    """Run each policy for ``n_rounds`` on ``env`` and record regret.

    delay: rewards arrive ``delay`` rounds after the decision (or a uniform
    number of rounds in [0, delay] with ``random_delay``). Policies get the
    same contexts and reward noise. Regret is the expected reward of the best
    arm minus that of the chosen arm.
    """
    if isinstance(policies, (Policy, RandomPolicy)):
        policies = {getattr(policies, "algo", "policy"): policies}
    if not policies:
        raise ValueError("no policies to simulate")
    if n_rounds < 1:
        raise ValueError("n_rounds must be >= 1")
    if delay < 0:
        raise ValueError("delay must be >= 0")
    rng = np.random.default_rng(seed)
    X = env.contexts(n_rounds, rng)
    E = env.expected(X, 0)                                 # (n, K)
    R = env.draw(E, np.zeros(n_rounds, np.int64), rng)     # rewards for every arm, common numbers
    best = E.max(axis=1)
    delays = (rng.integers(0, delay + 1, n_rounds) if random_delay else np.full(n_rounds, delay)) if delay else None
    names = list(policies)
    reg = np.zeros((len(names), n_rounds))
    rew = np.zeros((len(names), n_rounds))
    stats: Dict[str, Dict[str, Any]] = {}
    for pi, name in enumerate(names):
        pol = policies[name]
        if pol.dim != env.dim or pol.n_arms != env.n_arms:
            raise ValueError(f"policy {name!r} has dim {pol.dim} and {pol.n_arms} arms; the environment "
                             f"{env.dim} and {env.n_arms}")
        queue: deque = deque()
        chosen = np.empty(n_rounds, np.int64)
        for t in range(n_rounds):
            d = pol.select(X[t])
            a = d.arm
            chosen[t] = a
            if delays is None:
                pol.update(d, R[t, a])
            else:
                queue.append((t + int(delays[t]), d, R[t, a]))
                if random_delay:
                    due = [q for q in queue if q[0] <= t]
                    if due:
                        queue = deque(q for q in queue if q[0] > t)
                        for _, dd, r in due:
                            pol.update(dd, r)
                else:
                    while queue and queue[0][0] <= t:
                        _, dd, r = queue.popleft()
                        pol.update(dd, r)
        idx = np.arange(n_rounds)
        reg[pi] = np.cumsum(best - E[idx, chosen])
        rew[pi] = np.cumsum(R[idx, chosen])
        stats[name] = dict(pol.stats()) if callable(getattr(pol, "stats", None)) else {}
    return RegretResult(names, reg, rew, np.cumsum(best), stats)


def plot_regret(result: RegretResult, path: Optional[str] = None, ax: Any = None, title: str = "Cumulative regret") -> Any:
    """Plot cumulative regret curves (needs matplotlib, the optional ``plot`` extra).
    Saves to ``path`` if given; returns the matplotlib Axes."""
    try:
        import matplotlib

        if ax is None and path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plot_regret needs matplotlib: pip install matplotlib") from e
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    for i, name in enumerate(result.names):
        ax.plot(result.cumulative_regret[i], label=name)
    ax.set_xlabel("round")
    ax.set_ylabel("cumulative regret")
    ax.set_title(title)
    ax.legend()
    if path is not None:
        (fig or ax.figure).savefig(path, dpi=100, bbox_inches="tight")
        if fig is not None:
            plt.close(fig)
    return ax
