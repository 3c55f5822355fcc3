"""Closed means closed: after close() every public member of Index (flat, HNSW,
mmap-opened) and Navigator raises ClosedError; close/closed/__exit__/__repr__ work.
Each member runs in a forked child (tests/closed_harness.py), so a crash fails by name."""

import gc
import weakref

import numpy as np
import pytest

from closed_harness import assert_closed_everywhere
from superinstance.errors import ClosedError
from superinstance.vector_navigator import Index, Navigator

# Valid arguments for every member that needs some: the call must fail only
# because the object is closed.
ARGS = '''
import numpy as np
Q = np.ones(8, dtype=np.float32)
ARGS = {
    "add": (np.ones((2, 8), dtype=np.float32),),
    "remove": ([0],),
    "set_labels": ([0], [1]),
    "search": (Q, 1),
    "contains": (0,),
    "get": ([0],),
    "payload": ([0],),
    "save": (PATH,),
    "ef_search": 10,
    "create_basin": (("a",),),
    "route": (Q,),
    "counts": (),
}
'''


def _snippet(tmp_path, make_body):
    path = str(tmp_path / "saved.si")
    return (f"PATH = {path!r}\n" + ARGS + "from superinstance.vector_navigator import Index, Navigator\n"
            + make_body)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_index_closed_everywhere(tmp_path, kind):
    results = assert_closed_everywhere(_snippet(tmp_path, f'''
def make():
    ix = Index(8, kind={kind!r})
    ix.add(np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32))
    return ix
'''))
    assert {"add", "search", "save", "dim", "ef_search", "__len__", "__enter__"} <= set(results)


def test_mmap_loaded_index_closed_everywhere(tmp_path):
    ix = Index(8, kind="hnsw")
    ix.add(np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32))
    ix.save(tmp_path / "src.si")
    src = str(tmp_path / "src.si")
    assert_closed_everywhere(_snippet(tmp_path, f'''
def make():
    return Index.load({src!r}, mmap=True)
'''))


def test_navigator_closed_everywhere(tmp_path):
    results = assert_closed_everywhere(_snippet(tmp_path, '''
def make():
    ix = Index(8)
    nav = Navigator(ix)
    nav.create_basin(("a", "b"))
    nav.add(("a", "b"), np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32))
    return nav
ARGS["add"] = (("a", "b"), np.ones((2, 8), dtype=np.float32))
'''))
    assert {"add", "search", "build_basins", "route", "basins", "tree", "save"} <= set(results)


def test_close_frees_and_is_idempotent():
    ix = Index(8)
    ix.add(np.ones((1000, 8), dtype=np.float32))
    assert ix.memory_bytes > 8 * 4 * 1000
    with ix:
        pass
    assert ix.closed and repr(ix) == "Index(closed)"
    ix.close()
    with pytest.raises(ClosedError, match="Index is closed"):
        len(ix)
    with pytest.raises(ClosedError):
        with ix:
            pass


def test_mmap_close_unmaps_the_file(tmp_path):
    path = tmp_path / "m.si"
    ix = Index(16)
    ix.add(np.random.default_rng(1).standard_normal((500, 16)).astype(np.float32))
    ix.save(path)

    def mapped():
        with open("/proc/self/maps") as f:
            return sum(str(path) in line for line in f)

    m = Index.load(path, mmap=True)
    assert mapped() >= 1
    m.close()
    assert mapped() == 0


def test_navigator_close_owns_only_what_it_loaded(tmp_path):
    ix = Index(4)
    nav = Navigator(ix)
    nav.create_basin("a")
    nav.add("a", np.eye(4, dtype=np.float32))
    nav.close()
    assert not ix.closed, "a borrowed index stays open"
    ix.save(tmp_path / "n.si")  # keeps the closed Navigator's basins
    loaded = Navigator.load(tmp_path / "n.si")
    assert loaded.basins() == [("a",)]
    inner = loaded.index
    with loaded:
        pass
    assert inner.closed, "an index the Navigator loaded is closed with it"
    with pytest.raises(ClosedError, match="Navigator is closed"):
        loaded.basins()


def test_navigator_and_index_are_freed_without_the_cyclic_gc(tmp_path):
    """Navigator(index) must not form a cycle: with gc disabled, dropping the
    Navigator frees the Index (and its vectors) at once."""
    ix = Index(8)
    ix.add(np.random.default_rng(2).standard_normal((50, 8)).astype(np.float32))
    Navigator(ix).build_basins(depth=1, branching=3)
    ix.save(tmp_path / "c.si")
    del ix
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            nav = Navigator.load(tmp_path / "c.si")
            dead_index = weakref.ref(nav.index)
            dead_nav = weakref.ref(nav)
            del nav
            assert dead_nav() is None and dead_index() is None
        # A Navigator dropped while the Index lives on: the index keeps its basins.
        ix = Index.load(tmp_path / "c.si")
        nav = Navigator(ix)
        nav.create_basin("extra")
        del nav
        assert Navigator(ix).basins()[-1] == ("extra",)
    finally:
        gc.enable()
