"""Basins: named hierarchical regions of an Index (topic -> subtopic -> utterance).

Each basin is a path such as ("conversation", "technical", "rust") and owns one
integer label in the index; a basin search is a label-filtered search over the
basin and its descendants down to a depth, so it runs inside the C++ loop like
any other filter. build_basins() creates the paths itself by hierarchical
k-means over the stored vectors, and route() walks the centroids.

The basin map (paths, labels, sentiments, centroids) is saved inside the index
file by Index.save (see _basin_state.py) and picked up by Navigator(index) on a
loaded index, so one atomic file holds both.
"""

from __future__ import annotations

import weakref
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import ClosedError
from . import _basin_state
from ._index import Index, _as_f32_rows
from ._sharded import ShardedIndex

Path = Tuple[str, ...]

# Labels that the Navigator gives its basins start here, so that they do not
# collide with small labels a user sets directly on the index.
_LABEL_BASE = 1 << 40
_UNDER_CACHE_SIZE = 1024  # (basin, depth) label lists kept for basin searches


def _path(path: Any) -> Path:
    if isinstance(path, str):
        path = (path,)
    p = tuple(path)
    if not p or not all(isinstance(s, str) and s for s in p):
        raise ValueError(f"a basin path is a non-empty tuple of non-empty strings, got {path!r}")
    return p


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, max_iter: int,
            n_init: int = 4) -> Tuple[np.ndarray, np.ndarray]:
    """Best of n_init runs (lowest inertia) of Lloyd's k-means with k-means++ seeding (float64)."""
    best = None
    for _ in range(n_init):
        centers, assign = _kmeans_once(x, k, rng, max_iter)
        inertia = float(((x - centers[assign]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, centers, assign)
    return best[1], best[2]


def _kmeans_once(x: np.ndarray, k: int, rng: np.random.Generator, max_iter: int) -> Tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    k = min(k, n)
    centers = np.empty((k, x.shape[1]))
    centers[0] = x[rng.integers(n)]
    d2 = ((x - centers[0]) ** 2).sum(1)
    for c in range(1, k):
        tot = d2.sum()
        i = rng.choice(n, p=d2 / tot) if tot > 0 else rng.integers(n)
        centers[c] = x[i]
        d2 = np.minimum(d2, ((x - centers[c]) ** 2).sum(1))
    assign = np.zeros(n, dtype=np.int64)
    for _ in range(max_iter):
        dist = (x * x).sum(1)[:, None] - 2 * x @ centers.T + (centers * centers).sum(1)[None, :]
        new = dist.argmin(1)
        if _ > 0 and np.array_equal(new, assign):
            break
        assign = new
        for c in range(k):
            m = assign == c
            if m.any():
                centers[c] = x[m].mean(0)
    return centers, assign


def _vad_triple(sentiment: Any) -> Tuple[float, float, float]:
    """(valence, arousal, dominance) as floats; TypeError for anything but three real numbers."""
    if isinstance(sentiment, (str, bytes)) or not hasattr(sentiment, "__len__") or len(sentiment) != 3:
        raise TypeError(f"basin sentiment must be a (valence, arousal, dominance) triple, got {sentiment!r}")
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               for v in sentiment):
        raise TypeError(f"basin sentiment must hold three real numbers, got {sentiment!r}")
    return (float(sentiment[0]), float(sentiment[1]), float(sentiment[2]))


class Navigator:
    """Basins over an Index: ``nav = Navigator(index)``.

    The index saves the basins of the last Navigator made on it; a Navigator
    made on an index starts from the basins the index holds (those loaded with
    it, or a copy of the previous Navigator's).

    Lifetime: the Navigator holds its Index, the Index only a weak reference
    back, so dropping the last reference to a Navigator frees it (and an index
    nobody else holds) at once, without waiting for the cyclic GC; the index
    keeps a copy of the basins for its next save. ``close()`` (or the end of a
    ``with`` block) does the same and then closes the index if this Navigator
    owns it -- one opened by ``Navigator.load`` -- but not an Index the caller
    passed to ``Navigator(index)``, which stays open. After close every
    method raises ClosedError.
    """

    def __init__(self, index: Index) -> None:
        if not isinstance(index, (Index, ShardedIndex)):
            raise TypeError("Navigator needs a superinstance.vector_navigator.Index or ShardedIndex")
        if index.closed:
            raise ClosedError("Index is closed")
        self._closed = False
        self._owns_index = False
        self.index = index
        self._label: Dict[Path, int] = {}
        self._next_label = _LABEL_BASE  # never reused, so rebuilt basins cannot take a live label
        self._labels_version = 0  # bumped whenever _label changes: invalidates _under_cache
        self._under_cache: Dict[Tuple[Path, int], np.ndarray] = {}
        self._under_cache_version = 0
        self._sentiment: Dict[Path, Optional[Tuple[float, float, float]]] = {}
        self._centroid: Dict[Path, np.ndarray] = {}
        self._sums: Dict[Path, Tuple[Any, int]] = {}  # vector sum and count per hand-made basin
        self._centroid_updates = 0  # bumped whenever a centroid moves: invalidates _route_cache
        self._route_cache: Dict[Path, Any] = {}
        self._route_cache_version = -1
        saved = index._basins_bytes()
        if saved:
            st = _basin_state.decode(saved, index.dim)
            self._next_label, self._label, self._sentiment = st.next_label, st.label, st.sentiment
            self._centroid, self._sums = st.centroid, st.sums
        index._navigator = weakref.ref(self)

    def _state_bytes(self) -> bytes:
        """The basin map as saved inside the index file."""
        return _basin_state.encode(_basin_state.state_from(self), self.index.dim)

    # ------------------------------------------------------------ lifetime
    def _require_open(self) -> None:
        if self._closed:
            raise ClosedError("Navigator is closed")

    def _detach(self) -> None:
        """Leave the index a copy of these basins (for its next save) and unlink from it."""
        index = self.__dict__.get("index")
        if index is None or index.closed or index._navigator is None or index._navigator() is not self:
            return
        index._detached_basins = self._state_bytes()
        index._navigator = None

    def close(self) -> None:
        """Detach from the index (which keeps these basins for its next save),
        and close the index if this Navigator opened it (Navigator.load).
        Idempotent."""
        if self._closed:
            return
        self._detach()
        self._closed = True
        if self._owns_index:
            self.index.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Navigator":
        self._require_open()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            return "Navigator(closed)"
        return f"Navigator({self.index!r}, basins={len(self._label)})"

    def __del__(self) -> None:
        try:
            self._detach()
        except Exception:  # interpreter shutdown, a half-made object: nothing to keep
            pass

    # ------------------------------------------------------------ persistence
    def save(self, path: Any) -> None:
        """Save the index with these basins (one atomic file): same as ``index.save``."""
        self._require_open()
        self.index.save(path)

    @classmethod
    def load(cls, path: Any, mmap: bool = False, **kwargs: Any) -> "Navigator":
        """Load an index file and its basins (an index saved without basins gives
        a Navigator without basins). Keyword arguments go to Index.load.
        The Navigator owns the index: close() closes it."""
        index = Index.load(path, mmap, **kwargs)
        try:
            nav = cls(index)
        except BaseException:
            index.close()
            raise
        nav._owns_index = True
        return nav

    # ------------------------------------------------------------ basins
    def create_basin(self, path: Any, sentiment: Optional[Sequence[float]] = None) -> Path:
        """Create a basin (and its missing parents). ``sentiment`` is the VAD
        given to vectors added to it without their own."""
        self._require_open()
        p = _path(path)
        if sentiment is not None:
            s = _vad_triple(sentiment)
            if not (-1 <= s[0] <= 1 and 0 <= s[1] <= 1 and 0 <= s[2] <= 1):
                raise ValueError("basin sentiment must be (valence in [-1,1], arousal in [0,1], dominance in [0,1])")
        else:
            s = None
        for i in range(1, len(p) + 1):
            sub = p[:i]
            if sub not in self._label:
                self._label[sub] = self._next_label
                self._next_label += 1
                self._labels_version += 1
                self._sentiment[sub] = None
        if s is not None:
            self._sentiment[p] = s
        return p

    def basins(self) -> List[Path]:
        self._require_open()
        return sorted(self._label)

    def _require(self, path: Any) -> Path:
        if type(path) is tuple:  # a path as route() gives it: nothing to convert
            try:
                if path in self._label:
                    return path
            except TypeError:  # unhashable parts: _path names the problem
                pass
        p = _path(path)
        if p not in self._label:
            raise KeyError(f"no basin {p!r}; create it with create_basin()")
        return p

    def add(self, path: Any, vectors: Any, ids: Any = None, *, sentiment: Any = None,
            timestamps: Any = None, threads: Optional[int] = None) -> np.ndarray:
        """Add vectors to a basin; returns their ids."""
        self._require_open()
        p = self._require(path)
        x = _as_f32_rows(vectors, "vectors")
        if sentiment is None and self._sentiment.get(p) is not None:
            sentiment = self._sentiment[p]
        out = self.index.add(x, ids, sentiment=sentiment, timestamps=timestamps,
                             labels=np.full(x.shape[0], self._label[p], dtype=np.int64), threads=threads)
        self._accumulate_centroids(p, x)
        return out

    def _accumulate_centroids(self, p: Path, x: np.ndarray) -> None:
        """Keeps the centroid of the vectors added to each basin and its ancestors
        (normalised rows for cosine, as build_basins does), so that route() works
        for basins made by hand. Removals do not move it."""
        rows = x.astype(np.float64)
        if self.index.metric == "cosine":
            rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-30)
        total, n = rows.sum(axis=0), rows.shape[0]
        for depth in range(1, len(p) + 1):
            sub = p[:depth]
            s, count = self._sums.get(sub, (0.0, 0))
            self._sums[sub] = (s + total, count + n)
            self._centroid[sub] = self._sums[sub][0] / self._sums[sub][1]
        self._centroid_updates += 1

    def _labels_under(self, p: Path, depth: int) -> np.ndarray:
        """The labels of basin p and its descendants down to depth levels below
        it, int64 and read-only; kept until the basin map changes (a basin
        search in the token loop asks for the same few basins every tick)."""
        if self._under_cache_version != self._labels_version or len(self._under_cache) >= _UNDER_CACHE_SIZE:
            self._under_cache.clear()
            self._under_cache_version = self._labels_version
        got = self._under_cache.get((p, depth))
        if got is None:
            got = np.array([lab for q, lab in self._label.items()
                            if q[:len(p)] == p and len(q) - len(p) <= depth], dtype=np.int64)
            got.flags.writeable = False
            self._under_cache[(p, depth)] = got
        return got

    def search(self, queries: Any, k: int = 10, *, basin: Any = None, depth: int = 2,
               **kwargs: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Index.search restricted to ``basin`` and its descendants down to
        ``depth`` levels below it (0 = the basin alone); other keyword
        arguments go to Index.search. An id filter (``filter=[ids]`` or
        ``{"ids": [...]}``) narrows the basin search further (both filters
        are applied by the core in one scan); a label filter would replace
        the basin's own and is refused."""
        self._require_open()
        if basin is None:
            return self.index.search(queries, k, **kwargs)
        whole = type(depth) is int or isinstance(depth, np.integer)  # (a bool is refused)
        if not whole or depth < 0:
            raise ValueError(f"depth must be an int >= 0, got {depth!r}")
        p = self._require(basin)
        filt = {"labels": self._labels_under(p, depth)}
        extra = kwargs.pop("filter", None)
        if extra is not None:
            extra = extra if isinstance(extra, Mapping) else {"ids": extra}
            if "labels" in extra:
                raise ValueError("basin search sets the label filter itself; pass basin= or filter={'labels': ...}, "
                                 "not both (filter={'ids': [...]} narrows a basin search)")
            filt.update(extra)  # ids (and any unknown key, for Index.search to name)
        return self.index.search(queries, k, filter=filt, **kwargs)

    def counts(self) -> Dict[Path, int]:
        """Vectors held directly in each basin."""
        self._require_open()
        ids = self.index.ids()
        labels = self.index.payload(ids)["labels"] if len(ids) else np.zeros(0, np.int64)
        vals, cnt = np.unique(labels, return_counts=True)
        by_label = dict(zip(vals.tolist(), cnt.tolist()))
        return {p: int(by_label.get(lab, 0)) for p, lab in self._label.items()}

    def tree(self) -> Dict[str, Any]:
        """Nested dict: name -> {"count": direct vectors, "total": with
        descendants, "sentiment": VAD or None, "children": {...}}."""
        self._require_open()
        counts = self.counts()
        root: Dict[str, Any] = {}
        for p in sorted(self._label, key=len):
            node = root
            for name in p[:-1]:
                node = node[name]["children"]
            node[p[-1]] = {"count": counts[p], "total": 0, "sentiment": self._sentiment.get(p),
                           "children": {}}

        def total(d: Dict[str, Any]) -> int:
            s = 0
            for v in d.values():
                v["total"] = v["count"] + total(v["children"])
                s += v["total"]
            return s

        total(root)
        return root

    # ------------------------------------------------------------ automatic basins
    def build_basins(self, depth: int = 2, branching: int = 8, *, prefix: str = "b", seed: int = 0,
                     max_iter: int = 25) -> List[Path]:
        """Organise every vector of the index into basins by hierarchical
        k-means (at most ``max_iter`` Lloyd iterations per split): ``branching``
        clusters per level, ``depth`` levels deep, named
        (prefix0,), (prefix0, prefix3), ... Vectors get the label of their leaf.
        Replaces basins made by an earlier build. Returns the leaf paths.
        On any error (a read-only index included) the basins are unchanged."""
        self._require_open()
        if not (isinstance(depth, int) and depth >= 1 and isinstance(branching, int) and branching >= 2):
            raise ValueError("depth must be >= 1 and branching >= 2")
        if self.index.read_only:
            raise ValueError("build_basins: this index was loaded with mmap=True and is read-only")
        ids = self.index.ids()
        if len(ids) == 0:
            raise ValueError("build_basins: the index is empty")
        saved = self._basin_maps_copy()
        try:
            return self._build_basins(ids, depth, branching, prefix, seed, max_iter)
        except BaseException:
            self._label, self._sentiment, self._centroid, self._sums, self._next_label = saved
            self._centroid_updates += 1
            self._labels_version += 1
            raise

    def _basin_maps_copy(self) -> Tuple[Any, ...]:
        return (dict(self._label), dict(self._sentiment), dict(self._centroid), dict(self._sums), self._next_label)

    def _build_basins(self, ids: np.ndarray, depth: int, branching: int, prefix: str, seed: int,
                      max_iter: int) -> List[Path]:
        x = self.index.get(ids).astype(np.float64)
        if self.index.metric == "cosine":
            x /= np.linalg.norm(x, axis=1, keepdims=True)
        rng = np.random.default_rng(seed)
        for p in [p for p in self._label if p[0].startswith(prefix) and p[0][len(prefix):].isdigit()]:
            del self._label[p]
            self._labels_version += 1
            self._sentiment.pop(p, None)
            self._centroid.pop(p, None)
            self._sums.pop(p, None)
            self._centroid_updates += 1
        leaves: List[Path] = []
        labels = np.empty(len(ids), dtype=np.int64)

        def split(rows: np.ndarray, parent: Path, level: int) -> None:
            centers, assign = _kmeans(x[rows], branching, rng, max_iter)
            for c in range(centers.shape[0]):
                sub = rows[assign == c]
                if len(sub) == 0:
                    continue
                p = parent + (f"{prefix}{c}",)
                self.create_basin(p)
                self._centroid[p] = centers[c]
                self._centroid_updates += 1
                if level + 1 < depth and len(sub) > branching:
                    split(sub, p, level + 1)
                else:
                    leaves.append(p)
                    labels[sub] = self._label[p]

        split(np.arange(len(ids)), (), 0)
        self.index.set_labels(ids, labels)
        return leaves

    def _children(self, parent: Path):
        """(child paths, their centroids as rows, squared norms) of a basin, or None;
        cached per parent until the centroids change (route() runs every tick)."""
        if self._route_cache_version != self._centroid_updates:
            self._route_cache = {}
            self._route_cache_version = self._centroid_updates
        if parent not in self._route_cache:
            kids = sorted(p for p in self._centroid if len(p) == len(parent) + 1 and p[:len(parent)] == parent)
            if kids:
                m = np.stack([self._centroid[p] for p in kids]).astype(np.float64)
                self._route_cache[parent] = (kids, m, (m * m).sum(axis=1))
            else:
                self._route_cache[parent] = None
        return self._route_cache[parent]

    def route(self, query: Any) -> Path:
        """The path of nearest basin centroids, level by level. Centroids come from
        build_basins() or from the vectors added to hand-made basins."""
        self._require_open()
        if not self._centroid:
            raise ValueError("route() needs basins holding vectors: add() to a basin or call build_basins()")
        q = np.asarray(query)
        if q.dtype.kind not in "fiu":  # complex, bool, object, str: not a real vector
            raise TypeError(f"query must be a real numeric vector, got dtype {q.dtype}")
        q = q.astype(np.float64).ravel()
        if q.shape[0] != self.index.dim or not np.isfinite(q).all():
            raise ValueError(f"query must be a finite vector of dim {self.index.dim}")
        if self.index.metric == "cosine":
            nq = np.linalg.norm(q)
            if nq == 0:
                raise ValueError("query is all zeros (cosine)")
            q = q / nq
        path: Path = ()
        while True:
            level = self._children(path)
            if level is None:
                return path
            kids, matrix, sq_norms = level
            path = kids[int(np.argmin(sq_norms - 2.0 * (matrix @ q)))]  # argmin ||c - q||^2
