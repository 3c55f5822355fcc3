"""The Index facade: defaults, dtype handling and argument checks around
superinstance._core.VectorIndex (which does the work without the GIL)."""

from __future__ import annotations

import ctypes
import os
import threading
import time
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from ..errors import ClosedError, CorruptFileError, UnknownIdError
from . import _basin_state

__all__ = ["Index", "NO_ID", "sentiment_similarity"]

#: The id that pads results when fewer than k vectors pass a filter (score -inf).
NO_ID = np.uint64(2**64 - 1)


def sentiment_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """1 - sqrt(((dv/2)**2 + da**2 + dd**2) / 3) for VAD triples (valence in
    [-1, 1], arousal and dominance in [0, 1]); 1 for equal triples, 0 for
    opposite corners. Computed by the same C++ code as the search loop."""
    return float(_core.vn_sentiment_similarity(tuple(map(float, a)), tuple(map(float, b))))


def _threads(threads: Any) -> Any:
    """None -> 0 (all hardware threads); anything else goes to the core, which checks it."""
    return 0 if threads is None else threads


def _as_f32_rows(x: Any, what: str) -> np.ndarray:
    """Real numbers as C-contiguous float32 rows (one vector becomes one row).
    The number of dimensions is checked here because the facade counts the
    rows (to spread one payload value over them); the binding checks the
    row length, the core the values."""
    a = np.asarray(x)
    if a.dtype == object or a.dtype.kind not in "fiu":
        raise TypeError(f"{what} must be a real numeric array, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{what} must be 1-D (one vector) or 2-D (n, dim), got {a.ndim}-D")
    return np.ascontiguousarray(a, dtype=np.float32)


def _as_labels(labels: Any, what: str = "labels") -> np.ndarray:
    """Integer labels as int64 (floats are refused, not truncated)."""
    la = np.asarray(labels)
    if la.size and la.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integers, got dtype {la.dtype}")
    return la.astype(np.int64, copy=False)


def _broadcast_scalar(a: np.ndarray, n: int) -> np.ndarray:
    """One value (0-d or one entry) repeated n times; any other shape is left for the binding to check."""
    return np.broadcast_to(a, (n,)) if a.ndim == 0 or a.shape == (1,) else a


def _as_ids(ids: Any, what: str = "ids") -> np.ndarray:
    if not isinstance(ids, np.ndarray):
        seq = list(ids) if isinstance(ids, (list, tuple, range)) else None
        if seq is not None and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in seq):
            if any(int(v) < 0 or int(v) >= 2**64 for v in seq):
                raise ValueError(f"{what} must be non-negative integers below 2**64")
            return np.array([int(v) for v in seq], dtype=np.uint64)
    a = np.atleast_1d(np.asarray(ids))
    if a.ndim != 1:
        raise ValueError(f"{what} must be a scalar or 1-D, got {a.ndim}-D")
    if a.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if a.dtype.kind == "u":
        return np.ascontiguousarray(a, dtype=np.uint64)
    if a.dtype.kind == "i":
        if (a < 0).any():
            raise ValueError(f"{what} must be non-negative integers")
        return np.ascontiguousarray(a, dtype=np.uint64)
    if a.dtype == object:
        try:
            vals = [int(v) for v in a]
        except (TypeError, ValueError):
            raise TypeError(f"{what} must be integers") from None
        if any(v < 0 or v >= 2**64 for v in vals):
            raise ValueError(f"{what} must be integers in [0, 2**64)")
        return np.array(vals, dtype=np.uint64)
    raise TypeError(f"{what} must be integers, got dtype {a.dtype}")


_FILTER_KEYS = ("labels", "ids", "time")

