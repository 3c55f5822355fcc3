"""Delayed rewards, the pending table, bad input, and saved state."""

import functools
import numpy as np
import pytest

from superinstance import _core
from superinstance.errors import CorruptFileError, UnknownIdError, WrongFileKindError
from superinstance.frozen_model_rl import (DiscountedLinUCB, HybridLinUCB, LinearThompsonSampling, LinUCB,
                                           SlidingWindowLinUCB, EpsilonGreedy, load_policy, policy_from_state_dict)


def _fresh(kind):
    kw = dict(seed=5, ttl=100, default_reward=0.0)
    if kind is HybridLinUCB:
        kw["arm_features"] = np.arange(8.0).reshape(4, 2)
    return kind(4, 3, **kw)


ALL = [LinUCB, HybridLinUCB, LinearThompsonSampling, EpsilonGreedy, DiscountedLinUCB, SlidingWindowLinUCB,
       functools.partial(DiscountedLinUCB, clock="update", idle_gamma=0.999),
       functools.partial(SlidingWindowLinUCB, clock="update", window=20, max_age=40)]


def _kind_id(kind):
    return f"{kind.func.__name__}-update-clock" if isinstance(kind, functools.partial) else kind.__name__


def test_out_of_order_rewards_give_the_same_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    a, b = LinUCB(4, 3), LinUCB(4, 3)
    da = [a.select(x) for x in X]
    db = [b.select(x) for x in X]
    assert [d.arm for d in da] == [d.arm for d in db]
    r = rng.normal(size=200)
    for d, rr in zip(da, r):
        a.update(d, rr)
    for d, rr in reversed(list(zip(db, r))):  # late and in reverse order
        b.update(d.id, rr)
    for arm in range(4):
        np.testing.assert_allclose(a.theta(arm), b.theta(arm), rtol=1e-9, atol=1e-12)
    assert a.n_pending == b.n_pending == 0


def test_ttl_expiry_with_and_without_default_reward():
    for default in (None, -1.0):
        p = LinUCB(2, 2, ttl=10, default_reward=default)
        first = p.select([1.0, 0.0])
        for _ in range(9):
            p.select([0.0, 1.0])
        assert p.n_pending == 10
        p.select([0.0, 1.0])  # round 10: the first decision's ttl is over
        s = p.stats()
        assert s["expired"] == 1 and s["pending"] == 10
        assert s["expired_default"] == (0 if default is None else 1)
        assert s["updates"] == (0 if default is None else 1)
        with pytest.raises(UnknownIdError, match="expired"):
            p.update(first, 1.0)
        if default is not None:  # the default reward was learnt
            assert p.theta(first.arm)[0] < 0


def test_bounded_pending_table_evicts_oldest():
    p = LinUCB(2, 2, max_pending=5)
    ds = [p.select([1.0, float(i)]) for i in range(8)]
    s = p.stats()
    assert s["pending"] == 5 and s["evicted"] == 3
    assert list(p.pending_ids()) == [d.id for d in ds[3:]]
    with pytest.raises(UnknownIdError):
        p.update(ds[0], 1.0)
    p.update(ds[7], 1.0)


def test_unknown_and_duplicate_ids():
    p = LinUCB(2, 2)
    d = p.select([1.0, 0.0])
    with pytest.raises(UnknownIdError, match="never issued"):
        p.update(99, 1.0)
    with pytest.raises(UnknownIdError):
        p.update(-3, 1.0)
    p.update(d, 1.0)
    with pytest.raises(ValueError, match="already received"):
        p.update(d, 1.0)
    u = p.select([1.0, 0.0], track=False)
    with pytest.raises(UnknownIdError, match="not pending"):
        p.update(u, 1.0)
    e = p.select([0.0, 1.0])
    with pytest.raises(ValueError, match="twice"):
        p.update_batch([e.id, e.id], [1.0, 1.0])
    assert p.n_pending == 1


