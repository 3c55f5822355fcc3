"""Property-based fuzzing of the slate estimators, their parameters, the reward
models, summarize and the A/B test: every call is accepted or refused with a clear
Python exception, and an accepted estimate equals the written-out IPS formula;
a refused A/B record leaves the test's state unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from fuzz_helpers import assert_rejected_cleanly, bad_arrays, bad_values
from hypothesis import given
from hypothesis import strategies as st

from superinstance.frozen_model_rl import (ABTest, LoggedData, RidgeRewardModel, doubly_robust, dr_shrinkage, ips,
                                           sndr, summarize, switch_dr)

pytestmark = pytest.mark.fuzz

K, L = 3, 2


def _log(rng, n):
    return LoggedData(rng.normal(size=(n, 2)), rng.integers(0, K, n), rng.uniform(0.1, 1.0, n),
                      np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)), K, positions=rng.integers(0, L, n),
                      n_positions=L)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 10), data=st.data())
def test_slate_estimators_accept_or_refuse_cleanly(seed, n, data):
    rng = np.random.default_rng(seed)
    log = _log(rng, n)
    good_t = rng.dirichlet(np.ones(K), size=(n, L)).transpose(0, 2, 1)
    target = data.draw(st.one_of(st.just(good_t), bad_arrays((n, K, L)), bad_arrays((n, K)), bad_values(),
                                 st.just(good_t[:, :, :1]), st.just(good_t * 2)))
    q = data.draw(st.one_of(st.just(rng.normal(size=(n, K, L))), bad_arrays((n, K, L)), bad_values()))
    param = data.draw(st.one_of(st.floats(0, 100), bad_values()))
    calls = [lambda: ips(target, log, clip=param), lambda: switch_dr(target, log, estimated_rewards=q, tau=param),
             lambda: dr_shrinkage(target, log, estimated_rewards=q, lam=param),
             lambda: sndr(target, log, estimated_rewards=q),
             lambda: doubly_robust(target, log, reward_model=RidgeRewardModel(), n_folds=data.draw(
                 st.one_of(st.integers(-1, 4), bad_values()))),
             lambda: summarize(target, log, data.draw(st.one_of(st.just(["ips", "dr"]), bad_values())))]
    for call in calls:
        assert_rejected_cleanly(call)
    if target is good_t and np.any(~np.isnan(log.rewards)):
        keep = ~np.isnan(log.rewards)
        w = good_t[np.arange(n), log.arms, log.positions] / log.propensities
        assert ips(good_t, log).value == pytest.approx(np.mean((w * log.rewards)[keep]), rel=1e-12, abs=1e-12)


@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_abtest_record_refuses_cleanly_and_changes_nothing(seed, data):
    rng = np.random.default_rng(seed)
    t = ABTest({"a": 0, "b": 1}, metric="m", guardrails={"g": 0.0}, min_samples=2)
    for i in range(20):
        t.record(t.decide(i), {"m": float(rng.normal()), "g": 1.0})
    unit = data.draw(st.one_of(st.integers(-5, 5), st.text(max_size=3), bad_values()))
    reward = data.draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True), bad_values(),
                                 st.dictionaries(st.sampled_from(["m", "g", "x"]), st.one_of(st.floats(), bad_values()),
                                                 max_size=3)))
    assert_rejected_cleanly(lambda: t.record(unit, reward), t.state_dict)
    assert_rejected_cleanly(lambda: t.decide(unit), t.state_dict)
