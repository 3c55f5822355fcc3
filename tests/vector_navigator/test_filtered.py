"""Filtered search (issue #13): label / id / time predicates and their
conjunction evaluated in C++, the posting lists behind them kept up to date by
add, remove, set_labels, compaction and load, and the plan (exact scan of the
passing rows vs filter-aware walk). Every result is checked against a brute
force over the passing rows (float64 scores)."""

import threading

import numpy as np
import pytest

from superinstance.vector_navigator import NO_ID, Index
from vn_helpers import assert_topk, clustered, oracle_scores


def passing_mask(ids, labels, ts, filt):
    """Which rows pass `filt` (numpy, independent of the core)."""
    keep = np.ones(ids.shape[0], bool)
    if "labels" in filt:
        keep &= np.isin(labels, np.asarray(filt["labels"], np.int64))
    if "ids" in filt:
        keep &= np.isin(ids, np.asarray(filt["ids"], np.uint64))
    if "time" in filt:
        lo, hi = filt["time"]
        lo = -np.inf if lo is None else lo
        hi = np.inf if hi is None else hi
        keep &= ~np.isnan(ts) & (ts >= lo) & (ts <= hi)
    return keep


def check_against_oracle(ix, x, ids, labels, ts, q, filt, k, metric="cosine", min_recall=None):
    """Exact filters: the top-k of the passing rows within float tolerance; with
    min_recall (a walk): recall@k against the exact passing top-k."""
    keep = passing_mask(ids, labels, ts, filt)
    got_ids, got_scores = ix.search(q, k, filter=filt)
    got_ids = np.atleast_2d(got_ids)
    got_scores = np.atleast_2d(got_scores)
    m = min(k, int(keep.sum()))
    assert (got_ids[:, m:] == NO_ID).all() and np.isneginf(got_scores[:, m:]).all()
    if m == 0:
        return 1.0
    # never a failing row
    assert np.isin(got_ids[:, :m], ids[keep]).all()
    ref = oracle_scores(x[keep], q, metric)
    if min_recall is None:
        assert_topk(got_ids[:, :m], got_scores[:, :m], ref, ids[keep], m, atol=2e-3 if metric == "l2" else 2e-4)
        return 1.0
    truth = ids[keep][np.argsort(-ref, axis=1, kind="stable")[:, :m]]
    recall = np.mean([len(set(a) & set(b)) / m for a, b in zip(got_ids[:, :m].tolist(), truth.tolist())])
    assert recall >= min_recall, (filt.keys(), recall)
    return recall


