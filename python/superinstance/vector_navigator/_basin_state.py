"""The Navigator's basins as bytes, saved inside the index file.

The index file (format version 2) carries one opaque byte string, its
"attachment"; the Navigator keeps its basin map there, so that basins are
written in the same atomic, checksummed file as the vectors. Layout:

    magic  8 bytes  b"SIBASINS"
    u32    format   1
    u32    dim      the index's dim (centroid length)
    u64    json_len
    json   {"next_label": int, "basins": [{"path": [...], "label": int,
            "sentiment": [v, a, d] | null, "centroid": bool, "count": int}, ...]}
    f64    centroids, one row of dim per basin with "centroid": true (in order)
    f64    sums, one row of dim per basin with "count" > 0 (in order)

The file's CRC already guards against damage; decode() still checks every size
and value so that a well-formed file with a wrong attachment raises
CorruptFileError rather than producing a broken Navigator.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import CorruptFileError

MAGIC = b"SIBASINS"
FORMAT = 1
_HEAD = struct.Struct("<8sIIQ")

Path = Tuple[str, ...]


class BasinState:
    """Plain data: what a Navigator needs to restore its basins."""

    def __init__(self, next_label: int, label: Dict[Path, int],
                 sentiment: Dict[Path, Optional[Tuple[float, float, float]]],
                 centroid: Dict[Path, np.ndarray], sums: Dict[Path, Tuple[np.ndarray, int]]) -> None:
        self.next_label = next_label
        self.label = label
        self.sentiment = sentiment
        self.centroid = centroid
        self.sums = sums


def encode(state: BasinState, dim: int) -> bytes:
    paths = sorted(state.label)
    basins = []
    cent_rows, sum_rows = [], []
    for p in paths:
        has_c = p in state.centroid
        count = int(state.sums[p][1]) if p in state.sums else 0
        s = state.sentiment.get(p)
        basins.append({"path": list(p), "label": int(state.label[p]),
                       "sentiment": None if s is None else [float(v) for v in s],
                       "centroid": has_c, "count": count})
        if has_c:
            cent_rows.append(np.asarray(state.centroid[p], dtype=np.float64).reshape(dim))
        if count:
            sum_rows.append(np.broadcast_to(np.asarray(state.sums[p][0], dtype=np.float64), (dim,)))
    meta = json.dumps({"next_label": int(state.next_label), "basins": basins}).encode()
    rows = cent_rows + sum_rows
    arrays = np.stack(rows).astype("<f8").tobytes() if rows else b""
    return _HEAD.pack(MAGIC, FORMAT, dim, len(meta)) + meta + arrays


def _corrupt(why: str) -> CorruptFileError:
    return CorruptFileError(f"vector index file: the saved basins are damaged ({why})")


def decode(blob: bytes, dim: int) -> BasinState:
    if len(blob) < _HEAD.size:
        raise _corrupt("too short")
    magic, fmt, bdim, jlen = _HEAD.unpack_from(blob)
    if magic != MAGIC:
        raise _corrupt("not a basin map")
    if fmt != FORMAT:
        raise _corrupt(f"basin map format {fmt}, this version reads {FORMAT}")
    if bdim != dim or jlen > len(blob) - _HEAD.size:
        raise _corrupt("inconsistent sizes")
    try:
        meta = json.loads(blob[_HEAD.size:_HEAD.size + jlen].decode())
        basins = meta["basins"]
        next_label = int(meta["next_label"])
        label, sentiment, order_c, order_s = {}, {}, [], []
        for b in basins:
            p = tuple(b["path"])
            if not p or not all(isinstance(s, str) and s for s in p) or p in label:
                raise ValueError("bad path")
            label[p] = int(b["label"])
            s = b["sentiment"]
            sentiment[p] = None if s is None else tuple(float(v) for v in s)
            if sentiment[p] is not None and len(sentiment[p]) != 3:
                raise ValueError("bad sentiment")
            if b["centroid"]:
                order_c.append(p)
            if int(b["count"]) < 0:
                raise ValueError("bad count")
            if int(b["count"]):
                order_s.append((p, int(b["count"])))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise _corrupt(str(e) or type(e).__name__) from None
    nrows = len(order_c) + len(order_s)
    body = blob[_HEAD.size + jlen:]
    if len(body) != nrows * dim * 8:
        raise _corrupt("array size mismatch")
    rows = np.frombuffer(body, dtype="<f8").reshape(nrows, dim).astype(np.float64)
    centroid = {p: rows[i].copy() for i, p in enumerate(order_c)}
    sums = {p: (rows[len(order_c) + i].copy(), n) for i, (p, n) in enumerate(order_s)}
    for p in list(label):  # every ancestor of a basin is a basin
        if any(p[:i] not in label for i in range(1, len(p))):
            raise _corrupt("a basin without its parent")
    if len(set(label.values())) != len(label):
        raise _corrupt("two basins share a label")
    return BasinState(next_label, label, sentiment, centroid, sums)


def state_from(obj: Any) -> BasinState:
    """The BasinState of a Navigator (its private maps, by reference)."""
    return BasinState(obj._next_label, obj._label, obj._sentiment, obj._centroid, obj._sums)
