"""Fixtures of tests/embed: unique shared-memory names (removed afterwards) and a C compiler."""

import os
import shutil
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shm_name():
    from superinstance.realtime_core import RateState

    name = f"si-test-{os.getpid()}-{uuid.uuid4().hex[:10]}"
    yield name
    RateState.unlink(name)


@pytest.fixture(scope="session")
def c_compiler():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return shutil.which(cc)
    pytest.skip("no C compiler on PATH")


@pytest.fixture(scope="session")
def installed_package(tmp_path_factory):
    """Where the C++ API of the package under test lies: {"cmake_dir", "include", "root"}.

    An installed wheel answers through superinstance.get_cmake_dir(). A source checkout
    (PYTHONPATH=python after scripts/dev_build.sh) has none: then the dev build is
    installed into a prefix of the test's own with `cmake --install build/dev`, the
    same install rules the wheel uses."""
    import superinstance

    try:
        cmake_dir = Path(superinstance.get_cmake_dir())
    except FileNotFoundError:
        build = REPO / "build" / "dev"
        if not (build / "CMakeCache.txt").is_file() or shutil.which("cmake") is None:
            pytest.skip("no installed C++ API (pip install the package, or run scripts/dev_build.sh)")
        import subprocess

        prefix = tmp_path_factory.mktemp("prefix")
        subprocess.run(["cmake", "--install", str(build), "--prefix", str(prefix)], check=True,
                       stdout=subprocess.DEVNULL)
        cmake_dir = prefix / "superinstance" / "cmake"
    root = cmake_dir.parent
    return {"cmake_dir": cmake_dir, "include": root / "include", "root": root}
