"""Stream-ordered DP launchers on device memory (gpu_accelerator/dp_device.py).

Without a GPU: the launchers' host twins (the same per-thread code, including
the kernels' value checks into a status word) against the CPU backend; every
shape/dtype/size check of the facade and the bindings, which must raise before
any CUDA call (device arrays are described by ``__cuda_array_interface__``
objects with a null pointer, which wrap without touching CUDA). With a GPU
(marker ``gpu``): each kernel captured into a Graph, replayed on new data, and
compared with the CPU backend; device-side value checks raise from the status.
"""

import numpy as np
import pytest

import superinstance
from superinstance.errors import GpuUnavailableError
from superinstance.gpu_accelerator import (
    BLOSUM62,
    NO_EDGE,
    SubstitutionMatrix,
    dtw,
    floyd_warshall,
    nw_scores,
    optimal_path,
    rolling_max,
    rolling_min,
    sw_scores,
)

if not superinstance.capabilities()["cuda_built"]:
    pytest.skip("CUDA module not built", allow_module_level=True)

from superinstance import _cuda  # noqa: E402
from superinstance.gpu_accelerator import dp_device as dd  # noqa: E402
from superinstance._backend import gpu_reason  # noqa: E402

REASON = gpu_reason()
needs_gpu = pytest.mark.skipif(REASON is not None, reason=f"no usable GPU: {REASON}")
no_gpu_only = pytest.mark.skipif(REASON is None, reason="a GPU is usable here (null-pointer launches would run)")
PROTEIN = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)


class FakeDeviceArray:
    """Describes device memory through __cuda_array_interface__ with a null pointer:
    as_device_array wraps it without any CUDA call (no pointer to query)."""

    def __init__(self, shape, dtype):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": np.dtype(dtype).str,
                                         "data": (0, False), "version": 3, "strides": None}


def fake(shape, dtype):
    return FakeDeviceArray(shape, dtype)


def host_plan(query, lengths, glob, matrix=BLOSUM62, go=11, ge=1, precision="auto"):
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    q = np.frombuffer(query, np.uint8)
    return _cuda.DpAlignPlan(q, offsets, matrix.code_of, matrix.scores, go, ge, glob, precision, False)


# ------------------------------------------------------------------ host twins of the launchers
@pytest.mark.parametrize("glob", [False, True])
@pytest.mark.parametrize("precision", ["s32", "s16x2"])
def test_align_plan_host_twin_reused_for_new_targets_matches_cpu(glob, precision):
    """One plan (fixed lengths) runs three different target sets, as a replayed graph would."""
    f = nw_scores if glob else sw_scores
    rng = np.random.default_rng(30 + glob)
    for qlen, (go, ge) in [(0, (11, 1)), (1, (5, 5)), (57, (0, 0)), (300, (11, 1)), (1100, (3, 2))]:
        q = rng.choice(PROTEIN, qlen).tobytes()
        lengths = [int(k) for k in rng.integers(0, 300, 60)] + [0, qlen, 1]
        plan = host_plan(q, lengths, glob, go=go, ge=ge, precision=precision)
        assert plan.n_targets == len(lengths) and plan.target_bytes == sum(lengths)
        assert plan.variant == precision and not plan.on_device
        for _ in range(3):
            targets = [rng.choice(PROTEIN, k).tobytes() for k in lengths]
            got = plan.run_host(np.frombuffer(b"".join(targets) or b"\0", np.uint8))
            np.testing.assert_array_equal(got, f(q, targets, gap_open=go, gap_extend=ge, backend="cpu"),
                                          err_msg=f"qlen={qlen}")


