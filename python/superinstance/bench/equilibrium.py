"""The loop's own performance: ``python -m superinstance.bench.equilibrium``.

* per-tick cost of all four stages on the CPU with a 100k-vector HNSW index
  (P50/P99 per stage, ``orchestrate`` called back to back);
* the tick paced at the loop's rate: the token step as the loop runs it (after
  a sleep of one period, with the warm-up task and without it) against the
  same step back to back, alternating in one process, medians of repeats;
* rate holding: the timed loop at 5 Hz and 100 Hz; the mean period is the
  median, over the first half of the ticks, of the slope from each tick to the
  tick half a run later (wake-up time against tick index: one stalled wake-up
  moves it by nothing), reported as the error from the target in ppm; every
  deadline must be either run or counted as missed.
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..equilibrium.data import ConversationStream, SimulatedUser
from ..equilibrium.demo import build_default
from ..equilibrium.loop import run_loop, simulated_user_reward
from ..equilibrium.orchestrator import EquilibriumOrchestrator
from ..frozen_model_rl import FeatureExtractor, LinUCB
from .table import row, write_json

__all__ = ["tick_cost", "paced_tick", "rate_hold", "summary", "main"]


def tick_cost(n: int = 100_000, ticks: int = 3000, kind: str = "hnsw", seed: int = 0,
              basin_depths: Sequence[int] = (0,), block: int = 100) -> Dict[str, Any]:
    """Per-stage P50/P99/P999 of ``orchestrate`` back to back. With several
    ``basin_depths`` one orchestrator per depth (each its own policy) runs on
    the same navigator and the same tokens, taking turns every ``block``
    ticks; ``stages_us`` is the first depth's, ``by_basin_depth`` all."""
    t0 = time.perf_counter()
    b = build_default(100.0, per_subtopic=max(1, n // 12), kind=kind, seed=seed, basin_depth=basin_depths[0])
    build_s = time.perf_counter() - t0
    orchs = {basin_depths[0]: b["orchestrator"]}
    for d in basin_depths[1:]:  # the same navigator and head, each its own policy
        features = FeatureExtractor()
        orchs[d] = EquilibriumOrchestrator(100.0, index=b["navigator"], sentiment=b["head"].predict,
                                           policy=LinUCB(b["arms"], features.dim, alpha=0.5, seed=seed),
                                           features=features, basin_depth=d)
    srcs = {d: ConversationStream(b["corpus"], seed=seed + 1) for d in orchs}
    reward = simulated_user_reward(SimulatedUser(seed=seed + 2), b["arms"])
    for start in range(0, ticks, block):
        for d, orch in orchs.items():
            for _ in range(min(block, ticks - start)):
                t = next(srcs[d])
                r = orch.orchestrate(t.embedding, t.features, interrupted=t.interrupted, measured_rate_hz=100.0)
                orch.reward(r.tick, reward(r, t)["reward"])
    by_depth = {str(d): {s: {k: v / 1e3 for k, v in h.summary().items() if k in ("p50", "p99", "p999", "max")}
                         for s, h in orch.stage_stats.items()} for d, orch in orchs.items()}
    return {"vectors": len(b["corpus"]), "index": kind, "ticks": ticks, "build_s": round(build_s, 1),
            "stages_us": by_depth[str(basin_depths[0])], "by_basin_depth": by_depth}


def _p50_p99_us(ns: List[float], cpu_ns: List[float]) -> Dict[str, float]:
    return {"p50": float(np.percentile(ns, 50)) / 1e3, "p99": float(np.percentile(ns, 99)) / 1e3,
            "cpu_p50": float(np.percentile(cpu_ns, 50)) / 1e3, "cpu_p99": float(np.percentile(cpu_ns, 99)) / 1e3}


def paced_tick(rate_hz: float = 20.0, seconds: float = 10.0, repeats: int = 5, per_subtopic: int = 200,
               seed: int = 0, policy: str = "fifo") -> Dict[str, Any]:
    """The token step's work (``timings["total"]``) three ways, alternating, ``repeats`` times:
    ``back_to_back`` (orchestrate in a tight loop, as many steps as a paced run has), ``paced``
    (the loop at ``rate_hz`` with its warm-up task) and ``paced_cold`` (the loop with
    ``warm_lead_ns=0``), the loop's thread asking for scheduling ``policy``. Returns each run's P50/P99
    (us), their medians and the policy the thread got."""
    got = "?"

    b = build_default(rate_hz, per_subtopic=per_subtopic, kind="hnsw", seed=seed)
    orch = b["orchestrator"]
    reward = simulated_user_reward(SimulatedUser(seed=seed + 2), b["arms"])
    runs: Dict[str, List[Dict[str, float]]] = {"back_to_back": [], "paced": [], "paced_cold": []}
    n = max(1, int(seconds * rate_hz))
    for rep in range(repeats):
        src = ConversationStream(b["corpus"], seed=seed + 1 + rep)
        vad = orch.sense_sentiment(next(src).features)
        totals, cpus = [], []
        for _ in range(n):
            t = next(src)
            cpu0 = time.thread_time_ns()
            r = orch.orchestrate(t.embedding, sentiment=vad, interrupted=t.interrupted)
            cpus.append(time.thread_time_ns() - cpu0)
            orch.reward(r.tick, reward(r, t)["reward"])
            totals.append(r.timings["total"])
        runs["back_to_back"].append(_p50_p99_us(totals, cpus))
        for name, no_warm in (("paced", {}), ("paced_cold", {"warm_lead_ns": 0})):
            record = run_loop(orch, seconds, ConversationStream(b["corpus"], seed=seed + 1 + rep), reward,
                              reward_delay=3, policy=policy, **no_warm)
            got = record["timer"]["policy"]
            runs[name].append(_p50_p99_us([row["stages_ns"]["total"] for row in record["ticks"]],
                                          [row["cpu_ns"] for row in record["ticks"]]))
    medians = {name: {q: float(np.median([r[q] for r in rs])) for q in rs[0]} for name, rs in runs.items()}
    return {"rate_hz": rate_hz, "seconds": seconds, "repeats": repeats, "vectors": len(b["corpus"]), "policy": got,
            "steps_per_run": n, "runs_us": runs, "median_us": medians}


def rate_hold(rate_hz: float, seconds: float, n: int = 2400, seed: int = 0) -> Dict[str, Any]:
    b = build_default(rate_hz, per_subtopic=max(1, n // 12), kind="hnsw", seed=seed)
    record = run_loop(b["orchestrator"], seconds, ConversationStream(b["corpus"], seed=seed + 1),
                      simulated_user_reward(SimulatedUser(seed=seed + 2), b["arms"]), reward_delay=2)
    rows = record["ticks"]
    period = record["timer"]["period_ns"]
    deadline = np.array([r["deadline_ns"] for r in rows], dtype=np.float64)
    idx = np.round((deadline - deadline[0]) / period)  # grid index of each token deadline
    woke = np.array([r["woke_ns"] for r in rows], dtype=np.float64)
    half = len(rows) // 2
    slope = float(np.median((woke[half:2 * half] - woke[:half]) / (idx[half:2 * half] - idx[:half])))
    missed = record["timer"]["missed_ticks"]
    deadlines = record["timer"]["deadlines"]  # index of the deadline that ended the run
    return {"rate_hz": rate_hz, "seconds": seconds, "ticks_run": len(rows), "ticks_missed": missed,
            "deadlines": deadlines, "all_accounted": len(rows) + missed == deadlines,
            "mean_period_error_ppm": (slope - period) / period * 1e6,
            "lateness_p50_us": record["timer"]["timer"]["p50_ns"] / 1e3,
            "lateness_p99_us": record["timer"]["timer"]["p99_ns"] / 1e3, "waiter": record["timer"]["waiter"]}


def summary(out: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Summary rows (case, ours, peers, ratio) of :func:`main`'s results; the loop has no peer."""
    rows = []
    if "tick_cost" in out:  # each part only when --parts ran it
        tc = out["tick_cost"]
        rows += [row(f"tick {stage}, {tc['vectors']} vectors ({tc['index']}), P50 / P99",
                     f"{v['p50']:.1f} / {v['p99']:.1f} us") for stage, v in tc["stages_us"].items()]
        rows += [row(f"tick total with basin_depth {d}, P50 / P99",
                     f"{st['total']['p50']:.1f} / {st['total']['p99']:.1f} us")
                 for d, st in list(tc.get("by_basin_depth", {}).items())[1:]]
    if "paced_tick" in out:
        pt = out["paced_tick"]
        rows += [row(f"token step {way.replace('_', ' ')} at {pt['rate_hz']:g} Hz ({pt['policy']}), P50 / P99",
                     f"{m['p50']:.1f} / {m['p99']:.1f} us") for way, m in pt["median_us"].items()]
    rows += [row(f"rate holding at {r['rate_hz']:g} Hz, mean period error", f"{r['mean_period_error_ppm']:+.2f} ppm",
                 f"ticks run {r['ticks_run']}, missed {r['ticks_missed']}") for r in out.get("rate_hold", [])]
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vectors", type=int, default=100_000)
    ap.add_argument("--ticks", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=60.0, help="per rate in the rate-holding test")
    ap.add_argument("--rates", default="5,100")
    ap.add_argument("--parts", default="tick,paced,rate", help="which parts to run (default all three)")
    ap.add_argument("--paced-seconds", type=float, default=None,
                    help="per run of the paced tick at 20 Hz (default: --seconds, at most 10)")
    ap.add_argument("--repeats", type=int, default=5, help="alternating runs of the paced tick")
    ap.add_argument("--policy", default="fifo", choices=("other", "fifo", "rr"),
                    help="scheduling policy the paced loop's thread asks for (default fifo, as the loop's)")
    ap.add_argument("--quick", action="store_true", help="10k vectors, 1000 ticks, 5 s per rate, 3 x 5 s paced")
    ap.add_argument("--basin-depths", default="0",
                    help="tick: EquilibriumOrchestrator basin_depth values to compare "
                         "(0 = the whole index), e.g. 0,1,3")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if a.quick:
        a.vectors, a.ticks, a.seconds, a.paced_seconds, a.repeats = 10_000, 1000, 5.0, 5.0, 3
    out: Dict[str, Any] = {"machine": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if a.paced_seconds is None:
        a.paced_seconds = min(a.seconds, 10.0)
    parts = set(a.parts.split(","))
    unknown = parts - {"tick", "paced", "rate"}
    if unknown:
        ap.error(f"unknown --parts {sorted(unknown)}: use tick, paced, rate")
    if "tick" in parts:
        depths = [int(d) for d in a.basin_depths.split(",")]
        out["tick_cost"] = tc = tick_cost(a.vectors, a.ticks, basin_depths=depths)
        print(f"per-tick cost, {tc['vectors']} vectors ({tc['index']}, built in {tc['build_s']} s), {tc['ticks']} ticks"
              + (f" per basin depth, taking turns every 100 ticks" if len(depths) > 1 else "") + ":")
        print("| basin_depth | stage | P50 us | P99 us | P99.9 us |\n|---|---|---|---|---|")
        for d, stages in tc["by_basin_depth"].items():
            for s, v in stages.items():
                print(f"| {d} | {s} | {v['p50']:.1f} | {v['p99']:.1f} | {v['p999']:.1f} |")
    if "paced" in parts:
        out["paced_tick"] = pt = paced_tick(seconds=a.paced_seconds, repeats=a.repeats, policy=a.policy)
        print(f"\ntoken step at {pt['rate_hz']:g} Hz, {pt['vectors']} vectors, {pt['steps_per_run']} steps per run, "
              f"loop thread policy {pt['policy']}, "
              f"median of {pt['repeats']} alternating runs (each run's P50 / P99):")
        print("| how | P50 us | P99 us | CPU time P50 / P99 us | runs (P50/P99) |\n|---|---|---|---|---|")
        for name, m in pt["median_us"].items():
            each = ", ".join(f"{r['p50']:.0f}/{r['p99']:.0f}" for r in pt["runs_us"][name])
            print(f"| {name} | {m['p50']:.0f} | {m['p99']:.0f} | {m['cpu_p50']:.0f} / {m['cpu_p99']:.0f} | {each} |")
    if "rate" in parts:
        out["rate_hold"] = []
        print("\n| rate | seconds | ticks run | missed | all accounted | mean period error | lateness P50 / P99 (us) |")
        print("|---|---|---|---|---|---|---|")
        for rate in (float(r) for r in a.rates.split(",")):
            r = rate_hold(rate, a.seconds)
            out["rate_hold"].append(r)
            print(f"| {rate:g} Hz | {a.seconds:g} | {r['ticks_run']} | {r['ticks_missed']} | {r['all_accounted']} | "
                  f"{r['mean_period_error_ppm']:+.2f} ppm | {r['lateness_p50_us']:.0f} / {r['lateness_p99_us']:.0f} |")
    write_json(a.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
