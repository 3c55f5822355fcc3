"""Side-by-side GCUPS of our Smith-Waterman scores and parasail's kernels, in one
process run: 10,000 random protein targets of length 256 against a 256 query,
BLOSUM62, gap open 11, extend 1. Prints a table and medians, and the thread
scaling of our kernel (threads = 1, 2, 4, ... all CPUs; speed-up over one thread
per round); --json writes them.

    python -m superinstance.bench.dp [--repeats 5] [--targets 10000] [--quick]

(also run by ``superinstance bench gpu``)

parasail is timed on a subset of the targets (--parasail-targets, default 2000)
to keep the run short; GCUPS are per cell either way. Each parasail kernel is
given a prebuilt query profile (the fastest way to call it for one query).
"""
import argparse
import os
import platform
import statistics
import time

import numpy as np

from superinstance import _core
from superinstance.gpu_accelerator import BLOSUM62, sw_scores
from superinstance.gpu_accelerator._dp_common import pack_targets

from .table import best_peer_ratio, row, write_json

__all__ = ["main", "summary", "thread_counts"]


def thread_counts(cpus: int):
    """1, 2, 4, ... up to the number of CPUs, and the number of CPUs itself."""
    counts, t = [], 1
    while t < cpus:
        counts.append(t)
        t *= 2
    return counts + [cpus]


# Two families of thread-count rows: the Python API end to end (packing the target list and
# encoding it are serial), and the native call on arrays packed once (encoding still serial).
API, PACKED = "sw_scores", "_core.dp_align_scores on pre-packed arrays"


def _threads_row(t: int, family: str = API) -> str:
    return f"superinstance {family} threads={t}"


def _scaling(times, cpu, counts, family, gcells):
    """Per thread count of one family: speed-up over one thread per round (the rounds are
    interleaved, so a round's load hits both alike) as (median, min, max); cores obtained
    (process CPU time / wall time, median); GCUPS per CPU-second. gcells: giga-cells per call."""
    wall = {t: times[_threads_row(t, family)] for t in counts}
    out = {}
    for t in counts:
        r = [a / b for a, b in zip(wall[1], wall[t])]
        cores = statistics.median(c / w for c, w in zip(cpu[_threads_row(t, family)], wall[t]))
        out[t] = {"speedup": statistics.median(r), "range": (min(r), max(r)), "cores": cores,
                  "gcups_per_cpu_second": gcells / statistics.median(cpu[_threads_row(t, family)])}
    return out


def _scaling_table(scaling) -> str:
    rows = ["| kernel family | threads | speed-up over 1 thread, median of rounds (range; ideal = threads) "
            "| cores obtained (CPU time / wall time) | GCUPS per CPU-second |", "|---|---:|---|---:|---:|"]
    for family, sc in scaling.items():
        for t, v in sc.items():
            rows.append(f"| {family} | {t} | {v['speedup']:.2f}x ({v['range'][0]:.2f}-{v['range'][1]:.2f}) | "
                        f"{v['cores']:.2f} | {v['gcups_per_cpu_second']:.2f} |")
    return "\n".join(rows)


