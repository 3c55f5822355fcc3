"""Side-by-side bandit benchmark: superinstance vs a plain numpy LinUCB,
mabwiser LinUCB and Vowpal Wabbit (--cb_explore_adf), in one process, on the
same synthetic linear environment.

    python -m superinstance.bench.frozen_model_rl [--quick] [--json out.json]
    python -m superinstance.bench.frozen_model_rl --scenarios [--quick]   (abrupt change, delays)

Peers that are not installed are reported as unavailable (pip install mabwiser
vowpalwabbit). Per-call latencies are medians of per-round perf_counter_ns
timings from Python.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import deque
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..frozen_model_rl.policies import DiscountedLinUCB, LinUCB, SlidingWindowLinUCB
from ..frozen_model_rl.simulation import DriftingEnvironment, LinearEnvironment, simulate
from .table import best_peer_ratio, row, write_json

__all__ = ["ABRUPT_POLICIES", "ChangeDetectingLinUCB", "NumpyLinUCB", "RestartedLinUCB", "abrupt_change", "delayed_rewards", "drift_parameters", "run",
           "scenarios", "main"]


class NumpyLinUCB:
    """Plain numpy disjoint LinUCB (Sherman-Morrison), the in-benchmark reference."""

    def __init__(self, n_arms: int, dim: int, alpha: float = 1.0, lam: float = 1.0) -> None:
        self.alpha = alpha
        self.Ainv = np.stack([np.eye(dim) / lam] * n_arms)
        self.b = np.zeros((n_arms, dim))
        self.theta = np.zeros((n_arms, dim))

    def select(self, x: np.ndarray) -> int:
        Ax = self.Ainv @ x                      # (K, d)
        ucb = self.theta @ x + self.alpha * np.sqrt(np.maximum(Ax @ x, 0.0))
        return int(np.argmax(ucb))

    def update(self, arm: int, x: np.ndarray, r: float) -> None:
        Ai = self.Ainv[arm]
        u = Ai @ x
        Ai -= np.outer(u, u) / (1.0 + x @ u)
        self.b[arm] += r * x
        self.theta[arm] = Ai @ self.b[arm]


class VWLinUCB:
    """Vowpal Wabbit's contextual bandit (--cb_explore_adf) as a peer: select / update."""

    def __init__(self, n_arms: int, dim: int, seed: int) -> None:
        import vowpalwabbit

        self.vw = vowpalwabbit.Workspace(f"--cb_explore_adf -q sa --quiet --random_seed {seed}")
        self.K = n_arms
        self.actions = [f"|a arm{a}" for a in range(n_arms)]
        self.rng = np.random.default_rng(seed)

    def _shared(self, x: np.ndarray) -> str:
        return "shared |s " + " ".join(f"f{i}:{v:.6g}" for i, v in enumerate(x))

    def select(self, x: np.ndarray) -> Tuple[int, float, str]:
        shared = self._shared(x)
        pmf = np.asarray(self.vw.predict([shared] + self.actions), dtype=np.float64)
        pmf /= pmf.sum()
        a = int(self.rng.choice(self.K, p=pmf))
        return a, float(pmf[a]), shared

    def update(self, sel: Tuple[int, float, str], r: float) -> None:
        a, p, shared = sel
        ex = [shared] + [(f"0:{-r:.6g}:{p:.6g} " if i == a else "") + s for i, s in enumerate(self.actions)]
        self.vw.learn(ex)

    def close(self) -> None:
        try:
            self.vw.finish()
        except Exception:  # pragma: no cover
            pass