@pytest.mark.parametrize("kind", ALL, ids=_kind_id)
def test_bad_input_leaves_state_unchanged(kind):
    p = _fresh(kind)
    rng = np.random.default_rng(1)
    ds = [p.select(x) for x in rng.normal(size=(10, 3))]
    for d in ds[:5]:
        p.update(d, 1.0)
    before = p.state_dict()["state"]
    bad_calls = [
        (lambda: p.select([1.0, 2.0]), ValueError),
        (lambda: p.select([1.0, np.nan, 0.0]), ValueError),
        (lambda: p.select([1.0, np.inf, 0.0]), ValueError),
        (lambda: p.select(np.ones((2, 3))), ValueError),
        (lambda: p.select_batch(np.array([[1.0, 2, 3], [np.nan, 0, 0]])), ValueError),
        (lambda: p.update(ds[6], np.nan), ValueError),
        (lambda: p.update(ds[6], np.inf), ValueError),
        (lambda: p.update(12345, 1.0), UnknownIdError),
        (lambda: p.update(ds[0], 1.0), ValueError),
        (lambda: p.update((7, [1.0, 0, 0]), 1.0), IndexError),
        (lambda: p.update((0, [1.0, 0]), 1.0), ValueError),
        (lambda: p.update_batch([ds[6].id, ds[7].id], [1.0, np.nan]), ValueError),
        (lambda: p.update_batch([ds[6].id, 999], [1.0, 1.0]), UnknownIdError),
        (lambda: p.update_arms([0, 9], np.ones((2, 3)), [1.0, 1.0]), IndexError),
        (lambda: p.update_arms([0, 1], np.ones((2, 3)), [1.0, np.nan]), ValueError),
        (lambda: p.scores([np.nan, 0, 0]), ValueError),
        (lambda: p.load_state_dict({"format": "x"}), ValueError),
    ]
    for call, exc in bad_calls:
        with pytest.raises(exc):
            call()
        assert p.state_dict()["state"] == before


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="alpha"):
        LinUCB(3, 2, alpha=-0.1)
    with pytest.raises(ValueError, match="empty"):
        LinUCB([], 2)
    with pytest.raises(ValueError, match="empty"):
        LinUCB(0, 2)
    with pytest.raises(ValueError, match="dim"):
        LinUCB(3, 0)
    with pytest.raises(ValueError, match="lam"):
        LinUCB(3, 2, lam=0.0)
    with pytest.raises(ValueError, match="gamma"):
        DiscountedLinUCB(3, 2, gamma=1.5)
    with pytest.raises(ValueError, match="window"):
        SlidingWindowLinUCB(3, 2, window=0)
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(3, 2, epsilon=2.0)
    with pytest.raises(ValueError, match="arm_features"):
        HybridLinUCB(3, 2)
    with pytest.raises(ValueError):
        HybridLinUCB(3, 2, arm_features=np.ones((2, 2)))
    with pytest.raises(ValueError, match="ttl"):
        LinUCB(3, 2, ttl=-1)
    with pytest.raises(ValueError, match="default_reward"):
        LinUCB(3, 2, default_reward=float("nan"))


@pytest.mark.parametrize("kind", ALL, ids=_kind_id)
def test_save_load_roundtrip_continues_identically(kind, tmp_path):
    rng = np.random.default_rng(2)
    p = _fresh(kind)
    X = rng.normal(size=(120, 3))
    pend = []
    for i, x in enumerate(X[:60]):
        d = p.select(x)
        if i % 3:
            p.update(d, float(x[0]))
        else:
            pend.append(d)
    path = tmp_path / "policy.si"
    p.save(path)
    q = load_policy(path)
    assert type(q) is getattr(kind, "func", kind) and q.stats() == p.stats()
    assert q.config["clock"] == p.config["clock"] and q.config["arm_gamma"] == p.config["arm_gamma"]
    r = policy_from_state_dict(p.state_dict())
    for x in X[60:]:
        a, b, c = p.select(x), q.select(x), r.select(x)
        assert a == b == c
    for d in pend[-3:]:  # pending decisions survived the round trip
        for pol in (p, q, r):
            pol.update(d, 1.0)
    np.testing.assert_array_equal(p.scores(X[0]), q.scores(X[0]))
    with pytest.raises(ValueError):
        LinUCB.load(path) if kind is not LinUCB else EpsilonGreedy.load(path)


def test_corrupt_state_file_raises_and_keeps_state(tmp_path):
    p = LinUCB(3, 2)
    p.update((1, [1.0, 0.0]), 2.0)
    path = tmp_path / "p.si"
    p.save(path)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x40
    bad = tmp_path / "bad.si"
    bad.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError):
        load_policy(bad)
    trunc = tmp_path / "trunc.si"
    trunc.write_bytes(path.read_bytes()[:-9])
    with pytest.raises(CorruptFileError):
        load_policy(trunc)
    other = tmp_path / "other.si"
    _core.write_file_atomic(other, "histogram", 1, b"1234")
    with pytest.raises(WrongFileKindError):
        load_policy(other)
    # A forged, validly checksummed but inconsistent payload is also rejected.
    st = p.state_dict()
    st_bad = dict(st, state=st["state"][:-8])
    before = p.state_dict()["state"]
    with pytest.raises(CorruptFileError):
        p.load_state_dict(st_bad)
    assert p.state_dict()["state"] == before
    # Saving over an existing file is atomic: the old file is intact until the rename.
    p.save(path)
    assert load_policy(path).stats() == p.stats()


def test_reset_and_copy():
    p = LinearThompsonSampling(3, 2, seed=9)
    fresh = p.state_dict()["state"]
    for _ in range(5):
        d = p.select([1.0, 0.5])
        p.update(d, 1.0)
    c = p.copy()
    assert c.state_dict()["state"] == p.state_dict()["state"]
    c.update((0, [1.0, 1.0]), 3.0)
    assert c.state_dict()["state"] != p.state_dict()["state"]
    p.reset()
    assert p.state_dict()["state"] == fresh


@pytest.mark.parametrize("kind", [LinUCB, DiscountedLinUCB])
def test_concurrent_select_and_update(kind):
    import threading

    p = kind(4, 3)
    errors = []

    def worker(seed):
        rng = np.random.default_rng(seed)
        try:
            for x in rng.normal(size=(150, 3)):
                p.update(p.select(x), float(x[0]))
            p.select_batch(rng.normal(size=(20, 3)), track=False)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = p.stats()
    assert s["rounds"] == 4 * 170 and s["updates"] == 600 and s["pending"] == 0
