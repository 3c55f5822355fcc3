"""Dynamic-programming kernels with one API for the CPU and the GPU.

Alignment scores (Smith-Waterman local, Needleman-Wunsch global) of one query
against a batch of targets, with a substitution matrix and affine gaps.

Gap convention (parasail's): a gap of ``k`` positions costs
``gap_open + (k - 1) * gap_extend``; ``gap_open`` is the cost of the *first*
gap position. A linear gap penalty ``g`` is ``gap_open = gap_extend = g``.
Penalties are given as non-negative costs.

The CPU kernels run 16 (AVX2) or 32 (AVX-512BW) targets at once in saturating
16-bit lanes and recompute any target whose score may have saturated with the
exact 32-bit kernel, so results are always exact int32 scores.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np

from .. import _core
from .._backend import cuda_module
from ._dp_common import SeqLike, as_bytes, band_arg, pack_targets, run_on_backend

__all__ = [
    "SubstitutionMatrix",
    "BLOSUM62",
    "sw_scores",
    "nw_scores",
    "optimal_path",
    "floyd_warshall",
    "NO_EDGE",
    "rolling_min",
    "rolling_max",
    "dtw",
]

#: Floyd-Warshall's "no edge" / "unreachable" sentinel: 2**30 - 1, so that the
#: sum of two distances never overflows int32.
NO_EDGE: int = int(_core.dp_no_edge)

_BLOSUM62_ALPHABET = "ARNDCQEGHILKMFPSTWYVBZX*"
_BLOSUM62_TEXT = """
      4  -1  -2  -2   0  -1  -1   0  -2  -1  -1  -1  -1  -2  -1   1   0  -3  -2   0  -2  -1   0  -4  # A
     -1   5   0  -2  -3   1   0  -2   0  -3  -2   2  -1  -3  -2  -1  -1  -3  -2  -3  -1   0  -1  -4  # R
     -2   0   6   1  -3   0   0   0   1  -3  -3   0  -2  -3  -2   1   0  -4  -2  -3   3   0  -1  -4  # N
     -2  -2   1   6  -3   0   2  -1  -1  -3  -4  -1  -3  -3  -1   0  -1  -4  -3  -3   4   1  -1  -4  # D
      0  -3  -3  -3   9  -3  -4  -3  -3  -1  -1  -3  -1  -2  -3  -1  -1  -2  -2  -1  -3  -3  -2  -4  # C
     -1   1   0   0  -3   5   2  -2   0  -3  -2   1   0  -3  -1   0  -1  -2  -1  -2   0   3  -1  -4  # Q
     -1   0   0   2  -4   2   5  -2   0  -3  -3   1  -2  -3  -1   0  -1  -3  -2  -2   1   4  -1  -4  # E
      0  -2   0  -1  -3  -2  -2   6  -2  -4  -4  -2  -3  -3  -2   0  -2  -2  -3  -3  -1  -2  -1  -4  # G
     -2   0   1  -1  -3   0   0  -2   8  -3  -3  -1  -2  -1  -2  -1  -2  -2   2  -3   0   0  -1  -4  # H
     -1  -3  -3  -3  -1  -3  -3  -4  -3   4   2  -3   1   0  -3  -2  -1  -3  -1   3  -3  -3  -1  -4  # I
     -1  -2  -3  -4  -1  -2  -3  -4  -3   2   4  -2   2   0  -3  -2  -1  -2  -1   1  -4  -3  -1  -4  # L
     -1   2   0  -1  -3   1   1  -2  -1  -3  -2   5  -1  -3  -1   0  -1  -3  -2  -2   0   1  -1  -4  # K
     -1  -1  -2  -3  -1   0  -2  -3  -2   1   2  -1   5   0  -2  -1  -1  -1  -1   1  -3  -1  -1  -4  # M
     -2  -3  -3  -3  -2  -3  -3  -3  -1   0   0  -3   0   6  -4  -2  -2   1   3  -1  -3  -3  -1  -4  # F
     -1  -2  -2  -1  -3  -1  -1  -2  -2  -3  -3  -1  -2  -4   7  -1  -1  -4  -3  -2  -2  -1  -2  -4  # P
      1  -1   1   0  -1   0   0   0  -1  -2  -2   0  -1  -2  -1   4   1  -3  -2  -2   0   0   0  -4  # S
      0  -1   0  -1  -1  -1  -1  -2  -2  -1  -1  -1  -1  -2  -1   1   5  -2  -2   0  -1  -1   0  -4  # T
     -3  -3  -4  -4  -2  -2  -3  -2  -2  -3  -2  -3  -1   1  -4  -3  -2  11   2  -3  -4  -3  -2  -4  # W
     -2  -2  -2  -3  -2  -1  -2  -3   2  -1  -1  -2  -1   3  -3  -2  -2   2   7  -1  -3  -2  -1  -4  # Y
      0  -3  -3  -3  -1  -2  -2  -3  -3   3   1  -2   1  -1  -2  -2   0  -3  -1   4  -3  -2  -1  -4  # V
     -2  -1   3   4  -3   0   1  -1   0  -3  -4   0  -3  -3  -2   0  -1  -4  -3  -3   4   1  -1  -4  # B
     -1   0   0   1  -3   3   4  -2   0  -3  -3   1  -1  -3  -1   0  -1  -3  -2  -2   1   4  -1  -4  # Z
      0  -1  -1  -1  -2  -1  -1  -1  -1  -1  -1  -1  -1  -1  -2   0   0  -2  -1  -1  -1  -1  -1  -4  # X
     -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4  -4   1  # *
