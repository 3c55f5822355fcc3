"""Side-by-side search benchmark against peers, in one process on the same data.

    python -m superinstance.vector_navigator.bench [--n 100000] [--dim 384] [--threads 1]
           [--hnsw-n 50000] [--skip-hnsw] [--json out.json]

Peers are used when importable: numpy, faiss-cpu (IndexFlatIP, IndexHNSWFlat),
hnswlib, usearch. Thread counts are set explicitly for every library (faiss via
omp_set_num_threads, numpy's BLAS via threadpoolctl when installed, else the
OMP/OPENBLAS env vars must be set before start). Data: normalised clustered
float32 vectors with a fixed seed. Prints medians; the lead's
``superinstance bench search`` may call :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from ._index import Index


def make_data(n: int, dim: int, nq: int, seed: int = 42):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(10, n // 1000), dim)).astype(np.float32)
    x = centers[rng.integers(len(centers), size=n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = centers[rng.integers(len(centers), size=nq)] + 0.6 * rng.standard_normal((nq, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.ascontiguousarray(x), np.ascontiguousarray(q)


def latencies(fn: Callable[[np.ndarray], Any], q: np.ndarray, repeat: int) -> np.ndarray:
    fn(q[0])
    out = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(q[i % len(q)])
        out.append(time.perf_counter() - t)
    return np.array(out)


def stats(lat: np.ndarray) -> Dict[str, float]:
    return {"p50_ms": float(np.percentile(lat, 50) * 1e3), "p95_ms": float(np.percentile(lat, 95) * 1e3),
            "p99_ms": float(np.percentile(lat, 99) * 1e3)}


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def recall(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / ref.shape[1] for a, b in zip(got, ref)]))


def _limit_threads(threads: int) -> Optional[Any]:
    try:
        import threadpoolctl

        return threadpoolctl.threadpool_limits(threads)
    except ImportError:
        return None


def memory_bandwidth(threads: int) -> float:
    """Bytes per second of a plain read of a 256 MiB array (numpy sum, 1 thread)."""
    a = np.ones(64 * 1024 * 1024, dtype=np.float32)
    a.sum()
    t = best_of(lambda: a.sum(), 5)
    return a.nbytes / t


def run_flat(n: int, dim: int, k: int, threads: int, nq_batch: int, repeat: int) -> Dict[str, Any]:
    x, q = make_data(n, dim, max(nq_batch, 200))
    res: Dict[str, Any] = {"n": n, "dim": dim, "k": k, "threads": threads, "batch": nq_batch}
    res["mem_read_GBps_numpy_sum"] = memory_bandwidth(threads) / 1e9
    ours = Index(dim, metric="ip", threads=threads)
    ours.add(x)
    single: Dict[str, Any] = {}
    batch: Dict[str, Any] = {}
    lat = latencies(lambda v: ours.search(v, k), q, repeat)
    single["superinstance"] = stats(lat)
    single["superinstance"]["scan_GBps"] = x.nbytes / np.median(lat) / 1e9
    qb = q[:nq_batch]
    t = best_of(lambda: ours.search(qb, k), 3)
    batch["superinstance"] = {"qps": nq_batch / t}
    ref = ours.search(qb, k)[0]

    def np_search(v):
        s = x @ v
        top = np.argpartition(-s, k)[:k]
        return top[np.argsort(-s[top])]

    single["numpy"] = stats(latencies(np_search, q, repeat))
    try:
        import faiss

        faiss.omp_set_num_threads(threads)
        fi = faiss.IndexFlatIP(dim)
        fi.add(x)
        single["faiss_IndexFlatIP"] = stats(latencies(lambda v: fi.search(v[None], k), q, repeat))
        t = best_of(lambda: fi.search(qb, k), 3)
        batch["faiss_IndexFlatIP"] = {"qps": nq_batch / t}
        _, fids = fi.search(qb, k)
        res["agreement_with_faiss"] = recall(ref.astype(np.int64), fids)
    except ImportError:
        res["faiss"] = "not installed"
    try:
        from usearch.index import search as usearch_search

        single["usearch_exact"] = stats(latencies(
            lambda v: usearch_search(x, v, k, metric="ip", exact=True, threads=threads), q, repeat))
        t = best_of(lambda: usearch_search(x, qb, k, metric="ip", exact=True, threads=threads), 3)
        batch["usearch_exact"] = {"qps": nq_batch / t}
    except ImportError:
        pass
    res["single"] = single
    res["batch_qps"] = batch
    return res


def run_hnsw(n: int, dim: int, k: int, threads: int, M: int, efc: int, nq: int) -> Dict[str, Any]:
    x, q = make_data(n, dim, nq, seed=7)
    ref = np.argsort(-(q @ x.T), axis=1)[:, :k]
    res: Dict[str, Any] = {"n": n, "dim": dim, "M": M, "ef_construction": efc, "threads": threads}
    libs: Dict[str, Dict[str, Any]] = {}
    efs = [16, 32, 64, 128, 256]

    def sweep(name, build, set_ef, search_one, search_batch):
        t = time.perf_counter()
        build()
        bt = time.perf_counter() - t
        rows = []
        for ef in efs:
            set_ef(ef)
            got = search_batch(q)
            lat = latencies(search_one, q, len(q))
            rows.append({"ef": ef, "recall": recall(np.asarray(got).astype(np.int64), ref), **stats(lat)})
        libs[name] = {"build_s": bt, "build_vps": n / bt, "sweep": rows}

    ours = Index(dim, metric="ip", kind="hnsw", M=M, ef_construction=efc, threads=threads)
    sweep("superinstance", lambda: ours.add(x, threads=threads), lambda ef: setattr(ours, "ef_search", ef),
          lambda v: ours.search(v, k, threads=1), lambda Q: ours.search(Q, k)[0])
    try:
        import hnswlib

        h = hnswlib.Index(space="ip", dim=dim)

        def hb():
            h.init_index(max_elements=n, M=M, ef_construction=efc, random_seed=1)
            h.set_num_threads(threads)
            h.add_items(x)

        def h1(v):
            return h.knn_query(v[None], k, num_threads=1)

        sweep("hnswlib", hb, h.set_ef, h1, lambda Q: h.knn_query(Q, k)[0])
    except ImportError:
        pass
    try:
        import faiss

        faiss.omp_set_num_threads(threads)
        f = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
        f.hnsw.efConstruction = efc

        def fset(ef):
            f.hnsw.efSearch = ef

        sweep("faiss_IndexHNSWFlat", lambda: f.add(x), fset, lambda v: f.search(v[None], k),
              lambda Q: f.search(Q, k)[1])
    except ImportError:
        pass
    try:
        from usearch.index import Index as UIndex

        u = UIndex(ndim=dim, metric="ip", dtype="f32", connectivity=M, expansion_add=efc)

        def uset(ef):
            u.expansion_search = ef

        sweep("usearch", lambda: u.add(np.arange(n), x, threads=threads), uset,
              lambda v: u.search(v, k, threads=1), lambda Q: u.search(Q, k, threads=threads).keys)
    except ImportError:
        pass
    res["libs"] = libs
    return res


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--hnsw-n", type=int, default=50_000)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=100)
    ap.add_argument("--skip-flat", action="store_true")
    ap.add_argument("--skip-hnsw", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    limiter = _limit_threads(a.threads)
    out: Dict[str, Any] = {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
                           "blas_limited": limiter is not None}
    if not a.skip_flat:
        out["flat"] = run_flat(a.n, a.dim, a.k, a.threads, a.batch, a.repeat)
        print(json.dumps(out["flat"], indent=1), flush=True)
    if not a.skip_hnsw:
        out["hnsw"] = run_hnsw(a.hnsw_n, a.dim, a.k, a.threads, a.M, a.ef_construction, 300)
        print(json.dumps(out["hnsw"], indent=1), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
