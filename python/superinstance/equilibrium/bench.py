"""The loop's own performance: ``python -m superinstance.equilibrium.bench``.

* per-tick cost of all four stages on the CPU with a 100k-vector HNSW index
  (P50/P99 per stage, ``orchestrate`` called back to back);
* rate holding: the timed loop at 5 Hz and 100 Hz; the mean period is the
  median, over the first half of the ticks, of the slope from each tick to the
  tick half a run later (wake-up time against tick index: one stalled wake-up
  moves it by nothing), reported as the error from the target in ppm; every
  deadline must be either run or counted as missed.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any, Dict, List, Optional

import numpy as np

from .data import ConversationStream, SimulatedUser
from .demo import build_default
from .loop import run_loop, simulated_user_reward

__all__ = ["tick_cost", "rate_hold", "main"]


def tick_cost(n: int = 100_000, ticks: int = 3000, kind: str = "hnsw", seed: int = 0) -> Dict[str, Any]:
    t0 = time.perf_counter()
    b = build_default(100.0, per_subtopic=max(1, n // 12), kind=kind, seed=seed)
    build_s = time.perf_counter() - t0
    orch = b["orchestrator"]
    src = ConversationStream(b["corpus"], seed=seed + 1)
    reward = simulated_user_reward(SimulatedUser(seed=seed + 2), b["arms"])
    for _ in range(ticks):
        t = next(src)
        r = orch.orchestrate(t.embedding, t.features, interrupted=t.interrupted, measured_rate_hz=100.0)
        orch.reward(r.tick, reward(r, t)["reward"])
    stages = {s: {k: v / 1e3 for k, v in h.summary().items() if k in ("p50", "p99", "p999", "max")}
              for s, h in orch.stage_stats.items()}
    return {"vectors": len(b["corpus"]), "index": kind, "ticks": ticks, "build_s": round(build_s, 1),
            "stages_us": stages}


def rate_hold(rate_hz: float, seconds: float, n: int = 2400, seed: int = 0) -> Dict[str, Any]:
    b = build_default(rate_hz, per_subtopic=max(1, n // 12), kind="hnsw", seed=seed)
    record = run_loop(b["orchestrator"], seconds, ConversationStream(b["corpus"], seed=seed + 1),
                      simulated_user_reward(SimulatedUser(seed=seed + 2), b["arms"]), reward_delay=2)
    rows = record["ticks"]
    idx = np.array([r["timer_index"] for r in rows], dtype=np.float64)
    woke = np.array([r["woke_ns"] for r in rows], dtype=np.float64)
    half = len(rows) // 2
    slope = float(np.median((woke[half:2 * half] - woke[:half]) / (idx[half:2 * half] - idx[:half])))
    period = record["timer"]["period_ns"]
    missed = record["timer"]["missed_ticks"]
    deadlines = record["timer"]["deadlines"]  # index of the deadline that ended the run
    return {"rate_hz": rate_hz, "seconds": seconds, "ticks_run": len(rows), "ticks_missed": missed,
            "deadlines": deadlines, "all_accounted": len(rows) + missed == deadlines,
            "mean_period_error_ppm": (slope - period) / period * 1e6,
            "lateness_p50_us": record["timer"]["timer"]["p50_ns"] / 1e3,
            "lateness_p99_us": record["timer"]["timer"]["p99_ns"] / 1e3, "backend": record["timer"]["backend"]}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vectors", type=int, default=100_000)
    ap.add_argument("--ticks", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=60.0, help="per rate in the rate-holding test")
    ap.add_argument("--rates", default="5,100")
    ap.add_argument("--quick", action="store_true", help="10k vectors, 1000 ticks, 5 s per rate")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if a.quick:
        a.vectors, a.ticks, a.seconds = 10_000, 1000, 5.0
    out: Dict[str, Any] = {"machine": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out["tick_cost"] = tc = tick_cost(a.vectors, a.ticks)
    print(f"per-tick cost, {tc['vectors']} vectors ({tc['index']}, built in {tc['build_s']} s), {tc['ticks']} ticks:")
    print("| stage | P50 us | P99 us | P99.9 us |\n|---|---|---|---|")
    for s, v in tc["stages_us"].items():
        print(f"| {s} | {v['p50']:.1f} | {v['p99']:.1f} | {v['p999']:.1f} |")
    out["rate_hold"] = []
    print("\n| rate | seconds | ticks run | missed | all accounted | mean period error | lateness P50 / P99 (us) |")
    print("|---|---|---|---|---|---|---|")
    for rate in (float(r) for r in a.rates.split(",")):
        r = rate_hold(rate, a.seconds)
        out["rate_hold"].append(r)
        print(f"| {rate:g} Hz | {a.seconds:g} | {r['ticks_run']} | {r['ticks_missed']} | {r['all_accounted']} | "
              f"{r['mean_period_error_ppm']:+.2f} ppm | {r['lateness_p50_us']:.0f} / {r['lateness_p99_us']:.0f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
