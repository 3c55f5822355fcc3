"""Issue #12: cosine similarity and the sentiment head stay right at every float32 magnitude.

Before the fix, cosine_similarity of inputs scaled by 1e-25 or 2e19 gave 0 / NaN (squared
norms under- or overflowed in float32) and SentimentHead.predict gave NaN for large finite
features (inf - inf in the output layer). Each case is checked on every SIMD level against
the float64 oracle with the error bound derived in gpu_oracles.py.
"""

import numpy as np
import pytest

from gpu_oracles import cos_tolerance, head_tolerance, oracle_cos, oracle_head
from superinstance import _core
from superinstance.gpu_accelerator import SentimentHead, cosine_similarity
from superinstance.gpu_accelerator.models import default_weights

MAGNITUDES = [1e-45, 1e-40, 1e-38, 1e-30, 1e-25, 1e-19, 1e-10, 1.0, 1e10, 1e19, 2e19, 1e25, 1e30, 1e36,
              3e38]


def test_issue_examples_give_the_float64_answer():
    a = np.array([[1, 0, 0, 0]], np.float32)
    b = np.array([[1, 1, 0, 0]], np.float32)
    for s in (1e-25, 2e19, 3e38):
        got = cosine_similarity(a * np.float32(s), b * np.float32(s), backend="cpu")
        np.testing.assert_allclose(got, [[np.sqrt(0.5)]], rtol=0, atol=cos_tolerance(4))
        got = cosine_similarity(b * np.float32(s), b * np.float32(s), backend="cpu")
        np.testing.assert_allclose(got, [[1.0]], rtol=0, atol=cos_tolerance(4))


@pytest.mark.parametrize("m,n,d", [(1, 7, 5), (5, 130, 33), (9, 300, 64)])
def test_cosine_every_magnitude_on_every_simd_level(simd_levels, m, n, d):
    """Query and key rows at independent magnitudes 1e-45..3e38 (both kernel paths: one query
    uses row dot products, four or more the transposed micro-kernel)."""
    rng = np.random.default_rng(m * 1000 + n + d)
    mags = np.array(MAGNITUDES, np.float64)
    q = rng.standard_normal((m, d)) * rng.choice(mags, (m, 1))
    k = rng.standard_normal((n, d)) * rng.choice(mags, (n, 1))
    q = np.clip(q, -3.4e38, 3.4e38).astype(np.float32)
    k = np.clip(k, -3.4e38, 3.4e38).astype(np.float32)
    k[0] = 0.0  # a zero key: similarity 0
    ref = oracle_cos(q, k)
    for level in simd_levels:
        for threads in (1, 2):
            got = _core.cosine_matrix_cpu(q, k, level, threads)
            assert np.isfinite(got).all(), level
            np.testing.assert_allclose(got, ref, rtol=0, atol=cos_tolerance(d), err_msg=f"{level}/{threads}")
            assert (got[:, 0] == 0).all()


def test_cosine_subnormal_rows_and_mixed_scales_in_one_row(simd_levels):
    q = np.array([[5e-45, 3e-45, 0, 0], [3e38, 1e-45, -3e38, 1.0], [1e-38, 1e-38, 1e-38, 1e-38]], np.float32)
    k = np.array([[1e-45, 1e-45, 0, 0], [1.0, 0.0, -1.0, 0.0], [2e38, 2e38, 2e38, 2e38]], np.float32)
    ref = oracle_cos(q, k)
    for level in simd_levels:
        np.testing.assert_allclose(_core.cosine_matrix_cpu(q, k, level, 1), ref, rtol=0,
                                   atol=cos_tolerance(4) + 1.5e-45 / 5e-45 * 0, err_msg=level)


def test_sentiment_large_finite_features_match_float64(simd_levels):
    w = default_weights()
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 16)) * rng.choice(MAGNITUDES, (64, 1))).clip(-3.4e38, 3.4e38).astype(np.float32)
    x[0] = 3e38
    x[1] = -3e38
    ref = oracle_head(w, x)
    tol = head_tolerance(w, x)
    head = _core.SentimentHeadCpu(w["w1"], w["b1"], w["w2"], w["b2"])
    for level in simd_levels:
        for threads in (1, 2):
            got = head.forward(x, level, threads)
            assert np.isfinite(got).all(), level
            assert (np.abs(got - ref) <= tol).all(), (level, np.abs(got - ref).max())


def test_sentiment_facade_issue_example():
    """Large finite features: before the fix [nan, nan, nan], the float64 oracle says [1, 1, 0]."""
    head = SentimentHead.default(backend="cpu")
    x = (np.random.default_rng(0).standard_normal(16) * 3e38).clip(-3.4e38, 3.4e38).astype(np.float32)
    ref = oracle_head(head.weights, x[None])[0]
    np.testing.assert_array_equal(ref, [1, 1, 0])
    np.testing.assert_allclose(head.predict(x), ref, rtol=0, atol=1e-6)  # saturated: exact up to rounding
    full = np.full((1, 16), 3e38, np.float32)  # also NaN before
    np.testing.assert_allclose(head.predict(full), oracle_head(head.weights, full), rtol=0, atol=1e-6)


def test_sentiment_hidden_over_one_block_large_inputs(simd_levels):
    """hidden > 128 takes the row-dot path (no transposed tile): it falls back to double too."""
    rng = np.random.default_rng(5)
    w = {"w1": rng.standard_normal((200, 9)), "b1": rng.standard_normal(200),
         "w2": rng.standard_normal((3, 200)), "b2": rng.standard_normal(3)}
    w = {k: (v * 1e18).astype(np.float32) for k, v in w.items()}
    x = (rng.standard_normal((10, 9)) * 1e19).astype(np.float32)
    head = _core.SentimentHeadCpu(w["w1"], w["b1"], w["w2"], w["b2"])
    ref, tol = oracle_head(w, x), head_tolerance(w, x)
    for level in simd_levels:
        got = head.forward(x, level, 1)
        assert np.isfinite(got).all() and (np.abs(got - ref) <= tol).all(), level
