"""Arms as constraint-weight configurations, and the loop-state feature extractor.

The loop combines its four factors (rate, context, sentiment, interruption,
each a confidence in [0, 1]) as a weighted geometric product
``prod(c_i ** w_i)`` (DESIGN.md section 2.2); an arm is one choice of the
weights ``w``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

import numpy as np

__all__ = [
    "FACTORS",
    "ConstraintArm",
    "constraint_grid",
    "constraint_simplex",
    "arm_matrix",
    "combine_confidence",
    "FeatureExtractor",
    "combine_confidence_one",
]

FACTORS = ("rate", "context", "sentiment", "interruption")


@dataclass(frozen=True)
class ConstraintArm:
    """One constraint-weight configuration: non-negative, finite weights."""

    rate: float = 1.0
    context: float = 1.0
    sentiment: float = 1.0
    interruption: float = 1.0

    def __post_init__(self) -> None:
        for name in FACTORS:
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.floating, np.integer)) or isinstance(v, bool):
                raise TypeError(f"ConstraintArm.{name} must be a number, got {type(v).__name__}")
            if not math.isfinite(float(v)) or float(v) < 0:
                raise ValueError(f"ConstraintArm.{name} must be finite and >= 0, got {v}")
            object.__setattr__(self, name, float(v))

    def as_array(self) -> np.ndarray:
        """Weights as float64 [rate, context, sentiment, interruption]."""
        return np.array([self.rate, self.context, self.sentiment, self.interruption], dtype=np.float64)

    @classmethod
    def from_array(cls, w: Sequence[float]) -> "ConstraintArm":
        w = list(w)
        if len(w) != 4:
            raise ValueError(f"a ConstraintArm has 4 weights, got {len(w)}")
        return cls(*w)

    def confidence(self, rate: float, context: float, sentiment: float, interruption: float) -> float:
        """The loop's confidence under these weights: prod(c_i ** w_i)."""
        return combine_confidence_one((rate, context, sentiment, interruption), self.as_array())


def _clip1(v: float) -> float:
    return -1.0 if v < -1.0 else (1.0 if v > 1.0 else v)


def combine_confidence_one(factors: Sequence[float], weights: Sequence[float], mode: str = "product") -> float:
    """:func:`combine_confidence` for one set of 4 factors and 4 weights, in plain
    floats (the per-tick path: about 20x faster than numpy on 4 elements)."""
    c = [float(v) for v in factors]
    w = [float(v) for v in weights]
    if len(c) != 4 or len(w) != 4:
        raise ValueError("factors and weights must have 4 entries (rate, context, sentiment, interruption)")
    if not all(math.isfinite(v) for v in c + w):
        raise ValueError("factors and weights must be finite")
    if any(v < 0 or v > 1 for v in c):
        raise ValueError("factor confidences must be in [0, 1]")
    if any(v < 0 for v in w):
        raise ValueError("weights must be >= 0")
    if mode == "product":
        out = 1.0
        for ci, wi in zip(c, w):
            if wi != 0.0:  # a zero weight removes the factor, even a zero factor
                out *= ci ** wi
        return out
    if mode == "sum":
        total = sum(w)
        if total == 0:
            raise ValueError("mode 'sum' needs weights with a positive sum")
        return sum(ci * wi for ci, wi in zip(c, w)) / total
    raise ValueError(f"unknown mode {mode!r}: use 'product' or 'sum'")


def combine_confidence(factors: np.ndarray, weights: np.ndarray, mode: str = "product") -> np.ndarray:
    """Combine factor confidences (..., 4) in [0, 1] with weights (..., 4).

    mode "product": prod(c_i ** w_i) (DESIGN.md 2.2); "sum": sum(w_i c_i) / sum(w_i).
    """
    c = np.asarray(factors, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if c.shape[-1] != 4 or w.shape[-1] != 4:
        raise ValueError("factors and weights must have 4 entries (rate, context, sentiment, interruption)")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(w))):
        raise ValueError("factors and weights must be finite")
    if np.any(c < 0) or np.any(c > 1):
        raise ValueError("factor confidences must be in [0, 1]")
    if np.any(w < 0):
        raise ValueError("weights must be >= 0")
    if mode == "product":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.exp(np.sum(np.where(w == 0, 0.0, w * np.log(c)), axis=-1))
    if mode == "sum":
        s = np.sum(w, axis=-1)
        if np.any(s == 0):
            raise ValueError("mode 'sum' needs weights with a positive sum")
        return np.sum(w * c, axis=-1) / s
    raise ValueError(f"unknown mode {mode!r}: use 'product' or 'sum'")


def constraint_grid(values: Sequence[float] = (0.5, 1.0, 2.0), *, rate: Optional[Sequence[float]] = None,
                    context: Optional[Sequence[float]] = None, sentiment: Optional[Sequence[float]] = None,
                    interruption: Optional[Sequence[float]] = None) -> List[ConstraintArm]:
    """The Cartesian product of weight values per factor (``values`` for any
    factor not given), in lexicographic order."""
    axes = [list(v if v is not None else values) for v in (rate, context, sentiment, interruption)]
    for name, ax in zip(FACTORS, axes):
        if not ax:
            raise ValueError(f"no weight values for {name}")
    return [ConstraintArm(*combo) for combo in itertools.product(*axes)]


