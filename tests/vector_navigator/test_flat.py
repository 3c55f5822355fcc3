"""Exact flat search against a float64 numpy brute-force oracle, plus the
id bookkeeping and the bad-input contract."""

import numpy as np
import pytest

import superinstance
from superinstance.errors import UnknownIdError
from superinstance.vector_navigator import NO_ID, Index

from vn_helpers import assert_topk, clustered, oracle_scores


@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
@pytest.mark.parametrize("dim", [3, 16, 97, 384])
def test_single_and_batch_match_oracle(metric, dim, rng):
    x = clustered(rng, 700, dim)
    q = clustered(rng, 37, dim)
    ix = Index(dim, metric=metric)
    ids = ix.add(x)
    assert ids.dtype == np.uint64 and np.array_equal(ids, np.arange(700))
    ref = oracle_scores(x, q, metric)
    atol = 2e-4 * (1 if metric == "cosine" else float(np.abs(ref).max()))
    for threads in (1, 2):
        got_ids, got_scores = ix.search(q, 10, threads=threads)
        assert got_ids.shape == (37, 10) and got_scores.dtype == np.float32
        assert_topk(got_ids, got_scores, ref, ids, 10, atol=atol)
    one_ids, one_scores = ix.search(q[5], 10)
    assert one_ids.shape == (10,)
    assert_topk(one_ids, one_scores, ref[5:6], ids, 10, atol=atol)


def test_large_n_multithreaded_fused_topk(rng):
    # several row ranges per query (threads > query chunks) and many row blocks
    x = clustered(rng, 40000, 48)
    q = clustered(rng, 3, 48)
    ix = Index(48)
    ids = ix.add(x, ids=np.arange(40000, dtype=np.uint64) * 7 + 3)
    ref = oracle_scores(x, q, "cosine")
    for threads in (1, 2, 4):
        got_ids, got_scores = ix.search(q, 25, threads=threads)
        assert_topk(got_ids, got_scores, ref, ids, 25)


def test_every_simd_level_gives_the_same_results(rng, monkeypatch):
    import subprocess, sys, json, os
    levels = superinstance.capabilities()["simd_available"]
    code = ("import numpy as np, json;from superinstance.vector_navigator import Index;"
            "r=np.random.default_rng(5);x=r.standard_normal((3000,70)).astype(np.float32);"
            "ix=Index(70);ix.add(x);i,s=ix.search(x[:20]+0.1,7);print(json.dumps([i.tolist(),s.tolist()]))")
    outs = {}
    for level in levels:
        env = dict(os.environ, SUPERINSTANCE_SIMD=level)
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outs[level] = json.loads(res.stdout)
    base = outs["scalar"]
    for level, (i, s) in outs.items():
        assert i == base[0], level
        np.testing.assert_allclose(s, base[1], atol=1e-5)


def test_ids_assigned_and_user_chosen():
    ix = Index(4, metric="l2")
    a = ix.add(np.eye(4), ids=[10, 2**63 + 5, 3, 0])
    assert a.tolist() == [10, 2**63 + 5, 3, 0]
    b = ix.add(np.ones((2, 4)))
    assert b.tolist() == [2**63 + 6, 2**63 + 7]
    assert len(ix) == 6 and ix.contains(2**63 + 5) and 3 in ix and 4 not in ix and -1 not in ix
    np.testing.assert_array_equal(ix.get([3, 0]), np.eye(4)[[2, 3]])
    np.testing.assert_array_equal(ix.get(10), np.eye(4)[0])


def test_get_returns_original_vectors_under_cosine(rng):
    x = rng.standard_normal((50, 12)).astype(np.float32) * 5
    ix = Index(12)
    ids = ix.add(x)
    np.testing.assert_allclose(ix.get(ids), x, rtol=1e-5, atol=1e-5)


def test_remove_then_search_matches_oracle(rng):
    x = clustered(rng, 2000, 32)
    ix = Index(32)
    ids = ix.add(x)
    gone = rng.choice(2000, 700, replace=False)
    ix.remove(ids[gone])
    assert len(ix) == 1300
    keep = np.setdiff1d(np.arange(2000), gone)
    assert not ix.contains(int(ids[gone[0]])) and ix.contains(int(ids[keep[0]]))
    q = clustered(rng, 9, 32)
    got_ids, got_scores = ix.search(q, 10)
    assert_topk(got_ids, got_scores, oracle_scores(x[keep], q, "cosine"), ids[keep], 10)
    np.testing.assert_allclose(ix.get(ids[keep[:5]]), x[keep[:5]], rtol=1e-5, atol=1e-5)
    # re-adding a removed id works
    ix.add(x[gone[:1]], ids=ids[gone[:1]])
    assert len(ix) == 1301


