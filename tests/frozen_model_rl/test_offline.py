"""Off-policy estimators: hand-computed values and unbiasedness on simulated logs."""

import numpy as np
import pytest

from superinstance.frozen_model_rl import (DecisionLog, EpsilonGreedy, LinUCB, LoggedData,
                                           compare, direct_method, doubly_robust, hyperparameter_search, ips,
                                           replay, snips, target_probabilities)


def _tiny():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    arms = np.array([0, 1, 1, 0])
    p = np.array([0.5, 0.25, 0.75, 0.5])
    r = np.array([1.0, 2.0, 0.0, 3.0])
    return LoggedData(X, arms, p, r, n_arms=2)


def test_hand_computed_values():
    data = _tiny()
    target = np.array([0, 1, 0, 1])  # deterministic target arms
    # IPS: matches at rows 0, 1 -> (1/0.5 * 1 + 1/0.25 * 2) / 4
    assert ips(target, data, n_bootstrap=0).value == pytest.approx((2.0 + 8.0) / 4)
    # SNIPS: (2 + 8) / (2 + 4)
    assert snips(target, data, n_bootstrap=0).value == pytest.approx(10.0 / 6.0)
    Q = data.contexts @ np.array([[1.0, 0.0], [0.0, 2.0]]).T  # q(x,0)=x0, q(x,1)=2 x1
    dm = [Q[0, 0], Q[1, 1], Q[2, 0], Q[3, 1]]  # 1, 2, 1, -2
    assert direct_method(target, data, estimated_rewards=Q).value == pytest.approx(np.mean(dm))
    corr = [2 * (1 - 1), 4 * (2 - 2), 0, 0]
    assert doubly_robust(target, data, estimated_rewards=Q).value == pytest.approx(np.mean(dm) + np.mean(corr))
    P = np.array([[0.5, 0.5]] * 4)
    assert ips(P, data, n_bootstrap=0).value == pytest.approx(np.mean([0.5 / 0.5 * 1, 0.5 / 0.25 * 2, 0.5 / 0.75 * 0, 0.5 / 0.5 * 3]))


def test_bad_logs_and_targets():
    with pytest.raises(ValueError, match="propensities"):
        LoggedData(np.ones((2, 2)), [0, 1], [0.0, 0.5], [1, 1], 2)
    with pytest.raises(ValueError, match="arms"):
        LoggedData(np.ones((2, 2)), [0, 2], [0.5, 0.5], [1, 1], 2)
    with pytest.raises(ValueError, match="NaN"):
        LoggedData(np.array([[np.nan, 1], [1, 1]]), [0, 1], [0.5, 0.5], [1, 1], 2)
    data = _tiny()
    with pytest.raises(ValueError):
        ips(np.array([[0.5, 0.6]] * 4), data)
    with pytest.raises(ValueError):
        ips(np.array([0, 1]), data)
    empty = LoggedData(np.ones((2, 2)), [0, 1], [0.5, 0.5], [np.nan, np.nan], 2)
    with pytest.raises(ValueError, match="no decisions with rewards"):
        ips(np.array([0, 1]), empty)


def _simulated_log(rng, n, K, d, theta, uniform=False):
    X = rng.normal(size=(n, d))
    if uniform:
        P = np.full((n, K), 1.0 / K)
    else:
        logits = X @ rng.normal(size=(d, K)) * 0.7
        P = np.exp(logits - logits.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        P = 0.8 * P + 0.2 / K
    a = (P.cumsum(1) > rng.random((n, 1))).argmax(1)
    r = (X @ theta.T)[np.arange(n), a] + 0.5 * rng.normal(size=n)
    return LoggedData(X, a, P[np.arange(n), a], r, K)


def test_estimators_unbiased_on_simulated_log():
    K, d = 4, 3
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(K, d))
    target_theta = theta + 0.8 * rng.normal(size=(K, d))  # an imperfect fixed target policy

    def target(X):
        return np.argmax(X @ target_theta.T, axis=1)

    big = rng.normal(size=(400000, d))
    true_value = float(np.mean((big @ theta.T)[np.arange(len(big)), target(big)]))
    est = {m: [] for m in ("ips", "snips", "dm", "dr")}
    cover = {m: 0 for m in est}
    reps = 120
    for _ in range(reps):
        data = _simulated_log(rng, 400, K, d, theta)
        for m, fn in (("ips", ips), ("snips", snips), ("dm", direct_method), ("dr", doubly_robust)):
            e = fn(target, data, n_bootstrap=100, seed=int(rng.integers(1 << 30)))
            est[m].append(e.value)
            cover[m] += e.low <= true_value <= e.high
    for m in ("ips", "dr"):
        vals = np.array(est[m])
        se = vals.std(ddof=1) / np.sqrt(reps)
        assert abs(vals.mean() - true_value) < 3.5 * se + 1e-3, (m, vals.mean(), true_value, se)
        assert cover[m] / reps > 0.85, (m, cover[m])
    for m in ("snips", "dm"):  # consistent (SNIPS) / well specified (DM): close, small bias allowed
        assert abs(np.mean(est[m]) - true_value) < 0.05, (m, np.mean(est[m]), true_value)
    assert np.std(est["dr"]) < np.std(est["ips"])  # DR reduces variance with a good model


