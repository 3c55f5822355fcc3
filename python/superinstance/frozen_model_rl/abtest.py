"""Online A/B tests of policies with anytime-valid confidence sequences.

``ABTest(policies={"a": pa, "b": pb}, split={"a": 0.5, "b": 0.5}, metric="reward")``
routes each live decision to a policy by a stable hash of its unit id (the same
unit always gets the same policy, in every process and after a restart), records
the rewards, and reports each variant's difference from the control with a
confidence sequence: an interval valid at every moment simultaneously, so that
looking at it after every observation and stopping as soon as it excludes zero
keeps the false-positive rate at or below ``alpha``.

The confidence sequence (CS) is the asymptotic CS of Waudby-Smith, Arbour, Sinha,
Kennedy & Ramdas, "Time-uniform central limit theory and asymptotic confidence
sequences" (Ann. Statist. 2024; arXiv 2103.06476), which puts the running standard
deviation into Robbins' two-sided normal-mixture boundary (Robbins 1970; Howard,
Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Ann. Statist. 2021):

    mean_t +- sd_t * sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * log( sqrt(t rho^2 + 1) / alpha ) )

after t observations, with ``rho^2 = (-2 log alpha + log(-2 log alpha + 1)) / t_star``,
the mixture width that makes the boundary tightest near ``t_star`` observations (the
choice Waudby-Smith et al. give). The boundary follows from Ville's inequality for
the mixture martingale ``(1 + rho^2 t)^(-1/2) exp(rho^2 S_t^2 / (2 (1 + rho^2 t)))``
of standardised sums S_t. For a difference the observations are the
inverse-probability-weighted terms ``psi_t = y_t (1[variant b] / p_b - 1[control] / p_c)``
(each observation of any variant is one step; E psi = mean_b - mean_c under random
assignment), their construction for randomised experiments. Each comparison with
the control uses ``alpha / (number of variants - 1)`` (Bonferroni). Because the CS
is asymptotic, no decision is taken before every variant in a comparison has
``min_samples`` observations. Observations are assumed independent: record one
outcome per unit (or per unit and period), not many correlated outcomes of one unit.
The tests measure the false-positive rate under continuous peeking.

Guardrails ``{metric: lower_bound}`` stop a (non-control) variant as soon as the
CS of its mean of that metric lies entirely below the bound; its units are then
served by the control. ``save(path)`` writes the test's state atomically
(``superinstance.storage``, kind ``si.abtest``); ``ABTest.load(path, policies)``
continues it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

__all__ = ["ABTest", "ABDecision", "ABResult", "VariantResult", "DifferenceResult", "confidence_sequence",
           "unit_hash"]

_KIND = "si.abtest"
_VERSION = 1


def unit_hash(unit_id: Any, salt: str = "") -> float:
    """A stable number in [0, 1) for a unit id (str, bytes or int, numpy integers
    included; an int hashes as its decimal string, so 42 and "42" are the same unit):
    BLAKE2b keyed by the salt, independent of the process, the machine and
    PYTHONHASHSEED."""
    if isinstance(unit_id, np.integer):
        unit_id = int(unit_id)
    if isinstance(unit_id, bool) or not isinstance(unit_id, (str, bytes, int)):
        raise TypeError(f"a unit id must be a str, bytes or int, got {type(unit_id).__name__}")
    if not isinstance(salt, str):
        raise TypeError("salt must be a str")
    raw = unit_id if isinstance(unit_id, bytes) else str(unit_id).encode("utf-8")
    key = salt.encode("utf-8")
    if len(key) > 64:  # BLAKE2b keys are at most 64 bytes: a longer salt is hashed first
        key = hashlib.blake2b(key).digest()
    h = hashlib.blake2b(raw, digest_size=8, key=key)
    return int.from_bytes(h.digest(), "big") / 2.0 ** 64


def confidence_sequence(sd: Any, t: Any, alpha: float, t_star: float) -> Any:
    """Half-width of the two-sided asymptotic normal-mixture CS (see the module doc)
    after t >= 1 observations with running standard deviation ``sd`` (numbers or
    numpy arrays of them)."""
    la = -2.0 * math.log(alpha)
    rho2 = (la + math.log(la + 1.0)) / t_star
    v = t * rho2 + 1.0
    return sd * np.sqrt(2.0 * v / (t * t * rho2) * np.log(np.sqrt(v) / alpha))


@dataclass
class ABDecision:
    """One routed decision: the unit, the variant that served it (``assigned`` is the
    one its hash chose; they differ after a guardrail stopped that one) and the
    policy's own decision (whatever its ``select`` returned)."""

    unit_id: Union[str, bytes, int]
    variant: str
    assigned: str
    decision: Any = None


