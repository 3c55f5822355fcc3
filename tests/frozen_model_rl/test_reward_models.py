"""Reward models: closed forms in numpy, optimality conditions, scikit-learn where
installed, recovery of simulated rewards, cross-fitting and positions."""

import numpy as np
import pytest

from superinstance.frozen_model_rl import (LogisticRewardModel, LoggedData, RidgeRewardModel, SharedRewardModel,
                                           direct_method, doubly_robust)


def _log(seed=0, n=800, K=3, d=2, binary=False, positions=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    arms = rng.integers(0, K, n)
    theta = rng.normal(size=(K, d))
    z = (X @ theta.T)[np.arange(n), arms] + rng.normal(size=K)[arms]
    if binary:
        r = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    else:
        r = z + 0.3 * rng.normal(size=n)
    pos = None if positions is None else rng.integers(0, positions, n)
    return LoggedData(X, arms, np.full(n, 1.0 / K), r, K, positions=pos), theta


def test_ridge_with_intercept_is_the_closed_form():
    data, _ = _log()
    lam = 2.0
    m = RidgeRewardModel(lam=lam).fit(data)
    for a in range(data.n_arms):
        sel = data.arms == a
        Phi = np.hstack([np.ones((sel.sum(), 1)), data.contexts[sel]])
        D = np.diag([0.0] + [lam] * data.dim)  # the intercept is not penalised
        beta = np.linalg.solve(Phi.T @ Phi + D, Phi.T @ data.rewards[sel])
        assert m.bias[a] == pytest.approx(beta[0], rel=1e-10)
        np.testing.assert_allclose(m.theta[a], beta[1:], rtol=1e-10)
    Q = m.predict(data.contexts)
    np.testing.assert_allclose(Q, data.contexts @ m.theta.T + m.bias, rtol=1e-12)
    # an arm never played predicts the mean reward
    few = data.subset(data.arms != 2)
    assert RidgeRewardModel().fit(few).predict(data.contexts[:3])[:, 2] == pytest.approx(np.mean(few.rewards))


def test_ridge_against_scikit_learn():
    sk = pytest.importorskip("sklearn.linear_model")
    data, _ = _log(seed=1)
    m = RidgeRewardModel(lam=0.5).fit(data)
    for a in range(data.n_arms):
        sel = data.arms == a
        ref = sk.Ridge(alpha=0.5).fit(data.contexts[sel], data.rewards[sel])
        np.testing.assert_allclose(m.theta[a], ref.coef_, rtol=1e-8)
        assert m.bias[a] == pytest.approx(ref.intercept_, rel=1e-8)


def test_logistic_model_is_the_penalised_optimum_and_stays_in_0_1():
    data, _ = _log(seed=2, binary=True)
    lam = 1.0
    m = LogisticRewardModel(lam=lam).fit(data)
    Q = m.predict(data.contexts)
    assert np.all((Q > 0) & (Q < 1))
    beta = m._params[0]
    for a in range(data.n_arms):  # gradient of the penalised log-likelihood is zero
        sel = data.arms == a
        Phi = np.hstack([np.ones((sel.sum(), 1)), data.contexts[sel]])
        p = 1 / (1 + np.exp(-(Phi @ beta[a])))
        pen = np.array([1e-6 * lam] + [lam] * data.dim)
        grad = Phi.T @ (p - data.rewards[sel]) + pen * beta[a]
        assert np.abs(grad).max() < 1e-6
    sk = pytest.importorskip("sklearn.linear_model")
    for a in range(data.n_arms):
        sel = data.arms == a
        ref = sk.LogisticRegression(C=1 / lam, tol=1e-12, max_iter=10000).fit(data.contexts[sel], data.rewards[sel])
        np.testing.assert_allclose(beta[a, 1:], ref.coef_[0], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match=r"rewards in \[0, 1\]"):
        LogisticRewardModel().fit(_log(seed=3)[0])


def test_shared_model_is_the_design_matrix_ridge_and_recovers_the_truth():
    rng = np.random.default_rng(4)
    n, K, d, m = 3000, 12, 3, 2
    F = rng.normal(size=(K, m))
    X = rng.normal(size=(n, d))
    arms = rng.integers(0, K, n)
    M = rng.normal(size=(d, m))
    truth = 0.5 + (X @ np.array([1.0, -1.0, 0.5]))[:, None] + (F @ np.array([0.3, 0.7]))[None, :] + X @ M @ F.T
    r = truth[np.arange(n), arms] + 0.1 * rng.normal(size=n)
    data = LoggedData(X, arms, np.full(n, 1 / K), r, K, action_context=F)
    model = SharedRewardModel(lam=1e-3).fit(data)
    Q = model.predict(X)
    assert np.abs(Q - truth).max() < 0.1
    Fa = F[arms]
    Phi = np.hstack([np.ones((n, 1)), X, Fa, (X[:, :, None] * Fa[:, None, :]).reshape(n, -1)])
    D = np.full(Phi.shape[1], 1e-3)
    D[0] = 0
    beta = np.linalg.solve(Phi.T @ Phi + np.diag(D), Phi.T @ r)
    np.testing.assert_allclose(model._params[0], beta, rtol=1e-8, atol=1e-10)
    # logistic link on 0/1 rewards stays in (0, 1)
    rb = (rng.random(n) < 1 / (1 + np.exp(-truth[np.arange(n), arms]))).astype(float)
    q = SharedRewardModel(link="logistic").fit(LoggedData(X, arms, np.full(n, 1 / K), rb, K, action_context=F))
    assert np.all((q.predict(X) > 0) & (q.predict(X) < 1))
    with pytest.raises(ValueError, match="needs action features"):
        SharedRewardModel().fit(LoggedData(X, arms, np.full(n, 1 / K), r, K))


def test_cross_fitting_predicts_each_fold_from_the_others():
    data, _ = _log(seed=5, n=300)
    model = RidgeRewardModel()
    out = model.fit_predict(data, n_folds=3, seed=7)
    folds = np.array_split(np.random.default_rng(7).permutation(len(data)), 3)
    for test in folds:
        train = np.ones(len(data), bool)
        train[test] = False
        ref = RidgeRewardModel().fit(data.subset(train)).predict(data.contexts[test])
        np.testing.assert_allclose(out[test], ref, rtol=1e-12)
    np.testing.assert_allclose(model.predict(data.contexts), RidgeRewardModel().fit(data).predict(data.contexts))
    e = doubly_robust(np.zeros(len(data), np.int64), data, n_folds=3, seed=7)
    assert e.value == doubly_robust(np.zeros(len(data), np.int64), data, estimated_rewards=out).value
    with pytest.raises(ValueError, match="n_folds"):
        model.fit_predict(data, n_folds=len(data) + 1)


def test_models_with_positions():
    data, _ = _log(seed=6, positions=3)
    model = RidgeRewardModel().fit(data)
    Q3 = model.predict(data.contexts)
    assert Q3.shape == (len(data), data.n_arms, 3)
    for p in range(3):
        at = data.positions == p  # the rows of one position, as a log without positions
        ref = RidgeRewardModel().fit(LoggedData(data.contexts[at], data.arms[at], data.propensities[at],
                                                data.rewards[at], data.n_arms))
        np.testing.assert_allclose(Q3[:, :, p], ref.predict(data.contexts), rtol=1e-12)
    Qp = model.predict(data.contexts, data.positions)
    np.testing.assert_array_equal(Qp, Q3[np.arange(len(data)), :, data.positions])
    with pytest.raises(ValueError, match="positions must be in"):
        model.predict(data.contexts, np.full(len(data), 3))
    # a fitted model given to DM is used as is
    target = np.zeros(len(data), np.int64)
    assert direct_method(target, data, reward_model=model).value == pytest.approx(np.mean(Qp[:, 0]), rel=1e-12)


def test_model_argument_errors():
    with pytest.raises(ValueError, match="lam"):
        RidgeRewardModel(lam=0)
    with pytest.raises(TypeError, match="lam"):
        LogisticRewardModel(lam="1")
    with pytest.raises(ValueError, match="call fit"):
        RidgeRewardModel().predict(np.zeros((2, 2)))
    data, _ = _log(seed=7)
    m = RidgeRewardModel().fit(data)
    with pytest.raises(ValueError, match="contexts must be"):
        m.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="weights"):
        RidgeRewardModel().fit(data, weights=-np.ones(len(data)))


