#!/usr/bin/env bash
# The whole test suite, as README.md's quick start gives it. Run it with the virtual
# environment active: it installs the package with its test extras into the active
# Python (pip), then runs pytest, which also builds and runs the C++ unit tests
# (GoogleTest, through CMake and ctest).
#
# GoogleTest: when its headers are missing, this script says so before doing anything.
# As root with apt-get it then installs libgtest-dev (Debian/Ubuntu); set
# SUPERINSTANCE_NO_APT=1 to skip that. Otherwise it installs nothing system-wide: the
# C++ unit tests are skipped with the reason (under CI=true they fail instead).
# Arguments are passed to pytest (e.g. scripts/test.sh tests/realtime_core -x).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "scripts/test.sh: $*"; }

gtest_present() {
  [ -f /usr/include/gtest/gtest.h ] || [ -f /usr/local/include/gtest/gtest.h ]
}

offer_googletest() {
  gtest_present && return 0
  say "GoogleTest (headers and libraries) is missing; the C++ unit tests (tests/test_cpp_unit.py) need it."
  if [ "${SUPERINSTANCE_NO_APT:-0}" = 1 ]; then
    say "SUPERINSTANCE_NO_APT=1: not installing it; the C++ unit tests will be skipped."
  elif [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "not installing it (that needs root and apt-get); the C++ unit tests will be skipped."
    say "to run them: sudo apt-get install libgtest-dev (Debian/Ubuntu), then run this script again."
  else
    say "installing it now as root: apt-get update && apt-get install libgtest-dev"
    say "(set SUPERINSTANCE_NO_APT=1 to skip this; the C++ unit tests are then skipped)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgtest-dev >/dev/null
  fi
}

python_env_note() {
  python -c 'import os, sys
if sys.prefix == sys.base_prefix and "CONDA_PREFIX" not in os.environ:
    print(f"scripts/test.sh: note: {sys.executable} is not in a virtual environment; pip installs into "
          f"{sys.prefix} (README: python3 -m venv .venv && . .venv/bin/activate)")'
}

offer_googletest
python_env_note
say "installing the package with its test extras: python -m pip install .[test]"
python -m pip install -q ".[test]"
# From the repository root, `import superinstance` finds the installed package (the
# source tree's package lives under python/, which is not on sys.path).
python -m pytest "$@"
