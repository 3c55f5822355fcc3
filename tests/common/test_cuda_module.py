"""The optional CUDA module: built when nvcc exists, imports without a GPU or driver."""

import shutil

import pytest

import superinstance


def test_cuda_module_built_when_nvcc_is_present():
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not on PATH: the build skips the CUDA module")
    import os

    if os.environ.get("SUPERINSTANCE_CUDA", "AUTO").upper() == "OFF":
        pytest.skip("built with SUPERINSTANCE_CUDA=OFF")
    assert superinstance.capabilities()["cuda_built"]


def test_cuda_probe_reports_devices_or_a_reason():
    if not superinstance.capabilities()["cuda_built"]:
        pytest.skip("CUDA module not built")
    from superinstance import _cuda

    p = _cuda.probe()
    assert p["runtime_version"] >= 12000
    assert p["compiled_architectures"] == [80, 90]
    if p["devices"]:
        for d in p["devices"]:
            assert d["kernel_ok"], d["kernel_error"]
            assert d["dpx"] == ("native" if d["compute_capability"][0] >= 9 else "emulated")
    else:
        assert p["error"], "no device and no reason"
