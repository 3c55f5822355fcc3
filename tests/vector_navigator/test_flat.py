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


# The batch scan (GEMM-style panel kernel, 8 or more queries) on integer-valued
# data: every score is exact in float32 on every path, so ties are everywhere
# and the expected ids are fully determined (best score first, then the lower
# row). Odd sizes: rows not a multiple of the panel or of the packed block, dim
# not a multiple of the vector width, k larger than a panel, queries not a
# multiple of the query group; deleted rows, a label filter and sentiment
# weighting (the path that scores every row) on the same data.
_TIES_SCRIPT = r"""
import json, sys
import numpy as np
from superinstance.vector_navigator import Index
r = np.random.default_rng(8)
n, dim, nq = 7013, 37, 29
x = r.integers(-2, 3, (n, dim)).astype(np.float32)
x[100:200] = x[:100]  # exact duplicates
q = r.integers(-2, 3, (nq, dim)).astype(np.float32)
labels = r.integers(0, 4, n)
vad = np.stack([r.uniform(-1, 1, n), r.uniform(0, 1, n), r.uniform(0, 1, n)], 1).astype(np.float32)
ix = Index(dim, metric="ip")
ix.add(x, payload={"labels": labels, "sentiment": vad})
out = {}
for threads in (1, 2):
    for k in (1, 10, 45):
        out[f"plain {threads} {k}"] = ix.search(q, k, threads=threads)[0].tolist()
    out[f"labels {threads}"] = ix.search(q, 12, filter={"labels": [1, 3]}, threads=threads)[0].tolist()
    out[f"sent {threads}"] = ix.search(q, 12, sentiment=(0.5, 0.5, 0.5), sentiment_weight=0.25,
                                       threads=threads)[0].tolist()
for dtype in ("f16", "i8"):  # batch scan on widened panels (f16 holds these integers exactly)
    qx = Index(dim, metric="ip", dtype=dtype)
    qx.add(x)
    ids, scores = qx.search(q, 10, threads=2)
    out[dtype] = [ids.tolist(), scores.tolist()]
ix.remove(np.arange(0, n, 3, dtype=np.uint64))
out["removed"] = ix.search(q, 10, threads=2)[0].tolist()
print(json.dumps(out))
"""


def _ties_rows():
    r = np.random.default_rng(8)
    x = r.integers(-2, 3, (7013, 37)).astype(np.float64)
    x[100:200] = x[:100]
    return x


def _ties_queries():
    r = np.random.default_rng(8)
    r.integers(-2, 3, (7013, 37))
    return r.integers(-2, 3, (29, 37)).astype(np.float64)


def _expected_ties():
    r = np.random.default_rng(8)
    n, dim, nq = 7013, 37, 29
    x = r.integers(-2, 3, (n, dim)).astype(np.float64)
    x[100:200] = x[:100]
    q = r.integers(-2, 3, (nq, dim)).astype(np.float64)
    labels = r.integers(0, 4, n)
    vad = np.stack([r.uniform(-1, 1, n), r.uniform(0, 1, n), r.uniform(0, 1, n)], 1).astype(np.float32)
    s = q @ x.T
    rows = np.arange(n)

    def top(scores, keep, k):
        res = []
        for qi in range(nq):
            cand = rows[keep]
            order = np.lexsort((cand, -scores[qi][keep]))[:k]
            res.append(cand[order].tolist())
        return res

    everyone = np.ones(n, bool)
    exp = {}
    for threads in (1, 2):
        for k in (1, 10, 45):
            exp[f"plain {threads} {k}"] = top(s, everyone, k)
        exp[f"labels {threads}"] = top(s, np.isin(labels, [1, 3]), 12)
    d = (vad.astype(np.float64) - 0.5) * np.array([0.5, 1.0, 1.0])
    ss = 1 - np.sqrt((d ** 2).sum(-1) / 3)
    return exp, s, 0.75 * s + 0.25 * ss[None, :]


def test_batch_panel_scan_exact_on_ties_every_level():
    import json, os, subprocess, sys
    exp, ip_ref, sent_ref = _expected_ties()
    kept = np.arange(ip_ref.shape[1]) % 3 != 0
    for level in superinstance.capabilities()["simd_available"]:
        env = dict(os.environ, SUPERINSTANCE_SIMD=level)
        res = subprocess.run([sys.executable, "-c", _TIES_SCRIPT], env=env, capture_output=True, text=True,
                             check=True)
        got = json.loads(res.stdout)
        for key, ids in exp.items():
            assert got[key] == ids, (level, key)
        for threads in (1, 2):  # sentiment scores are not exact in float32: compare scores
            ids = np.array(got[f"sent {threads}"])
            best = -np.sort(-sent_ref, axis=1)[:, :12]
            np.testing.assert_allclose(np.take_along_axis(sent_ref, ids, 1), best, atol=1e-5)
        assert got["f16"][0] == exp["plain 2 10"], level
        # i8: scores against the dequantized rows (scale = max|x| / 127 per row)
        x8 = _ties_rows().astype(np.float32)
        scale = np.abs(x8).max(1, keepdims=True) / np.float32(127)
        deq = np.clip(np.rint(x8 / scale), -127, 127) * scale.astype(np.float64)
        ref8 = _ties_queries() @ deq.T
        ids8, scores8 = (np.array(v) for v in got["i8"])
        np.testing.assert_allclose(scores8, -np.sort(-ref8, axis=1)[:, :10], atol=1e-4)
        np.testing.assert_allclose(np.take_along_axis(ref8, ids8, 1), scores8, atol=1e-4)
        # removal moves the last rows into the holes (ties then break by new slot): compare scores
        ids = np.array(got["removed"])
        assert kept[ids].all(), level
        best = -np.sort(-ip_ref[:, kept], axis=1)[:, :10]
        np.testing.assert_array_equal(np.take_along_axis(ip_ref, ids, 1), best)
