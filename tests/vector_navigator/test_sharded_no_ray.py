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
