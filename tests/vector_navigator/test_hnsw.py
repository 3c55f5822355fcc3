"""Our HNSW: recall against brute force, deletion (tombstones + compaction),
filtered search that still reaches k, concurrent build determinism."""

import numpy as np
import pytest

from superinstance.vector_navigator import NO_ID, Index

from vn_helpers import clustered, normalize


def recall(got, ref):
    return np.mean([len(set(a.tolist()) & set(b.tolist())) / len(b) for a, b in zip(got, ref)])


def exact_ids(x, q, k, metric="cosine"):
    if metric == "cosine":
        s = normalize(q.astype(np.float64)) @ normalize(x.astype(np.float64)).T
    else:
        s = -(((q[:, None, :].astype(np.float64) - x[None]) ** 2).sum(-1))
    return np.argsort(-s, axis=1)[:, :k]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    x = clustered(rng, 12000, 32, centers=60, spread=0.5)
    q = clustered(rng, 200, 32, centers=60, spread=0.5)
    return x, q


@pytest.fixture(scope="module")
def built(data):
    x, _ = data
    ix = Index(32, kind="hnsw", M=16, ef_construction=100, ef_search=128)
    ix.add(x, threads=2)
    return ix


def test_recall_at_10(built, data):
    x, q = data
    ref = exact_ids(x, q, 10)
    got, _ = built.search(q, 10)
    assert recall(got, ref) >= 0.95
    got1 = np.stack([built.search(qq, 10)[0] for qq in q[:20]])
    np.testing.assert_array_equal(got1, got[:20])  # single == batch
    # the graph is a real graph: several levels, at most 2M links per node at level 0
    levels, links0 = built._ix.graph_stats()
    assert levels >= 2 and 12000 * 4 < links0 <= 12000 * 32
    # exact=True equals the flat scan; ef raises recall
    ex, _ = built.search(q, 10, exact=True)
    assert recall(ex, ref) == 1.0
    low, _ = built.search(q, 10, ef=16)
    high, _ = built.search(q, 10, ef=300)
    assert recall(high, ref) >= recall(low, ref) and recall(high, ref) >= 0.98


def test_l2_recall(data):
    x, q = data
    ix = Index(32, metric="l2", kind="hnsw", M=12, ef_construction=80)
    ix.add(x[:5000], threads=2)
    got, scores = ix.search(q[:100], 10, ef=80)
    assert recall(got, exact_ids(x[:5000], q[:100], 10, "l2")) >= 0.95
    ref = -(((q[:100, None, :].astype(np.float64) - x[None, :5000]) ** 2).sum(-1))
    # the scores are the exact negative squared distances of the returned ids
    np.testing.assert_allclose(scores, np.take_along_axis(ref, got.astype(np.int64), 1), rtol=1e-4, atol=1e-3)


def test_deletion_skips_and_compacts(data):
    x, q = data
    n = 6000
    ix = Index(32, kind="hnsw", M=12, ef_construction=80)
    ids = ix.add(x[:n], threads=1)  # one thread: the same graph every run (recall sits near 0.95 at M=12)
    rng = np.random.default_rng(3)
    gone = rng.choice(n, 2000, replace=False)
    ix.remove(ids[gone])
    assert ix._ix.deleted_count == 2000 and len(ix) == 4000
    keep = np.setdiff1d(np.arange(n), gone)
    got, _ = ix.search(q, 10)
    assert not np.isin(got, ids[gone]).any()
    ref = keep[exact_ids(x[keep], q, 10)]
    assert recall(got, ref) >= 0.95
    # more than half deleted: the index compacts and rebuilds its graph
    more = rng.choice(keep, 1500, replace=False)
    ix.remove(ids[more])
    assert ix._ix.deleted_count == 0 and len(ix) == 2500
    keep2 = np.setdiff1d(keep, more)
    got, _ = ix.search(q, 10)
    assert recall(got, keep2[exact_ids(x[keep2], q, 10)]) >= 0.95
    np.testing.assert_allclose(ix.get(ids[keep2[:3]]), x[keep2[:3]], rtol=1e-5, atol=1e-5)


def test_filtered_search_reaches_k(built, data):
    x, q = data
    labels = np.arange(len(x)) % 100  # 1% per label
    built.set_labels(np.arange(len(x)), labels)
    for allowed in ([5], [1, 2, 3], list(range(0, 100, 10)), list(range(60))):
        m = np.isin(labels, allowed)
        got, scores = built.search(q[:50], 10, filter={"labels": allowed})
        assert (got != NO_ID).all()
        assert np.isin(labels[got.astype(np.int64)], allowed).all()
        ref = np.flatnonzero(m)[exact_ids(x[m], q[:50], 10)]
        assert recall(got, ref) >= 0.95, allowed
    built.set_labels(np.arange(len(x)), np.full(len(x), -1))


def test_parallel_build_finds_the_same_quality(data):
    x, q = data
    a = Index(32, kind="hnsw", M=8, ef_construction=60)
    a.add(x[:4000], threads=1)
    b = Index(32, kind="hnsw", M=8, ef_construction=60)
    for chunk in np.array_split(x[:4000], 4):  # incremental adds, several threads
        b.add(chunk, threads=4)
    ref = exact_ids(x[:4000], q, 10)
    ra, rb = recall(a.search(q, 10, ef=128)[0], ref), recall(b.search(q, 10, ef=128)[0], ref)
    assert ra >= 0.95 and rb >= 0.95


def test_hnsw_parameters_are_checked():
    with pytest.raises(ValueError, match="M"):
        Index(4, kind="hnsw", M=1)
    with pytest.raises(ValueError, match="ef_search"):
        Index(4, kind="hnsw", ef_search=0)
    ix = Index(4, kind="hnsw")
    ix.add(np.eye(4))
    ix.ef_search = 5
    assert ix.ef_search == 5
    assert ix.search(np.eye(4)[2], 1)[0].tolist() == [2]
