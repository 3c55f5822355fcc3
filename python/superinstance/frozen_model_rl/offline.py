"""Decision logging and off-policy evaluation (numpy).

A log holds, per decision: the context, the arm chosen, the propensity with
which the logging policy chose it, and the reward (NaN until it arrives).

Estimators of a target policy's value on a log:
  replay  Li, Chu, Langford & Wang, WSDM 2011: run the (learning) policy along
          the log and keep the events where it picks the logged arm; unbiased
          when the logging policy was uniformly random.
  ips     inverse propensity scoring: mean(pi(a|x) / p * r).
  snips   self-normalised IPS: sum(w r) / sum(w).
  dm      direct method: mean over x of sum_a pi(a|x) q(x, a), q a reward model.
  dr      doubly robust (Dudik, Langford & Li 2011): dm + mean(w (r - q(x, a))).
  switch_dr, sndr, dr_shrinkage: the DR variants of obp (Switch-DR, self-normalised
          DR, DR with optimistic shrinkage).
Each returns an :class:`Estimate` with a normal (default) or percentile bootstrap
confidence interval and the effective sample size; ``summarize`` runs several.

Slates: with ``LoggedData(positions=...)`` a target or prediction array may be
(n, K, L); each decision uses the slice at its position (obp's ``position``).

Pending decisions (reward NaN) are left out by every estimator: ``Estimate.n``
counts the decisions with rewards and ``details["pending"]`` the ones left out.
A target given per logged decision (an (n,), (n, K) or (n, K, L) array, or a
callable of the contexts) covers the whole log, pending decisions included, and
so do ``estimated_rewards``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .policies import Decision, DecisionBatch, Policy
from .reward_models import RidgeRewardModel  # noqa: F401  (re-exported: it lived here)

__all__ = [
    "DecisionLog",
    "LoggedData",
    "Estimate",
    "Comparison",
    "Summary",
    "target_probabilities",
    "replay",
    "ips",
    "snips",
    "direct_method",
    "doubly_robust",
    "switch_dr",
    "sndr",
    "dr_shrinkage",
    "summarize",
    "estimate_propensities",
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
    propensities (n,) float64 in (0, 1] (None: unknown, see :func:`estimate_propensities`),
    rewards (n,) float64 (NaN: none yet).

    positions: (n,) int64 >= 0, the slot of a ranked list (slate) where the arm was
    shown; ``n_positions`` (default ``max(positions) + 1``) is the list length L.
    action_context: (K, m) float64 features of the arms (for :class:`SharedRewardModel`).
    """

    contexts: np.ndarray
    arms: np.ndarray
    propensities: Optional[np.ndarray]
    rewards: np.ndarray
    n_arms: int
    ids: Optional[np.ndarray] = None
    positions: Optional[np.ndarray] = None
    action_context: Optional[np.ndarray] = None
    n_positions: Optional[int] = None

    def __post_init__(self) -> None:
        if isinstance(self.n_arms, bool) or not isinstance(self.n_arms, (int, np.integer)):
            raise TypeError(f"n_arms must be an int, got {type(self.n_arms).__name__}")
        self.n_arms = int(self.n_arms)
        self.contexts = _real_array(self.contexts, "contexts")
        self.arms = _int_array(self.arms, "arms")
        if self.propensities is not None:
            self.propensities = _real_array(self.propensities, "propensities")
        self.rewards = _real_array(self.rewards, "rewards")
        n = self.arms.shape[0]
        if self.arms.ndim != 1:
            raise ValueError(f"arms must be 1-D, got shape {self.arms.shape}")
        if self.contexts.ndim != 2 or self.contexts.shape[0] != n:
            raise ValueError("contexts must be (n, d) with one row per logged decision")
        if self.rewards.shape != (n,) or (self.propensities is not None and self.propensities.shape != (n,)):
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
        if self.propensities is not None and (np.any(~(self.propensities > 0)) or np.any(self.propensities > 1)):
            raise ValueError("logged propensities must be in (0, 1] (a propensity of 0 or NaN cannot be "
                             "reweighted; leave propensities=None to estimate them)")
        if np.any(np.isinf(self.rewards)):
            raise ValueError("logged rewards contain Inf")
        self._check_positions(n)
        if self.action_context is not None:
            F = _real_array(self.action_context, "action_context")
            if F.ndim != 2 or F.shape[0] != self.n_arms:
                raise ValueError(f"action_context must be (n_arms, m) = ({self.n_arms}, m), got shape {F.shape}")
            if not np.all(np.isfinite(F)):
                raise ValueError("action_context contains NaN or Inf")
            self.action_context = F

    def _check_positions(self, n: int) -> None:
        if self.positions is None:
            if self.n_positions is not None:
                raise ValueError("n_positions needs positions")
            return
        self.positions = _int_array(self.positions, "positions")
        if self.positions.shape != (n,):
            raise ValueError(f"positions must be 1-D with one entry per logged decision, got shape "
                             f"{self.positions.shape}")
        if n and self.positions.min() < 0:
            raise ValueError("positions must be >= 0")
        top = int(self.positions.max()) + 1 if n else 1
        if self.n_positions is None:
            self.n_positions = top
        elif isinstance(self.n_positions, bool) or not isinstance(self.n_positions, (int, np.integer)):
            raise TypeError(f"n_positions must be an int, got {type(self.n_positions).__name__}")
        elif not top <= self.n_positions:
            raise ValueError(f"positions out of range: a logged position is {top - 1}, n_positions is "
                             f"{self.n_positions}")
        self.n_positions = int(self.n_positions)

    def __len__(self) -> int:
        return int(self.arms.shape[0])

    @property
    def dim(self) -> int:
        return int(self.contexts.shape[1])

    def complete(self) -> "LoggedData":
        """Only the decisions whose reward arrived."""
        return self.subset(~np.isnan(self.rewards))

    def subset(self, idx: Any) -> "LoggedData":
        def take(a: Optional[np.ndarray]) -> Optional[np.ndarray]:
            return None if a is None else a[idx]

        return LoggedData(self.contexts[idx], self.arms[idx], take(self.propensities), self.rewards[idx],
                          self.n_arms, take(self.ids), take(self.positions), self.action_context, self.n_positions)

    def with_propensities(self, propensities: Any) -> "LoggedData":
        """A copy with other propensities (e.g. from :func:`estimate_propensities`)."""
        return LoggedData(self.contexts, self.arms, propensities, self.rewards, self.n_arms, self.ids,
                          self.positions, self.action_context, self.n_positions)

    def save_npz(self, path: Union[str, os.PathLike]) -> None:
        """Write the log as a compressed NPZ file (atomically: temp file + rename)."""
        path = os.fspath(path)
        tmp = path + ".tmp.npz"
        none = np.zeros(0, np.int64)
        np.savez_compressed(tmp, contexts=self.contexts, arms=self.arms,
                            propensities=self.propensities if self.propensities is not None else np.zeros(0),
                            rewards=self.rewards, n_arms=np.int64(self.n_arms),
                            ids=self.ids if self.ids is not None else none,
                            positions=self.positions if self.positions is not None else none,
                            n_positions=np.int64(self.n_positions or 0),
                            action_context=self.action_context if self.action_context is not None
                            else np.zeros((0, 0)))
        os.replace(tmp, path)

    def save_parquet(self, path: Union[str, os.PathLike]) -> None:
        """Write the log as a Parquet table (needs pyarrow): columns id, arm,
        propensity, reward, [position,] x0..x{d-1}; n_arms, n_positions and the
        action features in the schema metadata. Written to a temporary file and renamed."""
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("save_parquet needs pyarrow: pip install pyarrow") from e
        n = len(self)
        props = self.propensities if self.propensities is not None else np.full(n, np.nan)
        cols = {"id": self.ids if self.ids is not None else np.arange(n, dtype=np.int64), "arm": self.arms,
                "propensity": props, "reward": self.rewards}
        if self.positions is not None:
            cols["position"] = self.positions
        for j in range(self.dim):
            cols[f"x{j}"] = self.contexts[:, j]
        meta = {b"superinstance.n_arms": str(self.n_arms).encode(), b"superinstance.format": b"decision-log-1"}
        if self.positions is not None:
            meta[b"superinstance.n_positions"] = str(self.n_positions).encode()
        if self.action_context is not None:  # repr of a float64 reads back exactly
            meta[b"superinstance.action_context"] = json.dumps(self.action_context.tolist()).encode()
        table = pa.table(cols).replace_schema_metadata(meta)
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
        props = table.column("propensity").to_numpy()
        has_pos = "position" in table.column_names
        F = meta.get(b"superinstance.action_context")
        return cls(X, table.column("arm").to_numpy(), None if np.all(np.isnan(props)) and len(props) else props,
                   table.column("reward").to_numpy(), int(meta[b"superinstance.n_arms"]),
                   table.column("id").to_numpy(), table.column("position").to_numpy() if has_pos else None,
                   None if F is None else np.array(json.loads(F), dtype=np.float64).reshape(
                       int(meta[b"superinstance.n_arms"]), -1),
                   int(meta[b"superinstance.n_positions"]) if has_pos else None)

    @classmethod
    def load_npz(cls, path: Union[str, os.PathLike]) -> "LoggedData":
        with np.load(os.fspath(path), allow_pickle=False) as z:
            def opt(name: str) -> Optional[np.ndarray]:
                return z[name] if name in z.files and z[name].size else None

            n_pos = int(z["n_positions"]) if "n_positions" in z.files else 0
            props = z["propensities"]
            return cls(z["contexts"], z["arms"], props if props.size or not z["arms"].size else None,
                       z["rewards"], int(z["n_arms"]), opt("ids"), opt("positions"), opt("action_context"),
                       n_pos or None)


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
    """A policy value estimate with its confidence interval ``[low, high]``: a normal
    (CLT, delta-method for the self-normalised estimators) interval when
    ``n_bootstrap=0``, a percentile bootstrap interval otherwise (``details["interval"]``
    says which). ``effective_sample_size`` is Kish's (sum w)^2 / sum w^2 of the
    importance weights the estimator uses (n for the direct method)."""

    method: str
    value: float
    low: float
    high: float
    std_error: float
    n: int
    details: Dict[str, Any] = field(default_factory=dict)
    effective_sample_size: float = float("nan")

    def __repr__(self) -> str:
        return (f"Estimate({self.method}: {self.value:.4g} [{self.low:.4g}, {self.high:.4g}], "
                f"n={self.n}, ess={self.effective_sample_size:.4g})")


