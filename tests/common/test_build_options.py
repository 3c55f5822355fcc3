"""SUPERINSTANCE_CUDA=AUTO|ON|OFF, checked by configuring the CMake project (no compile).

The installed package itself shows the AUTO case: see test_cuda_module.py.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("cmake") is None or not (ROOT / "CMakeLists.txt").exists(),
    reason="needs cmake and the source tree")


def _path_without_nvcc():
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not os.path.exists(os.path.join(d, "nvcc"))]
    return os.pathsep.join(dirs)


def _configure(tmp_path, value, hide_nvcc):
    env = dict(os.environ)
    env.pop("CUDACXX", None)
    env.pop("CUDA_PATH", None)
    if hide_nvcc:
        env["PATH"] = _path_without_nvcc()
    cmake = shutil.which("cmake")
    res = subprocess.run([cmake, "-S", str(ROOT), "-B", str(tmp_path / "b"), "-DSUPERINSTANCE_BUILD_PYTHON=OFF",
                          f"-DSUPERINSTANCE_CUDA={value}"], env=env, capture_output=True, text=True)
    return res.returncode, res.stdout + res.stderr


def test_on_without_nvcc_fails_with_a_clear_message(tmp_path):
    rc, out = _configure(tmp_path, "ON", hide_nvcc=True)
    if "building CUDA module" in out:
        pytest.skip("nvcc is found outside PATH here (e.g. /usr/local/cuda/bin)")
    assert rc != 0
    assert "SUPERINSTANCE_CUDA=ON but no CUDA compiler (nvcc) was found" in out


def test_auto_without_nvcc_builds_without_cuda(tmp_path):
    rc, out = _configure(tmp_path, "AUTO", hide_nvcc=True)
    if "building CUDA module" in out:
        pytest.skip("nvcc is found outside PATH here")
    assert rc == 0, out[-3000:]
    assert "nvcc not found, building without CUDA" in out


def test_off_never_builds_cuda(tmp_path):
    rc, out = _configure(tmp_path, "OFF", hide_nvcc=False)
    assert rc == 0, out[-3000:]
    assert "CUDA disabled (SUPERINSTANCE_CUDA=OFF)" in out
    assert "building CUDA module" not in out


def test_unknown_value_is_rejected(tmp_path):
    rc, out = _configure(tmp_path, "sometimes", hide_nvcc=False)
    assert rc != 0 and "must be AUTO, ON or OFF" in out
