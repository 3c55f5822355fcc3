"""One rule for checks (docs/architecture.md): the core checks values, the
binding types and shapes, the facade only converts. These tests pin what moved
out of the facade: the combined labels+ids filter, the all-or-nothing chunked
add, and the errors the binding and the core now raise on their own."""

import numpy as np
import pytest

from superinstance.vector_navigator import NO_ID, Index
from vn_helpers import assert_topk, clustered, oracle_scores

# ---------------------------------------------------------------- labels + ids filter in C++


def filtered_oracle(x, ids, labels, q, metric, f_ids, f_labels, k):
    """Brute force: rows whose id is listed and whose label is listed, float64 scores."""
    keep = np.isin(ids, f_ids) & np.isin(labels, f_labels)
    return oracle_scores(x[keep], q, metric), ids[keep]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_labels_and_ids_filter_matches_brute_force(rng, kind, metric):
    n, dim, k = 600, 16, 10
    x = clustered(rng, n, dim)
    ids = rng.choice(10**9, size=n, replace=False).astype(np.uint64)
    labels = rng.integers(0, 6, size=n)
    ix = Index(dim, metric=metric, kind=kind, M=8, ef_construction=64)
    ix.add(x, ids=ids, labels=labels)
    q = clustered(rng, 5, dim)
    for trial in range(6):
        f_ids = rng.choice(ids, size=int(rng.integers(1, 300)), replace=False)
        f_ids = np.concatenate([f_ids, [10**12, 10**12 + 1]]).astype(np.uint64)  # not held: ignored
        f_labels = rng.choice(6, size=int(rng.integers(1, 4)), replace=False)
        ref, id_of_row = filtered_oracle(x, ids, labels, q, metric, f_ids, f_labels, k)
        got_ids, got_scores = ix.search(q, k, filter={"labels": f_labels.tolist(), "ids": f_ids})
        m = min(k, id_of_row.size)
        if m:
            assert_topk(got_ids[:, :m], got_scores[:, :m], ref, id_of_row, m, atol=2e-3 if metric == "l2" else 2e-4)
        assert (got_ids[:, m:] == NO_ID).all() and np.isneginf(got_scores[:, m:]).all(), trial
        # every returned id passes both filters
        for row in got_ids:
            held = row[row != NO_ID]
            assert np.isin(held, f_ids).all()
            assert np.isin(ix.payload(held)["labels"], f_labels).all()


def test_labels_and_ids_filter_with_nothing_in_common_pads_everything():
    ix = Index(4)
    ix.add(np.eye(4), ids=[10, 11, 12, 13], labels=[1, 1, 2, 2])
    got_ids, got_scores = ix.search(np.ones(4, np.float32), 3, filter={"labels": [2], "ids": [10, 11, 99]})
    assert (got_ids == NO_ID).all() and np.isneginf(got_scores).all()
    got_ids, _ = ix.search(np.ones(4, np.float32), 3, filter={"labels": [2], "ids": [10, 12, 12, 99]})
    assert got_ids.tolist() == [12, NO_ID, NO_ID]  # a repeated id counts once


def test_labels_and_ids_filter_is_one_call_into_the_core():
    """The facade passes both filters to the core (no per-id Python loop)."""
    calls = []

    class Spy:
        def __init__(self, core):
            self.core = core

        def __getattr__(self, name):
            calls.append(name)
            return getattr(self.core, name)

    ix = Index(4)
    ix.add(np.eye(4), labels=[0, 1, 0, 1])
    ix._ix = Spy(ix._ix)
    ids, _ = ix.search(np.eye(4)[1], 2, filter={"labels": [1], "ids": [1, 2, 3]})
    assert ids.tolist() == [1, 3] and calls == ["search"]


# ---------------------------------------------------------------- all-or-nothing add

def snapshot(ix):
    return len(ix), ix.ids().tolist()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("dtype", ["f32", "f16", "i8"])