@dataclass
class Comparison:
    """Value of policy B minus policy A with a paired interval."""

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


def _onehot(arms: np.ndarray, K: int) -> np.ndarray:
    P = np.zeros((arms.shape[0], K))
    P[np.arange(arms.shape[0]), arms] = 1.0
    return P


def _policy_probabilities(target: Policy, data: LoggedData) -> np.ndarray:
    n, K = len(data), data.n_arms
    if target.n_arms != K or target.dim != data.dim:
        raise ValueError(f"the target policy has {target.n_arms} arms and dim {target.dim}, "
                         f"the log {K} arms and dim {data.dim}")
    algo = target.algo
    if algo in ("lints", "epsilon_greedy"):
        arms = np.array([int(np.argmax(target.means(x))) for x in data.contexts], dtype=np.int64)
    else:
        arms = np.array([int(np.argmax(target.scores(x))) for x in data.contexts], dtype=np.int64)
    P = _onehot(arms.reshape(n), K)
    if algo == "epsilon_greedy":
        eps = target.config["epsilon"]
        P = (1 - eps) * P + eps / K
    return P


def _at_positions(a: np.ndarray, data: LoggedData, name: str) -> np.ndarray:
    """The (n, K) slice of an (n, K, L) array at each logged decision's position."""
    if data.positions is None:
        raise ValueError(f"{name} is (n, K, L) = {a.shape}, but the log has no positions "
                         f"(LoggedData(..., positions=...))")
    L = a.shape[2]
    if data.n_positions is not None and data.n_positions > L:
        raise ValueError(f"positions out of range: the log has {data.n_positions} positions, {name} "
                         f"only {L} (shape {a.shape})")
    return a[np.arange(a.shape[0]), :, data.positions]


