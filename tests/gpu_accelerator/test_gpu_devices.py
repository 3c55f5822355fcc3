"""devices(), default_backend() and its reason, GpuUnavailableError when a GPU is required."""

import importlib.util
import sys

import pytest

import superinstance.gpu_accelerator as ga
from superinstance.errors import UnavailableError, GpuUnavailableError

from superinstance import _backend
from superinstance.gpu_accelerator import _dp_common

HAS_GPU = ga.default_backend() == "cuda"


def test_backend_choice_is_consistent_with_the_probe():
    backend, reason = ga.default_backend(), ga.backend_reason()
    assert backend in ("cpu", "cuda") and reason
    p = _backend.probe()
    usable = p["built"] and any(d["kernel_ok"] for d in p["devices"][:1])
    assert (backend == "cuda") == usable, (backend, p)
    assert ga.resolve_backend("auto") == backend
    assert ga.resolve_backend("cpu") == "cpu"
    with pytest.raises(ValueError, match="backend must be one of auto, cpu, cuda"):
        ga.resolve_backend("gpu")


def test_no_gpu_gives_a_reason_and_gpu_unavailable():
    if HAS_GPU:
        pytest.skip("a GPU is usable here")
    assert ga.devices() == [] or not _backend.probe()["devices"]
    with pytest.raises(GpuUnavailableError) as e:
        ga.resolve_backend("cuda")
    assert ga.backend_reason() in str(e.value)
    assert isinstance(e.value, UnavailableError) and isinstance(e.value, RuntimeError)


def test_cuda_objects_refused_without_gpu():
    if HAS_GPU:
        pytest.skip("a GPU is usable here")
    if not _backend.probe()["built"]:
        with pytest.raises(GpuUnavailableError, match="not built"):
            ga.Stream()
        return
    # The CUDA module imports here; asking it for device resources says why not.
    for make in (ga.Stream, ga.Event, lambda: ga.DeviceArray((4,)), lambda: ga.PinnedBuffer(4)):
        with pytest.raises(GpuUnavailableError, match="driver|device"):
            make()


def test_cuda_python_and_module_paths_agree():
    if importlib.util.find_spec("cuda") is None:
        pytest.skip("cuda-python is not installed")
    found, err = _backend.cuda_python_devices()
    assert found is not None
    probe = _backend.probe()
    if probe["built"]:
        assert len(found) == len(probe["devices"])
        for a, b in zip(found, probe["devices"]):
            assert a["name"] == b["name"] and a["compute_capability"] == tuple(b["compute_capability"])
            assert ga.Device(*[a[k] for k in ("index", "name", "compute_capability", "total_memory",
                                              "free_memory", "multiprocessors")], "test").dpx == b["dpx"]
    if not found:
        assert err


def test_device_dpx_rule():
    d9 = ga.Device(0, "H100", (9, 0), 80 << 30, 70 << 30, 132, "test")
    d8 = ga.Device(0, "A100", (8, 0), 40 << 30, 30 << 30, 108, "test")
    assert d9.dpx == "native" and d9.dpx_native
    assert d8.dpx == "emulated" and not d8.dpx_native
    assert d9.as_dict()["compute_capability"] == [9, 0]


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU: {ga.backend_reason()}")
def test_devices_on_a_gpu():
    ds = ga.devices()
    assert ds and ds[0].total_memory > 0 and ds[0].multiprocessors > 0
    assert 0 < ds[0].free_memory <= ds[0].total_memory
    assert ds[0].compute_capability >= (8, 0)


def _fake_cuda_module(kernel_ok):
    """A stand-in for superinstance._cuda whose probe reports one sm_90 device."""
    class Fake:
        @staticmethod
        def probe():
            return {"devices": [{"index": 0, "name": "Fake H100", "compute_capability": [9, 0],
                                 "total_memory": 80 << 30, "free_memory": 70 << 30, "multiprocessors": 132,
                                 "dpx": "native", "kernel_ok": kernel_ok, "kernel_error": "" if kernel_ok else "no"}],
                    "error": "", "compiled_architectures": [80, 90]}
    return Fake


def test_refresh_resets_every_backend_cache(monkeypatch):
    """One cache for models, DP and default_backend(): devices.refresh() clears it for all."""
    import superinstance
    devices = sys.modules["superinstance.gpu_accelerator.devices"]  # the package's `devices` is the function

    def answers():  # the models resolve "auto" through the same _backend.resolve
        used = _dp_common.run_on_backend("auto", lambda: "gpu", lambda: "cpu")[1]
        return ga.default_backend(), ga.resolve_backend("auto"), used, ga.backend_reason()

    devices.refresh()
    before = answers()
    for ok in (not HAS_GPU, HAS_GPU):  # flip the machine's answer, then flip it back
        monkeypatch.setattr(superinstance, "_cuda", _fake_cuda_module(ok), raising=False)
        monkeypatch.setitem(sys.modules, "superinstance._cuda", superinstance._cuda)
        assert answers() == before  # cached: a new GPU is not seen until refresh()
        devices.refresh()
        backend = "cuda" if ok else "cpu"
        after = answers()
        assert after[:3] == (backend, backend, backend), after
        assert "Fake H100" in after[3]
        assert ("a test kernel ran correctly" if ok else "cannot run this build's kernels") in after[3]
        monkeypatch.undo()
        devices.refresh()
        assert answers() == before