@dataclass
class VariantResult:
    n: int
    mean: float
    low: float
    high: float
    decisions: int
    stopped: Optional[str] = None  # the reason, when a guardrail stopped it


@dataclass
class DifferenceResult:
    """Variant minus control on the test's metric, with the running intersection of
    the confidence sequence (valid whenever it is read)."""

    difference: float
    low: float
    high: float
    n: int
    ready: bool  # both sides have min_samples observations

    @property
    def significant(self) -> bool:
        return self.ready and (self.low > 0 or self.high < 0)


@dataclass
class ABResult:
    metric: str
    control: str
    variants: Dict[str, VariantResult]
    differences: Dict[str, DifferenceResult]
    alpha: float

    def __str__(self) -> str:
        lines = [f"A/B test on {self.metric!r}, control {self.control!r}, alpha {self.alpha}"]
        for name, v in self.variants.items():
            lines.append(f"  {name}: n={v.n} mean={v.mean:.4g} [{v.low:.4g}, {v.high:.4g}]"
                         + (f" STOPPED ({v.stopped})" if v.stopped else ""))
        for name, d in self.differences.items():
            lines.append(f"  {name} - {self.control}: {d.difference:+.4g} [{d.low:.4g}, {d.high:.4g}]"
                         + (" significant" if d.significant else ""))
        return "\n".join(lines)


@dataclass
class _Moments:
    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, y: float) -> None:
        self.n += 1
        self.total += y
        self.squares += y * y

    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    def sd(self) -> float:
        if self.n < 2:
            return math.inf
        m = self.total / self.n
        return math.sqrt(max(self.squares / self.n - m * m, 0.0) * self.n / (self.n - 1))


@dataclass
class _Comparison:
    psi: _Moments = field(default_factory=_Moments)
    low: float = -math.inf
    high: float = math.inf


def _split(policies: Sequence[str], split: Any) -> Dict[str, float]:
    if split is None:
        return {k: 1.0 / len(policies) for k in policies}
    if isinstance(split, Mapping):
        if set(split) != set(policies):
            raise ValueError(f"split names {sorted(split)} differ from the policies {sorted(policies)}")
        raw = [split[k] for k in policies]
    else:
        raw = list(split)
        if len(raw) != len(policies):
            raise ValueError(f"split has {len(raw)} shares for {len(policies)} policies")
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"split shares must be finite numbers > 0, got {v!r}")
    total = float(sum(raw))
    return {k: float(v) / total for k, v in zip(policies, raw)}


def _number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return float(v)


