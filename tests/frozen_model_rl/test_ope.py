"""Off-policy estimators at obp parity: slates, precomputed predictions, the DR variants,
intervals that cover a known truth, estimated propensities, summaries and bad input.

Oracles: the estimators' formulas written out in numpy (obp's definitions, cited per
test), the obp package itself where it installs (obp 0.4.1 on Python 3.11: obp 0.5.x
declares Requires-Python < 3.11), and simulated logs whose true value is known.
"""

import math

import numpy as np
import pytest

from superinstance.frozen_model_rl import (LinUCB, LoggedData, RidgeRewardModel, compare, direct_method,
                                           doubly_robust, dr_shrinkage, estimate_propensities, ips, sndr, snips,
                                           summarize, switch_dr, target_probabilities)

ESTIMATORS = {"ips": ips, "snips": snips, "dm": direct_method, "dr": doubly_robust, "switch_dr": switch_dr,
              "sndr": sndr, "dr_shrinkage": dr_shrinkage}


def _slate_log(seed=0, n=2000, K=10, L=3, d=4, pending=0.0):
    """A log with positions, a target (n, K, L) and predictions (n, K, L), all random."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    arms = rng.integers(0, K, n)
    pos = rng.integers(0, L, n)
    p = rng.uniform(0.02, 0.6, n)
    r = rng.binomial(1, 0.3, n).astype(float)
    r[rng.random(n) < pending] = np.nan
    data = LoggedData(X, arms, p, r, K, positions=pos, n_positions=L)
    target = rng.dirichlet(np.ones(K) * 0.3, size=(n, L)).transpose(0, 2, 1)  # (n, K, L), sums over K
    Q = rng.uniform(0, 1, (n, K, L))
    return data, target, Q


def _formulas(data, target, Q, tau=1.0, lam=1.0, clip=math.inf):
    """obp's _estimate_round_rewards (obp/ope/estimators.py, v0.4.1 and 0.5.x), written out."""
    n = len(data)
    i = np.arange(n)
    pi = target[i, :, data.positions]
    q = Q[i, :, data.positions]
    w = pi[i, data.arms] / data.propensities
    r = data.rewards
    qa = q[i, data.arms]
    dm = np.average(q, weights=pi, axis=1)
    wc = np.minimum(w, clip)  # obp 0.5 IPW/DR lambda_: iw = np.minimum(iw, lambda_)
    return {"ips": np.mean(r * wc), "snips": np.mean(r * w / w.mean()), "dm": np.mean(dm),
            "dr": np.mean(dm + wc * (r - qa)), "sndr": np.mean(dm + w * (r - qa) / w.mean()),
            "switch_dr": np.mean(dm + (w <= tau) * w * (r - qa)),
            "dr_shrinkage": np.mean(dm + lam * w / (w ** 2 + lam) * (r - qa))}


def _call(name, target, data, Q, **kw):
    if name in ("ips", "snips"):
        return ESTIMATORS[name](target, data, **kw)
    return ESTIMATORS[name](target, data, estimated_rewards=Q, **kw)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_slate_estimators_equal_the_written_out_formulas(name):
    data, target, Q = _slate_log()
    ref = _formulas(data, target, Q, tau=3.0, lam=2.5)
    kw = {"switch_dr": {"tau": 3.0}, "dr_shrinkage": {"lam": 2.5}}.get(name, {})
    e = _call(name, target, data, Q, **kw)
    assert e.value == pytest.approx(ref[name], rel=1e-12)
    assert e.n == len(data) and e.details["interval"] == "normal" and e.low < e.value < e.high


def test_clipping_follows_obp_05():
    data, target, Q = _slate_log(seed=1)
    ref = _formulas(data, target, Q, clip=5.0)
    assert ips(target, data, clip=5.0).value == pytest.approx(ref["ips"], rel=1e-12)
    assert doubly_robust(target, data, estimated_rewards=Q, clip=5.0).value == pytest.approx(ref["dr"], rel=1e-12)
    w = target[np.arange(len(data)), data.arms, data.positions] / data.propensities
    assert w.max() > 5  # the clip bites
    assert ips(target, data, clip=5.0).value != ips(target, data).value


