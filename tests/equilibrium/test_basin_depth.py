"""EquilibriumOrchestrator(basin_depth=d): the context search restricted to the
routed basin at level d and everything below it (issue #13), checked against
a brute force over the rows of that basin; 0 keeps the unrestricted search."""

import numpy as np
import pytest

from superinstance.equilibrium.demo import build_default
from superinstance.equilibrium.orchestrator import EquilibriumOrchestrator


@pytest.fixture(scope="module")
def built():
    return build_default(2.0, per_subtopic=30, kind="hnsw", seed=0)


def orchestrator(built, depth):
    return EquilibriumOrchestrator(2.0, index=built["navigator"], policy=built["policy"],
                                   sentiment=built["head"].predict, features=built["orchestrator"].features,
                                   basin_depth=depth)


def brute_force(built, e, basin, k):
    """The k best rows under `basin` by the same score (cosine, sentiment weight 0)."""
    corpus = built["corpus"]
    rows = [i for i, p in enumerate(corpus.paths) if tuple(p[:len(basin)]) == tuple(basin)]
    x = corpus.embeddings[rows].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    s = x @ (e / np.linalg.norm(e))
    return set(np.asarray(corpus.ids)[np.asarray(rows)[np.argsort(-s)[:k]]].tolist())


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_context_comes_from_the_routed_basin(built, depth):
    orch = orchestrator(built, depth)
    orch.sentiment_weight = 0.0
    corpus = built["corpus"]
    nav = built["navigator"]
    for path in list(corpus.centers)[:6]:
        e = corpus.centers[path] + 0.05 * np.random.default_rng(1).standard_normal(corpus.centers[path].shape)
        e = e.astype(np.float32)
        res = orch.orchestrate(e, sentiment=(0.2, 0.4, 0.5), measured_rate_hz=2.0)
        basin = res.suggested_path[:depth]
        labels = nav.index.payload(res.context_ids)["labels"]
        allowed = set(nav._labels_under(basin, 1 << 16))
        assert set(labels.tolist()) <= allowed, (basin, labels)
        got = set(res.context_ids.tolist())
        want = brute_force(built, e, basin, orch.k)
        assert len(got & want) >= orch.k - 1, (basin, got, want)  # HNSW: allow one miss
        orch.reward(res.tick, 0.5)


def test_depth_zero_is_todays_unrestricted_search(built):
    plain = orchestrator(built, 0)
    e = built["corpus"].centers[("conversation", "outdoors", "fishing")]
    res = plain.orchestrate(e, sentiment=(0.8, 0.3, 0.7), measured_rate_hz=2.0)
    ids, _ = built["navigator"].search(e, plain.k, sentiment=(0.8, 0.3, 0.7), sentiment_weight=plain.sentiment_weight)
    np.testing.assert_array_equal(res.context_ids, ids)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_bad_basin_depth_is_refused(built, bad):
    with pytest.raises(ValueError, match="basin_depth"):
        orchestrator(built, bad)
