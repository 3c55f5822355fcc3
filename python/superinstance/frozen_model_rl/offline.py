"""Decision logging and off-policy evaluation (numpy).

A log holds, per decision: the context, the arm chosen, the propensity with
which the logging policy chose it, and the reward (NaN until it arrives).

Estimators of a target policy's value on a log:
  replay  Li, Chu, Langford & Wang, WSDM 2011: run the (learning) policy along
          the log and keep the events where it picks the logged arm; unbiased
          when the logging policy was uniformly random.
  ips     inverse propensity scoring: mean(pi(a|x) / p * r).
  snips   self-normalised IPS: sum(w r) / sum(w).
  dm      direct method: mean over x of sum_a pi(a|x) q(x, a), q a ridge model.
  dr      doubly robust (Dudik, Langford & Li 2011): dm + mean(w (r - q(x, a))).
Each returns an :class:`Estimate` with a percentile bootstrap confidence interval.

Pending decisions (reward NaN) are left out by every estimator: ``Estimate.n``
counts the decisions with rewards and ``details["pending"]`` the ones left out.
A target given per logged decision (an (n, K) or (n,) array, or a callable of
the contexts) covers the whole log, pending decisions included.
"""

from __future__ import annotations

import itertools
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .policies import Decision, DecisionBatch, Policy

__all__ = [
    "DecisionLog",
    "LoggedData",
    "Estimate",
    "Comparison",
    "RidgeRewardModel",
    "target_probabilities",
    "replay",
    "ips",
    "snips",
    "direct_method",
    "doubly_robust",
    "evaluate",
    "compare",
    "hyperparameter_search",
]


def _real_array(v: Any, name: str) -> np.ndarray:
    """v as a C-contiguous float64 array; a TypeError naming `name` for
    anything that is not an array of real numbers."""
    try:
        a = np.asarray(v)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be an array of numbers: {e}") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64)


def _int_array(v: Any, name: str) -> np.ndarray:
    """v as a C-contiguous int64 array (integer dtype, or whole floats)."""
    a = _real_array(v, name) if not (isinstance(v, np.ndarray) and v.dtype.kind in "iu") else np.asarray(v)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)) or np.any(np.abs(a) >= 2.0**63):
            raise ValueError(f"{name} must hold whole numbers")
    elif a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} holds values out of the int64 range")
    return np.ascontiguousarray(a, dtype=np.int64)