def make_index(rng, kind="hnsw", n=3000, dim=24, nlabels=50, metric="cosine", dtype="f32"):
    x = clustered(rng, n, dim)
    ids = rng.choice(10**9, size=n, replace=False).astype(np.uint64)
    labels = rng.integers(0, nlabels, size=n).astype(np.int64)
    ts = rng.uniform(0, 1000, size=n)
    ts[rng.random(n) < 0.1] = np.nan  # some rows have no timestamp
    ix = Index(dim, metric=metric, kind=kind, M=12, ef_construction=100, dtype=dtype)
    ix.add(x, ids=ids, labels=labels, timestamps=ts)
    return ix, x, ids, labels, ts


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_each_predicate_and_their_conjunction_match_brute_force(rng, kind):
    ix, x, ids, labels, ts = make_index(rng, kind)
    q = clustered(rng, 6, x.shape[1])
    filters = [
        {"labels": [3]},
        {"labels": [1, 2, 3, 4, 5, 6]},
        {"labels": list(range(30))},                      # ~60%: the walk on hnsw
        {"time": (100.0, 250.0)},
        {"time": (None, 50.0)},
        {"time": (900, None)},
        {"ids": ids[rng.choice(3000, 40, replace=False)]},
        {"labels": [1, 2, 3], "time": (0, 700)},
        {"labels": list(range(40)), "time": (10, 20)},     # the time range names fewer rows
        {"labels": list(range(25)), "time": (0, 1000), "ids": ids[:2000]},
        {"time": (0, 900)},                                # the walk asks each row's timestamp
        {"labels": list(range(40)), "time": (0, 900)},     # ... and its label (a table over 0..39)
        {"labels": list(range(35)) + [10**12]},            # labels far apart: binary search
    ]
    for filt in filters:
        exact_plan = ix.filter_plan(filt, 10)["plan"] == "scan"
        check_against_oracle(ix, x, ids, labels, ts, q, filt, 10, min_recall=None if exact_plan else 0.9)
        # exact=True forces the exact scan: always the oracle's answer
        got, _ = ix.search(q, 10, filter=filt, exact=True)
        keep = passing_mask(ids, labels, ts, filt)
        assert np.isin(got[got != NO_ID], ids[keep]).all()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_filters_passing_nothing_everything_deleted_rows_and_absent_labels(rng, kind):
    ix, x, ids, labels, ts = make_index(rng, kind, n=800)
    q = clustered(rng, 3, x.shape[1])
    for filt in ({"labels": [10**6]}, {"labels": []}, {"ids": []}, {"time": (2000, 3000)},
                 {"labels": [1], "ids": ids[labels != 1][:20]}):
        got, scores = ix.search(q, 5, filter=filt)
        assert (got == NO_ID).all() and np.isneginf(scores).all(), filt
        assert ix.filter_plan(filt, 5) == {"plan": "none", "passing": 0}
    everything = {"labels": list(range(50))}
    assert ix.filter_plan(everything, 5)["passing"] == 800
    check_against_oracle(ix, x, ids, labels, ts, q, everything, 5, min_recall=0.9 if kind == "hnsw" else None)
    # a filter whose rows were all removed passes nothing
    gone = ids[labels == 7]
    ix.remove(gone)
    got, _ = ix.search(q, 5, filter={"labels": [7]})
    assert (got == NO_ID).all()
    got, _ = ix.search(q, 5, filter={"ids": gone})
    assert (got == NO_ID).all()
    live = ~np.isin(ids, gone)
    check_against_oracle(ix, x[live], ids[live], labels[live], ts[live], q, {"labels": [6, 7, 8]}, 5)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_posting_lists_follow_add_remove_set_labels_and_compaction(rng, kind):
    ix, x, ids, labels, ts = make_index(rng, kind, n=1000, nlabels=10)
    q = clustered(rng, 4, x.shape[1])
    # set_labels moves rows between lists
    moved = ids[:300]
    ix.set_labels(moved, 99)
    labels = labels.copy()
    labels[:300] = 99
    for filt in ({"labels": [99]}, {"labels": [0, 1]}, {"labels": [99], "time": (0, 500)}):
        check_against_oracle(ix, x, ids, labels, ts, q, filt, 8)
    # remove more than half (hnsw compacts), then add rows with new labels
    gone = ids[rng.choice(1000, 600, replace=False)]
    ix.remove(gone)
    live = ~np.isin(ids, gone)
    x2 = clustered(rng, 200, x.shape[1])
    ids2 = np.arange(10**10, 10**10 + 200, dtype=np.uint64)
    lab2 = rng.integers(5, 15, size=200).astype(np.int64)
    ts2 = rng.uniform(0, 1000, 200)
    ix.add(x2, ids=ids2, labels=lab2, timestamps=ts2)
    X = np.concatenate([x[live], x2])
    I = np.concatenate([ids[live], ids2])
    L = np.concatenate([labels[live], lab2])
    T = np.concatenate([ts[live], ts2])
    for filt in ({"labels": [99]}, {"labels": [12, 13]}, {"labels": [5, 99], "time": (300, 600)}, {"time": (0, 100)}):
        assert ix.filter_plan(filt, 8)["passing"] == int(passing_mask(I, L, T, filt).sum())
        check_against_oracle(ix, X, I, L, T, q, filt, 8)


@pytest.mark.parametrize("mmap", [False, True])
def test_filters_survive_save_and_load(rng, tmp_path, mmap):
    ix, x, ids, labels, ts = make_index(rng, "hnsw", n=1500)
    ix.remove(ids[:100])  # tombstones are saved; the lists are rebuilt without them
    ix.set_labels(ids[100:200], 77)
    labels = labels.copy()
    labels[100:200] = 77
    path = str(tmp_path / "f.vnx")
    ix.save(path)
    back = Index.load(path, mmap=mmap)
    X, I, L, T = x[100:], ids[100:], labels[100:], ts[100:]
    q = clustered(rng, 4, x.shape[1])
    for filt in ({"labels": [77]}, {"labels": [1, 2, 77], "time": (100, 900)}, {"time": (None, 300)},
                 {"ids": ids[:150]}):
        assert back.filter_plan(filt, 10) == ix.filter_plan(filt, 10)
        check_against_oracle(back, X, I, L, T, q, filt, 10)
        a, _ = ix.search(q, 10, filter=filt)
        b, _ = back.search(q, 10, filter=filt)
        np.testing.assert_array_equal(a, b)
    back.close()


