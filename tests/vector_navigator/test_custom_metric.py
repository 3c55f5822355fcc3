"""A user similarity given as a compiled function pointer (numba cfunc or
ctypes), called from C++ without the GIL by flat and HNSW search."""

import ctypes

import numpy as np
import pytest

from superinstance.vector_navigator import Index

from vn_helpers import assert_topk, clustered

numba = pytest.importorskip("numba")
from numba import cfunc, types  # noqa: E402

SIG = types.float32(types.CPointer(types.float32), types.CPointer(types.float32), types.uintp)


@cfunc(SIG, nopython=True, cache=False)
def neg_l1(a, b, n):  # similarity = -L1 distance
    s = 0.0
    for i in range(n):
        s += abs(a[i] - b[i])
    return -s


def oracle(x, q):
    return -np.abs(q[:, None, :].astype(np.float64) - x[None].astype(np.float64)).sum(-1)


def test_numba_metric_flat_matches_numpy(rng):
    x = clustered(rng, 3000, 20)
    q = clustered(rng, 9, 20)
    ix = Index(20, metric=neg_l1)
    assert ix.metric == "custom"
    ids = ix.add(x)
    for threads in (1, 2):
        got, scores = ix.search(q, 7, threads=threads)
        assert_topk(got, scores, oracle(x, q), ids, 7, atol=1e-3)
    got, scores = ix.search(q, 5, sentiment=(0, 0.5, 0.5), sentiment_weight=0.5)  # no sentiment: counts 0
    assert_topk(got, scores, 0.5 * oracle(x, q), ids, 5, atol=1e-3)


def test_numba_metric_hnsw_and_persistence(rng, tmp_path):
    x = clustered(rng, 3000, 16, spread=0.2)
    q = clustered(rng, 50, 16, spread=0.2)
    ix = Index(16, metric=neg_l1, kind="hnsw", M=12, ef_construction=80)
    ix.add(x, threads=2)
    got, _ = ix.search(q, 10, ef=100)
    ref = np.argsort(-oracle(x, q), axis=1)[:, :10]
    rec = np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(got, ref)])
    assert rec >= 0.95
    ix.save(tmp_path / "c")
    with pytest.raises(ValueError, match="custom metric"):
        Index.load(tmp_path / "c")
    back = Index.load(tmp_path / "c", metric=neg_l1)
    np.testing.assert_array_equal(back.search(q, 10, ef=100)[0], got)


def test_ctypes_metric(rng):
    proto = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float),
                             ctypes.c_size_t)
    addr = neg_l1.address
    f = proto(addr)  # a ctypes function object pointing at compiled code
    x = clustered(rng, 500, 8)
    ix = Index(8, metric=f)
    ids = ix.add(x)
    got, scores = ix.search(x[:4], 3, threads=1)
    assert_topk(got, scores, oracle(x, x[:4]), ids, 3, atol=1e-3)


def test_bad_metric_objects():
    with pytest.raises(TypeError, match="compiled function"):
        Index(4, metric=lambda a, b: 0.0)
    with pytest.raises(ValueError):
        Index(4, metric="manhattan")
