"""Benchmarks of superinstance.frozen_model_rl: per-decision latency of every
policy, select+update, select_batch, the peers (plain numpy LinUCB, mabwiser,
Vowpal Wabbit) on the same inputs, offline estimators, and regret.

Run against the installed build: ``cd asv_bench && asv run --python=same --quick``.
The side-by-side table in docs/benchmarks.md comes from
``python -m superinstance.bench.frozen_model_rl``.
"""

import numpy as np

from superinstance.frozen_model_rl import (DiscountedLinUCB, EpsilonGreedy, LinearEnvironment, LinearThompsonSampling,
                                           LinUCB, LoggedData, SlidingWindowLinUCB, doubly_robust, ips, simulate)
from superinstance.bench.frozen_model_rl import (ABRUPT_POLICIES, MabwiserLinUCB, NumpyLinUCB, VWLinUCB,
                                                 abrupt_change, peer_available)

_CLASSES = {"linucb": LinUCB, "lints": LinearThompsonSampling, "epsilon_greedy": EpsilonGreedy,
            "sw_linucb": SlidingWindowLinUCB, "dlinucb": DiscountedLinUCB}


def _warm(policy, K, d, n=500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    policy.update_arms(np.arange(n) % K, X, rng.normal(size=n))
    return policy


class PolicyDecision:
    params = [list(_CLASSES), [8, 64], [8, 32]]
    param_names = ["algo", "n_arms", "dim"]

    def setup(self, algo, K, d):
        self.p = _warm(_CLASSES[algo](K, d), K, d)
        rng = np.random.default_rng(1)
        self.X = rng.normal(size=(1000, d))
        self.x = self.X[0]
        self.i = 0

    def time_select(self, algo, K, d):
        self.p.select(self.x, track=False)

    def time_select_update(self, algo, K, d):
        dec = self.p.select(self.x)
        self.p.update(dec, 0.5)

    def time_select_batch_1000(self, algo, K, d):
        self.p.select_batch(self.X, track=False)


class Peers:
    """select + update of one decision, same inputs, for each implementation."""

    params = [["superinstance", "numpy", "mabwiser", "vw"], [(8, 16), (32, 64)]]
    param_names = ["impl", "arms_dim"]

    def setup(self, impl, kd):
        K, d = kd
        if impl in ("mabwiser", "vw") and peer_available(impl) is not None:
            raise NotImplementedError(f"{impl} is not installed")
        self.x = np.random.default_rng(2).normal(size=d)
        if impl == "superinstance":
            p = _warm(LinUCB(K, d), K, d)
            self.step = lambda: p.update(p.select(self.x), 0.5)
        elif impl == "numpy":
            q = NumpyLinUCB(K, d)
            self.step = lambda: q.update(q.select(self.x), self.x, 0.5)
        elif impl == "mabwiser":
            m = MabwiserLinUCB(K, d, 0, 1.0)
            self.step = lambda: m.update(m.select(self.x), self.x, 0.5)
        else:
            v = VWLinUCB(K, d, 0)
            self.step = lambda: v.update(v.select(self.x), 0.5)

    def time_select_update(self, impl, kd):
        self.step()


class OfflineEstimators:
    params = [10_000, 100_000]
    param_names = ["n"]

    def setup(self, n):
        rng = np.random.default_rng(3)
        K, d = 8, 16
        X = rng.normal(size=(n, d))
        a = rng.integers(0, K, n)
        self.data = LoggedData(X, a, np.full(n, 1.0 / K), rng.normal(size=n), K)
        self.target = rng.integers(0, K, n)

    def time_ips_with_ci(self, n):
        ips(self.target, self.data, n_bootstrap=100)

    def time_doubly_robust_with_ci(self, n):
        doubly_robust(self.target, self.data, n_bootstrap=100)


class Regret:
    """Cumulative regret (track_) on the d=16 / K=8 linear environment."""

    params = [["linucb", "lints", "epsilon_greedy"]]
    param_names = ["algo"]
    timeout = 120

    def track_regret_5000_rounds(self, algo):
        env = LinearEnvironment(8, 16, noise=0.1, seed=0)
        kw = {"linucb": dict(alpha=0.5), "lints": dict(v=0.2), "epsilon_greedy": dict(epsilon=0.05)}[algo]
        res = simulate({algo: _CLASSES[algo](8, 16, **kw)}, env, 5000, seed=0)
        return float(res.cumulative_regret[0, -1])

    track_regret_5000_rounds.unit = "regret"


class AbruptChange:
    """Regret after an abrupt change relative to plain LinUCB (track_): the
    scenario of ``python -m superinstance.bench.frozen_model_rl --scenarios``
    (d=16, K=8, change at round 5000 of 15000, alpha 0.5 for every policy,
    gamma, window and staleness bounds from the change period), median and worst
    over seeds 0-4, for every policy of ``bench.ABRUPT_POLICIES`` (round and
    update clocks)."""

    params = [list(ABRUPT_POLICIES)]
    param_names = ["policy"]
    timeout = 600

    def setup_cache(self):
        return abrupt_change(seeds=tuple(range(5)))["summary"]

    def track_median_ratio_to_linucb(self, summary, policy):
        return summary[policy]["median"]

    def track_worst_ratio_to_linucb(self, summary, policy):
        return summary[policy]["worst"]

    track_median_ratio_to_linucb.unit = "ratio"
    track_worst_ratio_to_linucb.unit = "ratio"