class ABTest:
    """An online A/B test of policies (see the module doc).

    policies: name -> a policy (anything with ``select(x)``; with ``learn=True`` and an
    ``update(decision, reward)`` it also learns from the test's metric), a callable
    ``x -> decision``, or a constant (e.g. a fixed arm).
    split: None (equal), {name: share} or shares in the policies' order.
    metric: the recorded value compared (rewards are a number, stored as "reward",
    or a mapping of named values, e.g. {"reward": 1, "latency_ms": 80}).
    control: the variant the others are compared with (default: the first).
    guardrails: {metric: lower bound}; a variant whose CS of that metric lies below
    the bound is stopped and its units served by the control.
    """

    def __init__(self, policies: Mapping[str, Any], split: Any = None, metric: str = "reward", *,
                 control: Optional[str] = None, alpha: float = 0.05, guardrails: Optional[Mapping[str, float]] = None,
                 salt: str = "", min_samples: int = 100, t_star: float = 1000.0, learn: bool = True) -> None:
        if not isinstance(policies, Mapping) or len(policies) < 2:
            raise ValueError("policies must map at least two names to policies")
        names = list(policies)
        if not all(isinstance(k, str) and k for k in names):
            raise TypeError("policy names must be non-empty str")
        if not isinstance(metric, str) or not metric:
            raise TypeError("metric must be a non-empty str (the name of a recorded value)")
        if not isinstance(salt, str):
            raise TypeError("salt must be a str")
        control = names[0] if control is None else control
        if control not in policies:
            raise ValueError(f"control {control!r} is not one of the policies {names}")
        alpha = _number(alpha, "alpha")
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 2:
            raise ValueError("min_samples must be an int >= 2")
        t_star = _number(t_star, "t_star")
        if t_star < 1:
            raise ValueError("t_star must be >= 1")
        self.policies = dict(policies)
        self.names = names
        self.split = _split(names, split)
        self.metric, self.control, self.alpha, self.salt = metric, control, alpha, salt
        self.min_samples, self.t_star, self.learn = min_samples, t_star, bool(learn)
        self.guardrails = {str(k): _number(v, f"guardrail {k!r}") for k, v in (guardrails or {}).items()}
        self._edges = self._cumulative()
        self._stats: Dict[str, Dict[str, _Moments]] = {k: {} for k in names}
        self._decisions = {k: 0 for k in names}
        self._stopped: Dict[str, str] = {}
        self._comparisons = {k: _Comparison() for k in names if k != control}

    # ------------------------------------------------------------------ routing
    def _cumulative(self) -> List[float]:
        edges, acc = [], 0.0
        for k in self.names:
            acc += self.split[k]
            edges.append(acc)
        edges[-1] = 1.0
        return edges

    def assigned(self, unit_id: Any) -> str:
        """The variant a unit's hash chooses (whether or not it was stopped)."""
        u = unit_hash(unit_id, self.salt)
        for name, edge in zip(self.names, self._edges):
            if u < edge:
                return name
        return self.names[-1]  # pragma: no cover - u < 1 = last edge

    def variant(self, unit_id: Any) -> str:
        """The variant that serves a unit now: its assigned one, or the control if stopped."""
        a = self.assigned(unit_id)
        return self.control if a in self._stopped else a

    def decide(self, unit_id: Any, x: Any = None) -> ABDecision:
        """Route one decision: the serving variant's policy decides on context ``x``."""
        assigned = self.assigned(unit_id)
        name = self.control if assigned in self._stopped else assigned
        policy = self.policies[name]
        if hasattr(policy, "select"):
            d = policy.select(x)
        elif callable(policy):
            d = policy(x)
        else:
            d = policy
        self._decisions[name] += 1
        return ABDecision(unit_id, name, assigned, d)

    # ------------------------------------------------------------------ outcomes
    def _values(self, reward: Any) -> Dict[str, float]:
        if isinstance(reward, Mapping):
            values = {str(k): _number(v, f"reward {k!r}") for k, v in reward.items()}
        else:
            values = {"reward": _number(reward, "reward")}
        if self.metric not in values:
            raise ValueError(f"the reward has no {self.metric!r} (the test's metric); it has {sorted(values)}")
        return values

    def _serving_probability(self, name: str) -> float:
        if name == self.control:
            return self.split[name] + sum(self.split[k] for k in self._stopped)
        return self.split[name]

    def record(self, decision: Any, reward: Any) -> None:
        """Record the outcome of a decision (the :class:`ABDecision`, or the unit id,
        whose serving variant is then looked up). ``reward``: a number or a mapping of
        named values that contains the test's metric. Nothing changes if it is refused."""
        if isinstance(decision, ABDecision):
            name, inner = decision.variant, decision.decision
            if name not in self._stats:
                raise ValueError(f"the decision's variant {name!r} is not part of this test")
        else:
            name, inner = self.variant(decision), None
        values = self._values(reward)
        y = values[self.metric]
        for comp_name, comp in self._comparisons.items():  # every observation is a step of every comparison
            if comp_name in self._stopped:
                continue
            psi = 0.0
            if name == comp_name:
                psi = y / self._serving_probability(comp_name)
            elif name == self.control:
                psi = -y / self._serving_probability(self.control)
            comp.psi.add(psi)
        stats = self._stats[name]
        for k, v in values.items():
            stats.setdefault(k, _Moments()).add(v)
        self._update_bounds()
        self._check_guardrails(name)
        policy = self.policies[name]
        if self.learn and inner is not None and hasattr(policy, "update"):
            policy.update(inner, y)

    def _alpha_per_comparison(self) -> float:
        return self.alpha / max(1, len(self._comparisons))

    def _ready(self, name: str) -> bool:
        for k in (name, self.control):
            m = self._stats[k].get(self.metric)
            if m is None or m.n < self.min_samples:
                return False
        return True

    def _update_bounds(self) -> None:
        a = self._alpha_per_comparison()
        for name, comp in self._comparisons.items():
            if name in self._stopped or not self._ready(name):
                continue
            m = comp.psi
            half = float(confidence_sequence(m.sd(), m.n, a, self.t_star))
            comp.low = max(comp.low, m.mean() - half)  # the running intersection is a CS too
            comp.high = min(comp.high, m.mean() + half)

    def _mean_bounds(self, m: _Moments, alpha: float) -> tuple:
        if m.n < self.min_samples:
            return -math.inf, math.inf
        half = float(confidence_sequence(m.sd(), m.n, alpha, self.t_star))
        return m.mean() - half, m.mean() + half

    def _check_guardrails(self, name: str) -> None:
        if name == self.control or name in self._stopped:
            return
        for metric, bound in self.guardrails.items():
            m = self._stats[name].get(metric)
            if m is None:
                continue
            _, high = self._mean_bounds(m, self.alpha)
            if high < bound:
                self._stopped[name] = (f"guardrail {metric} >= {bound:g} failed: mean {m.mean():.4g}, "
                                       f"upper bound {high:.4g} after {m.n} observations")
                return

    # ------------------------------------------------------------------ reports
    @property
    def stopped(self) -> Dict[str, str]:
        """Variants stopped by a guardrail, with the reason."""
        return dict(self._stopped)

    def result(self) -> ABResult:
        variants = {}
        for k in self.names:
            m = self._stats[k].get(self.metric, _Moments())
            lo, hi = self._mean_bounds(m, self.alpha)
            variants[k] = VariantResult(m.n, m.mean(), lo, hi, self._decisions[k], self._stopped.get(k))
        diffs = {}
        mc = self._stats[self.control].get(self.metric, _Moments())
        for k, comp in self._comparisons.items():
            mk = self._stats[k].get(self.metric, _Moments())
            diffs[k] = DifferenceResult(mk.mean() - mc.mean(), comp.low, comp.high, comp.psi.n, self._ready(k))
        return ABResult(self.metric, self.control, variants, diffs, self.alpha)

    # ------------------------------------------------------------------ saved state
    def state_dict(self) -> Dict[str, Any]:
        return {"format": "si.abtest-1", "names": self.names, "split": self.split, "metric": self.metric,
                "control": self.control, "alpha": self.alpha, "salt": self.salt, "min_samples": self.min_samples,
                "t_star": self.t_star, "learn": self.learn, "guardrails": self.guardrails,
                "stats": {k: {m: [s.n, s.total, s.squares] for m, s in v.items()} for k, v in self._stats.items()},
                "decisions": self._decisions, "stopped": self._stopped,
                "comparisons": {k: [c.psi.n, c.psi.total, c.psi.squares, _enc(c.low), _enc(c.high)]
                                for k, c in self._comparisons.items()}}

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write the test's state (not the policies: save those with their own
        ``save``) through the atomic file layer: temp file, fsync, rename, CRC-32C."""
        from ..storage import write_atomic

        write_atomic(path, _KIND, _VERSION, json.dumps(self.state_dict(), allow_nan=False).encode("utf-8"))

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], policies: Mapping[str, Any]) -> "ABTest":
        """Continue a saved test with these policies (the same names)."""
        from ..storage import read_verified

        _, payload = read_verified(path, _KIND, _VERSION)
        try:
            state = json.loads(bytes(payload).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ValueError(f"{os.fspath(path)}: not an A/B test state ({e})") from None
        return cls.from_state_dict(state, policies)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any], policies: Mapping[str, Any]) -> "ABTest":
        if not isinstance(state, Mapping) or state.get("format") != "si.abtest-1":
            raise ValueError("not an A/B test state (format si.abtest-1)")
        if list(policies) != list(state["names"]):
            raise ValueError(f"the saved test has policies {state['names']}, given {list(policies)}")
        t = cls(policies, state["split"], state["metric"], control=state["control"], alpha=state["alpha"],
                guardrails=state["guardrails"], salt=state["salt"], min_samples=state["min_samples"],
                t_star=state["t_star"], learn=state["learn"])
        t._stats = {k: {m: _Moments(int(a), float(b), float(c)) for m, (a, b, c) in v.items()}
                    for k, v in state["stats"].items()}
        t._decisions = {k: int(v) for k, v in state["decisions"].items()}
        t._stopped = {str(k): str(v) for k, v in state["stopped"].items()}
        for k, (n, s, q, lo, hi) in state["comparisons"].items():
            t._comparisons[k] = _Comparison(_Moments(int(n), float(s), float(q)), _dec(lo), _dec(hi))
        return t


def _enc(x: float) -> Any:
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def _dec(x: Any) -> float:
    return float(x)