def test_duplicate_and_unknown_ids_raise_and_keep_state():
    ix = Index(3)
    ix.add(np.eye(3), ids=[1, 2, 3])
    with pytest.raises(ValueError, match="already in the index"):
        ix.add(np.ones((2, 3)), ids=[4, 2])
    with pytest.raises(ValueError, match="duplicate id 5"):
        ix.add(np.ones((2, 3)), ids=[5, 5])
    assert len(ix) == 3 and not ix.contains(4)
    with pytest.raises(UnknownIdError, match="unknown id 9"):
        ix.remove([1, 9])
    assert len(ix) == 3 and ix.contains(1)
    with pytest.raises(KeyError):  # UnknownIdError is a KeyError
        ix.get([7])
    with pytest.raises(ValueError, match="given twice"):
        ix.remove([1, 1])
    assert len(ix) == 3
    with pytest.raises(ValueError, match="reserved"):
        ix.add(np.ones((1, 3)), ids=[int(NO_ID)])
    with pytest.raises(ValueError, match="non-negative"):
        ix.add(np.ones((1, 3)), ids=[-1])


def test_bad_input_is_rejected_and_nothing_is_lost():
    ix = Index(4)
    ix.add(np.eye(4))
    bad = np.ones((3, 4), dtype=np.float32)
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="vector 2 has a NaN"):
        ix.add(bad)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        ix.add(bad)
    with pytest.raises(ValueError, match="all zeros"):
        ix.add(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="dim 5"):
        ix.add(np.ones((2, 5)))
    with pytest.raises(ValueError, match="2-D"):
        ix.add(np.ones((2, 2, 4)))
    with pytest.raises(TypeError, match="numeric"):
        ix.add(np.array([["a"] * 4]))
    with pytest.raises(TypeError):
        ix.add(np.ones((1, 4), dtype=complex))
    assert len(ix) == 4
    with pytest.raises(ValueError, match="k must be >= 1"):
        ix.search(np.ones(4), 0)
    with pytest.raises(ValueError, match="larger than the index"):
        ix.search(np.ones(4), 5)
    with pytest.raises(ValueError, match="NaN"):
        ix.search(np.array([1, np.nan, 0, 0]), 1)
    with pytest.raises(ValueError, match="all zeros"):
        ix.search(np.zeros(4), 1)
    with pytest.raises(ValueError, match="dim 3"):
        ix.search(np.ones(3), 1)
    with pytest.raises(TypeError):
        ix.search(np.ones(4), 1.5)
    with pytest.raises(ValueError, match="empty"):
        Index(4).search(np.ones(4), 1)
    with pytest.raises(ValueError):
        Index(0)
    with pytest.raises(ValueError, match="metric"):
        Index(4, metric="hamming")
    with pytest.raises(ValueError, match="kind"):
        Index(4, kind="ivf")
    ids, scores = ix.search(np.eye(4)[1], 1)
    assert ids.tolist() == [1] and scores[0] == pytest.approx(1.0)


def test_l2_zero_vectors_allowed_and_float64_input(rng):
    ix = Index(5, metric="l2")
    ix.add(np.zeros((1, 5)))
    x = rng.standard_normal((20, 5))  # float64 is converted
    ix.add(x)
    ids, scores = ix.search(np.zeros(5), 1)
    assert ids.tolist() == [0] and scores[0] == 0.0


def test_empty_add_and_query_batch():
    ix = Index(4)
    assert ix.add(np.zeros((0, 4))).shape == (0,)
    ix.add(np.eye(4))
    ids, scores = ix.search(np.zeros((0, 4)), 2)
    assert ids.shape == (0, 2)


def test_progress_callback_and_chunked_add_is_all_or_nothing(rng):
    x = clustered(rng, 2500, 8)
    calls = []
    ix = Index(8, kind="hnsw", M=8, ef_construction=32)
    ids = ix.add(x, progress=lambda done, total: calls.append((done, total)), chunk=1000)
    assert calls == [(1000, 2500), (2000, 2500), (2500, 2500)]
    assert np.array_equal(ids, np.arange(2500)) and len(ix) == 2500
    bad = x.copy()
    bad[1700, 3] = np.nan
    with pytest.raises(ValueError, match="vector 1700"):
        ix.add(bad, progress=lambda d, t: None, chunk=1000)
    with pytest.raises(ValueError, match="already in the index"):
        ix.add(x, ids=np.arange(2400, 4900), progress=lambda d, t: None, chunk=1000)
    assert len(ix) == 2500
