"""Short GPU benchmark of the DP kernels against our CPU kernels (same process run).

    PYTHONPATH=python python -m superinstance.bench.dp_gpu [--json out.json] [--cpu-only]

Smith-Waterman GCUPS (10,000 and 100,000 random protein targets of length 256
against a 256 query, BLOSUM62, gap open 11 extend 1) for the GPU s32 and s16x2
variants (kernel time from CUDA events, and end to end) and our CPU kernel
(1, 2, 4, ... all threads, with the speed-up over one thread); Floyd-Warshall n=2048 (GPU, our CPU) and n=512 numpy;
DTW (1,024 pairs of length 256) GPU vs CPU; and the per-call time of a DP
launch replayed from a captured CUDA Graph vs the same launch made eagerly on a
stream (Smith-Waterman plan on a small batch: 3 kernels; Floyd-Warshall n=256:
26 kernels), measured in the same run. Prints a table last; --json writes it.
"""
import argparse
import os
import platform
import statistics
import time

import numpy as np

from superinstance.gpu_accelerator import dtw, floyd_warshall, sw_scores
from superinstance._backend import gpu_reason
from superinstance.gpu_accelerator._dp_common import pack_targets

from .table import write_json


def median_time(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def cpu_sw_scaling(add, q, targets, repeats):
    """Our CPU Smith-Waterman at 1, 2, 4, ... all threads, timed round-robin, and the speed-up
    over one thread per round (a dedicated GPU host gives the cores a shared VM cannot)."""
    from superinstance.bench.dp import thread_counts

    counts = thread_counts(os.cpu_count() or 1)
    times = {t: [] for t in counts}
    for t in counts:
        sw_scores(q, targets, backend="cpu", threads=t)  # warm-up
    for _ in range(max(repeats, 3)):
        for t in counts:
            t0 = time.perf_counter()
            sw_scores(q, targets, backend="cpu", threads=t)
            times[t].append(time.perf_counter() - t0)
    cells = len(q) * sum(len(x) for x in targets)
    for t in counts:
        add(f"CPU SW threads={t}, {len(targets)} targets", cells / statistics.median(times[t]) / 1e9, "GCUPS")
    for t in counts[1:]:
        add(f"CPU SW speed-up threads={t} / threads=1 (ideal {t})",
            statistics.median(a / b for a, b in zip(times[1], times[t])), "x")


def graph_vs_eager(add, rng, calls=200, rounds=7):
    """Per-call time, eager launches vs graph replay, for two DP launchers (results checked first)."""
    from superinstance.gpu_accelerator import BLOSUM62, NO_EDGE, DeviceArray, Graph, Stream
    from superinstance.gpu_accelerator import dp_device as dd

    alpha = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)
    q = rng.choice(alpha, 64).tobytes()
    targets = [rng.choice(alpha, 64).tobytes() for _ in range(256)]
    plan = dd.sw_plan(q, [64] * 256, matrix=BLOSUM62)
    dt, ds = DeviceArray.from_host(plan.pack(targets)), DeviceArray((256,), np.int32)
    w = rng.integers(1, 100, (256, 256)).astype(np.int32)
    w[rng.random((256, 256)) > 0.1] = NO_EDGE
    dist = DeviceArray.from_host(w)
    device_synchronize()  # the copies above ran on the legacy stream; the launches below do not wait for it
    cases = [("SW plan 256 x 64 vs 64 (3 kernels)", lambda s: plan.launch(dt, ds, s),
              lambda: (ds.to_host() == sw_scores(q, targets, backend="cpu")).all()),
             ("Floyd-Warshall n=256 (26 kernels)", lambda s: dd.floyd_warshall_device(dist, s),
              lambda: (dist.to_host() == floyd_warshall(w, backend="cpu")).all())]
    with Stream() as s:
        for name, launch, ok in cases:
            g = Graph()
            with g.capture(s):
                launch(s)
            g.instantiate()
            g.upload(s)
            g.launch(s)
            s.synchronize()
            assert ok(), f"graph replay of {name} disagrees with the CPU"
            eager, graph = [], []
            for _ in range(rounds):
                for fn, out in ((lambda: launch(s), eager), (lambda: g.launch(s), graph)):
                    t0 = time.perf_counter()
                    for _ in range(calls):
                        fn()
                    s.synchronize()
                    out.append((time.perf_counter() - t0) / calls * 1e6)
            e, gr = statistics.median(eager), statistics.median(graph)
            add(f"{name}: eager launches", e, "us/call")
            add(f"{name}: graph replay", gr, "us/call")
            add(f"{name}: eager / graph", e / gr, "x")
            g.close()
    for a in (dt, ds, dist):
        a.close()
    plan.close()


