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
# Copy, then rename over the old module: a process that has the old one
# loaded (a benchmark running beside the build) keeps its file; copying onto
# it in place would truncate a mapped file and kill that process (SIGBUS).
for f in build/dev/src/_core*.so build/dev/src/_cuda*.so; do
  [ -e "$f" ] || continue
  dest="python/superinstance/$(basename "$f")"
  cp "$f" "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest"
done
echo "built into python/superinstance/"