# A label filter named by a long list or tuple costs ~25 ns a label to convert
# (12 us for 500 labels: an eighth of a plain HNSW search at 100k x 384), and
# such filters (a tenant's documents, a scope) come again for every query.
# The last few conversions are kept, keyed by the object, with a copy of its
# contents to see a list changed in place (an equal-valued change, 1 -> 1.0,
# keeps the old conversion: the same labels).
_LABEL_CACHE_MIN = 64  # shorter ones convert in ~2 us
_LABEL_CACHE_MAX = 1 << 16  # a kept entry holds the list, a copy and the array: at most ~1.5 MB
_LABEL_CACHE_SIZE = 8
_label_cache: Dict[int, Tuple[Any, Any, np.ndarray]] = {}
_label_cache_lock = threading.Lock()


def _filter_labels(labels: Any) -> np.ndarray:
    """The int64 array of a filter's labels: a ready int64 array as it is (a
    Navigator's basin labels, a caller's own; each numpy call costs
    microseconds when the token loop's other stages have taken the cache), a
    range without a pass over it, a long list or tuple converted once."""
    if type(labels) is np.ndarray and labels.dtype == np.int64 and labels.ndim == 1 and labels.flags.c_contiguous:
        return labels
    if type(labels) is range:
        return np.arange(labels.start, labels.stop, labels.step, dtype=np.int64)
    cacheable = type(labels) in (list, tuple) and _LABEL_CACHE_MIN <= len(labels) <= _LABEL_CACHE_MAX
    if cacheable:
        hit = _label_cache.get(id(labels))
        if hit is not None and hit[0] is labels and hit[1] == labels:
            return hit[2]
    arr = np.ascontiguousarray(_as_labels(labels, "filter labels").ravel())
    if cacheable:
        arr.flags.writeable = False  # shared by every search that names the same list
        with _label_cache_lock:
            if len(_label_cache) >= _LABEL_CACHE_SIZE:
                _label_cache.pop(next(iter(_label_cache)))  # the oldest
            _label_cache[id(labels)] = (labels, labels.copy() if type(labels) is list else labels, arr)
    return arr


def _filter_parts(filter: Any) -> Tuple[Any, Any, Any]:
    """(labels int64, ids uint64, time pair) of a search filter, each None when
    absent; types are checked here, values (NaN, reversed range) by the core."""
    if filter is None:
        return None, None, None
    if type(filter) is not dict and not isinstance(filter, Mapping):  # (an ABC check is slow)
        return None, _as_ids(filter, "filter ids"), None
    for key in filter:
        if key not in _FILTER_KEYS:
            unknown = sorted(map(str, set(filter) - set(_FILTER_KEYS)))
            raise ValueError(f"unknown filter keys {unknown}: use 'labels', 'ids' and/or 'time'")
    f_labels = f_ids = f_time = None
    if "labels" in filter:
        f_labels = _filter_labels(filter["labels"])
    if "ids" in filter:
        f_ids = _as_ids(filter["ids"], "filter ids")
    if "time" in filter:
        f_time = filter["time"]
        if not isinstance(f_time, (tuple, list)) or len(f_time) != 2:
            raise TypeError(f"filter 'time' must be a (t0, t1) pair (None for an open end), got {f_time!r}")
        f_time = tuple(f_time)
    return f_labels, f_ids, f_time


def _payload_fields(payload: Any, sentiment: Any, timestamps: Any, labels: Any) -> Tuple[Any, Any, Any]:
    """(sentiment, timestamps, labels) of an add: the payload dict's entries
    where given, else the keyword arguments."""
    if payload is None:
        return sentiment, timestamps, labels
    if not isinstance(payload, Mapping):
        raise TypeError("payload must be a dict with keys 'sentiment', 'timestamps', 'labels'")
    unknown = set(payload) - {"sentiment", "timestamps", "labels"}
    if unknown:
        raise ValueError(f"unknown payload keys {sorted(unknown)}: use sentiment, timestamps, labels")
    return payload.get("sentiment", sentiment), payload.get("timestamps", timestamps), payload.get("labels", labels)


