"""Property-based fuzzing of every public call of Index and Navigator, and
flat search against a brute-force numpy oracle.

Each refused call must raise a clear Python error (fuzz_helpers.CLEAR_ERRORS,
never pybind11's signature dump, never a crash) and leave the object as it
was: the saved bytes (mutating calls) or the results of a fixed probe search
(queries) are compared before and after. Accepted calls are checked for what
they promise. Profiles: tests/conftest.py ("ci" by default; "long" with
SUPERINSTANCE_FUZZ=long python -m pytest -m fuzz).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fuzz_helpers import CLEAR_ERRORS, HUGE_INTS, assert_rejected_cleanly, bad_arrays, bad_values
from superinstance.errors import CorruptFileError
from superinstance.vector_navigator import NO_ID, Index, Navigator

from vn_helpers import assert_topk, oracle_scores

pytestmark = pytest.mark.fuzz

DIM = 8
N = 40
_TMP = tempfile.mkdtemp(prefix="vn_fuzz_")


def make_index(kind="flat", metric="cosine", dtype="f32"):
    rng = np.random.default_rng(7)
    ix = Index(DIM, metric=metric, kind=kind, dtype=dtype, M=8, ef_construction=32)
    ix.add(rng.standard_normal((N, DIM)).astype(np.float32), ids=np.arange(N) * 3,
           sentiment=np.tile([0.1, 0.5, 0.5], (N, 1)), timestamps=np.arange(N, dtype=float),
           labels=np.arange(N) % 5)
    return ix


def saved_bytes(ix):
    path = os.path.join(_TMP, "snapshot.si")
    ix.save(path)
    with open(path, "rb") as f:
        return f.read()


PROBE = np.random.default_rng(8).standard_normal((3, DIM)).astype(np.float32)


def probe(ix):
    ids, scores = ix.search(PROBE, 5, exact=True)
    return ids, scores, len(ix)


kinds = st.sampled_from(["flat", "hnsw"])
good_vectors = st.integers(0, 4).map(
    lambda n: np.random.default_rng(n).standard_normal((n, DIM)).astype(np.float32))
vectors_arg = st.one_of(good_vectors, bad_arrays((3, DIM)), bad_values())
int_ids = st.lists(st.sampled_from([0, 3, 5, 6, 117, 10**6, 2**63, 2**64 - 2, 2**64 - 1]), max_size=4)
ids_arg = st.one_of(st.none(), int_ids, int_ids.map(np.array), bad_values(), bad_arrays((3,)),
                    st.just(np.array([1, 1, 2])), st.just(np.array([-1, 2, 3])), st.just(np.zeros(0, np.int64)))
threads_arg = st.one_of(st.none(), st.integers(0, 4), bad_values())
small_or_bad_int = st.one_of(st.integers(-3, 50), st.sampled_from(HUGE_INTS), bad_values())


# ---------------------------------------------------------------- Index: mutations


@given(kind=kinds, vectors=vectors_arg, ids=ids_arg, sentiment=st.one_of(st.none(), bad_arrays((3, 3)), bad_values()),
       timestamps=st.one_of(st.none(), bad_arrays((3,)), bad_values()),
       labels=st.one_of(st.none(), st.just(np.arange(3)), bad_arrays((3,)), bad_values()),
       threads=threads_arg, progress=st.sampled_from([None, False, "cb"]), chunk=st.one_of(st.just(2), bad_values()))
def test_add(kind, vectors, ids, sentiment, timestamps, labels, threads, progress, chunk):
    ix = make_index(kind)
    before = saved_bytes(ix)
    calls = []
    kwargs = dict(ids=ids, sentiment=sentiment, timestamps=timestamps, labels=labels, threads=threads)
    if progress is not None:
        kwargs.update(progress=(lambda d, t: calls.append(d)) if progress == "cb" else progress, chunk=chunk)
    out = []
    accepted = assert_rejected_cleanly(lambda: out.append(ix.add(vectors, **kwargs)), lambda: saved_bytes(ix))
    if accepted:
        new = out[0]
        assert len(ix) == N + len(new)
        assert all(ix.contains(int(i)) for i in new)
        assert not (np.asarray(new, dtype=np.uint64) == NO_ID).any()
    else:
        assert saved_bytes(ix) == before


@given(kind=kinds, ids=ids_arg)
def test_remove(kind, ids):
    ix = make_index(kind)
    held = set(ix.ids().tolist())
    if assert_rejected_cleanly(lambda: ix.remove(ids), lambda: saved_bytes(ix)):
        gone = [int(i) for i in np.atleast_1d(np.asarray(ids, dtype=object))] if ids is not None else []
        assert set(ix.ids().tolist()) == held - set(gone)
        assert not (set(gone) & set(ix.search(PROBE, len(ix), exact=True)[0].ravel().tolist()))


@given(kind=kinds, ids=ids_arg, labels=st.one_of(st.just([1]), st.just(np.array([4, 5, 6])), bad_values(),
                                                 bad_arrays((3,))))
def test_set_labels(kind, ids, labels):
    ix = make_index(kind)
    assert_rejected_cleanly(lambda: ix.set_labels(ids, labels), lambda: saved_bytes(ix))


@given(kind=kinds, ef=small_or_bad_int)
def test_ef_search_setter(kind, ef):
    ix = make_index(kind)
    if assert_rejected_cleanly(lambda: setattr(ix, "ef_search", ef), lambda: saved_bytes(ix)):
        assert ix.ef_search == int(ef)


# ---------------------------------------------------------------- Index: queries


filters = st.one_of(st.none(), int_ids, st.fixed_dictionaries({"labels": st.one_of(st.just([0, 2]), bad_values())}),
                    st.fixed_dictionaries({"ids": ids_arg}), st.just({"labels": [1], "ids": [3, 6, 9, 999]}),
                    st.just({"nope": 1}), bad_values())


@given(kind=kinds, queries=st.one_of(st.just(PROBE), bad_arrays((2, DIM)), bad_values()), k=small_or_bad_int,
       ef=st.one_of(st.none(), small_or_bad_int), threads=threads_arg, filter=filters,
       exact=st.one_of(st.booleans(), bad_values()),
       sentiment=st.one_of(st.none(), st.just((0.1, 0.5, 0.5)), st.just((2.0, 0, 0)), bad_values()),
       weight=st.one_of(st.just(0.0), st.just(0.5), bad_values()),
       decay=st.one_of(st.none(), st.just(0.1), bad_values()))
def test_search(kind, queries, k, ef, threads, filter, exact, sentiment, weight, decay):
    ix = make_index(kind)
    before = probe(ix)
    out = []
    accepted = assert_rejected_cleanly(
        lambda: out.append(ix.search(queries, k, ef=ef, threads=threads, filter=filter, exact=exact,
                                     sentiment=sentiment, sentiment_weight=weight, time_decay=decay, now=100.0)),
        lambda: probe(ix))
    if accepted:
        ids, scores = out[0]
        ids, scores = np.atleast_2d(ids), np.atleast_2d(scores)
        assert ids.shape[-1] == int(k) and scores.shape == ids.shape
        real = ids != NO_ID
        assert np.isfinite(scores[real]).all() and np.isneginf(scores[~real]).all()
        assert all(ix.contains(int(i)) for i in ids[real])
        assert (np.diff(scores, axis=1) <= 1e-6).all()
    np.testing.assert_array_equal(probe(ix)[0], before[0])


@given(kind=kinds, ids=ids_arg, which=st.sampled_from(["get", "payload", "contains", "__contains__"]))
def test_lookups(kind, ids, which):
    ix = make_index(kind)
    assert_rejected_cleanly(lambda: getattr(ix, which)(ids), lambda: saved_bytes(ix))


# ---------------------------------------------------------------- Index: construction and files


@given(dim=small_or_bad_int, metric=st.one_of(st.sampled_from(["cosine", "ip", "l2", "dot"]), bad_values()),
       kind=st.one_of(kinds, bad_values()), dtype=st.one_of(st.sampled_from(["f32", "f16", "i8"]), bad_values()),
       rerank=st.one_of(st.none(), small_or_bad_int), M=small_or_bad_int, efc=small_or_bad_int,
       seed=st.one_of(st.just(1), bad_values()), threads=threads_arg)
def test_constructor(dim, metric, kind, dtype, rerank, M, efc, seed, threads):
    out = []
    if assert_rejected_cleanly(lambda: out.append(Index(dim, metric, kind, dtype, rerank=rerank, M=M,
                                                        ef_construction=efc, seed=seed, threads=threads))):
        ix = out[0]
        assert ix.dim == int(dim) and len(ix) == 0
        ix.add(np.ones((2, ix.dim), np.float32))
        assert len(ix.search(np.ones(ix.dim, np.float32), 2)[0]) == 2
        ix.close()


def _confined(v):
    """Drawn text and bytes without "/": relative names that stay in scratch_cwd()."""
    if isinstance(v, str):
        return v.replace("/", "_")
    if isinstance(v, bytes):
        return v.replace(b"/", b"_")
    return v


bad_paths = st.one_of(bad_values().map(_confined), st.sampled_from([
    "", "\0", "a\0b", _TMP, os.path.join(_TMP, "no", "such", "dir", "x.si"), b"x\0y", "/proc/self/nope/x"]))


@contextlib.contextmanager
def scratch_cwd():
    """A fresh empty working directory: fuzzed relative paths (any text is a
    valid file name) land there, never in the checkout."""
    old = os.getcwd()
    scratch = tempfile.mkdtemp(prefix="cwd_", dir=_TMP)
    os.chdir(scratch)
    try:
        yield scratch
    finally:
        os.chdir(old)
        shutil.rmtree(scratch)


@given(path=bad_paths)
def test_save_bad_paths(path):
    ix = make_index()
    good = os.path.join(_TMP, "good.si")
    ix.save(good)
    before = sorted(os.listdir(_TMP))
    with scratch_cwd() as scratch:
        try:
            ix.save(path)
            accepted = True
        except CLEAR_ERRORS + (OSError,) as e:
            assert "incompatible function arguments" not in str(e)
            accepted = False
        made = os.listdir(scratch)
        # a valid relative name makes exactly that file; a refused one makes nothing
        assert len(made) == (1 if accepted and os.path.dirname(os.fsdecode(path)) == "" else 0), made
        assert not any(".tmp-" in name for name in made)
    assert sorted(os.listdir(_TMP)) == before
    assert len(Index.load(good)) == N


@given(path=bad_paths, mmap=st.one_of(st.booleans(), bad_values()))
def test_load_bad_paths(path, mmap):
    with scratch_cwd():
        with pytest.raises(CLEAR_ERRORS + (OSError, CorruptFileError)) as info:
            Index.load(path, mmap=mmap)
    assert "incompatible function arguments" not in str(info.value)


@given(data=st.binary(min_size=0, max_size=300), cut=st.integers(0, 400))
def test_load_damaged_files(data, cut):
    """Bytes spliced into a real file, or a truncated one: CorruptFileError (or a
    working index when the damage hits no checked byte), never a crash."""
    ix = make_index("hnsw")
    raw = saved_bytes(ix)
    damaged = raw[:64 + cut] + data + raw[64 + cut + len(data):] if data else raw[:cut]
    path = os.path.join(_TMP, "damaged.si")
    with open(path, "wb") as f:
        f.write(damaged)
    for mmap in (False, True):
        try:
            back = Index.load(path, mmap=mmap)
        except CorruptFileError as e:
            assert path in str(e)
            continue
        back.search(PROBE, 1)


# ---------------------------------------------------------------- Navigator


def make_navigator():
    nav = Navigator(make_index())
    nav.create_basin(("a", "b"), sentiment=(0.1, 0.5, 0.5))
    nav.add(("a", "b"), np.random.default_rng(9).standard_normal((5, DIM)).astype(np.float32),
            ids=[1000, 1001, 1002, 1003, 1004])
    return nav


basin_paths = st.one_of(st.just(("a", "b")), st.just("a"), st.just(("zz",)), st.just(()), st.just(("",)),
                        bad_values())


@given(path=basin_paths, vectors=vectors_arg, ids=ids_arg,
       sentiment=st.one_of(st.none(), st.just((0.1, 0.5, 0.5)), bad_values()))
def test_navigator_add(path, vectors, ids, sentiment):
    nav = make_navigator()
    before = (nav.basins(), nav.counts())
    if not assert_rejected_cleanly(lambda: nav.add(path, vectors, ids, sentiment=sentiment),
                                   lambda: saved_bytes(nav.index)):
        assert (nav.basins(), nav.counts()) == before


@given(path=basin_paths, sentiment=st.one_of(st.none(), st.just((0.1, 0.5, 0.5)), st.just((5, 5, 5)), bad_values()))
def test_navigator_create_basin(path, sentiment):
    nav = make_navigator()
    before = nav.basins()
    if not assert_rejected_cleanly(lambda: nav.create_basin(path, sentiment)):
        assert nav.basins() == before


@given(queries=st.one_of(st.just(PROBE), bad_arrays((2, DIM)), bad_values()), k=small_or_bad_int,
       basin=st.one_of(st.none(), basin_paths), depth=small_or_bad_int)
def test_navigator_search_and_route(queries, k, basin, depth):
    nav = make_navigator()
    before = probe(nav.index)
    assert_rejected_cleanly(lambda: nav.search(queries, k, basin=basin, depth=depth), lambda: probe(nav.index))
    assert_rejected_cleanly(lambda: nav.route(queries), lambda: probe(nav.index))
    np.testing.assert_array_equal(probe(nav.index)[0], before[0])


@given(depth=small_or_bad_int, branching=small_or_bad_int, prefix=st.one_of(st.just("b"), bad_values()),
       seed=st.one_of(st.just(0), bad_values()), max_iter=st.one_of(st.just(3), bad_values()))
def test_navigator_build_basins(depth, branching, prefix, seed, max_iter):
    nav = make_navigator()
    assume(not (isinstance(depth, int) and isinstance(branching, int) and depth * branching > 60))
    before = (nav.basins(), saved_bytes(nav.index))
    if not assert_rejected_cleanly(lambda: nav.build_basins(depth, branching, prefix=prefix, seed=seed,
                                                            max_iter=max_iter)):
        assert (nav.basins(), saved_bytes(nav.index)) == before


# ---------------------------------------------------------------- oracle: flat search


def _tolerance(q, x, metric):
    """Float32 accumulation bound: a dot of `dim` products carries a relative
    error of at most ~dim * 2**-24 of sum |q_i x_i| (sequential or pairwise
    SIMD order, FMA or not); cosine rows are normalised in float32 first (one
    more rounding per component). l2 is |q|^2 + |x|^2 - 2 q.x or a direct sum
    of squares: bound by the same sum over (|q| + |x|)^2. A factor 4 covers the
    normalisation and the final subtraction."""
    dim = q.shape[1]
    q64, x64 = np.abs(q.astype(np.float64)), np.abs(x.astype(np.float64))
    if metric == "cosine":
        q64 = q64 / np.linalg.norm(q64, axis=1, keepdims=True)
        x64 = x64 / np.linalg.norm(x64, axis=1, keepdims=True)
        mag = (q64 @ x64.T).max()
    elif metric == "ip":
        mag = (q64 @ x64.T).max()
    else:
        mag = ((q64[:, None, :] + x64[None, :, :]) ** 2).sum(-1).max()
    return 4 * dim * 2.0**-24 * mag + 1e-7


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120), dim=st.integers(1, 40),
       metric=st.sampled_from(["cosine", "ip", "l2"]), k=st.integers(1, 15), nq=st.integers(1, 12),
       remove=st.floats(0, 0.9), label_filter=st.booleans(), id_filter=st.booleans(),
       scale=st.sampled_from([1.0, 1e-3, 1e3]))
def test_flat_search_matches_brute_force(seed, n, dim, metric, k, nq, remove, label_filter, id_filter, scale):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, dim)) * scale).astype(np.float32)
    q = (rng.standard_normal((nq, dim)) * scale).astype(np.float32)
    ids = rng.choice(10**12, n, replace=False).astype(np.uint64)
    labels = rng.integers(0, 4, n)
    ix = Index(dim, metric=metric)
    ix.add(x, ids=ids, labels=labels)
    gone = rng.random(n) < remove
    if gone.all():
        gone[0] = False
    if gone.any():
        ix.remove(ids[gone])
    keep = ~gone
    kwargs = {}
    if label_filter:
        wanted = [0, 2]
        kwargs["filter"] = {"labels": wanted}
        keep &= np.isin(labels, wanted)
    if id_filter:
        listed = rng.choice(ids, max(1, n // 2), replace=False)
        kwargs["filter"] = dict(kwargs.get("filter", {}), ids=np.concatenate([listed, [NO_ID - 5]]))
        keep &= np.isin(ids, listed)
    live = int((~gone).sum())
    kk = min(k, live)
    got_ids, got_scores = ix.search(q, kk, **kwargs)
    ref = oracle_scores(x[keep], q, metric)
    m = int(keep.sum())
    atol = _tolerance(q, x, metric)
    if m:
        real = min(kk, m)
        assert_topk(got_ids[:, :real], got_scores[:, :real], ref, ids[keep], real, atol=atol)
    assert (got_ids[:, m:] == NO_ID).all() and np.isneginf(got_scores[:, m:]).all()
