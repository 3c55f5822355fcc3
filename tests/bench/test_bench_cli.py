"""`superinstance bench`: readable aligned tables on stdout, raw results in the --json file."""

import json
import re
import subprocess
import sys

import pytest

from superinstance import bench
from superinstance.bench.table import COLUMNS, best_peer_ratio, format_rows, row
from superinstance.cli import main

COMPONENTS = ["realtime_core", "vector_navigator", "frozen_model_rl", "gpu_accelerator", "dp", "dp_gpu",
              "equilibrium"]


def _column_starts(rule):
    return [m.start() for m in re.finditer(r"-+", rule)]


def _check_aligned(lines):
    """The header names the four columns, the rule under it marks their widths, and every
    data line starts its cells exactly at the rule's column starts (text columns on the left)."""
    header, rule, data = lines[0], lines[1], lines[2:]
    starts = _column_starts(rule)
    assert len(starts) == len(COLUMNS)
    assert [header[s:].split()[0] for s in starts] == list(COLUMNS)
    for line in data:
        for s in starts[1:3]:
            assert line[s - 2:s] == "  " and line[s] != " ", (line, s)
        assert line.rstrip().endswith(("x", "-"))


def test_format_rows_aligns_the_columns_and_marks_a_missing_ratio():
    rows = [row("a long case name", "1.00 us", "numpy 2.00 us", 2.0), row("b", "12345.0 QPS", "", None)]
    lines = format_rows(rows, "title").splitlines()
    assert lines[0] == "title"
    _check_aligned(lines[1:])
    assert lines[-1].split()[-1] == "-" and lines[-2].split()[-1] == "2.00x"
    assert "-  " in lines[-1]  # the empty peers cell shows "-"


@pytest.mark.parametrize("ours, peers, lower, expected", [
    (2.0, {"numpy": 10.0, "torch": 4.0}, True, 2.0),     # times: best (smallest) peer / ours
    (2.0, {"numpy": None, "vw": 1.0}, True, 0.5),        # an unavailable peer is left out
    (300.0, {"faiss": 100.0, "hnswlib": 150.0}, False, 2.0),  # rates: ours / best (largest) peer
    (2.0, {"numpy": None}, True, None),                  # no peer measured: no ratio
    (0.0, {"numpy": 1.0}, True, None),
])
def test_best_peer_ratio(ours, peers, lower, expected):
    got = best_peer_ratio(ours, peers, lower)
    assert got == (None if expected is None else pytest.approx(expected))


