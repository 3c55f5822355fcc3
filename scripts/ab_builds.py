"""A/B of two builds of the package through public calls only: alternating worker processes
(each times flat and HNSW search, Smith-Waterman on the CPU, LinUCB select+update), medians over
rounds of each worker's median.

    python scripts/ab_builds.py ROUNDS BASE_DIR NEW_DIR

BASE_DIR / NEW_DIR: folders holding a built `superinstance` package (python/ after
scripts/dev_build.sh, or a copy of it made before a change)."""
import json, os, statistics, subprocess, sys

CASES = r'''
import json, time, statistics
import numpy as np
from superinstance.vector_navigator import Index
from superinstance.gpu_accelerator import dp
from superinstance.frozen_model_rl import LinUCB
def med(fn, calls, reps=9):
    fn(); ts=[]
    for _ in range(reps):
        t=time.perf_counter_ns()
        for _ in range(calls): fn()
        ts.append((time.perf_counter_ns()-t)/calls/1e3)
    return statistics.median(ts)
rng=np.random.default_rng(0); out={}
x=rng.standard_normal((20000,384)).astype(np.float32); q=x[7].copy()
ix=Index(384, kind="flat"); ix.add(x)
out["flat f32 20k x 384, 1 query k=10 (us)"]=med(lambda: ix.search(q,10,threads=1),30)
hx=rng.standard_normal((20000,128)).astype(np.float32)
h=Index(128, kind="hnsw", M=16, ef_construction=100); h.add(hx)
hq=hx[11].copy()+0.01
out["hnsw 20k x 128, 1 query k=10 ef=64 (us)"]=med(lambda: h.search(hq,10),300)
L=np.frombuffer(b"ARNDCQEGHILKMFPSTWYV",dtype=np.uint8)
qq=L[rng.integers(0,20,250)].tobytes(); tg=[L[rng.integers(0,20,int(n))].tobytes() for n in rng.integers(80,400,600)]
out["smith-waterman 250 x 600 targets, cpu, 1 thread (us)"]=med(lambda: dp.sw_scores(qq,tg,backend="cpu",threads=1),1,5)
pol=LinUCB(8,16,alpha=1.0); xs=rng.standard_normal((64,16)); it=iter(range(10**9))
def step():
    d=pol.select(xs[next(it)%64]); pol.update(d,0.5)
out["linucb 8 arms x 16 select+update (us)"]=med(step,2000)
print(json.dumps(out))
'''
rounds = int(sys.argv[1])
builds = {"base": sys.argv[2], "new": sys.argv[3]}
res = {b: [] for b in builds}
for r in range(rounds):
    order = list(builds) if r % 2 == 0 else list(builds)[::-1]
    for b in order:
        env = dict(os.environ, PYTHONPATH=builds[b])
        p = subprocess.run([sys.executable, "-c", CASES], env=env, capture_output=True, text=True, cwd="/tmp")
        if p.returncode: print(p.stderr[-2000:]); sys.exit(1)
        res[b].append(json.loads(p.stdout))
cases = list(res["new"][0])
print("| case | base | new | new / base |\n|---|---:|---:|---:|")
for c in cases:
    a = statistics.median(x[c] for x in res["base"]); m = statistics.median(x[c] for x in res["new"])
    print(f"| {c} | {a:.2f} | {m:.2f} | {m/a:.3f} |")
