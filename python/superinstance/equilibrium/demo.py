"""``superinstance demo``: the loop on the built-in data, a live status line,
a summary and a report (HTML with plots, and JSON)."""

from __future__ import annotations

import math
import sys
from typing import Any, Dict, List, Optional, TextIO

import numpy as np

from .data import FEATURE_DIM, SUBTOPIC_MOOD, ConversationStream, SimulatedUser, default_corpus
from .loop import INTERRUPTION_RATE_HZ, SENTIMENT_RATE_HZ, run_loop, simulated_user_reward
from .orchestrator import EquilibriumOrchestrator

__all__ = ["build_default", "run_demo", "simulated_user", "DEFAULT_ARM_VALUES"]

DEFAULT_ARM_VALUES = (0.5, 1.5)  # 2^4 = 16 weight configurations


def build_default(rate_hz: float = 2.0, *, per_subtopic: int = 200, kind: str = "hnsw", seed: int = 0,
                  alpha: float = 0.5, backend: str = "auto", basin_depth: int = 0) -> Dict[str, Any]:
    """The four components on the built-in data, wired into an orchestrator
    (``basin_depth``: EquilibriumOrchestrator's context restriction, 0 = the whole index)."""
    from ..frozen_model_rl import FeatureExtractor, LinUCB, constraint_grid
    from ..gpu_accelerator import SentimentHead
    from ..vector_navigator import Index, Navigator

    corpus = default_corpus(per_subtopic=per_subtopic, seed=seed)
    nav = Navigator(Index(corpus.embeddings.shape[1], metric="cosine", kind=kind))
    paths = np.array(["/".join(p) for p in corpus.paths])
    for path in corpus.basins:
        nav.create_basin(path, sentiment=SUBTOPIC_MOOD[path[2]])
        rows = np.flatnonzero(paths == "/".join(path))
        nav.add(path, corpus.embeddings[rows], ids=corpus.ids[rows], sentiment=corpus.vad[rows],
                timestamps=corpus.timestamps[rows])
    arms = constraint_grid(DEFAULT_ARM_VALUES)
    features = FeatureExtractor()
    policy = LinUCB(arms, features.dim, alpha=alpha, seed=seed)
    head = SentimentHead.default(in_features=FEATURE_DIM, backend=backend)
    orch = EquilibriumOrchestrator(rate_hz, index=nav, policy=policy, sentiment=head.predict, features=features,
                                   basin_depth=basin_depth)
    return {"orchestrator": orch, "corpus": corpus, "navigator": nav, "policy": policy, "head": head,
            "arms": arms}


def _status_line(row: Dict[str, Any], arms) -> str:
    a = arms[row["arm"]]
    reward = row.get("reward", float("nan"))
    return (f"tick {row['index']:6d}  rate {row['measured_rate_hz']:8.3f} Hz  late {row['lateness_ns'] / 1e3:8.1f} us  "
            f"conf {row['confidence']:.3f}  w=({a.rate:.1f},{a.context:.1f},{a.sentiment:.1f},{a.interruption:.1f})  "
            f"reward {reward:.2f}")


def _percentile_us(values: List[float], q: float) -> float:
    return float(np.percentile(values, q)) / 1e3 if values else float("nan")


def summarize(record: Dict[str, Any]) -> Dict[str, Any]:
    """The demo's summary. ``tick_paced_*``: the token step's work (its four stages) as the loop ran it,
    paced at its rate (each step after a sleep, caches warmed by the warm task), not back to back;
    ``tick_paced_cpu_*``: the thread's CPU time around the same step (wall time minus what other
    processes took from it on a shared machine)."""
    ticks = record["ticks"]
    n = len(ticks)
    half = n // 2
    exp = np.array([t["expected_reward"] for t in ticks], dtype=np.float64)
    best = np.array([t["best_expected"] for t in ticks], dtype=np.float64)
    rnd = np.array([t["random_expected"] for t in ticks], dtype=np.float64)
    timing = record["timer"]
    total = [t["stages_ns"]["total"] for t in ticks]
    tasks = timing.get("tasks", {})
    s: Dict[str, Any] = {
        "ticks": n, "missed_ticks": timing["missed_ticks"], "waiter": timing.get("waiter", "?"),
        "loop_policy": timing.get("policy", "?"),
        "lateness_p50_us": timing["timer"].get("p50_ns", float("nan")) / 1e3,
        "lateness_p99_us": timing["timer"].get("p99_ns", float("nan")) / 1e3,
        "lateness_max_us": timing["timer"].get("max_ns", float("nan")) / 1e3,
        "tick_paced_p50_us": _percentile_us(total, 50),
        "tick_paced_p99_us": _percentile_us(total, 99),
        "tick_paced_cpu_p50_us": _percentile_us([t["cpu_ns"] for t in ticks], 50),
        "tick_paced_cpu_p99_us": _percentile_us([t["cpu_ns"] for t in ticks], 99),
    }
    for name in ("sentiment", "interruption"):
        t = tasks.get(name)
        if t:
            s[f"{name}_task_calls"] = t["calls"]
            s[f"{name}_task_p99_us"] = (t["runtime_p99_ns"] or float("nan")) / 1e3
    s.update({
        "mean_confidence": float(np.mean([t["confidence"] for t in ticks])) if n else float("nan"),
        "mean_reward": float(np.nanmean([t["reward"] for t in ticks])) if n else float("nan"),
        "regret_total": float(np.sum(best - exp)) if n else float("nan"),
        "random_regret_total": float(np.sum(best - rnd)) if n else float("nan"),
        "regret_per_tick_second_half": float(np.mean((best - exp)[half:])) if n > 1 else float("nan"),
        "random_regret_per_tick": float(np.mean(best - rnd)) if n else float("nan"),
    })
    for name in record.get("objectives", ()):  # a multi-objective user: each objective's observed mean
        s[f"mean_{name}"] = float(np.nanmean([t.get(name, float("nan")) for t in ticks])) if n else float("nan")
    s["errors"] = len(record["errors"])
    return s


