"""ShardedIndex: one vector index spread over Ray actors (shards x replicas).

Each shard is an ``Index`` held by ``replicas`` Ray actors (ShardReplica in
_shard_actor.py). Ids are routed to shards by a stable hash (splitmix64 of the
id, modulo the shard count), so a given id always lives on the same shard and
``get`` / ``remove`` / an id filter reach only the shards that can hold it.
``search`` scatters the query to one replica of every shard and merges the
per-shard top-k exactly (score, then the lower id on ties).

Writes (add / remove / set_labels) are checked on every shard first and then
applied to every replica; one is acknowledged when each shard has it on at
least one live replica. With ``replicas >= 2`` the driver keeps each shard's
writes since its last save (as Ray object references), so that a replica whose
actor died is restarted from that save plus those writes. Ray is imported only
when a ShardedIndex is made: ``import superinstance`` works without it.
"""

from __future__ import annotations

import json
import os
import re
import struct
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import storage
from ..errors import ClosedError, CorruptFileError, ShardUnavailableError, UnknownIdError
from ._index import NO_ID, Index, _as_f32_rows, _as_ids, _payload_fields
from ._shard_actor import ShardReplica

__all__ = ["ShardedIndex", "ShardUnavailableError", "shard_of"]

MANIFEST = "manifest.sif"
_MANIFEST_KIND = "vecnav-sharded"
_MANIFEST_VERSION = 1
_INSTALL_HINT = "ShardedIndex needs Ray: pip install 'superinstance[distributed]' (or pip install ray)"


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ImportError(f"{_INSTALL_HINT} ({e})") from None
    return ray


_ACTOR_CLASS: Any = None


def _actor_class() -> Any:
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        _ACTOR_CLASS = _ray().remote(ShardReplica)
    return _ACTOR_CLASS


def shard_of(ids: Any, shards: int) -> np.ndarray:
    """The shard of each id: splitmix64(id) mod shards (stable across runs,
    processes and machines)."""
    z = np.asarray(ids, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z % np.uint64(shards)).astype(np.int64)


