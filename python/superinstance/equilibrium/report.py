"""The demo's report: an HTML page with SVG plots, and the raw numbers as JSON.

Input is the run record that :func:`.loop.run_loop` returns (a dict), plus what run_demo adds:
``ticks`` (one dict per tick: ``index``, ``t_s``, ``lateness_ns``, ``confidence``,
``reward``, ``arm``, ``expected_reward``, ``best_expected``, ``random_expected``,
``stages_ns`` = {stage: ns}), ``arms`` (list of weight dicts), ``summary`` and ``config``.
"""

from __future__ import annotations

import html
import json
import math
import os
from typing import Any, Dict, List

import numpy as np

from . import svgplot

__all__ = ["write_report"]


def charts(record: Dict[str, Any]) -> List[str]:
    ticks = record["ticks"]
    idx = [t["index"] for t in ticks]
    out = [_lateness_chart(record)]
    stages = list(ticks[0]["stages_ns"]) if ticks else []
    p50 = [float(np.percentile([t["stages_ns"][s] / 1e3 for t in ticks], 50)) for s in stages]
    p99 = [float(np.percentile([t["stages_ns"][s] / 1e3 for t in ticks], 99)) for s in stages]
    out.append(svgplot.bar_chart("Per-stage latency", "stage", "microseconds", stages, [("P50", p50), ("P99", p99)]))
    rewards = [t["reward"] for t in ticks]
    window = max(1, len(ticks) // 50)
    smooth = np.convolve(rewards, np.ones(window) / window, mode="valid").tolist() if rewards else []
    out.append(svgplot.line_chart("Confidence and reward", "tick", "value",
                                  [("confidence", idx, [t["confidence"] for t in ticks]),
                                   (f"reward (mean of {window})", idx[window - 1:], smooth)], y_range=(0.0, 1.0)))
    arms = record["arms"]
    counts = np.bincount([t["arm"] for t in ticks], minlength=len(arms)).tolist()
    out.append(svgplot.bar_chart("Arm choices", "arm", "times chosen", [str(i) for i in range(len(arms))],
                                 [("count", counts)]))
    regret = np.cumsum([t["best_expected"] - t["expected_reward"] for t in ticks]).tolist()
    random_regret = np.cumsum([t["best_expected"] - t["random_expected"] for t in ticks]).tolist()
    out.append(svgplot.line_chart("Bandit regret against the simulated optimum", "tick", "cumulative regret",
                                  [("policy", idx, regret), ("uniform random (expected)", idx, random_regret)]))
    return out


def _lateness_chart(record: Dict[str, Any]) -> str:
    """The timer's lateness on a log axis, with the P50 and P99 of the summary marked (the
    timer's own statistics; percentiles of the ticks drawn when the summary has none)."""
    late_us = [t["lateness_ns"] / 1e3 for t in record["ticks"]]
    summary = record.get("summary", {})
    marks = []
    for name, q in (("P50", 50), ("P99", 99)):
        v = summary.get(f"lateness_{name.lower()}_us", float("nan"))
        if not (isinstance(v, (int, float)) and math.isfinite(v)) and late_us:
            v = float(np.percentile(late_us, q))
        marks.append((name, float(v)))
    return svgplot.log_histogram_chart("Timer lateness", "lateness (us)", late_us, marks=marks, unit=" us")


def _table(rows: List[List[Any]]) -> str:
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{cells}</table>"


def write_report(record: Dict[str, Any], directory: str) -> Dict[str, str]:
    """Writes ``report.html`` and ``report.json`` into ``directory``; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    json_path = os.path.join(directory, "report.json")
    html_path = os.path.join(directory, "report.html")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    summary = record.get("summary", {})
    arms = record["arms"]
    arm_rows = [["arm"] + list(arms[0])] + [[i] + [f"{v:.2f}" for v in a.values()] for i, a in enumerate(arms)]
    summary_rows = [[k, f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else v] for k, v in summary.items()]
    body = "\n".join(f'<div class="chart">{svg}</div>' for svg in charts(record))
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>superinstance demo report</title>
<style>body{{font-family:sans-serif;margin:24px;max-width:1340px}} .chart{{display:inline-block;margin:6px}}
table{{border-collapse:collapse;margin:8px 0}} td{{border:1px solid #ccc;padding:2px 8px;font-size:12px}}</style>
</head><body>
<h1>superinstance demo report</h1>
<p>{html.escape(record.get("description", ""))}</p>
<h2>Summary</h2>{_table(summary_rows)}
<h2>Plots</h2>{body}
<h2>Arms (constraint weights)</h2>{_table(arm_rows)}
<p>Raw numbers: <a href="report.json">report.json</a>.</p>
</body></html>
"""
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(page)
    return {"html": html_path, "json": json_path}
