"""save / load / load(mmap=True): round trips, read-only maps, corrupt and
newer files, and a save killed midway leaving the old file loadable."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from superinstance import _core
from superinstance.errors import (CorruptFileError, UnsupportedVersionError, WrongFileKindError)
from superinstance.vector_navigator import Index

from vn_helpers import clustered


def build(kind, rng, metric="cosine", n=1500, dim=20):
    x = clustered(rng, n, dim)
    ix = Index(dim, metric=metric, kind=kind, M=8, ef_construction=40)
    ids = ix.add(x, ids=rng.choice(10**9, n, replace=False), sentiment=np.tile([0.1, 0.2, 0.3], (n, 1)),
                 timestamps=np.arange(n, dtype=float), labels=np.arange(n) % 4)
    ix.remove(ids[:100])
    return ix, x, ids


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("mmap", [False, True])
def test_round_trip_gives_identical_results(kind, mmap, tmp_path, rng):
    ix, x, ids = build(kind, rng)
    path = tmp_path / "ix.sif"
    ix.save(path)
    back = Index.load(path, mmap=mmap)
    assert (back.kind, back.metric, back.dim, len(back)) == (kind, "cosine", 20, len(ix))
    assert back.read_only is mmap
    q = clustered(rng, 12, 20)
    kw = dict(sentiment=(0.2, 0.3, 0.3), sentiment_weight=0.2, time_decay=0.1, now=2000.0,
              filter={"labels": [1, 2]})
    for args in (dict(), kw):
        a = ix.search(q, 8, **args)
        b = back.search(q, 8, **args)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(back.get(ids[100:110]), ix.get(ids[100:110]))
    assert not back.contains(int(ids[0]))
    for k in ("labels", "timestamps", "sentiment"):
        np.testing.assert_array_equal(back.payload(ids[200:210])[k], ix.payload(ids[200:210])[k])
    if mmap:
        with pytest.raises(ValueError, match="read-only"):
            back.add(x[:1])
        with pytest.raises(ValueError, match="read-only"):
            back.remove(ids[100:101])
    else:
        new = back.add(x[:3])  # a loaded index keeps assigning fresh ids
        assert len(set(new.tolist()) & set(ids.tolist())) == 0


def test_l2_and_empty_index_round_trip(tmp_path, rng):
    ix, _, _ = build("flat", rng, metric="l2")
    ix.save(tmp_path / "a")
    assert Index.load(tmp_path / "a").metric == "l2"
    Index(7).save(tmp_path / "empty")
    e = Index.load(tmp_path / "empty", mmap=True)
    assert len(e) == 0 and e.dim == 7


def test_corrupt_truncated_newer_and_wrong_files(tmp_path, rng):
    ix, _, _ = build("hnsw", rng)
    path = tmp_path / "ix.sif"
    ix.save(path)
    raw = bytearray(path.read_bytes())
    bad = tmp_path / "bad"
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0x40
    bad.write_bytes(flipped)
    for mmap in (False, True):
        with pytest.raises(CorruptFileError):
            Index.load(bad, mmap=mmap)
    bad.write_bytes(raw[: len(raw) - 100])
    with pytest.raises(CorruptFileError):
        Index.load(bad)
    payload = bytes(raw[64:])
    _core.write_file_atomic(str(bad), "vecnav-index", 2, payload)
    with pytest.raises(UnsupportedVersionError):
        Index.load(bad)
    _core.write_file_atomic(str(bad), "histogram", 1, payload)
    with pytest.raises(WrongFileKindError):
        Index.load(bad)
    # checksum-valid but structurally wrong payloads
    for junk in (payload[:100], payload[:-8], payload + b"x" * 8, b"\xff" * 128 + payload[128:]):
        _core.write_file_atomic(str(bad), "vecnav-index", 1, junk)
        with pytest.raises(CorruptFileError):
            Index.load(bad)
    with pytest.raises(OSError):
        Index.load(tmp_path / "missing")


_KILL_SCRIPT = r"""
import sys, numpy as np
from superinstance.vector_navigator import Index
ix = Index(256)
ix.add(np.random.default_rng(0).standard_normal((60000, 256)).astype(np.float32))
print("ready", flush=True)
while True:
    ix.save(sys.argv[1])
"""


def test_save_killed_midway_leaves_old_file_loadable(tmp_path, rng):
    path = tmp_path / "ix.sif"
    old, _, _ = build("flat", rng)
    old.save(path)
    env = dict(os.environ)
    for delay in (0.05, 0.2, 0.4):
        p = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, env=env)
        assert p.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        back = Index.load(path)  # either the old index or a complete new one
        assert len(back) in (len(old), 60000)
    leftovers = [f for f in os.listdir(tmp_path) if f != "ix.sif"]
    assert len(leftovers) <= 3  # at most the temporaries of the killed writers
