"""Searches from several Python threads (GIL released) while another thread adds."""

import threading

import numpy as np
import pytest

from superinstance.vector_navigator import Index

from vn_helpers import clustered, normalize


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_while_adding(kind):
    rng = np.random.default_rng(11)
    base = clustered(rng, 4000, 24)
    extra = clustered(rng, 4000, 24)
    ix = Index(24, kind=kind, M=8, ef_construction=40, ef_search=200)
    ix.add(base, ids=np.arange(4000))
    q = base[:40]
    allx = np.concatenate([base, extra])
    xn = normalize(allx.astype(np.float64))
    qn = normalize(q.astype(np.float64))
    errors = []
    stop = threading.Event()

    def searcher():
        try:
            while not stop.is_set():
                # exact scan: each query's best match is itself, score 1
                ids, scores = ix.search(q, 5, threads=1, exact=True)
                assert (ids[:, 0] == np.arange(40)).all()
                assert np.allclose(scores[:, 0], 1.0, atol=1e-5)
                # graph (or flat) search: held ids, no repeats, true scores, best first
                ids, scores = ix.search(q, 5, threads=1)
                held = ids.astype(np.int64)
                assert ((held < 4000) | ((held >= 4000) & (held < 12000))).all()
                assert all(len(set(r)) == 5 for r in held.tolist())
                rows = np.where(held < 4000, held, 4000 + (held - 4000) // 1000 * 500 + (held - 4000) % 1000)
                exact = np.einsum("qd,qkd->qk", qn, xn[rows])
                np.testing.assert_allclose(scores, exact, atol=1e-5)
                assert (np.diff(scores, axis=1) <= 1e-6).all()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    for i, chunk in enumerate(np.array_split(extra, 8)):
        ix.add(chunk, ids=np.arange(len(chunk)) + 4000 + i * 1000)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(ix) == 8000
    ids, scores = ix.search(allx[-5:], 1, exact=True)
    assert ids[:, 0].tolist() == [4000 + 7 * 1000 + i for i in range(495, 500)]