def test_shared_model_equals_obp_regression_model_with_ridge():
    """obp's RegressionModel(fitting_method="normal") fits base_model on
    [context, action_context[action]], one model per position; with scikit-learn's
    Ridge (unpenalised intercept) that is SharedRewardModel without interactions.
    DM then agrees once both use the same predictions (the issue's 1e-16)."""
    obp = pytest.importorskip("obp.ope")
    sk = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(8)
    n, K, L, d = 1500, 6, 2, 3
    X = rng.normal(size=(n, d))
    arms = rng.integers(0, K, n)
    pos = rng.integers(0, L, n)
    r = rng.normal(size=n) + X[:, 0] * (arms % 2)
    F = rng.normal(size=(K, 2))
    data = LoggedData(X, arms, np.full(n, 1 / K), r, K, positions=pos, action_context=F)
    ours = SharedRewardModel(lam=0.7, interactions=False).fit_predict(data)
    reg = obp.RegressionModel(base_model=sk.Ridge(alpha=0.7), n_actions=K, len_list=L, action_context=F,
                              fitting_method="normal")
    theirs = reg.fit_predict(context=X, action=arms, reward=r, position=pos, n_folds=1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    target = rng.dirichlet(np.ones(K), size=(n, L)).transpose(0, 2, 1)
    v = obp.DirectMethod().estimate_policy_value(action_dist=target, estimated_rewards_by_reg_model=theirs,
                                                 position=pos)
    assert direct_method(target, data, estimated_rewards=theirs).value == pytest.approx(v, rel=1e-14)