def _custom_address(metric: Any) -> int:
    addr = getattr(metric, "address", None)  # numba cfunc
    if isinstance(addr, int) and addr:
        return addr
    if isinstance(metric, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return int(ctypes.cast(metric, ctypes.c_void_p).value or 0)
    raise TypeError(
        "metric must be 'cosine', 'ip', 'l2' or a compiled function "
        "float(const float*, const float*, size_t): a numba cfunc or a ctypes function")


class Index:
    """A vector index: ``Index(dim, metric="cosine", kind="flat")``.

    Parameters
    ----------
    dim: vector length.
    metric: "cosine", "ip", "l2", or a custom similarity given as a numba
        ``cfunc("float32(CPointer(float32), CPointer(float32), uintp)")`` or a
        ctypes function of the same C signature (higher = more similar). It is
        called from C++ without the GIL, from several threads.
    kind: "flat" (exact scan) or "hnsw" (approximate graph search).
    dtype: storage of the vectors that searches read: "f32", "f16" (IEEE
        half: half the memory) or "i8" (int8 with one float scale per vector:
        a quarter). f16 / i8 work with both kinds (the HNSW graph is built and
        walked on the codes) and the built-in metrics.
    rerank: with f16 / i8, also keep the float32 vectors and re-score the best
        ``rerank * k`` quantized candidates exactly (None = keep no f32 copy;
        then the vector memory is only the codes).
    M, ef_construction, ef_search: HNSW parameters.
    threads: default number of threads for add/search (None = all cores).

    ``close()`` (or leaving a ``with Index(...) as ix:`` block) frees the
    vectors, graph and id map at once, and unmaps a file opened with
    ``load(path, mmap=True)``; afterwards every method and property raises
    ClosedError (``closed``, ``close`` and ``repr`` still work).
    """

    def __init__(self, dim: int, metric: Any = "cosine", kind: str = "flat", dtype: str = "f32", *,
                 rerank: Optional[int] = None, M: int = 16, ef_construction: int = 200, ef_search: int = 64, seed: int = 0x5EED,
                 threads: Optional[int] = None, _core_index: Any = None) -> None:
        self._metric_obj = None
        # The Navigator whose basins save() writes, as a weak reference: the
        # Navigator holds the Index, and a strong link back would be a cycle
        # that keeps both (and all the vectors) alive until the cyclic GC runs.
        self._navigator: Optional[Any] = None
        self._detached_basins: Optional[bytes] = None  # basins of a Navigator that is gone
        if _core_index is not None:
            self._ix = _core_index
        else:
            fn = 0
            mname = metric
            if not isinstance(metric, str):
                fn = _custom_address(metric)
                self._metric_obj = metric  # keeps the function alive
                mname = "custom"
            # The binding checks the types (and names: metric, kind, dtype),
            # the core the values (dim, M, ef, rerank and their combinations).
            self._ix = _core.VectorIndex(dim, mname, kind, M, ef_construction, ef_search, seed, fn, dtype, rerank)
        if threads is not None:
            _core.vn_check_threads(threads)
        self._threads = _threads(threads)

    # ------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return int(self._ix.dim)

    @property
    def metric(self) -> str:
        return str(self._ix.metric)

    @property
    def kind(self) -> str:
        return str(self._ix.kind)

    @property
    def dtype(self) -> str:
        """Storage of the scanned vectors: "f32", "f16" or "i8"."""
        return str(self._ix.dtype)

    @property
    def rerank(self) -> Optional[int]:
        """Re-ranking factor of a quantized index that keeps f32 vectors, else None."""
        r = int(self._ix.rerank)
        return r or None

    @property
    def vector_bytes(self) -> int:
        """Bytes held by the vectors themselves (codes, scales and any f32 copy)."""
        return int(self._ix.vector_bytes)

    @property
    def read_only(self) -> bool:
        """True when opened with ``load(path, mmap=True)``."""
        return bool(self._ix.read_only)

    @property
    def ef_search(self) -> int:
        return int(self._ix.ef_search)

    @ef_search.setter
    def ef_search(self, ef: int) -> None:
        self._ix.ef_search = ef

    @property
    def memory_bytes(self) -> int:
        """Approximate memory held by vectors, payload, id map and graph."""
        return int(self._ix.memory_bytes)

    def __len__(self) -> int:
        return len(self._ix)

    def __repr__(self) -> str:
        if self._ix.closed:
            return "Index(closed)"
        return f"Index(dim={self.dim}, metric={self.metric!r}, kind={self.kind!r}, size={len(self)})"

    # ------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Free the vectors, graph and id map now (and unmap an mmap-opened
        file); waits for searches running in other threads. Idempotent."""
        self._ix.close()

    @property
    def closed(self) -> bool:
        return bool(self._ix.closed)

    def __enter__(self) -> "Index":
        if self._ix.closed:
            raise ClosedError("Index is closed")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    # ------------------------------------------------------------ mutation
    def add(self, vectors: Any, ids: Any = None, payload: Optional[Mapping[str, Any]] = None, *,
            sentiment: Any = None, timestamps: Any = None, labels: Any = None,
            threads: Optional[int] = None, progress: Any = None, chunk: int = 10_000) -> np.ndarray:
        """Add vectors (n, dim) or one vector (dim,); returns their uint64 ids.

        ids: user ids (unique, not already held), or None to assign new ones.
        payload: a dict with any of "sentiment" (n, 3) VAD rows (a row of NaN
        means none), "timestamps" (n,) seconds (NaN = none), "labels" (n,)
        ints; the keyword arguments of the same names are equivalent.
        Everything is checked first: on any error nothing is stored, whatever
        the batch size and progress setting.

        progress: a callable ``progress(done, total)``, or True for a tqdm bar
        (when tqdm is installed): the vectors then go in chunks of ``chunk``,
        and the callable runs between chunks with the GIL held and no index
        lock held. The whole batch is checked before the first chunk; if a
        later chunk fails all the same (another thread took one of its ids)
        or the callable raises, the chunks already stored are removed again.
        """
        x = _as_f32_rows(vectors, "vectors")
        n = x.shape[0]
        sentiment, timestamps, labels = _payload_fields(payload, sentiment, timestamps, labels)
        # Conversions only (one VAD triple, timestamp or label stands for every
        # row); the binding checks the shapes, the core the values.
        id_arr = None if ids is None else _as_ids(ids)
        vad = None
        if sentiment is not None:
            vad = np.asarray(sentiment, dtype=np.float32)
            vad = np.ascontiguousarray(np.broadcast_to(vad, (n, 3)) if vad.shape == (3,) else vad)
        ts = None
        if timestamps is not None:
            ts = np.ascontiguousarray(_broadcast_scalar(np.asarray(timestamps, dtype=np.float64), n))
        lab = None
        if labels is not None:
            lab = np.ascontiguousarray(_broadcast_scalar(_as_labels(labels), n))
        t = self._threads if threads is None else threads
        if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)):
            raise TypeError(f"chunk must be an int, got {type(chunk).__name__}")
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        if progress is None or progress is False:
            return self._ix.add(x, id_arr, vad, ts, lab, t)
        return self._add_chunked(x, id_arr, vad, ts, lab, t, progress, int(chunk))

    def _add_chunked(self, x, id_arr, vad, ts, lab, t, progress, chunk):
        """add() with progress: the core checks the whole batch first (so that a
        bad row in a later chunk stores nothing), then stores it chunk by chunk.
        A chunk can still fail (another thread took an id between chunks) and
        so can the callback: then the chunks already stored are removed again."""
        n = x.shape[0]
        self._ix.check_add(x, id_arr, vad, ts, lab, t)
        bar = None
        if progress is True:
            try:
                from tqdm import tqdm
                bar = tqdm(total=n, unit="vec")
            except ImportError:
                bar = None
        stored = []
        try:
            for a in range(0, max(n, 1), chunk):
                b = min(n, a + chunk)
                stored.append(self._ix.add(x[a:b], None if id_arr is None else id_arr[a:b],
                                           None if vad is None else vad[a:b], None if ts is None else ts[a:b],
                                           None if lab is None else lab[a:b], t))
                if bar is not None:
                    bar.update(b - a)
                elif callable(progress):
                    progress(b, n)
        except BaseException:  # KeyboardInterrupt in the callback too: all or nothing
            self._remove_stored(np.concatenate(stored) if stored else np.zeros(0, np.uint64))
            raise
        finally:
            if bar is not None:
                bar.close()
        return np.concatenate(stored)

    def _remove_stored(self, ids: np.ndarray) -> None:
        """Undo of an interrupted chunked add: removes those of ids still held
        (another thread may have removed some; a closed index holds none)."""
        if ids.size == 0 or self._ix.closed:
            return
        try:
            self._ix.remove(ids)
        except UnknownIdError:
            self._ix.remove(np.array([i for i in ids.tolist() if self._ix.contains(i)], dtype=np.uint64))

    def remove(self, ids: Any) -> None:
        """Remove ids; UnknownIdError (and nothing removed) if any is not held."""
        self._ix.remove(_as_ids(ids))

    def set_labels(self, ids: Any, labels: Any) -> None:
        """Set the integer labels of held ids (used by filters and basins)."""
        id_arr = _as_ids(ids)
        self._ix.set_labels(id_arr, np.ascontiguousarray(_broadcast_scalar(_as_labels(labels), id_arr.shape[0])))

    # ------------------------------------------------------------ queries
    def search(self, queries: Any, k: int = 10, *, sentiment: Optional[Sequence[float]] = None,
               sentiment_weight: float = 0.0, time_decay: Optional[float] = None,
               now: Optional[float] = None, filter: Any = None, ef: Optional[int] = None,
               exact: bool = False, threads: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
        """The k best vectors for each query: ``(ids uint64, scores float32)``,
        best first; 1-D results for a 1-D query, (nq, k) for a batch.

        score = (1 - w) * similarity + w * sentiment_similarity(sentiment, vad)
        when ``sentiment`` is given (w = sentiment_weight; vectors without VAD
        count 0), then times exp(-time_decay * hours since the vector's
        timestamp) when ``time_decay`` is given (``now`` defaults to
        time.time(); vectors without a timestamp are not decayed).

        filter: a dict of conditions that must all hold: "labels": [...]
        (the row's label is any of them), "ids": [...] (the row's id is one
        of them), "time": (t0, t1) (the row has a timestamp with
        t0 <= t <= t1; None for an open end); or a plain list of ids.
        Results are padded with NO_ID / -inf when fewer than k rows pass.
        The core picks per call between an exact scan of the passing rows
        and a filter-aware graph walk (docs/vector_navigator.md).
        ef (HNSW): candidate list size (default: the index's ef_search).
        exact (HNSW): force the exact scan.
        """
        if (type(queries) is np.ndarray and queries.dtype == np.float32 and type(k) is int and k > 0
                and filter is None and sentiment is None and time_decay is None and not sentiment_weight
                and ef is None and not exact and (threads is None or (type(threads) is int and threads >= 0))
                and 1 <= queries.ndim <= 2):
            # fast path for the plain call: the core checks shape, values and k
            t = self._threads if threads is None else threads
            if queries.ndim == 1:
                ids, scores = self._ix.search(queries[None], k, t, None, 0.0, None, 0.0, None, None, 0, False)
                return ids[0], scores[0]
            return self._ix.search(queries, k, t, None, 0.0, None, 0.0, None, None, 0, False)
        q = np.asarray(queries)
        single = q.ndim == 1
        qa = _as_f32_rows(q, "queries")
        # The binding and the core check k, ef, threads, sentiment,
        # sentiment_weight and time_decay; here only the defaults are filled.
        t_now = 0.0
        if time_decay is not None:
            t_now = time.time() if now is None else now
        f_labels, f_ids, f_time = _filter_parts(filter)
        t = self._threads if threads is None else threads
        ids, scores = self._ix.search(qa, k, t, sentiment, sentiment_weight, time_decay, t_now, f_labels, f_ids,
                                      0 if ef is None else ef, exact, f_time)
        if single:
            return ids[0], scores[0]
        return ids, scores

    def filter_plan(self, filter: Any = None, k: int = 10, *, ef: Optional[int] = None,
                    exact: bool = False) -> Dict[str, Any]:
        """How search() would run this filter: ``{"plan": "none" | "scan" |
        "walk", "passing": live rows that pass}`` ("scan": an exact scan of
        only the passing rows; "walk": the filter-aware HNSW walk; no filter:
        every live row passes). Costs a
        pass over the rows the filter names, no distances."""
        f_labels, f_ids, f_time = _filter_parts(filter)
        return dict(self._ix.filter_plan(k, f_labels, f_ids, f_time, 0 if ef is None else ef, exact))

    def __contains__(self, id: Any) -> bool:
        return self.contains(id)

    def contains(self, id: Any) -> bool:
        """Whether the index holds this id."""
        try:
            v = int(id)
        except (TypeError, ValueError):
            return False
        if v < 0 or v >= 2**64:
            return False
        return bool(self._ix.contains(v))

    def get(self, ids: Any) -> np.ndarray:
        """The stored vectors of ids ((n, dim); (dim,) for one id); UnknownIdError if any is missing."""
        scalar = np.ndim(ids) == 0
        out = self._ix.get(_as_ids(ids))
        return out[0] if scalar else out

    def payload(self, ids: Any) -> Dict[str, np.ndarray]:
        """Per-id payload: sentiment (n, 3), has_sentiment, timestamps (NaN = none), labels."""
        return dict(self._ix.get_payload(_as_ids(ids)))

    def ids(self) -> np.ndarray:
        """Every held id (uint64), in storage order."""
        return self._ix.ids()

    # ------------------------------------------------------------ persistence
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write the index atomically (versioned, CRC-32C checksummed), with the
        basins of the Navigator made on it (or the basins it was loaded with)."""
        self._ix.save(path, self._basins_bytes())

    def _basins_bytes(self) -> bytes:
        """The basin map to save: the attached Navigator's, else that of the
        last Navigator made on this index (kept when it was dropped or
        closed), else the one loaded."""
        nav = self._navigator() if self._navigator is not None else None
        if nav is not None:
            return nav._state_bytes()
        if self._detached_basins is not None:
            return self._detached_basins
        return bytes(self._ix.attachment)

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], mmap: bool = False, *, metric: Any = None,
             threads: Optional[int] = None) -> "Index":
        """Open a saved index. mmap=True maps the vectors read-only (add and
        remove raise). A custom-metric index needs ``metric=`` the same function.
        Corrupt files raise CorruptFileError, newer formats UnsupportedVersionError."""
        fn = 0
        obj = None
        if metric is not None and not isinstance(metric, str):
            fn = _custom_address(metric)
            obj = metric
        core = _core.VectorIndex.load(path, mmap, fn)
        saved = bytes(core.attachment)
        if saved:  # damaged basins fail here, with the file's name, not later in Navigator()
            try:
                _basin_state.decode(saved, int(core.dim))
            except CorruptFileError as e:
                core.close()
                raise CorruptFileError(f"{e}: {os.fspath(path)}") from None
        ix = cls(core.dim, _core_index=core, threads=threads)
        ix._metric_obj = obj
        return ix

