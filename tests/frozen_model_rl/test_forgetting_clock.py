"""The update clock of D-LinUCB and the sliding window (each arm forgets on its
own updates), against numpy references, and version-1 state files."""

import json
import pathlib

import numpy as np
import pytest

from superinstance import _core
from superinstance.errors import CorruptFileError
from superinstance.frozen_model_rl import (DiscountedLinUCB, DriftingEnvironment, SlidingWindowLinUCB, load_policy,
                                           policy_from_state_dict, simulate)

DATA = pathlib.Path(__file__).parent / "data"


class _NumpyPolicy:
    """select(): the highest score, lowest index on ties; one round."""

    def select(self, x):
        a = int(np.argmax(self.scores(x)))
        self.t += 1
        return a


class NumpyDLinUCBUpdateClock(_NumpyPolicy):
    """D-LinUCB whose arms decay by gamma**K on their own updates and by
    idle_gamma every round (Russac et al.'s recursion with that clock), with
    explicit matrices and numpy inverses."""

    def __init__(self, K, d, gamma, alpha, lam=1.0, idle_gamma=1.0):
        self.K, self.d, self.alpha, self.lam = K, d, alpha, lam
        self.eta, self.rho = gamma ** K, idle_gamma
        self.V = np.stack([lam * np.eye(d)] * K)
        self.Vt = self.V.copy()
        self.b = np.zeros((K, d))
        self.t_last = np.zeros(K, np.int64)
        self.t = 0

    def _decayed(self, a, g):
        I = np.eye(self.d)
        return (g * self.V[a] + (1 - g) * self.lam * I, g * g * self.Vt[a] + (1 - g * g) * self.lam * I,
                g * self.b[a])

    def scores(self, x):
        out = np.empty(self.K)
        for a in range(self.K):
            V, Vt, b = self._decayed(a, self.rho ** (self.t - self.t_last[a]))
            Vi = np.linalg.inv(V)
            out[a] = Vi @ b @ x + self.alpha * np.sqrt(x @ Vi @ Vt @ Vi @ x)
        return out

    def update(self, a, x, r):
        V, Vt, b = self._decayed(a, self.eta * self.rho ** (self.t - self.t_last[a]))
        self.V[a], self.Vt[a], self.b[a] = V + np.outer(x, x), Vt + np.outer(x, x), b + r * x
        self.t_last[a] = self.t


class NumpySWUpdateClock(_NumpyPolicy):
    """Sliding-window LinUCB over each arm's last round(window / K)
    observations, none older than max_age rounds (0: no age limit)."""

    def __init__(self, K, d, window, alpha, lam=1.0, max_age=0):
        self.K, self.d, self.alpha, self.lam, self.max_age = K, d, alpha, lam, max_age
        self.keep = max(1, int(round(window / K)))
        self.obs = [[] for _ in range(K)]  # (time, x, r), oldest first
        self.t = 0

    def _evict(self):
        for q in self.obs:
            del q[:max(0, len(q) - self.keep)]
            while self.max_age and q and self.t - q[0][0] >= self.max_age:
                q.pop(0)

    def scores(self, x):
        self._evict()
        out = np.empty(self.K)
        for a, q in enumerate(self.obs):
            A = self.lam * np.eye(self.d) + sum((np.outer(o[1], o[1]) for o in q), np.zeros((self.d, self.d)))
            b = sum((o[2] * o[1] for o in q), np.zeros(self.d))
            out[a] = np.linalg.solve(A, b) @ x + self.alpha * np.sqrt(x @ np.linalg.solve(A, x))
        return out

    def update(self, a, x, r):
        self.obs[a].append((self.t, x, r))
        self._evict()