def test_align_plan_host_twin_flags_bytes_outside_the_alphabet():
    plan = host_plan(b"ACDEF", [3, 4], False)
    with pytest.raises(ValueError, match="not in the substitution matrix's alphabet"):
        plan.run_host(np.frombuffer(b"ACDAJCD", np.uint8))  # 'J' is not in BLOSUM62
    with pytest.raises(ValueError, match="at least 7 bytes"):
        plan.run_host(np.frombuffer(b"ACDAC", np.uint8))
    np.testing.assert_array_equal(plan.run_host(np.frombuffer(b"ACDACDE", np.uint8)),
                                  sw_scores(b"ACDEF", [b"ACD", b"ACDE"], backend="cpu"))


def test_align_plan_checks_its_arguments_on_the_host():
    with pytest.raises(ValueError, match="query: byte 'J'"):
        host_plan(b"AJ", [3], False)
    with pytest.raises(ValueError, match="s16x2"):
        S = np.full((4, 4), -60, np.int8)
        np.fill_diagonal(S, 127)
        host_plan(b"A" * 400, [400], False, matrix=SubstitutionMatrix(S, "ACGT"), precision="s16x2")
    big = SubstitutionMatrix(np.eye(65, dtype=np.int8), bytes(range(65, 130)))
    with pytest.raises(ValueError, match="up to 64 letters"):
        host_plan(b"AB", [2], False, matrix=big)
    with pytest.raises(ValueError, match="non-decreasing"):
        _cuda.DpAlignPlan(np.frombuffer(b"A", np.uint8), np.array([0, 3, 2], np.int64), BLOSUM62.code_of,
                          BLOSUM62.scores, 11, 1, False, "auto", False)
    with pytest.raises(ValueError, match="gap penalties"):
        host_plan(b"A", [1], False, go=-1)


def test_misc_host_twins_match_cpu_on_random_cases():
    rng = np.random.default_rng(40)
    for shape in [(1, 1, 1), (3, 1, 9), (17, 6, 1), (25, 9, 40)]:
        cost = rng.integers(-1000, 1000, shape).astype(np.int32)
        t, p = _cuda.dp_optimal_path_i32_host(cost)
        tc, pc = optimal_path(cost, backend="cpu")
        np.testing.assert_array_equal(t, tc)
        np.testing.assert_array_equal(p, pc)
        fc = (cost / 7).astype(np.float32)
        t, p = _cuda.dp_optimal_path_f32_host(fc)
        tc, pc = optimal_path(fc, backend="cpu")
        np.testing.assert_allclose(t, tc, rtol=1e-12)
        np.testing.assert_array_equal(p, pc)
    for n in (1, 2, 31, 32, 33, 64, 70):  # whole and ragged 32 x 32 tiles of the blocked schedule
        w = rng.integers(0, 100, (n, n)).astype(np.int32)
        w[rng.random((n, n)) > 0.15] = NO_EDGE
        np.testing.assert_array_equal(_cuda.dp_floyd_warshall_i32_host(w), floyd_warshall(w, backend="cpu"))
        dag = rng.integers(-50, 50, (n, n)).astype(np.int32)
        dag[np.tril_indices(n)] = NO_EDGE
        np.testing.assert_array_equal(_cuda.dp_floyd_warshall_i32_host(dag), floyd_warshall(dag, backend="cpu"))
    x = rng.integers(-10**6, 10**6, (4, 301)).astype(np.int32)
    xf = (x / 3).astype(np.float32)
    xf[0, 5] = np.inf
    for win in (1, 2, 3, 300, 301):
        np.testing.assert_array_equal(_cuda.dp_rolling_minmax_i32_host(x, win, False), rolling_min(x, win, backend="cpu"))
        np.testing.assert_array_equal(_cuda.dp_rolling_minmax_f32_host(xf, win, True), rolling_max(xf, win, backend="cpu"))
    a = rng.standard_normal((6, 50)).astype(np.float32)
    b = rng.standard_normal((6, 41)).astype(np.float32)
    for band in (-1, 0, 5, 9, 100):
        np.testing.assert_allclose(_cuda.dp_dtw_f32_host(a, b, band),
                                   dtw(a, b, band=None if band < 0 else band, backend="cpu"), rtol=1e-12)