def constraint_simplex(divisions: int = 4, *, total: float = 4.0, min_weight: float = 0.0) -> List[ConstraintArm]:
    """Every weight vector with entries in multiples of total/divisions that sum
    to ``total`` (a regular grid on the simplex; total 4 keeps the all-ones
    configuration when divisions is a multiple of 4). Entries below
    ``min_weight`` are excluded."""
    if divisions < 1:
        raise ValueError("divisions must be >= 1")
    if not (math.isfinite(total) and total > 0):
        raise ValueError("total must be finite and > 0")
    arms = []
    for a in range(divisions + 1):
        for b in range(divisions + 1 - a):
            for c in range(divisions + 1 - a - b):
                d = divisions - a - b - c
                w = np.array([a, b, c, d], dtype=np.float64) * (total / divisions)
                if np.all(w >= min_weight):
                    arms.append(ConstraintArm(*w))
    if not arms:
        raise ValueError("no simplex point satisfies min_weight")
    return arms


def arm_matrix(arms: Iterable[ConstraintArm]) -> np.ndarray:
    """(n_arms, 4) float64 matrix of arm weights (for HybridLinUCB arm_features)."""
    rows = [a.as_array() for a in arms]
    if not rows:
        raise ValueError("the arm set is empty")
    return np.stack(rows)


class FeatureExtractor:
    """Turns the loop's state into a normalised float64 feature vector.

    Features (all in [-1, 1]):
      0 bias (1.0, if ``bias``)
      1 rate error: clip((measured_rate_hz / rate_hz - 1) / rate_tolerance, -1, 1)
      2 context confidence, [0, 1] mapped to [-1, 1]
      3 valence in [-1, 1]
      4 arousal, [0, 1] mapped to [-1, 1]
      5 dominance, [0, 1] mapped to [-1, 1]
      6 interruption flag: +1 / -1
      7 recent reward: tanh(exponential moving average of rewards / reward_scale)
    Sentiment ranges follow DESIGN.md 2.1. Values outside their range are
    clipped; NaN/Inf raise ValueError.
    """

    names = ("bias", "rate_error", "context_confidence", "valence", "arousal", "dominance",
             "interruption", "recent_reward")

    def __init__(self, *, bias: bool = True, rate_tolerance: float = 0.5, reward_decay: float = 0.9,
                 reward_scale: float = 1.0) -> None:
        if not (rate_tolerance > 0 and math.isfinite(rate_tolerance)):
            raise ValueError("rate_tolerance must be finite and > 0")
        if not (0 <= reward_decay < 1):
            raise ValueError("reward_decay must be in [0, 1)")
        if not (reward_scale > 0 and math.isfinite(reward_scale)):
            raise ValueError("reward_scale must be finite and > 0")
        self.bias = bias
        self.rate_tolerance = float(rate_tolerance)
        self.reward_decay = float(reward_decay)
        self.reward_scale = float(reward_scale)
        self._ema = 0.0

    @property
    def dim(self) -> int:
        return 8 if self.bias else 7

    @property
    def feature_names(self) -> tuple:
        return self.names if self.bias else self.names[1:]

    def observe_reward(self, reward: float) -> None:
        """Fold a reward into the recent-reward average."""
        r = float(reward)
        if not math.isfinite(r):
            raise ValueError(f"reward must be finite, got {reward}")
        self._ema = self.reward_decay * self._ema + (1 - self.reward_decay) * r

    @property
    def recent_reward(self) -> float:
        return self._ema

    def reset(self) -> None:
        self._ema = 0.0

    def __call__(self, *, measured_rate_hz: float, rate_hz: float, context_confidence: float,
                 valence: float, arousal: float, dominance: float, interruption: bool,
                 recent_reward: Optional[float] = None) -> np.ndarray:
        vals = dict(measured_rate_hz=measured_rate_hz, rate_hz=rate_hz,
                    context_confidence=context_confidence, valence=valence, arousal=arousal,
                    dominance=dominance)
        for k, v in vals.items():
            fv = float(v)
            if not math.isfinite(fv):
                raise ValueError(f"FeatureExtractor: {k} must be finite, got {v}")
        if float(rate_hz) <= 0:
            raise ValueError(f"FeatureExtractor: rate_hz must be > 0, got {rate_hz}")
        if float(measured_rate_hz) < 0:
            raise ValueError(f"FeatureExtractor: measured_rate_hz must be >= 0, got {measured_rate_hz}")
        rr = self._ema if recent_reward is None else float(recent_reward)
        if not math.isfinite(rr):
            raise ValueError("FeatureExtractor: recent_reward must be finite")
        f = [  # plain floats: this runs every tick, and np.clip on scalars costs ~5 us each
            _clip1((float(measured_rate_hz) / float(rate_hz) - 1.0) / self.rate_tolerance),
            _clip1(2 * float(context_confidence) - 1),
            _clip1(float(valence)),
            _clip1(2 * float(arousal) - 1),
            _clip1(2 * float(dominance) - 1),
            1.0 if interruption else -1.0,
            math.tanh(rr / self.reward_scale),
        ]
        if self.bias:
            f.insert(0, 1.0)
        return np.array(f, dtype=np.float64)

    def transform(self, states: Iterable[dict]) -> np.ndarray:
        """Feature matrix (n, dim) for a sequence of state dicts (keyword names
        as in ``__call__``; each needs ``recent_reward`` or uses the running one)."""
        rows = [self(**s) for s in states]
        if not rows:
            return np.zeros((0, self.dim))
        return np.stack(rows)
