"""``superinstance bench [timer|search|bandit|gpu|loop|all] [--quick] [--json FILE]``.

One place for the side-by-side comparisons that each component defines. Each
suite runs a component's benchmark module (run it alone for more options:
``python -m superinstance.bench.<component> --help``); the module prints its
detailed tables, then the runner prints the suite's summary (aligned columns:
case, ours, peers, ratio; ratio > 1 means ours is better) and, at the end, one
summary of every suite. Peers that are not installed are named with the reason.
Raw results go to a JSON file on request (``--json FILE``), never to stdout.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

from .table import format_rows, write_json

__all__ = ["SUITES", "run", "run_module"]

# suite -> [(module, full-run arguments, quick-run arguments)]
SUITES: Dict[str, List[Tuple[str, List[str], List[str]]]] = {
    "timer": [("superinstance.bench.realtime_core", ["--seconds", "10"], ["--seconds", "2", "--rates", "1000,100"])],
    "search": [("superinstance.bench.vector_navigator", [],
                ["--n", "20000", "--hnsw-n", "10000", "--repeat", "50", "--batch", "200"]),
               ("superinstance.bench.vector_navigator", ["--sharded", "4"],
                ["--sharded", "4", "--n", "20000", "--repeat", "50", "--batch", "200"]),
               ("superinstance.bench.vector_navigator", ["--filtered"],
                ["--filtered", "--filtered-n", "20000", "--filtered-nq", "50", "--filtered-ef-construction", "100"])],
    "bandit": [("superinstance.bench.frozen_model_rl", [], ["--quick"]),
               ("superinstance.bench.frozen_model_rl", ["--scenarios"], ["--scenarios", "--quick"]),
               ("superinstance.bench.frozen_model_rl", ["--ope"], ["--ope", "--quick"])],
    "gpu": [("superinstance.bench.gpu_accelerator", ["--cpu"], ["--cpu", "--quick"]),
            ("superinstance.bench.gpu_accelerator", [], ["--quick"]),
            ("superinstance.bench.dp", [], ["--quick"])],
    "loop": [("superinstance.bench.equilibrium", [], ["--quick"])],
}

SUMMARY_NOTE = "ratio > 1: ours better; best peer time / ours, or our rate / best peer rate"


def _gpu_present() -> bool:
    from ..gpu_accelerator import default_backend

    return default_backend() == "cuda"


def run_module(module: str, args: List[str]) -> Dict[str, Any]:
    """Runs one benchmark module's ``main(args)`` (it prints its own tables) and returns
    ``{"module", "args", "rc", "seconds", "results", "summary"}``: the raw results the module
    wrote and its summary rows (see :mod:`superinstance.bench.table`)."""
    entry: Dict[str, Any] = {"module": module, "args": list(args)}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        t0 = time.perf_counter()
        mod = importlib.import_module(module)
        try:
            entry["rc"] = mod.main(list(args) + ["--json", out])
        except BrokenPipeError:  # nobody reads the tables any more: stop, quietly (cli.main)
            raise
        except Exception as e:  # one suite's failure must not hide the others
            print(f"{module} failed: {type(e).__name__}: {e}", file=sys.stderr)
            entry["rc"] = 1
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        if os.path.exists(out):
            with open(out) as f:
                entry["results"] = json.load(f)
    summary = getattr(mod, "summary", None)
    if entry["rc"] == 0 and "results" in entry and summary is not None:
        entry["summary"] = summary(entry["results"])
    return entry


def _gpu_part_skipped(module: str, args: List[str]) -> bool:
    return module.endswith(".gpu_accelerator") and "--cpu" not in args and not _gpu_present()


def run(which: str = "all", quick: bool = False, json_path: Optional[str] = None) -> int:
    """Runs one suite (or all); returns 0 when every module succeeded, else 1."""
    names = list(SUITES) if which == "all" else [which]
    results: Dict[str, List[dict]] = {}
    all_rows: List[Dict[str, Any]] = []
    failures = 0
    for name in names:
        for module, full, fast in SUITES[name]:
            args = list(fast if quick else full)
            if _gpu_part_skipped(module, args):
                from ..gpu_accelerator import backend_reason

                print(f"\n== {name}: {module} (GPU part) skipped: {backend_reason()}")
                continue
            print(f"\n== {name}: python -m {module} {' '.join(args)}", flush=True)
            entry = run_module(module, args)
            failures += int(bool(entry["rc"]))
            results.setdefault(name, []).append(entry)
            rows = [dict(r, case=f"{name}: {r['case']}") for r in entry.get("summary", [])]
            if rows:
                print("\n" + format_rows(entry["summary"], f"-- {name} summary ({SUMMARY_NOTE})"), flush=True)
                all_rows += rows
    if len(names) > 1 and all_rows:
        print("\n" + format_rows(all_rows, f"== summary of every suite ({SUMMARY_NOTE})"))
    if json_path:
        write_json(json_path, results)
        print(f"\nwrote {json_path}")
    return 1 if failures else 0