class MabwiserLinUCB:
    """mabwiser's LinUCB as a peer: select / update."""

    def __init__(self, n_arms: int, dim: int, seed: int, alpha: float) -> None:
        from mabwiser.mab import MAB, LearningPolicy

        self.m = MAB(arms=list(range(n_arms)), learning_policy=LearningPolicy.LinUCB(alpha=alpha, l2_lambda=1.0),
                     seed=seed)
        # mabwiser needs an initial fit; one observation per arm with reward 0 and zero context.
        self.m.fit(list(range(n_arms)), [0.0] * n_arms, np.zeros((n_arms, dim)))

    def select(self, x: np.ndarray) -> int:
        return int(self.m.predict(x.reshape(1, -1)))

    def update(self, arm: int, x: np.ndarray, r: float) -> None:
        self.m.partial_fit([arm], [r], x.reshape(1, -1))


def peer_available(name: str) -> Optional[str]:
    """None when the peer ("mabwiser" or "vw") imports, else why not."""
    try:
        if name == "vw":
            import vowpalwabbit  # noqa: F401
        else:
            import mabwiser  # noqa: F401
        return None
    except Exception as e:  # ImportError or a broken install
        return f"{type(e).__name__}: {e}"


def _median_us(ns: List[int]) -> float:
    return float(np.median(ns)) / 1e3


def _loop(select, update, X: np.ndarray, R: np.ndarray, E: np.ndarray) -> Dict[str, Any]:
    """Runs select/update over the rounds; returns per-round timings and regret."""
    n = X.shape[0]
    t_sel, t_all = [], []
    chosen = np.empty(n, np.int64)
    pc = time.perf_counter_ns
    for t in range(n):
        x = X[t]
        t0 = pc()
        s = select(x)
        t1 = pc()
        a = s.arm if hasattr(s, "arm") else s if isinstance(s, int) else s[0]
        update(s, x, R[t, a])
        t2 = pc()
        t_sel.append(t1 - t0)
        t_all.append(t2 - t0)
        chosen[t] = a
    regret = float(np.sum(E.max(1) - E[np.arange(n), chosen]))
    return {"select_us": _median_us(t_sel), "select_update_us": _median_us(t_all), "regret": regret,
            "rounds": n, "arms": chosen}


def _bench_config(K: int, d: int, rounds: int, peer_rounds: Dict[str, int], alpha: float, seed: int,
                  regret_rounds: int) -> Dict[str, Any]:
    env = LinearEnvironment(K, d, noise=0.1, seed=seed)
    rng = np.random.default_rng(seed)
    n = max(rounds, regret_rounds, *peer_rounds.values())
    X = env.contexts(n, rng)
    E = env.expected(X)
    R = E + env.noise * rng.normal(size=E.shape)
    out: Dict[str, Any] = {"n_arms": K, "dim": d}

    def ours(nr: int) -> Dict[str, Any]:
        p = LinUCB(K, d, alpha=alpha)
        return _loop(lambda x: p.select(x), lambda s, x, r: p.update(s, r), X[:nr], R[:nr], E[:nr])

    out["superinstance"] = ours(rounds)
    # select only (no pending bookkeeping) and batch throughput
    p = LinUCB(K, d, alpha=alpha)
    ts = []
    for x in X[: min(rounds, 20000)]:
        t0 = time.perf_counter_ns()
        p.select(x, track=False)
        ts.append(time.perf_counter_ns() - t0)
    out["superinstance"]["select_untracked_us"] = _median_us(ts)
    Xb = np.ascontiguousarray(X[:1000])
    bt = []
    for _ in range(7):
        t0 = time.perf_counter()
        p.select_batch(Xb, track=False)
        bt.append(time.perf_counter() - t0)
    out["superinstance"]["select_batch_per_s"] = 1000.0 / float(np.median(bt))

    nref = peer_rounds["numpy"]
    ref = NumpyLinUCB(K, d, alpha=alpha)
    out["numpy"] = _loop(ref.select, lambda a, x, r: ref.update(a, x, r), X[:nref], R[:nref], E[:nref])
    same = out["superinstance"]["arms"][:nref]
    out["numpy"]["agreement"] = float(np.mean(same == out["numpy"]["arms"]))

    why = peer_available("mabwiser")
    if why is None:
        nm = peer_rounds["mabwiser"]
        mw = MabwiserLinUCB(K, d, seed, alpha)
        out["mabwiser"] = _loop(mw.select, lambda a, x, r: mw.update(a, x, r), X[:nm], R[:nm], E[:nm])
    else:
        out["mabwiser"] = {"unavailable": why}
    why = peer_available("vw")
    if why is None:
        nv = peer_rounds["vw"]
        vw = VWLinUCB(K, d, seed)
        out["vw"] = _loop(vw.select, lambda s, x, r: vw.update(s, r), X[:nv], R[:nv], E[:nv])
        vw.close()
    else:
        out["vw"] = {"unavailable": why}
    # Regret on a common horizon (the shortest peer horizon), from the same runs.
    return out