def test_replay_of_a_fixed_policy_is_unbiased_on_uniform_logs():
    K, d = 3, 2
    rng = np.random.default_rng(1)
    theta = rng.normal(size=(K, d))
    pol = LinUCB(K, d, alpha=0.0)
    pol.update_arms([0, 1, 2], np.eye(3, 2), [1.0, 0.5, -1.0])  # some fixed greedy policy
    big = rng.normal(size=(200000, d))
    arms_big = np.argmax(big @ np.stack([pol.theta(a) for a in range(K)]).T, axis=1)
    true_value = float(np.mean((big @ theta.T)[np.arange(len(big)), arms_big]))
    data = _simulated_log(rng, 6000, K, d, theta, uniform=True)
    e = replay(pol, data, learn=False, n_bootstrap=200)
    assert e.details["matched"] == pytest.approx(2000, rel=0.1)
    assert e.low <= true_value <= e.high
    ei = ips(pol, data)
    assert abs(ei.value - e.value) < 0.15


def test_compare_and_hyperparameter_search():
    K, d = 4, 3
    rng = np.random.default_rng(2)
    theta = rng.normal(size=(K, d))
    data = _simulated_log(rng, 3000, K, d, theta)
    good = np.argmax(data.contexts @ theta.T, axis=1)
    bad = np.argmin(data.contexts @ theta.T, axis=1)
    c = compare(bad, good, data, method="dr", n_bootstrap=200)
    assert c.difference > 0 and c.significant and c.prob_b_better > 0.99
    c2 = compare(good, good, data, method="ips", n_bootstrap=100)
    assert c2.difference == 0 and not c2.significant
    uni = _simulated_log(rng, 4000, K, d, theta, uniform=True)
    res = hyperparameter_search(lambda epsilon: EpsilonGreedy(K, d, epsilon=epsilon, seed=1),
                                {"epsilon": [1.0, 0.05]}, uni, method="replay", n_bootstrap=50)
    assert res[0][0] == {"epsilon": 0.05}
    assert res[0][1].value > res[1][1].value
    res2 = hyperparameter_search(lambda alpha: LinUCB(K, d, alpha=alpha), {"alpha": [0.0, 1.0]}, data,
                                 method="dr", n_bootstrap=20)
    assert len(res2) == 2 and res2[0][1].value >= res2[1][1].value
    cr = compare(LinUCB(K, d), EpsilonGreedy(K, d, epsilon=0.0), uni, method="replay", n_bootstrap=50)
    assert np.isfinite(cr.difference)


def test_decision_log_roundtrip(tmp_path):
    log = DecisionLog()
    p = EpsilonGreedy(3, 2, epsilon=0.2, log=log)
    rng = np.random.default_rng(3)
    ds = [p.select(x) for x in rng.normal(size=(20, 2))]
    for d in ds[:15]:
        p.update(d, float(d.arm))
    b = p.select_batch(rng.normal(size=(5, 2)))
    p.update_batch(b, np.ones(5))
    data = log.to_data(3)
    assert len(data) == 25 and np.isnan(data.rewards).sum() == 5
    np.testing.assert_array_equal(data.arms[:20], [d.arm for d in ds])
    np.testing.assert_array_equal(data.propensities[:20], [d.propensity for d in ds])
    path = tmp_path / "log.npz"
    data.save_npz(path)
    back = LoggedData.load_npz(path)
    np.testing.assert_array_equal(back.contexts, data.contexts)
    np.testing.assert_array_equal(back.rewards, data.rewards)
    assert len(back.complete()) == 20
    assert target_probabilities(p, back.complete()).shape == (20, 3)


def test_parquet_roundtrip(tmp_path):
    pytest.importorskip("pyarrow")
    data = _tiny()
    data.rewards[2] = np.nan
    path = tmp_path / "log.parquet"
    data.save_parquet(path)
    back = LoggedData.load_parquet(path)
    np.testing.assert_array_equal(back.contexts, data.contexts)
    np.testing.assert_array_equal(back.arms, data.arms)
    np.testing.assert_array_equal(back.propensities, data.propensities)
    np.testing.assert_array_equal(np.isnan(back.rewards), np.isnan(data.rewards))
    assert back.n_arms == 2 and len(back.complete()) == 3
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1]}), tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="not a superinstance decision log"):
        LoggedData.load_parquet(tmp_path / "other.parquet")
