"""Basins: named paths, basin searches to a depth, tree(), k-means basins and route()."""

import numpy as np
import pytest

from superinstance.vector_navigator import NO_ID, Index, Navigator

from vn_helpers import assert_topk, normalize, oracle_scores


def test_named_basins_and_depth(rng):
    ix = Index(16)
    nav = Navigator(ix)
    paths = [("conversation",), ("conversation", "technical"), ("conversation", "technical", "rust"),
             ("conversation", "technical", "rust", "async"), ("conversation", "social"), ("music",)]
    nav.create_basin(("conversation", "technical", "rust"), sentiment=(0.2, 0.6, 0.7))
    for p in paths:
        nav.create_basin(p)
    rows = {}
    xs = []
    for p in paths:
        x = rng.standard_normal((60, 16)).astype(np.float32)
        ids = nav.add(p, x)
        rows[p] = ids
        xs.append(x)
    allx = np.concatenate(xs)
    allids = np.concatenate([rows[p] for p in paths])
    q = rng.standard_normal((4, 16)).astype(np.float32)
    ref = oracle_scores(allx, q, "cosine")

    def check(basin, depth, members):
        m = np.isin(allids, np.concatenate([rows[p] for p in members]))
        got, scores = nav.search(q, 5, basin=basin, depth=depth)
        assert_topk(got, scores, ref[:, m], allids[m], 5)

    tech = ("conversation", "technical")
    check(tech, 0, [tech])
    check(tech, 1, [tech, tech + ("rust",)])
    check(tech, 2, [tech, tech + ("rust",), tech + ("rust", "async")])
    check(("conversation",), 5, paths[:5])
    check(("music",), 2, [("music",)])
    # the basin's sentiment is given to its vectors
    p = ix.payload(rows[("conversation", "technical", "rust")][:3])
    np.testing.assert_allclose(p["sentiment"], [[0.2, 0.6, 0.7]] * 3)
    assert ix.payload(rows[("music",)][:1])["has_sentiment"].tolist() == [False]
    t = nav.tree()
    assert t["conversation"]["total"] == 300 and t["conversation"]["count"] == 60
    assert t["conversation"]["children"]["technical"]["children"]["rust"]["sentiment"] == (0.2, 0.6, 0.7)
    assert t["music"]["total"] == 60
    with pytest.raises(KeyError, match="no basin"):
        nav.add(("nope",), allx[:1])
    with pytest.raises(KeyError):
        nav.search(q, 3, basin=("nope",))
    with pytest.raises(ValueError):
        nav.create_basin(())
    with pytest.raises(ValueError, match="sentiment"):
        nav.create_basin(("x",), sentiment=(3, 0, 0))


def test_build_basins_and_route():
    rng = np.random.default_rng(2)
    centers = normalize(rng.standard_normal((4, 32)))
    sub = rng.standard_normal((4, 3, 32)) * 0.08
    pts, truth = [], []
    for c in range(4):
        for s in range(3):
            pts.append(centers[c] + sub[c, s] + 0.01 * rng.standard_normal((100, 32)))
            truth += [(c, s)] * 100
    x = np.concatenate(pts).astype(np.float32)
    ix = Index(32)
    ids = ix.add(x)
    nav = Navigator(ix)
    leaves = nav.build_basins(depth=2, branching=4, seed=1)
    assert all(len(p) == 2 for p in leaves)
    labels = ix.payload(ids)["labels"]
    # top-level basins recover the 4 generating clusters exactly
    tops = {}
    for i, (c, _) in enumerate(truth):
        top = [p for p in nav.basins() if len(p) == 2 and nav._label[p] == labels[i]][0][0]
        tops.setdefault(c, set()).add(top)
    assert all(len(v) == 1 for v in tops.values()) and len(set().union(*tops.values())) == 4
    t = nav.tree()
    assert sum(v["total"] for v in t.values()) == len(x)
    # route(q) leads to the leaf holding q's nearest neighbour for most queries
    hits = 0
    for i in rng.choice(len(x), 50, replace=False):
        q = x[i] + 0.01 * rng.standard_normal(32).astype(np.float32)
        path = nav.route(q)
        assert len(path) == 2
        hits += nav._label[path] == labels[i]
        got, _ = nav.search(q, 3, basin=path[:1], depth=1)
        assert np.isin(labels[got.astype(np.int64)], [nav._label[p] for p in nav.basins() if p[0] == path[0]]).all()
    assert hits >= 45
    with pytest.raises(ValueError):
        Navigator(Index(4)).route(np.ones(4))


def test_basin_search_sees_basins_made_after_it():
    """The Navigator keeps each (basin, depth)'s label list between searches:
    a basin created, rebuilt or restored afterwards must change what it finds."""
    rng = np.random.default_rng(5)
    nav = Navigator(Index(8, kind="flat"))
    nav.create_basin(("a", "b"))
    first = nav.add(("a", "b"), rng.standard_normal((20, 8)).astype(np.float32))
    q = rng.standard_normal(8).astype(np.float32)
    got, _ = nav.search(q, 20, basin=("a",), depth=1)
    assert set(got[got != NO_ID].tolist()) == set(first.tolist())
    nav.create_basin(("a", "c"))
    later = nav.add(("a", "c"), rng.standard_normal((20, 8)).astype(np.float32))
    got, _ = nav.search(q, 40, basin=("a",), depth=1)
    assert set(got[got != NO_ID].tolist()) == set(first.tolist()) | set(later.tolist())
    got, _ = nav.search(q, 40, basin=("a",), depth=0)  # the basin alone holds no rows
    assert (got == NO_ID).all()
    # k-means basins rebuilt with fewer leaves: a leaf searched before is gone
    leaves = nav.build_basins(depth=1, branching=3, seed=0)
    gone = leaves[-1]
    got, _ = nav.search(q, 40, basin=gone, depth=0)
    assert (got != NO_ID).any()
    kept = nav.build_basins(depth=1, branching=2, seed=0)
    assert gone not in kept
    with pytest.raises(KeyError):
        nav.search(q, 5, basin=gone, depth=0)
    every = set(first.tolist()) | set(later.tolist())
    found = set()
    for leaf in kept:
        got, _ = nav.search(q, 40, basin=leaf, depth=0)
        found |= set(got[got != NO_ID].tolist())
    assert found == every  # the rebuilt leaves' labels, not the old ones


def test_route_works_for_hand_made_basins():
    rng = np.random.default_rng(11)
    nav = Navigator(Index(16, metric="cosine"))
    centers = {("talk", "tech", "rust"): rng.standard_normal(16), ("talk", "tech", "gpu"): rng.standard_normal(16),
               ("talk", "music", "jazz"): rng.standard_normal(16)}
    for path, c in centers.items():
        nav.create_basin(path)
        nav.add(path, (c + 0.1 * rng.standard_normal((30, 16))).astype(np.float32))
    for path, c in centers.items():
        assert nav.route((c + 0.1 * rng.standard_normal(16)).astype(np.float32)) == path
    # a basin's centroid is the mean of the normalised rows added to it and to its children
    rows = nav.index.get(nav.index.ids()).astype(np.float64)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    np.testing.assert_allclose(nav._centroid[("talk",)], rows.mean(0), rtol=1e-6, atol=1e-7)


def test_route_without_vectors_raises():
    nav = Navigator(Index(4))
    nav.create_basin(("a",))
    with pytest.raises(ValueError, match="route"):
        nav.route(np.ones(4, np.float32))
