"""Side-by-side GCUPS of our Smith-Waterman scores and parasail's kernels, in one
process run: 10,000 random protein targets of length 256 against a 256 query,
BLOSUM62, gap open 11, extend 1. Prints a table and medians; --json writes them.

    python -m superinstance.gpu_accelerator.bench_dp [--repeats 5] [--targets 10000] [--quick]

(also run by ``superinstance bench gpu``)

parasail is timed on a subset of the targets (--parasail-targets, default 2000)
to keep the run short; GCUPS are per cell either way. Each parasail kernel is
given a prebuilt query profile (the fastest way to call it for one query).
"""
import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

from superinstance.gpu_accelerator import sw_scores

__all__ = ["main"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--parasail-targets", type=int, default=2000)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="1,000 targets, 3 repeats")
    a = ap.parse_args(argv)
    if a.quick:
        a.targets, a.parasail_targets, a.repeats = min(a.targets, 1000), min(a.parasail_targets, 500), 3
    rng = np.random.default_rng(0)
    alpha = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)
    q = rng.choice(alpha, a.length).tobytes()
    targets = [rng.choice(alpha, a.length).tobytes() for _ in range(a.targets)]
    cells = a.length * a.length

    # Kernels are timed round-robin (one call of each per round) so that the
    # load of a shared machine hits them alike; the median of the rounds is kept.
    jobs = []  # (name, fn, n)

    def gcups(fn, n):
        return (fn, n)

    rows = []
    ours_ref = None
    for level in ("avx512", "avx2", "scalar"):
        n = a.targets if level != "scalar" else min(a.targets, 500)
        try:
            ref = sw_scores(q, targets[:n], threads=1, level=level)
        except Exception as e:  # level not on this CPU
            print(f"skip {level}: {e}")
            continue
        if ours_ref is None:
            ours_ref = ref
        jobs.append((f"superinstance sw_scores level={level} threads=1", *gcups(lambda n=n, level=level: sw_scores(q, targets[:n], threads=1, level=level), n)))
    jobs.append((f"superinstance sw_scores threads=all({os.cpu_count()})", *gcups(lambda: sw_scores(q, targets, threads=0), a.targets)))
    try:
        import parasail
    except ImportError:
        parasail = None
        print("parasail not installed: pip install parasail")
    if parasail is not None:
        qs = q.decode()
        pt = [t.decode() for t in targets[: a.parasail_targets]]
        for name in ("sw_scan_profile_16", "sw_striped_profile_16", "sw_striped_profile_sat", "sw_diag_profile_16",
                     "sw_scan_16", "sw_striped_16", "sw_diag_16"):
            f = getattr(parasail, name, None)
            if f is None:
                continue
            if "profile" in name:
                prof = parasail.profile_create_sat(qs, parasail.blosum62) if name.endswith("sat") else \
                    parasail.profile_create_16(qs, parasail.blosum62)
                call = (lambda f, prof: lambda t: f(prof, t, 11, 1))(f, prof)
            else:
                call = (lambda f: lambda t: f(qs, t, 11, 1, parasail.blosum62))(f)
            got = [call(t).score for t in pt[:200]]
            assert got == ours_ref[:200].tolist(), f"{name} disagrees with ours"
            jobs.append((f"parasail {name} threads=1", *gcups(lambda call=call: [call(t) for t in pt], len(pt))))
    times = {name: [] for name, _, _ in jobs}
    for name, fn, _ in jobs:
        fn()  # warm-up
    for _ in range(a.repeats):
        for name, fn, _ in jobs:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    rows = [(name, cells * n / statistics.median(times[name]) / 1e9) for name, _, n in jobs]
    w = max(len(r[0]) for r in rows)
    print(f"{'kernel':<{w}}  GCUPS (median of {a.repeats})")
    for name, g in rows:
        print(f"{name:<{w}}  {g:7.2f}")
    ours = max(g for n, g in rows if "level=" in n and "scalar" not in n)
    ratios = {n: ours / g for n, g in rows if n.startswith("parasail")}
    for n, r in ratios.items():
        print(f"ours(best one-thread level) / {n}: {r:.2f}x")
    res = {"ratios": ratios, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or platform.machine(),
           "cpus": os.cpu_count(), "targets": a.targets, "length": a.length, "gcups": dict(rows)}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
