"""Shared argument handling for the dynamic-programming facade (CPU and GPU)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _backend

SeqLike = Union[str, bytes, bytearray, memoryview, np.ndarray]

def band_arg(band: Any, la: int, lb: int) -> int:
    """DTW's Sakoe-Chiba band as the kernels take it: -1 for none (also for a band at least as
    wide as both series, which excludes nothing, so that any int fits the kernels' long)."""
    if band is None:
        return -1
    if isinstance(band, bool) or not isinstance(band, (int, np.integer)):
        raise TypeError(f"band must be an int or None, got {type(band).__name__}")
    if band < 0:
        raise ValueError(f"band must be >= 0 or None (no band), got {band}")
    return -1 if band >= max(la, lb) else int(band)


def as_bytes(seq: Any, what: str) -> bytes:
    if isinstance(seq, str):
        try:
            return seq.encode("ascii")
        except UnicodeEncodeError as e:
            raise ValueError(f"{what}: non-ASCII character {seq[e.start]!r} at position {e.start}") from None
    if isinstance(seq, (bytes, bytearray, memoryview)):
        return bytes(seq)
    if isinstance(seq, np.ndarray):
        if seq.dtype != np.uint8 or seq.ndim != 1:
            raise TypeError(f"{what}: a numpy sequence must be a 1-D uint8 array, got {seq.dtype} with {seq.ndim} dims")
        return seq.tobytes()
    raise TypeError(f"{what}: expected str, bytes or a 1-D uint8 array, got {type(seq).__name__}")


def pack_targets(targets: Sequence[SeqLike]) -> Tuple[np.ndarray, np.ndarray]:
    """Concatenated target bytes (uint8) and int64 offsets (n + 1)."""
    if isinstance(targets, (str, bytes, bytearray, memoryview)):
        raise TypeError("targets must be a sequence of sequences; wrap a single target in a list")
    try:  # bytes pass as they are (the common case; no per-target name is formatted for them)
        items = [t if type(t) is bytes else as_bytes(t, f"target {i}") for i, t in enumerate(targets)]
    except TypeError as e:
        if "target" in str(e):
            raise
        raise TypeError(f"targets must be a sequence of str/bytes, got {type(targets).__name__}") from None
    if not items:
        raise ValueError("targets is empty: give at least one target sequence")
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, items), np.int64, count=len(items)), out=offsets[1:])
    buf = np.frombuffer(b"".join(items), dtype=np.uint8) if offsets[-1] else np.zeros(0, np.uint8)
    return buf, offsets


def run_on_backend(backend: str, gpu: Callable[[], Any], cpu: Callable[[], Any]) -> Tuple[Any, str, Optional[str]]:
    """Runs ``gpu`` or ``cpu`` as ``backend`` asks: (result, backend used, reason for the CPU).

    With "auto", an input the GPU kernel does not support (ValueError, e.g. an alphabet over
    64 letters) or GPU memory exhaustion falls back to the CPU, which validates on its own.
    """
    used, reason = _backend.resolve(backend)
    if used == "cuda":
        if backend == "cuda":
            return gpu(), "cuda", None
        try:
            return gpu(), "cuda", None
        except (ValueError, MemoryError) as e:
            return cpu(), "cpu", f"GPU kernel declined: {e}"
    return cpu(), "cpu", None if reason is None else f"no GPU: {reason}"
