"""``superinstance bench [timer|search|bandit|gpu|all] [--quick] [--json FILE]``.

One place for the side-by-side comparisons that each component defines. Each
suite is a component's own benchmark module (run it alone for more options);
each prints its table of ratios against the peers that are installed and
names those that are not, with the reason.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

__all__ = ["SUITES", "run"]

# suite -> [(module, full-run arguments, quick-run arguments)]
SUITES: Dict[str, List[Tuple[str, List[str], List[str]]]] = {
    "timer": [("superinstance.bench.realtime_core", ["--seconds", "10"], ["--seconds", "2", "--rates", "1000,100"])],
    "search": [("superinstance.bench.vector_navigator", [],
                ["--n", "20000", "--hnsw-n", "10000", "--repeat", "50", "--batch", "200"])],
    "bandit": [("superinstance.bench.frozen_model_rl", [], ["--quick"]),
               ("superinstance.bench.frozen_model_rl", ["--scenarios"], ["--scenarios", "--quick"])],
    "gpu": [("superinstance.bench.gpu_accelerator", ["--cpu"], ["--cpu", "--quick"]),
            ("superinstance.bench.gpu_accelerator", [], ["--quick"]),
            ("superinstance.bench.dp", [], ["--quick"])],
}


def _gpu_present() -> bool:
    from ..gpu_accelerator import default_backend

    return default_backend() == "cuda"


def run(which: str = "all", quick: bool = False, json_path: Optional[str] = None) -> int:
    names = list(SUITES) if which == "all" else [which]
    results: Dict[str, List[dict]] = {}
    failures = 0
    for name in names:
        for module, full, fast in SUITES[name]:
            args = list(fast if quick else full)
            if module.endswith("gpu_accelerator.bench") and "--cpu" not in args and not _gpu_present():
                from .gpu_accelerator import backend_reason

                print(f"\n== {name}: {module} (GPU part) skipped: {backend_reason()}")
                continue
            print(f"\n== {name}: python -m {module} {' '.join(args)}", flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "r.json")
                t0 = time.perf_counter()
                try:
                    rc = importlib.import_module(module).main(args + ["--json", out])
                except BrokenPipeError:  # nobody reads the tables any more: stop, quietly (cli.main)
                    raise
                except Exception as e:  # one suite's failure must not hide the others
                    print(f"{module} failed: {type(e).__name__}: {e}", file=sys.stderr)
                    rc = 1
                entry = {"module": module, "args": args, "rc": rc, "seconds": round(time.perf_counter() - t0, 1)}
                if os.path.exists(out):
                    with open(out) as f:
                        entry["results"] = json.load(f)
            failures += int(bool(rc))
            results.setdefault(name, []).append(entry)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1, default=str)
        print(f"\nwrote {json_path}")
    return 1 if failures else 0