def _sums_over_arms(P: np.ndarray) -> np.ndarray:
    """P.sum(axis=1) as a matrix product, (K,) @ (n, K, L) -> (n, L): numpy's reduction
    over the middle axis of an (n, K, L) array is strided and took 30 of the 37 ms of
    an IPS estimate on 10,000 x 80 x 3; the product takes about 0.6 ms (and a 2-D GEMM
    with a selection matrix 8 ms, its threads fighting on a loaded machine). NaN and
    Inf propagate to the sums."""
    return P @ np.ones(P.shape[1]) if P.ndim == 2 else np.ones(P.shape[1]) @ P


def target_probabilities(target: Any, data: LoggedData) -> np.ndarray:
    """(n, K) action probabilities of a target policy on the logged decisions.

    target: an (n, K) probability array; an (n, K, L) array (slates: the
    probability of each arm at each of L positions; the slice at each logged
    decision's position is used); an (n,) array of arms (deterministic); a
    callable X -> any of these; or a Policy, evaluated frozen: UCB policies
    choose argmax of their scores, EpsilonGreedy mixes its greedy arm with
    uniform, Thompson sampling is taken as greedy on its posterior means.
    """
    n, K = len(data), data.n_arms
    if isinstance(target, Policy):
        return _policy_probabilities(target, data)
    if callable(target):
        target = target(data.contexts)
    t = np.asarray(target)
    if t.ndim == 1:
        if t.shape[0] != n:
            raise ValueError(f"target arms have {t.shape[0]} entries, the log has {n}")
        arms = _int_array(t, "target arms")
        if n and (arms.min() < 0 or arms.max() >= K):
            raise ValueError(f"target arms must be in [0, {K})")
        return _onehot(arms, K)
    if t.ndim not in (2, 3) or t.shape[:2] != (n, K):
        raise ValueError(f"target probabilities must be (n, n_arms) = ({n}, {K}) or (n, n_arms, L), "
                         f"got shape {t.shape}")
    P = _real_array(t, "target probabilities")
    sums = _sums_over_arms(P)
    if np.isnan(sums).any():
        raise ValueError("target probabilities contain NaN")
    if P.size and P.min() < 0 or not np.allclose(sums, 1.0, atol=1e-6):
        bad = np.argwhere(~np.isclose(sums, 1.0, atol=1e-6))
        where = ""
        if len(bad):
            at = f"decision {bad[0][0]}" + (f", position {bad[0][1]}" if P.ndim == 3 else "")
            where = f" ({at} sums to {sums[tuple(bad[0])]:.6g})"
        raise ValueError("target probabilities must be >= 0 and sum to 1 over the arms for every "
                         f"decision{' and position' if P.ndim == 3 else ''}{where}")
    return _at_positions(P, data, "the target") if P.ndim == 3 else P


def _prediction_matrix(estimated_rewards: Any, data: LoggedData) -> np.ndarray:
    """(n, K) predicted rewards from an (n, K) or (n, K, L) array given as is."""
    Q = _real_array(estimated_rewards, "estimated_rewards")
    n, K = len(data), data.n_arms
    if Q.ndim not in (2, 3) or Q.shape[:2] != (n, K):
        raise ValueError(f"estimated_rewards must be (n, n_arms) = ({n}, {K}) or (n, n_arms, L), "
                         f"got shape {Q.shape}")
    if not np.all(np.isfinite(Q)):
        raise ValueError("estimated_rewards contain NaN or Inf")
    return _at_positions(Q, data, "estimated_rewards") if Q.ndim == 3 else Q


