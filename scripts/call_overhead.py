"""Fixed cost of one small call through the public API: a single-query search on a
64 x 16 index (flat and HNSW), the native call alone and through the facade.
Median of 7 rounds of 20,000 calls, in ns. Run it against two builds to compare:
    PYTHONPATH=python python scripts/call_overhead.py
"""
import json
import time

import numpy as np

from superinstance.vector_navigator import Index


def per_call_ns(fn, n=20000, rounds=7):
    times = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        for _ in range(n):
            fn()
        times.append((time.perf_counter_ns() - t) / n)
    return round(sorted(times)[rounds // 2])


def main():
    x = np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32)
    q = x[3].copy()
    out = {}
    for kind in ("flat", "hnsw"):
        ix = Index(16, kind=kind)
        ix.add(x)
        out[f"{kind}: facade search(q, 5)"] = per_call_ns(lambda: ix.search(q, 5))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
