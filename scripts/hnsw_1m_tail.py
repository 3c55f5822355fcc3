"""Run: python scripts/hnsw_1m_tail.py (about 10 minutes, 6 GB of memory).

1M x 384 tail latency at recall >= 0.95: ours (f32 HNSW, M 16, efc 100, 2 build threads)
and hnswlib, single queries taking turns in blocks of 20, one thread."""
import os, sys, time, json
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from superinstance.vector_navigator import Index
from superinstance.bench.vector_navigator import make_data, exact_topk
import hnswlib
n, dim, k, nq = 1_000_000, 384, 10, 1000
x, q = make_data(n, dim, nq, seed=7)
ref = exact_topk(x, q, k)
t = time.perf_counter(); o = Index(dim, metric="ip", kind="hnsw", M=16, ef_construction=100, threads=2); o.add(x, threads=2); tb_o = time.perf_counter() - t
t = time.perf_counter(); h = hnswlib.Index(space="ip", dim=dim); h.init_index(max_elements=n, M=16, ef_construction=100, random_seed=1); h.set_num_threads(2); h.add_items(x); tb_h = time.perf_counter() - t
out = {"build_s": {"ours": tb_o, "hnswlib": tb_h}, "load_after_build": os.getloadavg()[0]}
for ef in (128, 160):
    o.ef_search = ef; h.set_ef(ef)
    lat = {"ours": [], "hnswlib": []}; got = {"ours": [], "hnswlib": []}
    for b in range(0, nq, 20):
        for name in (("ours", "hnswlib") if (b // 20) % 2 == 0 else ("hnswlib", "ours")):
            for i in range(b, b + 20):
                v = q[i]
                t = time.perf_counter()
                ids = np.asarray(o.search(v[None], k)[0]) if name == "ours" else h.knn_query(v[None], k, num_threads=1)[0]
                lat[name].append(time.perf_counter() - t)
                got[name].append(np.asarray(ids).reshape(-1)[:k].astype(np.int64))
    row = {}
    for name in lat:
        a = np.array(lat[name]) * 1e3
        rec = float(np.mean([len(set(g) & set(r)) / k for g, r in zip(got[name], ref)]))
        row[name] = {"recall": rec, "p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)), "p99_ms": float(np.percentile(a, 99))}
    out[ef] = row
    print(ef, json.dumps(row), flush=True)
out["load_end"] = os.getloadavg()[0]
print(json.dumps(out), flush=True)
