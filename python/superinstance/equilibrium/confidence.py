"""The equilibrium confidence: a weighted geometric product of four factors.

Each factor is a number in [0, 1] that says how settled one aspect of the
conversation is (DESIGN.md section 2, decisions 2 and 4):

* rate: how close the rate the timer measured is to the target rate,
  ``min(measured, target) / max(measured, target)`` (1 when on target, 0.5 when
  twice too fast or too slow);
* context: how well the newest utterance matches known context, the cosine
  similarity of the best match mapped from [-1, 1] to [0, 1], ``(1 + cos) / 2``;
* sentiment: positive and calm is settled,
  ``(1 + valence) / 2 * (1 - arousal / 2)``: valence in [-1, 1] scales it fully,
  arousal in [0, 1] can halve it; dominance does not enter the factor (it is
  used by the context search's sentiment weighting);
* interruption: 0.8 when the user interrupted, else 1.

``confidence = prod(factor_i ** weight_i)``; with all weights 1 this is the
originals' plain product, and an interruption scales confidence by exactly 0.8.
An interruption resets attention when the confidence *before* that scaling was
above 0.7. The weighted arithmetic mean (``combine="sum"``) is available too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict

from ..frozen_model_rl.arms import ConstraintArm, combine_confidence_one

__all__ = ["Factors", "ConstraintArm", "rate_factor", "context_factor", "sentiment_factor",
           "interruption_factor", "combine_confidence", "INTERRUPTION_SCALE", "ATTENTION_RESET_ABOVE"]

INTERRUPTION_SCALE = 0.8
ATTENTION_RESET_ABOVE = 0.7


@dataclass(frozen=True)
class Factors:
    rate: float
    context: float
    sentiment: float
    interruption: float

    def as_dict(self) -> Dict[str, float]:
        return asdict(self)


def _finite(name: str, v: float) -> float:
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def rate_factor(measured_hz: float, target_hz: float) -> float:
    measured, target = _finite("measured rate", measured_hz), _finite("target rate", target_hz)
    if target <= 0:
        raise ValueError(f"target rate must be > 0 Hz, got {target}")
    if measured <= 0:
        return 0.0
    return min(measured, target) / max(measured, target)


def context_factor(similarity: float) -> float:
    s = _finite("context similarity", similarity)
    return min(1.0, max(0.0, (1.0 + s) / 2.0))


def sentiment_factor(valence: float, arousal: float, dominance: float) -> float:
    v, a, d = _finite("valence", valence), _finite("arousal", arousal), _finite("dominance", dominance)
    if not -1.0 <= v <= 1.0:
        raise ValueError(f"valence must be within [-1, 1], got {v}")
    if not (0.0 <= a <= 1.0 and 0.0 <= d <= 1.0):
        raise ValueError(f"arousal and dominance must be within [0, 1], got {a}, {d}")
    return (1.0 + v) / 2.0 * (1.0 - a / 2.0)


def interruption_factor(interrupted: bool) -> float:
    return INTERRUPTION_SCALE if interrupted else 1.0


def combine_confidence(f: Factors, w: ConstraintArm, combine: str = "product") -> float:
    """Weighted geometric product (default) or weighted arithmetic mean of the factors;
    the weights are a ``frozen_model_rl.ConstraintArm`` (the bandit's arm)."""
    return combine_confidence_one((f.rate, f.context, f.sentiment, f.interruption),
                                  (w.rate, w.context, w.sentiment, w.interruption), mode=combine)
