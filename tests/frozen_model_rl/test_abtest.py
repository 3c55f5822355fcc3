"""Online A/B tests: the false-positive rate under continuous peeking, power, stable
routing, guardrails, atomic save and reload mid-test, bad input."""

import math

import numpy as np
import pytest

from superinstance.errors import CorruptFileError
from superinstance.frozen_model_rl import ABDecision, ABTest, LinUCB, confidence_sequence, unit_hash


def _peeking_false_positive_rate(rng, tests, steps, outcome, *, min_samples=100, alpha=0.05, naive=False):
    """Vectorised replica of ABTest's comparison: 50/50 assignment, IPW terms, a look
    after every observation; the share of null tests whose interval ever excludes 0."""
    y = outcome(rng, (tests, steps))
    b = rng.random((tests, steps)) < 0.5
    psi = np.where(b, y / 0.5, -y / 0.5)
    t = np.arange(1, steps + 1)
    mean = np.cumsum(psi, 1) / t
    sd = np.sqrt(np.maximum(np.cumsum(psi ** 2, 1) / t - mean ** 2, 0) * t / np.maximum(t - 1, 1))
    nb = np.cumsum(b, 1)
    ready = (nb >= min_samples) & (t - nb >= min_samples)
    half = 1.959963984540054 * sd / np.sqrt(t) if naive else confidence_sequence(sd, t, alpha, 1000.0)
    return float((ready & (np.abs(mean) > half)).any(axis=1).mean())


@pytest.mark.parametrize("outcome", [lambda r, s: r.normal(size=s), lambda r, s: (r.random(s) < 0.1) * 1.0,
                                     lambda r, s: r.exponential(size=s)], ids=["normal", "bernoulli", "skewed"])
def test_false_positive_rate_under_continuous_peeking(outcome):
    """2000 null tests of 4000 observations each, looked at after every one: the
    rate stays at or below alpha = 0.05 (binomial sd 0.5 %), where the fixed-sample
    z interval read the same way is wrong several times more often."""
    rng = np.random.default_rng(0)
    rate = _peeking_false_positive_rate(rng, 2000, 4000, outcome)
    assert rate <= 0.05, rate
    naive = _peeking_false_positive_rate(rng, 500, 4000, outcome, naive=True)
    assert naive > 0.15, naive  # what peeking does to a fixed-sample test: the check can fail


def test_abtest_itself_keeps_the_rate_under_peeking():
    """The class end to end: 150 null tests of 1500 observations, its result read after
    every record (its running intersection is sticky: ever excluded = excluded now)."""
    rng = np.random.default_rng(1)
    false_positives = 0
    for k in range(150):
        t = ABTest({"a": 0, "b": 1}, salt=f"null-{k}")
        for i in range(1500):
            t.record(t.decide(i), float(rng.normal()))
        false_positives += t.result().differences["b"].significant
    assert false_positives / 150 <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 150), false_positives


def test_power_and_the_difference():
    rng = np.random.default_rng(2)
    t = ABTest({"a": "old", "b": "new"}, split={"a": 0.3, "b": 0.7})
    for i in range(4000):
        d = t.decide(f"user-{i}")
        t.record(d, float(rng.normal(0.3 if d.variant == "b" else 0.0)))
    r = t.result()
    diff = r.differences["b"]
    assert diff.significant and diff.low > 0
    assert diff.difference == pytest.approx(r.variants["b"].mean - r.variants["a"].mean)
    assert r.variants["b"].n + r.variants["a"].n == 4000
    assert abs(r.variants["b"].n / 4000 - 0.7) < 0.03  # the hash honours the split
    assert "significant" in str(r)


