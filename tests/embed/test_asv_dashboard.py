"""scripts/asv_dashboard.sh: the asv suite run on the working tree and
published gives graph data for every benchmark class (those needing a GPU
excepted where there is none: asv records them as skipped).

Slow (the whole suite once with --quick: about 15 minutes on a shared 2-core
machine) and only where asv is installed (the bench extra)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GPU_ONLY = ("bench_gpu_accelerator.Gpu", "bench_dp.GpuDp")


def _gpu_available():
    try:
        from superinstance import _cuda  # noqa: F401
    except ImportError:
        return False
    try:
        from superinstance.gpu_accelerator import devices

        return bool(devices())
    except Exception:
        return False


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_publish_has_graph_data_for_every_benchmark_class(tmp_path):
    pytest.importorskip("asv", reason="asv is in the bench extra")
    if not list((REPO / "python" / "superinstance").glob("_core*.so")):
        pytest.skip("the working tree is not built (scripts/dev_build.sh)")
    env = dict(os.environ, PYTHON=sys.executable, ASV_RESULTS=str(tmp_path / "results"),
               ASV_HTML=str(tmp_path / "html"), ASV_MACHINE="test-machine")
    r = subprocess.run(["bash", str(REPO / "scripts" / "asv_dashboard.sh"), "--current", "--quick"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-5000:]

    benchmarks = json.loads((tmp_path / "results" / "benchmarks.json").read_text())
    classes = {name.rsplit(".", 1)[0] for name in benchmarks if name != "version"}
    assert len(classes) >= 20, sorted(classes)  # every component's module was discovered
    for module in ("bench_common", "bench_realtime_core", "bench_vector_navigator", "bench_frozen_model_rl",
                   "bench_dp", "bench_gpu_accelerator", "bench_equilibrium"):
        assert any(c.startswith(module + ".") for c in classes), module

    with_data = set()
    for graph in (tmp_path / "html" / "graphs").rglob("*.json"):
        if graph.name == "summary.json" or graph.parent.name == "summary":
            continue
        points = json.loads(graph.read_text())
        values = [point[1] for point in points]  # [revision, value (or one per parameter combination), ...]
        flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
        if any(x is not None for x in flat):
            with_data.add(graph.stem.rsplit(".", 1)[0])
    expected = {c for c in classes if _gpu_available() or not c.startswith(GPU_ONLY)}
    missing = sorted(expected - with_data)
    assert not missing, f"no graph data for: {missing}"
    index = json.loads((tmp_path / "html" / "index.json").read_text())
    assert set(index["benchmarks"]) == set(name for name in benchmarks if name != "version")
    for name, info in index["benchmarks"].items():  # parameters carried to the graphs' menus
        assert len(info.get("params", [])) == len(info.get("param_names", [])), name
    assert index["benchmarks"]["bench_vector_navigator.FlatSearch.time_single_query_k10"]["param_names"]
