"""Before/after timing of the calls that run the shared SIMD kernels (cpp/common),
for two builds of superinstance._core side by side: flat and HNSW search
(vector_navigator), Smith-Waterman on the CPU backend (gpu_accelerator DP),
LinUCB select + update (frozen_model_rl) and the CPU cosine of gpu_accelerator.

Two builds cannot share one process (pybind11 registers each C++ type once), so
this driver alternates worker processes, base then new, round after round, and
reports per case the median over rounds of each worker's median and of its
best repeat (the best is the steadier figure on a loaded machine); a shared,
noisy machine then hits both builds alike.

    PYTHONPATH=python python scripts/bench_kernels.py --base /path/to/old/_core.so
        [--new python/superinstance/_core...so] [--rounds 7] [--simd avx2] [--only cosine dp]

--simd sets SUPERINSTANCE_SIMD for both workers (default: the best level here).
All calls use one thread, so the numbers measure kernels, not scheduling.
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _median_us(fn, calls, reps=9):
    """[median, best] over reps of the mean time of `calls` calls, in us."""
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter_ns() - t) / calls / 1e3)
    return [statistics.median(times), min(times)]


def _vector_navigator_cases(rng, np):
    from superinstance.vector_navigator import Index

    out = {}
    x = rng.standard_normal((20000, 384)).astype(np.float32)
    q1, q64 = x[7].copy(), rng.standard_normal((64, 384)).astype(np.float32)
    for dtype in ("f32", "f16"):
        ix = Index(384, kind="flat", dtype=dtype)
        ix.add(x)
        out[f"flat {dtype} 20k x 384: search 1 query, k=10"] = _median_us(lambda: ix.search(q1, 10, threads=1), 20)
        out[f"flat {dtype} 20k x 384: search 64 queries, k=10"] = _median_us(lambda: ix.search(q64, 10, threads=1), 2)
    hx = rng.standard_normal((3000, 128)).astype(np.float32)

    def build():
        ix = Index(128, kind="hnsw", M=16, ef_construction=100)
        ix.add(hx, threads=1)
        return ix

    out["hnsw 3k x 128: add (build), 1 thread"] = _median_us(build, 1, reps=3)
    h, hq = build(), hx[11].copy()
    out["hnsw 3k x 128: search 1 query, k=10, ef=64"] = _median_us(lambda: h.search(hq, 10), 300)
    return out


def _dp_cases(rng, np):
    from superinstance.gpu_accelerator import dp

    letters = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", dtype=np.uint8)
    query = letters[rng.integers(0, 20, 250)].tobytes()
    targets = [letters[rng.integers(0, 20, int(n))].tobytes() for n in rng.integers(80, 400, 600)]
    return {
        "smith-waterman 250 x 600 targets (80-400), cpu, 1 thread":
            _median_us(lambda: dp.sw_scores(query, targets, backend="cpu", threads=1), 1),
        "needleman-wunsch 250 x 600 targets (80-400), cpu, 1 thread":
            _median_us(lambda: dp.nw_scores(query, targets, backend="cpu", threads=1), 1),
    }


def _bandit_cases(rng, np):
    from superinstance.frozen_model_rl import LinUCB

    out = {}
    for dim in (16, 64):
        pol = LinUCB(8, dim, alpha=1.0)
        xs = rng.standard_normal((64, dim))
        it = iter(range(10**9))

        def step():
            d = pol.select(xs[next(it) % 64])
            pol.update(d, 0.5)

        out[f"linucb 8 arms x {dim}: select + update"] = _median_us(step, 2000)
    return out


def _cosine_cases(rng, np):
    from superinstance import _core

    out = {}
    k = rng.standard_normal((4096, 384)).astype(np.float32)
    for m in (1, 16):
        q = rng.standard_normal((m, 384)).astype(np.float32)
        out[f"cpu cosine {m} x 4096 x 384, 1 thread"] = _median_us(lambda: _core.cosine_matrix_cpu(q, k, None, 1), 5)
    head = _core.SentimentHeadCpu(*[rng.standard_normal(s).astype(np.float32) * 0.1
                                     for s in ((64, 384), (64,), (3, 64), (3,))])
    feats = rng.standard_normal((256, 384)).astype(np.float32)
    out["cpu sentiment head 256 x 384 -> 64, 1 thread"] = _median_us(lambda: head.forward(feats, None, 1), 20)
    return out


GROUPS = {"vector_navigator": _vector_navigator_cases, "dp": _dp_cases, "bandit": _bandit_cases,
          "cosine": _cosine_cases}


def worker(groups):
    import numpy as np

    rng = np.random.default_rng(0)
    out = {}
    for g in groups:
        out.update(GROUPS[g](rng, np))
    print(json.dumps(out))


def _package_with(so_path, tmp):
    """A copy of python/superinstance whose _core is so_path."""
    dst = Path(tmp) / "superinstance"
    shutil.copytree(ROOT / "python" / "superinstance", dst,
                    ignore=shutil.ignore_patterns("_core*.so", "__pycache__"))
    shutil.copy(so_path, dst / Path(so_path).name)
    return tmp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the old _core*.so")
    ap.add_argument("--new", help="the new _core*.so (default: the one in python/superinstance)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--simd", help="SUPERINSTANCE_SIMD for both builds")
    ap.add_argument("--only", nargs="+", choices=sorted(GROUPS), default=list(GROUPS),
                    help="case groups to run (default: all)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.only)
    new = a.new or glob.glob(str(ROOT / "python" / "superinstance" / "_core*.so"))[0]
    env = dict(os.environ)
    if a.simd:
        env["SUPERINSTANCE_SIMD"] = a.simd
    with tempfile.TemporaryDirectory() as tb, tempfile.TemporaryDirectory() as tn:
        paths = {"base": _package_with(a.base, tb), "new": _package_with(new, tn)}
        runs = {"base": [], "new": []}
        for r in range(a.rounds):
            for name in ("base", "new") if r % 2 == 0 else ("new", "base"):
                res = subprocess.run([sys.executable, __file__, "--worker", "--base", "-", "--only", *a.only], capture_output=True,
                                     text=True, env=dict(env, PYTHONPATH=paths[name]), check=True)
                runs[name].append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    print(f"| case (us per call; median over {a.rounds} alternating runs of each run's median / best rep) "
          "| before | after | after/before | before, best | after, best | after/before, best |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for case in runs["base"][0]:
        b, bb = (statistics.median(run[case][i] for run in runs["base"]) for i in (0, 1))
        n, nb = (statistics.median(run[case][i] for run in runs["new"]) for i in (0, 1))
        print(f"| {case} | {b:,.1f} | {n:,.1f} | {n / b:.3f} | {bb:,.1f} | {nb:,.1f} | {nb / bb:.3f} |")


if __name__ == "__main__":
    main()