def test_stable_hash_routing():
    assert unit_hash("user-1") == unit_hash("user-1")
    assert unit_hash(42) == unit_hash("42") == unit_hash(b"42") == unit_hash(np.int32(42))
    assert unit_hash("u", salt="s" * 100) != unit_hash("u", salt="s" * 99)  # long salts are hashed, not cut
    assert unit_hash("user-1", salt="x") != unit_hash("user-1")
    # pinned: the same unit gets the same variant in every process and release
    assert unit_hash("user-1") == 0.6041924073669338
    t = ABTest({"a": 0, "b": 1, "c": 2})
    first = [t.assigned(i) for i in range(300)]
    assert first == [ABTest({"a": 0, "b": 1, "c": 2}).assigned(i) for i in range(300)]
    counts = {k: first.count(k) for k in "abc"}
    assert min(counts.values()) > 70
    for bad in (1.5, None, True, ["u"], np.float64(3.0)):
        with pytest.raises(TypeError, match="unit id must be"):
            t.decide(bad)


def test_guardrail_stops_a_variant_and_routes_its_units_to_control():
    rng = np.random.default_rng(3)
    t = ABTest({"a": 0, "b": 1}, guardrails={"satisfaction": 0.5}, min_samples=30)
    for i in range(3000):
        d = t.decide(i)
        sat = rng.normal(0.8 if d.variant == "a" else 0.2, 0.1)
        t.record(d, {"reward": float(rng.normal()), "satisfaction": float(sat)})
        if t.stopped:
            break
    assert "b" in t.stopped and "satisfaction" in t.stopped["b"]
    unit = next(i for i in range(1000) if t.assigned(i) == "b")
    d = t.decide(unit)
    assert d.variant == "a" and d.assigned == "b"
    assert t.result().variants["b"].stopped


def test_learning_policies_learn_from_the_metric():
    pa, pb = LinUCB(2, 2), LinUCB(2, 2)
    t = ABTest({"a": pa, "b": pb})
    for i in range(50):
        d = t.decide(i, np.array([1.0, 0.5]))
        t.record(d, 1.0)
    assert pa.stats()["updates"] + pb.stats()["updates"] == 50


def test_save_and_reload_mid_test_continue_exactly(tmp_path):
    rng = np.random.default_rng(4)
    rewards = rng.normal(size=3000) + 0.1
    whole = ABTest({"a": 0, "b": 1}, guardrails={"reward": -5.0})
    for i in range(3000):
        whole.record(whole.decide(i), float(rewards[i]))
    part = ABTest({"a": 0, "b": 1}, guardrails={"reward": -5.0})
    for i in range(1200):
        part.record(part.decide(i), float(rewards[i]))
    path = tmp_path / "ab.state"
    part.save(path)
    back = ABTest.load(path, {"a": 0, "b": 1})
    assert back.result() == part.result()
    for i in range(1200, 3000):
        back.record(back.decide(i), float(rewards[i]))
    assert back.result() == whole.result()
    with pytest.raises(ValueError, match="has policies"):
        ABTest.load(path, {"a": 0, "c": 1})
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError):
        ABTest.load(path, {"a": 0, "b": 1})


def test_bad_input_changes_nothing():
    t = ABTest({"a": 0, "b": 1}, metric="clicks")
    d = t.decide("u")
    before = t.state_dict()
    with pytest.raises(ValueError, match="has no 'clicks'"):
        t.record(d, {"reward": 1.0})
    with pytest.raises(ValueError, match="finite"):
        t.record(d, {"clicks": float("nan")})
    with pytest.raises(TypeError, match="must be a number"):
        t.record(d, {"clicks": "1"})
    with pytest.raises(TypeError, match="unit id"):
        t.record(2.5, {"clicks": 1.0})
    with pytest.raises(ValueError, match="not part of this test"):
        t.record(ABDecision("u", "z", "z"), {"clicks": 1.0})
    assert t.state_dict() == before
    with pytest.raises(ValueError, match="at least two"):
        ABTest({"a": 0})
    with pytest.raises(ValueError, match="split"):
        ABTest({"a": 0, "b": 1}, split={"a": 1.0})
    with pytest.raises(ValueError, match="split shares"):
        ABTest({"a": 0, "b": 1}, split=[1.0, 0.0])
    with pytest.raises(ValueError, match="control"):
        ABTest({"a": 0, "b": 1}, control="c")
    with pytest.raises(ValueError, match="alpha"):
        ABTest({"a": 0, "b": 1}, alpha=1.5)