@dataclass
class LoggedData:
    """Logged decisions as arrays: contexts (n, d) float64, arms (n,) int64,
    propensities (n,) float64 in (0, 1], rewards (n,) float64 (NaN: none yet)."""

    contexts: np.ndarray
    arms: np.ndarray
    propensities: np.ndarray
    rewards: np.ndarray
    n_arms: int
    ids: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        if isinstance(self.n_arms, bool) or not isinstance(self.n_arms, (int, np.integer)):
            raise TypeError(f"n_arms must be an int, got {type(self.n_arms).__name__}")
        self.n_arms = int(self.n_arms)
        self.contexts = _real_array(self.contexts, "contexts")
        self.arms = _int_array(self.arms, "arms")
        self.propensities = _real_array(self.propensities, "propensities")
        self.rewards = _real_array(self.rewards, "rewards")
        n = self.arms.shape[0]
        if self.arms.ndim != 1:
            raise ValueError(f"arms must be 1-D, got shape {self.arms.shape}")
        if self.contexts.ndim != 2 or self.contexts.shape[0] != n:
            raise ValueError("contexts must be (n, d) with one row per logged decision")
        if self.propensities.shape != (n,) or self.rewards.shape != (n,):
            raise ValueError("arms, propensities and rewards must be 1-D with the same length")
        if self.ids is not None:
            self.ids = _int_array(self.ids, "ids")
            if self.ids.shape != (n,):
                raise ValueError("ids must be 1-D with one entry per logged decision")
        if self.n_arms < 1:
            raise ValueError("n_arms must be >= 1")
        if n and (self.arms.min() < 0 or self.arms.max() >= self.n_arms):
            raise ValueError(f"logged arms must be in [0, {self.n_arms})")
        if not np.all(np.isfinite(self.contexts)):
            raise ValueError("logged contexts contain NaN or Inf")
        if np.any(~(self.propensities > 0)) or np.any(self.propensities > 1):
            raise ValueError("logged propensities must be in (0, 1]")
        if np.any(np.isinf(self.rewards)):
            raise ValueError("logged rewards contain Inf")

    def __len__(self) -> int:
        return int(self.arms.shape[0])

    @property
    def dim(self) -> int:
        return int(self.contexts.shape[1])

    def complete(self) -> "LoggedData":
        """Only the decisions whose reward arrived."""
        m = ~np.isnan(self.rewards)
        return LoggedData(self.contexts[m], self.arms[m], self.propensities[m], self.rewards[m], self.n_arms,
                          None if self.ids is None else self.ids[m])

    def subset(self, idx: Any) -> "LoggedData":
        return LoggedData(self.contexts[idx], self.arms[idx], self.propensities[idx], self.rewards[idx],
                          self.n_arms, None if self.ids is None else self.ids[idx])

    def save_npz(self, path: Union[str, os.PathLike]) -> None:
        """Write the log as a compressed NPZ file (atomically: temp file + rename)."""
        path = os.fspath(path)
        tmp = path + ".tmp.npz"
        np.savez_compressed(tmp, contexts=self.contexts, arms=self.arms, propensities=self.propensities,
                            rewards=self.rewards, n_arms=np.int64(self.n_arms),
                            ids=self.ids if self.ids is not None else np.zeros(0, np.int64))
        os.replace(tmp, path)

    def save_parquet(self, path: Union[str, os.PathLike]) -> None:
        """Write the log as a Parquet table (needs pyarrow): columns id, arm,
        propensity, reward, x0..x{d-1}; n_arms in the schema metadata. Written
        to a temporary file and renamed."""
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("save_parquet needs pyarrow: pip install pyarrow") from e
        n = len(self)
        cols = {"id": self.ids if self.ids is not None else np.arange(n, dtype=np.int64), "arm": self.arms,
                "propensity": self.propensities, "reward": self.rewards}
        for j in range(self.dim):
            cols[f"x{j}"] = self.contexts[:, j]
        table = pa.table(cols).replace_schema_metadata({b"superinstance.n_arms": str(self.n_arms).encode(),
                                                        b"superinstance.format": b"decision-log-1"})
        path = os.fspath(path)
        tmp = path + ".tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, path)

    @classmethod
    def load_parquet(cls, path: Union[str, os.PathLike]) -> "LoggedData":
        try:
            import pyarrow.parquet as pq
        except ImportError as e:  # pragma: no cover
            raise ImportError("load_parquet needs pyarrow: pip install pyarrow") from e
        table = pq.read_table(os.fspath(path))
        meta = table.schema.metadata or {}
        if meta.get(b"superinstance.format") != b"decision-log-1":
            raise ValueError(f"{os.fspath(path)} is not a superinstance decision log")
        d = sum(1 for name in table.column_names if name.startswith("x"))
        X = np.stack([table.column(f"x{j}").to_numpy() for j in range(d)], axis=1) if d else np.zeros((table.num_rows, 0))
        return cls(X, table.column("arm").to_numpy(), table.column("propensity").to_numpy(),
                   table.column("reward").to_numpy(), int(meta[b"superinstance.n_arms"]),
                   table.column("id").to_numpy())

    @classmethod
    def load_npz(cls, path: Union[str, os.PathLike]) -> "LoggedData":
        with np.load(os.fspath(path), allow_pickle=False) as z:
            ids = z["ids"] if z["ids"].size else None
            return cls(z["contexts"], z["arms"], z["propensities"], z["rewards"], int(z["n_arms"]), ids)


