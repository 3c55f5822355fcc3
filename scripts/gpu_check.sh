#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build the CUDA module, run the GPU tests of
# gpu_accelerator, run the GPU benchmarks; print a short table last and write
# JSON (default gpu_check.json, or $1). Meant to finish in under 5 minutes.
#   scripts/gpu_check.sh [out.json]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu_check.json}
py=${PYTHON:-python3}
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

echo "== build (SUPERINSTANCE_CUDA=ON)"
scripts/dev_build.sh -DSUPERINSTANCE_CUDA=ON
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
"$py" -c 'import superinstance.gpu_accelerator as g; print("backend:", g.default_backend(), "-", g.backend_reason())'

echo "== tests (gpu_accelerator; the @pytest.mark.gpu ones need the device)"
set +e
"$py" -m pytest -q -p no:cacheprovider tests/gpu_accelerator -rs 2>&1 | tail -25
tests_rc=${PIPESTATUS[0]}
set -e

echo "== GPU benchmarks"
table=$(mktemp)
"$py" -m superinstance.bench.gpu_accelerator --json "$out" > "$table"
echo "tests: $([ "$tests_rc" = 0 ] && echo passed || echo "FAILED (rc $tests_rc)"); JSON: $out"
cat "$table"
rm -f "$table"
exit "$tests_rc"