def _model_predictions(model: Any, data: LoggedData, n_folds: int, seed: int) -> np.ndarray:
    """(n, K) predictions of a reward model at each decision's position: a fitted
    model is used as is (with n_folds = 1), otherwise it is fitted by fit_predict."""
    if getattr(model, "fitted", False) and n_folds == 1:
        Q = model.predict(data.contexts, data.positions)
    else:
        Q = model.fit_predict(data, n_folds=n_folds, seed=seed)
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim == 3:
        Q = _at_positions(Q, data, "the reward model's predictions")
    if not np.all(np.isfinite(Q)):
        raise ValueError("the reward model predicts NaN or Inf")
    return Q


@dataclass
class _Inputs:
    """The decisions with rewards and what every estimator needs on them."""

    data: LoggedData
    P: np.ndarray                 # (m, K) target probabilities at each decision's position
    Q: Optional[np.ndarray]       # (m, K) predicted rewards, None when no estimator needs them
    pending: int
    weights: Optional[np.ndarray] = None  # pi(a|x) / p, filled on first use

    def w(self) -> np.ndarray:
        if self.weights is None:
            if self.data.propensities is None:
                raise ValueError("the log has no propensities: estimate them with estimate_propensities(data)")
            self.weights = self.P[np.arange(len(self.data)), self.data.arms] / self.data.propensities
        return self.weights


def _check_data(data: Any) -> LoggedData:
    if not isinstance(data, LoggedData):
        raise TypeError(f"expected LoggedData (use DecisionLog.to_data()), got {type(data).__name__}")
    return data


def _inputs(target: Any, data: LoggedData, *, need_q: bool, estimated_rewards: Any = None,
            reward_model: Any = None, n_folds: int = 1, seed: int = 0) -> _Inputs:
    """A target or predictions given per logged decision cover the whole log (pending
    rows included), so they are checked on the whole log before the pending rows go."""
    _check_data(data)
    keep = ~np.isnan(data.rewards)
    m = int(keep.sum())
    if m == 0:
        raise ValueError(f"the log has no decisions with rewards ({len(data)} pending)")
    if estimated_rewards is not None and reward_model is not None:
        raise ValueError("give estimated_rewards or reward_model, not both")
    all_rows = m == len(data)
    complete = data if all_rows else data.subset(keep)
    if isinstance(target, Policy):  # no need to score the pending contexts
        P = _policy_probabilities(target, complete)
    else:
        P = target_probabilities(target, data)
        P = P if all_rows else P[keep]
    Q = None
    if need_q:
        if estimated_rewards is not None:
            Q = _prediction_matrix(estimated_rewards, data)
        else:
            Q = _model_predictions(reward_model if reward_model is not None else RidgeRewardModel(), data,
                                   n_folds, seed)
        Q = Q if all_rows else Q[keep]
    return _Inputs(complete, P, Q, len(data) - m)


def _number(v: Any, name: str, low: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    if not (v >= low):  # NaN fails too; inf is allowed (no clipping / no shrinkage)
        raise ValueError(f"{name} must be >= {low}, got {v}")
    return float(v)


# Each estimator is value = mean(base) + sum(corr) / sum(norm) over the decisions
# (norm None: the count), with the importance weights it uses for the ESS.
_Parts = Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]


def _dm_term(x: _Inputs) -> np.ndarray:
    return np.einsum("ij,ij->i", x.P, x.Q)


def _residual(x: _Inputs) -> np.ndarray:
    return x.data.rewards - x.Q[np.arange(len(x.data)), x.data.arms]  # type: ignore[index]


def _parts_ips(x: _Inputs, clip: float = math.inf) -> _Parts:
    w = x.w()
    wc = np.minimum(w, _number(clip, "clip")) if clip != math.inf else w
    return None, wc * x.data.rewards, None, wc


def _parts_snips(x: _Inputs) -> _Parts:
    w = x.w()
    return None, w * x.data.rewards, w, w


def _parts_dm(x: _Inputs) -> _Parts:
    return _dm_term(x), None, None, None


def _parts_dr(x: _Inputs, clip: float = math.inf) -> _Parts:
    w = x.w()
    wc = np.minimum(w, _number(clip, "clip")) if clip != math.inf else w
    return _dm_term(x), wc * _residual(x), None, wc


def _parts_switch_dr(x: _Inputs, tau: float = 1.0) -> _Parts:
    w = x.w()
    ws = np.where(w <= _number(tau, "tau"), w, 0.0)
    return _dm_term(x), ws * _residual(x), None, ws


def _parts_sndr(x: _Inputs) -> _Parts:
    w = x.w()
    return _dm_term(x), w * _residual(x), w, w


def _parts_dr_shrinkage(x: _Inputs, lam: float = 1.0) -> _Parts:
    w = x.w()
    lam = _number(lam, "lam")
    if lam == math.inf:
        ws = w
    elif lam == 0:
        ws = np.zeros_like(w)
    else:
        ws = lam * w / (w * w + lam)
    return _dm_term(x), ws * _residual(x), None, ws


_ESTIMATORS: Dict[str, Tuple[Callable[..., _Parts], bool]] = {  # name -> (parts, needs a reward model)
    "ips": (_parts_ips, False), "snips": (_parts_snips, False), "dm": (_parts_dm, True),
    "dr": (_parts_dr, True), "switch_dr": (_parts_switch_dr, True), "sndr": (_parts_sndr, True),
    "dr_shrinkage": (_parts_dr_shrinkage, True),
}
_ALIASES = {"direct_method": "dm", "doubly_robust": "dr"}
_METHODS = "replay, " + ", ".join(_ESTIMATORS)


