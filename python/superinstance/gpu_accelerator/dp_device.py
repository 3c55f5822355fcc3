"""Stream-ordered launches of the DP kernels on device memory, capturable into a Graph.

The functions of :mod:`~superinstance.gpu_accelerator.dp` take host arrays and
allocate, copy and synchronise inside. These take device arrays (anything
:func:`~superinstance.gpu_accelerator.as_device_array` accepts: our
``DeviceArray``, CuPy arrays, PyTorch CUDA tensors) and a ``Stream``, and only
launch kernels on it: no allocation, no host copy, no synchronisation. So they
can run inside ``with graph.capture(stream): ...``::

    plan = sw_plan(query, [len(t) for t in targets])     # layout + constants, once
    stream, status, g = Stream(), DeviceStatus(), Graph()
    dt = DeviceArray.from_host(plan.pack(targets), stream)  # order copies on the launches' stream
    ds = DeviceArray((plan.n_targets,), np.int32)
    with g.capture(stream):
        status.reset(stream)
        plan.launch(dt, ds, stream, status)
    g.instantiate()
    dt.copy_from_host(plan.pack(new_targets_of_the_same_lengths), stream)
    g.launch(stream)
    status.check(stream)                                  # ValueError if a byte was not in the alphabet
    scores = ds.to_host()                                  # after check(stream) synchronised it

Shapes, dtypes, sizes and scalar arguments are checked on the host before
anything is launched (TypeError / ValueError). Values live on the device and are
checked by the kernels: each launch takes an optional :class:`DeviceStatus`, into
which the kernels OR a bit for a NaN, a residue outside the alphabet, a weight
out of range or a negative cycle; ``status.check(stream)`` raises the ValueError
(outputs of a flagged launch are unspecified). Scratch memory is allocated by
the helpers here (:func:`optimal_path_workspace`, :func:`dtw_workspace`, an
:class:`AlignPlan`'s own workspace), outside any capture.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import ClosedError
from .._backend import cuda_module
from ._dp_common import SeqLike, as_bytes, band_arg
from .dp import SubstitutionMatrix, _gap, _matrix
from .memory import DeviceArray, as_device_array, stream_handle

__all__ = [
    "DeviceStatus",
    "AlignPlan",
    "sw_plan",
    "nw_plan",
    "optimal_path_workspace_bytes",
    "optimal_path_workspace",
    "optimal_path_device",
    "floyd_warshall_device",
    "rolling_min_device",
    "rolling_max_device",
    "dtw_workspace_bytes",
    "dtw_workspace",
    "dtw_device",
]


def _device_array(obj: Any, name: str, dtype, ndim: int):
    """``obj`` as a DeviceArray of ``dtype`` with ``ndim`` dimensions, or TypeError/ValueError."""
    a = as_device_array(obj)
    if a.dtype != np.dtype(dtype):
        raise TypeError(f"{name} must be a {np.dtype(dtype)} device array, got {a.dtype}")
    if len(a.shape) != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(a.shape)}")
    return a


def _expect_shape(a, name: str, shape: Tuple[int, ...]) -> None:
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(a.shape)}")


def _status_ptr(status: Optional["DeviceStatus"]) -> int:
    if status is None:
        return 0
    if not isinstance(status, DeviceStatus):
        raise TypeError(f"status must be a DeviceStatus or None, got {type(status).__name__}")
    return status.ptr


def _workspace(workspace: Any, need: int, name: str):
    w = as_device_array(workspace)
    if w.nbytes < need:
        raise ValueError(f"{name}: workspace has {w.nbytes} bytes, needs {need} (allocate it with the helper)")
    return w


class DeviceStatus:
    """One int32 on the device into which the DP kernels OR error bits.

    ``reset(stream)`` zeroes it (capturable); ``check(stream)`` synchronises
    ``stream``, reads it and raises ValueError naming every problem found
    (not capturable: call it after the launch or graph replay)."""

    def __init__(self, device: int = 0):
        self._a = DeviceArray((1,), np.int32, device)
        self._a.fill_zero()

    def _live(self) -> DeviceArray:
        if self._a.closed:
            raise ClosedError("DeviceStatus is closed")
        return self._a

    @property
    def ptr(self) -> int:
        return self._live().ptr

    @property
    def closed(self) -> bool:
        return self._a.closed

    def reset(self, stream: Any = None) -> None:
        self._live().fill_zero(stream)

    def bits(self, stream: Any = None) -> int:
        """The bits set so far, after the work queued on ``stream`` (None, or a handle
        without ``synchronize()``: after all work on the device)."""
        self._live()
        if hasattr(stream, "synchronize"):
            stream.synchronize()
        else:
            cuda_module().device_synchronize()
        return int(self._a.to_host()[0])

    def check(self, stream: Any = None) -> None:
        bits = self.bits(stream)
        if bits:
            raise ValueError(cuda_module().dp_status_message(bits))

    def close(self) -> None:
        self._a.close()

    def __enter__(self) -> "DeviceStatus":
        self._live()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _lengths(target_lengths: Any) -> np.ndarray:
    lengths = np.asarray(target_lengths)
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(f"target_lengths must be a non-empty 1-D sequence, got shape {lengths.shape}")
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"target_lengths must be integers, got dtype {lengths.dtype}")
    if (lengths < 0).any():
        raise ValueError("target_lengths must be >= 0")
    return lengths.astype(np.int64)


class AlignPlan:
    """Alignment scores of one query against targets of fixed lengths, on the GPU.

    The layout (targets sorted by length into teams of threads), the encoded
    query and the substitution matrix are prepared once and uploaded, and the
    plan allocates its own workspace (so one plan launches on one stream at a
    time; pass ``workspace=`` to launch concurrently). ``launch`` then aligns
    any targets with these lengths: ``targets`` is a uint8 device array holding
    the targets back to back (:meth:`pack` builds it on the host), ``scores``
    an int32 device array of ``n_targets``. Same scores as
    :func:`~superinstance.gpu_accelerator.sw_scores` / ``nw_scores``. A byte outside the
    alphabet sets a :class:`DeviceStatus` bit (with an empty query no residue is read, so
    none is checked: the scores depend on the lengths only). Make plans outside a capture.
    """

    def __init__(self, query: SeqLike, target_lengths: Sequence[int], *, global_: bool = False,
                 matrix: Union[str, SubstitutionMatrix] = "blosum62", gap_open: int = 11, gap_extend: int = 1,
                 precision: str = "auto", device: int = 0):
        if precision not in ("auto", "s32", "s16x2"):
            raise ValueError(f"precision must be 'auto', 's32' or 's16x2', got {precision!r}")
        self.matrix = _matrix(matrix)
        go, ge = _gap("gap_open", gap_open), _gap("gap_extend", gap_extend)
        q = np.frombuffer(as_bytes(query, "query"), dtype=np.uint8)
        lengths = _lengths(target_lengths)
        self._offsets = np.zeros(lengths.size + 1, np.int64)
        np.cumsum(lengths, out=self._offsets[1:])
        self._offsets.setflags(write=False)
        self._plan = cuda_module().DpAlignPlan(q, self._offsets, self.matrix.code_of, self.matrix.scores, go, ge,
                                               bool(global_), precision, True, device)
        self.global_ = bool(global_)
        self._ws = DeviceArray((max(self._plan.workspace_bytes, 1),), np.uint8, device)

    @property
    def _live(self):
        if self._plan is None:
            raise ClosedError("AlignPlan is closed")
        return self._plan

    @property
    def n_targets(self) -> int:
        return self._live.n_targets

    @property
    def target_bytes(self) -> int:
        """Bytes of ``targets`` that launch() reads."""
        return self._live.target_bytes

    @property
    def workspace_bytes(self) -> int:
        return self._live.workspace_bytes

    @property
    def offsets(self) -> np.ndarray:
        """Where target i lies in the packed buffer: ``[offsets[i], offsets[i + 1])``."""
        self._live
        return self._offsets

    @property
    def variant(self) -> str:
        """The DPX variant chosen: "s32" or "s16x2" (two targets per 32-bit lane)."""
        return self._live.variant

    @property
    def team(self) -> int:
        return self._live.team

    def pack(self, targets: Sequence[SeqLike]) -> np.ndarray:
        """The targets back to back as a uint8 host array, checked against the plan's lengths."""
        self._live
        if isinstance(targets, (str, bytes, bytearray, memoryview)):
            raise TypeError("targets must be a sequence of sequences; wrap a single target in a list")
        items = [as_bytes(t, f"target {i}") for i, t in enumerate(targets)]
        if len(items) != self.n_targets:
            raise ValueError(f"the plan has {self.n_targets} targets, got {len(items)}")
        got = np.array([len(t) for t in items], np.int64)
        bad = np.flatnonzero(got != np.diff(self._offsets))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"target {i} has length {got[i]}, the plan expects {self._offsets[i + 1] - self._offsets[i]}")
        return np.frombuffer(b"".join(items), np.uint8) if self.target_bytes else np.zeros(1, np.uint8)

    def launch(self, targets: Any, scores: Any, stream: Any = None, status: Optional[DeviceStatus] = None,
               workspace: Any = None) -> None:
        """Queue gather, DP and scatter kernels on ``stream`` (asynchronous; capturable)."""
        self._live
        t = _device_array(targets, "targets", np.uint8, 1)
        if t.size < self.target_bytes:
            raise ValueError(f"targets has {t.size} bytes, the plan reads {self.target_bytes}")
        s = _device_array(scores, "scores", np.int32, 1)
        _expect_shape(s, "scores", (self.n_targets,))
        ws = self._ws if workspace is None else _workspace(workspace, self.workspace_bytes, "alignment")
        self._live.launch(t.ptr, s.ptr, ws.ptr, ws.nbytes, _status_ptr(status), stream_handle(stream))

    def close(self) -> None:
        """Free the plan's device constants and workspace. Idempotent."""
        self._plan = None
        if self._ws is not None:
            self._ws.close()
        self._ws = None

    @property
    def closed(self) -> bool:
        return self._plan is None

    def __enter__(self) -> "AlignPlan":
        self._live
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if getattr(self, "_plan", None) is None:
            return "AlignPlan(closed)"
        kind = "global" if self.global_ else "local"
        return f"AlignPlan({kind}, {self.n_targets} targets, variant={self.variant!r}, team={self.team})"