def test_bench_quick_prints_tables_only_and_writes_the_raw_results(tmp_path, monkeypatch, capsys):
    # The cheapest real suite: the CPU twin against numpy with --quick (a few seconds; torch
    # left out: importing it alone takes seconds).
    from superinstance.bench import gpu_accelerator

    monkeypatch.setattr(gpu_accelerator, "torch_module", lambda: None)
    monkeypatch.setitem(bench.SUITES, "gpu", [("superinstance.bench.gpu_accelerator", ["--cpu"], ["--cpu", "--quick"])])
    out = tmp_path / "bench.json"
    assert main(["bench", "gpu", "--quick", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [ln for ln in lines if ln.lstrip().startswith(("{", "}", "[", "]", '"'))], "raw JSON on stdout"
    assert lines[1] == "== gpu: python -m superinstance.bench.gpu_accelerator --cpu --quick"
    title = next(i for i, ln in enumerate(lines) if ln.startswith("-- gpu summary"))
    table = lines[title + 1:title + 7]  # header, rule, and the four cases
    _check_aligned(table)
    assert [ln.split("  ")[0] for ln in table[2:]] == ["sentiment head, batch 1 (CPU)", "sentiment head, batch 256 (CPU)",
                                                       "cosine 1 x 10k x 384 (CPU)", "cosine 64 x 10k x 384 (CPU)"]
    assert lines[-1] == f"wrote {out}"

    data = json.loads(out.read_text())
    assert list(data) == ["gpu"]
    (entry,) = data["gpu"]
    assert set(entry) == {"module", "args", "rc", "seconds", "results", "summary"}
    assert entry["module"] == "superinstance.bench.gpu_accelerator" and entry["args"] == ["--cpu", "--quick"]
    assert entry["rc"] == 0 and entry["results"]["rounds"] == 8
    for r, raw in zip(entry["summary"], entry["results"]["results"]):
        assert set(r) == set(COLUMNS)
        med = raw["median_us"]
        best = min(v for k, v in med.items() if k != "superinstance")
        assert r["ratio"] == pytest.approx(best / med["superinstance"])  # the summary's ratio from the raw medians


def test_a_failing_suite_is_reported_and_the_others_still_run(monkeypatch, capsys):
    calls = []

    def broken(argv):
        calls.append("broken")
        raise RuntimeError("boom")

    def fine(argv):
        calls.append("fine")
        with open(argv[argv.index("--json") + 1], "w") as f:
            json.dump({"x": 1}, f)
        return 0

    monkeypatch.setitem(sys.modules, "broken_bench", type(sys)("broken_bench"))
    monkeypatch.setitem(sys.modules, "fine_bench", type(sys)("fine_bench"))
    sys.modules["broken_bench"].main = broken
    sys.modules["fine_bench"].main = fine
    monkeypatch.setitem(bench.SUITES, "timer", [("broken_bench", [], []), ("fine_bench", [], [])])
    assert main(["bench", "timer", "--quick"]) == 1
    assert calls == ["broken", "fine"]
    assert "broken_bench failed: RuntimeError: boom" in capsys.readouterr().err


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_bench_module_runs_as_a_command(component):
    res = subprocess.run([sys.executable, "-m", f"superinstance.bench.{component}", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "--json" in res.stdout


def test_every_suite_names_a_module_with_a_summary():
    import importlib

    for suite, entries in bench.SUITES.items():
        for module, _, _ in entries:
            mod = importlib.import_module(module)
            assert callable(mod.main) and callable(mod.summary), module


# Each module on tiny inputs: its main writes the JSON that its summary turns into rows
# (the path `superinstance bench` takes), so a module whose output and summary drift apart fails here.
TINY = {
    "realtime_core": ["--seconds", "0.25", "--chunk", "0.25", "--rates", "1000", "--no-fifo", "--cpu-dma-latency", "-1"],
    "vector_navigator": ["--n", "2000", "--dim", "32", "--hnsw-n", "1000", "--repeat", "5", "--batch", "20",
                         "--rounds", "1", "--hnsw-nq", "20", "--hnsw-efs", "16,64", "--hnsw-peers", "faiss"],
    "dp": ["--targets", "100", "--parasail-targets", "50", "--repeats", "1", "--length", "64"],
    "equilibrium": ["--vectors", "600", "--ticks", "50", "--seconds", "0.3", "--rates", "20"],
}


@pytest.mark.parametrize("component", sorted(TINY))
def test_each_suite_module_summarises_its_own_results(component, tmp_path, capsys):
    from superinstance.bench.runner import run_module

    entry = run_module(f"superinstance.bench.{component}", TINY[component])
    assert entry["rc"] == 0, capsys.readouterr().err[-2000:]
    assert entry["summary"], "no summary rows"
    for r in entry["summary"]:
        assert set(r) == set(COLUMNS) and r["case"] and r["ours"]
        assert r["ratio"] is None or r["ratio"] > 0
    assert format_rows(entry["summary"]).count("\n") == len(entry["summary"]) + 1


def test_gpu_summary_of_a_full_gpu_result():
    # The GPU part cannot run here; its summary is checked on a canned result of the shape run() returns.
    from superinstance.bench.gpu_accelerator import summary

    r = {"device": {"name": "NVIDIA H100", "compute_capability": [9, 0]},
         "launch": [{"chain": 100, "stream_us_per_kernel": 2.5, "graph_us_per_kernel": 0.5, "graph_launch_us": 2.6}],
         "bandwidth": {"bytes": 256 << 20, "pageable_h2d_gbps": 5.0, "pageable_d2h_gbps": 4.0,
                       "pinned_h2d_gbps": 25.0, "pinned_d2h_gbps": 26.0},
         "sentiment": [{"batch": 1, "eager_us": 30.0, "graph_us": 20.0, "cpu_us": 3.0}]}
    rows = {x["case"]: x for x in summary(r)}
    assert rows["chain of 100 tiny kernels, per kernel"]["ratio"] == pytest.approx(5.0)  # stream / graph
    assert rows["sentiment head batch 1, copies included"]["ratio"] == pytest.approx(3.0 / 20.0)  # the CPU wins
    assert rows["256 MiB H2D copy"]["ratio"] == pytest.approx(5.0)  # pinned / pageable rate
    assert rows["256 MiB D2H copy"]["ratio"] == pytest.approx(6.5)
    assert summary({"skipped": "no GPU"}) == [row("GPU benchmarks", "skipped", "no GPU")]


def test_ope_summary_rows_one_per_estimator():
    from superinstance.bench import frozen_model_rl as fb

    r = fb.ope(n=400, n_arms=4, n_positions=2, repeats=1)
    rows = fb.summary(r)
    assert [x["case"].split(":")[1].split(",")[0].strip() for x in rows] == list(r["estimators"])
    for x, est in zip(rows, r["estimators"].values()):
        assert x["ours"] == f"{est['ours_ms']:.2f} ms"
        assert x["ratio"] == est.get("speedup")  # obp time / ours when obp is installed, else no ratio


def test_sharded_summary_compares_with_one_index():
    from superinstance.bench.vector_navigator import summary

    canned = {"shards": 4, "n": 1000, "dim": 8, "kind": "hnsw", "k": 10, "batch": 100, "recall_sharded": 0.99,
              "recall_single": 0.98, "sharded_p50_ms": 2.0, "single_p50_ms": 0.5, "sharded_batch_qps": 500.0,
              "single_batch_qps": 1000.0}
    rows = summary(canned)
    assert [r["case"].split(": ")[1] for r in rows] == ["recall@10", "single-query P50", "batch of 100"]
    assert rows[1]["ratio"] == pytest.approx(0.25) and rows[2]["ratio"] == pytest.approx(0.5)  # > 1: ours better
    assert rows[0]["ratio"] is None and "0.980" in rows[0]["peers"]