def test_limits_of_the_dr_variants():
    data, target, Q = _slate_log(seed=2)
    dr = doubly_robust(target, data, estimated_rewards=Q).value
    dm = direct_method(target, data, estimated_rewards=Q).value
    assert dr_shrinkage(target, data, estimated_rewards=Q, lam=math.inf).value == pytest.approx(dr, rel=1e-14)
    assert dr_shrinkage(target, data, estimated_rewards=Q, lam=0).value == pytest.approx(dm, rel=1e-14)
    assert switch_dr(target, data, estimated_rewards=Q, tau=math.inf).value == pytest.approx(dr, rel=1e-14)
    assert switch_dr(target, data, estimated_rewards=Q, tau=0.0).value == pytest.approx(dm, rel=1e-14)


def test_obp_parity():
    """obp's own classes on the same inputs (the issue asks for 1e-9 relative)."""
    obp = pytest.importorskip("obp.ope")
    data, target, Q = _slate_log(seed=3, n=3000, K=20, L=3)
    common = dict(reward=data.rewards, action=data.arms, pscore=data.propensities, action_dist=target,
                  position=data.positions)
    pairs = [("ips", obp.InverseProbabilityWeighting(), {}, common),
             ("snips", obp.SelfNormalizedInverseProbabilityWeighting(), {}, common),
             ("dm", obp.DirectMethod(), {}, dict(action_dist=target, position=data.positions,
                                                 estimated_rewards_by_reg_model=Q)),
             ("dr", obp.DoublyRobust(), {}, dict(common, estimated_rewards_by_reg_model=Q)),
             ("sndr", obp.SelfNormalizedDoublyRobust(), {}, dict(common, estimated_rewards_by_reg_model=Q)),
             ("switch_dr", obp.SwitchDoublyRobust(tau=4.0), {"tau": 4.0},
              dict(common, estimated_rewards_by_reg_model=Q)),
             ("dr_shrinkage", obp.DoublyRobustWithShrinkage(lambda_=3.0), {"lam": 3.0},
              dict(common, estimated_rewards_by_reg_model=Q))]
    for name, est, kw, args in pairs:
        theirs = est.estimate_policy_value(**args)
        ours = _call(name, target, data, Q, **kw).value
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), name


def test_an_nk_target_is_the_slate_target_at_each_position():
    data, target, Q = _slate_log(seed=4)
    i = np.arange(len(data))
    sliced_t, sliced_q = target[i, :, data.positions], Q[i, :, data.positions]
    for name in ESTIMATORS:
        assert _call(name, target, data, Q).value == _call(name, sliced_t, data, sliced_q).value
    # slicing the wrong position (the mistake the issue measured) gives another value
    assert ips(target[:, :, 0], data).value != ips(target, data).value
    np.testing.assert_array_equal(target_probabilities(target, data), sliced_t)
    # a callable may return the slate form too
    assert ips(lambda X: target, data).value == ips(target, data).value


def test_pending_rows_with_slates():
    data, target, Q = _slate_log(seed=5, pending=0.3)
    keep = ~np.isnan(data.rewards)
    sub = data.subset(keep)
    for name in ESTIMATORS:
        e = _call(name, target, data, Q)
        ref = _call(name, target[keep], sub, Q[keep])
        assert e.value == ref.value and e.n == keep.sum() and e.details["pending"] == len(data) - keep.sum()


def test_effective_sample_size_is_kish():
    data, target, Q = _slate_log(seed=6)
    w = target[np.arange(len(data)), data.arms, data.positions] / data.propensities
    assert ips(target, data).effective_sample_size == pytest.approx(w.sum() ** 2 / (w ** 2).sum(), rel=1e-12)
    wc = np.minimum(w, 2.0)
    assert ips(target, data, clip=2.0).effective_sample_size == pytest.approx(wc.sum() ** 2 / (wc ** 2).sum())
    assert direct_method(target, data, estimated_rewards=Q).effective_sample_size == len(data)