def _method(name: Any) -> str:
    name = _ALIASES.get(name, name) if isinstance(name, str) else name
    if name not in _ESTIMATORS:
        raise ValueError(f"unknown method {name!r}: use {_METHODS}")
    return name


def _value(parts: _Parts, m: int) -> float:
    base, corr, norm, _ = parts
    v = float(base.mean()) if base is not None else 0.0
    if corr is not None:
        den = float(norm.sum()) if norm is not None else float(m)
        v = v + float(corr.sum()) / den if den > 0 else float("nan")
    return v


def _influence(parts: _Parts, m: int) -> np.ndarray:
    """Per-decision influence terms whose mean is the estimate (delta method for the
    self-normalised part): their standard deviation / sqrt(m) is the standard error."""
    base, corr, norm, _ = parts
    phi = base.copy() if base is not None else np.zeros(m)
    if corr is not None:
        if norm is None:
            phi += corr
        else:
            mean_norm = float(norm.mean())
            ratio = float(corr.sum() / norm.sum()) if mean_norm > 0 else float("nan")
            phi += (corr - ratio * norm) / mean_norm if mean_norm > 0 else np.nan
    return phi


_MAX_BOOTSTRAP = 1_000_000  # resamples; percentile intervals settle long before


def _check_interval_args(n_bootstrap: Any, level: Any, seed: Any) -> None:
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)):
        raise TypeError(f"n_bootstrap must be an int, got {type(n_bootstrap).__name__}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0 (0: normal interval, no resampling), got {n_bootstrap}")
    if n_bootstrap > _MAX_BOOTSTRAP:
        raise ValueError(f"n_bootstrap = {n_bootstrap} is above the cap of {_MAX_BOOTSTRAP}")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)):
        raise TypeError(f"level must be a number, got {type(level).__name__}")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")


def _normal_quantile(level: float) -> float:
    """z with P(|N(0,1)| <= z) = level."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def _bootstrap_values(stat: Callable[[np.ndarray], np.ndarray], m: int, n_bootstrap: int,
                      seed: int) -> np.ndarray:
    """n_bootstrap resampled statistics; ``stat`` takes a (b, m) index block and
    returns b values (vectorised: blocks of about 4 million indices)."""
    rng = np.random.default_rng(seed)
    vals = np.empty(n_bootstrap)
    block = max(1, 4_000_000 // max(m, 1))
    for start in range(0, n_bootstrap, block):
        b = min(block, n_bootstrap - start)
        with np.errstate(invalid="ignore", divide="ignore"):
            vals[start:start + b] = stat(rng.integers(0, m, (b, m)))
    return vals


def _percentile_interval(vals: np.ndarray, level: float) -> Tuple[float, float, float]:
    with warnings.catch_warnings():  # all resamples NaN (e.g. SNIPS without a positive weight): NaN interval
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(vals, [(1 - level) / 2, 1 - (1 - level) / 2])
        se = float(np.nanstd(vals, ddof=1)) if len(vals) > 1 else float("nan")
    return float(lo), float(hi), se


def _parts_stat(parts: _Parts, m: int) -> Callable[[np.ndarray], np.ndarray]:
    base, corr, norm, _ = parts

    def stat(i: np.ndarray) -> np.ndarray:
        v = base[i].mean(axis=1) if base is not None else np.zeros(i.shape[0])
        if corr is not None:
            den = norm[i].sum(axis=1) if norm is not None else float(m)
            v = v + np.where(den > 0, corr[i].sum(axis=1) / np.where(den > 0, den, 1.0), np.nan)
        return v

    return stat


def _kish(w: Optional[np.ndarray], m: int) -> float:
    if w is None:
        return float(m)
    s2 = float(np.dot(w, w))
    return float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0


def _estimate_from(method: str, x: _Inputs, params: Dict[str, Any], n_bootstrap: int, level: float,
                   seed: int) -> Estimate:
    parts = _ESTIMATORS[method][0](x, **params)
    m = len(x.data)
    value = _value(parts, m)
    details: Dict[str, Any] = {"pending": x.pending, **params}
    if n_bootstrap > 0:
        lo, hi, se = _percentile_interval(_bootstrap_values(_parts_stat(parts, m), m, n_bootstrap, seed), level)
        details["interval"] = "bootstrap"
    else:
        phi = _influence(parts, m)
        se = float(np.std(phi, ddof=1) / math.sqrt(m)) if m > 1 else float("nan")
        half = _normal_quantile(level) * se
        lo, hi = value - half, value + half
        details["interval"] = "normal"
    weights = parts[3]
    ess = _kish(weights, m)
    details["effective_sample_size"] = ess
    if weights is not None:
        details["max_weight"] = float(weights.max())
    return Estimate(method, value, lo, hi, se, m, details, ess)


# The default n_bootstrap is 0: the normal interval costs one pass over the
# per-decision terms (the point estimate's price), where a percentile bootstrap
# of B resamples costs B passes (3-10x the point estimate at B = 200 already).
# Both are asymptotic; the coverage test runs both on simulated logs.
def _estimate(method: str, target: Any, data: LoggedData, *, n_bootstrap: int = 0, level: float = 0.95,
              seed: int = 0, estimated_rewards: Any = None, reward_model: Any = None, n_folds: int = 1,
              **params: Any) -> Estimate:
    method = _method(method)
    _check_interval_args(n_bootstrap, level, seed)
    needs_q = _ESTIMATORS[method][1]
    if not needs_q and (estimated_rewards is not None or reward_model is not None):
        raise ValueError(f"{method} uses no reward model (estimated_rewards / reward_model are for DM and DR)")
    x = _inputs(target, data, need_q=needs_q, estimated_rewards=estimated_rewards, reward_model=reward_model,
                n_folds=n_folds, seed=seed)
    return _estimate_from(method, x, params, int(n_bootstrap), float(level), int(seed))


_COMMON = """
    target: (n,) arms, (n, K) or (n, K, L) probabilities, a Policy or a callable on the contexts.
    n_bootstrap: 0 (default) gives the normal interval, in the time of the point estimate;
    > 0 a percentile bootstrap of that many resamples. level: the interval's coverage."""
