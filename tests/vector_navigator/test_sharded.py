"""ShardedIndex on a local Ray instance (one for the whole module, num_cpus=2).

Small indexes only: every ShardedIndex starts shards x replicas worker
processes. The reference is a single Index holding the same vectors (itself
tested against float64 brute force) and, for one case, brute force directly.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest

from superinstance import storage
from superinstance.errors import CorruptFileError, UnknownIdError, UnsupportedVersionError, WrongFileKindError
from superinstance.vector_navigator import NO_ID, Index, Navigator, ShardedIndex, ShardUnavailableError
from superinstance.vector_navigator._sharded import MANIFEST, shard_of

from vn_helpers import assert_topk, clustered, oracle_scores

DIM = 16


ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'superinstance[distributed]'")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    x = clustered(rng, 600, DIM)
    q = clustered(rng, 12, DIM)
    labels = rng.integers(0, 5, 600)
    vad = np.stack([rng.uniform(-1, 1, 600), rng.uniform(0, 1, 600), rng.uniform(0, 1, 600)], 1)
    ts = 1e9 - rng.uniform(0, 3600 * 48, 600)
    return x, q, labels, vad, ts


@pytest.fixture(scope="module")
def pair(data):
    """A flat ShardedIndex (3 shards) and a single Index with the same vectors and payload."""
    x, _, labels, vad, ts = data
    sx = ShardedIndex(DIM, shards=3, threads=1)
    ix = Index(DIM, threads=1)
    for a, b in ((0, 250), (250, 600)):  # two batches: automatic ids continue across adds
        got = sx.add(x[a:b], labels=labels[a:b], sentiment=vad[a:b], timestamps=ts[a:b])
        assert got.tolist() == ix.add(x[a:b], labels=labels[a:b], sentiment=vad[a:b], timestamps=ts[a:b]).tolist()
    yield sx, ix
    sx.close()


SEARCH_OPTIONS = [
    {},
    {"filter": {"labels": [1, 3]}},
    {"filter": list(range(0, 600, 37))},
    {"filter": {"ids": list(range(0, 600, 5)), "labels": [2]}},
    {"filter": [1, 2]},  # fewer than k pass: padded with NO_ID / -inf
    {"sentiment": (0.3, 0.6, 0.4), "sentiment_weight": 0.4},
    {"time_decay": 0.05, "now": 1e9},
    {"sentiment": (-0.5, 0.2, 0.9), "sentiment_weight": 0.7, "time_decay": 0.01, "now": 1e9,
     "filter": {"labels": [0, 4]}},
]


@pytest.mark.parametrize("options", SEARCH_OPTIONS, ids=lambda o: "-".join(sorted(o)) or "plain")
def test_exact_search_equals_single_index(pair, data, options):
    sx, ix = pair
    q = data[1]
    for queries in (q, q[0]):  # a batch and one 1-D query
        got_ids, got_scores = sx.search(queries, 10, **options)
        want_ids, want_scores = ix.search(queries, 10, **options)
        assert got_ids.shape == want_ids.shape
        assert got_ids.tolist() == want_ids.tolist()
        # the same C++ scoring on the same machine and SIMD level; merged, not recomputed
        np.testing.assert_allclose(got_scores, want_scores, rtol=0, atol=1e-6)


def test_exact_search_against_brute_force(pair, data):
    sx, _ = pair
    x, q = data[0], data[1]
    ids, scores = sx.search(q, 10)
    assert_topk(ids, scores, oracle_scores(x, q, "cosine"), np.arange(600, dtype=np.uint64), 10)


def test_padding_and_k_checks(pair, data):
    sx, _ = pair
    ids, scores = sx.search(data[1][0], 10, filter=[3, 4])
    assert sorted(ids[:2].tolist()) == [3, 4] and (ids[2:] == NO_ID).all() and np.isneginf(scores[2:]).all()
    with pytest.raises(ValueError, match="larger than the index holds"):
        sx.search(data[1], 601)
    with pytest.raises(ValueError, match="k must be >= 1"):
        sx.search(data[1], 0)
    with pytest.raises(ValueError, match="dimension"):
        sx.search(np.ones(DIM + 1, np.float32), 3)
    with pytest.raises(ValueError, match="sentiment"):  # a shard's own check, unwrapped from Ray's error
        sx.search(data[1], 3, sentiment=(5.0, 0.0, 0.0), sentiment_weight=0.5)


def test_reads_equal_single_index(pair):
    sx, ix = pair
    some = [599, 0, 17, 300, 42]
    np.testing.assert_array_equal(sx.get(some), ix.get(some))
    np.testing.assert_array_equal(sx.get(17), ix.get(17))
    for key, col in ix.payload(some).items():
        np.testing.assert_array_equal(sx.payload(some)[key], col)
    assert len(sx) == len(ix) == 600 and sum(sx.shard_sizes()) == 600 and min(sx.shard_sizes()) > 0
    assert sx.ids().tolist() == sorted(ix.ids().tolist())
    assert 17 in sx and 600 not in sx and "x" not in sx
    with pytest.raises(UnknownIdError, match="1000"):
        sx.get([1, 1000])


def test_hnsw_shards_keep_recall(data):
    x, q = data[0], data[1]
    with ShardedIndex(DIM, shards=2, kind="hnsw", M=8, ef_construction=64, threads=1) as sx:
        sx.add(x)
        ids, _ = sx.search(q, 10, ef=64)
        exact_ids, _ = sx.search(q, 10, exact=True)
        ref = np.argsort(-oracle_scores(x, q, "cosine"), axis=1)[:, :10]
        recall = np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(ids, ref)])
        assert recall >= 0.95
        assert exact_ids.tolist() == ref.tolist()
        # ef is the whole index's budget: each of the 2 shards walks with ceil(64 / 2) + k
        assert sx.search(q, 10, shard_ef=42)[0].tolist() == ids.tolist()
        assert sx.search(q, 10)[0].tolist() == ids.tolist()  # the default budget: ef_search (64)
        assert sx.search(q, 10, ef=20)[0].tolist() == sx.search(q, 10, shard_ef=20)[0].tolist()


def test_sharded_hnsw_recall_is_a_single_index_s_at_the_same_ef():
    """The budget split keeps recall where one Index over the same rows has it
    (not below it by more than 0.01), walking far fewer candidates per shard."""
    rng = np.random.default_rng(3)
    x = clustered(rng, 4000, DIM, centers=40, spread=0.6)
    q = clustered(rng, 100, DIM, centers=40, spread=0.6)
    ref = np.argsort(-oracle_scores(x, q, "cosine"), axis=1)[:, :10]

    def recall(ids):
        return np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(ids, ref)])

    single = Index(DIM, kind="hnsw", M=6, ef_construction=32, threads=1)
    single.add(x)
    with ShardedIndex(DIM, shards=4, kind="hnsw", M=6, ef_construction=32, threads=1) as sx:
        sx.add(x)
        for ef in (10, 24, 64):
            one = recall(single.search(q, 10, ef=ef)[0])
            assert recall(sx.search(q, 10, ef=ef)[0]) >= one - 0.01, ef


def test_writes_and_bad_input_store_nothing(data):
    x = data[0]
    with ShardedIndex(DIM, shards=3, metric="l2", threads=1) as sx:
        ix = Index(DIM, metric="l2", threads=1)
        sx.add(x[:100])
        ix.add(x[:100])
        bad = x[100:120].copy()
        bad[13, 2] = np.nan
        with pytest.raises(ValueError, match="vector 13"):
            sx.add(bad)
        with pytest.raises(ValueError, match="dimension"):
            sx.add(np.ones((3, DIM - 1)))
        # id 5 is held by one shard; the other ids of the batch go to other shards
        with pytest.raises(ValueError, match="5"):
            sx.add(x[100:110], ids=[200, 201, 202, 203, 5, 204, 205, 206, 207, 208])
        with pytest.raises(ValueError, match="duplicate"):
            sx.add(x[100:102], ids=[300, 300])
        with pytest.raises(UnknownIdError, match="999"):
            sx.remove([1, 2, 999])
        with pytest.raises(UnknownIdError):
            sx.set_labels([3, 999], 4)
        assert len(sx) == 100 and sx.ids().tolist() == list(range(100))
        sx.remove([1, 2, 50])
        ix.remove([1, 2, 50])
        sx.set_labels([3, 4], [7, 8])
        assert sx.payload([3, 4])["labels"].tolist() == [7, 8]
        assert sx.add(x[100:103]).tolist() == ix.add(x[100:103]).tolist() == [100, 101, 102]
        assert sx.search(x[:8], 5)[0].tolist() == ix.search(x[:8], 5)[0].tolist()
    with pytest.raises(ValueError, match="shards"):
        ShardedIndex(DIM, shards=0)
    with pytest.raises(TypeError, match="shards"):
        ShardedIndex(DIM, shards="2")
    with pytest.raises(ValueError, match="replicas"):
        ShardedIndex(DIM, replicas=0)
    with pytest.raises(ValueError, match="metric"):
        ShardedIndex(DIM, metric="hamming")
    with pytest.raises(TypeError, match="custom"):
        ShardedIndex(DIM, metric=len)


def test_save_load_roundtrip_and_bad_directories(data, tmp_path):
    x, q = data[0], data[1]
    d = str(tmp_path / "sharded")
    with ShardedIndex(DIM, shards=2, replicas=1, kind="hnsw", M=8, ef_construction=64, threads=1) as sx:
        sx.add(x[:300], labels=data[2][:300])
        sx.save(d)
        first = sorted(os.listdir(d))
        sx.add(x[300:400])
        sx.save(d)  # a second generation replaces the first
        files = sorted(os.listdir(d))
        want = sx.search(q, 10, exact=True)
        want_labels = sx.search(q, 5, filter={"labels": [1]})
    assert len(first) == len(files) == 3 and not set(first) & (set(files) - {MANIFEST})
    with ShardedIndex.load(d) as back:
        assert (len(back), back.kind, back.shards) == (400, "hnsw", 2)
        got = back.search(q, 10, exact=True)
        assert got[0].tolist() == want[0].tolist()
        np.testing.assert_array_equal(got[1], want[1])
        assert back.search(q, 5, filter={"labels": [1]})[0].tolist() == want_labels[0].tolist()
        assert back.add(x[400:401]).tolist() == [400]  # automatic ids continue after the saved ones

    with pytest.raises(FileNotFoundError, match="not a saved ShardedIndex"):
        ShardedIndex.load(str(tmp_path / "nothing-here"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="manifest"):
        ShardedIndex.load(str(empty))
    manifest = os.path.join(d, MANIFEST)
    original = open(manifest, "rb").read()
    _, payload = storage.read_verified(manifest, "vecnav-sharded", 1)
    storage.write_atomic(manifest, "vecnav-sharded", 2, bytes(payload))  # "written by a newer version"
    with pytest.raises(UnsupportedVersionError):
        ShardedIndex.load(d)
    storage.write_atomic(manifest, "something-else", 1, bytes(payload))
    with pytest.raises(WrongFileKindError):
        ShardedIndex.load(d)
    storage.write_atomic(manifest, "vecnav-sharded", 1, b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(CorruptFileError, match="manifest"):
        ShardedIndex.load(d)
    with open(manifest, "wb") as f:
        f.write(original)
    shard = os.path.join(d, sorted(f for f in os.listdir(d) if f != MANIFEST)[0])
    blob = bytearray(open(shard, "rb").read())
    blob[len(blob) // 2] ^= 0xFF
    with open(shard, "wb") as f:
        f.write(blob)
    with pytest.raises(CorruptFileError):
        ShardedIndex.load(d)


def test_a_save_cut_before_the_manifest_leaves_the_previous_save(data, tmp_path, monkeypatch):
    from superinstance.vector_navigator import _sharded

    x, q = data[0], data[1]
    d = str(tmp_path / "cut")
    with ShardedIndex(DIM, shards=2, threads=1) as sx:
        sx.add(x[:200])
        sx.save(d)
        want = sx.search(q, 10)
        sx.add(x[200:300])

        def crash(*args, **kwargs):
            raise OSError("simulated crash before the manifest is written")

        monkeypatch.setattr(_sharded, "_write_manifest", crash)
        with pytest.raises(OSError, match="simulated"):
            sx.save(d)  # the new generation's shard files are written, the manifest is not
        monkeypatch.undo()
        # a process killed at that point leaves them behind: a file of generation 2 stays
        with open(os.path.join(d, "shard-0000-g2.sif"), "wb") as f:
            f.write(b"left by a killed save")
        with ShardedIndex.load(d) as back:
            assert len(back) == 200
            assert back.search(q, 10)[0].tolist() == want[0].tolist()
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("a file of the user's")
        sx.save(d)  # a later save works, supersedes both, and removes the stale shard files
    assert sorted(os.listdir(d)) == [MANIFEST, "notes.txt", "shard-0000-g3.sif", "shard-0001-g3.sif"]
    with ShardedIndex.load(d) as back:
        assert len(back) == 300


@pytest.mark.slow
def test_load_on_a_fresh_ray_instance(data, tmp_path):
    """Saved here, loaded by another process on a Ray instance of its own."""
    x, q = data[0], data[1]
    d = str(tmp_path / "idx")
    with ShardedIndex(DIM, shards=2, replicas=2, threads=1) as sx:
        sx.add(x, labels=data[2])
        sx.save(d)
        want = sx.search(q, 10, filter={"labels": [2, 3]})[0]
    np.save(tmp_path / "q.npy", q)
    code = (
        "import numpy as np, ray\n"
        "ray.init(address='local', num_cpus=1, include_dashboard=False, log_to_driver=False)\n"
        "from superinstance.vector_navigator import ShardedIndex\n"
        f"sx = ShardedIndex.load({d!r})\n"
        f"q = np.load({str(tmp_path / 'q.npy')!r})\n"
        f"np.save({str(tmp_path / 'got.npy')!r}, sx.search(q, 10, filter={{'labels': [2, 3]}})[0])\n"
        "print(len(sx), sx.replicas)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[-2:] == ["600", "2"]
    assert np.load(tmp_path / "got.npy").tolist() == want.tolist()


def test_navigator_over_sharded_index(data, tmp_path):
    x = data[0]
    navs = []
    for index in (Index(DIM, threads=1), ShardedIndex(DIM, shards=3, threads=1)):
        nav = Navigator(index)
        nav.create_basin(("talk", "tech"), sentiment=(0.2, 0.6, 0.7))
        nav.add(("talk", "tech"), x[:200])
        navs.append(nav)
    single, sharded = navs
    q = x[:6]
    assert sharded.search(q, 5, basin=("talk",))[0].tolist() == single.search(q, 5, basin=("talk",))[0].tolist()
    assert sharded.route(q[0]) == single.route(q[0])
    for nav in navs:
        nav.index.add(x[200:400])
    # build_basins reads ids() (ascending: the single index's storage order here) and gets the same clusters
    assert sharded.build_basins(2, 3) == single.build_basins(2, 3)  # positional: levels= is depth= after #17
    assert sharded.counts() == single.counts()
    leaf = single.route(x[250])
    assert sharded.route(x[250]) == leaf
    assert sharded.search(q, 4, basin=leaf[:1])[0].tolist() == single.search(q, 4, basin=leaf[:1])[0].tolist()
    d = str(tmp_path / "nav")
    sharded.save(d)
    back = Navigator(ShardedIndex.load(d))
    assert back.basins() == sharded.basins() and back.route(x[250]) == leaf
    back.index.close()
    sharded.index.close()


def _search_complete(sx, q, k):
    ids, scores = sx.search(q, k)
    assert not (ids == NO_ID).any() and np.isfinite(scores).all()


def test_killing_a_replica_mid_traffic_loses_no_acknowledged_add(data, tmp_path):
    x = clustered(np.random.default_rng(3), 1200, DIM)
    sx = ShardedIndex(DIM, shards=2, replicas=2, threads=1)
    acked = []  # ids whose add returned
    stop = threading.Event()
    errors = []

    def adder():
        try:
            for a in range(0, 1200, 40):
                if stop.is_set():
                    return
                acked.extend(sx.add(x[a:a + 40]).tolist())
                time.sleep(0.01)  # keeps the adds going while the test kills actors
        except BaseException as e:  # surfaced below
            errors.append(e)

    t = threading.Thread(target=adder)
    t.start()
    while len(acked) < 200:
        time.sleep(0.01)
    sx.save(str(tmp_path / "mid"))  # the restart then uses this save plus the adds after it
    ray.kill(sx._groups[0][0].handle)
    killed_at = [len(acked)]
    for _ in range(5):
        _search_complete(sx, x[:3], 10)
    while len(acked) < 700 and t.is_alive():
        time.sleep(0.01)
    ray.kill(sx._groups[1][1].handle)
    killed_at.append(len(acked))
    for _ in range(5):
        _search_complete(sx, x[:3], 10)
    t.join(120)
    assert not errors and len(acked) == 1200
    assert max(killed_at) < 1200, "the kills must land while adds are still coming"
    deadline = time.time() + 120
    while sx.health() != [["ready", "ready"]] * 2 and time.time() < deadline:
        time.sleep(0.2)
    assert sx.health() == [["ready", "ready"]] * 2

    def check_all():
        assert len(sx) == 1200 and sx.ids().tolist() == list(range(1200))
        np.testing.assert_allclose(sx.get(acked), x, rtol=1e-6)  # get() gives back the vector as added
        ix = Index(DIM, threads=1)
        ix.add(x)
        assert sx.search(x[::97], 10)[0].tolist() == ix.search(x[::97], 10)[0].tolist()

    check_all()
    # now kill the replicas that never died: every read goes to the restarted ones
    ray.kill(sx._groups[0][1].handle)
    ray.kill(sx._groups[1][0].handle)
    for s in range(2):
        assert sx._scatter({s: ("size", ())})[s] == sx.shard_sizes()[s]
    check_all()
    sx.close()


def _kill_and_wait(handle, timeout=60.0):
    """ray.kill only asks for the kill: a call made right after it can still be
    served (a search right after the kill was answered in 1 of 30 tries here).
    Returns once the actor refuses calls, so that what follows meets a dead
    replica."""
    ray.kill(handle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ray.get(handle.ping.remote(), timeout=max(0.1, deadline - time.monotonic()))
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.05)
    raise AssertionError("the killed actor still answers")


def test_one_replica_dead_shard_is_named_or_partial(data):
    x, q = data[0], data[1]
    with ShardedIndex(DIM, shards=3, replicas=1, threads=1) as sx:
        sx.add(x)
        sizes = sx.shard_sizes()
        _kill_and_wait(sx._groups[1][0].handle)
        with pytest.raises(ShardUnavailableError, match="shard 1 of 3"):
            sx.search(q, 10)
        ids, scores, answered = sx.search(q, 10, partial=True)
        assert answered == [0, 2]
        on_dead = set(np.flatnonzero(shard_of(np.arange(600, dtype=np.uint64), 3) == 1).tolist())
        assert not set(ids.ravel().tolist()) & on_dead and np.isfinite(scores).all()
        with pytest.raises(ShardUnavailableError, match="shard 1"):
            sx.add(x[:30])  # routed to every shard: refused before any shard stores
        with pytest.raises(ShardUnavailableError, match="shard 1"):
            sx.save(tempfile.mkdtemp())
        assert sx.shard_sizes() == sizes and sx._scatter({0: ("size", ())})[0] == sizes[0]
    with pytest.raises(Exception, match="closed"):
        sx.search(q, 3)
