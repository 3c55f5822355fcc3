"""Every level of vector_navigator's own kernels against a float64 reference."""

import numpy as np
import pytest

import superinstance
from superinstance import _core

LEVELS = superinstance.capabilities()["simd_available"]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("nq,nr,dim", [(1, 1, 1), (1, 7, 3), (3, 5, 16), (4, 4, 17), (5, 9, 33),
                                       (9, 13, 64), (2, 3, 100), (17, 31, 384), (1, 300, 385)])
def test_dot_tile_matches_float64(level, nq, nr, dim):
    rng = np.random.default_rng(nq * 1000 + nr * 10 + dim)
    q = rng.standard_normal((nq, dim)).astype(np.float32)
    r = rng.standard_normal((nr, dim)).astype(np.float32)
    got = _core.vn_dot_tile(q, r, level)
    ref = q.astype(np.float64) @ r.astype(np.float64).T
    np.testing.assert_allclose(got, ref, atol=1e-4 * np.sqrt(dim), rtol=1e-5)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dim", [1, 5, 8, 15, 16, 31, 32, 33, 100, 384])
def test_f16_and_i8_rows_match_float64(level, dim):
    rng = np.random.default_rng(dim)
    q = rng.standard_normal(dim).astype(np.float32)
    rows = rng.standard_normal((11, dim)).astype(np.float32)
    half = rows.astype(np.float16)
    got = _core.vn_dot_f16_rows(q, half.view(np.uint16), level)
    np.testing.assert_allclose(got, half.astype(np.float64) @ q.astype(np.float64), atol=1e-4 * np.sqrt(dim), rtol=1e-5)
    i8 = rng.integers(-127, 128, size=(11, dim)).astype(np.int8)
    scale = rng.uniform(0.001, 0.1, size=11).astype(np.float32)
    got = _core.vn_dot_i8_rows(q, i8, scale, level)
    ref = (i8.astype(np.float64) @ q.astype(np.float64)) * scale
    np.testing.assert_allclose(got, ref, atol=1e-3 * np.sqrt(dim), rtol=1e-5)


def test_f32_to_f16_matches_numpy_rounding():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(5000) * 10.0 ** rng.integers(-9, 6, 5000),
                        [0.0, -0.0, 65504.0, 65520.0, 1e9, -1e9, 6e-8, 3e-8, np.inf, -np.inf]]).astype(np.float32)
    got = _core.vn_f32_to_f16(x)
    with np.errstate(over="ignore"):
        ref = x.astype(np.float16).view(np.uint16)
    np.testing.assert_array_equal(got, ref)


def test_sentiment_similarity_formula():
    from superinstance.vector_navigator import sentiment_similarity
    assert sentiment_similarity((0.2, 0.3, 0.4), (0.2, 0.3, 0.4)) == pytest.approx(1.0)
    assert sentiment_similarity((-1, 0, 0), (1, 1, 1)) == pytest.approx(0.0, abs=1e-6)
    a, b = (0.5, 0.2, 0.9), (-0.3, 0.7, 0.1)
    ref = 1 - np.sqrt(((0.8 / 2) ** 2 + 0.5 ** 2 + 0.8 ** 2) / 3)
    assert sentiment_similarity(a, b) == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("nq,nr,dim", [(1, 1, 1), (3, 32, 7), (12, 32, 384), (17, 20, 33), (29, 5, 100),
                                       (13, 65, 17), (25, 97, 385)])
def test_panel_kernel_matches_float64_and_flags_queries(level, nq, nr, dim):
    rng = np.random.default_rng(nq + nr + dim)
    q = rng.standard_normal((nq, dim)).astype(np.float32)
    r = rng.standard_normal((nr, dim)).astype(np.float32)
    ref = q.astype(np.float64) @ r.astype(np.float64).T
    # thresholds: half the queries at their best score (flagged), the rest above it (not flagged)
    thr = np.where(np.arange(nq) % 2 == 0, ref.max(axis=1) - 0.1, ref.max(axis=1) + 1.0).astype(np.float32)
    got, flagged, (panel_rows, _) = _core.vn_panel_scores(q, r, thr, level)
    np.testing.assert_allclose(got, ref, atol=1e-4 * np.sqrt(dim), rtol=1e-5)
    padded = nr % panel_rows != 0  # zero rows pad the last panel; they count in the flag
    expect = (ref.max(axis=1) >= thr) | (padded & (thr <= 0))
    np.testing.assert_array_equal(flagged, expect)


@pytest.mark.parametrize("level", LEVELS)
def test_panel_kernel_same_scores_as_scalar(level):
    rng = np.random.default_rng(11)
    q = rng.standard_normal((30, 61)).astype(np.float32)
    r = rng.standard_normal((45, 61)).astype(np.float32)
    thr = np.full(30, -np.inf, dtype=np.float32)
    got, flagged, _ = _core.vn_panel_scores(q, r, thr, level)
    ref, _, _ = _core.vn_panel_scores(q, r, thr, "scalar")
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-5)
    assert flagged.all()


def test_batch_scan_paths_agree(rng=np.random.default_rng(3)):
    # 1 query (row ranges), 5 (tile kernel), 40 and 700 (panel kernel where available)
    from superinstance.vector_navigator import Index
    x = rng.standard_normal((3000, 50)).astype(np.float32)
    q = rng.standard_normal((700, 50)).astype(np.float32)
    ix = Index(50, metric="ip")
    ix.add(x)
    ref = q.astype(np.float64) @ x.astype(np.float64).T
    for nq in (1, 5, 40, 700):
        for threads in (1, 2, 3):
            ids, scores = ix.search(q[:nq], 5, threads=threads)
            np.testing.assert_allclose(scores, -np.sort(-ref[:nq], axis=1)[:, :5], atol=1e-4)