_MODEL = """
    estimated_rewards: (n, K) or (n, K, L) predictions used as is (obp's
    estimated_rewards_by_reg_model); otherwise ``reward_model`` (default a per-arm
    RidgeRewardModel) is fitted on the log, with ``n_folds`` > 1 cross-fitted."""


def ips(target: Any, data: LoggedData, *, clip: float = math.inf, **kw: Any) -> Estimate:
    """Inverse propensity scoring, mean(min(w, clip) r) with w = pi(a|x) / p: unbiased
    when propensities are correct and positive (and clip = inf)."""
    return _estimate("ips", target, data, clip=clip, **kw)


def snips(target: Any, data: LoggedData, **kw: Any) -> Estimate:
    """Self-normalised IPS, sum(w r) / sum(w) (small bias, much lower variance than IPS)."""
    return _estimate("snips", target, data, **kw)


def direct_method(target: Any, data: LoggedData, **kw: Any) -> Estimate:
    """Direct method: mean over decisions of sum_a pi(a|x) q(x, a)."""
    return _estimate("dm", target, data, **kw)


def doubly_robust(target: Any, data: LoggedData, *, clip: float = math.inf, **kw: Any) -> Estimate:
    """Doubly robust (Dudik, Langford & Li 2011): DM + mean(min(w, clip) (r - q(x, a)));
    unbiased if either the propensities or the reward model are right."""
    return _estimate("dr", target, data, clip=clip, **kw)


def switch_dr(target: Any, data: LoggedData, *, tau: float = 1.0, **kw: Any) -> Estimate:
    """Switch-DR (Wang, Agarwal & Dudik 2017; obp's SwitchDoublyRobust(tau)): the DR
    correction only where w <= tau, the direct method elsewhere."""
    return _estimate("switch_dr", target, data, tau=tau, **kw)


def sndr(target: Any, data: LoggedData, **kw: Any) -> Estimate:
    """Self-normalised DR: DM + sum(w (r - q(x, a))) / sum(w)."""
    return _estimate("sndr", target, data, **kw)


def dr_shrinkage(target: Any, data: LoggedData, *, lam: float = 1.0, **kw: Any) -> Estimate:
    """DR with optimistic shrinkage (Su, Dimakopoulou, Krishnamurthy & Dudik 2020; obp's
    DoublyRobustWithShrinkage(lambda_)): weights w lam / (w^2 + lam); lam = inf is DR,
    lam = 0 the direct method."""
    return _estimate("dr_shrinkage", target, data, lam=lam, **kw)


for _f in (ips, snips, direct_method, doubly_robust, switch_dr, sndr, dr_shrinkage):
    _f.__doc__ = (_f.__doc__ or "") + "\n" + _COMMON + (_MODEL if _f not in (ips, snips) else "")


# ----------------------------------------------------------------------------- summaries
@dataclass
class Summary:
    """Several estimators of one target on one log: ``estimates[name]`` and
    ``on_policy_value``, the mean logged reward (the logging policy's value)."""

    estimates: Dict[str, Estimate]
    on_policy_value: float

    def __getitem__(self, name: str) -> Estimate:
        return self.estimates[name]

    def rows(self) -> List[Dict[str, Any]]:
        """One dict per estimator: estimator, value, low, high, std_error, ess, relative."""
        v0 = self.on_policy_value
        return [{"estimator": k, "value": e.value, "low": e.low, "high": e.high, "std_error": e.std_error,
                 "ess": e.effective_sample_size, "relative": e.value / v0 if v0 != 0 else float("nan")}
                for k, e in self.estimates.items()]

    def to_pandas(self) -> Any:
        import pandas as pd  # optional

        return pd.DataFrame(self.rows()).set_index("estimator")

    def __str__(self) -> str:
        lines = [f"{'estimator':<14}{'value':>11}{'low':>11}{'high':>11}{'ess':>10}{'relative':>10}"]
        for r in self.rows():
            lines.append(f"{r['estimator']:<14}{r['value']:>11.4g}{r['low']:>11.4g}{r['high']:>11.4g}"
                         f"{r['ess']:>10.4g}{r['relative']:>10.4g}")
        lines.append(f"on-policy (mean logged reward): {self.on_policy_value:.4g}")
        return "\n".join(lines)