class DecisionLog:
    """Collects decisions (context, arm, propensity) and their rewards.

    Attach to a policy with ``policy.log = DecisionLog()``: every tracked
    decision is recorded, and ``policy.update(decision, r)`` fills its reward.
    Memory grows with the number of decisions; call ``to_data()``/``clear()``
    to roll it over.
    """

    def __init__(self, n_arms: Optional[int] = None) -> None:
        self.n_arms = n_arms
        self._rows: Dict[int, int] = {}
        self._ids: List[int] = []
        self._x: List[np.ndarray] = []
        self._arms: List[int] = []
        self._props: List[float] = []
        self._rewards: List[float] = []

    def __len__(self) -> int:
        return len(self._ids)

    def record(self, decision: Decision, x: Any) -> None:
        self._rows[int(decision.id)] = len(self._ids)
        self._ids.append(int(decision.id))
        self._x.append(np.array(x, dtype=np.float64).ravel())
        self._arms.append(int(decision.arm))
        self._props.append(float(decision.propensity))
        self._rewards.append(float("nan"))

    def record_batch(self, batch: DecisionBatch, X: Any) -> None:
        X = np.asarray(X, dtype=np.float64)
        for i in range(len(batch.ids)):
            self.record(Decision(int(batch.ids[i]), int(batch.arms[i]), float(batch.scores[i]),
                                 float(batch.propensities[i])), X[i])

    def append(self, x: Any, arm: int, propensity: float, reward: float = float("nan")) -> int:
        """Add an event directly (e.g. from another system's logs); returns its id."""
        i = (max(self._ids) + 1) if self._ids else 0
        self.record(Decision(i, int(arm), float("nan"), float(propensity)), x)
        self._rewards[-1] = float(reward)
        return i

    def set_reward(self, decision_id: int, reward: float) -> None:
        row = self._rows.get(int(decision_id))
        if row is not None:
            self._rewards[row] = float(reward)

    def set_rewards(self, ids: Iterable[int], rewards: Iterable[float]) -> None:
        for i, r in zip(ids, rewards):
            self.set_reward(int(i), float(r))

    def clear(self) -> None:
        self.__init__(self.n_arms)  # type: ignore[misc]

    def to_arrays(self) -> Dict[str, np.ndarray]:
        d = len(self._x[0]) if self._x else 0
        return {
            "ids": np.array(self._ids, dtype=np.int64),
            "contexts": np.stack(self._x) if self._x else np.zeros((0, d)),
            "arms": np.array(self._arms, dtype=np.int64),
            "propensities": np.array(self._props, dtype=np.float64),
            "rewards": np.array(self._rewards, dtype=np.float64),
        }

    def to_data(self, n_arms: Optional[int] = None) -> LoggedData:
        a = self.to_arrays()
        k = n_arms or self.n_arms or (int(a["arms"].max()) + 1 if len(a["arms"]) else 1)
        return LoggedData(a["contexts"], a["arms"], a["propensities"], a["rewards"], k, a["ids"])

    def save_npz(self, path: Union[str, os.PathLike], n_arms: Optional[int] = None) -> None:
        self.to_data(n_arms).save_npz(path)


# ----------------------------------------------------------------------------- estimates
@dataclass
class Estimate:
    """A policy value estimate with a bootstrap confidence interval."""

    method: str
    value: float
    low: float
    high: float
    std_error: float
    n: int
    details: Dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Estimate({self.method}: {self.value:.4g} [{self.low:.4g}, {self.high:.4g}], "
                f"n={self.n})")


@dataclass
class Comparison:
    """Value of policy B minus policy A with a paired bootstrap interval."""

    method: str
    value_a: float
    value_b: float
    difference: float
    low: float
    high: float
    prob_b_better: float

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero."""
        return self.low > 0 or self.high < 0


class RidgeRewardModel:
    """Per-arm ridge regression q(x, a) = theta_a . x, fit on logged rewards."""

    def __init__(self, lam: float = 1.0) -> None:
        if not lam > 0:
            raise ValueError("lam must be > 0")
        self.lam = float(lam)
        self.theta: Optional[np.ndarray] = None

    def fit(self, data: LoggedData, weights: Optional[np.ndarray] = None) -> "RidgeRewardModel":
        d, K = data.dim, data.n_arms
        w = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=np.float64)
        self.theta = np.zeros((K, d))
        for a in range(K):
            m = data.arms == a
            X, r, wa = data.contexts[m], data.rewards[m], w[m]
            A = (X * wa[:, None]).T @ X + self.lam * np.eye(d)
            self.theta[a] = np.linalg.solve(A, (X * wa[:, None]).T @ r)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n, K) predicted rewards."""
        if self.theta is None:
            raise ValueError("RidgeRewardModel: call fit() first")
        return np.asarray(X, dtype=np.float64) @ self.theta.T