"""


class SubstitutionMatrix:
    """A K x K int8 substitution matrix over an alphabet of K distinct bytes.

    ``scores[a, b]`` is the score of query letter ``alphabet[a]`` against target
    letter ``alphabet[b]``. With ``case_sensitive=False`` (the default) a
    lower-case letter not in the alphabet scores as its upper-case form.
    Any other byte outside the alphabet is an error when aligning.
    """

    def __init__(self, scores: Any, alphabet: Union[str, bytes], *, case_sensitive: bool = False,
                 name: Optional[str] = None) -> None:
        arr = np.asarray(scores)
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
            raise ValueError(f"substitution matrix must be a non-empty square K x K array, got shape {arr.shape}")
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                pass
            else:
                raise TypeError(f"substitution matrix must hold integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < -128 or arr.max() > 127):
            raise ValueError("substitution scores must fit in int8 (-128..127)")
        if not isinstance(alphabet, (str, bytes, bytearray)):  # bytes(5) would be five NUL letters
            raise TypeError(f"alphabet must be str or bytes, got {type(alphabet).__name__}")
        if not isinstance(case_sensitive, (bool, np.bool_)):
            raise TypeError(f"case_sensitive must be a bool, got {type(case_sensitive).__name__}")
        alpha = alphabet.encode("ascii") if isinstance(alphabet, str) else bytes(alphabet)
        if len(alpha) != arr.shape[0]:
            raise ValueError(f"alphabet has {len(alpha)} letters but the matrix is {arr.shape[0]} x {arr.shape[1]}")
        if len(set(alpha)) != len(alpha):
            raise ValueError("alphabet letters must be distinct")
        if len(alpha) > 256:
            raise ValueError("alphabet has more than 256 letters")
        self._scores = np.ascontiguousarray(arr, dtype=np.int8)
        self._scores.setflags(write=False)
        self._alphabet = alpha
        self.name = name
        code = np.full(256, -1, dtype=np.int16)
        for i, b in enumerate(alpha):
            code[b] = i
        if not case_sensitive:
            for i, b in enumerate(alpha):
                lower = bytes([b]).lower()[0]
                if lower != b and code[lower] < 0:
                    code[lower] = i
        code.setflags(write=False)
        self._code_of = code

    @property
    def scores(self) -> np.ndarray:
        """The K x K int8 scores (read-only)."""
        return self._scores

    @property
    def alphabet(self) -> bytes:
        return self._alphabet

    @property
    def code_of(self) -> np.ndarray:
        """int16[256]: residue code of each byte, -1 when not in the alphabet."""
        return self._code_of

    def encode(self, seq: SeqLike) -> np.ndarray:
        """Residue codes (uint8) of a sequence; ValueError naming the first bad byte."""
        b = np.frombuffer(as_bytes(seq, "sequence"), dtype=np.uint8)
        c = self._code_of[b]
        bad = np.flatnonzero(c < 0)
        if bad.size:
            raise ValueError(f"byte {bytes([b[bad[0]]])!r} at position {bad[0]} is not in the alphabet")
        return c.astype(np.uint8)

    def __repr__(self) -> str:
        return f"SubstitutionMatrix({self.name or 'custom'}, alphabet={self._alphabet.decode('latin-1')!r})"


BLOSUM62 = SubstitutionMatrix(
    np.array([[int(v) for v in line.split("#")[0].split()] for line in _BLOSUM62_TEXT.strip().splitlines()],
             dtype=np.int8),
    _BLOSUM62_ALPHABET, name="BLOSUM62")


def _matrix(matrix: Union[str, SubstitutionMatrix]) -> SubstitutionMatrix:
    if isinstance(matrix, SubstitutionMatrix):
        return matrix
    if isinstance(matrix, str) and matrix.lower() == "blosum62":
        return BLOSUM62
    raise TypeError(f"matrix must be a SubstitutionMatrix or 'blosum62', got {matrix!r}")


_MAX_GAP = 1 << 24  # the kernels' limit (checked again by the CPU binding)


def _gap(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
    if v < 0:
        raise ValueError(f"{name} must be >= 0 (a cost, subtracted from the score), got {v}")
    if v > _MAX_GAP:
        raise ValueError(f"{name} = {v} is above 2**24: no gap that long fits a 32-bit score")
    return int(v)


def _threads(threads: Optional[int]) -> int:
    """None -> 0 (all cores); the type is checked here (the GPU path ignores threads), the range
    [0, max threads] by the CPU binding."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be an int or None (0 or None = all cores), got {type(threads).__name__}")
    if threads < 0:
        raise ValueError(f"threads must be >= 0 (0 or None = all cores), got {threads}")
    return int(threads)


