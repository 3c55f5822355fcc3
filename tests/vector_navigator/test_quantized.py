"""f16 and i8 (per-vector scale) storage: scores against a numpy oracle over
the same quantized vectors, memory, recall, exact f32 re-ranking, persistence."""

import numpy as np
import pytest

from superinstance.vector_navigator import Index

from vn_helpers import assert_topk, clustered, normalize, oracle_scores


def quantize(x, dtype, metric):
    x = x.astype(np.float32)
    if metric == "cosine":
        x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float64)
    scale = np.abs(x).max(1, keepdims=True) / np.float32(127)
    scale[scale == 0] = 1
    return np.clip(np.rint(x / scale), -127, 127) * scale.astype(np.float64)


def quant_oracle(x, q, dtype, metric):
    xq = quantize(x, dtype, metric)
    q = q.astype(np.float64)
    if metric == "cosine":
        return normalize(q) @ xq.T
    if metric == "ip":
        return q @ xq.T
    return -(((q[:, None, :] - xq[None]) ** 2).sum(-1))


def recall(got, ref):
    return np.mean([len(set(a.tolist()) & set(b.tolist())) / len(b) for a, b in zip(got, ref)])


@pytest.mark.parametrize("dtype", ["f16", "i8"])
@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_quantized_scores_match_oracle(dtype, metric, rng):
    x = clustered(rng, 2000, 45)
    q = clustered(rng, 40, 45)
    ix = Index(45, metric=metric, dtype=dtype)
    ids = ix.add(x)
    ref = quant_oracle(x, q, dtype, metric)
    scale = 1.0 if metric == "cosine" else float(np.abs(ref).max())
    for threads in (1, 2):
        for nq in (5, 40):  # per-query scan; batch scan on widened panels (ip, cosine)
            got, scores = ix.search(q[:nq], 10, threads=threads)
            assert_topk(got, scores, ref[:nq], ids, 10, atol=3e-4 * scale)
    # get() gives the dequantized vectors
    back = ix.get(ids[:5]).astype(np.float64)
    expect = quantize(x[:5], dtype, metric)
    if metric == "cosine":
        expect = expect * np.linalg.norm(x[:5].astype(np.float64), axis=1, keepdims=True)
    np.testing.assert_allclose(back, expect, rtol=1e-4, atol=1e-4)


def test_memory_and_recall_targets(rng):
    x = clustered(rng, 20000, 128, centers=50, spread=0.6)
    q = clustered(rng, 100, 128, centers=50, spread=0.6)
    ref = np.argsort(-oracle_scores(x, q, "cosine"), axis=1)[:, :10]
    f32 = Index(128)
    f32.add(x)
    f16 = Index(128, dtype="f16")
    ids = f16.add(x)
    i8 = Index(128, dtype="i8")
    i8.add(x)
    i8r = Index(128, dtype="i8", rerank=4)
    i8r.add(x)
    assert f16.vector_bytes * 2 == f32.vector_bytes
    assert i8.vector_bytes == 20000 * (128 + 4)  # a quarter plus one scale per vector
    assert f16.dtype == "f16" and i8r.rerank == 4 and i8.rerank is None
    assert recall(f16.search(q, 10)[0], ids[ref]) >= 0.99
    r_plain = recall(i8.search(q, 10)[0], ids[ref])
    r_rerank = recall(i8r.search(q, 10)[0], ids[ref])
    assert r_rerank >= 0.95 and r_rerank >= r_plain
    # re-ranked scores are the exact f32 scores of the returned ids
    got, scores = i8r.search(q, 10)
    exact = oracle_scores(x, q, "cosine")
    np.testing.assert_allclose(scores, np.take_along_axis(exact, got.astype(np.int64), 1), atol=1e-5)