def test_normal_interval_is_the_delta_method():
    data, target, Q = _slate_log(seed=7)
    n = len(data)
    w = target[np.arange(n), data.arms, data.positions] / data.propensities
    r = data.rewards
    e = ips(target, data, level=0.9)
    se = np.std(w * r, ddof=1) / np.sqrt(n)
    assert e.std_error == pytest.approx(se, rel=1e-12)
    assert e.high - e.value == pytest.approx(1.6448536269514722 * se, rel=1e-9)
    v = np.sum(w * r) / np.sum(w)
    es = snips(target, data)
    assert es.std_error == pytest.approx(np.std(w * (r - v) / w.mean(), ddof=1) / np.sqrt(n), rel=1e-12)
    b = ips(target, data, n_bootstrap=400, seed=3)
    assert b.details["interval"] == "bootstrap" and b.std_error == pytest.approx(se, rel=0.15)


def _policy_log(rng, n, K, d, theta, noise=0.5):
    X = rng.normal(size=(n, d))
    logits = X @ rng.normal(size=(d, K)) * 0.7
    P = np.exp(logits - logits.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    P = 0.8 * P + 0.2 / K
    a = (P.cumsum(1) > rng.random((n, 1))).argmax(1)
    r = (X @ theta.T)[np.arange(n), a] + noise * rng.normal(size=n)
    return LoggedData(X, a, P[np.arange(n), a], r, K), P


def test_intervals_cover_the_true_value_at_the_nominal_rate():
    """Simulated logs with a known true value: the default (normal) interval of the
    unbiased (IPS, DR) and self-normalised estimators covers it in about 95 % of 300 logs
    (binomial sd 1.3 %: at least 90 %). DM, Switch-DR and DR with shrinkage take
    part of their value from the reward model, whose fitting error the interval
    does not include: they cover less (measured 84-89 % here; the docs say so)."""
    K, d = 4, 3
    rng = np.random.default_rng(10)
    theta = rng.normal(size=(K, d))
    target_theta = theta + 0.8 * rng.normal(size=(K, d))

    def target(X):
        return np.argmax(X @ target_theta.T, axis=1)

    big = rng.normal(size=(400000, d))
    truth = float(np.mean((big @ theta.T)[np.arange(len(big)), target(big)]))
    reps = 300
    cover = {k: 0 for k in ESTIMATORS}
    for _ in range(reps):
        data, _ = _policy_log(rng, 800, K, d, theta)
        s = summarize(target, data, {k: ({"tau": 10.0} if k == "switch_dr" else {}) for k in ESTIMATORS})
        for k in ESTIMATORS:
            cover[k] += s[k].low <= truth <= s[k].high
    for k in ("ips", "snips", "dr", "sndr"):
        assert cover[k] / reps >= 0.90, (k, str(cover))
    for k in ("dm", "switch_dr", "dr_shrinkage"):
        assert cover[k] / reps >= 0.78, (k, str(cover))


def test_bootstrap_interval_covers_too():
    K, d = 3, 2
    rng = np.random.default_rng(11)
    theta = rng.normal(size=(K, d))
    big = rng.normal(size=(200000, d))
    truth = float(np.mean(big @ theta[0]))
    hits = 0
    for _ in range(100):
        data, _ = _policy_log(rng, 400, K, d, theta)
        e = doubly_robust(np.zeros(400, np.int64), data, n_bootstrap=200, seed=int(rng.integers(1 << 30)))
        hits += e.low <= truth <= e.high
    assert hits >= 88  # nominal 95: binomial sd 2.2


def test_summarize_equals_the_single_calls_and_prints_a_table():
    rng = np.random.default_rng(12)
    data, _ = _policy_log(rng, 1000, 4, 3, rng.normal(size=(4, 3)))
    target = rng.dirichlet(np.ones(4), 1000)
    s = summarize(target, data, {"ips": {"clip": 10.0}, "dr": None, "switch_dr": {"tau": 2.0}, "sndr": {}})
    assert s["ips"].value == ips(target, data, clip=10.0).value
    assert s["dr"].value == doubly_robust(target, data).value
    assert s["switch_dr"].value == switch_dr(target, data, tau=2.0).value
    assert s.on_policy_value == pytest.approx(np.mean(data.rewards))
    rows = s.rows()
    assert [r["estimator"] for r in rows] == ["ips", "dr", "switch_dr", "sndr"]
    assert rows[1]["relative"] == pytest.approx(s["dr"].value / np.mean(data.rewards))
    text = str(s)
    assert "switch_dr" in text and "on-policy" in text
    with pytest.raises(ValueError, match="unknown method"):
        summarize(target, data, ["ipw"])


def test_compare_paired_normal_interval():
    rng = np.random.default_rng(13)
    theta = rng.normal(size=(4, 3))
    data, _ = _policy_log(rng, 3000, 4, 3, theta)
    good = np.argmax(data.contexts @ theta.T, axis=1)
    bad = np.argmin(data.contexts @ theta.T, axis=1)
    c = compare(bad, good, data, method="dr")
    assert c.significant and c.difference > 0 and c.prob_b_better > 0.99
    c0 = compare(good, good, data, method="snips")
    assert c0.difference == 0 and not c0.significant


def test_estimated_propensities_recover_the_logging_policy():
    rng = np.random.default_rng(14)
    K, d = 5, 3
    theta = rng.normal(size=(K, d))
    data, P = _policy_log(rng, 20000, K, d, theta)
    blind = data.with_propensities(None)
    with pytest.raises(ValueError, match="no propensities"):
        ips(np.zeros(len(data), np.int64), blind)
    est = estimate_propensities(blind, lam=1e-3)
    truth = P[np.arange(len(data)), data.arms]
    # the logging policy is a mixture (not exactly softmax-linear): close, not equal
    assert np.mean(np.abs(est.propensities - truth)) < 0.02
    # an exactly softmax-linear logging policy is recovered closely
    X = rng.normal(size=(20000, d))
    B = rng.normal(size=(d, K))
    Z = X @ B + 0.3
    S = np.exp(Z - Z.max(1, keepdims=True))
    S /= S.sum(1, keepdims=True)
    a = (S.cumsum(1) > rng.random((20000, 1))).argmax(1)
    r = (X @ theta.T)[np.arange(20000), a] + 0.5 * rng.normal(size=20000)
    fit = estimate_propensities(LoggedData(X, a, None, r, K), lam=1e-6)
    err = np.abs(fit.propensities - S[np.arange(20000), a])
    assert err.mean() < 0.01 and err.max() < 0.1  # 20 parameters from 20000 draws
    target = np.argmax(X @ theta.T, axis=1)
    exact = ips(target, LoggedData(X, a, S[np.arange(20000), a], r, K))
    assert abs(ips(target, fit).value - exact.value) < 2 * exact.std_error


def test_policy_target_with_positions_and_models():
    rng = np.random.default_rng(15)
    n, K, d, L = 600, 3, 2, 2
    X = rng.normal(size=(n, d))
    data = LoggedData(X, rng.integers(0, K, n), np.full(n, 1 / K), rng.normal(size=n), K,
                      positions=rng.integers(0, L, n))
    pol = LinUCB(K, d)
    e = doubly_robust(pol, data)  # the default ridge model fits one model per position
    model = RidgeRewardModel().fit(data)
    Qpos = model.predict(X, data.positions)
    assert e.value == doubly_robust(pol, data, estimated_rewards=Qpos).value
    assert model.predict(X).shape == (n, K, L)


def _bad(fn, match, exc=ValueError):
    with pytest.raises(exc, match=match):
        fn()


def test_bad_input_is_refused_with_a_clear_error():
    data, target, Q = _slate_log(seed=20, n=50, K=4, L=3)
    n = len(data)
    X, arms, p, r = data.contexts, data.arms, data.propensities, data.rewards
    # positions out of range
    _bad(lambda: LoggedData(X, arms, p, r, 4, positions=np.full(n, -1)), "positions must be >= 0")
    _bad(lambda: LoggedData(X, arms, p, r, 4, positions=np.full(n, 3), n_positions=3), "positions out of range")
    short = LoggedData(X, arms, p, r, 4, positions=np.full(n, 3))  # 4 positions, the target has 3
    _bad(lambda: ips(target, short), "positions out of range")
    _bad(lambda: ips(target, LoggedData(X, arms, p, r, 4)), "has no positions")
    _bad(lambda: LoggedData(X, arms, p, r, 4, positions=np.zeros(n + 1, np.int64)), "one entry per logged")
    # a distribution whose rows do not sum to 1
    t2 = target.copy()
    t2[7, :, 1] *= 1.5
    _bad(lambda: ips(t2, data), r"sum to 1 .*\(decision 7, position 1 sums to 1.5\)")
    t3 = target.copy()
    t3[0, 0, 0] = np.nan
    _bad(lambda: snips(t3, data), "NaN")
    # NaN predictions, mismatched shapes, both predictions and a model
    q2 = Q.copy()
    q2[3, 1, 2] = np.nan
    _bad(lambda: doubly_robust(target, data, estimated_rewards=q2), "estimated_rewards contain NaN")
    _bad(lambda: direct_method(target, data, estimated_rewards=Q[:, :3]), r"estimated_rewards must be \(n, n_arms\)")
    _bad(lambda: doubly_robust(target, data, estimated_rewards=Q, reward_model=RidgeRewardModel()), "not both")
    _bad(lambda: ips(target, data, estimated_rewards=Q), "uses no reward model")
    _bad(lambda: ips(target[:10], data), "target probabilities must be")
    # propensities of 0
    p0 = p.copy()
    p0[4] = 0.0
    _bad(lambda: LoggedData(X, arms, p0, r, 4), r"propensities must be in \(0, 1\]")
    # parameters
    _bad(lambda: ips(target, data, clip=-1.0), "clip must be >= 0")
    _bad(lambda: ips(target, data, clip="big"), "clip must be a number", TypeError)
    _bad(lambda: switch_dr(target, data, estimated_rewards=Q, tau=float("nan")), "tau must be")
    _bad(lambda: dr_shrinkage(target, data, estimated_rewards=Q, lam=-2.0), "lam must be >= 0")
    _bad(lambda: ips(target, data, n_bootstrap=-1), "n_bootstrap must be >= 0")
    _bad(lambda: LoggedData(X, arms, p, r, 4, action_context=np.ones((3, 2))), "action_context must be")
    _bad(lambda: doubly_robust(target, data, n_folds=0), "n_folds")


def test_slate_log_roundtrips(tmp_path):
    data, _, _ = _slate_log(seed=21, n=30, K=4, L=3, pending=0.2)
    data = LoggedData(data.contexts, data.arms, None, data.rewards, 4, positions=data.positions, n_positions=5,
                      action_context=np.random.default_rng(0).normal(size=(4, 2)))
    data.save_npz(tmp_path / "s.npz")
    back = LoggedData.load_npz(tmp_path / "s.npz")
    assert back.propensities is None and back.n_positions == 5
    np.testing.assert_array_equal(back.positions, data.positions)
    np.testing.assert_array_equal(back.action_context, data.action_context)
    pytest.importorskip("pyarrow")
    data.save_parquet(tmp_path / "s.parquet")
    back = LoggedData.load_parquet(tmp_path / "s.parquet")
    assert back.propensities is None and back.n_positions == 5
    np.testing.assert_array_equal(back.positions, data.positions)
    np.testing.assert_array_equal(back.action_context, data.action_context)
    np.testing.assert_array_equal(np.isnan(back.rewards), np.isnan(data.rewards))
