import numpy as np
import pytest


def normalize(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def oracle_scores(x, q, metric):
    """float64 similarity matrix (nq, n), higher is better."""
    x = x.astype(np.float64)
    q = q.astype(np.float64)
    if metric == "cosine":
        return normalize(q) @ normalize(x).T
    if metric == "ip":
        return q @ x.T
    if metric == "l2":
        return -(((q[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    raise ValueError(metric)


def assert_topk(ids, scores, ref, id_of_row, k, atol=2e-4):
    """ids/scores (nq, k) from the index against a float64 score matrix ref (nq, n)."""
    ids = np.atleast_2d(ids)
    scores = np.atleast_2d(scores)
    for qi in range(ref.shape[0]):
        order = np.argsort(-ref[qi], kind="stable")[:k]
        np.testing.assert_allclose(scores[qi], ref[qi][order], atol=atol, rtol=1e-4)
        assert np.all(np.diff(scores[qi]) <= 1e-6), "scores must be sorted best first"
        # ids must match except where neighbours are tied within tolerance
        got = ids[qi]
        rows = {int(r): i for i, r in enumerate(id_of_row)}
        for j in range(k):
            r = rows[int(got[j])]
            assert abs(ref[qi][r] - scores[qi][j]) <= atol + 1e-4 * abs(ref[qi][r]), (qi, j)
        kth = ref[qi][order[-1]]
        clear = order[ref[qi][order] > kth + 2 * atol]
        assert set(id_of_row[clear].tolist()) <= set(got.tolist())


def clustered(rng, n, dim, centers=20, spread=0.3):
    c = rng.standard_normal((centers, dim)).astype(np.float32)
    x = c[rng.integers(centers, size=n)] + spread * rng.standard_normal((n, dim)).astype(np.float32)
    return x.astype(np.float32)
