"""Device/pinned memory, streams, events and interop: the checks that need no GPU run here
(host arrays refused, CUDA-array-interface parsing, DLPack of host tensors); the rest on a GPU."""

import importlib

import numpy as np
import pytest

import superinstance.gpu_accelerator as ga
from superinstance.errors import ClosedError, GpuOutOfMemoryError
mem = importlib.import_module("superinstance.gpu_accelerator.memory")

HAS_GPU = ga.default_backend() == "cuda"
gpu = pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU: {ga.backend_reason()}")


def _cuda_or_skip():
    try:
        return mem.cuda_module()
    except Exception as e:  # pragma: no cover
        pytest.skip(str(e))


def test_host_arrays_are_not_device_arrays():
    _cuda_or_skip()
    with pytest.raises(ValueError, match="device type 1 .*not CUDA"):
        ga.as_device_array(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="not a CUDA array"):
        ga.as_device_array([1, 2, 3])


class FakeCai:
    def __init__(self, **kw):
        self.__cuda_array_interface__ = dict({"shape": (2, 3), "typestr": "<f4", "data": (0, False),
                                              "version": 3, "strides": None}, **kw)


def test_cuda_array_interface_import_checks():
    _cuda_or_skip()
    a = ga.as_device_array(FakeCai())  # null pointer: only the metadata is read
    assert a.shape == (2, 3) and a.dtype == np.float32 and a.ptr == 0 and not a.owns_memory
    assert a.__cuda_array_interface__["typestr"] == "<f4"
    a.close()
    with pytest.raises(ClosedError):
        a.ptr
    with pytest.raises(ValueError, match="only C-contiguous"):
        ga.as_device_array(FakeCai(strides=(4, 8)))
    assert ga.as_device_array(FakeCai(strides=(12, 4))).shape == (2, 3)
    with pytest.raises(TypeError, match="native-endian"):
        ga.as_device_array(FakeCai(typestr="|O8"))
    with pytest.raises(ValueError, match="masked"):
        ga.as_device_array(FakeCai(mask=object()))


def test_dlpack_import_of_a_host_capsule_reads_metadata_and_releases():
    cu = _cuda_or_skip()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    info = cu.from_dlpack(x.__dlpack__())
    assert info["device_type"] == 1 and info["shape"] == (2, 3) and info["kind"] == "f"
    assert info["bits"] == 32 and info["ptr"] == x.ctypes.data
    cap = x.__dlpack__()
    cu.from_dlpack(cap)
    with pytest.raises(ValueError, match="used once"):
        cu.from_dlpack(cap)


# ------------------------------------------------------------------ on a GPU
@pytest.mark.gpu
@gpu
def test_round_trips_streams_events_and_pinned():
    x = np.random.default_rng(0).standard_normal((1000, 7)).astype(np.float32)
    with ga.DeviceArray.from_host(x) as d:
        np.testing.assert_array_equal(d.to_host(), x)
        with ga.Stream() as s, ga.PinnedBuffer(x.shape) as p, ga.Event() as e0, ga.Event() as e1:
            e0.record(s)
            d.to_host(p.array, stream=s)
            e1.record(s)
            s.synchronize()
            np.testing.assert_array_equal(p.array, x)
            assert e1.elapsed_ms(e0) >= 0 and s.query()
        with pytest.raises(ValueError, match="host array is"):
            d.copy_from_host(x[:10])
        with pytest.raises(ValueError, match="C-contiguous"):
            d.to_host(np.empty((7, 1000), np.float32).T)
    with pytest.raises(ClosedError):
        d.to_host()
    s = ga.Stream()
    s.close()
    with pytest.raises(ClosedError):
        s.synchronize()
    with pytest.raises(ClosedError):
        ga.DeviceArray((3,)).copy_from_host(np.zeros(3, np.float32), s)


@pytest.mark.gpu
@gpu
def test_out_of_memory_leaves_the_device_usable():
    free, total = mem.cuda_module().mem_info(0)
    with pytest.raises(GpuOutOfMemoryError, match="out of memory"):
        ga.DeviceArray((total * 4,), np.uint8)
    with ga.DeviceArray.from_host(np.arange(10, dtype=np.float32)) as d:
        assert d.to_host().tolist() == list(range(10))
    assert ga.cosine_similarity(np.ones(4), np.eye(4), backend="cuda").shape == (4,)


@pytest.mark.gpu
@gpu
def test_dlpack_and_cai_round_trip_without_copies():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    with ga.DeviceArray.from_host(x) as d:
        view = ga.as_device_array(type("C", (), {"__cuda_array_interface__": d.__cuda_array_interface__})())
        assert view.ptr == d.ptr and view.shape == (3, 4)
        np.testing.assert_array_equal(view.to_host(), x)
        cap_view = mem._from_dlpack(d)
        assert cap_view.ptr == d.ptr
        np.testing.assert_array_equal(cap_view.to_host(), x)
        cap_view.close()
    for lib in ("cupy", "torch"):
        try:
            mod = __import__(lib)
        except ImportError:
            continue
        if lib == "cupy":
            c = mod.arange(12, dtype=mod.float32).reshape(3, 4)
        else:
            c = mod.arange(12, dtype=mod.float32, device="cuda").reshape(3, 4)
        v = ga.as_device_array(c)
        np.testing.assert_array_equal(v.to_host(), x)
        with ga.DeviceArray.from_host(x * 2) as d2:
            back = mod.from_dlpack(d2)
            assert float(back.sum()) == float((x * 2).sum())
