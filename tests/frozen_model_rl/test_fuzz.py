"""Property-based fuzzing of every public call of the policies and the offline
estimators (profiles in tests/conftest.py; SUPERINSTANCE_FUZZ=long for more).

Properties:
- every call is accepted or refused with a clear Python exception (never a
  crash, never pybind11's signature dump), and a refused call leaves the
  policy's saved bytes unchanged;
- scores agree with a numpy float64 recomputation from the logged observations
  (tolerance below), and decisions equal its argmax where not near-tied;
- state_dict / save -> load round trips continue with identical decisions.
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import pytest
from fuzz_helpers import assert_rejected_cleanly, bad_arrays, bad_values
from hypothesis import given
from hypothesis import strategies as st

from superinstance.frozen_model_rl import (DiscountedLinUCB, EpsilonGreedy, HybridLinUCB, LinearThompsonSampling,
                                           LinUCB, LoggedData, SlidingWindowLinUCB, compare, direct_method,
                                           doubly_robust, evaluate, ips, load_policy, policy_from_state_dict,
                                           replay, snips, target_probabilities)

pytestmark = pytest.mark.fuzz

K, D = 3, 2
KINDS = {
    "linucb": lambda: LinUCB(K, D, alpha=0.5, ttl=6, default_reward=0.0, seed=1),
    "hybrid": lambda: HybridLinUCB(K, D, arm_features=np.eye(K), seed=1),
    "lints": lambda: LinearThompsonSampling(K, D, seed=1, max_pending=5),
    "eps": lambda: EpsilonGreedy(K, D, epsilon=0.2, seed=1),
    "dlinucb": lambda: DiscountedLinUCB(K, D, gamma=0.95, seed=1),
    "sw": lambda: SlidingWindowLinUCB(K, D, window=4, seed=1),
    "sw_update": lambda: SlidingWindowLinUCB(K, D, window=6, clock="update", max_age=5, seed=1),
}

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
contexts = st.lists(finite, min_size=D, max_size=D).map(np.array)
rewards = st.one_of(finite, bad_values(), st.sampled_from([1e50, 1e51, -1e300, math.nan, math.inf]))
huge_contexts = st.sampled_from([np.array([1e155, 0.0]), np.array([1e51, 1e51]), np.array([-1e300, 1.0])])
any_context = st.one_of(contexts, bad_arrays((D,)), huge_contexts, bad_values())
any_matrix = st.one_of(st.integers(0, 3).flatmap(lambda n: st.lists(contexts, min_size=n, max_size=n)).map(
    lambda rows: np.array(rows).reshape(len(rows), D)), bad_arrays((2, D)), bad_values())
arm_values = st.one_of(st.integers(-1, K), bad_values())
id_values = st.one_of(st.integers(-2, 12), bad_values())
track_values = st.one_of(st.booleans(), bad_values())


def _warm(kind):
    p = KINDS[kind]()
    rng = np.random.default_rng(0)
    for i, x in enumerate(rng.normal(size=(8, D))):
        d = p.select(x)
        if i % 3:
            p.update(d, float(x[0]))
    return p


def _ops(p, draw):
    """One public call with drawn arguments, as a zero-argument callable."""
    issued = list(p.pending_ids()) + [0, 1, 2]
    ids = st.one_of(st.sampled_from(issued), id_values)
    choice = draw(st.sampled_from([
        "select", "select_batch", "scores", "means", "greedy", "update", "update_pair", "update_batch",
        "update_arms", "theta", "a_inv", "expire", "load_state_dict", "copy"]))
    if choice == "select":
        x, track = draw(any_context), draw(track_values)
        return lambda: p.select(x, track=track)
    if choice == "select_batch":
        X, track = draw(any_matrix), draw(track_values)
        return lambda: p.select_batch(X, track=track)
    if choice in ("scores", "means"):
        x = draw(any_context)
        return lambda: getattr(p, choice)(x)
    if choice == "greedy":
        X = draw(any_matrix)
        return lambda: p.greedy(X)
    if choice == "update":
        i, r = draw(ids), draw(rewards)
        return lambda: p.update(i, r)
    if choice == "update_pair":
        a, x, r = draw(arm_values), draw(any_context), draw(rewards)
        return lambda: p.update((a, x), r)
    if choice == "update_batch":
        n = draw(st.integers(0, 3))
        idl = draw(st.one_of(st.lists(ids, min_size=n, max_size=n), bad_arrays((n or 1,)), bad_values()))
        dup = draw(st.booleans())
        if dup and isinstance(idl, list) and idl:
            idl = idl + idl[:1]  # a duplicate id
        rl = draw(st.one_of(st.lists(finite, min_size=len(idl) if isinstance(idl, list) else 1,
                                     max_size=len(idl) if isinstance(idl, list) else 1), bad_arrays((n or 1,))))
        return lambda: p.update_batch(idl, rl)
    if choice == "update_arms":
        n = draw(st.integers(0, 3))
        arms = draw(st.one_of(st.lists(st.integers(-1, K), min_size=n, max_size=n), bad_arrays((n or 1,)),
                              bad_values()))
        X = draw(st.one_of(st.lists(contexts, min_size=n, max_size=n).map(lambda r: np.array(r).reshape(n, D)),
                           any_matrix))
        rw = draw(st.one_of(st.lists(rewards, min_size=n, max_size=n), bad_arrays((n or 1,))))
        return lambda: p.update_arms(arms, X, rw)
    if choice in ("theta", "a_inv"):
        a = draw(arm_values)
        return lambda: getattr(p, choice)(a)
    if choice == "load_state_dict":
        st_ = draw(st.one_of(bad_values(), st.just({"format": "x"}),
                             st.binary(max_size=40).map(lambda b: {"format": "superinstance.frozen_model_rl.policy",
                                                                   "version": 2, "state": b})))
        return lambda: p.load_state_dict(st_)
    if choice == "expire":
        return p.expire
    return p.copy


def _saved(p):
    return p.state_dict()["state"]


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
def test_every_call_accepted_or_refused_cleanly(kind, data):
    p = _warm(kind)
    for _ in range(6):
        call = _ops(p, data.draw)
        accepted = assert_rejected_cleanly(call, lambda: _saved(p))
        if accepted:  # the state stays finite and saveable
            blob = _saved(p)
            assert policy_from_state_dict(p.state_dict()).state_dict()["state"] == blob
            assert np.all(np.isfinite(p.scores(np.ones(D))))


CONSTRUCTOR_ARGS = {
    "dim": st.one_of(st.integers(-2, 5000), bad_values()),
    "alpha": st.one_of(finite, bad_values()),
    "lam": st.one_of(finite, bad_values(), st.sampled_from([1e-320, 1e-300, 1e100, 1e101])),
    "seed": st.one_of(st.integers(-5, 2**64), bad_values()),
    "reinvert_every": st.one_of(st.integers(-1, 2**32), bad_values()),
    "max_pending": st.one_of(st.integers(-1, 10), bad_values()),
    "ttl": st.one_of(st.none(), st.integers(-1, 10), bad_values()),
    "default_reward": st.one_of(st.none(), finite, bad_values()),
    "simd": st.one_of(st.none(), st.sampled_from(["scalar", "sse9", ""]), bad_values()),
}
ALGO_ARGS = {
    LinUCB: {},
    DiscountedLinUCB: {"gamma": st.one_of(finite, bad_values()), "clock": st.one_of(st.just("update"), bad_values()),
                       "idle_gamma": st.one_of(finite, bad_values())},
    SlidingWindowLinUCB: {"window": st.one_of(st.integers(-1, 2**64), bad_values()),
                          "max_age": st.one_of(st.none(), st.integers(-1, 100), bad_values())},
    EpsilonGreedy: {"epsilon": st.one_of(finite, bad_values())},
    LinearThompsonSampling: {"v": st.one_of(finite, bad_values()),
                             "propensity_points": st.one_of(st.integers(-1, 20000), bad_values())},
    HybridLinUCB: {"arm_features": st.one_of(bad_arrays((2, 2)), bad_values(), st.just(np.eye(2)))},
}


@pytest.mark.parametrize("cls", list(ALGO_ARGS), ids=lambda c: c.__name__)
@given(data=st.data())
def test_constructors_accept_or_name_the_problem(cls, data):
    args = dict(CONSTRUCTOR_ARGS, **ALGO_ARGS[cls])
    chosen = data.draw(st.sets(st.sampled_from(sorted(args)), max_size=3))
    kw = {k: data.draw(args[k]) for k in chosen}
    dim = kw.pop("dim", 2)
    arms = data.draw(st.one_of(st.just(2), st.integers(-1, 3), bad_values()))
    if cls is HybridLinUCB:
        kw.setdefault("arm_features", np.eye(2))

    def build():
        p = cls(arms, dim, **kw)
        p.select(np.ones(p.dim))
    assert_rejected_cleanly(build)


# ------------------------------------------------------------------ correctness against numpy
def _reference_scores(obs, x, alpha, lam=1.0):
    """Disjoint ridge per arm from scratch: theta_a = A_a^-1 b_a, A_a = lam I + sum x x'."""
    out = np.empty(K)
    for a in range(K):
        A, b = lam * np.eye(D), np.zeros(D)
        for arm, xo, r in obs:
            if arm == a:
                A += np.outer(xo, xo)
                b += r * xo
        Ai = np.linalg.inv(A)
        out[a] = Ai @ b @ x + alpha * math.sqrt(x @ Ai @ x)
    return out