def device_synchronize() -> None:
    """Waits for all work on the device, the legacy stream's copies included (needs a GPU)."""
    from superinstance.gpu_accelerator.devices import cuda_module

    cuda_module().device_synchronize()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fw-n", type=int, default=0, help="Floyd-Warshall size (default 2048 with a GPU, else 1024)")
    ap.add_argument("--cpu-only", action="store_true", help="skip GPU rows (for a dry run without a GPU)")
    a = ap.parse_args(argv)
    reason = gpu_reason()
    use_gpu = reason is None and not a.cpu_only
    rows = []
    res = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": platform.processor(),
           "cpus": os.cpu_count(), "gpu_reason": reason, "rows": rows}
    if use_gpu:
        from superinstance import _cuda

        res["gpu"] = [d["name"] for d in _cuda.probe()["devices"]]
    rng = np.random.default_rng(0)
    alpha = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)
    q = rng.choice(alpha, 256).tobytes()
    big = [rng.choice(alpha, 256).tobytes() for _ in range(100_000 if use_gpu else 10_000)]
    cells_per = 256 * 256

    def add(name, value, unit):
        rows.append({"kernel": name, "value": value, "unit": unit})
        print(f"{name:<58} {value:12.2f} {unit}", flush=True)
        write_json(a.json, res)  # after every row, so a run cut short by a time limit keeps its rows

    for n in (10_000, 100_000):
        if n > len(big):
            continue
        targets = big[:n]
        if use_gpu:
            from superinstance import _cuda
            from superinstance.gpu_accelerator import BLOSUM62

            buf, off = pack_targets(targets)
            qa = np.frombuffer(q, np.uint8)
            ref = sw_scores(q, targets[:2000], backend="cpu")
            for prec in ("s32", "s16x2"):
                got, info = _cuda.dp_align_scores(qa, buf, off, BLOSUM62.code_of, BLOSUM62.scores, 11, 1, False, prec)
                assert (got[:2000] == ref).all(), f"GPU {prec} disagrees with the CPU"
                kms = []
                for _ in range(a.repeats):
                    kms.append(_cuda.dp_align_scores(qa, buf, off, BLOSUM62.code_of, BLOSUM62.scores, 11, 1, False, prec)[1]["kernel_ms"])
                add(f"GPU SW {prec} kernel, {n} targets", cells_per * n / (statistics.median(kms) / 1e3) / 1e9, "GCUPS")
                t = median_time(lambda: sw_scores(q, targets, backend="cuda", precision=prec), a.repeats)
                add(f"GPU SW {prec} end to end (Python API), {n} targets", cells_per * n / t / 1e9, "GCUPS")
        if n == 10_000:
            cpu_sw_scaling(add, q, targets, a.repeats)

    # Floyd-Warshall
    from superinstance.gpu_accelerator import NO_EDGE

    fw_n = a.fw_n or (2048 if use_gpu else 1024)
    w = rng.integers(1, 1000, (fw_n, fw_n)).astype(np.int32)
    w[rng.random((fw_n, fw_n)) > 0.05] = NO_EDGE
    t0 = time.perf_counter()
    d_cpu = floyd_warshall(w, backend="cpu", threads=1)
    add(f"CPU Floyd-Warshall n={fw_n} (one thread)", (time.perf_counter() - t0) * 1e3, "ms")
    t0 = time.perf_counter()
    assert (floyd_warshall(w, backend="cpu", threads=0) == d_cpu).all()
    add(f"CPU Floyd-Warshall n={fw_n} (threads=all)", (time.perf_counter() - t0) * 1e3, "ms")
    if use_gpu:
        t = median_time(lambda: floyd_warshall(w, backend="cuda"), a.repeats)
        assert (floyd_warshall(w, backend="cuda") == d_cpu).all(), "GPU Floyd-Warshall disagrees with the CPU"
        add(f"GPU Floyd-Warshall n={fw_n} (end to end)", t * 1e3, "ms")
    try:
        import numba
    except ImportError:
        numba = None
    if numba is not None:
        @numba.njit(cache=False)
        def fw_numba(d):
            n = d.shape[0]
            for k in range(n):
                for i in range(n):
                    dik = d[i, k]
                    for j in range(n):
                        v = dik + d[k, j]
                        if v < d[i, j]:
                            d[i, j] = v
            return d

        @numba.njit(parallel=True, cache=False)
        def dtw_numba(a, b, out):
            for p in numba.prange(a.shape[0]):
                la, lb = a.shape[1], b.shape[1]
                D = np.full((la + 1, lb + 1), np.inf)
                D[0, 0] = 0.0
                for i in range(1, la + 1):
                    for j in range(1, lb + 1):
                        D[i, j] = abs(np.float64(a[p, i - 1]) - np.float64(b[p, j - 1])) + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
                out[p] = D[la, lb]

        wn = w.copy()
        np.fill_diagonal(wn, np.minimum(np.diag(wn), 0))
        fw_numba(wn[:8, :8].copy())  # compile
        t0 = time.perf_counter()
        fw_numba(wn)
        add(f"numba Floyd-Warshall n={fw_n} (one thread)", (time.perf_counter() - t0) * 1e3, "ms")
        wn[wn >= NO_EDGE // 2] = NO_EDGE
        assert (wn == d_cpu).all(), "numba Floyd-Warshall disagrees"
    nn = min(512, fw_n)
    ws = w[:nn, :nn].astype(np.int64)
    ws[ws == NO_EDGE] = 1 << 40
    np.fill_diagonal(ws, np.minimum(np.diag(ws), 0))
    t0 = time.perf_counter()
    for k in range(nn):
        np.minimum(ws, ws[:, k, None] + ws[None, k, :], out=ws)
    add(f"numpy Floyd-Warshall n={nn}", (time.perf_counter() - t0) * 1e3, "ms")

    # DTW
    xa = rng.standard_normal((1024, 256)).astype(np.float32)
    xb = rng.standard_normal((1024, 256)).astype(np.float32)
    t = median_time(lambda: dtw(xa, xb, backend="cpu", threads=0), 2)
    add("CPU DTW 1024 pairs x 256 (all threads)", t * 1e3, "ms")
    if numba is not None:
        out = np.zeros(len(xa))
        dtw_numba(xa[:2], xb[:2], out[:2])
        t = median_time(lambda: dtw_numba(xa, xb, out), 1)
        np.testing.assert_allclose(out, dtw(xa, xb, backend="cpu"), rtol=1e-9)
        add("numba DTW 1024 pairs x 256 (parallel)", t * 1e3, "ms")
    if use_gpu:
        t = median_time(lambda: dtw(xa, xb, backend="cuda"), a.repeats)
        np.testing.assert_allclose(dtw(xa, xb, backend="cuda"), dtw(xa, xb, backend="cpu"), rtol=1e-5)
        add("GPU DTW 1024 pairs x 256 (end to end)", t * 1e3, "ms")
    if use_gpu:
        try:
            graph_vs_eager(add, rng)
        except Exception as e:  # keep the rows above and the table below
            res["errors"] = [f"graph vs eager: {e!r}"]
            print("graph vs eager failed:", repr(e))
            write_json(a.json, res)
    print(f"\n{'kernel':<58} {'value':>12} unit   ({res.get('gpu', ['no GPU'])[0]}, {res['date']})")
    for r in rows:
        print(f"{r['kernel']:<58} {r['value']:12.2f} {r['unit']}")
    if a.json:
        print("wrote", a.json)
    return 1 if res.get("errors") else 0


if __name__ == "__main__":
    raise SystemExit(main())