def _ctx(rng, n, d):
    X = rng.normal(size=(n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("idle_gamma", [1.0, 0.99])
def test_dlinucb_update_clock_matches_numpy_recursion(idle_gamma):
    rng = np.random.default_rng(11)
    K, d, g, alpha = 4, 5, 0.97, 0.8
    th = rng.normal(size=(K, d))
    pol = DiscountedLinUCB(K, d, gamma=g, alpha=alpha, clock="update", idle_gamma=idle_gamma)
    assert pol.config["arm_gamma"] == pytest.approx(g ** K)
    ref = NumpyDLinUCBUpdateClock(K, d, g, alpha, idle_gamma=idle_gamma)
    for t, x in enumerate(_ctx(rng, 400, d)):
        np.testing.assert_allclose(pol.scores(x), ref.scores(x), rtol=1e-8, atol=1e-9)
        dec = pol.select(x)
        assert dec.arm == ref.select(x), t
        r = th[dec.arm] @ x
        pol.update(dec, r)
        ref.update(dec.arm, x, r)
    for a in range(K):
        V, _, b = ref._decayed(a, idle_gamma ** (ref.t - ref.t_last[a]))
        np.testing.assert_allclose(pol.a_inv(a), np.linalg.inv(V), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(pol.theta(a), np.linalg.solve(V, b), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("max_age", [0, 120])
def test_sliding_window_update_clock_matches_recomputation(max_age):
    rng = np.random.default_rng(12)
    K, d, W, alpha = 3, 4, 60, 0.6
    th = rng.normal(size=(K, d))
    pol = SlidingWindowLinUCB(K, d, window=W, alpha=alpha, clock="update", max_age=max_age or None)
    assert pol.config["arm_window"] == 20
    ref = NumpySWUpdateClock(K, d, W, alpha, max_age=max_age)
    for t, x in enumerate(_ctx(rng, 400, d)):
        np.testing.assert_allclose(pol.scores(x), ref.scores(x), rtol=1e-8, atol=1e-9)
        dec = pol.select(x)
        assert dec.arm == ref.select(x), t
        # Arm 2 is only ever rewarded badly after round 100: it goes unplayed, so
        # only max_age can empty its window.
        r = th[dec.arm] @ x - (3.0 if dec.arm == 2 and t > 100 else 0.0)
        pol.update(dec, r)
        ref.update(dec.arm, x, r)


def _same_regret(pol, ref, env, n):
    """Runs the C++ policy through simulate() and the numpy reference on the same
    contexts and noise; returns both arm sequences and regrets."""
    res = simulate({"p": pol}, env, n, seed=3)
    rng = np.random.default_rng(3)  # simulate()'s draws, in its order
    X = env.contexts(n, rng)
    E = env.expected(X, 0)
    R = env.draw(E, np.zeros(n, np.int64), rng)
    chosen = np.empty(n, np.int64)
    for t in range(n):
        a = ref.select(X[t])
        ref.update(a, X[t], R[t, a])
        chosen[t] = a
    return res.final()["p"], float(np.sum(E.max(1) - E[np.arange(n), chosen]))


@pytest.mark.parametrize("make", [
    lambda: (DiscountedLinUCB(8, 16, gamma=0.99, alpha=0.5, clock="update", idle_gamma=0.999),
             NumpyDLinUCBUpdateClock(8, 16, 0.99, 0.5, idle_gamma=0.999)),
    lambda: (SlidingWindowLinUCB(8, 16, window=200, alpha=0.5, clock="update", max_age=600),
             NumpySWUpdateClock(8, 16, 200, 0.5, max_age=600)),
], ids=["dlinucb", "sw_linucb"])
def test_update_clock_same_regret_as_numpy_on_an_abrupt_change(make):
    env = DriftingEnvironment(8, 16, kind="abrupt", change_points=[700], seed=4, noise=0.1)
    pol, ref = make()
    ours, theirs = _same_regret(pol, ref, env, 1400)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)


def test_unplayed_arm_keeps_its_estimate_only_on_the_update_clock():
    x = np.array([1.0, 0.0])
    widths = {}
    for name, pol in (("round", DiscountedLinUCB(2, 2, gamma=0.99)),
                      ("update", DiscountedLinUCB(2, 2, gamma=0.99, clock="update")),
                      ("two_rate", DiscountedLinUCB(2, 2, gamma=0.99, clock="update", idle_gamma=0.999))):
        for _ in range(20):
            pol.update((1, x), 1.0)
        before = pol.a_inv(1)[0, 0]
        for _ in range(300):  # rounds in which arm 1 is not updated
            pol.select(x, track=False)
        widths[name] = pol.a_inv(1)[0, 0] / before
    # V[0, 0] of arm 1 after its 20 updates, then 300 rounds of per-round decay g:
    # V <- g V + (1 - g) lam; the width x'V^-1 x grows by V / (g V + 1 - g).
    def growth(per_update, per_round):
        v = 1.0
        for _ in range(20):
            v = per_update * v + (1 - per_update) + 1.0
        g = per_round ** 300
        return v / (g * v + 1 - g)

    assert widths["update"] == 1.0
    assert widths["round"] == pytest.approx(growth(1.0, 0.99), rel=1e-9)  # no round passed between updates
    assert widths["two_rate"] == pytest.approx(growth(0.99 ** 2, 0.999), rel=1e-9)
    assert widths["round"] > 5 * widths["two_rate"] > 5  # the idle rate regains uncertainty, slowly


def test_update_clock_bad_arguments():
    with pytest.raises(ValueError, match="clock"):
        DiscountedLinUCB(3, 2, clock="hour")
    with pytest.raises(ValueError, match="idle_gamma"):
        DiscountedLinUCB(3, 2, idle_gamma=0.99)  # round clock already decays every round
    with pytest.raises(ValueError, match="idle_gamma"):
        DiscountedLinUCB(3, 2, clock="update", idle_gamma=0.0)
    with pytest.raises(ValueError, match="idle_gamma"):
        DiscountedLinUCB(3, 2, clock="update", idle_gamma=1.5)
    with pytest.raises(ValueError, match="max_age"):
        SlidingWindowLinUCB(3, 2, max_age=100)
    with pytest.raises(ValueError, match="max_age"):
        SlidingWindowLinUCB(3, 2, clock="update", max_age=-1)
    with pytest.raises(ValueError, match="clock"):
        _core.BanditCore("linucb", 3, 2, clock="update")


@pytest.mark.parametrize("make", [
    lambda: DiscountedLinUCB(4, 3, gamma=0.95, clock="update", idle_gamma=0.995, seed=2, ttl=40, default_reward=0.0),
    lambda: SlidingWindowLinUCB(4, 3, window=24, clock="update", max_age=50, seed=2, ttl=40, default_reward=0.0),
], ids=["dlinucb", "sw_linucb"])
def test_update_clock_save_load_continues_identically(make, tmp_path):
    rng = np.random.default_rng(6)
    p = make()
    X = rng.normal(size=(200, 3))
    for i, x in enumerate(X[:120]):
        d = p.select(x)
        if i % 3:
            p.update(d, float(x[0]))
    path = tmp_path / "p.si"
    p.save(path)
    assert _core.read_header(path)["version"] == _core.BanditCore.format_version == 2
    q, r = load_policy(path), policy_from_state_dict(p.state_dict())
    assert q.config == p.config and q.stats() == p.stats()
    for x in X[120:]:
        a, b, c = p.select(x), q.select(x), r.select(x)
        assert a == b == c
        for pol in (p, q, r):
            pol.update(a, float(x[1]))
    assert p.state_dict()["state"] == q.state_dict()["state"] == r.state_dict()["state"]
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError):
        load_policy(path)


U = 2.0 ** -53  # unit roundoff of float64


def score_tolerance(pol, x):
    """How far two correct float64 evaluations of pol.scores(x) may differ.

    A score is theta.x + alpha * sqrt(q), q = x'A^-1 x. A dot product of d terms,
    summed in any order, with or without FMA, is within gamma_d * sum|a_i b_i|
    of the exact value (gamma_d = d u / (1 - d u), Higham, Accuracy and Stability,
    eq. 3.5); q is a nested sum (symv then dot), within gamma_2d |x|'|A^-1||x|.
    sqrt halves a relative error: delta sqrt(q) = delta q / (2 sqrt q). Two
    machines (SIMD levels, summation orders) each within the bound differ by at
    most twice it; the final add, multiply and sqrt add a few u * |score|.
    DLinUCB evaluates x'V^-1 x in V's eigenbasis (a product of d x d factors
    instead of one), which at most doubles the chain length: the factor 2 on d.
    """
    d = pol.dim
    gamma = lambda n: n * U / (1 - n * U)  # noqa: E731
    alpha = pol.config["alpha"]
    tol = np.empty(pol.n_arms)
    for a in range(pol.n_arms):
        ai = pol.a_inv(a)
        q = float(x @ ai @ x)
        mean_err = gamma(2 * d) * float(np.abs(pol.theta(a)) @ np.abs(x))
        width_err = alpha * gamma(4 * d) * float(np.abs(x) @ np.abs(ai) @ np.abs(x)) / (2 * np.sqrt(q))
        score = float(pol.theta(a) @ x) + alpha * np.sqrt(q)
        tol[a] = 2 * (mean_err + width_err) + 4 * U * abs(score)
    return tol


@pytest.mark.parametrize("name", ["linucb", "dlinucb", "sw_linucb"])
def test_version_1_files_still_load(name):
    """Files written by the version-1 build (data/make_v1_fixtures.py, main at
    85d3d9a) load as round-clock policies and continue as that build did: the
    same decisions, and scores equal to score_tolerance() (the fixture machine
    had AVX-512; another machine's kernels sum in another order, with or
    without FMA, and may differ in the last bits)."""
    expect = json.loads((DATA / "v1_expected.json").read_text())
    X = np.array(expect["contexts"])
    path = DATA / f"{name}_v1.si"
    assert _core.read_header(path)["version"] == 1
    header, payload = _core.read_file(path, "si.bandit", 1)
    from_file = load_policy(path)
    from_dict = policy_from_state_dict({"format": "superinstance.frozen_model_rl.policy", "version": 1,
                                        "state": payload})
    for pol in (from_file, from_dict):
        assert pol.algo == name and pol.config.get("clock", "round") == "round"
        for x, want in zip(X[60:64], expect[name]["scores"]):
            got, tol = pol.scores(x), score_tolerance(pol, x)
            assert np.all(tol < 1e-13)  # a few ulps of these O(1) scores, not a loose check
            np.testing.assert_array_less(np.abs(got - np.array(want)), tol)
        arms = []
        for x in X[60:]:
            # Decisions are compared exactly: the best arm leads the next one by
            # far more than the scores' tolerance, so no machine can flip them.
            top2 = np.sort(pol.scores(x))[-2:]
            assert top2[1] - top2[0] > 1000 * score_tolerance(pol, x).max()
            d = pol.select(x)
            arms.append(d.arm)
            pol.update(d, float(x[0] - x[1]))
        assert arms == expect[name]["next_arms"]
        assert pol.stats() == expect[name]["stats"]
    # The version decides how the payload is read: as version 2 it is rejected.
    with pytest.raises(CorruptFileError):
        policy_from_state_dict({"format": "superinstance.frozen_model_rl.policy", "version": 2, "state": payload})