def target_probabilities(target: Any, data: LoggedData) -> np.ndarray:
    """(n, K) action probabilities of a target policy on the logged contexts.

    target: an (n, K) probability array; an (n,) array of arms (deterministic);
    a callable X -> either; or a Policy, evaluated frozen: UCB policies choose
    argmax of their scores, EpsilonGreedy mixes its greedy arm with uniform,
    Thompson sampling is taken as greedy on its posterior means.
    """
    n, K = len(data), data.n_arms
    if isinstance(target, Policy):
        if target.n_arms != K or target.dim != data.dim:
            raise ValueError(f"the target policy has {target.n_arms} arms and dim {target.dim}, "
                             f"the log {K} arms and dim {data.dim}")
        algo = target.algo
        if algo in ("lints", "epsilon_greedy"):
            arms = np.array([int(np.argmax(target.means(x))) for x in data.contexts], dtype=np.int64)
        else:
            arms = np.array([int(np.argmax(target.scores(x))) for x in data.contexts], dtype=np.int64)
        P = np.zeros((n, K))
        P[np.arange(n), arms] = 1.0
        if algo == "epsilon_greedy":
            eps = target.config["epsilon"]
            P = (1 - eps) * P + eps / K
        return P
    if callable(target):
        target = target(data.contexts)
    t = np.asarray(target)
    if t.ndim == 1:
        if t.shape[0] != n:
            raise ValueError(f"target arms have {t.shape[0]} entries, the log has {n}")
        arms = _int_array(t, "target arms")
        if n and (arms.min() < 0 or arms.max() >= K):
            raise ValueError(f"target arms must be in [0, {K})")
        P = np.zeros((n, K))
        P[np.arange(n), arms] = 1.0
        return P
    if t.shape != (n, K):
        raise ValueError(f"target probabilities must be (n, n_arms) = ({n}, {K}), got {t.shape}")
    P = _real_array(t, "target probabilities")
    if np.any(P < 0) or not np.allclose(P.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("target probabilities must be >= 0 and sum to 1 per row")
    return P


_MAX_BOOTSTRAP = 1_000_000  # resamples; percentile intervals settle long before


def _bootstrap(stat: Callable[[np.ndarray], float], n: int, n_bootstrap: int, level: float,
               seed: int) -> Tuple[float, float, float, np.ndarray]:
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)):
        raise TypeError(f"n_bootstrap must be an int, got {type(n_bootstrap).__name__}")
    if n_bootstrap > _MAX_BOOTSTRAP:
        raise ValueError(f"n_bootstrap = {n_bootstrap} is above the cap of {_MAX_BOOTSTRAP}")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)):
        raise TypeError(f"level must be a number, got {type(level).__name__}")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    if n == 0 or n_bootstrap <= 0:
        return float("nan"), float("nan"), float("nan"), np.zeros(0)
    vals = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        vals[b] = stat(rng.integers(0, n, n))
    with warnings.catch_warnings():  # all resamples NaN (e.g. SNIPS without a positive weight): NaN interval
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(vals, [(1 - level) / 2, 1 - (1 - level) / 2])
        se = float(np.nanstd(vals, ddof=1)) if n_bootstrap > 1 else float("nan")
    return float(lo), float(hi), se, vals


def _complete(data: LoggedData) -> LoggedData:
    if not isinstance(data, LoggedData):
        raise TypeError(f"expected LoggedData (use DecisionLog.to_data()), got {type(data).__name__}")
    d = data.complete()
    if len(d) == 0:
        raise ValueError(f"the log has no decisions with rewards ({len(data)} pending)")
    return d


def _complete_with_target(target: Any, data: LoggedData) -> Tuple[LoggedData, np.ndarray]:
    """The decisions with rewards and the target's (n, K) probabilities on them.
    A target per logged decision covers the whole log (pending rows included),
    so it is evaluated on the whole log before the pending rows are dropped."""
    complete = _complete(data)
    if isinstance(target, Policy):  # no need to score the pending contexts
        return complete, target_probabilities(target, complete)
    P = target_probabilities(target, data)
    return complete, P[~np.isnan(data.rewards)]