# Tolerance: the core keeps A^-1 by Sherman-Morrison rank-1 updates, re-inverted
# exactly every 64 updates of an arm. Each update's relative error is a few d u
# times cond(A) (u = 2^-53); with contexts in [-1, 1]^2, lam = 1 and at most
# 30 observations, cond(A) <= 1 + 30 * 2 = 61, so 30 updates drift by at most
# ~30 * 4 * 2 * 1.1e-16 * 61 ~ 2e-12 relative to the scores' magnitude. 1e-9
# leaves three orders of margin and still catches any wrong formula.
RTOL = 1e-9
unit = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
observations = st.lists(st.tuples(st.integers(0, K - 1), st.lists(unit, min_size=D, max_size=D).map(np.array),
                                  st.floats(min_value=-5, max_value=5, allow_nan=False)), max_size=30)


@given(obs=observations, probes=st.lists(st.lists(unit, min_size=D, max_size=D).map(np.array), min_size=1,
                                         max_size=4), alpha=st.floats(0, 3))
def test_linucb_scores_and_decisions_match_numpy(obs, probes, alpha):
    p = LinUCB(K, D, alpha=alpha)
    for arm, x, r in obs:
        p.update((arm, x), r)
    for x in probes:
        ref = _reference_scores(obs, x, alpha)
        scale = np.abs(ref).max() + 1.0
        np.testing.assert_allclose(p.scores(x), ref, rtol=0, atol=RTOL * scale)
        top2 = np.sort(ref)[-2:]
        d = p.select(x, track=False)
        if top2[1] - top2[0] > 10 * RTOL * scale:
            assert d.arm == int(np.argmax(ref))
        assert d.score == pytest.approx(ref[d.arm], rel=0, abs=RTOL * scale)


