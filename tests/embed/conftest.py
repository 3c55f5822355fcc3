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