def _walk_cost(passing, n, ef, m0):
    """FilterPlanModel::walk_cost (filter.hpp), in rows scanned: flat down to
    about one passing neighbour per node (p_min = 1.25 / M0), then (p_min / p)^2."""
    p, p_min = passing / n, min(1.0, 1.25 / m0)
    return 1.25 * ef * m0 * (1.0 if p >= p_min else (p_min / p) ** 2)


def test_plan_boundaries(rng):
    """The plan turns from scan to walk where the cost model says
    (passing x scan cost = walk cost), and both sides answer correctly."""
    n, dim = 4000, 16
    x = clustered(rng, n, dim)
    ids = np.arange(n, dtype=np.uint64)
    ix = Index(dim, kind="hnsw", M=8, ef_construction=80)
    ix.add(x, ids=ids, labels=np.arange(n) % n)  # one label per row: any passing count
    labels = np.arange(n, dtype=np.int64)
    ts = np.full(n, np.nan)
    plans = {}
    for passing in (1, 10, 100, 400, 800, 1600, 4000):
        plans[passing] = ix.filter_plan({"labels": list(range(passing))}, 10)
        assert plans[passing]["passing"] == passing
    kinds = [plans[p]["plan"] for p in sorted(plans)]
    assert kinds[0] == "scan" and kinds[-1] == "walk"
    assert kinds == sorted(kinds)  # "scan" ... then "walk": one switch
    # The switch: the fewest passing rows whose scan costs more than the walk.
    # ef 64, M0 16: 1.25 * 64 * 16 = 1280 rows, above p_min * n = 312 (the flat part);
    # ef 10: 200 rows would be below p_min, where the walk's cost rises: ~269 rows.
    switches = {}
    for ef in (64, 10):
        switch = next(p for p in range(1, n + 1) if p > _walk_cost(p, n, ef, 16))
        switches[ef] = switch
        below, above = int(switch * 0.95), int(switch * 1.05) + 1
        assert ix.filter_plan({"labels": list(range(below))}, 10, ef=ef)["plan"] == "scan"
        assert ix.filter_plan({"labels": list(range(above))}, 10, ef=ef)["plan"] == "walk"
    assert switches[64] == 1281 and 250 < switches[10] < 312
    below, above = int(switches[64] * 0.95), int(switches[64] * 1.05) + 1
    # a larger ef makes the walk dearer: scan longer
    assert ix.filter_plan({"labels": list(range(above))}, 10, ef=256)["plan"] == "scan"
    assert ix.filter_plan({"labels": list(range(above))}, 10, exact=True)["plan"] == "scan"
    q = clustered(rng, 8, dim)
    for passing in (below, above):
        check_against_oracle(ix, x, ids, labels, ts, q, {"labels": list(range(passing))}, 10,
                             min_recall=None if passing == below else 0.9)
    flat = Index(dim)
    flat.add(x, ids=ids, labels=labels)
    assert flat.filter_plan({"labels": list(range(3000))}, 10)["plan"] == "scan"


@pytest.mark.parametrize("labels_follow", ["random", "correlated", "anti-correlated"])
@pytest.mark.parametrize("pass_share", [0.3, 0.6])
def test_walk_keeps_recall_whatever_the_labels_follow(rng, labels_follow, pass_share):
    """The walk's two regimes: labels independent of the clusters or
    correlated with the query's (dense: few two-hop steps) and labels that
    the query's cluster lacks (anti-correlated: the nearest passing rows lie
    across failing ones, full two-hop). Both keep recall against the exact
    top-k of the passing rows (anti-correlated: lower, as for ACORN-1 itself on
    this small, well-separated data; a walk that does not cross failing
    clusters, or a post-filtered plain walk, finds almost none)."""
    n, dim, clusters = 20000, 24, 40
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    cx = rng.integers(clusters, size=n)
    x = centres[cx] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    ids = np.arange(n, dtype=np.uint64)
    labels = cx.astype(np.int64) if labels_follow != "random" else rng.integers(clusters, size=n).astype(np.int64)
    ix = Index(dim, kind="hnsw", M=12, ef_construction=100)
    ix.add(x, ids=ids, labels=labels)
    named = list(range(int(pass_share * clusters)))
    filt = {"labels": named}
    assert ix.filter_plan(filt, 10)["plan"] == "walk"
    qc = rng.integers(clusters, size=300)
    qc = qc[np.isin(qc, named)] if labels_follow == "correlated" else \
        qc[~np.isin(qc, named)] if labels_follow == "anti-correlated" else qc
    q = centres[qc[:40]] + 0.35 * rng.standard_normal((min(40, qc.size), dim)).astype(np.float32)
    floor = 0.8 if labels_follow == "anti-correlated" else 0.95
    check_against_oracle(ix, x, ids, labels, np.full(n, np.nan), q, filt, 10, min_recall=floor)