def summarize(target: Any, data: LoggedData, estimators: Any = ("ips", "snips", "dm", "dr", "switch_dr", "sndr",
                                                                 "dr_shrinkage"),
              *, n_bootstrap: int = 0, level: float = 0.95, seed: int = 0, estimated_rewards: Any = None,
              reward_model: Any = None, n_folds: int = 1) -> Summary:
    """Runs several estimators on one log (the target's probabilities and the reward
    model computed once) and returns a :class:`Summary`: value, interval, ESS and the
    value relative to the on-policy value (obp's relative_estimated_policy_value).

    estimators: names, or a dict ``{name: {parameter: value}}`` such as
    ``{"ips": {"clip": 20}, "switch_dr": {"tau": 5}}``.
    """
    _check_interval_args(n_bootstrap, level, seed)
    if isinstance(estimators, str):
        estimators = [estimators]
    spec = {(_method(k)): dict(v or {}) for k, v in estimators.items()} if isinstance(estimators, Mapping) \
        else {_method(k): {} for k in estimators}
    if not spec:
        raise ValueError("no estimators to run")
    need_q = any(_ESTIMATORS[k][1] for k in spec)
    x = _inputs(target, data, need_q=need_q, estimated_rewards=estimated_rewards, reward_model=reward_model,
                n_folds=n_folds, seed=seed)
    out = {k: _estimate_from(k, x, params, int(n_bootstrap), float(level), int(seed)) for k, params in spec.items()}
    return Summary(out, float(np.mean(x.data.rewards)))


# ----------------------------------------------------------------------------- propensities
def estimate_propensities(data: LoggedData, *, lam: float = 1.0, min_propensity: float = 1e-3,
                          max_iter: int = 1000, tol: float = 1e-8) -> LoggedData:
    """A copy of ``data`` whose propensities are estimated from the logged arms: a
    multinomial logistic regression of the arm on [1, context, position one-hot]
    (L2 penalty ``lam``, intercepts unpenalised), fitted by Bohning's (1992)
    fixed-Hessian bound, which improves the penalised likelihood at every step at
    O(n K d) per iteration. Estimated propensities below ``min_propensity`` are raised
    to it (weights of at most 1/min_propensity). Use for logs without propensities
    (``propensities=None``) or to compare with the logged ones."""
    _check_data(data)
    lam = _number(lam, "lam")
    min_propensity = _number(min_propensity, "min_propensity")
    if not 0 < min_propensity <= 1:
        raise ValueError("min_propensity must be in (0, 1]")
    n, K = len(data), data.n_arms
    if n == 0:
        raise ValueError("the log is empty")
    parts = [np.ones((n, 1)), data.contexts]
    if data.positions is not None and data.n_positions and data.n_positions > 1:
        parts.append(_onehot(data.positions, data.n_positions)[:, 1:])
    Phi = np.hstack(parts)
    P = _softmax_regression(Phi, data.arms, K, lam, max_iter, tol)
    p = np.maximum(P[np.arange(n), data.arms], min_propensity)
    return data.with_propensities(np.minimum(p, 1.0))


def _softmax_regression(Phi: np.ndarray, y: np.ndarray, K: int, lam: float, max_iter: int,
                        tol: float) -> np.ndarray:
    """(n, K) fitted class probabilities. The Hessian of the multinomial log-likelihood
    is bounded by (I - 11'/K)/2 (x) Phi'Phi (Bohning 1992), so the step
    G (Phi'Phi/2 + Lambda)^-1, centred over the classes, is a majorise-minimise step."""
    n, p = Phi.shape
    pen = np.full(p, lam)
    pen[0] = 0.0
    M = 0.5 * (Phi.T @ Phi)
    M[np.diag_indices_from(M)] += pen + 1e-12 * max(1.0, float(np.trace(M)) / p)
    Minv = np.linalg.inv(M)
    Y = _onehot(y, K)
    beta = np.zeros((K, p))
    counts = Y.mean(axis=0)
    beta[:, 0] = np.log(np.maximum(counts, 1e-12))
    beta[:, 0] -= beta[:, 0].mean()
    for _ in range(max_iter):
        Z = Phi @ beta.T
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=1, keepdims=True)
        G = (P - Y).T @ Phi + beta * pen
        step = G @ Minv
        step -= step.mean(axis=0)
        beta -= step
        if np.max(np.abs(step)) < tol:
            break
    Z = Phi @ beta.T
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    return P / P.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- replay and comparisons
def _complete(data: LoggedData) -> LoggedData:
    d = _check_data(data).complete()
    if len(d) == 0:
        raise ValueError(f"the log has no decisions with rewards ({len(data)} pending)")
    return d