def _regret_comparison(K: int, d: int, n: int, alpha: float, seed: int) -> Dict[str, float]:
    env = LinearEnvironment(K, d, noise=0.1, seed=seed)
    rng = np.random.default_rng(seed)
    X = env.contexts(n, rng)
    E = env.expected(X)
    R = E + env.noise * rng.normal(size=E.shape)
    res: Dict[str, float] = {}
    p = LinUCB(K, d, alpha=alpha)
    res["superinstance"] = _loop(lambda x: p.select(x), lambda s, x, r: p.update(s, r), X, R, E)["regret"]
    ref = NumpyLinUCB(K, d, alpha=alpha)
    res["numpy"] = _loop(ref.select, lambda a, x, r: ref.update(a, x, r), X, R, E)["regret"]
    if peer_available("vw") is None:
        vw = VWLinUCB(K, d, seed)
        res["vw"] = _loop(vw.select, lambda s, x, r: vw.update(s, r), X, R, E)["regret"]
        vw.close()
    res["uniform_random"] = float(np.sum(E.max(1) - E.mean(1)))
    return res


def run(quick: bool = False, seed: int = 0, alpha: float = 0.5) -> Dict[str, Any]:
    configs = [(8, 8), (8, 16), (64, 32), (32, 64)] if not quick else [(8, 16), (32, 64)]
    rounds = 20000 if quick else 100000
    peer = {"numpy": 5000 if quick else 20000, "mabwiser": 200 if quick else 500, "vw": 2000 if quick else 5000}
    results = {"machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                           "processor": platform.processor(), "cpus": __import__("os").cpu_count()},
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "configs": []}
    for K, d in configs:
        r = _bench_config(K, d, rounds, peer, alpha, seed, 0)
        for v in r.values():
            if isinstance(v, dict):
                v.pop("arms", None)
        results["configs"].append(r)
    results["regret_d16_k8"] = _regret_comparison(8, 16, 5000 if quick else 20000, alpha, seed)
    return results


def drift_parameters(change_period: int) -> Dict[str, float]:
    """Discount and window of the non-stationary policies from the expected
    number of rounds between changes (the rule in docs/frozen_model_rl.md).

    Memory tau = change_period / 10 rounds: D-LinUCB's gamma = 1 - 1/tau (the
    weights gamma^k have mean age about tau), the sliding window 2 tau (a
    window of w rounds has mean age w/2, so both forget at the same pace).
    With clock="update" the same gamma and window are given (the policies
    derive their per-arm values from them and the number of arms).

    Staleness of arms that are no longer played (clock="update" only): idle
    memory = the change period itself, so an unplayed arm's estimate is
    trusted for about one change period: ``idle_gamma = 1 - 1/change_period``
    (two-rate D-LinUCB) and ``max_age = 2 change_period`` rounds (sliding
    window; same mean-age rule as above).
    """
    if change_period < 20:
        raise ValueError("change_period must be >= 20 rounds")
    memory = change_period / 10.0
    return {"memory": memory, "gamma": 1.0 - 1.0 / memory, "window": int(round(2 * memory)),
            "idle_memory": float(change_period), "idle_gamma": 1.0 - 1.0 / change_period,
            "max_age": int(2 * change_period)}


