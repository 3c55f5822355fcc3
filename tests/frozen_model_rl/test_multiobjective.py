"""Multi-objective rewards: Pareto fronts against brute force, scalarisation, one
policy per objective learning on the two-objective simulated user."""

import numpy as np
import pytest

from superinstance.frozen_model_rl import (LinUCB, MultiObjectivePolicy, ScalarizedPolicy, TwoObjectiveUser,
                                           constraint_grid, pareto_front, scalarize)


def _brute_front(V, maximize):
    sign = np.where(np.asarray(maximize), 1.0, -1.0)
    G = V * sign
    keep = []
    for i in range(len(G)):
        if not any(np.all(G[j] >= G[i]) and np.any(G[j] > G[i]) for j in range(len(G)) if j != i):
            keep.append(i)
    return np.array(keep, dtype=np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_pareto_front_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    V = rng.integers(0, 5, size=(40, 3)).astype(float)  # small integers: ties and duplicates
    for maximize in (True, [True, False, True], [False, False, False]):
        mx = np.broadcast_to(np.asarray(maximize), (3,))
        np.testing.assert_array_equal(pareto_front(V, maximize), _brute_front(V, mx))
    with pytest.raises(ValueError, match="NaN"):
        pareto_front(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"\(K, m\)"):
        pareto_front(np.ones(3))


def test_scalarize():
    R = np.array([[1.0, 2.0], [3.0, -1.0]])
    np.testing.assert_allclose(scalarize(R, [0.25, 0.75]), [1.75, 0.0])
    assert scalarize([1.0, 2.0], [1.0, 1.0]) == 3.0
    with pytest.raises(ValueError, match="one entry per objective"):
        scalarize(R, [1.0])


def _state(rng):
    return rng.random(4)


def _features(state):
    return np.concatenate([[1.0], state, state ** 2])  # the user's rewards are quadratic in its state


def test_two_objective_user_has_conflicting_objectives():
    arms = [a.as_array() for a in constraint_grid((0.5, 1.0, 2.0))]
    user = TwoObjectiveUser(seed=0)
    rng = np.random.default_rng(0)
    fronts = []
    for _ in range(50):
        s = _state(rng)
        e = np.stack([user.expected(a, s) for a in arms])
        assert np.all((e >= 0) & (e <= 1))
        fronts.append(len(user.pareto(arms, s)))
        sat_best, stab_best = int(np.argmax(e[:, 0])), int(np.argmax(e[:, 1]))
        assert sat_best in user.pareto(arms, s) and stab_best in user.pareto(arms, s)
    assert np.mean(fronts) > 2  # a real trade-off, not one dominant arm
    r = user.reward(arms[0], s)
    assert r.shape == (2,) and np.all((r >= 0) & (r <= 1))
    i, v = user.best(arms, s, weights=(1.0, 0.0))
    assert i == int(np.argmax([user.expected(a, s)[0] for a in arms]))
    with pytest.raises(ValueError, match="state"):
        user.expected(arms[0], [0.1, 0.2])


def test_one_policy_per_objective_learns_the_weighted_reward_and_the_front():
    arms = [a.as_array() for a in constraint_grid((0.5, 1.0, 2.0), interruption=(0.5,), sentiment=(0.5, 1.0, 2.0))]
    K, d = len(arms), 9
    user = TwoObjectiveUser(seed=1)
    weights = np.array([0.7, 0.3])
    mo = MultiObjectivePolicy([LinUCB(K, d, alpha=0.3) for _ in range(2)], weights=weights,
                              objectives=user.objectives)
    rng = np.random.default_rng(1)
    regret, random_regret = [], []
    for t in range(3000):
        s = _state(rng)
        x = _features(s)
        dec = mo.select(x)
        # the decision is argmax of the weighted sub-policy scores (the oracle)
        if t % 500 == 0:
            oracle = sum(w * p.scores(x) for w, p in zip(weights, mo.policies))
            assert dec.arm == int(np.argmax(oracle))
        mo.update(dec, user.reward(arms[dec.arm], s))
        values = np.array([user.expected(a, s) @ weights for a in arms])
        regret.append(values.max() - values[dec.arm])
        random_regret.append(values.max() - values.mean())
    late = np.mean(regret[-1000:])
    assert late < 0.35 * np.mean(random_regret), (late, np.mean(random_regret))
    # other weights without relearning: the best estimated arm for them lies on the
    # estimated front, and it is a good arm for the user under those weights
    other = np.array([0.2, 0.8])
    regret2, random2 = [], []
    for _ in range(300):
        s = _state(rng)
        est = mo.means(_features(s)) @ other
        pick = int(np.argmax(est))
        assert pick in mo.pareto_front(_features(s))
        values = np.array([user.expected(a, s) @ other for a in arms])
        regret2.append(values.max() - values[pick])
        random2.append(values.max() - values.mean())
    assert np.mean(regret2) < 0.5 * np.mean(random2), (np.mean(regret2), np.mean(random2))
    with pytest.raises(KeyError, match="unknown or already"):
        mo.update(dec, [0.1, 0.2])
    dec = mo.select(_features(_state(rng)))
    with pytest.raises(ValueError, match="one per objective"):
        mo.update(dec, [0.1])
    with pytest.raises(ValueError, match="NaN"):
        mo.update(dec, [0.1, np.nan])
    mo.update(dec, [0.1, 0.2])  # still pending after the refusals


def test_scalarized_policy_teaches_the_weighted_sum():
    pol = ScalarizedPolicy(LinUCB(2, 2), [0.5, 2.0])
    d = pol.select(np.array([1.0, 0.0]))
    pol.update(d, [1.0, 1.0])
    assert pol.policy.means(np.array([1.0, 0.0]))[d.arm] == pytest.approx(2.5 / 2.0)  # ridge, lam 1: 2.5 x / (1 + 1)
