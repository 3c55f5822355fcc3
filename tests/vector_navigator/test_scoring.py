"""Payload-aware scoring inside the C++ loop (sentiment, time decay, filters)
against a float64 numpy oracle, on flat and HNSW (exact=True) indexes."""

import numpy as np
import pytest

from superinstance.vector_navigator import NO_ID, Index

from vn_helpers import assert_topk, clustered, oracle_scores

N, DIM = 3000, 24


def sent_sim(q, vad):
    d = (vad - np.asarray(q, dtype=np.float64)) * np.array([0.5, 1.0, 1.0])
    return 1 - np.sqrt((d ** 2).sum(-1) / 3)


@pytest.fixture
def data(rng):
    x = clustered(rng, N, DIM)
    vad = np.stack([rng.uniform(-1, 1, N), rng.uniform(0, 1, N), rng.uniform(0, 1, N)], 1).astype(np.float32)
    has = rng.random(N) < 0.8
    vad[~has] = np.nan
    ts = 1.7e9 - rng.uniform(0, 72 * 3600, N)
    has_ts = rng.random(N) < 0.9
    ts[~has_ts] = np.nan
    labels = rng.integers(0, 10, N)
    return x, vad, has, ts, has_ts, labels


def make(kind, metric, data):
    x, vad, _, ts, _, labels = data
    ix = Index(DIM, metric=metric, kind=kind, ef_construction=64)
    ids = ix.add(x, payload={"sentiment": vad, "timestamps": ts, "labels": labels})
    return ix, ids


def oracle(data, q, metric, sentiment=None, w=0.0, rate=None, now=0.0):
    x, vad, has, ts, has_ts, _ = data
    s = oracle_scores(x, q, metric)
    if sentiment is not None:
        ss = np.where(has, sent_sim(sentiment, np.nan_to_num(vad.astype(np.float64))), 0.0)
        s = (1 - w) * s + w * ss[None, :]
    if rate is not None:
        h = np.maximum(0, (now - np.nan_to_num(ts)) / 3600)
        s = s * np.where(has_ts, np.exp(-rate * h), 1.0)[None, :]
    return s


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_every_scoring_path_matches_numpy(kind, metric, data, rng):
    ix, ids = make(kind, metric, data)
    q = clustered(rng, 6, DIM)
    now = 1.7e9 + 100.0
    cases = [
        dict(),
        dict(sentiment=(0.3, 0.6, 0.2), sentiment_weight=0.4),
        dict(sentiment=(-0.9, 0.1, 0.9), sentiment_weight=1.0),
        dict(time_decay=0.05, now=now),
        dict(sentiment=(0.0, 0.5, 0.5), sentiment_weight=0.25, time_decay=0.2, now=now),
    ]
    for kw in cases:
        ref = oracle(data, q, metric, kw.get("sentiment"), kw.get("sentiment_weight", 0.0),
                     kw.get("time_decay"), kw.get("now", 0.0))
        scale = 1.0 if metric == "cosine" else float(np.abs(ref).max())
        got_ids, got_scores = ix.search(q, 10, exact=True, **kw)
        assert_topk(got_ids, got_scores, ref, ids, 10, atol=3e-4 * scale)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_label_and_id_filters(kind, data, rng):
    ix, ids = make(kind, "cosine", data)
    labels = data[5]
    q = clustered(rng, 5, DIM)
    kw = dict(sentiment=(0.5, 0.5, 0.5), sentiment_weight=0.3)
    ref = oracle(data, q, "cosine", (0.5, 0.5, 0.5), 0.3)
    for allowed in ([3], [1, 7, 8], list(range(10))):
        m = np.isin(labels, allowed)
        for exact in (True, False):
            got_ids, got_scores = ix.search(q, 10, filter={"labels": allowed}, exact=exact, **kw)
            if exact or kind == "flat":
                assert_topk(got_ids, got_scores, ref[:, m], ids[m], 10)
            assert np.isin(labels[got_ids.astype(np.int64)], allowed).all()  # ids == rows here
            assert got_ids.shape == (5, 10) and (got_ids != NO_ID).all()
    pick = rng.choice(N, 40, replace=False)
    got_ids, got_scores = ix.search(q, 10, filter={"ids": ids[pick]}, **kw)
    assert_topk(got_ids, got_scores, ref[:, pick], ids[pick], 10)
    got_ids, _ = ix.search(q, 10, filter=ids[pick].tolist())
    assert set(got_ids.ravel().tolist()) <= set(ids[pick].tolist())
    # both: ids that also carry a label
    both = pick[np.isin(labels[pick], [2, 4])]
    got_ids, got_scores = ix.search(q, 3, filter={"ids": ids[pick], "labels": [2, 4]})
    assert set(got_ids[got_ids != NO_ID].tolist()) <= set(ids[both].tolist())