class RestartedLinUCB:
    """LinUCB that starts afresh at a known round: the yardstick that knows
    when the change happens (no forgetting policy can expect to beat it)."""

    def __init__(self, n_arms: int, dim: int, restart_at: int, alpha: float) -> None:
        self.n_arms, self.dim, self.restart_at, self.alpha = n_arms, dim, restart_at, alpha
        self._policy, self._round = LinUCB(n_arms, dim, alpha=alpha), 0

    def select(self, x: np.ndarray):
        if self._round == self.restart_at:
            self._policy = LinUCB(self.n_arms, self.dim, alpha=self.alpha)
        self._round += 1
        return self._policy.select(x)

    def update(self, decision, reward: float) -> None:
        self._policy.update(decision, reward)


class ChangeDetectingLinUCB:
    """Prototype (Python over the C++ LinUCB, not a library policy yet): LinUCB
    that starts afresh when a change is detected in its own prediction errors.

    For each arm, the last ``window`` residuals ``r - theta_a.x`` (theta_a as
    at the decision) are summed; under no change they have mean about 0, so
    the alarm is ``|sum| > c sigma sqrt(window)`` with sigma the RMS residual
    since the last restart and ``c = sqrt(2 ln(2 K horizon / delta))``, a
    union bound over arms and rounds at level delta. The test starts once the
    policy has had ``4 K d`` rewards since its last restart (the residuals of a
    barely fitted ridge model are biased). Constants: window = 2 d, delta = 0.05;
    none is fitted to the benchmark's seeds.
    """

    def __init__(self, n_arms: int, dim: int, alpha: float, horizon: int, delta: float = 0.05,
                 window: Optional[int] = None) -> None:
        self.n_arms, self.dim, self.alpha = n_arms, dim, alpha
        self.window = window or 2 * dim
        self.threshold = float(np.sqrt(2.0 * np.log(2.0 * n_arms * horizon / delta)))
        self.restarts: List[int] = []
        self._round = 0
        self._start()

    def _start(self) -> None:
        self._policy = LinUCB(self.n_arms, self.dim, alpha=self.alpha)
        self._residuals = [deque(maxlen=self.window) for _ in range(self.n_arms)]
        self._n, self._sum_sq = 0, 0.0
        self._predicted: Dict[int, float] = {}

    @property
    def stats(self) -> Dict[str, Any]:
        return {"restarts": list(self.restarts)}

    def select(self, x: np.ndarray):
        d = self._policy.select(x)
        self._predicted[d.id] = float(self._policy.theta(d.arm) @ x)
        self._round += 1
        return d

    def update(self, decision, reward: float) -> None:
        if decision.id not in self._predicted:  # decided before the last restart
            return
        e = reward - self._predicted.pop(decision.id)
        self._policy.update(decision, reward)
        q = self._residuals[decision.arm]
        q.append(e)
        self._n += 1
        self._sum_sq += e * e
        if len(q) == self.window and self._n > 4 * self.n_arms * self.dim:
            sigma = np.sqrt(self._sum_sq / self._n)
            if abs(sum(q)) > self.threshold * sigma * np.sqrt(self.window):
                self.restarts.append(self._round)
                self._start()


ABRUPT_POLICIES = ("dlinucb", "sw_linucb", "dlinucb_update", "sw_linucb_update", "dlinucb_two_rate",
                   "sw_linucb_update_max_age", "linucb_change_detection", "linucb_restarted_at_change")


