"""scripts/gpu_check.sh and the GPU benchmark module: the parts that need no GPU."""

import importlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import superinstance.gpu_accelerator as ga

bench = importlib.import_module("superinstance.bench.gpu_accelerator")
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"


def test_script_parses():
    if not SCRIPT.exists():
        pytest.skip("source tree not available")
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    text = SCRIPT.read_text()
    assert "SUPERINSTANCE_CUDA=ON" in text and "superinstance.bench.gpu_accelerator --json" in text


def test_bench_skips_cleanly_without_a_gpu(tmp_path, capsys):
    if ga.default_backend() == "cuda":
        pytest.skip("a GPU is usable here; gpu_check.sh runs the benchmarks")
    out = tmp_path / "r.json"
    assert bench.main(["--json", str(out), "--quick"]) == 0
    r = json.loads(out.read_text())
    assert r["skipped"] == ga.backend_reason()
    assert "GPU benchmarks skipped" in capsys.readouterr().out


def test_table_formats_a_full_result():
    r = {"device": {"name": "NVIDIA H100", "compute_capability": [9, 0]},
         "launch": [{"chain": 10, "stream_us_per_kernel": 3.0, "graph_us_per_kernel": 1.0,
                     "graph_launch_us": 2.5},
                    {"chain": 100, "stream_us_per_kernel": 2.5, "graph_us_per_kernel": 0.5,
                     "graph_launch_us": 2.6}],
         "bandwidth": {"bytes": 256 << 20, "pageable_h2d_gbps": 5.0, "pageable_d2h_gbps": 4.0,
                       "pinned_h2d_gbps": 25.0, "pinned_d2h_gbps": 26.0},
         "sentiment": [{"batch": 1, "eager_us": 30.0, "graph_us": 20.0, "cpu_us": 3.0},
                       {"batch": 256, "eager_us": 40.0, "graph_us": 30.0, "cpu_us": 50.0}]}
    t = bench.table(r)
    assert "NVIDIA H100 (sm_90)" in t
    assert "| chain of 100 tiny kernels, us/kernel | 2.50 | 0.50 (graph launch call 2.6 us) | 0.20 |" in t
    assert "| 256 MiB H2D GB/s pageable / pinned | 5.0 | 25.0 | |" in t
    assert "CPU backend 50.0 us" in t


def test_asv_benchmarks_import_and_gpu_classes_skip_cleanly():
    import importlib.util

    path = ROOT / "asv_bench" / "benchmarks" / "bench_gpu_accelerator.py"
    if not path.exists():
        pytest.skip("source tree not available")
    spec = importlib.util.spec_from_file_location("bench_gpu_accelerator_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    s = mod.SentimentHeadCpu()
    for impl in mod.IMPLS:
        s.setup(256, impl)
        s.time_predict(256, impl)
    if ga.default_backend() == "cuda":
        return
    for cls, args in ((mod.GpuLaunchChain, (10,)), (mod.GpuCopyBandwidth, ())):
        with pytest.raises(NotImplementedError, match="no usable GPU"):
            cls().setup(*args)


def test_dp_check_script_parses_and_runs_the_graph_tests_and_benchmark():
    script = ROOT / "scripts" / "gpu_check_dp.sh"
    bench_dp_gpu = ROOT / "python" / "superinstance" / "bench" / "dp_gpu.py"
    if not script.exists() or shutil.which("bash") is None:
        pytest.skip("source tree or bash not available")
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "SUPERINSTANCE_CUDA=ON" in text and 'tests/gpu_accelerator -k "dp"' in text
    assert "superinstance.bench.dp_gpu --json" in text and "timeout" in text
    compile(bench_dp_gpu.read_text(), str(bench_dp_gpu), "exec")
    assert "graph_vs_eager(add, rng)" in bench_dp_gpu.read_text()


def test_asv_dp_graph_replay_skips_cleanly_without_a_gpu():
    import importlib.util

    path = ROOT / "asv_bench" / "benchmarks" / "bench_dp.py"
    if not path.exists():
        pytest.skip("source tree not available")
    if ga.default_backend() == "cuda":
        pytest.skip("a GPU is usable here; the class runs")
    spec = importlib.util.spec_from_file_location("bench_dp_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(NotImplementedError, match="no usable GPU"):
        mod.GpuDpGraphReplay().setup()