def _count_arg(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _unwrap(ray: Any, e: BaseException) -> BaseException:
    """The user's exception inside a RayTaskError (e.g. the Index's ValueError)."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, BaseException) else e


class _Replica:
    """A replica's actor handle and, while it restarts, the restore call's reference."""

    __slots__ = ("handle", "pending", "dead", "restarts")

    def __init__(self, handle: Any, pending: Any = None) -> None:
        self.handle, self.pending, self.dead, self.restarts = handle, pending, False, 0


class _AddBatch:
    """The columns of one add, converted as Index.add converts them."""

    def __init__(self, x: np.ndarray, ids: np.ndarray, sentiment: Any, timestamps: Any, labels: Any) -> None:
        self.x, self.ids, self.sentiment, self.timestamps, self.labels = x, ids, sentiment, timestamps, labels

    def rows(self, sel: np.ndarray, threads: Any) -> Tuple[Any, ...]:
        def pick(a: Any) -> Any:
            return None if a is None else np.ascontiguousarray(a[sel])
        return (pick(self.x), pick(self.ids), pick(self.sentiment), pick(self.timestamps), pick(self.labels),
                threads)


def _payload_columns(n: int, payload: Any, sentiment: Any, timestamps: Any, labels: Any) -> Tuple[Any, Any, Any]:
    sentiment, timestamps, labels = _payload_fields(payload, sentiment, timestamps, labels)
    if sentiment is not None:
        sentiment = np.asarray(sentiment, dtype=np.float32)
        if sentiment.shape == (3,):
            sentiment = np.broadcast_to(sentiment, (n, 3))
        if sentiment.shape != (n, 3):
            raise ValueError(f"sentiment must have shape ({n}, 3) or (3,), got {sentiment.shape}")
    if timestamps is not None:
        timestamps = np.broadcast_to(np.asarray(timestamps, dtype=np.float64), (n,))
    if labels is not None:
        la = np.asarray(labels)
        if la.dtype.kind not in "iu":
            raise TypeError(f"labels must be integers, got dtype {la.dtype}")
        labels = np.broadcast_to(la.astype(np.int64), (n,))
    return sentiment, timestamps, labels


def _check_finite_rows(x: np.ndarray, metric: str) -> None:
    """NaN / Inf (and all-zero rows under cosine) named by the caller's row
    number: a shard would name its own row number."""
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"vector {r} contains NaN or Inf (position {int(np.argmax(~np.isfinite(x[r])))})")
    if metric == "cosine":
        zero = ~x.any(axis=1)
        if zero.any():
            raise ValueError(f"vector {int(np.argmax(zero))} is all zeros (cosine needs a direction)")


def _decode_hits(raw: bytes, nq: int, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """A shard's search reply: nq x k uint64 ids, then nq x k float32 scores."""
    ids = np.frombuffer(raw, dtype=np.uint64, count=nq * k).reshape(nq, k)
    scores = np.frombuffer(raw, dtype=np.float32, offset=nq * k * 8).reshape(nq, k)
    return ids, scores


def _merge_topk(parts: List[Tuple[np.ndarray, np.ndarray]], nq: int, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Exact merge of per-shard top lists: higher score first, lower id on ties
    (NO_ID / -inf padding last)."""
    if not parts:
        return np.full((nq, k), NO_ID, np.uint64), np.full((nq, k), -np.inf, np.float32)
    ids = np.concatenate([p[0] for p in parts], axis=1)
    scores = np.concatenate([p[1] for p in parts], axis=1)
    if ids.shape[1] < k:
        pad = k - ids.shape[1]
        ids = np.concatenate([ids, np.full((nq, pad), NO_ID, np.uint64)], axis=1)
        scores = np.concatenate([scores, np.full((nq, pad), -np.inf, np.float32)], axis=1)
    order = np.lexsort((ids, -scores), axis=-1)[:, :k]
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(scores, order, axis=1)


def _filter_parts(filter: Any) -> Tuple[Optional[Any], Optional[np.ndarray]]:
    """(labels or None, ids or None) of a search filter, as Index.search reads it."""
    if filter is None:
        return None, None
    if isinstance(filter, Mapping):
        unknown = set(filter) - {"labels", "ids"}
        if unknown:
            raise ValueError(f"unknown filter keys {sorted(unknown)}: use 'labels' and/or 'ids'")
        ids = _as_ids(filter["ids"], "filter ids") if "ids" in filter else None
        return filter.get("labels"), ids
    return None, _as_ids(filter, "filter ids")


class ShardedIndex:
    """``ShardedIndex(dim, shards=4, replicas=1, metric="cosine", kind="flat", **index_options)``:
    an Index spread over ``shards x replicas`` Ray actors.

    index_options go to every shard's ``Index`` (dtype, rerank, M,
    ef_construction, ef_search, seed). ``threads`` is each shard's default
    thread count for add and search (None = all cores of its node).
    ``actor_options`` go to Ray's ``.options()`` of every actor (num_cpus,
    memory, resources, scheduling_strategy; replicas are spread by default).
    ``recover_timeout`` (s): how long a search waits for a restarting replica
    when no other replica of its shard is ready.

    Ray is started with ``ray.init()`` when no instance is running; on a
    cluster call ``ray.init(address=...)`` first. Custom (compiled) metrics
    are not supported: a function pointer does not travel to another process.
    """

    def __init__(self, dim: int, shards: int = 4, replicas: int = 1, metric: str = "cosine", kind: str = "flat", *,
                 threads: Optional[int] = None, actor_options: Optional[Mapping[str, Any]] = None,
                 recover_timeout: float = 60.0, **index_options: Any) -> None:
        spec = self._check_spec(dim, metric, kind, threads, index_options)
        self._setup(spec, _count_arg(shards, "shards"), _count_arg(replicas, "replicas"), actor_options,
                    recover_timeout)
        self._next_id = 0
        self._counts = [0] * self._shards
        self._start_actors(lambda handle, s: handle.create.remote())

    @staticmethod
    def _check_spec(dim: Any, metric: Any, kind: Any, threads: Any, options: Dict[str, Any]) -> Dict[str, Any]:
        if not isinstance(metric, str):
            raise TypeError("ShardedIndex supports the metrics 'cosine', 'ip' and 'l2' (a compiled custom "
                            "metric cannot be sent to the shard processes)")
        # An empty local Index checks every argument with the Index's own messages.
        Index(dim, metric, kind, threads=threads, **options).close()
        return {"dim": int(dim), "metric": metric, "kind": kind, "threads": threads, "options": dict(options)}

    def _setup(self, spec: Dict[str, Any], shards: int, replicas: int, actor_options: Optional[Mapping[str, Any]],
               recover_timeout: float) -> None:
        self._ray = _ray()
        if not self._ray.is_initialized():
            self._ray.init()
        self._spec = spec
        with Index(spec["dim"], spec["metric"], spec["kind"], threads=spec["threads"], **spec["options"]) as probe:
            self._ef_search = probe.ef_search  # the shards' default walk budget (see search)
        self._shards, self._replicas = shards, replicas
        self._actor_options = {"scheduling_strategy": "SPREAD", **dict(actor_options or {})}
        self._recover_timeout = float(recover_timeout)
        self._lock = threading.RLock()  # writes, save, restarts
        self._closed = False
        self._groups: List[List[_Replica]] = []
        self._log: List[List[Tuple[str, Any]]] = [[] for _ in range(shards)]  # writes since the last save
        self._base: List[Optional[str]] = [None] * shards  # shard file of the last save
        self._turn = [0] * shards  # round-robin over replicas for searches
        self._navigator: Optional[Any] = None  # as Index: for Navigator(sharded_index)
        self._detached_basins: Optional[bytes] = None
        self._loaded_basins = b""

    def _start_actors(self, first_call: Any) -> List[List[Any]]:
        """Start shards x replicas actors and run ``first_call(handle, shard)`` on
        each; their results per shard. On any failure every actor is stopped."""
        cls = _actor_class()
        try:
            for _ in range(self._shards):
                self._groups.append([_Replica(cls.options(**self._actor_options).remote(self._spec))
                                     for _ in range(self._replicas)])
            refs = [[first_call(rep.handle, s) for rep in g] for s, g in enumerate(self._groups)]
            return [self._ray.get(r) for r in refs]
        except BaseException as e:
            self._kill_all()
            self._closed = True
            if isinstance(e, self._ray.exceptions.RayTaskError):
                raise _unwrap(self._ray, e) from None
            raise

    # ------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return self._spec["dim"]

    @property
    def metric(self) -> str:
        return self._spec["metric"]

    @property
    def kind(self) -> str:
        return self._spec["kind"]

    @property
    def shards(self) -> int:
        return self._shards

    @property
    def replicas(self) -> int:
        return self._replicas

    @property
    def read_only(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        self._require_open()
        return int(sum(self._counts))

    def shard_sizes(self) -> List[int]:
        """Vectors held by each shard."""
        self._require_open()
        return list(self._counts)

    def health(self) -> List[List[str]]:
        """Per shard, per replica: "ready", "restarting" or "dead"."""
        self._require_open()
        return [[self._state(rep) for rep in g] for g in self._groups]

    def _state(self, rep: _Replica) -> str:
        if rep.dead:
            return "dead"
        if rep.pending is None:
            return "ready"
        done, _ = self._ray.wait([rep.pending], timeout=0)
        if not done:
            return "restarting"
        try:
            self._ray.get(rep.pending)
        except self._ray.exceptions.RayError:
            rep.dead = True
            return "dead"
        rep.pending = None
        return "ready"

    def __repr__(self) -> str:
        if self._closed:
            return "ShardedIndex(closed)"
        return (f"ShardedIndex(dim={self.dim}, metric={self.metric!r}, kind={self.kind!r}, shards={self._shards}, "
                f"replicas={self._replicas}, size={sum(self._counts)})")

    # ------------------------------------------------------------ lifetime
    def _require_open(self) -> None:
        if self._closed:
            raise ClosedError("ShardedIndex is closed")

    def close(self) -> None:
        """Stop every actor (the shards' memory is freed). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._kill_all()

    def _kill_all(self) -> None:
        for g in self._groups:
            for rep in g:
                try:
                    self._ray.kill(rep.handle)
                except Exception:  # already gone
                    pass
        self._log = [[] for _ in range(self._shards)]

    def __enter__(self) -> "ShardedIndex":
        self._require_open()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    # ------------------------------------------------------------ replicas
    def _dead(self, s: int, rep: _Replica) -> None:
        """Mark a replica of shard s dead and, with replicas >= 2, restart it from
        the shard's last save plus the writes logged since (in its slot)."""
        with self._lock:
            if rep.dead or rep not in self._groups[s]:
                return  # already handled (another caller saw the same death)
            r = self._groups[s].index(rep)
            rep.dead = True
            if self._replicas < 2 or self._closed or rep.restarts >= 10:
                return
            handle = _actor_class().options(**self._actor_options).remote(self._spec)
            new = _Replica(handle, handle.restore.remote(self._base[s], list(self._log[s])))
            new.restarts = rep.restarts + 1
            self._groups[s][r] = new
            try:
                self._ray.kill(rep.handle)
            except Exception:
                pass

    def _ready(self, s: int) -> List[int]:
        return [r for r, rep in enumerate(self._groups[s]) if self._state(rep) == "ready"]

    def _wait_ready(self, s: int) -> List[int]:
        """Ready replicas of shard s, waiting up to recover_timeout for a restarting one."""
        deadline = time.monotonic() + self._recover_timeout
        while True:
            ready = self._ready(s)
            pending = [rep.pending for rep in self._groups[s] if not rep.dead and rep.pending is not None]
            if ready or not pending or time.monotonic() >= deadline:
                return ready
            self._ray.wait(pending, timeout=max(0.0, deadline - time.monotonic()))

    def _unavailable(self, s: int) -> ShardUnavailableError:
        states = ", ".join(self._state(rep) for rep in self._groups[s])
        hint = ("its vectors since the last save are lost with replicas=1; reload with ShardedIndex.load(directory), "
                "use replicas >= 2, or search(..., partial=True)") if self._replicas == 1 else \
            "every replica died; reload with ShardedIndex.load(directory)"
        return ShardUnavailableError(f"shard {s} of {self._shards} is unavailable (replicas: {states}): {hint}")

    def _call_shard(self, s: int, method: str, *args: Any) -> Any:
        """One read on a ready replica of shard s, failing over to the next one."""
        while True:
            ready = self._wait_ready(s)
            if not ready:
                raise self._unavailable(s)
            rep = self._groups[s][ready[self._turn[s] % len(ready)]]
            self._turn[s] += 1
            try:
                return self._ray.get(getattr(rep.handle, method).remote(*args))
            except self._ray.exceptions.RayActorError:
                self._dead(s, rep)
            except self._ray.exceptions.RayTaskError as e:
                raise _unwrap(self._ray, e) from None

    def _scatter(self, calls: Dict[int, Tuple[str, Tuple[Any, ...]]], partial: bool = False) -> Dict[int, Any]:
        """Reads on several shards at once: {shard: (method, args)} -> {shard: result}.
        A shard whose replica dies is retried on another replica; with partial,
        a shard with no live replica is left out instead of raising."""
        refs: Dict[int, Tuple[_Replica, Any]] = {}
        for s, (method, args) in calls.items():
            ready = self._ready(s)
            if ready:
                rep = self._groups[s][ready[self._turn[s] % len(ready)]]
                self._turn[s] += 1
                refs[s] = (rep, getattr(rep.handle, method).remote(*args))
        if len(refs) == len(calls):
            try:  # the common case: one wait for all replies (a ray.get costs ~0.1 ms)
                got = self._ray.get([ref for _, ref in refs.values()])
                return dict(zip(refs, got))
            except self._ray.exceptions.RayError:
                pass  # sorted out shard by shard below
        out: Dict[int, Any] = {}
        for s, (method, args) in calls.items():
            try:
                if s in refs:
                    try:
                        out[s] = self._ray.get(refs[s][1])
                        continue
                    except self._ray.exceptions.RayActorError:
                        self._dead(s, refs[s][0])
                out[s] = self._call_shard(s, method, *args)
            except ShardUnavailableError:
                if not partial:
                    raise
            except self._ray.exceptions.RayTaskError as e:
                raise _unwrap(self._ray, e) from None
        return out

    def _write(self, per_shard: Dict[int, Tuple[str, Tuple[Any, ...]]]) -> None:
        """Apply writes to every live replica of their shards; a shard's write is
        acknowledged when one replica has it. With replicas >= 2 it is logged
        before a replica that died meanwhile is restarted, so the restarted one
        replays it. ShardUnavailableError when a shard has no live replica."""
        calls: List[Tuple[int, _Replica, Any]] = []
        arg_refs: Dict[int, Any] = {}
        for s, (op, args) in per_shard.items():
            arg_refs[s] = self._ray.put(args)
            calls += [(s, rep, rep.handle.apply.remote(op, arg_refs[s])) for rep in self._groups[s] if not rep.dead]
        done: Dict[int, int] = {}
        died: List[Tuple[int, _Replica]] = []
        error: Optional[BaseException] = None
        for s, rep, call in calls:
            try:
                done[s] = self._ray.get(call)
            except self._ray.exceptions.RayActorError:
                died.append((s, rep))
            except self._ray.exceptions.RayTaskError as e:
                error = _unwrap(self._ray, e)
        for s, (op, _) in per_shard.items():
            if s in done:
                self._counts[s] = done[s]
                if self._replicas >= 2:
                    self._log[s].append((op, arg_refs[s]))
        for s, rep in died:
            self._dead(s, rep)
        if error is not None:
            raise error
        missing = [s for s in per_shard if s not in done]
        if missing:
            raise self._unavailable(missing[0])

    def _require_live(self, shards: Sequence[int]) -> None:
        for s in shards:
            if not self._wait_ready(s):
                raise self._unavailable(s)

    # ------------------------------------------------------------ mutation
    def add(self, vectors: Any, ids: Any = None, payload: Optional[Mapping[str, Any]] = None, *,
            sentiment: Any = None, timestamps: Any = None, labels: Any = None,
            threads: Optional[int] = None) -> np.ndarray:
        """Add vectors (n, dim) or one (dim,); returns their uint64 ids (as
        Index.add: automatic ids count up from one above the largest id ever
        held). Every shard checks its rows before any shard stores: on any
        error nothing is stored."""
        self._require_open()
        x = _as_f32_rows(vectors, "vectors")
        if x.shape[1] != self.dim:
            raise ValueError(f"vectors have dimension {x.shape[1]}, the index has dimension {self.dim}")
        n = x.shape[0]
        _check_finite_rows(x, self.metric)
        columns = _payload_columns(n, payload, sentiment, timestamps, labels)
        with self._lock:
            id_arr = self._new_ids(ids, n)
            batch = _AddBatch(x, id_arr, *columns)
            route = shard_of(id_arr, self._shards)
            per_shard = {s: ("add", batch.rows(np.flatnonzero(route == s), threads))
                         for s in np.unique(route).tolist()}
            self._require_live(list(per_shard))
            self._scatter({s: ("check_add", (args,)) for s, (_, args) in per_shard.items()})
            try:
                self._write(per_shard)
            except ShardUnavailableError:
                self._undo_add(per_shard)
                raise
            if n:
                self._next_id = max(self._next_id, int(id_arr.max()) + 1)
            return id_arr

    def _new_ids(self, ids: Any, n: int) -> np.ndarray:
        if ids is None:
            if n and self._next_id + n - 1 >= int(NO_ID):
                raise ValueError("automatic ids are exhausted (the largest id ever held is 2**64-2): pass ids=")
            return np.arange(self._next_id, self._next_id + n, dtype=np.uint64)
        id_arr = _as_ids(ids)
        if id_arr.shape[0] != n:
            raise ValueError(f"got {id_arr.shape[0]} ids for {n} vectors")
        if (id_arr == NO_ID).any():
            raise ValueError("id 2**64-1 is reserved (NO_ID)")
        uniq, counts = np.unique(id_arr, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"duplicate id {int(uniq[counts > 1][0])} in the batch; nothing stored")
        return id_arr

    def _undo_add(self, per_shard: Dict[int, Tuple[str, Tuple[Any, ...]]]) -> None:
        """After a shard died mid-add: take the batch back out of the shards that took it."""
        for s, (_, args) in per_shard.items():
            ids = args[1]
            try:
                missing = set(self._scatter({s: ("missing", (ids,))})[s])
                held = [int(i) for i in ids if int(i) not in missing]
                if held:
                    self._write({s: ("remove", (np.array(held, np.uint64),))})
            except ShardUnavailableError:
                pass

    def _route_ids(self, ids: np.ndarray) -> Dict[int, np.ndarray]:
        """{shard: positions in ids} for the shards that hold some of the ids."""
        route = shard_of(ids, self._shards)
        return {s: np.flatnonzero(route == s) for s in np.unique(route).tolist()}

    def _require_held(self, id_arr: np.ndarray, routes: Dict[int, np.ndarray]) -> None:
        missing = self._scatter({s: ("missing", (id_arr[pos],)) for s, pos in routes.items()})
        for s in routes:
            if missing[s]:
                raise UnknownIdError(f"unknown id {missing[s][0]}; nothing changed")

    def remove(self, ids: Any) -> None:
        """Remove ids; UnknownIdError (and nothing removed) if any is not held."""
        self._require_open()
        id_arr = _as_ids(ids)
        with self._lock:
            routes = self._route_ids(id_arr)
            self._require_live(list(routes))
            self._require_held(id_arr, routes)
            self._write({s: ("remove", (id_arr[pos],)) for s, pos in routes.items()})

    def set_labels(self, ids: Any, labels: Any) -> None:
        """Set the integer labels of held ids (used by filters and basins)."""
        self._require_open()
        id_arr = _as_ids(ids)
        la = np.asarray(labels)
        if la.dtype.kind not in "iu":
            raise TypeError(f"labels must be integers, got dtype {la.dtype}")
        la = np.broadcast_to(la.astype(np.int64), id_arr.shape)
        with self._lock:
            routes = self._route_ids(id_arr)
            self._require_live(list(routes))
            self._require_held(id_arr, routes)
            self._write({s: ("set_labels", (id_arr[pos], np.ascontiguousarray(la[pos]))) for s, pos in routes.items()})

    # ------------------------------------------------------------ queries
    def search(self, queries: Any, k: int = 10, *, sentiment: Optional[Sequence[float]] = None,
               sentiment_weight: float = 0.0, time_decay: Optional[float] = None, now: Optional[float] = None,
               filter: Any = None, ef: Optional[int] = None, exact: bool = False, threads: Optional[int] = None,
               partial: bool = False, shard_ef: Optional[int] = None) -> Any:
        """Index.search over every shard, merged exactly: ``(ids, scores)``.

        Every option means what it means for Index.search (``now`` is filled
        here once, so every shard decays from the same instant), but ``ef``
        (default: ``ef_search``) is the whole index's candidate budget, as for
        one Index over the same rows: an HNSW shard walks with
        ``ceil(ef / shards) + k`` candidates, its share plus room for all k
        results (one walk per shard at the full ef did 4x a single walk's work
        for recall far above a single Index's: docs/vector_navigator.md,
        "Scaling out"). ``shard_ef`` sets each shard's ef directly. An id filter
        goes only to the shards that can hold its ids. ``threads`` is each
        shard's thread count. A shard with no live replica raises
        ShardUnavailableError naming it; with ``partial=True`` it is left out
        and the result is ``(ids, scores, answered)``, answered being the list
        of shards that answered.
        """
        self._require_open()
        q = np.asarray(queries)
        single = q.ndim == 1
        qa = _as_f32_rows(q, "queries")
        if qa.shape[1] != self.dim:
            raise ValueError(f"queries have dimension {qa.shape[1]}, the index has dimension {self.dim}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        total = sum(self._counts)
        if k <= 0:
            raise ValueError(f"k must be >= 1, got {k}")
        if k > total:
            raise ValueError(f"k = {k} is larger than the index holds ({total} vectors)")
        if time_decay is not None and now is None:
            now = time.time()
        f_labels, f_ids = _filter_parts(filter)
        options = {"sentiment": sentiment, "sentiment_weight": sentiment_weight, "time_decay": time_decay,
                   "now": now, "ef": self._shard_ef(ef, int(k)) if shard_ef is None else shard_ef, "exact": exact,
                   "threads": threads}
        calls = self._search_calls(qa, int(k), options, f_labels, f_ids)
        got = self._scatter(calls, partial=partial)
        nq = qa.shape[0]
        parts = [_decode_hits(got[s], nq, calls[s][1][1]) for s in sorted(got)]
        ids, scores = _merge_topk(parts, nq, int(k))
        if single:
            ids, scores = ids[0], scores[0]
        return (ids, scores, sorted(got)) if partial else (ids, scores)

    def _shard_ef(self, ef: Any, k: int) -> Any:
        """Each shard's share of the candidate budget ``ef`` (see search); a
        value that is not a positive int goes to the shards as given, for
        their Index to refuse with its own message."""
        if self.kind != "hnsw":
            return ef
        budget = self._ef_search if ef is None else ef
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            return ef
        return -(-int(budget) // self._shards) + k

    def _search_calls(self, qa: np.ndarray, k: int, options: Dict[str, Any], f_labels: Any,
                      f_ids: Optional[np.ndarray]) -> Dict[int, Tuple[str, Tuple[Any, ...]]]:
        targets = [s for s in range(self._shards) if self._counts[s]]
        id_parts: Dict[int, np.ndarray] = {}
        if f_ids is not None:
            id_parts = {s: f_ids[pos] for s, pos in self._route_ids(f_ids).items()} if f_ids.size else {}
            targets = [s for s in targets if s in id_parts]
            if not targets:  # no shard can hold a listed id: let one shard answer with padding
                targets = [s for s in range(self._shards) if self._counts[s]][:1]
        # Big batches travel once through the object store, not once per shard.
        q_arg = self._ray.put(qa.tobytes()) if qa.nbytes > 64 * 1024 and len(targets) > 1 else qa.tobytes()
        calls = {}
        for s in targets:
            flt: Optional[Dict[str, Any]] = None
            if f_labels is not None or f_ids is not None:
                flt = {}
                if f_labels is not None:
                    flt["labels"] = f_labels
                if f_ids is not None:
                    flt["ids"] = id_parts.get(s, np.zeros(0, np.uint64))
            calls[s] = ("search", (q_arg, min(k, self._counts[s]), {**options, "filter": flt}))
        return calls

    def contains(self, id: Any) -> bool:
        """Whether the index holds this id."""
        self._require_open()
        try:
            arr = _as_ids([id])
        except (TypeError, ValueError):  # not an integer in [0, 2**64)
            return False
        s = int(shard_of(arr, self._shards)[0])
        return not self._call_shard(s, "missing", arr)

    def __contains__(self, id: Any) -> bool:
        return self.contains(id)

    def _gather_rows(self, id_arr: np.ndarray, method: str) -> Tuple[Dict[int, np.ndarray], Dict[int, Any]]:
        routes = self._route_ids(id_arr)
        return routes, self._scatter({s: (method, (id_arr[pos],)) for s, pos in routes.items()})

    def get(self, ids: Any) -> np.ndarray:
        """The stored vectors of ids ((n, dim); (dim,) for one id); UnknownIdError if any is missing."""
        self._require_open()
        scalar = np.ndim(ids) == 0
        id_arr = _as_ids(ids)
        routes, parts = self._gather_rows(id_arr, "get")
        out = np.empty((id_arr.shape[0], self.dim), np.float32)
        for s, pos in routes.items():
            out[pos] = parts[s]
        return out[0] if scalar else out

    def payload(self, ids: Any) -> Dict[str, np.ndarray]:
        """Per-id payload: sentiment (n, 3), has_sentiment, timestamps (NaN = none), labels."""
        self._require_open()
        id_arr = _as_ids(ids)
        routes, parts = self._gather_rows(id_arr, "payload")
        out: Dict[str, np.ndarray] = {}
        for s, pos in routes.items():
            for key, col in parts[s].items():
                col = np.asarray(col)
                if key not in out:
                    out[key] = np.empty((id_arr.shape[0],) + col.shape[1:], col.dtype)
                out[key][pos] = col
        if not routes:
            return {"sentiment": np.zeros((0, 3), np.float32), "has_sentiment": np.zeros(0, bool),
                    "timestamps": np.zeros(0), "labels": np.zeros(0, np.int64)}
        return out

    def ids(self) -> np.ndarray:
        """Every held id (uint64), ascending (the storage order of a single
        Index that got the same automatic ids, so Navigator.build_basins sees
        the rows in the same order)."""
        self._require_open()
        parts = self._scatter({s: ("ids", ()) for s in range(self._shards)})
        return np.sort(np.concatenate([np.asarray(parts[s], np.uint64) for s in range(self._shards)]))

    @property
    def memory_bytes(self) -> int:
        """Memory of one replica of every shard (multiply by replicas for the total)."""
        self._require_open()
        return int(sum(self._scatter({s: ("memory_bytes", ()) for s in range(self._shards)}).values()))

    # ------------------------------------------------------------ persistence
    def _basins_bytes(self) -> bytes:
        nav = self._navigator() if self._navigator is not None else None
        if nav is not None:
            return nav._state_bytes()
        if self._detached_basins is not None:
            return self._detached_basins
        return self._loaded_basins

    def save(self, directory: Any) -> None:
        """Write every shard (one replica each) as an Index file, then the
        manifest, atomically, last: an interrupted save leaves the previous
        save of the directory loadable. Shard files carry a new generation
        number; the previous generation's files are removed after the
        manifest is in place. On a cluster the directory must be shared
        storage that every node sees at the same path."""
        self._require_open()
        directory = os.path.abspath(os.fspath(directory))
        with self._lock:
            os.makedirs(directory, exist_ok=True)
            had_manifest = os.path.exists(os.path.join(directory, MANIFEST))
            old, gen = _previous_save(directory)
            files = [f"shard-{s:04d}-g{gen}.sif" for s in range(self._shards)]
            try:
                sizes = self._scatter({s: ("save", (os.path.join(directory, files[s]),))
                                       for s in range(self._shards)})
                manifest = {"format": _MANIFEST_VERSION, "generation": gen, "hash": "splitmix64", "dim": self.dim,
                            "metric": self.metric, "kind": self.kind, "threads": self._spec["threads"],
                            "options": self._spec["options"], "shards": self._shards, "replicas": self._replicas,
                            "next_id": self._next_id, "files": files,
                            "counts": [int(sizes[s]) for s in range(self._shards)]}
                _write_manifest(directory, manifest, self._basins_bytes())
            except BaseException:
                _remove_quietly(directory, files)
                raise
            self._settle_restarts()
            if old is not None or not had_manifest:
                # shard files no manifest names any more: the previous generation, saves cut short
                _remove_quietly(directory, [f for f in _shard_files(directory) if f not in files])
            self._base = [os.path.join(directory, f) for f in files]
            self._log = [[] for _ in range(self._shards)]

    def _settle_restarts(self) -> None:
        """Wait for restarting replicas (they may still read the previous shard files)."""
        pending = [rep.pending for g in self._groups for rep in g if rep.pending is not None and not rep.dead]
        if pending:
            self._ray.wait(pending, num_returns=len(pending), timeout=self._recover_timeout)

    @classmethod
    def load(cls, directory: Any, *, replicas: Optional[int] = None, threads: Optional[int] = None,
             actor_options: Optional[Mapping[str, Any]] = None, recover_timeout: float = 60.0) -> "ShardedIndex":
        """Open a directory written by save() on the current Ray instance (started
        with ray.init() when none runs). ``replicas`` defaults to the saved count.
        FileNotFoundError when the directory holds no manifest; CorruptFileError /
        UnsupportedVersionError / WrongFileKindError for a damaged manifest, one of
        a newer format or another file kind, or shard files that do not match it."""
        directory = os.path.abspath(os.fspath(directory))
        m = _read_manifest(directory)
        paths = [os.path.join(directory, f) for f in m["files"]]
        for p in paths:
            if not os.path.isfile(p):
                raise CorruptFileError(f"{directory}: the manifest lists {os.path.basename(p)}, which is missing")
        self = cls.__new__(cls)
        spec = {"dim": m["dim"], "metric": m["metric"], "kind": m["kind"],
                "threads": m["threads"] if threads is None else threads, "options": m["options"]}
        reps = m["replicas"] if replicas is None else _count_arg(replicas, "replicas")
        self._setup(spec, m["shards"], reps, actor_options, recover_timeout)
        self._next_id = m["next_id"]
        self._counts = list(m["counts"])
        self._loaded_basins = m["basins"]
        sizes = self._start_actors(lambda handle, s: handle.load.remote(paths[s]))
        for s, got in enumerate(sizes):
            if any(n != m["counts"][s] for n in got):
                self.close()
                raise CorruptFileError(f"{paths[s]} holds {got[0]} vectors, the manifest of {directory} says "
                                       f"{m['counts'][s]}")
        self._base = paths
        return self


def _write_manifest(directory: str, manifest: Dict[str, Any], basins: bytes) -> None:
    """Payload: u64 length of the JSON, the JSON, then the basin map bytes (may be empty)."""
    text = json.dumps(manifest, sort_keys=True).encode()
    storage.write_atomic(os.path.join(directory, MANIFEST), _MANIFEST_KIND, _MANIFEST_VERSION,
                         struct.pack("<Q", len(text)) + text + bytes(basins))


def _read_manifest(directory: str) -> Dict[str, Any]:
    path = os.path.join(directory, MANIFEST)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory} is not a saved ShardedIndex: no such directory")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{directory} is not a saved ShardedIndex: it holds no {MANIFEST}")
    _, payload = storage.read_verified(path, _MANIFEST_KIND, _MANIFEST_VERSION)
    payload = bytes(payload)
    try:
        (size,) = struct.unpack_from("<Q", payload)
        m = json.loads(payload[8:8 + size].decode())
        m["basins"] = payload[8 + size:]
        _check_manifest(m)
    except (struct.error, ValueError, KeyError, TypeError) as e:
        raise CorruptFileError(f"{path}: the manifest is not valid ({e})") from None
    return m


def _check_manifest(m: Dict[str, Any]) -> None:
    for key in ("format", "generation", "dim", "metric", "kind", "options", "shards", "replicas", "next_id",
                "files", "counts"):
        if key not in m:
            raise KeyError(f"missing {key!r}")
    if m["format"] != _MANIFEST_VERSION or m.get("hash") != "splitmix64":
        raise ValueError(f"format {m['format']!r} / hash {m.get('hash')!r} is not this version's")
    if not (isinstance(m["shards"], int) and m["shards"] >= 1 and len(m["files"]) == m["shards"]
            and len(m["counts"]) == m["shards"]):
        raise ValueError("shard count and file list disagree")
    if any(os.path.basename(f) != f for f in m["files"]):
        raise ValueError("a shard file name points outside the directory")


def _previous_save(directory: str) -> Tuple[Optional[Dict[str, Any]], int]:
    """The manifest already in the directory (None when there is none or it is
    unreadable: then its files are left alone) and the next generation number,
    above every shard file's generation present."""
    try:
        old: Optional[Dict[str, Any]] = _read_manifest(directory)
    except (OSError, ValueError):
        old = None
    gens = [int(f.rsplit("-g", 1)[1][:-4]) for f in _shard_files(directory)]
    return old, max(gens + [old["generation"] if old else 0]) + 1


def _shard_files(directory: str) -> List[str]:
    """Names of the form shard-NNNN-gG.sif in the directory (the files save() writes)."""
    return [f for f in os.listdir(directory)
            if re.fullmatch(r"shard-[0-9]{4,}-g[0-9]+\.sif", f)]


def _remove_quietly(directory: str, files: Sequence[str]) -> None:
    for f in files:
        try:
            os.remove(os.path.join(directory, f))
        except OSError:
            pass