def _align(global_: bool, query: SeqLike, targets: Sequence[SeqLike], matrix: Union[str, SubstitutionMatrix],
           gap_open: int, gap_extend: int, threads: Optional[int], backend: str, simd: Optional[str],
           return_info: bool, precision: str):
    if not isinstance(precision, str) or precision not in ("auto", "s32", "s16x2"):
        raise ValueError(f"precision must be 'auto', 's32' or 's16x2', got {precision!r}")
    if not isinstance(return_info, (bool, np.bool_)):
        raise TypeError(f"return_info must be a bool, got {type(return_info).__name__}")
    mat = _matrix(matrix)
    go, ge = _gap("gap_open", gap_open), _gap("gap_extend", gap_extend)
    nthreads = _threads(threads)
    q = np.frombuffer(as_bytes(query, "query"), dtype=np.uint8)
    buf, offsets = pack_targets(targets)
    def gpu():
        return cuda_module().dp_align_scores(q, buf, offsets, mat.code_of, mat.scores, go, ge, global_, precision)

    def cpu():
        return _core.dp_align_scores(q, buf, offsets, mat.code_of, mat.scores, go, ge, global_, nthreads, simd)

    (scores, info), used, reason = run_on_backend(backend, gpu, cpu)
    info = dict(info, backend=used)
    if reason:
        info["reason"] = reason
    return (scores, info) if return_info else scores