def sw_plan(query: SeqLike, target_lengths: Sequence[int], **kwargs) -> AlignPlan:
    """An :class:`AlignPlan` for Smith-Waterman (local) scores."""
    return AlignPlan(query, target_lengths, global_=False, **kwargs)


def nw_plan(query: SeqLike, target_lengths: Sequence[int], **kwargs) -> AlignPlan:
    """An :class:`AlignPlan` for Needleman-Wunsch (global) scores."""
    return AlignPlan(query, target_lengths, global_=True, **kwargs)


# ------------------------------------------------------------------ optimal path
def _path_dtype(dtype) -> Tuple[bool, np.dtype]:
    dt = np.dtype(dtype)
    if dt == np.int32:
        return False, np.dtype(np.int64)
    if dt == np.float32:
        return True, np.dtype(np.float64)
    raise TypeError(f"cost must be int32 or float32, got {dt}")


def optimal_path_workspace_bytes(shape: Sequence[int], dtype) -> int:
    """Scratch bytes :func:`optimal_path_device` needs for a (batch, rows, cols) cost of ``dtype``."""
    f32, _ = _path_dtype(dtype)
    if len(shape) != 3:
        raise ValueError(f"cost shape must be (batch, rows, cols), got {tuple(shape)}")
    b, r, c = (int(s) for s in shape)
    return cuda_module().dp_optimal_path_workspace_bytes(f32, b, r, c)


