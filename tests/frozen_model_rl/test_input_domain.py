"""Regression tests of issue #12 for frozen_model_rl: contexts and rewards that
would overflow the float64 state are refused before anything changes, save()
never writes a file that load rejects, the loader applies the constructor's
caps, argument errors name the argument, and the offline estimators leave out
pending (NaN) rewards."""

import os
import struct

import numpy as np
import pytest

from superinstance import _core
from superinstance.errors import CorruptFileError, UnknownIdError
from superinstance.frozen_model_rl import (DiscountedLinUCB, EpsilonGreedy, HybridLinUCB, LinearThompsonSampling,
                                           LinUCB, LoggedData, SlidingWindowLinUCB, compare, direct_method,
                                           doubly_robust, ips, load_policy, policy_from_state_dict, replay, snips)

ALL = [
    lambda: LinUCB(3, 2, ttl=4, default_reward=0.0),
    lambda: HybridLinUCB(3, 2, arm_features=np.eye(3)),
    lambda: LinearThompsonSampling(3, 2, seed=1),
    lambda: EpsilonGreedy(3, 2, seed=1),
    lambda: DiscountedLinUCB(3, 2),
    lambda: SlidingWindowLinUCB(3, 2, window=5),
]
IDS = ["linucb", "hybrid", "lints", "eps", "dlinucb", "sw"]


def _state(p):
    return p.state_dict()["state"]


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_overflowing_context_refused_and_file_stays_loadable(make, tmp_path):
    p = make()
    for x in np.random.default_rng(0).normal(size=(6, 2)):
        p.update(p.select(x), 1.0)
    path = tmp_path / "p.si"
    p.save(path)
    before, good = _state(p), path.read_bytes()
    huge = np.array([1e155, 0.0])  # x x' = 1e310 overflows float64
    for call in (lambda: p.select(huge), lambda: p.select(huge, track=False), lambda: p.scores(huge),
                 lambda: p.means(huge), lambda: p.select_batch(np.stack([np.ones(2), huge])),
                 lambda: p.update((0, huge), 1.0), lambda: p.update_arms([0, 1], np.stack([np.ones(2), huge]),
                                                                        [1.0, 1.0])):
        with pytest.raises(ValueError, match="too large"):
            call()
        assert _state(p) == before
    p.save(path)
    assert load_policy(path).state_dict()["state"] == before
    assert path.read_bytes() == good


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_overflowing_reward_refused(make):
    p = make()
    d = p.select([1.0, 2.0])
    before = _state(p)
    for r in (1e308, -1e300, 1e51, float("inf")):
        with pytest.raises(ValueError, match="reward"):
            p.update(d, r)
        with pytest.raises(ValueError, match="reward"):
            p.update((0, [1.0, 2.0]), r)
        assert _state(p) == before
    p.update(d, 1e50)  # the limit itself is fine
    assert np.all(np.isfinite(p.scores([1.0, 2.0])))


