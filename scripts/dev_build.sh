#!/usr/bin/env bash
# Incremental developer build without pip: compiles into build/dev and copies
# the extension modules into python/superinstance/, so that
#   PYTHONPATH=python python -m pytest
# tests the working tree. Pass CMake options, e.g. -DSUPERINSTANCE_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v "$py")" "$@" >/dev/null
cmake --build build/dev
cp build/dev/src/_core*.so python/superinstance/
for f in build/dev/src/_cuda*.so; do [ -e "$f" ] && cp "$f" python/superinstance/; done
echo "built into python/superinstance/"