def optimal_path_workspace(shape: Sequence[int], dtype, device: int = 0):
    """A device workspace for :func:`optimal_path_device` (allocate it outside a capture)."""
    return DeviceArray((max(optimal_path_workspace_bytes(shape, dtype), 1),), np.uint8, device)


def optimal_path_device(cost: Any, total: Any, path: Any, workspace: Any, stream: Any = None,
                        status: Optional[DeviceStatus] = None) -> None:
    """The optimal path of each (rows, cols) matrix of ``cost`` (batch, rows, cols), int32 or
    float32: ``total`` (batch,) int64 / float64, ``path`` (batch, cols) int32. Status bits: an
    int32 cost with ``max|cost| * cols >= 2**30``, a NaN or infinite float cost."""
    c = as_device_array(cost)
    f32, total_dtype = _path_dtype(c.dtype)
    if len(c.shape) != 3:
        raise ValueError(f"cost must be 3-D (batch, rows, cols), got shape {tuple(c.shape)}")
    b, r, cols = c.shape
    t = _device_array(total, "total", total_dtype, 1)
    _expect_shape(t, "total", (b,))
    p = _device_array(path, "path", np.int32, 2)
    _expect_shape(p, "path", (b, cols))
    need = optimal_path_workspace_bytes(c.shape, c.dtype)
    w = _workspace(workspace, need, "optimal path")
    cuda_module().dp_launch_optimal_path(f32, c.ptr, b, r, cols, t.ptr, p.ptr, w.ptr, w.nbytes,
                                         _status_ptr(status), stream_handle(stream))


