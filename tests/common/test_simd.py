"""Run-time SIMD dispatch: every level this machine has, against a float64 reference."""

import os
import subprocess
import sys

import numpy as np
import pytest

import superinstance
from superinstance import _core
from superinstance.errors import UnavailableError

LENGTHS = [0, 1, 5, 8, 15, 16, 17, 63, 64, 65, 127, 384, 1000]


def test_capabilities_shape():
    caps = superinstance.capabilities()
    assert caps["simd_available"][0] == "scalar"
    assert caps["simd_level"] in caps["simd_available"]
    assert caps["simd_detected"] == caps["simd_available"][-1]
    assert set(caps["features"]) >= {"sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
                                     "avx512vl", "avx512vnni", "neon"}
    if "avx2" in caps["simd_available"]:
        assert caps["features"]["avx2"] and caps["features"]["fma"]


def test_cpuid_agrees_with_proc_cpuinfo():
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if not flags:
        pytest.skip("no x86 flags in /proc/cpuinfo")
    feats = superinstance.capabilities()["features"]
    for ours, linux in [("sse4.2", "sse4_2"), ("avx2", "avx2"), ("fma", "fma"), ("f16c", "f16c"),
                        ("avx512f", "avx512f"), ("avx512bw", "avx512bw"), ("avx512vl", "avx512vl"),
                        ("avx512vnni", "avx512_vnni")]:
        assert feats[ours] == (linux in flags), ours


@pytest.mark.parametrize("n", LENGTHS)
def test_kernels_match_float64_on_every_level(n, simd_levels):
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    ref_dot = float(np.dot(a.astype(np.float64), b.astype(np.float64)))
    ref_l2 = float(np.sum((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    tol = 1e-5 * (1 + 4 * np.sqrt(n))
    for level in simd_levels:
        assert _core.vector_dot(a, b, level) == pytest.approx(ref_dot, abs=tol), level
        assert _core.vector_l2sq(a, b, level) == pytest.approx(ref_l2, abs=4 * tol), level


def test_rows_kernels_on_every_level(simd_levels):
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((301, 384)).astype(np.float32)
    q = rng.standard_normal(384).astype(np.float32)
    ref_dot = rows.astype(np.float64) @ q.astype(np.float64)
    ref_l2 = ((rows.astype(np.float64) - q.astype(np.float64)) ** 2).sum(axis=1)
    for level in simd_levels:
        np.testing.assert_allclose(_core.vector_dot_rows(q, rows, level), ref_dot, atol=1e-3, rtol=1e-5)
        np.testing.assert_allclose(_core.vector_l2sq_rows(q, rows, level), ref_l2, rtol=1e-5)


def test_kernel_input_errors():
    a = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="same length"):
        _core.vector_dot(a, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="unknown SIMD level"):
        _core.vector_dot(a, a, "sse9")
    with pytest.raises(ValueError, match="2-D"):
        _core.vector_dot_rows(a, a)


def test_unavailable_level_raises():
    missing = [lvl for lvl in ("avx2", "avx512") if lvl not in superinstance.capabilities()["simd_available"]]
    if not missing:
        pytest.skip("this CPU runs every level")
    with pytest.raises(UnavailableError, match="not supported by this CPU"):
        _core.vector_dot(np.zeros(3, np.float32), np.zeros(3, np.float32), missing[0])


def _caps_with_env(value):
    env = dict(os.environ, SUPERINSTANCE_SIMD=value)
    code = "import json, superinstance; print(json.dumps(superinstance.capabilities()))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    import json

    return json.loads(out.stdout)


def test_environment_override_lowers_the_level():
    caps = _caps_with_env("scalar")
    assert caps["simd_level"] == "scalar"
    assert caps["simd_requested"] == "scalar"
    assert caps["simd_warning"] == ""


def test_environment_override_rejects_unknown_names():
    caps = _caps_with_env("sse9")
    assert caps["simd_level"] == caps["simd_detected"]
    assert "not one of scalar, avx2, avx512" in caps["simd_warning"]