def test_a_later_chunk_with_a_bad_value_stores_nothing(rng, kind, dtype):
    ix = Index(8, metric="ip", kind=kind, dtype=dtype, M=8, ef_construction=32)
    ix.add(rng.standard_normal((20, 8)), ids=np.arange(1000, 1020))
    before = snapshot(ix)
    x = rng.standard_normal((250, 8)).astype(np.float32)
    ids = np.arange(250)
    bad_rows = [("nan", np.nan, ValueError, "vector 230 has a NaN")]
    if dtype == "f16":  # the f16 range check lives in the core only
        bad_rows.append(("f16", 1e5, ValueError, "vector 230 has a value beyond the f16 range"))
    for _, value, error, match in bad_rows:
        bad = x.copy()
        bad[230, 4] = value
        calls = []
        with pytest.raises(error, match=match):
            ix.add(bad, ids=ids, progress=lambda done, total: calls.append(done), chunk=50)
        assert calls == [] and snapshot(ix) == before
    assert ix.add(x, ids=ids).tolist() == ids.tolist()  # the ids stayed free


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_a_chunk_that_fails_after_the_check_is_undone(rng, kind):
    """Between chunks no lock is held: another thread may take an id of a later
    chunk. That chunk fails, and the chunks already stored are removed again."""
    ix = Index(8, kind=kind, M=8, ef_construction=32)
    ix.add(rng.standard_normal((10, 8)), ids=np.arange(500, 510))
    before = snapshot(ix)
    x = rng.standard_normal((200, 8)).astype(np.float32)
    other = rng.standard_normal(8).astype(np.float32)

    def rival(done, total):  # plays the other thread, between chunks 1 and 2
        if done == 50:
            ix.add(other, ids=[170])

    with pytest.raises(ValueError, match="id 170 is already in the index"):
        ix.add(x, ids=np.arange(200), progress=rival, chunk=50)
    assert snapshot(ix) == (before[0] + 1, before[1] + [170])  # only the rival's vector
    assert not any(i in ix for i in range(170)) and not any(i in ix for i in range(171, 200))
    ix.remove([170])
    assert ix.add(x, ids=np.arange(200)).tolist() == list(range(200))  # every id free again
    np.testing.assert_allclose(ix.get(np.arange(200)), x, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n, chunk", [(30, 50), (200, 50)])  # one chunk, several chunks
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_raising_progress_callback_stores_nothing(rng, n, chunk, error):
    ix = Index(8, kind="hnsw", M=8, ef_construction=32)
    ix.add(rng.standard_normal((10, 8)))
    before = snapshot(ix)

    def stop(done, total):
        if done == min(n, 2 * chunk):
            raise error("stop")

    with pytest.raises(error, match="stop"):
        ix.add(rng.standard_normal((n, 8)), progress=stop, chunk=chunk)
    assert snapshot(ix) == before
    got, _ = ix.search(rng.standard_normal(8).astype(np.float32), 10)
    assert set(got.tolist()) <= set(before[1])


def test_chunked_add_still_reports_and_returns_every_id(rng):
    ix = Index(8)
    calls = []
    out = ix.add(rng.standard_normal((0, 8)), progress=lambda d, t: calls.append((d, t)), chunk=4)
    assert out.shape == (0,) and calls == [(0, 0)]
    out = ix.add(rng.standard_normal((10, 8)), progress=lambda d, t: calls.append((d, t)), chunk=4)
    assert out.tolist() == list(range(10)) and calls[1:] == [(4, 10), (8, 10), (10, 10)]


# ---------------------------------------------------------------- errors from the binding and the core

@pytest.mark.parametrize("make, error, match", [
    (lambda: Index(8, kind="tree"), ValueError, "unknown kind 'tree'"),
    (lambda: Index(8, kind=1), TypeError, "kind must be a str, got int"),
    (lambda: Index(8, dtype="bf16"), ValueError, "unknown dtype 'bf16'"),
    (lambda: Index(8, dtype=None), TypeError, "dtype must be a str"),
    (lambda: Index(8, metric="dot"), ValueError, "unknown metric 'dot'"),
    (lambda: Index(8, metric="custom"), ValueError, "needs a function pointer"),
    (lambda: Index(8, dtype="f32", rerank=2), ValueError, "rerank applies to dtype 'f16' or 'i8'"),
    (lambda: Index(8, dtype="i8", rerank=0), ValueError, r"rerank factor must be in \[1, 1000\]"),
    (lambda: Index(8, dtype="f16", rerank=1001), ValueError, r"rerank factor must be in \[1, 1000\]"),
    (lambda: Index(8, dtype="f16", rerank=-1), ValueError, "rerank = -1 is out of range"),
    (lambda: Index(8, dtype="f16", rerank=2.0), TypeError, "rerank must be an int, got float"),
])
def test_constructor_errors_come_from_the_binding_or_the_core(make, error, match):
    with pytest.raises(error, match=match) as info:
        make()
    assert "incompatible function arguments" not in str(info.value)


@pytest.mark.parametrize("call, error, match", [
    (lambda ix: ix.add(np.ones((2, 8)), ids=[1, 2, 3]), ValueError, "ids must be 1-D with 2 entries"),
    (lambda ix: ix.add(np.ones((2, 8)), sentiment=np.zeros((3, 3))), ValueError, r"sentiment must have shape \(2, 3\)"),
    (lambda ix: ix.add(np.ones((2, 8)), timestamps=[1.0, 2.0, 3.0]), ValueError, "timestamps must be 1-D with 2"),
    (lambda ix: ix.add(np.ones((2, 8)), labels=[[1, 2]]), ValueError, "labels must be 1-D with 2 entries"),
    (lambda ix: ix.add(np.ones((2, 8)), labels=[1.5, 2.0]), TypeError, "labels must be integers"),
    (lambda ix: ix.add(np.ones((2, 2, 8))), ValueError, r"vectors must be 1-D \(one vector\) or 2-D"),
    (lambda ix: ix.add(5.0), ValueError, "got 0-D"),
    (lambda ix: ix.add(np.ones((2, 7))), ValueError, "vectors have dim 7, the index has dim 8"),
    (lambda ix: ix.search(np.ones((1, 1, 8)), 1), ValueError, r"queries must be 1-D \(one vector\) or 2-D"),
    (lambda ix: ix.search(np.ones(8), 1, sentiment_weight=0.5), ValueError, "sentiment_weight needs sentiment"),
    (lambda ix: ix.search(np.ones(8), 1, filter={"labels": [0.5]}), TypeError, "filter labels must be integers"),
    (lambda ix: ix.set_labels([0, 1], [1, 2, 3]), ValueError, "labels must be 1-D with 2 entries"),
])
def test_call_errors_come_from_the_binding_or_the_core(call, error, match):
    ix = Index(8)
    ix.add(np.eye(8))
    with pytest.raises(error, match=match):
        call(ix)
    assert len(ix) == 8 and ix.payload(np.arange(8))["labels"].tolist() == [-1] * 8


def test_one_value_stands_for_every_row():
    ix = Index(4)
    ids = ix.add(np.eye(4), sentiment=(0.5, 0.5, 0.5), timestamps=7.0, labels=3)
    p = ix.payload(ids)
    assert p["labels"].tolist() == [3] * 4 and p["timestamps"].tolist() == [7.0] * 4
    assert p["has_sentiment"].all()
    ix.set_labels(ids, 5)
    assert ix.payload(ids)["labels"].tolist() == [5] * 4


def test_basin_search_narrowed_by_an_id_filter(rng):
    """A basin search is a label filter; an id filter now combines with it in the core."""
    from superinstance.vector_navigator import Navigator
    nav = Navigator(Index(8))
    x = {p: rng.standard_normal((40, 8)).astype(np.float32) for p in [("a",), ("a", "b"), ("c",)]}
    ids = {}
    for p, rows in x.items():
        nav.create_basin(p)
        ids[p] = nav.add(p, rows)
    allx = np.concatenate(list(x.values()))
    allids = np.concatenate(list(ids.values()))
    pick = rng.choice(allids, size=60, replace=False)
    q = rng.standard_normal((3, 8)).astype(np.float32)
    for filt in (pick, pick.tolist(), {"ids": pick}):
        got, scores = nav.search(q, 5, basin=("a",), depth=1, filter=filt)
        keep = np.isin(allids, np.concatenate([ids[("a",)], ids[("a", "b")]])) & np.isin(allids, pick)
        assert_topk(got, scores, oracle_scores(allx[keep], q, "cosine"), allids[keep], 5)
    with pytest.raises(ValueError, match="sets the label filter itself"):
        nav.search(q, 5, basin=("a",), filter={"labels": [0]})
    with pytest.raises(ValueError, match="unknown filter keys"):
        nav.search(q, 5, basin=("a",), filter={"idz": [0]})
