"""The float64 bandit kernels on every SIMD level this machine has, against numpy."""

import numpy as np
import pytest

from superinstance import _core
from superinstance.errors import UnavailableError
from superinstance.frozen_model_rl import LinUCB, LinearThompsonSampling


def test_kernels_match_numpy_on_every_level(simd_levels):
    rng = np.random.default_rng(0)
    for level in simd_levels:
        for n in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 70):
            a, b = rng.normal(size=n), rng.normal(size=n)
            assert _core.bandit_dot(a, b, level) == pytest.approx(float(a @ b), rel=1e-12, abs=1e-12)
            M = rng.normal(size=(n, n))
            M = M + M.T
            np.testing.assert_allclose(_core.bandit_symv(M, a, level), M @ a, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(_core.bandit_rank1(M, a, -0.7, level), M - 0.7 * np.outer(a, a),
                                       rtol=1e-12, atol=1e-12)


def test_policies_agree_across_levels(simd_levels):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 13))
    theta = rng.normal(size=(5, 13))
    runs = {}
    for level in simd_levels:
        for cls in (LinUCB, LinearThompsonSampling):
            p = cls(5, 13, seed=3, simd=level)
            assert p.config["simd"] == level
            arms = []
            for x in X:
                d = p.select(x)
                arms.append(d.arm)
                p.update(d, float(theta[d.arm] @ x))
            runs[(cls.__name__, level)] = (arms, np.stack([p.theta(a) for a in range(5)]))
    for (name, level), (arms, th) in runs.items():
        ref_arms, ref_th = runs[(name, "scalar")]
        assert np.mean(np.array(arms) == np.array(ref_arms)) > 0.99
        np.testing.assert_allclose(th, ref_th, rtol=1e-6, atol=1e-8)


def test_unknown_or_unavailable_level():
    with pytest.raises(ValueError, match="SIMD level"):
        LinUCB(2, 2, simd="sse9")
    import superinstance

    if "avx512" not in superinstance.capabilities()["simd_available"]:
        with pytest.raises(UnavailableError):
            LinUCB(2, 2, simd="avx512")
