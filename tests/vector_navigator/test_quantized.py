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
def test_quantized_persistence_and_remove(dtype, rerank, mmap, tmp_path, rng):
    x = clustered(rng, 1001, 19)  # odd sizes exercise the code padding
    ix = Index(19, metric="l2", dtype=dtype, rerank=rerank)
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


def test_quantized_restrictions():
    with pytest.raises(ValueError, match="flat"):
        Index(8, kind="hnsw", dtype="f16")
    with pytest.raises(ValueError, match="dtype"):
        Index(8, dtype="bf16")
    with pytest.raises(ValueError, match="rerank"):
        Index(8, dtype="f32", rerank=2)
    with pytest.raises(ValueError, match="rerank"):
        Index(8, dtype="i8", rerank=0)