def _pointwise(method: str, P: np.ndarray, data: LoggedData, reward_model: Optional[RidgeRewardModel]) -> Tuple[np.ndarray, np.ndarray]:
    """Per-event terms (numerator, weight) so that value = sum(num)/sum(den);
    P: the target's (n, K) probabilities on data."""
    n = len(data)
    idx = np.arange(n)
    w = P[idx, data.arms] / data.propensities
    if method == "ips":
        return w * data.rewards, np.ones(n)
    if method == "snips":
        return w * data.rewards, w
    q = (reward_model or RidgeRewardModel()).fit(data) if (reward_model is None or reward_model.theta is None) else reward_model
    Q = q.predict(data.contexts)
    dm = np.sum(P * Q, axis=1)
    if method == "dm":
        return dm, np.ones(n)
    if method == "dr":
        return dm + w * (data.rewards - Q[idx, data.arms]), np.ones(n)
    raise ValueError(f"unknown method {method!r}: use replay, ips, snips, dm or dr")


def _estimate(method: str, target: Any, data: LoggedData, *, reward_model: Optional[RidgeRewardModel] = None,
              n_bootstrap: int = 200, level: float = 0.95, seed: int = 0) -> Estimate:
    if method not in ("ips", "snips", "dm", "dr"):
        raise ValueError(f"unknown method {method!r}: use replay, ips, snips, dm or dr")
    pending = len(data) - len(_complete(data)) if isinstance(data, LoggedData) else 0
    data, P = _complete_with_target(target, data)
    num, den = _pointwise(method, P, data, reward_model)
    value = float(num.sum() / den.sum()) if den.sum() > 0 else float("nan")
    lo, hi, se, _ = _bootstrap(lambda i: num[i].sum() / den[i].sum() if den[i].sum() > 0 else np.nan,
                               len(data), n_bootstrap, level, seed)
    details: Dict[str, Any] = {"pending": pending}
    if method in ("ips", "snips", "dr"):
        w = P[np.arange(len(data)), data.arms] / data.propensities
        details["effective_sample_size"] = float(w.sum() ** 2 / max((w ** 2).sum(), 1e-300))
        details["max_weight"] = float(w.max())
    return Estimate(method, value, lo, hi, se, len(data), details)


def ips(target: Any, data: LoggedData, **kw: Any) -> Estimate:
    """Inverse propensity scoring (unbiased when propensities are correct and positive)."""
    return _estimate("ips", target, data, **kw)


def snips(target: Any, data: LoggedData, **kw: Any) -> Estimate:
    """Self-normalised IPS (small bias, much lower variance than IPS)."""
    return _estimate("snips", target, data, **kw)


def direct_method(target: Any, data: LoggedData, **kw: Any) -> Estimate:
    """Direct method: the reward model's prediction under the target policy."""
    return _estimate("dm", target, data, **kw)


def doubly_robust(target: Any, data: LoggedData, **kw: Any) -> Estimate:
    """Doubly robust: unbiased if either the propensities or the reward model are right."""
    return _estimate("dr", target, data, **kw)


def replay(policy: Policy, data: LoggedData, *, learn: bool = True, n_bootstrap: int = 200,
           level: float = 0.95, seed: int = 0) -> Estimate:
    """Replay evaluation (Li et al., WSDM 2011) of a (learning) policy.

    A copy of the policy walks the log in order; an event counts when the copy
    picks the logged arm, and (with ``learn``) the copy then learns its reward.
    Valid for logs collected by a uniformly random policy. The interval
    bootstraps the matched rewards (it does not re-run the policy).
    """
    if not isinstance(policy, Policy):
        raise TypeError(f"replay needs a Policy, got {type(policy).__name__}")
    full = data
    data = _complete(data)
    if data.dim != policy.dim or data.n_arms != policy.n_arms:
        raise ValueError(f"log has dim {data.dim} and {data.n_arms} arms, the policy {policy.dim} and {policy.n_arms}")
    p = policy.copy()
    p.log = None
    matched: List[float] = []
    for x, a, r in zip(data.contexts, data.arms, data.rewards):
        d = p.select(x, track=False)
        if d.arm == a:
            matched.append(float(r))
            if learn:
                p.update((int(a), x), float(r))
    m = np.array(matched)
    value = float(m.mean()) if len(m) else float("nan")
    lo, hi, se, _ = _bootstrap(lambda i: m[i].mean(), len(m), n_bootstrap, level, seed)
    return Estimate("replay", value, lo, hi, se, len(data), {"matched": len(m), "matched_rewards": m,
                                                                     "final_policy": p,
                                                                     "pending": len(full) - len(data)})


