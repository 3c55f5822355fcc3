"""The exception hierarchy and the translation of the core's C++ exceptions."""

import numpy as np
import pytest

import superinstance
from superinstance import errors, storage


def test_every_error_derives_from_the_base():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, superinstance.SuperinstanceError), name


def test_builtin_bases_let_callers_catch_naturally():
    assert issubclass(errors.CorruptFileError, ValueError)
    assert issubclass(errors.UnknownIdError, KeyError)
    assert issubclass(errors.GpuUnavailableError, errors.UnavailableError)
    assert issubclass(errors.GpuOutOfMemoryError, MemoryError)
    assert issubclass(errors.RealtimePermissionError, PermissionError)
    assert str(errors.UnknownIdError("id 7 is not in the index")) == "id 7 is not in the index"


def test_core_exceptions_arrive_as_library_classes(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"\x00" * 100)
    with pytest.raises(superinstance.SuperinstanceError):
        storage.read_verified(p, "test", 1)
    with pytest.raises(ValueError):  # std::invalid_argument keeps pybind11's mapping
        superinstance.LatencyHistogram().record(-5)
