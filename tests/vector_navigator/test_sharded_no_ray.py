"""ShardedIndex pieces that need no Ray: the install hint and the routing hash."""

import sys

import numpy as np
import pytest

from superinstance.vector_navigator import ShardedIndex
from superinstance.vector_navigator._sharded import shard_of

def test_without_ray_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ImportError, match=r"superinstance\[distributed\]"):
        ShardedIndex(16, shards=2)


def _splitmix64(v):
    m = 2**64 - 1
    z = (v + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def test_routing_is_splitmix64_of_the_id():
    assert _splitmix64(0) == 0xE220A8397B1DCDAF  # the published first output of splitmix64(seed 0)
    ids = np.array([0, 1, 2, 12345, 2**40 + 7, 2**64 - 2], dtype=np.uint64)
    for shards in (1, 3, 4, 64, 1000):
        want = [_splitmix64(int(i)) % shards for i in ids]
        assert shard_of(ids, shards).tolist() == want


def test_scaling_model_arithmetic():
    """sharded_model on made-up measurements, against the formulas by hand."""
    from superinstance.bench.vector_navigator import sharded_model, sharded_model_exponent, sharded_model_table

    r = {"shards": 4, "n": 1000, "kind": "hnsw", "batch": 100, "threads": 2, "rtt_search_bytes_one_p50_ms": 1.0,
         "submit_per_call_ms": 0.1, "single_p50_ms": 0.4, "shard_search_p50_ms": 0.2, "single_batch_qps": 1000.0,
         "merge_ms": {"4": 0.01, "16": 0.02, "64": 0.04}, "merge_batch_ms": {"4": 1.0, "16": 2.0, "64": 4.0}}
    assert sharded_model_exponent(r) == pytest.approx(0.5)  # 0.4 / 0.2 = 4 ** a
    m = {row["shards"]: row for row in sharded_model(r, (4, 16), n_total=4000, shard_threads=8, network_ms=0.5)}
    shard_ms = 0.4 * (1000 / 1000) ** 0.5  # 4000 / 4 rows = n rows
    assert m[4]["shard_search_ms"] == pytest.approx(shard_ms)
    assert m[4]["p50_ms"] == pytest.approx(1.0 + 0.5 + 2 * 0.1 * 3 + shard_ms + 0.01)
    batch_core_ms = 2 * 1e3 / 1000.0 * shard_ms / 0.4  # the Index's batch cost per query and core, scaled
    assert m[4]["batch_qps"] == pytest.approx(100 / ((1.5 + 0.6 + 100 * batch_core_ms / 8 + 1.0) / 1e3))
    assert m[16]["shard_search_ms"] == pytest.approx(0.4 * 0.25 ** 0.5)
    assert m[16]["single_machine_p50_ms"] == pytest.approx(0.4 * 4 ** 0.5)
    assert sharded_model_exponent({**r, "kind": "flat"}) == 1.0
    assert "| 16 | 250 |" in sharded_model_table(list(m.values()), 4000, 8, 0.5, 0.5)