def _abrupt_policies(n_arms: int, dim: int, alpha: float, change_at: int, params: Dict[str, float],
                     names=ABRUPT_POLICIES, horizon: int = 15000) -> Dict[str, Any]:
    g, w = params["gamma"], params["window"]
    make = {
        "linucb": lambda: LinUCB(n_arms, dim, alpha=alpha),
        "dlinucb": lambda: DiscountedLinUCB(n_arms, dim, gamma=g, alpha=alpha),
        "sw_linucb": lambda: SlidingWindowLinUCB(n_arms, dim, window=w, alpha=alpha),
        "dlinucb_update": lambda: DiscountedLinUCB(n_arms, dim, gamma=g, alpha=alpha, clock="update"),
        "sw_linucb_update": lambda: SlidingWindowLinUCB(n_arms, dim, window=w, alpha=alpha, clock="update"),
        "dlinucb_two_rate": lambda: DiscountedLinUCB(n_arms, dim, gamma=g, alpha=alpha, clock="update",
                                                     idle_gamma=params["idle_gamma"]),
        "sw_linucb_update_max_age": lambda: SlidingWindowLinUCB(n_arms, dim, window=w, alpha=alpha, clock="update",
                                                                max_age=params["max_age"]),
        "linucb_change_detection": lambda: ChangeDetectingLinUCB(n_arms, dim, alpha, horizon),
        "linucb_restarted_at_change": lambda: RestartedLinUCB(n_arms, dim, change_at, alpha),
    }
    return {name: make[name]() for name in ("linucb",) + tuple(names)}


def abrupt_change(seeds=tuple(range(8)), *, change_at: int = 5000, horizon: int = 15000, n_arms: int = 8,
                  dim: int = 16, alpha: float = 0.5, noise: float = 0.1,
                  policies=ABRUPT_POLICIES) -> Dict[str, Any]:
    """Regret after one abrupt change (every arm's parameters redrawn at
    ``change_at``), per seed and as median / worst ratio to plain LinUCB.

    All policies use the same alpha (LinUCB's 0.5) and lam 1; gamma, the
    window and the staleness bounds come from ``drift_parameters(change_at)``.
    Regret is counted in rounds [change_at, horizon) (``regret_before``: the
    stationary stretch [0, change_at)).
    """
    params = drift_parameters(change_at)
    runs = []
    for seed in seeds:
        env = DriftingEnvironment(n_arms, dim, kind="abrupt", change_points=[change_at], seed=seed, noise=noise)
        pols = _abrupt_policies(n_arms, dim, alpha, change_at, params, policies, horizon)
        res = simulate(pols, env, horizon, seed=seed)
        after = res.regret_between(change_at, horizon)
        runs.append({"seed": int(seed), "optimum_changed": env.optimum_change(change_at, seed=seed),
                     "regret_before": res.regret_between(0, change_at), "regret_after": after,
                     "ratio": {n: after[n] / after["linucb"] for n in pols if n != "linucb"}})
    summary = {}
    for name in runs[0]["ratio"]:
        r = np.array([run["ratio"][name] for run in runs])
        before = np.array([run["regret_before"][name] for run in runs])
        summary[name] = {"median": float(np.median(r)), "worst": float(r.max()),
                         "regret_before_median": float(np.median(before))}
    before = np.array([run["regret_before"]["linucb"] for run in runs])
    summary["linucb"] = {"regret_before_median": float(np.median(before))}
    return {"change_at": change_at, "horizon": horizon, "n_arms": n_arms, "dim": dim, "alpha": alpha,
            "noise": noise, "parameters": params, "runs": runs, "summary": summary}


def delayed_rewards(seeds=(0, 1, 2)) -> Dict[str, Any]:
    """LinUCB regret in rounds 4000-12000 with rewards delayed by 1000 rounds
    versus undelayed, d=16, K=8."""
    out: Dict[str, Any] = {}
    for seed in seeds:
        env = LinearEnvironment(8, 16, seed=seed)
        res = {}
        for name, delay, pid in (("undelayed", 0, True), ("delay1000", 1000, True),
                                 ("delay1000_no_pending_in_design", 1000, False)):
            r = simulate({"p": LinUCB(8, 16, alpha=0.5, pending_in_design=pid)}, env, 12000, delay=delay, seed=seed)
            res[name] = r.regret_between(4000, 12000)["p"]
        out[f"delay_seed{seed}"] = res
    return out


