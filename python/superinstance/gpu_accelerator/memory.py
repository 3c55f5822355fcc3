"""Device and pinned host memory, streams and events (CUDA only).

Lifetimes are explicit: every object has ``close()`` and is a context manager;
using it after ``close()`` raises :class:`~superinstance.errors.ClosedError`.
Device arrays speak ``__cuda_array_interface__`` (v3) and DLPack both ways, so
CuPy arrays and PyTorch tensors pass without copies.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np

from ..errors import ClosedError
from .devices import cuda_module

__all__ = ["Stream", "Event", "DeviceArray", "PinnedBuffer", "as_device_array", "stream_handle"]


def stream_handle(stream: Any) -> Any:
    """What _cuda accepts for a stream: None (synchronous / default stream), a _cuda.Stream,
    an int handle, or another library's stream object (``.cuda_stream`` / ``.ptr``)."""
    if stream is None:
        return None
    if isinstance(stream, Stream):
        return stream._raw()
    return stream


class Stream:
    """A CUDA stream (non-blocking with respect to the legacy default stream)."""

    def __init__(self, device: int = 0, non_blocking: bool = True, priority: int = 0):
        self._s = cuda_module().Stream(device, non_blocking, priority)

    def _raw(self):
        if self._s.closed:
            raise ClosedError("Stream is closed")
        return self._s

    @property
    def handle(self) -> int:
        return self._raw().handle

    @property
    def closed(self) -> bool:
        return self._s.closed

    def synchronize(self) -> None:
        self._raw().synchronize()

    def query(self) -> bool:
        """True when all work queued on the stream has finished."""
        return self._raw().query()

    def close(self) -> None:
        """Wait for queued work, then destroy the stream. Idempotent."""
        self._s.close()

    def __enter__(self) -> "Stream":
        self._raw()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Event:
    """A CUDA event; ``end.elapsed_ms(start)`` times the work between two recorded events."""

    def __init__(self, timing: bool = True, device: int = 0):
        self._e = cuda_module().Event(timing, device)

    def _raw(self):
        if self._e.closed:
            raise ClosedError("Event is closed")
        return self._e

    def record(self, stream: Optional[Stream] = None) -> "Event":
        self._raw().record(stream_handle(stream))
        return self

    def synchronize(self) -> None:
        self._raw().synchronize()

    def query(self) -> bool:
        return self._raw().query()

    def elapsed_ms(self, start: "Event") -> float:
        if not isinstance(start, Event):
            raise TypeError(f"start must be an Event, got {type(start).__name__}")
        return self._raw().elapsed_ms(start._raw())

    @property
    def closed(self) -> bool:
        return self._e.closed

    def close(self) -> None:
        self._e.close()

    def __enter__(self) -> "Event":
        self._raw()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_DLPACK_CUDA = 2


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind not in "fiub" or dt.byteorder == ">" or dt.hasobject:
        raise TypeError(f"device arrays hold native-endian bool/int/uint/float data, got {dt}")
    return dt


