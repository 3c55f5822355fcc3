#!/usr/bin/env bash
# GPU check of the dynamic-programming kernels, for a machine with a CUDA GPU
# (about 2 minutes with SKIP_BUILD=1; every step is time-limited against one
# deadline, CHECK_SECONDS = 285 by default, so the run ends within 5 minutes
# even when a step hangs): builds with CUDA, runs the DP tests (GPU
# tests included: host-array kernels and every launcher captured into a CUDA
# Graph and replayed; they fail rather than skip if the GPU is not usable),
# then a short benchmark (GCUPS, Floyd-Warshall, DTW, graph replay vs eager
# launches) that writes JSON to ${OUT:-.}/gpu_check_dp.json and prints its table
# last. A failing test does not stop the benchmark; the exit status reports it.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-.}
mkdir -p "$out"
deadline=$((SECONDS + ${CHECK_SECONDS:-285}))
# Seconds for the next step: at most $1, at most what is left before the deadline (at least 5).
left() { local l=$((deadline - SECONDS)); [ "$l" -gt "$1" ] && l=$1; [ "$l" -lt 5 ] && l=5; echo "$l"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
# Needs cmake, ninja, pybind11, nvcc, numpy, pytest (numba, parasail optional).
# SKIP_BUILD=1 uses python/superinstance/_core*.so and _cuda*.so as they are
# (built here with CUDA and carried to the GPU machine; the fastest way).
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
  timeout "$(left 170)" scripts/dev_build.sh -DSUPERINSTANCE_CUDA=ON 2>&1 | tail -3 || { echo "build failed"; exit 2; }
fi
export PYTHONPATH=python
python - <<'PY' || exit 3
from superinstance._backend import gpu_reason
r = gpu_reason()
assert r is None, f"no usable GPU: {r}"
from superinstance import _cuda
print("GPU:", [(d["name"], d["compute_capability"], d["dpx"]) for d in _cuda.probe()["devices"]])
PY
timeout "$(left 110)" python -m pytest -q tests/gpu_accelerator -k "dp" -p no:cacheprovider 2>&1 | tee "$out/gpu_check_dp_tests.txt" | tail -30
tests=${PIPESTATUS[0]}
echo "DP tests exit status: $tests (0 = all passed; 124 = timed out)"
timeout "$(left 150)" python -m superinstance.bench.dp_gpu --json "$out/gpu_check_dp.json"
bench=$?
[ "$tests" = 0 ] && [ "$bench" = 0 ]