@given(obs=observations, x=st.lists(unit, min_size=D, max_size=D).map(np.array))
def test_means_of_every_ridge_policy_match_numpy(obs, x):
    ref = _reference_scores(obs, x, 0.0)
    scale = np.abs(ref).max() + 1.0
    for p in (LinearThompsonSampling(K, D), EpsilonGreedy(K, D), SlidingWindowLinUCB(K, D, window=10**6),
              DiscountedLinUCB(K, D, gamma=1.0)):
        p.update_arms([o[0] for o in obs], np.array([o[1] for o in obs]).reshape(len(obs), D),
                      [o[2] for o in obs])
        np.testing.assert_allclose(p.means(x), ref, rtol=0, atol=RTOL * scale)


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(seed=st.integers(0, 2**32), n=st.integers(0, 25), rewarded=st.floats(0, 1))
def test_round_trips_continue_with_identical_decisions(kind, seed, n, rewarded):
    rng = np.random.default_rng(seed)
    p = KINDS[kind]()
    for x in rng.normal(size=(n, D)):
        d = p.select(x)
        if rng.random() < rewarded:
            p.update(d, float(rng.normal()))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "p.si")
        p.save(path)
        copies = [load_policy(path), policy_from_state_dict(p.state_dict()), p.copy()]
    for x in rng.normal(size=(10, D)):
        want = p.select(x)
        for q in copies:
            assert q.select(x) == want
        r = float(rng.normal())
        for q in [p] + copies:
            q.update(want, r)
    assert all(q.state_dict()["state"] == p.state_dict()["state"] for q in copies)


