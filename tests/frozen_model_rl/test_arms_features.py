import math

import numpy as np
import pytest

from superinstance.frozen_model_rl import (ConstraintArm, FeatureExtractor, HybridLinUCB, arm_matrix,
                                           combine_confidence, constraint_grid, constraint_simplex)


def test_constraint_arm_validation_and_array():
    a = ConstraintArm(rate=2, context=0.5, sentiment=1, interruption=0)
    np.testing.assert_array_equal(a.as_array(), [2.0, 0.5, 1.0, 0.0])
    assert ConstraintArm.from_array(a.as_array()) == a
    for bad in (dict(rate=-1), dict(context=float("nan")), dict(sentiment=float("inf"))):
        with pytest.raises(ValueError):
            ConstraintArm(**bad)
    with pytest.raises(TypeError):
        ConstraintArm(rate="1")
    with pytest.raises(ValueError):
        ConstraintArm.from_array([1, 2])


def test_grid_and_simplex():
    g = constraint_grid((0.5, 1.0, 2.0))
    assert len(g) == 81 and len(set(g)) == 81
    assert ConstraintArm(1, 1, 1, 1) in g
    g2 = constraint_grid((1.0,), rate=(0.5, 1.5))
    assert [a.rate for a in g2] == [0.5, 1.5]
    s = constraint_simplex(4, total=4.0)
    assert len(s) == math.comb(4 + 3, 3)
    assert all(abs(a.as_array().sum() - 4.0) < 1e-12 for a in s)
    assert ConstraintArm(1, 1, 1, 1) in s
    assert len(constraint_simplex(4, min_weight=1.0)) == 1
    assert arm_matrix(s).shape == (35, 4)
    with pytest.raises(ValueError):
        arm_matrix([])


def test_combine_confidence_is_weighted_geometric_product():
    c = np.array([0.9, 0.5, 0.8, 0.0])
    w = np.array([1.0, 2.0, 0.5, 0.0])
    assert combine_confidence(c, w) == pytest.approx(0.9 * 0.25 * math.sqrt(0.8))  # 0 ** 0 = 1
    assert combine_confidence(c, np.ones(4)) == 0.0
    assert combine_confidence(c, w, mode="sum") == pytest.approx((0.9 + 1.0 + 0.4) / 3.5)
    assert ConstraintArm(1, 2, 0.5, 0).confidence(0.9, 0.5, 0.8, 0.0) == pytest.approx(0.9 * 0.25 * math.sqrt(0.8))
    with pytest.raises(ValueError):
        combine_confidence([1.2, 0, 0, 0], np.ones(4))
    with pytest.raises(ValueError):
        combine_confidence([1, 1, 1], np.ones(3))


def test_feature_extractor():
    fx = FeatureExtractor(rate_tolerance=0.5)
    f = fx(measured_rate_hz=2.5, rate_hz=2.0, context_confidence=0.75, valence=-0.5, arousal=1.0,
           dominance=0.0, interruption=True)
    np.testing.assert_allclose(f, [1.0, 0.5, 0.5, -0.5, 1.0, -1.0, 1.0, 0.0])
    assert f.dtype == np.float64 and f.shape == (fx.dim,)
    f = fx(measured_rate_hz=100.0, rate_hz=2.0, context_confidence=2.0, valence=-7, arousal=0.5,
           dominance=0.5, interruption=False)
    assert np.all(np.abs(f) <= 1.0) and f[1] == 1.0 and f[6] == -1.0
    fx.observe_reward(1.0)
    fx.observe_reward(1.0)
    assert fx.recent_reward == pytest.approx(0.19)
    f = fx(measured_rate_hz=2, rate_hz=2, context_confidence=0.5, valence=0, arousal=0.5, dominance=0.5,
           interruption=False)
    assert f[7] == pytest.approx(math.tanh(0.19))
    with pytest.raises(ValueError, match="valence"):
        fx(measured_rate_hz=2, rate_hz=2, context_confidence=0.5, valence=float("nan"), arousal=0.5,
           dominance=0.5, interruption=False)
    with pytest.raises(ValueError, match="rate_hz"):
        fx(measured_rate_hz=2, rate_hz=0, context_confidence=0.5, valence=0, arousal=0.5, dominance=0.5,
           interruption=False)
    assert FeatureExtractor(bias=False).dim == 7
    X = fx.transform([dict(measured_rate_hz=2, rate_hz=2, context_confidence=0.5, valence=0, arousal=0.5,
                           dominance=0.5, interruption=False, recent_reward=0.0)] * 3)
    assert X.shape == (3, 8)


def test_hybrid_uses_constraint_arm_weights():
    arms = constraint_simplex(2)
    fx = FeatureExtractor()
    p = HybridLinUCB(arms, fx.dim)
    np.testing.assert_array_equal(p.config["arm_features"], arm_matrix(arms))
    d = p.select(fx(measured_rate_hz=2, rate_hz=2, context_confidence=0.5, valence=0, arousal=0.5,
                    dominance=0.5, interruption=False))
    assert isinstance(p.arms[d.arm], type(arms[0]))


def test_scalar_combine_equals_the_vectorised_one():
    from superinstance.frozen_model_rl.arms import combine_confidence as vec
    from superinstance.frozen_model_rl.arms import combine_confidence_one as one

    rng = np.random.default_rng(9)
    c = rng.uniform(0, 1, (500, 4))
    w = rng.uniform(0, 3, (500, 4))
    c[::7, 1] = 0.0          # zero factors
    w[::5, 1] = 0.0          # ... with and without a zero weight
    for mode in ("product", "sum"):
        expected = vec(c, w, mode)
        got = np.array([one(ci, wi, mode) for ci, wi in zip(c, w)])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)
    for bad in ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 1.5], [0.5, 0.5, 0.5, float("nan")]):
        with pytest.raises(ValueError):
            one(bad, [1, 1, 1, 1])
    with pytest.raises(ValueError):
        one([0.5] * 4, [1, 1, 1, -1])