def test_a_filter_used_again_sees_every_change(rng):
    """A label filter that comes again is answered from a cached bitmap of its
    passing rows: every add, remove, set_labels and compaction in between
    must show in the next search."""
    n, dim = 8000, 16
    x = clustered(rng, n, dim)
    ids = np.arange(n, dtype=np.uint64)
    labels = rng.integers(0, 50, n).astype(np.int64)
    labels[0] = 99  # row 0 fails the filter
    ix = Index(dim, kind="hnsw", M=12, ef_construction=80)
    ix.add(x, ids=ids, labels=labels)
    filt = {"labels": list(range(25))}
    assert ix.filter_plan(filt, 5)["plan"] == "walk"
    q = x[0]

    def top():
        return [ix.search(q, 5, filter=filt)[0].tolist() for _ in range(2)][-1]  # the second from the bitmap

    assert 0 not in top()
    ix.set_labels([0], 3)
    assert top()[0] == 0
    ix.remove([0])
    assert 0 not in top()
    ix.add(q[None], ids=[n], labels=[4])
    assert top()[0] == n
    ix.set_labels([n], 77)
    assert n not in top()
    # compaction (more deleted rows than live ones) moves rows to other slots
    gone = ids[1:5000]
    ix.remove(gone)
    live = ids[5000:]
    keep = np.isin(labels[5000:], filt["labels"])
    for _ in range(2):
        got = ix.search(x[5001:5004], 5, filter=filt)[0]
        assert np.isin(got, live[keep]).all()
    check_against_oracle(ix, x[5000:], live, labels[5000:], np.full(n - 5000, np.nan), x[5001:5004], filt, 5,
                         min_recall=0.9)


def test_a_long_label_list_used_again_follows_its_contents(rng):
    """A long label list or tuple is converted once and its conversion kept
    for the next search that names the same object: a list changed in place
    (a label added, one replaced, a bad value) is seen at once, a range needs
    no conversion, and every form gives the exact answer."""
    ix, x, ids, labels, ts = make_index(rng, "flat", n=3000, nlabels=300)
    q = x[:1]
    own = int(labels[0])  # row 0 is q itself: it leads whenever its label is named
    named = [lab for lab in range(300) if lab % 3 == 0 and lab != own]  # ~100: over the cache's floor
    for filt in ({"labels": named}, {"labels": tuple(named)}, {"labels": range(own + 1, 300, 3)}):
        for _ in range(2):  # the second from the kept conversion
            check_against_oracle(ix, x, ids, labels, ts, q, filt, 10)
    filt = {"labels": named}

    def found():
        return ix.search(q, 10, filter=filt)[0][0]

    assert ids[0] not in found()
    named.append(own)
    assert found()[0] == ids[0]
    named[-1] = next(lab for lab in range(300) if lab not in named and lab != own)
    assert ids[0] not in found()
    check_against_oracle(ix, x, ids, labels, ts, q, filt, 10)
    named[5] = "a"
    with pytest.raises(TypeError, match="filter labels must be integers"):
        ix.search(q, 10, filter=filt)
    for i in range(20):  # more lists than the cache keeps: each still right
        check_against_oracle(ix, x, ids, labels, ts, q, {"labels": list(range(i, 300, 2))}, 10)