class DeviceArray:
    """A C-contiguous array in device memory: owned (allocated here) or a zero-copy view
    of another library's array (:func:`as_device_array`)."""

    def __init__(self, shape: Sequence[int] | int, dtype=np.float32, device: int = 0):
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            raise ValueError(f"negative dimension in shape {shape}")
        self._dtype = _check_dtype(dtype)
        self._shape: Tuple[int, ...] = shape
        nbytes = int(np.prod(shape, dtype=np.int64)) * self._dtype.itemsize
        self._buf = cuda_module().DeviceBuffer(max(nbytes, 1), device)
        self._ptr_external: Optional[int] = None
        self._owner: Any = None
        self._device = device

    # -- construction
    @classmethod
    def from_host(cls, array, stream: Optional[Stream] = None, device: int = 0) -> "DeviceArray":
        host = np.ascontiguousarray(array)
        out = cls(host.shape, host.dtype, device)
        out.copy_from_host(host, stream)
        return out

    @classmethod
    def _wrap(cls, ptr: int, shape, dtype, device: int, owner: Any) -> "DeviceArray":
        self = cls.__new__(cls)
        self._dtype = _check_dtype(dtype)
        self._shape = tuple(int(s) for s in shape)
        self._buf = None
        self._ptr_external = int(ptr)
        self._owner = owner
        self._device = device
        return self

    # -- properties
    @property
    def closed(self) -> bool:
        return self._buf is None and self._ptr_external is None

    def _check(self) -> None:
        if self.closed:
            raise ClosedError("DeviceArray is closed")

    @property
    def ptr(self) -> int:
        self._check()
        return self._ptr_external if self._buf is None else self._buf.ptr

    @property
    def shape(self) -> Tuple[int, ...]:
        self._check()
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        self._check()
        return self._dtype

    @property
    def size(self) -> int:
        self._check()
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        self._check()
        return self.size * self._dtype.itemsize

    @property
    def device(self) -> int:
        self._check()
        return self._device

    @property
    def owns_memory(self) -> bool:
        self._check()
        return self._buf is not None

    # -- copies
    def _host_check(self, host: np.ndarray, writable: bool) -> None:
        if not isinstance(host, np.ndarray):
            raise TypeError(f"expected a numpy array, got {type(host).__name__}")
        if host.dtype != self._dtype or host.shape != self._shape:
            raise ValueError(f"host array is {host.dtype}{list(host.shape)}, device array is "
                             f"{self._dtype}{list(self._shape)}")
        if not host.flags.c_contiguous:
            raise ValueError("host array must be C-contiguous")
        if writable and not host.flags.writeable:
            raise ValueError("host array is read-only")

    def copy_from_host(self, host: np.ndarray, stream: Optional[Stream] = None) -> None:
        """Host -> device. Synchronous without a stream; with one, asynchronous (keep ``host``
        alive and unchanged until the stream is synchronized)."""
        self._check()
        self._host_check(host, False)
        cuda_module().memcpy(self.ptr, host.ctypes.data, self.nbytes, stream_handle(stream))

    def to_host(self, out: Optional[np.ndarray] = None, stream: Optional[Stream] = None) -> np.ndarray:
        """Device -> host (a new array, or ``out``). With a stream the copy is asynchronous:
        synchronize the stream before reading ``out`` (use a PinnedBuffer's array for overlap)."""
        self._check()
        if out is None:
            out = np.empty(self._shape, self._dtype)
        self._host_check(out, True)
        cuda_module().memcpy(out.ctypes.data, self.ptr, self.nbytes, stream_handle(stream))
        return out

    def copy_from(self, other: "DeviceArray", stream: Optional[Stream] = None) -> None:
        self._check()
        if other.nbytes != self.nbytes:
            raise ValueError(f"sizes differ: {other.nbytes} and {self.nbytes} bytes")
        cuda_module().memcpy(self.ptr, other.ptr, self.nbytes, stream_handle(stream))

    def fill_zero(self, stream: Optional[Stream] = None) -> None:
        self._check()
        cuda_module().memset(self.ptr, 0, self.nbytes, stream_handle(stream))

    # -- interop
    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": self._shape, "typestr": self._dtype.str, "data": (self.ptr, False),
                "strides": None, "version": 3, "stream": None}

    def __dlpack_device__(self) -> Tuple[int, int]:
        self._check()
        return (_DLPACK_CUDA, self._device)

    def __dlpack__(self, stream: Any = None, max_version: Any = None, dl_device: Any = None,
                   copy: Any = None):
        """A DLPack capsule viewing this memory (it keeps this array's memory alive)."""
        self._check()
        if copy:
            raise BufferError("DeviceArray.__dlpack__: copy=True is not supported")
        if dl_device is not None and tuple(dl_device) != self.__dlpack_device__():
            raise BufferError(f"DeviceArray lives on {self.__dlpack_device__()}, not {dl_device}")
        if self._buf is None:
            raise BufferError("DLPack export of an imported (non-owned) array: export the original")
        # Work is queued synchronously or on streams the caller synchronizes; nothing to order.
        return cuda_module().to_dlpack(self, self._buf, 0, list(self._shape), self._dtype.kind,
                                       self._dtype.itemsize * 8)

    # -- lifetime
    def close(self) -> None:
        """Release this array's reference to its memory (freed when no DLPack export holds it).
        For a view of another library's array, drop the reference to it. Idempotent."""
        if self._buf is not None:
            self._buf.close()
        self._buf = None
        self._ptr_external = None
        self._owner = None

    def __enter__(self) -> "DeviceArray":
        self._check()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"device={self._device}"  # fields, not the checked properties
        return f"DeviceArray(shape={self._shape}, dtype={self._dtype}, {state})"


def _contiguous_strides(shape, itemsize) -> Tuple[int, ...]:
    strides, acc = [], itemsize
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(int(s), 1)
    return tuple(reversed(strides))


