"""CUDA twins of the DP kernels.

Without a GPU: the CUDA module still imports; its per-cell DPX code runs on the
host (the *_host functions) and must match the CPU kernels exactly; asking for
the GPU raises GpuUnavailableError with the reason. With a GPU (marker ``gpu``): the
device results must be identical to the CPU (integers) or within 1e-5 (floats).
"""

import numpy as np
import pytest

import superinstance
from superinstance.errors import GpuUnavailableError
from superinstance.gpu_accelerator import (
    BLOSUM62,
    SubstitutionMatrix,
    dtw,
    floyd_warshall,
    nw_scores,
    optimal_path,
    rolling_max,
    rolling_min,
    sw_scores,
)
from superinstance._backend import gpu_reason
from superinstance.gpu_accelerator._dp_common import pack_targets

if not superinstance.capabilities()["cuda_built"]:
    pytest.skip("CUDA module not built", allow_module_level=True)

from superinstance import _cuda  # noqa: E402

REASON = gpu_reason()
needs_gpu = pytest.mark.skipif(REASON is not None, reason=f"no usable GPU: {REASON}")
PROTEIN = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)


def cuda_align(fn, q, targets, glob, matrix=BLOSUM62, go=11, ge=1, precision="auto"):
    buf, off = pack_targets(targets)
    return fn(np.frombuffer(q, np.uint8), buf, off, matrix.code_of, matrix.scores, go, ge, glob, precision)