@pytest.mark.parametrize("dtype", ["f16", "i8"])
def test_quantized_filtered_scan(rng, dtype):
    ix, x, ids, labels, ts = make_index(rng, "flat", n=600, dtype=dtype)
    q = clustered(rng, 3, x.shape[1])
    got, _ = ix.search(q, 5, filter={"labels": [1, 2], "time": (0, 800)})
    keep = passing_mask(ids, labels, ts, {"labels": [1, 2], "time": (0, 800)})
    assert np.isin(got[got != NO_ID], ids[keep]).all()
    ref = oracle_scores(x[keep], q, "cosine")
    truth = ids[keep][np.argsort(-ref, axis=1)[:, :5]]
    assert np.mean([len(set(a) & set(b)) / 5 for a, b in zip(got.tolist(), truth.tolist())]) >= 0.8


def test_batch_runs_one_plan_and_threads_agree(rng):
    ix, x, ids, labels, ts = make_index(rng, "hnsw", n=2000)
    q = clustered(rng, 40, x.shape[1])
    for filt in ({"labels": [1, 2]}, {"labels": list(range(35))}):
        one = np.stack([ix.search(qq, 10, filter=filt, threads=1)[0] for qq in q])
        for threads in (1, 4):
            batch, _ = ix.search(q, 10, filter=filt, threads=threads)
            np.testing.assert_array_equal(batch, one)


@pytest.mark.parametrize("bad, err, msg", [
    ({"labels": ["a"]}, TypeError, "filter labels must be integers"),
    ({"labels": [1.5]}, TypeError, "filter labels must be integers"),
    ({"time": (5, 1)}, ValueError, "reversed"),
    ({"time": (float("nan"), 1)}, ValueError, "NaN"),
    ({"time": (0, float("nan"))}, ValueError, "NaN"),
    ({"time": 5}, TypeError, "pair"),
    ({"time": ("a", 1)}, TypeError, "must be a number"),
    ({"tim": (0, 1)}, ValueError, "unknown filter keys"),
    ({"ids": np.array([1.0, 2.0])}, TypeError, "filter ids must be integers"),
    ({"ids": [-1]}, ValueError, "non-negative"),
])
def test_bad_filters_raise_clear_errors_and_change_nothing(rng, bad, err, msg):
    ix, x, ids, labels, ts = make_index(rng, "hnsw", n=300)
    before = ix.search(x[:2], 5, filter={"labels": [1, 2]})[0]
    with pytest.raises(err, match=msg):
        ix.search(x[:2], 5, filter=bad)
    with pytest.raises(err, match=msg):
        ix.filter_plan(bad, 5)
    assert len(ix) == 300
    np.testing.assert_array_equal(ix.search(x[:2], 5, filter={"labels": [1, 2]})[0], before)


def test_filtered_search_while_adding_and_removing(rng):
    """Writers change the lists while readers search: every result passes its
    filter and is a live-or-just-removed id; nothing crashes."""
    dim = 16
    ix = Index(dim, kind="hnsw", M=8, ef_construction=40)
    x0 = clustered(rng, 1500, dim)
    ix.add(x0, ids=np.arange(1500, dtype=np.uint64), labels=np.arange(1500) % 20,
           timestamps=np.arange(1500, dtype=float))
    stop = threading.Event()
    errors = []

    def writer():
        r = np.random.default_rng(5)
        nxt = 10**6
        try:
            for _ in range(30):
                xs = clustered(r, 50, dim)
                new = np.arange(nxt, nxt + 50, dtype=np.uint64)
                nxt += 50
                ix.add(xs, ids=new, labels=(new % 20).astype(np.int64), timestamps=new.astype(float))
                ix.remove(new[:25])
                ix.set_labels(new[25:30], 3)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            stop.set()

    def reader(seed):
        r = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                lab = int(r.integers(20))
                filt = {"labels": [lab, 3]} if seed % 2 else {"labels": [lab], "time": (0, 2e6)}
                got, _ = ix.search(clustered(r, 2, dim), 5, filter=filt)
                held = got[got != NO_ID]
                if held.size:
                    lab_ok = (held % 20 == lab) | (held % 20 == 3) | (held >= 10**6)
                    assert lab_ok.all()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    # after the dust settles: the lists agree with the payload
    all_ids = ix.ids()
    lab = ix.payload(all_ids)["labels"]
    for label in (3, 7):
        assert ix.filter_plan({"labels": [label]}, 5)["passing"] == int((lab == label).sum())