def simulated_user(objectives: int, seed: int) -> Any:
    """The demo's simulated user: two objectives (satisfaction, stability; scalarised 0.5 / 0.5) or one
    (satisfaction)."""
    if isinstance(objectives, bool) or objectives not in (1, 2):
        raise ValueError(f"objectives must be 1 or 2, got {objectives!r}")
    if objectives == 1:
        return SimulatedUser(seed=seed)
    from ..frozen_model_rl.simulation import TwoObjectiveUser

    return TwoObjectiveUser(seed=seed)


def _user_words(user: Any) -> str:
    names = tuple(getattr(user, "objectives", ()))
    if not names:
        return "simulated user (one objective, satisfaction)"
    weights = " / ".join(f"{w:g}" for w in user.weights)
    return f"simulated user with a {len(names)}-objective reward ({', '.join(names)}; scalarised {weights})"


def run_demo(seconds: float = 30.0, rate_hz: float = 20.0, report_dir: Optional[str] = "superinstance-report",
             *, per_subtopic: int = 200, kind: str = "hnsw", reward_delay: int = 3, seed: int = 0,
             out: TextIO = sys.stderr, live: bool = True, objectives: int = 2,
             publish: Optional[str] = None) -> Dict[str, Any]:
    """Runs the loop on the built-in data against a simulated user (``objectives``: 2, satisfaction and
    stability scalarised 0.5 / 0.5, or 1, satisfaction only) and returns the run record with a summary.
    ``publish="name"``: the token task writes the shared rate state block ``name`` (RateState)."""
    user = simulated_user(objectives, seed + 2)
    built = build_default(rate_hz, per_subtopic=per_subtopic, kind=kind, seed=seed)
    orch, arms = built["orchestrator"], built["arms"]
    source = ConversationStream(built["corpus"], seed=seed + 1)
    reward_fn = simulated_user_reward(user, arms)
    tty = live and hasattr(out, "isatty") and out.isatty()
    every = max(1, int(rate_hz // 4))

    def status(row: Dict[str, Any]) -> None:
        if tty:
            out.write("\r" + _status_line(row, arms))
            out.flush()
        elif live and row["index"] % (every * 20) == 0:
            out.write(_status_line(row, arms) + "\n")

    record = run_loop(orch, seconds, source, reward_fn, reward_delay=reward_delay, status=status, publish=publish)
    if tty:
        out.write("\n")
    record["objectives"] = list(getattr(user, "objectives", ()))
    record["arms"] = [{"rate": a.rate, "context": a.context, "sentiment": a.sentiment,
                       "interruption": a.interruption} for a in arms]
    record["summary"] = summarize(record)
    record["stages"] = orch.stage_summary()
    record["config"] = {"seconds": seconds, "rate_hz": rate_hz, "corpus_size": len(built["corpus"]),
                        "index_kind": kind, "reward_delay_ticks": reward_delay, "seed": seed,
                        "sentiment_backend": getattr(built["head"], "backend", "cpu"),
                        "sentiment_rate_hz": SENTIMENT_RATE_HZ, "interruption_rate_hz": INTERRUPTION_RATE_HZ,
                        "objectives": objectives}
    record["description"] = (f"{seconds:g} s of the equilibrium loop at {rate_hz:g} Hz on the built-in corpus "
                             f"({len(built['corpus'])} utterances in 12 basins, {kind} index), "
                             f"sentiment sensed at {SENTIMENT_RATE_HZ:g} Hz and interruptions at "
                             f"{INTERRUPTION_RATE_HZ:g} Hz (tasks on one realtime_core scheduler), "
                             f"LinUCB over {len(arms)} constraint-weight arms, {_user_words(user)}, rewards "
                             f"arriving {reward_delay} ticks late.")
    if report_dir:
        from .report import write_report

        record["paths"] = write_report(record, report_dir)
    return record


def format_summary(record: Dict[str, Any]) -> str:
    lines = ["summary:"]
    for k, v in record["summary"].items():
        lines.append(f"  {k:32s} {v:.4g}" if isinstance(v, float) and math.isfinite(v) else f"  {k:32s} {v}")
    if "paths" in record:
        lines.append(f"report: {record['paths']['html']}  (raw numbers: {record['paths']['json']})")
    return "\n".join(lines)