# ------------------------------------------------------------------ offline estimators
def _log(rng, n, pending):
    X = rng.normal(size=(n, D))
    arms = rng.integers(0, K, n)
    r = rng.normal(size=n)
    r[rng.random(n) < pending] = np.nan
    return LoggedData(X, arms, np.full(n, 1.0 / K), r, K)


log_fields = st.sampled_from(["contexts", "arms", "propensities", "rewards", "n_arms", "ids"])


@given(data=st.data())
def test_logged_data_accepts_or_names_the_problem(data):
    n = 4
    good = dict(contexts=np.ones((n, D)), arms=np.zeros(n, np.int64), propensities=np.full(n, 0.5),
                rewards=np.zeros(n), n_arms=K, ids=None)
    field = data.draw(log_fields)
    shape = (n, D) if field == "contexts" else (n,)
    good[field] = data.draw(st.one_of(bad_arrays(shape), bad_values(), st.integers(-1, 5)))
    assert_rejected_cleanly(lambda: LoggedData(**good))


ESTIMATORS = [ips, snips, direct_method, doubly_robust]


@given(seed=st.integers(0, 2**32), n=st.integers(1, 12), pending=st.sampled_from([0.0, 0.3, 1.0]),
       target_kind=st.sampled_from(["arms", "probs", "callable", "policy", "bad"]), data=st.data())
def test_estimators_leave_out_pending_and_refuse_cleanly(seed, n, pending, target_kind, data):
    rng = np.random.default_rng(seed)
    log = _log(rng, n, pending)
    keep = ~np.isnan(log.rewards)
    if target_kind == "arms":
        target = rng.integers(0, K, n)
    elif target_kind == "probs":
        target = rng.dirichlet(np.ones(K), n)
    elif target_kind == "callable":
        target = lambda X: (X[:, 0] > 0).astype(np.int64)  # noqa: E731
    elif target_kind == "policy":
        target = LinUCB(K, D)
        assert_rejected_cleanly(lambda: ips(LinUCB(K + 1, D), log))  # wrong n_arms
        assert_rejected_cleanly(lambda: ips(LinUCB(K, D + 1), log))
    else:
        target = data.draw(st.one_of(bad_values(), bad_arrays((n,)), bad_arrays((n, K)),
                                     st.just(np.full(n, K)), st.just(rng.integers(0, K, n + 1)),
                                     st.just(np.full(n, 0.5)), st.just(np.full((n, K), np.nan))))
    for est in ESTIMATORS:
        accepted = assert_rejected_cleanly(lambda: est(target, log, n_bootstrap=3))
        if accepted and target_kind != "bad":
            assert keep.any()
            e = est(target, log, n_bootstrap=0)
            complete = log.subset(keep)
            t = target(log.contexts) if callable(target) and target_kind == "callable" else target
            t = t[keep] if isinstance(t, np.ndarray) else t
            assert e.n == keep.sum() and e.details["pending"] == n - keep.sum()
            ref = est(t, complete, n_bootstrap=0).value  # NaN for SNIPS when no weight is positive
            assert e.value == ref or (np.isnan(e.value) and np.isnan(ref))
            P = target_probabilities(t, complete)
            if est is ips:  # the definition, by hand
                w = P[np.arange(len(complete)), complete.arms] / complete.propensities
                assert e.value == pytest.approx(np.mean(w * complete.rewards), rel=1e-12, abs=1e-12)
    nb = data.draw(st.one_of(st.integers(-1, 5), bad_values()))
    lv = data.draw(st.one_of(st.floats(0, 1), bad_values()))
    sd = data.draw(st.one_of(st.integers(0, 5), bad_values()))
    for est in ESTIMATORS:
        assert_rejected_cleanly(lambda: est(np.zeros(n, np.int64), log, n_bootstrap=nb, level=lv, seed=sd))
    pol = LinUCB(K, D)
    assert_rejected_cleanly(lambda: replay(pol, log, n_bootstrap=nb, level=lv))
    assert_rejected_cleanly(lambda: replay(LinUCB(K + 1, D), log))  # wrong n_arms
    assert_rejected_cleanly(lambda: evaluate(target, log, data.draw(st.sampled_from(["dr", "replay", "xx"]))))
    assert_rejected_cleanly(lambda: compare(target, LinUCB(K, D), log, n_bootstrap=3))