def scenarios(quick: bool = False) -> Dict[str, Any]:
    """The non-stationary and delayed-reward scenarios (the tables in docs/benchmarks.md)."""
    seeds = tuple(range(5 if quick else 8))
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "abrupt_change": abrupt_change(seeds), "delayed": delayed_rewards((0, 1, 2))}


def _ope_inputs(n: int, K: int, L: int, seed: int) -> Dict[str, Any]:
    rng = np.random.default_rng(seed)
    target = rng.dirichlet(np.ones(K), size=(n, L)).transpose(0, 2, 1).copy()  # (n, K, L)
    return {"contexts": rng.normal(size=(n, 4)), "arms": rng.integers(0, K, n), "positions": rng.integers(0, L, n),
            "propensities": rng.uniform(0.5 / K, 2.0 / K, n), "rewards": rng.binomial(1, 0.3, n).astype(float),
            "target": target, "predictions": rng.uniform(0, 1, (n, K, L))}


def ope(n: int = 10000, n_arms: int = 80, n_positions: int = 3, repeats: int = 15, seed: int = 0) -> Dict[str, Any]:
    """``python -m superinstance.bench.frozen_model_rl --ope [--quick]``.

    Point estimates (n_bootstrap=0) of every estimator on (n, K, L) inputs, ours and
    obp's when installed, timed alternately in one process (median of ``repeats``),
    with the relative difference of the values."""
    from ..frozen_model_rl import offline as off

    v = _ope_inputs(n, n_arms, n_positions, seed)
    data = off.LoggedData(v["contexts"], v["arms"], v["propensities"], v["rewards"], n_arms,
                          positions=v["positions"], n_positions=n_positions)
    T, Q = v["target"], v["predictions"]
    ours = {"ips": lambda: off.ips(T, data), "snips": lambda: off.snips(T, data),
            "dm": lambda: off.direct_method(T, data, estimated_rewards=Q),
            "dr": lambda: off.doubly_robust(T, data, estimated_rewards=Q),
            "sndr": lambda: off.sndr(T, data, estimated_rewards=Q),
            "switch_dr": lambda: off.switch_dr(T, data, estimated_rewards=Q, tau=5.0),
            "dr_shrinkage": lambda: off.dr_shrinkage(T, data, estimated_rewards=Q, lam=5.0)}
    theirs: Dict[str, Any] = {}
    try:
        import obp
        import obp.ope as o

        common = dict(reward=v["rewards"], action=v["arms"], pscore=v["propensities"], action_dist=T,
                      position=v["positions"])
        with_q = dict(common, estimated_rewards_by_reg_model=Q)
        theirs = {"ips": lambda: o.InverseProbabilityWeighting().estimate_policy_value(**common),
                  "snips": lambda: o.SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**common),
                  "dm": lambda: o.DirectMethod().estimate_policy_value(
                      action_dist=T, estimated_rewards_by_reg_model=Q, position=v["positions"]),
                  "dr": lambda: o.DoublyRobust().estimate_policy_value(**with_q),
                  "sndr": lambda: o.SelfNormalizedDoublyRobust().estimate_policy_value(**with_q),
                  "switch_dr": lambda: o.SwitchDoublyRobust(tau=5.0).estimate_policy_value(**with_q),
                  "dr_shrinkage": lambda: o.DoublyRobustWithShrinkage(lambda_=5.0).estimate_policy_value(**with_q)}
        peer = f"obp {obp.__version__}"
    except Exception as e:  # ImportError or a broken install
        peer = f"unavailable ({type(e).__name__}: {e})"
    rows = {}
    for name, f in ours.items():
        t_ours, t_obp = [], []
        for _ in range(repeats):  # alternate so that load changes hit both alike
            t0 = time.perf_counter()
            value = f().value
            t_ours.append(time.perf_counter() - t0)
            if name in theirs:
                t0 = time.perf_counter()
                ref = float(theirs[name]())
                t_obp.append(time.perf_counter() - t0)
        timing = {"value": value, "ours_ms": 1e3 * float(np.median(t_ours))}
        if t_obp:
            timing.update(obp_ms=1e3 * float(np.median(t_obp)), obp_value=ref,
                          speedup=float(np.median(t_obp) / np.median(t_ours)),
                          rel_diff=abs(value - ref) / max(abs(ref), 1e-300))
        rows[name] = timing
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "n": n, "n_arms": n_arms,
            "n_positions": n_positions, "repeats": repeats, "peer": peer, "estimators": rows,
            "machine": {"platform": platform.platform()}}


