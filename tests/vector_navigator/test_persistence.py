"""save / load / load(mmap=True): round trips, read-only maps, corrupt and
newer files, version-1 files (before basins were saved), basins saved with the
index, and a save killed midway leaving the old file loadable."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from superinstance import _core
from superinstance.errors import (CorruptFileError, UnsupportedVersionError, WrongFileKindError)
from superinstance.vector_navigator import Index, Navigator

from vn_helpers import assert_topk, clustered, oracle_scores
from vn_v1_data import v1_data

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


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
    _core.write_file_atomic(str(bad), "vecnav-index", 3, payload)
    with pytest.raises(UnsupportedVersionError):
        Index.load(bad)
    _core.write_file_atomic(str(bad), "histogram", 1, payload)
    with pytest.raises(WrongFileKindError):
        Index.load(bad)
    # checksum-valid but structurally wrong payloads
    for junk in (payload[:100], payload[:-8], payload + b"x" * 8, b"\xff" * 128 + payload[128:]):
        _core.write_file_atomic(str(bad), "vecnav-index", 2, junk)
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
    # Each writer removed the temporaries its killed predecessors left: at most
    # the last one's remains, and the next save removes that too.
    leftovers = [f for f in os.listdir(tmp_path) if f != "ix.sif"]
    assert len(leftovers) <= 1, leftovers
    Index.load(path).save(path)
    assert os.listdir(tmp_path) == ["ix.sif"]


# ---------------------------------------------------------------- version 1 files


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("mmap", [False, True])
def test_version_1_file_still_loads(kind, mmap, tmp_path):
    """Files written by the version-1 code (no basins) load: same ids, vectors
    and payload as the data they were made from, exact search results, and no
    basins; saving them again writes the current version."""
    x, ids, vad, ts, labels = v1_data()
    path = os.path.join(DATA, f"index_v1_{kind}.sif")
    with open(path, "rb") as f:
        assert int.from_bytes(f.read(28)[24:28], "little") == 1  # really a version-1 file
    ix = Index.load(path, mmap=mmap)
    live = np.arange(5, 60)
    assert (ix.kind, ix.metric, len(ix)) == (kind, "cosine", 55)
    np.testing.assert_array_equal(np.sort(ix.ids()), ids[live])
    np.testing.assert_allclose(ix.get(ids[live]), x[live], rtol=1e-5, atol=1e-6)
    p = ix.payload(ids[live])
    np.testing.assert_array_equal(p["sentiment"], vad[live])
    np.testing.assert_array_equal(p["timestamps"], ts[live])
    np.testing.assert_array_equal(p["labels"], labels[live])
    q = np.random.default_rng(5).standard_normal((6, 12)).astype(np.float32)
    got, scores = ix.search(q, 5, ef=60)
    assert_topk(got, scores, oracle_scores(x[live], q, "cosine"), ids[live], 5)
    nav = Navigator(ix)
    assert nav.basins() == []
    ix.save(tmp_path / "v2")
    with open(tmp_path / "v2", "rb") as f:
        assert int.from_bytes(f.read(28)[24:28], "little") == 2
    again = Index.load(tmp_path / "v2")
    np.testing.assert_array_equal(again.search(q, 5, ef=60)[0], got)


# ---------------------------------------------------------------- basins


def make_navigator(rng, kind="hnsw"):
    ix = Index(16, kind=kind, M=8, ef_construction=40)
    nav = Navigator(ix)
    nav.create_basin(("conversation", "technical", "rust"), sentiment=(0.2, 0.6, 0.7))
    nav.create_basin(("music",))
    xs = {p: clustered(rng, 80, 16) for p in (("conversation", "technical", "rust"), ("music",),
                                              ("conversation",))}
    for p, x in xs.items():
        nav.add(p, x)
    rest = clustered(rng, 300, 16)
    nav.index.add(rest)
    return nav


def same_basins(a, b, q):
    assert a.basins() == b.basins()
    assert a.tree() == b.tree()
    assert a._label == b._label and a._next_label == b._next_label
    assert a._sentiment == b._sentiment
    assert set(a._centroid) == set(b._centroid)
    for p in a._centroid:
        np.testing.assert_array_equal(a._centroid[p], b._centroid[p])
    for v in q:
        assert a.route(v) == b.route(v)
    for p in a.basins():
        ga, sa = a.search(q, 3, basin=p, depth=1, exact=True)
        gb, sb = b.search(q, 3, basin=p, depth=1, exact=True)
        np.testing.assert_array_equal(ga, gb)
        np.testing.assert_array_equal(sa, sb)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("mmap", [False, True])
def test_basins_round_trip(kind, mmap, tmp_path, rng):
    nav = make_navigator(rng, kind)
    nav.build_basins(depth=2, branching=3, seed=4)  # k-means basins next to the hand-made ones
    path = tmp_path / "nav.sif"
    nav.save(path)
    q = clustered(rng, 8, 16)
    back = Navigator.load(path, mmap=mmap)
    same_basins(nav, back, q)
    # Index.load + Navigator(index) is the same thing
    same_basins(nav, Navigator(Index.load(path, mmap=mmap)), q)
    if not mmap:  # a basin made after loading takes a label no other basin has
        p = back.create_basin(("new",))
        assert back._label[p] not in {lab for b, lab in back._label.items() if b != p}


def test_basins_survive_load_save_without_navigator(tmp_path, rng):
    nav = make_navigator(rng)
    nav.save(tmp_path / "a")
    ix = Index.load(tmp_path / "a")
    ix.save(tmp_path / "b")  # no Navigator made: the loaded basins are written back
    q = clustered(rng, 4, 16)
    same_basins(nav, Navigator.load(tmp_path / "b"), q)
    # a second Navigator on the index starts from a copy of the first's basins, and is the one saved
    nav2 = Navigator(nav.index)
    same_basins(nav, nav2, q)
    nav2.create_basin(("only", "in", "nav2"))
    assert ("only",) not in nav.basins()
    nav.index.save(tmp_path / "d")
    assert ("only", "in", "nav2") in Navigator.load(tmp_path / "d").basins()
    # an index saved without any Navigator has no basins
    plain = Index(16)
    plain.add(clustered(rng, 20, 16))
    plain.save(tmp_path / "c")
    assert Navigator.load(tmp_path / "c").basins() == []


def test_rebuilt_basins_never_reuse_a_live_label(rng):
    nav = make_navigator(rng)
    nav.build_basins(depth=1, branching=3, seed=1)
    nav.create_basin(("late",))
    nav.build_basins(depth=1, branching=3, seed=2)  # replaces the k-means basins only
    labels = list(nav._label.values())
    assert len(set(labels)) == len(labels)


def test_damaged_basins_raise_corrupt_file(tmp_path, rng):
    nav = make_navigator(rng)
    path = tmp_path / "ix.sif"
    nav.save(path)
    payload = path.read_bytes()[64:]
    att = nav._state_bytes()
    head = payload[: len(payload) - 8 - len(att)]
    assert payload[len(head):] == len(att).to_bytes(8, "little") + att
    bad = tmp_path / "bad"
    for junk in (b"not basins", att[:-8], att[:20] + b"{" + att[21:], att + b"\0" * 8,
                 att.replace(b'"label": ', b'"label": "x', 1)):
        _core.write_file_atomic(str(bad), "vecnav-index", 2, head + len(junk).to_bytes(8, "little") + junk)
        with pytest.raises(CorruptFileError, match="basins"):
            Index.load(bad)
    # an attachment longer than the file is a truncated file
    _core.write_file_atomic(str(bad), "vecnav-index", 2, head + (len(att) + 1).to_bytes(8, "little") + att)
    with pytest.raises(CorruptFileError):
        Index.load(bad)


_KILL_BASINS_SCRIPT = r"""
import sys, numpy as np
from superinstance.vector_navigator import Index, Navigator
ix = Index(256)
nav = Navigator(ix)
nav.create_basin(("new", "basins"))
nav.add(("new", "basins"), np.random.default_rng(0).standard_normal((60000, 256)).astype(np.float32))
print("ready", flush=True)
while True:
    nav.save(sys.argv[1])
"""


def test_save_with_basins_killed_midway_leaves_old_file_loadable(tmp_path, rng):
    path = tmp_path / "ix.sif"
    old = make_navigator(rng, "flat")
    old.save(path)
    for delay in (0.05, 0.3):
        p = subprocess.Popen([sys.executable, "-c", _KILL_BASINS_SCRIPT, str(path)], stdout=subprocess.PIPE,
                             env=dict(os.environ))
        assert p.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        back = Navigator.load(path)  # the old index and basins, or the new ones: never a mixture
        if len(back.index) == len(old.index):
            assert back.basins() == old.basins()
        else:
            assert len(back.index) == 60000 and back.basins() == [("new",), ("new", "basins")]
