#!/usr/bin/env bash
# The whole test suite, as README.md's quick start gives it: installs what the
# tests need (GoogleTest from the system's package manager when it is missing
# and we may install it; the package with its test extras), then runs pytest,
# which also builds and runs the C++ unit tests with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f /usr/include/gtest/gtest.h ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing GoogleTest (libgtest-dev)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgtest-dev >/dev/null
fi
python -m pip install -q ".[test]"
# Run from tests/ so that the installed package, not the source tree, is imported.
python -m pytest "$@"
