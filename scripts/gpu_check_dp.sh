#!/usr/bin/env bash
# GPU check of the dynamic-programming kernels, for a machine with a CUDA GPU
# (about 2-3 minutes): builds with CUDA, runs the DP tests (GPU tests included,
# they fail rather than skip if the GPU is not usable), then a short benchmark
# that prints a table and writes JSON to ${OUT:-.}/gpu_check_dp.json.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-.}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
# Needs cmake, ninja, pybind11, nvcc, numpy, pytest (numba, parasail optional).
# SKIP_BUILD=1 uses python/superinstance/_core*.so and _cuda*.so as they are
# (e.g. built here with CUDA and carried to the GPU machine).
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
  scripts/dev_build.sh -DSUPERINSTANCE_CUDA=ON 2>&1 | tail -3
fi
export PYTHONPATH=python
python - <<'PY'
from superinstance.gpu_accelerator._dp_common import gpu_reason
r = gpu_reason()
assert r is None, f"no usable GPU: {r}"
from superinstance import _cuda
print("GPU:", [(d["name"], d["compute_capability"], d["dpx"]) for d in _cuda.probe()["devices"]])
PY
python -m pytest -q tests/gpu_accelerator -k "dp" -p no:cacheprovider 2>&1 | tail -30
python scripts/bench_dp_gpu.py --json "$out/gpu_check_dp.json"