def evaluate(target: Any, data: LoggedData, method: str = "dr", **kw: Any) -> Estimate:
    """Dispatch to an estimator by name: replay, ips, snips, dm, dr."""
    if method == "replay":
        if not isinstance(target, Policy):
            raise TypeError("replay needs a Policy")
        return replay(target, data, **kw)
    return _estimate(method, target, data, **kw)


def compare(policy_a: Any, policy_b: Any, data: LoggedData, *, method: str = "dr", n_bootstrap: int = 500,
            level: float = 0.95, seed: int = 0, reward_model: Optional[RidgeRewardModel] = None) -> Comparison:
    """A/B comparison of two target policies on one log: value(B) - value(A)
    with a paired bootstrap interval (same resampled events for both). For
    ``method="replay"`` the two replays are bootstrapped independently."""
    _bootstrap(lambda i: 0.0, 0, n_bootstrap, level, seed)  # checks the arguments only (n = 0)
    if method == "replay":
        ma = _matched_rewards(policy_a, data)
        mb = _matched_rewards(policy_b, data)
        va, vb = float(np.mean(ma)), float(np.mean(mb))
        rng = np.random.default_rng(seed)
        diffs = np.array([mb[rng.integers(0, len(mb), len(mb))].mean() - ma[rng.integers(0, len(ma), len(ma))].mean()
                          for _ in range(n_bootstrap)])
        lo, hi = np.quantile(diffs, [(1 - level) / 2, 1 - (1 - level) / 2])
        return Comparison(method, va, vb, vb - va, float(lo), float(hi),
                          float(np.mean(diffs > 0)))
    if method not in ("ips", "snips", "dm", "dr"):
        raise ValueError(f"unknown method {method!r}: use replay, ips, snips, dm or dr")
    complete, Pa = _complete_with_target(policy_a, data)
    _, Pb = _complete_with_target(policy_b, data)
    data = complete
    if method in ("dm", "dr") and (reward_model is None or reward_model.theta is None):
        reward_model = (reward_model or RidgeRewardModel()).fit(data)
    na, da = _pointwise(method, Pa, data, reward_model)
    nb, db = _pointwise(method, Pb, data, reward_model)
    va, vb = na.sum() / da.sum(), nb.sum() / db.sum()
    rng = np.random.default_rng(seed)
    n = len(data)
    diffs = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        i = rng.integers(0, n, n)
        diffs[b] = nb[i].sum() / db[i].sum() - na[i].sum() / da[i].sum()
    lo, hi = np.nanquantile(diffs, [(1 - level) / 2, 1 - (1 - level) / 2])
    return Comparison(method, float(va), float(vb), float(vb - va), float(lo), float(hi),
                      float(np.mean(diffs > 0)))


def _matched_rewards(policy: Policy, data: LoggedData) -> np.ndarray:
    m = replay(policy, data, n_bootstrap=0).details["matched_rewards"]
    return m if len(m) else np.array([np.nan])


def hyperparameter_search(factory: Callable[..., Policy], grid: Dict[str, Sequence[Any]], data: LoggedData, *,
                          method: str = "replay", train_fraction: float = 0.5, n_bootstrap: int = 100,
                          seed: int = 0) -> List[Tuple[Dict[str, Any], Estimate]]:
    """Evaluate ``factory(**params)`` for every combination in ``grid`` (e.g.
    ``{"alpha": [0.1, 1], "gamma": [0.95, 0.99]}``) and return
    ``[(params, estimate), ...]`` best first.

    method "replay": the policy learns along the whole log (Li et al. 2011).
    Other methods: the policy learns from the first ``train_fraction`` of the
    log (``update_arms``) and is evaluated frozen on the rest.
    """
    if not grid:
        raise ValueError("grid is empty")
    keys = list(grid)
    data = _complete(data)
    cut = int(len(data) * train_fraction)
    results = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        params = dict(zip(keys, combo))
        pol = factory(**params)
        if method == "replay":
            est = replay(pol, data, n_bootstrap=n_bootstrap, seed=seed)
        else:
            train, test = data.subset(slice(0, cut)), data.subset(slice(cut, None))
            pol.update_arms(train.arms, train.contexts, train.rewards)
            est = evaluate(pol, test, method, n_bootstrap=n_bootstrap, seed=seed)
        results.append((params, est))
    results.sort(key=lambda pe: -np.nan_to_num(pe[1].value, nan=-np.inf))
    return results
