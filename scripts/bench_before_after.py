"""Before/after timing of two builds of superinstance on the same machine:
LinUCB select/update (select_batch / update_batch of 500, per decision) and
Index save/load, each build in its own process, alternating builds round after
round. Each process reports the best of its repeats in CPU time of the calling
thread (time.thread_time: on a shared, overloaded machine wall time mostly
measures the other tenants; CPU time leaves out fsync waits, i.e. it is the
cost of our code); the table gives the median over rounds. Written for #17's
bandit split (docs/benchmarks.md).

    python scripts/bench_before_after.py BEFORE_PYTHONPATH AFTER_PYTHONPATH [--rounds 8]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

WORKER = r'''
import time, sys, json, os, tempfile
import numpy as np
from superinstance import _core
from superinstance.vector_navigator import Index
rng = np.random.default_rng(0)
out = {}
for K, d in ((10, 16), (20, 64)):
    X = rng.normal(size=(4000, d)) / np.sqrt(d)
    b = _core.BanditCore("linucb", K, d, alpha=1.0, seed=1)
    ids = b.select_batch(X[:1000], True)[0]; b.update_batch(ids, X[:1000, 0])
    ts = []; tu = []
    for r in range(25):
        t0 = time.thread_time(); ids = b.select_batch(X[1000:1500], True)[0]; ts.append(time.thread_time() - t0)
        t0 = time.thread_time(); b.update_batch(ids, X[1000:1500, 1]); tu.append(time.thread_time() - t0)
    out[f"select K={K} d={d} us"] = min(ts) / 500 * 1e6
    out[f"update K={K} d={d} us"] = min(tu) / 500 * 1e6
if True:
    tmp = tempfile.mkdtemp()
    for kind, n, dim in (("flat", 40000, 128), ("hnsw", 4000, 64)):
        V = rng.standard_normal((n, dim)).astype(np.float32)
        ix = Index(dim, kind=kind, M=16, ef_construction=32); ix.add(V)
        p = os.path.join(tmp, kind + ".sif")
        s = []; l = []
        for _ in range(9):
            t0 = time.thread_time(); ix._ix.save(p, None); s.append(time.thread_time() - t0)
            t0 = time.thread_time(); _core.VectorIndex.load(p, False, 0).close(); l.append(time.thread_time() - t0)
        out[f"{kind} save ms"] = min(s) * 1e3; out[f"{kind} load ms"] = min(l) * 1e3
        os.remove(p)
print(json.dumps(out))
'''


def run(pythonpath):
    env = dict(os.environ, PYTHONPATH=pythonpath)
    res = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir())  # not the checkout: its python/ would shadow PYTHONPATH
    return json.loads(res.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=8)
    a = ap.parse_args()
    got = {"before": [], "after": []}
    for r in range(a.rounds):
        order = ("before", "after") if r % 2 == 0 else ("after", "before")
        for which in order:
            got[which].append(run(getattr(a, which)))
    keys = list(got["before"][0])
    print(f"{'metric (CPU time, median of rounds)':36s} {'before':>10s} {'after':>10s} {'ratio':>7s}")
    for k in keys:
        b = statistics.median(g[k] for g in got["before"])
        f = statistics.median(g[k] for g in got["after"])
        print(f"{k:36s} {b:10.3f} {f:10.3f} {f / b:7.3f}")


if __name__ == "__main__":
    main()