def test_context_limit_scales_with_lam_and_arm_features():
    # ||x||^2 <= 1e100 * min(1, lam), over max ||arm feature||^2 for the hybrid part.
    LinUCB(2, 2).select([1e49, 0.0])
    with pytest.raises(ValueError, match="too large"):
        LinUCB(2, 2, lam=1e-10).select([1e49, 0.0])
    LinUCB(2, 2, lam=1e-10).select([1e44, 0.0])
    h = HybridLinUCB(2, 2, arm_features=np.array([[1e10, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="too large"):
        h.select([1e45, 0.0])
    h.select([1e39, 0.0])
    with pytest.raises(ValueError, match="arm_features"):
        HybridLinUCB(2, 2, arm_features=np.array([[1e60, 0.0], [0.0, 1.0]]))


def test_forged_state_with_overflowing_scores_is_refused_not_used(tmp_path):
    # Finite but huge values load (the loader checks finiteness and sizes); a
    # context whose score then overflows is refused, and the state stays loadable.
    p = LinUCB(2, 2)
    p.update((0, [1.0, 0.0]), 1.0)
    blob = bytearray(_state(p))
    i = blob.index(struct.pack("<d", 0.5))  # A^-1[0, 0] of arm 0 (A = 2 there)
    struct.pack_into("<d", blob, i, 1e308)
    forged = policy_from_state_dict({"format": "superinstance.frozen_model_rl.policy", "version": 2,
                                     "state": bytes(blob)})
    before = _state(forged)
    for call in (lambda: forged.scores([10.0, 0.0]), lambda: forged.select([10.0, 0.0])):
        with pytest.raises(ValueError, match="not finite"):
            call()
        assert _state(forged) == before
    forged.save(tmp_path / "p.si")
    assert load_policy(tmp_path / "p.si").state_dict()["state"] == before


def _with_field(p, offset, fmt, value):
    blob = bytearray(_state(p))
    struct.pack_into(fmt, blob, offset, value)
    return {"format": "superinstance.frozen_model_rl.policy", "version": 2, "state": bytes(blob)}


# Offsets in the version-2 payload: algo, n_arms, dim (u32), alpha, lam, epsilon,
# gamma (f64), window, seed (u64), reinvert_every, ts_propensity_draws (u32).
N_ARMS, DIM, ALPHA, LAM, DRAWS = 4, 8, 12, 20, 4 + 4 + 4 + 8 * 4 + 8 + 8 + 4


@pytest.mark.parametrize("offset,fmt,value,field", [
    (DRAWS, "<I", 4_000_000_000, "ts_propensity_draws"),
    (DRAWS, "<I", 10_001, "ts_propensity_draws"),
    (N_ARMS, "<I", 2_000_000, "n_arms"),
    (N_ARMS, "<I", 999_999, "n_arms"),  # within the cap, but the payload does not hold its models
    (DIM, "<I", 5000, "dim"),
    (DIM, "<I", 4000, "dim"),
    (ALPHA, "<d", float("nan"), "alpha"),
    (LAM, "<d", 1e-320, "lam"),
])
def test_loader_applies_the_constructors_caps(offset, fmt, value, field):
    p = LinearThompsonSampling(3, 2)
    with pytest.raises(CorruptFileError, match=field):
        policy_from_state_dict(_with_field(p, offset, fmt, value))


def test_constructor_caps_name_the_field():
    with pytest.raises(ValueError, match="ts_propensity_draws"):
        LinearThompsonSampling(3, 2, propensity_points=10_001)
    with pytest.raises(ValueError, match="ts_propensity_draws"):
        LinearThompsonSampling(100_000, 1, propensity_points=10_000)  # 1e9 normal CDFs per decision
    with pytest.raises(ValueError, match="n_arms"):
        LinUCB(1_000_001, 1)
    with pytest.raises(ValueError, match="n_arms"):
        LinUCB(2**40, 1)  # refused before a list of 2**40 arm indices is built
    with pytest.raises(ValueError, match="lam"):
        LinUCB(2, 2, lam=5e-324)  # 1/lam would be inf
    with pytest.raises(ValueError, match="alpha"):
        LinUCB(2, 2, alpha=1e300)


@pytest.mark.parametrize("call,exc,name", [
    (lambda p: p.update(2**64, 1.0), ValueError, "decision_id"),
    (lambda p: p.update(2**63, 1.0), UnknownIdError, "never issued"),
    (lambda p: p.update(0, "1.0"), TypeError, "reward"),
    (lambda p: p.update(0, None), TypeError, "reward"),
    (lambda p: p.select([1.0, 0.0], track="no"), TypeError, "track"),
    (lambda p: p.select_batch(np.ones((2, 2)), track=1), TypeError, "track"),
    (lambda p: p.select("ab"), TypeError, "context"),
    (lambda p: p.select(np.ones(2, complex)), TypeError, "context"),
    (lambda p: p.scores(None), TypeError, "context"),
    (lambda p: p.update((1.5, [1.0, 0.0]), 1.0), TypeError, "arm"),
    (lambda p: p.update((2**70, [1.0, 0.0]), 1.0), ValueError, "arm"),
    (lambda p: p.update((5, [1.0, 0.0]), 1.0), IndexError, "arm"),
    (lambda p: p.update_batch(np.array([0.5]), [1.0]), TypeError, "decision_ids"),
    (lambda p: p.update_arms(["a"], np.ones((1, 2)), [1.0]), TypeError, "arms"),
    (lambda p: p.update_arms([0], np.ones((1, 2)), ["x"]), TypeError, "rewards"),
    (lambda p: p.theta("0"), TypeError, "arm"),
    (lambda p: p.a_inv(-1), IndexError, "arm"),
])
def test_bad_arguments_name_the_argument(call, exc, name):
    p = LinUCB(3, 2)
    d = p.select([1.0, 0.0])
    before = _state(p)
    with pytest.raises(exc, match=name) as info:
        call(p)
    assert "incompatible function arguments" not in str(info.value)
    assert _state(p) == before
    p.update(d, 1.0)


@pytest.mark.parametrize("kwargs,exc,name", [
    (dict(dim="2"), TypeError, "dim"),
    (dict(dim=2.0), TypeError, "dim"),
    (dict(dim=2**40), ValueError, "dim"),
    (dict(alpha="1"), TypeError, "alpha"),
    (dict(alpha=float("nan")), ValueError, "alpha"),
    (dict(lam=None), TypeError, "lam"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed="0"), TypeError, "seed"),
    (dict(ttl=1.5), TypeError, "ttl"),
    (dict(max_pending=0), ValueError, "max_pending"),
    (dict(default_reward="0"), TypeError, "default_reward"),
    (dict(simd=3), TypeError, "simd"),
    (dict(reinvert_every=2**32), ValueError, "reinvert_every"),
])
def test_bad_constructor_arguments_name_the_argument(kwargs, exc, name):
    kw = dict(dim=2)
    kw.update(kwargs)
    dim = kw.pop("dim")
    with pytest.raises(exc, match=name) as info:
        LinUCB(3, dim, **kw)
    assert "incompatible function arguments" not in str(info.value)


def test_bad_algorithm_parameters_name_the_argument():
    with pytest.raises(TypeError, match="gamma"):
        DiscountedLinUCB(2, 2, gamma="0.9")
    with pytest.raises(ValueError, match="gamma"):
        DiscountedLinUCB(2, 2, gamma=float("nan"))
    with pytest.raises(TypeError, match="window"):
        SlidingWindowLinUCB(2, 2, window=10.0)
    with pytest.raises(TypeError, match="clock"):
        SlidingWindowLinUCB(2, 2, clock=1)
    with pytest.raises(TypeError, match="epsilon"):
        EpsilonGreedy(2, 2, epsilon="0.1")
    with pytest.raises(TypeError, match="arm_features"):
        HybridLinUCB(2, 2, arm_features="abc")


# ----------------------------------------------------------------- pending rewards offline
def _log_with_pending():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    return LoggedData(X, [0, 1, 1, 0], [0.5, 0.25, 0.75, 0.5], [1.0, np.nan, 0.0, 3.0], n_arms=2)


def _without_pending(target):
    data = _log_with_pending()
    keep = ~np.isnan(data.rewards)
    t = target(data.contexts) if callable(target) else target
    return data.subset(keep), (t[keep] if isinstance(t, np.ndarray) else t)


@pytest.mark.parametrize("estimator", [ips, snips, direct_method, doubly_robust], ids=lambda f: f.__name__)
@pytest.mark.parametrize("target", [np.array([0, 1, 0, 1]), np.full((4, 2), 0.5),
                                    lambda X: (X[:, 0] > 0.5).astype(np.int64)], ids=["arms", "probs", "callable"])
def test_estimators_leave_out_pending_rewards(estimator, target):
    data = _log_with_pending()
    est = estimator(target, data, n_bootstrap=0)
    complete, t = _without_pending(target)
    reference = estimator(t, complete, n_bootstrap=0)
    assert est.n == 3 and est.details["pending"] == 1
    assert est.value == reference.value


def test_replay_and_compare_leave_out_pending_rewards():
    data = _log_with_pending()
    e = replay(LinUCB(2, 2), data, n_bootstrap=0)
    assert e.n == 3 and e.details["pending"] == 1
    c = compare(np.array([0, 1, 0, 1]), np.full((4, 2), 0.5), data, method="ips", n_bootstrap=10)
    complete, _ = _without_pending(np.zeros(4))
    assert c.value_a == ips(np.array([0, 0, 1]), complete, n_bootstrap=0).value
    assert c.value_b == ips(np.full((3, 2), 0.5), complete, n_bootstrap=0).value
    with pytest.raises(ValueError, match="no decisions with rewards"):
        ips(np.array([0, 1]), LoggedData(np.ones((2, 2)), [0, 1], [0.5, 0.5], [np.nan, np.nan], 2))


def test_logged_data_names_bad_fields():
    with pytest.raises(TypeError, match="n_arms"):
        LoggedData(np.ones((2, 2)), [0, 1], [0.5, 0.5], [1, 1], "2")
    with pytest.raises(TypeError, match="contexts"):
        LoggedData("ab", [0, 1], [0.5, 0.5], [1, 1], 2)
    with pytest.raises(ValueError, match="arms"):
        LoggedData(np.ones((2, 2)), [0.5, 1], [0.5, 0.5], [1, 1], 2)
    with pytest.raises(TypeError, match="rewards"):
        LoggedData(np.ones((2, 2)), [0, 1], [0.5, 0.5], ["a", "b"], 2)


@pytest.mark.parametrize("path", ["important\0.si", b"important\0.si"])
def test_save_and_load_refuse_a_path_with_a_nul_byte(tmp_path, path):
    """The system would cut the path at the NUL and overwrite (or read) another file."""
    from superinstance.frozen_model_rl import LinUCB, load_policy

    target = tmp_path / "important"
    target.write_bytes(b"precious")
    full = os.path.join(os.fsencode(tmp_path) if isinstance(path, bytes) else str(tmp_path), path)
    with pytest.raises(ValueError, match="NUL"):
        LinUCB(2, 2).save(full)
    with pytest.raises(ValueError, match="NUL"):
        load_policy(full)
    assert target.read_bytes() == b"precious"