def _from_cai(obj) -> DeviceArray:
    cai = obj.__cuda_array_interface__
    shape = tuple(int(s) for s in cai["shape"])
    dt = _check_dtype(np.dtype(cai["typestr"]))
    ptr, _readonly = cai["data"]
    strides = cai.get("strides")
    if strides is not None and tuple(strides) != _contiguous_strides(shape, dt.itemsize):
        if int(np.prod(shape, dtype=np.int64)) > 1:
            raise ValueError(f"__cuda_array_interface__: only C-contiguous arrays are accepted, "
                             f"got strides {tuple(strides)} for shape {shape}")
    if cai.get("mask") is not None:
        raise ValueError("__cuda_array_interface__: masked arrays are not supported")
    device = 0
    if ptr:
        kind, device = cuda_module().pointer_kind(int(ptr))
        if kind == 0:
            raise ValueError("__cuda_array_interface__: the pointer is ordinary host memory, "
                             "not device, managed or pinned memory")
    stream = cai.get("stream")
    if stream:  # v3: the producer's stream; wait for it before using the data
        mod = cuda_module()
        ev = mod.Event(False, max(device, 0))
        ev.record(int(stream))
        ev.synchronize()
        ev.close()
    return DeviceArray._wrap(int(ptr or 0), shape, dt, max(device, 0), obj)


def _from_dlpack(obj) -> DeviceArray:
    dev_type, dev_id = obj.__dlpack_device__()
    if int(dev_type) != _DLPACK_CUDA:
        raise ValueError(f"DLPack: the tensor lives on device type {int(dev_type)} "
                         f"(1 = CPU), not CUDA (2); use DeviceArray.from_host for host arrays")
    try:
        cap = obj.__dlpack__(stream=1)  # order after the producer's work on the legacy stream
    except TypeError:
        cap = obj.__dlpack__()
    info = cuda_module().from_dlpack(cap)
    if info["lanes"] != 1:
        raise ValueError("DLPack: vector dtypes (lanes > 1) are not supported")
    kind, bits = info["kind"], info["bits"]
    if kind == "?" or bits % 8:
        raise ValueError(f"DLPack: unsupported dtype (code {kind}, {bits} bits)")
    dt = np.dtype(f"{kind}{bits // 8}") if kind != "b" else np.dtype(bool)
    shape = info["shape"]
    if info["strides"] is not None:
        elem = _contiguous_strides(shape, 1)
        if tuple(info["strides"]) != elem and int(np.prod(shape, dtype=np.int64)) > 1:
            raise ValueError(f"DLPack: only C-contiguous tensors are accepted, got strides "
                             f"{info['strides']} (elements) for shape {shape}")
    return DeviceArray._wrap(info["ptr"], shape, dt, int(info["device_id"]), (obj, info["keeper"]))


def as_device_array(obj: Any) -> DeviceArray:
    """A zero-copy DeviceArray view of a CUDA array from another library (CuPy, PyTorch,
    Numba, ...) through DLPack or ``__cuda_array_interface__``; the view keeps ``obj`` alive.
    Host arrays are refused with a ValueError (copy them with ``DeviceArray.from_host``)."""
    if isinstance(obj, DeviceArray):
        return obj
    if hasattr(obj, "__dlpack_device__") and hasattr(obj, "__dlpack__"):
        return _from_dlpack(obj)
    if hasattr(obj, "__cuda_array_interface__"):
        return _from_cai(obj)
    raise TypeError(f"{type(obj).__name__} is not a CUDA array (it has neither DLPack nor "
                    f"__cuda_array_interface__)")


class PinnedBuffer:
    """Page-locked host memory (fast and asynchronous host<->device copies).

    ``array`` is a numpy view of it. ``close()`` releases this buffer's reference; the
    memory is freed when the last numpy view of it is gone, so a view never dangles.
    """

    def __init__(self, shape: Sequence[int] | int, dtype=np.float32):
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
        dt = _check_dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        raw = cuda_module().pinned_empty(max(nbytes, 1))
        self._array: Optional[np.ndarray] = raw[:nbytes].view(dt).reshape(shape)

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            raise ClosedError("PinnedBuffer is closed")
        return self._array

    @property
    def closed(self) -> bool:
        return self._array is None

    def close(self) -> None:
        self._array = None

    def __enter__(self) -> "PinnedBuffer":
        self.array  # ClosedError when closed
        return self

    def __exit__(self, *exc) -> None:
        self.close()
