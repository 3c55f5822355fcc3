"""The one CPU/GPU decision of the package (private).

Every facade that can run on a GPU (the gpu_accelerator models, its dynamic
programming kernels) and ``superinstance doctor`` ask here. ``"cuda"`` is
chosen only when ``superinstance._cuda`` is built *and* one of its kernels ran
correctly on device 0, the device the kernels launch on by default (so the
kernels of this build fit that GPU). The probe launches a kernel, so it runs
once per process; :func:`refresh` forgets it (the only cache of the decision).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Tuple

from .errors import GpuUnavailableError

#: The values of every ``backend=`` argument.
BACKENDS = ("auto", "cpu", "cuda")


def cuda_module() -> Any:
    """The ``superinstance._cuda`` module, or GpuUnavailableError saying why there is none."""
    try:
        from . import _cuda  # type: ignore[attr-defined]
    except ImportError as e:
        raise GpuUnavailableError(
            "superinstance._cuda is not built (nvcc was not found when this package was built, "
            f"or it was built with SUPERINSTANCE_CUDA=OFF): {e}") from e
    return _cuda


def cuda_runtime() -> Optional[Any]:
    """cuda-python's runtime module, or None when cuda-python is not installed."""
    try:
        from cuda.bindings import runtime as rt  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart as rt  # older cuda-python
        except ImportError:
            return None
    return rt


def _device_dict(rt: Any, i: int, prop: Any) -> Dict[str, Any]:
    free = 0
    if int(rt.cudaSetDevice(i)[0]) == 0:
        err, free, _total = rt.cudaMemGetInfo()
        if int(err) != 0:
            free = 0
    name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
    return {"index": i, "name": name.rstrip("\x00"), "compute_capability": (int(prop.major), int(prop.minor)),
            "total_memory": int(prop.totalGlobalMem), "free_memory": int(free),
            "multiprocessors": int(prop.multiProcessorCount)}


def cuda_python_devices() -> Tuple[Optional[List[Dict[str, Any]]], str]:
    """(devices as dicts, why there is none) through cuda-python, queried now;
    (None, why) when cuda-python is not installed."""
    rt = cuda_runtime()
    if rt is None:
        return None, "cuda-python is not installed"
    err, count = rt.cudaGetDeviceCount()
    if int(err) != 0:
        _, driver = rt.cudaDriverGetVersion()
        name = getattr(err, "name", str(err))
        if not driver:
            return [], f"no NVIDIA driver is installed ({name})"
        return [], f"cudaGetDeviceCount failed: {name}"
    err, previous = rt.cudaGetDevice()  # a query: restore the caller's current device after
    out = []
    for i in range(count):
        e, prop = rt.cudaGetDeviceProperties(i)
        if int(e) == 0:
            out.append(_device_dict(rt, i, prop))
    if int(err) == 0:
        rt.cudaSetDevice(previous)
    return out, "" if out else "no CUDA device"


def probe_now() -> Dict[str, Any]:
    """The _cuda module's probe, run now: {"built": False, "error", "devices": []}
    without the module, else its probe() (devices with kernel_ok, versions,
    compiled_architectures) and "built": True."""
    try:
        mod = cuda_module()
    except GpuUnavailableError as e:
        return {"built": False, "error": str(e), "devices": []}
    p = dict(mod.probe())
    p["built"] = True
    return p


@functools.lru_cache(maxsize=1)
def probe() -> Dict[str, Any]:
    """:func:`probe_now`, once per process (until :func:`refresh`)."""
    return probe_now()


def refresh() -> None:
    """Forget the cached probe, and with it the decision (e.g. after a driver
    was installed in a long-running process)."""
    probe.cache_clear()


def decide(p: Dict[str, Any]) -> Tuple[str, str]:
    """(``"cuda"`` or ``"cpu"``, why) for a probe as :func:`probe_now` returns it."""
    if not p["built"]:
        return "cpu", p["error"]
    if not p["devices"]:
        return "cpu", p.get("error") or "no CUDA device"
    d = p["devices"][0]
    if not d["kernel_ok"]:
        return "cpu", (f"device 0 ({d['name']}) cannot run this build's kernels: "
                       f"{d['kernel_error']} (compiled for sm_"
                       f"{', sm_'.join(str(a) for a in p['compiled_architectures'])})")
    major, minor = d["compute_capability"]
    return "cuda", f"device 0: {d['name']} (sm_{major}{minor}), a test kernel ran correctly"


def decision() -> Tuple[str, str]:
    """(``"cuda"`` or ``"cpu"``, why), from the cached probe."""
    return decide(probe())


def gpu_reason() -> Optional[str]:
    """None when the GPU is usable, else why not."""
    backend, reason = decision()
    return None if backend == "cuda" else reason


def check_backend(backend: Any) -> str:
    """A ``backend=`` argument: one of :data:`BACKENDS` (TypeError / ValueError otherwise)."""
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str ({', '.join(BACKENDS)}), got {type(backend).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


def resolve(backend: Any) -> Tuple[str, Optional[str]]:
    """(the backend to use, why the CPU when "auto" chose it): "cpu" -> "cpu";
    "cuda" -> "cuda" or GpuUnavailableError with the reason; "auto" -> the decision."""
    if check_backend(backend) == "cpu":
        return "cpu", None
    used, reason = decision()
    if used == "cuda":
        return "cuda", None
    if backend == "cuda":
        raise GpuUnavailableError(f"backend='cuda' was asked for but no GPU is usable: {reason}")
    return "cpu", reason