def sw_scores(query: SeqLike, targets: Sequence[SeqLike], *, matrix: Union[str, SubstitutionMatrix] = "blosum62",
              gap_open: int = 11, gap_extend: int = 1, threads: Optional[int] = None, backend: str = "auto",
              simd: Optional[str] = None, precision: str = "auto", return_info: bool = False):
    """Smith-Waterman local alignment scores of ``query`` against each target.

    Returns an int32 array with one score per target (0 for an empty sequence).
    ``threads``: CPU threads (None or 0 = all cores). ``backend``: "auto" (GPU
    when usable, else CPU; ``return_info`` says which and why), "cpu" or "cuda"
    (GpuUnavailableError when no GPU is usable). ``simd`` forces a CPU SIMD level
    ("scalar", "avx2", "avx512"). ``precision`` (GPU only): "s32", "s16x2"
    (two targets per 32-bit DPX lane; refused when int16 could overflow) or
    "auto" (s16x2 when bounds prove it exact). With ``return_info=True`` returns
    ``(scores, info)``; info holds the backend, the SIMD level (``simd``), lanes and how many
    targets were recomputed in 32 bits after 16-bit saturation.
    """
    return _align(False, query, targets, matrix, gap_open, gap_extend, threads, backend, simd, return_info, precision)


def nw_scores(query: SeqLike, targets: Sequence[SeqLike], *, matrix: Union[str, SubstitutionMatrix] = "blosum62",
              gap_open: int = 11, gap_extend: int = 1, threads: Optional[int] = None, backend: str = "auto",
              simd: Optional[str] = None, precision: str = "auto", return_info: bool = False):
    """Needleman-Wunsch global alignment scores of ``query`` against each target.

    Same arguments as :func:`sw_scores`. End gaps are penalised like any other
    gap (an empty target scores ``-(gap_open + (len(query) - 1) * gap_extend)``).
    """
    return _align(True, query, targets, matrix, gap_open, gap_extend, threads, backend, simd, return_info, precision)