# ------------------------------------------------------------------ Floyd-Warshall
def floyd_warshall_device(dist: Any, stream: Any = None, status: Optional[DeviceStatus] = None) -> None:
    """All-pairs shortest paths in place on an (n, n) int32 device array of weights
    (:data:`~superinstance.gpu_accelerator.NO_EDGE` for a missing edge). Status bits: a weight
    out of range (see ``floyd_warshall``), a negative cycle."""
    d = _device_array(dist, "dist", np.int32, 2)
    if d.shape[0] != d.shape[1]:
        raise ValueError(f"dist must be square (n, n), got shape {tuple(d.shape)}")
    cuda_module().dp_launch_floyd_warshall_i32(d.ptr, d.shape[0], _status_ptr(status), stream_handle(stream))


# ------------------------------------------------------------------ rolling min / max
def _rolling_device(x: Any, window: int, out: Any, want_max: bool, stream: Any, status) -> None:
    a = as_device_array(x)
    if a.dtype not in (np.dtype(np.int32), np.dtype(np.float32)):
        raise TypeError(f"x must be an int32 or float32 device array, got {a.dtype}")
    if len(a.shape) != 2:
        raise ValueError(f"x must be 2-D (batch, n), got shape {tuple(a.shape)}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise TypeError("window must be an integer")
    b, n = a.shape
    if not 1 <= window <= n:
        raise ValueError(f"window must be in 1..{n} (the series length), got {window}")
    o = _device_array(out, "out", a.dtype, 2)
    _expect_shape(o, "out", (b, n - window + 1))
    cuda_module().dp_launch_rolling_minmax(a.dtype == np.float32, a.ptr, b, n, int(window), want_max, o.ptr,
                                           _status_ptr(status), stream_handle(stream))


def rolling_min_device(x: Any, window: int, out: Any, stream: Any = None,
                       status: Optional[DeviceStatus] = None) -> None:
    """``out[b, i] = x[b, i:i + window].min()`` for an int32 or float32 (batch, n) device array;
    ``out`` (batch, n - window + 1) of the same dtype. Status bit: a NaN in x."""
    _rolling_device(x, window, out, False, stream, status)


def rolling_max_device(x: Any, window: int, out: Any, stream: Any = None,
                       status: Optional[DeviceStatus] = None) -> None:
    """The maximum of each window; see :func:`rolling_min_device`."""
    _rolling_device(x, window, out, True, stream, status)


# ------------------------------------------------------------------ DTW
def dtw_workspace_bytes(batch: int, lb: int) -> int:
    """Scratch bytes :func:`dtw_device` needs (two float64 rows of length ``lb`` per pair)."""
    return cuda_module().dp_dtw_workspace_bytes(int(batch), int(lb))


def dtw_workspace(batch: int, lb: int, device: int = 0):
    """A device workspace for :func:`dtw_device` (allocate it outside a capture)."""
    return DeviceArray((max(dtw_workspace_bytes(batch, lb), 1),), np.uint8, device)


def dtw_device(a: Any, b: Any, out: Any, workspace: Any, band: Optional[int] = None, stream: Any = None,
               status: Optional[DeviceStatus] = None) -> None:
    """DTW distances of the pairs (a[k], b[k]): ``a`` (batch, la) and ``b`` (batch, lb) float32,
    ``out`` (batch,) float64. Status bit: a NaN or infinite value."""
    x = _device_array(a, "a", np.float32, 2)
    y = _device_array(b, "b", np.float32, 2)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"a and b must have the same batch size, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[1] == 0 or y.shape[1] == 0:
        raise ValueError("dtw: series must not be empty")
    bnd = band_arg(band, x.shape[1], y.shape[1])
    o = _device_array(out, "out", np.float64, 1)
    _expect_shape(o, "out", (x.shape[0],))
    w = _workspace(workspace, dtw_workspace_bytes(x.shape[0], y.shape[1]), "dtw")
    cuda_module().dp_launch_dtw_f32(x.ptr, y.ptr, x.shape[0], x.shape[1], y.shape[1], bnd,
                                    o.ptr, w.ptr, w.nbytes, _status_ptr(status), stream_handle(stream))