def test_filter_with_fewer_than_k_pads(data):
    ix, ids = make("flat", "cosine", data)
    got_ids, got_scores = ix.search(data[0][0], 5, filter={"ids": [ids[3], ids[9], 10**12]})
    assert set(got_ids[:2].tolist()) == {ids[3], ids[9]}
    assert (got_ids[2:] == NO_ID).all() and np.isneginf(got_scores[2:]).all()
    got_ids, got_scores = ix.search(data[0][0], 5, filter={"labels": [99]})
    assert (got_ids == NO_ID).all()


def test_scoring_arguments_are_checked(data):
    ix, _ = make("flat", "cosine", data)
    q = data[0][0]
    with pytest.raises(ValueError, match="sentiment_weight"):
        ix.search(q, 3, sentiment=(0, 0.5, 0.5), sentiment_weight=1.5)
    with pytest.raises(ValueError, match="out of range"):
        ix.search(q, 3, sentiment=(2, 0.5, 0.5), sentiment_weight=0.5)
    with pytest.raises(ValueError, match="needs sentiment"):
        ix.search(q, 3, sentiment_weight=0.5)
    with pytest.raises(ValueError, match="time_decay"):
        ix.search(q, 3, time_decay=-1)
    with pytest.raises(ValueError, match="filter keys"):
        ix.search(q, 3, filter={"label": [1]})
    with pytest.raises(ValueError, match="out of range"):
        ix.add(np.ones((1, DIM)), sentiment=[(0, 1.5, 0)])
    with pytest.raises(ValueError, match="shape"):
        ix.add(np.ones((2, DIM)), sentiment=np.zeros((3, 3)))
    assert len(ix) == N


def test_payload_round_trip(data):
    ix, ids = make("flat", "cosine", data)
    x, vad, has, ts, has_ts, labels = data
    p = ix.payload(ids[:50])
    np.testing.assert_array_equal(p["has_sentiment"], has[:50])
    np.testing.assert_allclose(p["sentiment"][has[:50]], vad[:50][has[:50]])
    np.testing.assert_array_equal(np.isnan(p["timestamps"]), ~has_ts[:50])
    np.testing.assert_array_equal(p["labels"], labels[:50])


def test_decay_uses_wall_clock_by_default():
    import time
    ix = Index(2)
    ix.add([[1, 0], [1, 0.01]], timestamps=[time.time() - 10 * 3600, time.time()])
    ids, scores = ix.search([1, 0], 2, time_decay=0.5)
    assert ids.tolist() == [1, 0]
    assert scores[1] == pytest.approx(np.exp(-5.0), rel=1e-3)


def test_hnsw_graph_path_scores_its_candidates_exactly(data, rng):
    # Without exact=True the HNSW walk picks candidates by similarity and the
    # payload score is applied to them: every returned score must be the
    # oracle's score of that id, best first, and most of the true top-k found.
    ix, ids = make("hnsw", "cosine", data)
    q = clustered(rng, 20, DIM)
    kw = dict(sentiment=(0.3, 0.6, 0.2), sentiment_weight=0.2, time_decay=0.02, now=1.7e9)
    ref = oracle(data, q, "cosine", (0.3, 0.6, 0.2), 0.2, 0.02, 1.7e9)
    got, scores = ix.search(q, 10, ef=200, **kw)
    np.testing.assert_allclose(scores, np.take_along_axis(ref, got.astype(np.int64), 1), atol=3e-4)
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    top = np.argsort(-ref, axis=1)[:, :10]
    rec = np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(got, top)])
    assert rec >= 0.8