def _int_or_float(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind in "iub":
        if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
            raise ValueError(f"{what}: integer values must fit in int32")
        return np.ascontiguousarray(a, dtype=np.int32)
    if a.dtype.kind == "f":
        return np.ascontiguousarray(a, dtype=np.float32)
    raise TypeError(f"{what}: expected an int32 or float32 array, got dtype {a.dtype}")


def optimal_path(cost: Any, *, threads: Optional[int] = None, backend: str = "auto"):
    """The seed's optimal path: one row per column, moving at most one row between
    neighbouring columns, minimising the total cost.

    ``cost``: (rows, cols) or a batch (batch, rows, cols), integer (computed as
    int32, totals in int64) or float (computed as float32, totals accumulated in
    float64). Returns ``(total, path)``: for one matrix a scalar and an int32
    array of ``cols`` row indices; for a batch, arrays of shape (batch,) and
    (batch, cols). Ties go to the smallest row index.
    """
    a = _int_or_float(cost, "cost")
    if a.ndim not in (2, 3):
        raise ValueError(f"cost must be (rows, cols) or (batch, rows, cols), got shape {a.shape}")
    single = a.ndim == 2
    a3 = a[None] if single else a
    # The binding checks the shape (zero rows / columns), the core the values (NaN, infinity).
    nthreads = _threads(threads)
    suffix = "i32" if a.dtype == np.int32 else "f32"
    (total, path), _, _ = run_on_backend(
        backend, lambda: getattr(cuda_module(), "dp_optimal_path_" + suffix)(a3),
        lambda: getattr(_core, "dp_optimal_path_" + suffix)(a3, nthreads))
    return (total[0], path[0]) if single else (total, path)


def floyd_warshall(weights: Any, *, threads: Optional[int] = None, backend: str = "auto",
                   simd: Optional[str] = None) -> np.ndarray:
    """All-pairs shortest path lengths of a directed graph with int32 weights.

    ``weights[i, j]`` is the weight of edge i -> j, or :data:`NO_EDGE` when there
    is none. Negative weights are allowed; a negative cycle raises ValueError.
    Requires ``(n - 1) * max|w| < 2**29``. The CPU runs a blocked algorithm on
    ``threads`` threads (None = all cores) with SIMD rows (``simd`` forces one). Returns an int32 (n, n) matrix with
    :data:`NO_EDGE` where j is unreachable from i.
    """
    w = np.asarray(weights)
    if w.dtype.kind not in "iu":
        raise TypeError(f"weights must be an integer array (int32), got dtype {w.dtype}")
    # Conversion only (int32 must hold every weight); the binding checks the
    # shape, the core the range (|w| <= NO_EDGE, no negative cycle).
    w = _int_or_float(w, "weights")
    nthreads = _threads(threads)
    return run_on_backend(backend, lambda: cuda_module().dp_floyd_warshall_i32(w),
                          lambda: _core.dp_floyd_warshall_i32(w, nthreads, simd))[0]


def _rolling(x: Any, window: int, want_max: bool, threads: Optional[int], backend: str) -> np.ndarray:
    a = _int_or_float(x, "series")
    if a.ndim not in (1, 2):
        raise ValueError(f"series must be 1-D or 2-D (batch, n), got shape {a.shape}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise TypeError("window must be an integer")
    a2 = a[None] if a.ndim == 1 else a
    # The binding checks the window against the series length, the core the values (NaN).
    nthreads = _threads(threads)
    name = "dp_rolling_minmax_" + ("i32" if a.dtype == np.int32 else "f32")
    out = run_on_backend(backend, lambda: getattr(cuda_module(), name)(a2, int(window), want_max),
                         lambda: getattr(_core, name)(a2, int(window), want_max, nthreads))[0]
    return out[0] if a.ndim == 1 else out


def rolling_min(x: Any, window: int, *, threads: Optional[int] = None, backend: str = "auto") -> np.ndarray:
    """Minimum of each full window: ``out[..., i] = x[..., i:i + window].min()``
    (length n - window + 1), for int32 or float32 series, 1-D or (batch, n)."""
    return _rolling(x, window, False, threads, backend)


def rolling_max(x: Any, window: int, *, threads: Optional[int] = None, backend: str = "auto") -> np.ndarray:
    """Maximum of each full window; see :func:`rolling_min`."""
    return _rolling(x, window, True, threads, backend)


def dtw(a: Any, b: Any, *, band: Optional[int] = None, threads: Optional[int] = None, backend: str = "auto"):
    """Dynamic time warping distance with ``|a_i - b_j|`` costs.

    ``a``, ``b``: two 1-D series (returns a float), or two batches (batch, la)
    and (batch, lb) compared pairwise (returns float64 (batch,)). Values are
    float32; sums accumulate in float64. ``band``: Sakoe-Chiba band, cells with
    ``|i - j| > band`` are excluded (the distance is inf when ``|la - lb| > band``).
    """
    x = np.ascontiguousarray(a, dtype=np.float32)
    y = np.ascontiguousarray(b, dtype=np.float32)
    if x.ndim != y.ndim or x.ndim not in (1, 2):
        raise ValueError(f"a and b must both be 1-D series or both 2-D batches, got shapes {x.shape} and {y.shape}")
    single = x.ndim == 1
    x2, y2 = (x[None], y[None]) if single else (x, y)
    # The binding checks the batch sizes, the core empty series and the values (NaN, infinity).
    bnd = band_arg(band, x2.shape[1], y2.shape[1])
    nthreads = _threads(threads)
    out = run_on_backend(backend, lambda: cuda_module().dp_dtw_f32(x2, y2, bnd),
                         lambda: _core.dp_dtw_f32(x2, y2, bnd, nthreads))[0]
    return float(out[0]) if single else out