def replay(policy: Policy, data: LoggedData, *, learn: bool = True, n_bootstrap: int = 0,
           level: float = 0.95, seed: int = 0) -> Estimate:
    """Replay evaluation (Li et al., WSDM 2011) of a (learning) policy.

    A copy of the policy walks the log in order; an event counts when the copy
    picks the logged arm, and (with ``learn``) the copy then learns its reward.
    Valid for logs collected by a uniformly random policy. The interval is the
    normal one on the matched rewards (``n_bootstrap=0``) or their percentile
    bootstrap (it does not re-run the policy).
    """
    if not isinstance(policy, Policy):
        raise TypeError(f"replay needs a Policy, got {type(policy).__name__}")
    _check_interval_args(n_bootstrap, level, seed)
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
    details: Dict[str, Any] = {"matched": len(m), "matched_rewards": m, "final_policy": p,
                               "pending": len(full) - len(data)}
    if n_bootstrap > 0 and len(m):
        lo, hi, se = _percentile_interval(_bootstrap_values(lambda i: m[i].mean(axis=1), len(m), n_bootstrap, seed),
                                          level)
        details["interval"] = "bootstrap"
    else:
        se = float(np.std(m, ddof=1) / math.sqrt(len(m))) if len(m) > 1 else float("nan")
        half = _normal_quantile(level) * se
        lo, hi = value - half, value + half
        details["interval"] = "normal"
    return Estimate("replay", value, lo, hi, se, len(data), details, float(len(m)))


def evaluate(target: Any, data: LoggedData, method: str = "dr", **kw: Any) -> Estimate:
    """Dispatch to an estimator by name: replay, ips, snips, dm, dr, switch_dr, sndr, dr_shrinkage."""
    if method == "replay":
        if not isinstance(target, Policy):
            raise TypeError("replay needs a Policy")
        return replay(target, data, **kw)
    return _estimate(method, target, data, **kw)


def _probabilities_on_complete(target: Any, data: LoggedData, complete: LoggedData) -> np.ndarray:
    if isinstance(target, Policy):
        return _policy_probabilities(target, complete)
    return target_probabilities(target, data)[~np.isnan(data.rewards)]


def compare(policy_a: Any, policy_b: Any, data: LoggedData, *, method: str = "dr", n_bootstrap: int = 0,
            level: float = 0.95, seed: int = 0, reward_model: Any = None, estimated_rewards: Any = None,
            n_folds: int = 1, **params: Any) -> Comparison:
    """A/B comparison of two target policies on one log: value(B) - value(A) with a
    paired interval (the same decisions for both: a normal interval on the paired
    influence terms with ``n_bootstrap=0``, else a paired percentile bootstrap).
    For ``method="replay"`` the two replays are independent samples."""
    _check_interval_args(n_bootstrap, level, seed)
    if method == "replay":
        return _compare_replay(policy_a, policy_b, data, int(n_bootstrap), float(level), int(seed))
    method = _method(method)
    needs_q = _ESTIMATORS[method][1]
    xa = _inputs(policy_a, data, need_q=needs_q, estimated_rewards=estimated_rewards, reward_model=reward_model,
                 n_folds=n_folds, seed=seed)
    xb = _Inputs(xa.data, _probabilities_on_complete(policy_b, data, xa.data), xa.Q, xa.pending)
    parts_a = _ESTIMATORS[method][0](xa, **params)
    parts_b = _ESTIMATORS[method][0](xb, **params)
    m = len(xa.data)
    va, vb = _value(parts_a, m), _value(parts_b, m)
    if n_bootstrap > 0:
        sa, sb = _parts_stat(parts_a, m), _parts_stat(parts_b, m)
        diffs = _bootstrap_values(lambda i: sb(i) - sa(i), m, int(n_bootstrap), int(seed))
        lo, hi, _ = _percentile_interval(diffs, level)
        prob = float(np.mean(diffs > 0))
    else:
        lo, hi, prob = _normal_difference(vb - va, _influence(parts_b, m) - _influence(parts_a, m), level)
    return Comparison(method, va, vb, vb - va, lo, hi, prob)


def _normal_difference(diff: float, phi: np.ndarray, level: float) -> Tuple[float, float, float]:
    """Normal interval and P(B better) of a difference with per-decision influence terms phi."""
    m = len(phi)
    se = float(np.std(phi, ddof=1) / math.sqrt(m)) if m > 1 else float("nan")
    if not se > 0:  # identical policies, or one decision: no spread
        return diff, diff, float(diff > 0) if diff != 0 or se == 0 else float("nan")
    half = _normal_quantile(level) * se
    return diff - half, diff + half, float(NormalDist().cdf(diff / se))


def _compare_replay(policy_a: Any, policy_b: Any, data: LoggedData, n_bootstrap: int, level: float,
                    seed: int) -> Comparison:
    ma = _matched_rewards(policy_a, data)
    mb = _matched_rewards(policy_b, data)
    va, vb = float(np.mean(ma)), float(np.mean(mb))
    if n_bootstrap > 0:
        rng = np.random.default_rng(seed)
        diffs = np.array([mb[rng.integers(0, len(mb), len(mb))].mean() - ma[rng.integers(0, len(ma), len(ma))].mean()
                          for _ in range(n_bootstrap)])
        lo, hi, _ = _percentile_interval(diffs, level)
        return Comparison("replay", va, vb, vb - va, lo, hi, float(np.mean(diffs > 0)))
    var = (np.var(ma, ddof=1) / len(ma) if len(ma) > 1 else np.nan) + \
          (np.var(mb, ddof=1) / len(mb) if len(mb) > 1 else np.nan)
    se = math.sqrt(var) if var >= 0 else float("nan")
    if not se > 0:
        return Comparison("replay", va, vb, vb - va, float("nan"), float("nan"), float("nan"))
    half = _normal_quantile(level) * se
    return Comparison("replay", va, vb, vb - va, vb - va - half, vb - va + half,
                      float(NormalDist().cdf((vb - va) / se)))


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