@pytest.mark.parametrize("dtype,rerank", [("f16", None), ("i8", None), ("i8", 3), ("f16", 2)])
@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_quantized_persistence_and_remove(kind, dtype, rerank, mmap, tmp_path, rng):
    x = clustered(rng, 1001, 19)  # odd sizes exercise the code padding
    ix = Index(19, metric="l2", kind=kind, dtype=dtype, rerank=rerank, M=8, ef_construction=40)
    ids = ix.add(x, sentiment=np.tile([0.0, 0.5, 0.5], (1001, 1)))
    ix.remove(ids[::3])
    q = clustered(rng, 7, 19)
    a = ix.search(q, 6, sentiment=(0.1, 0.5, 0.4), sentiment_weight=0.3)
    ix.save(tmp_path / "q")
    back = Index.load(tmp_path / "q", mmap=mmap)
    assert back.dtype == dtype and back.rerank == rerank and len(back) == len(ix)
    b = back.search(q, 6, sentiment=(0.1, 0.5, 0.4), sentiment_weight=0.3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    keep = np.setdiff1d(np.arange(1001), np.arange(0, 1001, 3))
    if rerank is None:
        ref = quant_oracle(x[keep], q, dtype, "l2")
    else:
        ref = oracle_scores(x[keep], q, "l2")
    got, scores = back.search(q, 6, filter={"ids": ids[keep]})
    assert_topk(got, scores, ref, ids[keep], 6, atol=3e-4 * float(np.abs(ref).max()))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_f16_rejects_values_beyond_its_range(kind):
    ix = Index(4, metric="ip", kind=kind, dtype="f16")
    with pytest.raises(ValueError, match="f16 range"):
        ix.add(np.array([[1, 2, 3, 4], [1e5, 0, 0, 0]], np.float32))
    assert len(ix) == 0  # nothing stored
    cos = Index(4, kind=kind, dtype="f16")  # cosine stores unit rows: any finite vector fits
    cos.add(np.array([[1e30, 0, 0, 0], [1, 2, 3, 4]], np.float32))
    np.testing.assert_array_equal(cos.search(np.array([1, 0, 0, 0], np.float32), 1)[0], [0])


def test_quantized_restrictions():
    with pytest.raises(ValueError, match="dtype"):
        Index(8, dtype="bf16")
    with pytest.raises(ValueError, match="rerank"):
        Index(8, dtype="f32", rerank=2)
    with pytest.raises(ValueError, match="rerank"):
        Index(8, dtype="i8", rerank=0)


# ---------------------------------------------------------------- HNSW on f16 / i8 codes

def hnsw_recall_setup(rng, n=10000, dim=128):
    """Embedding-like data: one cluster centre per 1000 vectors, spread 0.6,
    rows normalised (as the benchmarks' make_data); exact float64 top-10."""
    c = rng.standard_normal((max(10, n // 1000), dim))
    x = c[rng.integers(len(c), size=n)] + 0.6 * rng.standard_normal((n, dim))
    q = c[rng.integers(len(c), size=200)] + 0.6 * rng.standard_normal((200, dim))
    x, q = normalize(x).astype(np.float32), normalize(q).astype(np.float32)
    ref = np.argsort(-oracle_scores(x, q, "cosine"), axis=1)[:, :10]
    return x, q, ref


def test_hnsw_quantized_recall_and_memory(rng):
    """f16 halves and i8 quarters the vector memory of an HNSW index (the
    index's own report) at recall@10 >= 0.99 (f16) and >= 0.95 (i8) against
    exact float64 search; re-ranking from a kept f32 copy costs memory."""
    x, q, ref = hnsw_recall_setup(rng)
    n, dim = x.shape
    built = {}
    for name, kw in (("f32", {}), ("f16", {"dtype": "f16"}), ("i8", {"dtype": "i8"}),
                     ("i8+rerank", {"dtype": "i8", "rerank": 4})):
        ix = Index(dim, kind="hnsw", M=16, ef_construction=100, ef_search=128, threads=2, **kw)
        ids = ix.add(x)
        built[name] = (ix, recall(ix.search(q, 10)[0], ids[ref]))
    f32, f16, i8, i8r = (built[k][0] for k in ("f32", "f16", "i8", "i8+rerank"))
    assert f16.vector_bytes * 2 == f32.vector_bytes == n * dim * 4
    assert i8.vector_bytes == n * (dim + 4)
    assert i8r.vector_bytes == n * (dim + 4) + n * dim * 4
    graph_etc = f32.memory_bytes - f32.vector_bytes  # links, payload and id map: the same in each
    for ix in (f16, i8):
        assert abs((ix.memory_bytes - ix.vector_bytes) - graph_etc) <= 0.05 * graph_etc
    assert built["f16"][1] >= 0.99
    assert built["i8"][1] >= 0.95
    assert built["i8+rerank"][1] >= 0.99 and built["i8+rerank"][1] >= built["i8"][1]


@pytest.mark.parametrize("dtype,rerank", [("f16", None), ("i8", None), ("i8", 3)])
@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_hnsw_quantized_scores_match_oracle(dtype, rerank, metric, rng):
    """Every returned score is the oracle's score of that id: the dequantized
    vectors' score without re-ranking, the exact f32 score with it; and with
    ef = n the walk finds (nearly) the oracle's top-k."""
    x = clustered(rng, 600, 24)
    q = clustered(rng, 10, 24)
    ix = Index(24, metric=metric, kind="hnsw", dtype=dtype, rerank=rerank, M=8, ef_construction=60)
    ids = ix.add(x, threads=1)  # one thread: the same graph every run
    ref = oracle_scores(x, q, metric) if rerank else quant_oracle(x, q, dtype, metric)
    scale = 1.0 if metric == "cosine" else float(np.abs(ref).max())
    got, scores = ix.search(q, 8, ef=600)
    rows = got.astype(np.int64)  # ids are 0..n-1
    np.testing.assert_allclose(scores, np.take_along_axis(ref, rows, 1), atol=3e-4 * scale, rtol=1e-4)
    # A pruned graph leaves a few rows unreachable (about 1 in 600 here, as
    # many with f32 rows), so the walk's top-k is checked by recall.
    assert recall(got, ids[np.argsort(-ref, axis=1)[:, :8]]) >= 0.9


@pytest.mark.parametrize("dtype", ["f16", "i8"])
def test_hnsw_quantized_remove_compacts_and_filters(dtype, rng):
    x, q, _ = hnsw_recall_setup(rng, n=3000, dim=32)
    ix = Index(32, kind="hnsw", dtype=dtype, M=12, ef_construction=80, ef_search=200)
    ids = ix.add(x, labels=np.arange(3000) % 5)
    gone = ids[: 1700]  # more than half: the index compacts and rebuilds the graph
    ix.remove(gone)
    assert len(ix) == 1300 and ix._ix.deleted_count == 0
    live = np.arange(1700, 3000)
    ref = np.argsort(-quant_oracle(x[live], q, dtype, "cosine"), axis=1)[:, :10]
    got = ix.search(q, 10)[0]
    assert not np.isin(got, gone).any()
    assert recall(got, ids[live][ref]) >= 0.95
    # get() still gives each id its own (dequantized) vector after compaction
    np.testing.assert_allclose(ix.get(ids[live[:4]]), (quantize(x[live[:4]], dtype, "cosine") *
                               np.linalg.norm(x[live[:4]].astype(np.float64), axis=1, keepdims=True)),
                               rtol=1e-4, atol=1e-4)
    lab = live[(live % 5) == 2]
    ref_l = np.argsort(-quant_oracle(x[lab], q, dtype, "cosine"), axis=1)[:, :10]
    got_l = ix.search(q, 10, filter={"labels": [2]})[0]
    assert recall(got_l, ids[lab][ref_l]) >= 0.95
