"""CUDA devices and the choice of backend.

``devices()`` lists the CUDA devices through cuda-python when it is installed,
else through the optional ``superinstance._cuda`` module. ``default_backend()``
is ``"cuda"`` only when ``superinstance._cuda`` is built *and* one of its
kernels ran correctly on device 0 (so the kernels of this build fit the GPU);
``backend_reason()`` says why the choice was made. The decision itself lives in
``superinstance._backend``, shared with the DP functions and ``doctor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from .. import _backend
from .._backend import cuda_module

__all__ = [
    "Device",
    "devices",
    "default_backend",
    "backend_reason",
    "resolve_backend",
    "cuda_module",
    "refresh",
]

BACKENDS = _backend.BACKENDS


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


def devices() -> List[Device]:
    """The CUDA devices of this machine (an empty list when there is none)."""
    found, _ = _backend.cuda_python_devices()
    if found is not None:
        return [Device(d["index"], d["name"], d["compute_capability"], d["total_memory"], d["free_memory"],
                       d["multiprocessors"], "cuda-python") for d in found]
    return [Device(d["index"], d["name"], tuple(d["compute_capability"]), d["total_memory"],
                   d["free_memory"], d["multiprocessors"], "superinstance._cuda")
            for d in _backend.probe()["devices"]]


def refresh() -> None:
    """Forget the cached probe, and with it every backend decision (models, DP,
    :func:`default_backend`), e.g. after a driver was installed in a long-running process."""
    _backend.refresh()


def default_backend() -> str:
    """``"cuda"`` when a usable GPU exists (the CUDA module is built and its kernels run), else ``"cpu"``."""
    return _backend.decision()[0]


def backend_reason() -> str:
    """Why :func:`default_backend` chose what it chose, e.g. ``"no NVIDIA driver is installed (...)"``."""
    return _backend.decision()[1]


def resolve_backend(backend: str) -> str:
    """``"auto"`` -> the default backend; ``"cuda"`` -> ``"cuda"`` or GpuUnavailableError with the reason."""
    return _backend.resolve(backend)[0]
