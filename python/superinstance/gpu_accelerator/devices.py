"""CUDA devices and the choice of backend.

``devices()`` lists the CUDA devices through cuda-python when it is installed,
else through the optional ``superinstance._cuda`` module. ``default_backend()``
is ``"cuda"`` only when ``superinstance._cuda`` is built *and* one of its
kernels ran correctly on device 0 (so the kernels of this build fit the GPU);
``backend_reason()`` says why the choice was made.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..errors import GpuUnavailableError

__all__ = [
    "Device",
    "devices",
    "default_backend",
    "backend_reason",
    "resolve_backend",
    "cuda_module",
    "refresh",
]

BACKENDS = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Device:
    """One CUDA device.

    ``dpx`` is ``"native"`` on compute capability 9.0 and newer (Hopper's DPX
    instructions run in hardware) and ``"emulated"`` before.
    """

    index: int
    name: str
    compute_capability: Tuple[int, int]
    total_memory: int
    free_memory: int
    multiprocessors: int
    source: str  # "cuda-python" or "superinstance._cuda"

    @property
    def dpx(self) -> str:
        return "native" if self.compute_capability[0] >= 9 else "emulated"

    @property
    def dpx_native(self) -> bool:
        return self.compute_capability[0] >= 9

    def as_dict(self) -> Dict[str, Any]:
        return {"index": self.index, "name": self.name,
                "compute_capability": list(self.compute_capability),
                "total_memory": self.total_memory, "free_memory": self.free_memory,
                "multiprocessors": self.multiprocessors, "dpx": self.dpx, "source": self.source}


def cuda_module():
    """The ``superinstance._cuda`` module, or GpuUnavailableError saying why there is none."""
    try:
        from .. import _cuda
    except ImportError as e:
        raise GpuUnavailableError(
            "superinstance._cuda is not built (nvcc was not found when this package was built, "
            f"or it was built with SUPERINSTANCE_CUDA=OFF): {e}") from e
    return _cuda


def _devices_cuda_python() -> Tuple[Optional[List[Device]], str]:
    """(devices, error) via cuda-python; (None, why) when cuda-python is not installed."""
    try:
        from cuda.bindings import runtime as rt  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart as rt  # older cuda-python
        except ImportError:
            return None, "cuda-python is not installed"
    err, count = rt.cudaGetDeviceCount()
    if int(err) != 0:
        _, drv = rt.cudaDriverGetVersion()
        name = getattr(err, "name", str(err))
        if drv == 0:
            return [], f"no NVIDIA driver is installed ({name})"
        return [], f"cudaGetDeviceCount failed: {name}"
    out = []
    err, previous = rt.cudaGetDevice()  # a query: restore the caller's current device after
    restore = int(err) == 0
    for i in range(count):
        err, prop = rt.cudaGetDeviceProperties(i)
        if int(err) != 0:
            continue
        free = 0
        if int(rt.cudaSetDevice(i)[0]) == 0:
            e2, free, _total = rt.cudaMemGetInfo()
            if int(e2) != 0:
                free = 0
        name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
        out.append(Device(i, name.rstrip("\x00"), (int(prop.major), int(prop.minor)),
                          int(prop.totalGlobalMem), int(free), int(prop.multiProcessorCount),
                          "cuda-python"))
    if restore:
        rt.cudaSetDevice(previous)
    return out, "" if out else "no CUDA device"


@functools.lru_cache(maxsize=1)
def _probe() -> Dict[str, Any]:
    """The _cuda module's probe (devices, and whether a kernel of this build runs), cached."""
    try:
        mod = cuda_module()
    except GpuUnavailableError as e:
        return {"built": False, "error": str(e), "devices": []}
    p = dict(mod.probe())
    p["built"] = True
    return p


def refresh() -> None:
    """Forget the cached probe (e.g. after a driver was installed in a long-running process)."""
    _probe.cache_clear()


def devices() -> List[Device]:
    """The CUDA devices of this machine (an empty list when there is none)."""
    found, _ = _devices_cuda_python()
    if found is not None:
        return found
    p = _probe()
    return [Device(d["index"], d["name"], tuple(d["compute_capability"]), d["total_memory"],
                   d["free_memory"], d["multiprocessors"], "superinstance._cuda")
            for d in p["devices"]]


def _decide() -> Tuple[str, str]:
    p = _probe()
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


def default_backend() -> str:
    """``"cuda"`` when a usable GPU exists (the CUDA module is built and its kernels run), else ``"cpu"``."""
    return _decide()[0]


def backend_reason() -> str:
    """Why :func:`default_backend` chose what it chose, e.g. ``"no NVIDIA driver is installed (...)"``."""
    return _decide()[1]


def resolve_backend(backend: str) -> str:
    """``"auto"`` -> the default backend; ``"cuda"`` -> ``"cuda"`` or GpuUnavailableError with the reason."""
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str ({', '.join(BACKENDS)}), got {type(backend).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "cpu":
        return "cpu"
    choice, reason = _decide()
    if backend == "cuda" and choice != "cuda":
        raise GpuUnavailableError(f"backend='cuda' was asked for but no GPU is usable: {reason}")
    return choice
