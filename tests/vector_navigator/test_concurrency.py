"""Searches from several Python threads (GIL released) while other threads add
and remove; create/close cycles return file descriptors and threads."""

import gc
import threading
import time

import numpy as np
import pytest

from superinstance.vector_navigator import Index

from resource_probes import memory_maps, open_fds, os_threads
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


def test_search_add_remove_on_one_hnsw_index():
    """For ~3 s: searchers query while one thread adds new vectors and another
    removes old ones. Every vector whose add() returned is found by an exact
    self-query, and no id whose remove() returned is ever returned (by the
    graph or the exact scan); scores stay sorted."""
    dim = 16
    rng = np.random.default_rng(21)
    base = rng.standard_normal((2000, dim)).astype(np.float32)
    fresh = rng.standard_normal((20000, dim)).astype(np.float32)
    vec_of = {i: base[i] for i in range(2000)}
    vec_of.update({100000 + i: fresh[i] for i in range(len(fresh))})
    ix = Index(dim, kind="hnsw", M=8, ef_construction=32, ef_search=64)
    ix.add(base, ids=np.arange(2000))
    added, removed = [], []          # ids whose add() / remove() has returned
    lock = threading.Lock()
    errors = []
    stop = threading.Event()
    stats = {"searches": 0}

    def adder():
        i = 0
        while not stop.is_set() and i < len(fresh):
            ids = np.arange(i, i + 20) + 100000
            ix.add(fresh[i:i + 20], ids=ids, threads=1)
            with lock:
                added.extend(ids.tolist())
            i += 20

    def remover():
        order = np.random.default_rng(3).permutation(2000)
        for j in range(0, 1800, 10):
            if stop.is_set():
                break
            ids = order[j:j + 10]
            ix.remove(ids)
            with lock:
                removed.extend(ids.tolist())
            time.sleep(0.002)

    def searcher(seed):
        r = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                with lock:
                    gone = set(removed)
                    fresh_ids = list(added)
                if fresh_ids:
                    target = fresh_ids[r.integers(len(fresh_ids))]
                    ids, scores = ix.search(vec_of[target], 1, exact=True, threads=1)
                    assert int(ids[0]) == target, (target, ids)
                q = r.standard_normal((4, dim)).astype(np.float32)
                for exact in (False, True):
                    ids, scores = ix.search(q, 10, exact=exact, ef=128, threads=1)
                    returned = set(ids.ravel().tolist())
                    assert not (returned & gone), f"removed ids returned: {sorted(returned & gone)[:5]}"
                    assert (np.diff(scores, axis=1) <= 1e-6).all()
                stats["searches"] += 1
        except Exception as e:  # reported below
            errors.append(e)
            stop.set()

    workers = [threading.Thread(target=searcher, args=(s,)) for s in range(3)]
    workers += [threading.Thread(target=adder), threading.Thread(target=remover)]
    for t in workers:
        t.start()
    time.sleep(3.0)
    stop.set()
    for t in workers:
        t.join()
    assert not errors, errors[0]
    assert stats["searches"] > 20 and len(added) > 0 and len(removed) > 0
    # After the run: every added id held and found, every removed one gone.
    held = set(ix.ids().tolist())
    assert set(added) <= held and not (set(removed) & held)
    probe = added[:: max(1, len(added) // 200)]
    ids, _ = ix.search(np.stack([vec_of[i] for i in probe]), 1, exact=True)
    assert ids[:, 0].tolist() == probe


def test_create_close_cycles_return_fds_threads_and_maps_to_baseline(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    saved = tmp_path / "cycle.si"
    seed_ix = Index(8, kind="hnsw")
    seed_ix.add(x)
    seed_ix.save(saved)
    seed_ix.close()

    def flat():
        ix = Index(8)
        ix.add(x)
        ix.search(x[:2], 3)
        ix.close()

    def hnsw():
        with Index(8, kind="hnsw", M=4, ef_construction=8) as ix:
            ix.add(x, threads=2)
            ix.search(x[:2], 3, threads=2)

    def mapped():
        ix = Index.load(saved, mmap=True)
        ix.search(x[:2], 3)
        ix.close()

    for make in (flat, hnsw, mapped):
        make()  # warm-up: lazily created caches and pools
        gc.collect()
        base = (open_fds(), os_threads(), threading.active_count(), memory_maps())
        for _ in range(2000):
            make()
        gc.collect()
        after = (open_fds(), os_threads(), threading.active_count(), memory_maps())
        assert after[:3] == base[:3], (make.__name__, base, after)
        assert after[3] <= base[3] + 2, (make.__name__, base, after)  # allocator arenas may map a little
