"""EquilibriumOrchestrator: the token loop on the four components.

Each step takes the newest inputs (an utterance embedding, a sentiment
feature frame or an already sensed (v, a, d) triple, an interruption flag),
then runs four stages, each timed:

1. ``sentiment``: the gpu_accelerator sentiment head (GPU or CPU) turns the
   feature frame into (valence, arousal, dominance);
2. ``context``: vector_navigator finds the k nearest utterances with sentiment
   weighting (within basins when the navigator has them) and routes the
   embedding to its nearest basin (the suggested path);
3. ``policy``: the frozen_model_rl bandit picks constraint weights from the
   state's features;
4. ``confidence``: the weighted geometric product of the four factors
   (:mod:`.confidence`).

Rewards update the bandit by decision id, possibly many ticks later.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import LatencyHistogram
from ..errors import UnknownIdError
from . import confidence as conf

__all__ = ["EquilibriumOrchestrator", "EquilibriumResult", "STAGES", "MIN_RATE_HZ", "MAX_RATE_HZ"]

STAGES = ("sentiment", "context", "policy", "confidence")
MIN_RATE_HZ, MAX_RATE_HZ = 0.5, 1000.0


@dataclass(frozen=True)
class EquilibriumResult:
    """What one tick decided."""

    tick: int
    confidence: float
    rate_hz: float                   # the token rate the decision was made for
    attention_reset: bool
    suggested_path: Optional[Tuple[str, ...]]
    weights: conf.ConstraintArm
    factors: conf.Factors
    timings: Dict[str, int]          # ns per stage, and "total"
    decision_id: int
    arm: int
    sentiment: Tuple[float, float, float]
    context_ids: np.ndarray = field(repr=False)
    context_scores: np.ndarray = field(repr=False)
    measured_rate_hz: float = float("nan")
    interrupted: bool = False


_NO_ID = np.uint64(2**64 - 1)  # vector_navigator.NO_ID: padding when fewer than k pass
_ALL_LEVELS = 1 << 16  # basin search depth that reaches every descendant


def _check_rate(rate_hz: float) -> float:
    r = float(rate_hz)
    if not (math.isfinite(r) and MIN_RATE_HZ <= r <= MAX_RATE_HZ):
        raise ValueError(f"rate_hz must be within {MIN_RATE_HZ}..{MAX_RATE_HZ} Hz, got {rate_hz}")
    return r


class EquilibriumOrchestrator:
    """The loop's state and one-step logic; :class:`~.loop.EquilibriumLoop` runs it on the
    realtime_core scheduler.

    The orchestrator owns the token rate: :attr:`rate_hz`, changed only by
    :meth:`set_rate`, which a running loop follows at its next token deadline.

    Parameters
    ----------
    rate_hz: the token rate the loop holds (0.5 .. 1000 Hz; 2 Hz by default).
    index: a ``vector_navigator.Navigator`` (basins) or ``Index`` (no basins).
    policy: a ``frozen_model_rl`` policy whose arms are ``ConstraintArm`` weights
        and whose dim equals ``features.dim``.
    sentiment: a ``gpu_accelerator`` sentiment head (called on a feature frame).
    features: a ``frozen_model_rl.FeatureExtractor``.
    basin_depth: 0 (default) searches the whole index for context, as before;
        d >= 1 routes the embedding first and searches only the basin at level
        d of the routed path and everything below it (a label filter the
        index answers from its posting lists; with basins only). A basin
        holding nothing yet falls back to the whole index for that tick.
    """

    def __init__(self, rate_hz: float = 2.0, *, index: Any, policy: Any, sentiment: Any,
                 features: Any, k: int = 5, sentiment_weight: float = 0.3, combine: str = "product",
                 rate_window: int = 8, max_pending: int = 10_000, basin_depth: int = 0) -> None:
        self._rate_hz = _check_rate(rate_hz)
        if isinstance(basin_depth, bool) or not isinstance(basin_depth, (int, np.integer)) or basin_depth < 0:
            raise ValueError(f"basin_depth must be an int >= 0 (0: search the whole index), got {basin_depth!r}")
        self.basin_depth = int(basin_depth)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not (0.0 <= sentiment_weight <= 1.0):
            raise ValueError(f"sentiment_weight must be within [0, 1], got {sentiment_weight}")
        if combine not in ("product", "sum"):
            raise ValueError(f"combine must be 'product' or 'sum', got {combine!r}")
        if getattr(policy, "dim", features.dim) != features.dim:
            raise ValueError(f"policy dim {policy.dim} != feature dim {features.dim}")
        self.index, self.policy, self.sentiment, self.features = index, policy, sentiment, features
        self.k, self.sentiment_weight, self.combine = int(k), float(sentiment_weight), combine
        self.dim = int(getattr(index, "dim", None) or index.index.dim)
        self.arms = list(policy.arms)
        self.stage_stats = {s: LatencyHistogram() for s in STAGES + ("total",)}
        self._tick = 0
        self._wakes: Deque[int] = deque(maxlen=max(2, int(rate_window)))
        self._decisions: Dict[int, int] = {}   # tick -> decision id, until rewarded
        self._max_pending = int(max_pending)
        self._rate_watchers: List[Callable[[float], None]] = []  # running loops (see EquilibriumLoop)
        self._route: Optional[Callable[[np.ndarray], Any]] = None  # index.route once the index has basins

    # ------------------------------------------------------------------ the rate
    @property
    def rate_hz(self) -> float:
        """The token rate (Hz); the one place it is held. Change it with :meth:`set_rate`."""
        return self._rate_hz

    def set_rate(self, rate_hz: float) -> None:
        """Change the token rate; a running loop re-times its token task at its next deadline."""
        self._rate_hz = _check_rate(rate_hz)
        self._wakes.clear()
        for watcher in list(self._rate_watchers):
            watcher(self._rate_hz)

    def observe_wake(self, woke_ns: int) -> float:
        """Feed a token wake-up; returns the rate measured over the recent wake-ups."""
        self._wakes.append(int(woke_ns))
        return self.measured_rate_hz()

    def measured_rate_hz(self) -> float:
        if len(self._wakes) < 2 or self._wakes[-1] <= self._wakes[0]:
            return self._rate_hz  # nothing measured yet: assume on target
        return (len(self._wakes) - 1) * 1e9 / (self._wakes[-1] - self._wakes[0])

    # ------------------------------------------------------------------ one step
    def _check_embedding(self, embedding: Any) -> np.ndarray:
        e = np.ascontiguousarray(embedding, dtype=np.float32)
        if e.shape != (self.dim,):
            raise ValueError(f"embedding must have shape ({self.dim},), got {e.shape}")
        # A sum is finite only if every element is (NaN and inf propagate); a finite vector whose
        # sum overflows takes the element-wise check.
        if not math.isfinite(float(e.sum())) and not np.all(np.isfinite(e)):
            raise ValueError("embedding contains NaN or infinity")
        return e

    def sense_sentiment(self, features: Any) -> Tuple[float, float, float]:
        """The sentiment head on one feature frame: (valence, arousal, dominance)."""
        f = np.ascontiguousarray(features, dtype=np.float32)
        if not np.all(np.isfinite(f)):
            raise ValueError("sentiment features contain NaN or infinity")
        vad = np.asarray(self.sentiment(f), dtype=np.float64).reshape(-1)
        return float(vad[0]), float(vad[1]), float(vad[2])

    def _sentiment(self, features: Any, sentiment: Optional[Sequence[float]]) -> Tuple[float, float, float]:
        if sentiment is not None:
            v, a, d = (float(x) for x in sentiment)
            conf.sentiment_factor(v, a, d)  # validates the ranges
            return v, a, d
        return self.sense_sentiment(features)

    def _context(self, e: np.ndarray, vad: Tuple[float, float, float]):
        if self._route is None:  # looked up until basins exist (listing them every tick costs ~1 us)
            route = getattr(self.index, "route", None)
            if route is not None and bool(getattr(self.index, "basins", lambda: [])()):
                self._route = route
        path = tuple(self._route(e)) if self._route is not None else None
        if self.basin_depth and path:
            ids, scores = self._basin_context(e, vad, path[:self.basin_depth])
            if ids.size:
                return ids, scores, path
        ids, scores = self.index.search(e, self.k, sentiment=vad, sentiment_weight=self.sentiment_weight)
        ids, scores = np.asarray(ids).reshape(-1), np.asarray(scores).reshape(-1)
        return ids, scores, path

    def _basin_context(self, e: np.ndarray, vad: Tuple[float, float, float], basin: Tuple[Any, ...]):
        """The k nearest within `basin` and all its descendants (fewer when it holds fewer)."""
        ids, scores = self.index.search(e, self.k, basin=basin, depth=_ALL_LEVELS, sentiment=vad,
                                        sentiment_weight=self.sentiment_weight)
        ids, scores = np.asarray(ids).reshape(-1), np.asarray(scores).reshape(-1)
        if ids.size and ids[-1] != _NO_ID:  # padding only ever trails
            return ids, scores
        held = ids != _NO_ID
        return ids[held], scores[held]

    def orchestrate(self, embedding: Any, features: Any = None, *, interrupted: bool = False,
                    sentiment: Optional[Sequence[float]] = None,
                    measured_rate_hz: Optional[float] = None) -> EquilibriumResult:
        """One step without a timer. ``sentiment`` (v, a, d) skips the head when given;
        ``measured_rate_hz`` defaults to the rate measured from :meth:`observe_wake`."""
        e = self._check_embedding(embedding)
        if features is None and sentiment is None:
            raise ValueError("give sentiment features (for the head) or a (valence, arousal, dominance) triple")
        measured = self.measured_rate_hz() if measured_rate_hz is None else float(measured_rate_hz)
        t0 = time.perf_counter_ns()
        vad = self._sentiment(features, sentiment)
        t1 = time.perf_counter_ns()
        ids, scores, path = self._context(e, vad)
        similarity = float(scores[0]) if scores.size else 0.0
        t2 = time.perf_counter_ns()
        decision = self.policy.select(self._state(measured, similarity, vad, interrupted))
        weights = self.arms[decision.arm]
        t3 = time.perf_counter_ns()
        factors, confidence, reset = self._confidence(measured, similarity, vad, bool(interrupted), weights)
        t4 = time.perf_counter_ns()
        timings = {"sentiment": t1 - t0, "context": t2 - t1, "policy": t3 - t2, "confidence": t4 - t3,
                   "total": t4 - t0}
        for s, ns in timings.items():
            self.stage_stats[s].record(ns)
        tick = self._tick
        self._tick += 1
        self._decisions[tick] = decision.id
        if len(self._decisions) > self._max_pending:  # the oldest reward will never come
            del self._decisions[next(iter(self._decisions))]
        return EquilibriumResult(tick=tick, confidence=confidence, rate_hz=self._rate_hz, attention_reset=reset,
                                 suggested_path=path, weights=weights, factors=factors, timings=timings,
                                 decision_id=decision.id, arm=decision.arm, sentiment=vad, context_ids=ids,
                                 context_scores=scores, measured_rate_hz=measured, interrupted=bool(interrupted))

    def _state(self, measured: float, similarity: float, vad: Tuple[float, float, float],
               interrupted: bool) -> np.ndarray:
        """The policy's features of the loop's state."""
        return self.features(measured_rate_hz=measured, rate_hz=self._rate_hz,
                             context_confidence=conf.context_factor(similarity), valence=vad[0], arousal=vad[1],
                             dominance=vad[2], interruption=bool(interrupted))

    def _confidence(self, measured: float, similarity: float, vad: Tuple[float, float, float], interrupted: bool,
                    weights: conf.ConstraintArm) -> Tuple[conf.Factors, float, bool]:
        factors = conf.Factors(conf.rate_factor(measured, self._rate_hz), conf.context_factor(similarity),
                               conf.sentiment_factor(*vad), conf.interruption_factor(interrupted))
        confidence = conf.combine_confidence(factors, weights, self.combine)
        if not interrupted:  # the confidence before the interruption's scaling only matters after one
            return factors, confidence, False
        settled = conf.Factors(factors.rate, factors.context, factors.sentiment, 1.0)
        before = conf.combine_confidence(settled, weights, self.combine)
        return factors, confidence, before > conf.ATTENTION_RESET_ABOVE

    def warm(self, embedding: Any, sentiment: Sequence[float], interrupted: bool = False) -> None:
        """Run a step's code path on ``embedding`` without deciding anything: no policy decision is
        taken (read-only scores), nothing is recorded, the tick counter stays. A loop calls it shortly
        before a token deadline, so that the step itself finds its code and data in the caches."""
        e = self._check_embedding(embedding)
        vad = self._sentiment(None, sentiment)
        _, scores, _ = self._context(e, vad)
        similarity = float(scores[0]) if scores.size else 0.0
        measured = self.measured_rate_hz()
        arm = int(np.argmax(self.policy.scores(self._state(measured, similarity, vad, interrupted))))
        self._confidence(measured, similarity, vad, bool(interrupted), self.arms[arm])

    def reward(self, tick: int, reward: float) -> None:
        """The reward for a tick's decision; may come many ticks later, once per tick."""
        r = float(reward)
        if not math.isfinite(r):
            raise ValueError(f"reward must be finite, got {reward}")
        if tick not in self._decisions:
            raise UnknownIdError(f"no decision awaits a reward for tick {tick} (unknown, or already rewarded)")
        self.policy.update(self._decisions[tick], r)
        del self._decisions[tick]
        self.features.observe_reward(r)

    @property
    def pending_rewards(self) -> int:
        return len(self._decisions)

    def stage_summary(self) -> Dict[str, Dict[str, float]]:
        return {s: h.summary() for s, h in self.stage_stats.items()}