def summary(res) -> list:
    """Summary rows (case, ours, peers, ratio) of :func:`main`'s results: our best one-thread
    SIMD level against the parasail kernels, and our kernel's speed-up on all threads."""
    g = res["gcups"]
    ours = {n: v for n, v in g.items() if "simd=" in n and "scalar" not in n}
    if not ours:
        return []
    best = max(ours, key=ours.get)
    peers = {n.split()[1]: v for n, v in g.items() if n.startswith("parasail")}
    top = dict(sorted(peers.items(), key=lambda kv: -kv[1])[:3])
    rows = [row(f"Smith-Waterman {res['length']} x {res['length']}, one thread, GCUPS",
                f"{ours[best]:.2f} ({best.split('simd=')[1].split()[0]})",
                ", ".join(f"{n} {v:.2f}" for n, v in top.items()) or "parasail not installed",
                best_peer_ratio(ours[best], peers, lower_is_better=False))]
    sc = res["scaling"].get(API, {})
    if sc:
        t = max(sc, key=int)
        rows.append(row(f"Smith-Waterman speed-up, threads={t} over 1", f"{sc[t]['speedup']:.2f}x",
                        f"ideal {t}x"))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--parasail-targets", type=int, default=2000)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="1,000 targets, 3 repeats")
    ap.add_argument("--scaling", action="store_true",
                    help="only our kernel at 1, 2, 4, ... all threads (no SIMD levels, no parasail)")
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
    for level in () if a.scaling else ("avx512", "avx2", "scalar"):
        n = a.targets if level != "scalar" else min(a.targets, 500)
        try:
            ref = sw_scores(q, targets[:n], threads=1, simd=level)
        except Exception as e:  # level not on this CPU
            print(f"# skip {level}: {e}")
            continue
        if ours_ref is None:
            ours_ref = ref
        jobs.append((f"superinstance sw_scores simd={level} threads=1", *gcups(lambda n=n, level=level: sw_scores(q, targets[:n], threads=1, simd=level), n)))
    counts = thread_counts(os.cpu_count() or 1)
    for t in counts:
        jobs.append((_threads_row(t), *gcups(lambda t=t: sw_scores(q, targets, threads=t), a.targets)))
    buf, offsets = pack_targets(targets)
    qa = np.frombuffer(q, np.uint8)
    for t in counts:
        jobs.append((_threads_row(t, PACKED), *gcups(
            lambda t=t: _core.dp_align_scores(qa, buf, offsets, BLOSUM62.code_of, BLOSUM62.scores, 11, 1, False,
                                              t, None), a.targets)))
    try:
        import parasail
    except ImportError:
        parasail = None
        print("# parasail not installed: pip install parasail")
    if a.scaling:
        parasail = None
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
            n_check = min(200, len(pt))  # parasail's scores checked against ours on the first targets
            got = [call(t).score for t in pt[:n_check]]
            assert got == ours_ref[:n_check].tolist(), f"{name} disagrees with ours"
            jobs.append((f"parasail {name} threads=1", *gcups(lambda call=call: [call(t) for t in pt], len(pt))))
    times = {name: [] for name, _, _ in jobs}
    cpu = {name: [] for name, _, _ in jobs}  # process CPU seconds (all threads)
    load_before = os.getloadavg()
    for name, fn, _ in jobs:
        fn()  # warm-up
    for _ in range(a.repeats):
        for name, fn, _ in jobs:
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    rows = [(name, cells * n / statistics.median(times[name]) / 1e9) for name, _, n in jobs]
    print(f"# Smith-Waterman, query of {a.length} against targets of {a.length}, BLOSUM62, gaps 11/1")
    print(f"| kernel | GCUPS (median of {a.repeats}) |\n|---|---:|")
    for name, g in rows:
        print(f"| {name} | {g:.2f} |")
    ours = max((g for n, g in rows if "simd=" in n and "scalar" not in n), default=0.0)
    ratios = {n: ours / g for n, g in rows if n.startswith("parasail")}
    if ratios:
        print("\n| peer | GCUPS ours (best one-thread SIMD level) / GCUPS peer (>1: ours faster) |\n|---|---:|")
        for n, r in ratios.items():
            print(f"| {n} | {r:.2f}x |")
    gcells = cells * a.targets / 1e9
    scaling = {fam: _scaling(times, cpu, counts, fam, gcells) for fam in (API, PACKED)}
    print("\n" + _scaling_table(scaling))
    load = [load_before[0], os.getloadavg()[0]]
    print(f"# load average (1 min) before / after: {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} CPUs")
    res = {"ratios": ratios, "scaling": {fam: {str(t): v for t, v in sc.items()} for fam, sc in scaling.items()},
           "load_average_1min": load, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or platform.machine(),
           "cpus": os.cpu_count(), "targets": a.targets, "length": a.length, "gcups": dict(rows)}
    write_json(a.json, res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