def test_host_twins_report_device_side_value_checks():
    big = np.full((1, 2, 4), 1 << 28, np.int32)  # |cost| * cols = 2**30
    with pytest.raises(ValueError, match=r"accumulates in int32: max\|cost\| \* cols must be < 2\*\*30"):
        _cuda.dp_optimal_path_i32_host(big)
    t, _ = _cuda.dp_optimal_path_i32_host(big - 1)  # just inside the bound
    assert t[0] == 4 * ((1 << 28) - 1)
    nan_cost = np.zeros((2, 3, 3), np.float32)
    nan_cost[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _cuda.dp_optimal_path_f32_host(nan_cost)
    with pytest.raises(ValueError, match="NaN"):
        _cuda.dp_rolling_minmax_f32_host(np.array([[1, np.nan, 2]], np.float32), 2, False)
    with pytest.raises(ValueError, match="infinite"):
        _cuda.dp_dtw_f32_host(np.array([[1, np.inf]], np.float32), np.zeros((1, 2), np.float32), -1)
    w = np.full((3, 3), NO_EDGE, np.int32)
    w[0, 1] = 1 << 28  # (n - 1) * |w| = 2**29
    with pytest.raises(ValueError, match="beyond the no-edge sentinel"):
        _cuda.dp_floyd_warshall_i32_host(w)
    cyc = np.full((3, 3), NO_EDGE, np.int32)
    cyc[0, 1], cyc[1, 2], cyc[2, 0] = 1, -5, 2
    with pytest.raises(ValueError, match="negative cycle"):
        _cuda.dp_floyd_warshall_i32_host(cyc)


def test_status_messages_name_every_bit():
    assert _cuda.dp_status_message(0) == ""
    texts = [_cuda.dp_status_message(1 << k) for k in range(5)]
    assert len(set(texts)) == 5 and all(texts)
    both = _cuda.dp_status_message(1 | 16)
    assert texts[0] in both and texts[4] in both
    assert "unknown status bits 64" in _cuda.dp_status_message(64)


def test_workspace_sizes_and_their_checks():
    # int32 path: 2 * batch * rows int scratch (256-byte aligned), then batch * rows * cols back-pointers
    assert dd.optimal_path_workspace_bytes((10, 7, 5), np.int32) == 768 + 350
    assert dd.optimal_path_workspace_bytes((10, 7, 5), np.float32) == 1280 + 350
    assert dd.optimal_path_workspace_bytes((0, 7, 5), np.int32) == 0
    with pytest.raises(ValueError, match="zero rows"):
        dd.optimal_path_workspace_bytes((1, 0, 5), np.int32)
    with pytest.raises(ValueError, match="zero columns"):
        dd.optimal_path_workspace_bytes((1, 5, 0), np.float32)
    with pytest.raises(ValueError, match="too large"):
        dd.optimal_path_workspace_bytes((1 << 30, 1 << 30, 1 << 30), np.int32)
    with pytest.raises(TypeError, match="int32 or float32"):
        dd.optimal_path_workspace_bytes((1, 2, 3), np.float64)
    assert dd.dtw_workspace_bytes(3, 10) == 2 * 3 * 10 * 8


# ------------------------------------------------------------------ facade checks, before any CUDA call
def test_device_facade_rejects_bad_dtypes_and_shapes():
    ws = fake((4096,), np.uint8)
    cost = fake((2, 3, 4), np.int32)
    with pytest.raises(TypeError, match="int32 or float32"):
        dd.optimal_path_device(fake((2, 3, 4), np.int64), fake((2,), np.int64), fake((2, 4), np.int32), ws)
    with pytest.raises(TypeError, match="total must be a int64"):
        dd.optimal_path_device(cost, fake((2,), np.float64), fake((2, 4), np.int32), ws)
    with pytest.raises(TypeError, match="total must be a float64"):
        dd.optimal_path_device(fake((2, 3, 4), np.float32), fake((2,), np.int64), fake((2, 4), np.int32), ws)
    with pytest.raises(ValueError, match=r"path must have shape \(2, 4\)"):
        dd.optimal_path_device(cost, fake((2,), np.int64), fake((2, 3), np.int32), ws)
    with pytest.raises(ValueError, match="cost must be 3-D"):
        dd.optimal_path_device(fake((3, 4), np.int32), fake((2,), np.int64), fake((2, 4), np.int32), ws)
    with pytest.raises(ValueError, match="workspace has 16 bytes, needs"):
        dd.optimal_path_device(cost, fake((2,), np.int64), fake((2, 4), np.int32), fake((16,), np.uint8))
    with pytest.raises(ValueError, match="zero columns"):
        dd.optimal_path_device(fake((2, 3, 0), np.int32), fake((2,), np.int64), fake((2, 0), np.int32), ws)
    with pytest.raises(ValueError, match="square"):
        dd.floyd_warshall_device(fake((3, 4), np.int32))
    with pytest.raises(TypeError, match="int32"):
        dd.floyd_warshall_device(fake((4, 4), np.int64))
    x = fake((2, 10), np.float32)
    for win in (0, 11):
        with pytest.raises(ValueError, match="window must be in 1..10"):
            dd.rolling_min_device(x, win, fake((2, 10), np.float32))
    with pytest.raises(TypeError, match="window must be an integer"):
        dd.rolling_max_device(x, 2.0, fake((2, 9), np.float32))
    with pytest.raises(TypeError, match="out must be a float32"):
        dd.rolling_max_device(x, 2, fake((2, 9), np.int32))
    with pytest.raises(ValueError, match=r"out must have shape \(2, 9\)"):
        dd.rolling_max_device(x, 2, fake((2, 10), np.float32))
    with pytest.raises(TypeError, match="int32 or float32"):
        dd.rolling_min_device(fake((2, 10), np.float64), 2, fake((2, 9), np.float64))
    a, b = fake((3, 5), np.float32), fake((3, 6), np.float32)
    dws = fake((4096,), np.uint8)
    with pytest.raises(ValueError, match="same batch size"):
        dd.dtw_device(a, fake((2, 6), np.float32), fake((3,), np.float64), dws)
    with pytest.raises(ValueError, match="must not be empty"):
        dd.dtw_device(a, fake((3, 0), np.float32), fake((3,), np.float64), dws)
    with pytest.raises(ValueError, match="band must be"):
        dd.dtw_device(a, b, fake((3,), np.float64), dws, band=-2)
    with pytest.raises(TypeError, match="out must be a float64"):
        dd.dtw_device(a, b, fake((3,), np.float32), dws)
    with pytest.raises(ValueError, match="workspace has 8 bytes"):
        dd.dtw_device(a, b, fake((3,), np.float64), fake((8,), np.uint8))
    with pytest.raises(TypeError, match="status must be a DeviceStatus"):
        dd.floyd_warshall_device(fake((4, 4), np.int32), status=123)
    with pytest.raises(ValueError, match="not CUDA"):
        dd.floyd_warshall_device(np.zeros((4, 4), np.int32))  # a host array


@no_gpu_only
def test_bindings_refuse_null_pointers_and_empty_batches_launch_nothing():
    """Valid shapes reach the binding, which refuses a null pointer for non-empty data;
    an empty batch returns without a launch (so no CUDA call either way, no GPU needed)."""
    ws = fake((4096,), np.uint8)
    with pytest.raises(ValueError, match="null device pointer"):
        dd.optimal_path_device(fake((2, 3, 4), np.int32), fake((2,), np.int64), fake((2, 4), np.int32), ws)
    with pytest.raises(ValueError, match="dist: null device pointer"):
        dd.floyd_warshall_device(fake((4, 4), np.int32))
    with pytest.raises(ValueError, match="null device pointer"):
        dd.rolling_min_device(fake((2, 10), np.int32), 3, fake((2, 8), np.int32))
    with pytest.raises(ValueError, match="null device pointer"):
        dd.dtw_device(fake((3, 5), np.float32), fake((3, 6), np.float32), fake((3,), np.float64), ws)
    dd.optimal_path_device(fake((0, 3, 4), np.float32), fake((0,), np.float64), fake((0, 4), np.int32),
                           fake((0,), np.uint8))
    dd.floyd_warshall_device(fake((0, 0), np.int32))
    dd.rolling_max_device(fake((0, 10), np.float32), 3, fake((0, 8), np.float32))
    dd.dtw_device(fake((0, 5), np.float32), fake((0, 6), np.float32), fake((0,), np.float64), fake((0,), np.uint8))


def test_launchers_refuse_a_misaligned_or_small_workspace_before_launching():
    """Raw binding calls with made-up pointers: the checks throw before anything is launched."""
    with pytest.raises(ValueError, match="8-byte aligned"):
        _cuda.dp_launch_dtw_f32(64, 64, 1, 1, 1, -1, 64, 4, 64, 0, None)
    with pytest.raises(ValueError, match="workspace has 8 bytes, needs 16"):
        _cuda.dp_launch_dtw_f32(64, 64, 1, 1, 1, -1, 64, 64, 8, 0, None)
    need = _cuda.dp_optimal_path_workspace_bytes(False, 2, 3, 4)
    with pytest.raises(ValueError, match=f"needs {need}"):
        _cuda.dp_launch_optimal_path(False, 64, 2, 3, 4, 64, 64, 64, need - 1, 0, None)
    with pytest.raises(ValueError, match=r"rolling window must be in 1..len\(series\)=5, got 6"):
        _cuda.dp_launch_rolling_minmax(True, 64, 1, 5, 6, True, 64, 0, None)
    with pytest.raises(ValueError, match="n must be <= 46340"):
        _cuda.dp_launch_floyd_warshall_i32(64, 50000, 0, None)


def test_align_plan_facade_checks_before_the_device():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        dd.sw_plan("ACD", [])
    with pytest.raises(ValueError, match=">= 0"):
        dd.sw_plan("ACD", [3, -1])
    with pytest.raises(TypeError, match="integers"):
        dd.nw_plan("ACD", [3.0])
    with pytest.raises(ValueError, match="gap_open must be >= 0"):
        dd.sw_plan("ACD", [3], gap_open=-1)
    with pytest.raises(ValueError, match="precision"):
        dd.sw_plan("ACD", [3], precision="s8")
    with pytest.raises(ValueError, match="query: byte 'J'"):
        dd.sw_plan("ACJ", [3])


@no_gpu_only
def test_device_objects_raise_gpu_unavailable_with_the_reason():
    with pytest.raises(GpuUnavailableError, match="no usable GPU"):
        dd.sw_plan("ACD", [3, 4])


# ------------------------------------------------------------------ GPU: capture, replay, compare
def _gpu():
    from superinstance.gpu_accelerator import DeviceArray, Graph, Stream

    return DeviceArray, Graph, Stream


def upload(stream, dev, host):
    dev.copy_from_host(np.ascontiguousarray(host, dtype=dev.dtype), stream)


def download(stream, dev):
    out = np.empty(dev.shape, dev.dtype)
    dev.to_host(out, stream)
    stream.synchronize()
    return out


def captured(stream, launch):
    _, Graph, _ = _gpu()
    g = Graph()
    with g.capture(stream):
        launch()
    g.instantiate()
    return g


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("glob", [False, True])
@pytest.mark.parametrize("precision", ["s32", "s16x2"])
def test_gpu_alignment_plan_in_a_graph_matches_cpu(glob, precision):
    DeviceArray, _, Stream = _gpu()
    f = nw_scores if glob else sw_scores
    rng = np.random.default_rng(50 + glob)
    with Stream() as stream, dd.DeviceStatus() as status:
        for qlen, (go, ge) in [(0, (11, 1)), (40, (5, 5)), (256, (11, 1)), (1000, (3, 2))]:
            q = rng.choice(PROTEIN, qlen).tobytes()
            lengths = [int(k) for k in rng.integers(0, 500, 300)] + [0, qlen]
            with dd.AlignPlan(q, lengths, global_=glob, gap_open=go, gap_extend=ge, precision=precision) as plan:
                targets = DeviceArray((max(sum(lengths), 1),), np.uint8)
                scores = DeviceArray((len(lengths),), np.int32)
                g = captured(stream, lambda: (status.reset(stream), plan.launch(targets, scores, stream, status)))
                for rep in range(3):
                    batch = [rng.choice(PROTEIN, k).tobytes() for k in lengths]
                    upload(stream, targets, plan.pack(batch))
                    g.launch(stream)
                    got = download(stream, scores)
                    status.check(stream)
                    np.testing.assert_array_equal(got, f(q, batch, gap_open=go, gap_extend=ge, backend="cpu"))
                bad = bytearray(plan.pack(batch).tobytes())
                if qlen:  # an empty query reads no residue, so none is checked
                    bad[-1] = ord("J")
                    upload(stream, targets, np.frombuffer(bytes(bad), np.uint8))
                    g.launch(stream)
                    with pytest.raises(ValueError, match="alphabet"):
                        status.check(stream)
                g.close()
                targets.close()
                scores.close()


@pytest.mark.gpu
@needs_gpu
def test_gpu_optimal_path_in_a_graph_matches_cpu():
    DeviceArray, _, Stream = _gpu()
    rng = np.random.default_rng(51)
    shape = (300, 9, 64)
    with Stream() as stream, dd.DeviceStatus() as status:
        for dtype, tot in ((np.int32, np.int64), (np.float32, np.float64)):
            cost = DeviceArray(shape, dtype)
            total, path = DeviceArray((shape[0],), tot), DeviceArray((shape[0], shape[2]), np.int32)
            ws = dd.optimal_path_workspace(shape, dtype)
            g = captured(stream, lambda: (status.reset(stream),
                                          dd.optimal_path_device(cost, total, path, ws, stream, status)))
            for rep in range(3):
                c = rng.integers(-50, 50, shape).astype(dtype) * (dtype(0.37) if dtype == np.float32 else 1)
                upload(stream, cost, c)
                g.launch(stream)
                t_gpu, p_gpu = download(stream, total), download(stream, path)
                status.check(stream)
                t_cpu, p_cpu = optimal_path(c, backend="cpu")
                np.testing.assert_allclose(t_gpu, t_cpu, rtol=1e-12)
                np.testing.assert_array_equal(p_gpu, p_cpu)
            c[7, 3, 5] = (1 << 25) if dtype == np.int32 else np.nan
            upload(stream, cost, c)
            g.launch(stream)
            with pytest.raises(ValueError, match="int32" if dtype == np.int32 else "NaN"):
                status.check(stream)
            for a in (g, cost, total, path, ws):
                a.close()


@pytest.mark.gpu
@needs_gpu
def test_gpu_floyd_warshall_in_a_graph_matches_cpu():
    DeviceArray, _, Stream = _gpu()
    rng = np.random.default_rng(52)
    with Stream() as stream, dd.DeviceStatus() as status:
        for n in (1, 33, 100, 257):
            weights, dist = DeviceArray((n, n), np.int32), DeviceArray((n, n), np.int32)

            def run():
                status.reset(stream)
                dist.copy_from(weights, stream)
                dd.floyd_warshall_device(dist, stream, status)

            g = captured(stream, run)
            for rep in range(2):
                w = rng.integers(-20 if rep else 0, 100, (n, n)).astype(np.int32)
                if rep:
                    w[np.tril_indices(n)] = NO_EDGE  # negative weights, no cycle
                w[rng.random((n, n)) > 0.2] = NO_EDGE
                upload(stream, weights, w)
                g.launch(stream)
                got = download(stream, dist)
                status.check(stream)
                np.testing.assert_array_equal(got, floyd_warshall(w, backend="cpu"))
            if n > 2:
                w = np.full((n, n), NO_EDGE, np.int32)
                w[0, 1], w[1, 2], w[2, 0] = 1, -5, 2
                upload(stream, weights, w)
                g.launch(stream)
                with pytest.raises(ValueError, match="negative cycle"):
                    status.check(stream)
            for a in (g, weights, dist):
                a.close()


@pytest.mark.gpu
@needs_gpu
def test_gpu_rolling_and_dtw_in_graphs_match_cpu():
    DeviceArray, _, Stream = _gpu()
    rng = np.random.default_rng(53)
    with Stream() as stream, dd.DeviceStatus() as status:
        for dtype in (np.int32, np.float32):
            x = DeviceArray((7, 3000), dtype)
            for win in (1, 8, 100):
                lo, hi = DeviceArray((7, 3001 - win), dtype), DeviceArray((7, 3001 - win), dtype)
                g = captured(stream, lambda: (status.reset(stream), dd.rolling_min_device(x, win, lo, stream, status),
                                              dd.rolling_max_device(x, win, hi, stream, status)))
                for rep in range(2):
                    h = rng.integers(-1000, 1000, (7, 3000)).astype(dtype)
                    upload(stream, x, h)
                    g.launch(stream)
                    np.testing.assert_array_equal(download(stream, lo), rolling_min(h, win, backend="cpu"))
                    np.testing.assert_array_equal(download(stream, hi), rolling_max(h, win, backend="cpu"))
                    status.check(stream)
                g.close()
                lo.close()
                hi.close()
            x.close()
        a, b, out = DeviceArray((64, 200), np.float32), DeviceArray((64, 180), np.float32), DeviceArray((64,), np.float64)
        ws = dd.dtw_workspace(64, 180)
        for band in (None, 30):
            g = captured(stream, lambda: (status.reset(stream), dd.dtw_device(a, b, out, ws, band, stream, status)))
            for rep in range(2):
                ha = rng.standard_normal((64, 200)).astype(np.float32)
                hb = rng.standard_normal((64, 180)).astype(np.float32)
                upload(stream, a, ha)
                upload(stream, b, hb)
                g.launch(stream)
                np.testing.assert_allclose(download(stream, out), dtw(ha, hb, band=band, backend="cpu"), rtol=1e-5)
                status.check(stream)
            ha[3, 3] = np.inf
            upload(stream, a, ha)
            g.launch(stream)
            with pytest.raises(ValueError, match="infinite"):
                status.check(stream)
            g.close()


@pytest.mark.gpu
@needs_gpu
def test_gpu_eager_launch_on_a_stream_and_graph_update_in_place():
    """The same launchers outside a graph, and a re-captured launch with other buffers
    applied to the executable graph in place (cudaGraphExecUpdate)."""
    DeviceArray, Graph, Stream = _gpu()
    rng = np.random.default_rng(54)
    h1 = rng.integers(-100, 100, (3, 500)).astype(np.int32)
    h2 = rng.integers(-100, 100, (3, 500)).astype(np.int32)
    with Stream() as stream:
        x1, x2 = DeviceArray(h1.shape, np.int32), DeviceArray(h2.shape, np.int32)
        upload(stream, x1, h1)
        upload(stream, x2, h2)
        out = DeviceArray((3, 491), np.int32)
        dd.rolling_min_device(x1, 10, out, stream)
        np.testing.assert_array_equal(download(stream, out), rolling_min(h1, 10, backend="cpu"))
        g = Graph()
        with g.capture(stream):
            dd.rolling_max_device(x1, 10, out, stream)
        g.instantiate()
        with g.capture(stream):
            dd.rolling_max_device(x2, 10, out, stream)
        assert g.update() == "in_place"
        g.launch(stream)
        np.testing.assert_array_equal(download(stream, out), rolling_max(h2, 10, backend="cpu"))
        for a in (g, x1, x2, out):
            a.close()