def _fmt_ope(r: Dict[str, Any]) -> str:
    lines = [f"# point estimates on n={r['n']}, K={r['n_arms']}, L={r['n_positions']} ((n, K, L) target and "
             f"predictions), median of {r['repeats']} alternating runs; peer: {r['peer']}",
             "| estimator | ours (ms) | obp (ms) | obp / ours | relative difference |", "|---|---:|---:|---:|---:|"]
    for name, t in r["estimators"].items():
        if "obp_ms" in t:
            lines.append(f"| {name} | {t['ours_ms']:.2f} | {t['obp_ms']:.2f} | {t['speedup']:.1f}x | "
                         f"{t['rel_diff']:.1e} |")
        else:
            lines.append(f"| {name} | {t['ours_ms']:.2f} | n/a | n/a | n/a |")
    return "\n".join(lines)


def _fmt_scenarios(sc: Dict[str, Any]) -> str:
    ab = sc["abrupt_change"]
    p = ab["parameters"]
    names = list(ab["runs"][0]["ratio"])
    lines = [f"# abrupt change at round {ab['change_at']} of {ab['horizon']}, K={ab['n_arms']}, d={ab['dim']}, "
             f"noise {ab['noise']}, alpha {ab['alpha']} for every policy; gamma {p['gamma']:.4f}, "
             f"window {p['window']} (memory {p['memory']:.0f} rounds = change period / 10); "
             f"idle_gamma {p['idle_gamma']:.5f}, max_age {p['max_age']} (idle memory = change period)",
             "# regret after the change, as policy regret / LinUCB regret (<1: better than LinUCB)",
             "| seed | optimum changed | LinUCB regret after | " + " | ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for run in ab["runs"]:
        lines.append(f"| {run['seed']} | {run['optimum_changed']:.2f} | {run['regret_after']['linucb']:.1f} | "
                     + " | ".join(f"{run['ratio'][n]:.3f}" for n in names) + " |")
    s = ab["summary"]
    lines.append("| median / worst | | | " + " | ".join(f"{s[n]['median']:.3f} / {s[n]['worst']:.3f}" for n in names)
                 + " |")
    lines.append(f"| regret before the change (median) | | {s['linucb']['regret_before_median']:.1f} | "
                 + " | ".join(f"{s[n]['regret_before_median']:.1f}" for n in names) + " |")
    lines.append("")
    lines.append("# LinUCB regret in rounds 4000-12000, rewards delayed by 1000 rounds")
    cols = list(next(iter(sc["delayed"].values()), {}))
    lines.append("| run | " + " | ".join(cols) + " |")
    lines.append("|---|" + "---:|" * len(cols))
    for k, v in sc["delayed"].items():
        lines.append(f"| {k} | " + " | ".join(f"{v[n]:.1f}" for n in cols) + " |")
    return "\n".join(lines)


def _fmt(results: Dict[str, Any]) -> str:
    lines = ["| arms K | dim d | superinstance select+update (us) | select only (us) | select_batch (decisions/s) "
             "| numpy (us) | mabwiser (us) | VW (us) | numpy/ours time | mabwiser/ours time | VW/ours time "
             "| agreement with numpy (share of equal choices) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in results["configs"]:
        o = c["superinstance"]["select_update_us"]

        def v(name: str) -> Tuple[str, str]:
            e = c[name]
            if "unavailable" in e:
                return "n/a", "n/a"
            return f"{e['select_update_us']:.1f}", f"{e['select_update_us'] / o:.0f}x"

        nu, nr = v("numpy")
        mu, mr = v("mabwiser")
        vu, vr = v("vw")
        lines.append(f"| {c['n_arms']} | {c['dim']} | {o:.2f} | {c['superinstance']['select_untracked_us']:.2f} | "
                     f"{c['superinstance']['select_batch_per_s']:.3g} | {nu} | {mu} | {vu} | {nr} | {mr} | {vr} | "
                     f"{c['numpy']['agreement']:.4f} |")
    rg = results["regret_d16_k8"]
    lines.append("")
    lines.append("Cumulative regret, d=16, K=8 (same contexts and noise): " +
                 ", ".join(f"{k} {v:.1f}" for k, v in rg.items()))
    return "\n".join(lines)


def summary(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Summary rows (case, ours, peers, ratio) of :func:`run`'s or :func:`scenarios`' results."""
    if "estimators" in results:  # ope()
        return [row(f"OPE point estimate: {name}, n={results['n']} K={results['n_arms']} L={results['n_positions']}",
                    f"{r['ours_ms']:.2f} ms", f"obp {r['obp_ms']:.2f} ms" if "obp_ms" in r else results["peer"],
                    r.get("speedup")) for name, r in results["estimators"].items()]
    if "abrupt_change" in results:
        s = results["abrupt_change"]["summary"]
        return [row(f"abrupt change: {name} regret after / LinUCB's (median)", f"{v['median']:.3f}",
                    "LinUCB 1.000", 1 / v["median"] if v["median"] > 0 else None) for name, v in s.items() if name != "linucb" and "median" in v]
    rows = []
    for c in results["configs"]:
        ours = c["superinstance"]["select_update_us"]
        peers = {name: (None if "unavailable" in c[name] else c[name]["select_update_us"])
                 for name in ("numpy", "mabwiser", "vw")}
        shown = ", ".join(f"{n} {'n/a' if v is None else f'{v:.1f} us'}" for n, v in peers.items())
        rows.append(row(f"LinUCB select+update, K={c['n_arms']} d={c['dim']}", f"{ours:.2f} us", shown,
                        best_peer_ratio(ours, peers)))
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer configs and rounds")
    ap.add_argument("--json", help="also write the raw results to this file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scenarios", action="store_true",
                    help="instead: regret after an abrupt change and with delayed rewards")
    ap.add_argument("--ope", action="store_true",
                    help="instead: off-policy estimators on 10,000 x 80 x 3 inputs, side by side with obp")
    args = ap.parse_args(argv)
    if args.ope:
        r = ope(repeats=5 if args.quick else 15, seed=args.seed)
        print(_fmt_ope(r))
        write_json(args.json, r)
        return 0
    if args.scenarios:
        sc = scenarios(quick=args.quick)
        print(f"# bandit scenarios, {sc['date']}")
        print(_fmt_scenarios(sc))
        write_json(args.json, sc)
        return 0
    res = run(quick=args.quick, seed=args.seed)
    print(f"# bandit side-by-side, {res['date']}, {res['machine']['platform']}, {res['machine']['cpus']} CPUs")
    for c in res["configs"]:
        for name in ("mabwiser", "vw"):
            if "unavailable" in c[name]:
                print(f"# {name} unavailable: {c[name]['unavailable']}")
        break
    print(_fmt(res))
    write_json(args.json, res)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