def random_cases(seed, n_batches=6):
    rng = np.random.default_rng(seed)
    for k in range(n_batches):
        qlen = int(rng.integers(0, 300)) if k else 0
        q = rng.choice(PROTEIN, qlen).tobytes()
        targets = [rng.choice(PROTEIN, int(n)).tobytes() for n in rng.integers(0, 400, 250)]
        targets += [q, q[: qlen // 2], b""]
        gaps = [(11, 1), (5, 5), (0, 0), (3, 2), (20, 1), (1, 7)][k % 6]
        yield q, targets, gaps


# ------------------------------------------------------------------ host twin (always)
@pytest.mark.parametrize("glob", [False, True])
@pytest.mark.parametrize("precision", ["s32", "s16x2", "auto"])
def test_dpx_recurrences_on_host_match_cpu(glob, precision):
    f = nw_scores if glob else sw_scores
    for q, targets, (go, ge) in random_cases(10 + glob):
        ref = f(q, targets, gap_open=go, gap_extend=ge, backend="cpu")
        got, info = cuda_align(_cuda.dp_align_scores_host, q, targets, glob, go=go, ge=ge, precision=precision)
        np.testing.assert_array_equal(got, ref)
        if precision != "auto":
            assert info["variant"] == precision


@pytest.mark.parametrize("qlen", [1, 31, 32, 33, 64, 65, 1024, 1025, 2100])
def test_host_twin_team_sizes_and_multi_pass_queries(qlen):
    """Teams of 1..32 threads per target; queries over 32 x 32 rows take several passes."""
    rng = np.random.default_rng(qlen)
    q = rng.choice(PROTEIN, qlen).tobytes()
    n_targets = 40 if qlen > 1000 else 150
    targets = [rng.choice(PROTEIN, int(n)).tobytes() for n in rng.integers(0, 200, n_targets)] + [q[:150], q[-90:]]
    for glob, f in [(False, sw_scores), (True, nw_scores)]:
        ref = f(q, targets, backend="cpu")
        for precision in ("s32", "s16x2"):
            got, info = cuda_align(_cuda.dp_align_scores_host, q, targets, glob, precision=precision)
            np.testing.assert_array_equal(got, ref, err_msg=f"{precision} glob={glob}")
            assert info["team"] == min(32, 1 << max(0, (qlen - 1) // 32).bit_length())


def test_host_twin_saturating_scores_use_s32():
    S = np.full((4, 4), -60, np.int8)
    np.fill_diagonal(S, 127)
    M = SubstitutionMatrix(S, "ACGT")
    rng = np.random.default_rng(1)
    q = rng.choice(np.frombuffer(b"ACGT", np.uint8), 400).tobytes()
    targets = [q, q[:300], rng.choice(np.frombuffer(b"ACGT", np.uint8), 350).tobytes()]
    for glob, f in [(False, sw_scores), (True, nw_scores)]:
        got, info = cuda_align(_cuda.dp_align_scores_host, q, targets, glob, matrix=M, go=20, ge=3)
        assert info["variant"] == "s32"
        np.testing.assert_array_equal(got, f(q, targets, matrix=M, gap_open=20, gap_extend=3, backend="cpu"))
        assert got[0] == 400 * 127 or glob
        with pytest.raises(ValueError, match="s16x2"):
            cuda_align(_cuda.dp_align_scores_host, q, targets, glob, matrix=M, go=20, ge=3, precision="s16x2")


def test_misc_host_twins_match_cpu():
    rng = np.random.default_rng(2)
    cost = rng.integers(0, 4, (20, 7, 25)).astype(np.int32)
    t_cpu, p_cpu = optimal_path(cost, backend="cpu")
    t, p = _cuda.dp_optimal_path_i32_host(cost)
    np.testing.assert_array_equal(t, t_cpu)
    np.testing.assert_array_equal(p, p_cpu)
    fc = rng.standard_normal((10, 6, 30)).astype(np.float32)
    t_cpu, p_cpu = optimal_path(fc, backend="cpu")
    t, p = _cuda.dp_optimal_path_f32_host(fc)
    np.testing.assert_allclose(t, t_cpu, rtol=1e-12)
    np.testing.assert_array_equal(p, p_cpu)
    w = rng.integers(0, 100, (37, 37)).astype(np.int32)
    w[rng.random((37, 37)) > 0.2] = _cuda_no_edge()
    np.testing.assert_array_equal(_cuda.dp_floyd_warshall_i32_host(w), floyd_warshall(w, backend="cpu"))
    x = rng.integers(-100, 100, (3, 200)).astype(np.int32)
    for win in (1, 2, 5, 64):
        np.testing.assert_array_equal(_cuda.dp_rolling_minmax_i32_host(x, win, False), rolling_min(x, win, backend="cpu"))
        np.testing.assert_array_equal(_cuda.dp_rolling_minmax_i32_host(x, win, True), rolling_max(x, win, backend="cpu"))
        xf = x.astype(np.float32) / 3
        np.testing.assert_array_equal(_cuda.dp_rolling_minmax_f32_host(xf, win, True), rolling_max(xf, win, backend="cpu"))
    a = rng.standard_normal((5, 40)).astype(np.float32)
    b = rng.standard_normal((5, 33)).astype(np.float32)
    for band in (-1, 7):
        np.testing.assert_allclose(_cuda.dp_dtw_f32_host(a, b, band),
                                   dtw(a, b, band=None if band < 0 else band, backend="cpu"), rtol=1e-12)


def _cuda_no_edge():
    from superinstance.gpu_accelerator import NO_EDGE

    return NO_EDGE


# ------------------------------------------------------------------ no GPU: clear errors
@pytest.mark.skipif(REASON is None, reason="a GPU is usable here")
def test_gpu_unavailable_is_raised_with_the_reason():
    with pytest.raises(GpuUnavailableError, match="no GPU is usable") as e:
        sw_scores("ACD", ["ACD"], backend="cuda")
    assert REASON in str(e.value)
    for call in (lambda: cuda_align(_cuda.dp_align_scores, b"ACD", [b"ACD"], False),
                 lambda: _cuda.dp_optimal_path_i32(np.zeros((1, 2, 2), np.int32)),
                 lambda: _cuda.dp_floyd_warshall_i32(np.zeros((2, 2), np.int32)),
                 lambda: _cuda.dp_rolling_minmax_f32(np.zeros((1, 4), np.float32), 2, True),
                 lambda: _cuda.dp_dtw_f32(np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32))):
        with pytest.raises(GpuUnavailableError, match="no usable GPU"):
            call()
    for fn in (lambda b: optimal_path(np.zeros((2, 2), np.int32), backend=b),
               lambda b: floyd_warshall(np.zeros((2, 2), np.int32), backend=b),
               lambda b: rolling_min(np.zeros(4, np.int32), 2, backend=b),
               lambda b: dtw(np.zeros(3), np.zeros(3), backend=b)):
        with pytest.raises(GpuUnavailableError):
            fn("cuda")
        fn("auto")  # falls back to the CPU
    scores, info = sw_scores("ACD", ["ACD"], backend="auto", return_info=True)
    assert info["backend"] == "cpu" and REASON in info["reason"]


# ------------------------------------------------------------------ GPU (when lent)
@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("glob", [False, True])
@pytest.mark.parametrize("precision", ["s32", "s16x2"])
def test_gpu_alignment_identical_to_cpu(glob, precision):
    f = nw_scores if glob else sw_scores
    total = 0
    for q, targets, (go, ge) in random_cases(20 + glob, n_batches=12):
        ref = f(q, targets, gap_open=go, gap_extend=ge, backend="cpu")
        got, info = cuda_align(_cuda.dp_align_scores, q, targets, glob, go=go, ge=ge, precision=precision)
        np.testing.assert_array_equal(got, ref)
        total += len(targets)
    assert total > 2500
    rng = np.random.default_rng(5)
    q = rng.choice(PROTEIN, 1000).tobytes()
    targets = [rng.choice(PROTEIN, int(n)).tobytes() for n in rng.integers(1, 1001, 300)] + [q]
    np.testing.assert_array_equal(f(q, targets, backend="cuda"), f(q, targets, backend="cpu"))


@pytest.mark.gpu
@needs_gpu
def test_gpu_saturating_scores_identical_to_cpu():
    S = np.full((4, 4), -60, np.int8)
    np.fill_diagonal(S, 127)
    M = SubstitutionMatrix(S, "ACGT")
    rng = np.random.default_rng(6)
    dna = np.frombuffer(b"ACGT", np.uint8)
    q = rng.choice(dna, 800).tobytes()
    targets = [q, q[:500]] + [rng.choice(dna, int(n)).tobytes() for n in rng.integers(0, 900, 200)]
    for f in (sw_scores, nw_scores):
        np.testing.assert_array_equal(f(q, targets, matrix=M, gap_open=20, gap_extend=3, backend="cuda"),
                                      f(q, targets, matrix=M, gap_open=20, gap_extend=3, backend="cpu"))


@pytest.mark.gpu
@needs_gpu
def test_gpu_misc_kernels_match_cpu():
    rng = np.random.default_rng(7)
    cost = rng.integers(0, 5, (300, 9, 64)).astype(np.int32)
    for c in (cost, cost.astype(np.float32) * 0.37):
        t_gpu, p_gpu = optimal_path(c, backend="cuda")
        t_cpu, p_cpu = optimal_path(c, backend="cpu")
        np.testing.assert_allclose(t_gpu, t_cpu, rtol=1e-12)
        np.testing.assert_array_equal(p_gpu, p_cpu)
    from superinstance.gpu_accelerator import NO_EDGE

    for n in (1, 31, 33, 100, 257):
        w = rng.integers(0, 100, (n, n)).astype(np.int32)
        w[rng.random((n, n)) > 0.1] = NO_EDGE
        np.testing.assert_array_equal(floyd_warshall(w, backend="cuda"), floyd_warshall(w, backend="cpu"))
        dag = rng.integers(-50, 50, (n, n)).astype(np.int32)  # negative weights, no cycle
        dag[np.tril_indices(n)] = NO_EDGE
        np.testing.assert_array_equal(floyd_warshall(dag, backend="cuda"), floyd_warshall(dag, backend="cpu"))
    x = rng.integers(-1000, 1000, (7, 3000)).astype(np.int32)
    for win in (1, 8, 100):
        np.testing.assert_array_equal(rolling_min(x, win, backend="cuda"), rolling_min(x, win, backend="cpu"))
        np.testing.assert_array_equal(rolling_max(x.astype(np.float32), win, backend="cuda"),
                                      rolling_max(x.astype(np.float32), win, backend="cpu"))
    a = rng.standard_normal((64, 200)).astype(np.float32)
    b = rng.standard_normal((64, 180)).astype(np.float32)
    for band in (None, 30):
        np.testing.assert_allclose(dtw(a, b, band=band, backend="cuda"), dtw(a, b, band=band, backend="cpu"), rtol=1e-5)
