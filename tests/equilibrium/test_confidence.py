"""The equilibrium confidence and the originals' three scenarios, under our decisions.

Decisions (DESIGN.md section 2): confidence is the weighted geometric product of
the rate, context, sentiment and interruption factors; the rate factor uses the
measured rate; an interruption scales confidence by 0.8 (not to zero) and resets
attention when the confidence before that scaling was above 0.7.
"""

import math

import pytest

from superinstance.equilibrium.confidence import (ConstraintArm, Factors, combine_confidence, context_factor,
                                                  interruption_factor, rate_factor, sentiment_factor)

ALL_ONES = ConstraintArm()


def scenario(rate_hz, measured_hz, v, a, d, interrupted, similarity):
    f = Factors(rate_factor(measured_hz, rate_hz), context_factor(similarity), sentiment_factor(v, a, d),
                interruption_factor(interrupted))
    before = combine_confidence(Factors(f.rate, f.context, f.sentiment, 1.0), ALL_ONES)
    return f, before, combine_confidence(f, ALL_ONES)


def test_fishing_boat_2hz():
    # On target (measured 2 Hz = target 2 Hz): rate factor 1.
    # Context: the best match has cosine 0.8 -> (1 + 0.8) / 2 = 0.9.
    # Sentiment: valence 0.8, arousal 0.3 -> (1.8 / 2) * (1 - 0.15) = 0.765; dominance does not enter.
    # No interruption: factor 1.  Confidence = 1 * 0.9 * 0.765 * 1 = 0.6885.
    f, _, conf = scenario(2.0, 2.0, 0.8, 0.3, 0.7, False, 0.8)
    assert f == Factors(1.0, pytest.approx(0.9), pytest.approx(0.765), 1.0)
    assert conf == pytest.approx(0.6885)


def test_jazz_half_hz_interrupted():
    # Rate on target: 1.  Context 0.9 as above.
    # Sentiment: valence 0.3, arousal 0.8 -> 0.65 * 0.6 = 0.39 (aroused and only mildly positive).
    # Interrupted: the confidence is scaled by 0.8 (the originals' code zeroed it; their docs say 0.8).
    # Before the interruption: 0.9 * 0.39 = 0.351 <= 0.7, so attention is not reset.
    f, before, conf = scenario(0.5, 0.5, 0.3, 0.8, 0.6, True, 0.8)
    assert f.sentiment == pytest.approx(0.39) and f.interruption == 0.8
    assert before == pytest.approx(0.351)
    assert conf == pytest.approx(0.351 * 0.8)
    assert not before > 0.7


def test_symphony_pops_1_5hz():
    # Sentiment: valence 0.7, arousal 0.4 -> 0.85 * 0.8 = 0.68. Confidence = 0.9 * 0.68 = 0.612.
    f, _, conf = scenario(1.5, 1.5, 0.7, 0.4, 0.8, False, 0.8)
    assert f.sentiment == pytest.approx(0.68)
    assert conf == pytest.approx(0.612)


def test_rate_factor_uses_the_measured_rate():
    assert rate_factor(2.0, 2.0) == 1.0
    assert rate_factor(1.0, 2.0) == pytest.approx(0.5)
    assert rate_factor(4.0, 2.0) == pytest.approx(0.5)
    assert rate_factor(0.0, 2.0) == 0.0


def test_weights_are_exponents():
    f = Factors(0.5, 0.8, 0.6, 0.8)
    w = ConstraintArm(rate=2.0, context=0.0, sentiment=1.0, interruption=0.5)
    assert combine_confidence(f, w) == pytest.approx(0.25 * 1.0 * 0.6 * math.sqrt(0.8))
    # weight 0 removes a factor entirely, even a zero factor
    assert combine_confidence(Factors(0.0, 1, 1, 1), ConstraintArm(rate=0.0)) == 1.0
    assert combine_confidence(f, ConstraintArm(), combine="sum") == pytest.approx((0.5 + 0.8 + 0.6 + 0.8) / 4)


@pytest.mark.parametrize("call", [
    lambda: sentiment_factor(1.5, 0.5, 0.5),
    lambda: sentiment_factor(0.5, -0.1, 0.5),
    lambda: sentiment_factor(float("nan"), 0.5, 0.5),
    lambda: rate_factor(1.0, 0.0),
    lambda: context_factor(float("inf")),
    lambda: ConstraintArm(rate=-1),
    lambda: ConstraintArm(context=float("nan")),
    lambda: combine_confidence(Factors(1, 1, 1, 1), ConstraintArm(), combine="max"),
])
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()
