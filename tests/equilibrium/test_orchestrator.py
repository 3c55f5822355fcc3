"""The orchestrator on the real components: one step, bad input, rewards, learning, the timed loop."""

import json
import math

import numpy as np
import pytest

from superinstance.equilibrium import confidence as conf
from superinstance.equilibrium.data import ConversationStream, SimulatedUser
from superinstance.equilibrium.demo import build_default, run_demo
from superinstance.equilibrium.loop import run_loop, simulated_user_reward
from superinstance.errors import UnknownIdError


@pytest.fixture(scope="module")
def built():
    return build_default(2.0, per_subtopic=40, kind="flat", seed=0)


def test_one_step_matches_the_confidence_formula(built):
    orch = built["orchestrator"]
    corpus = built["corpus"]
    e = corpus.centers[("conversation", "outdoors", "fishing")]
    res = orch.orchestrate(e, sentiment=(0.8, 0.3, 0.7), measured_rate_hz=2.0)
    # the fishing-boat scenario, with the context factor from the real search
    assert res.suggested_path == ("conversation", "outdoors", "fishing")
    top = float(res.context_scores[0])
    assert res.factors == conf.Factors(1.0, conf.context_factor(top), pytest.approx(0.765), 1.0)
    w = res.weights
    expected = conf.context_factor(top) ** w.context * 0.765 ** w.sentiment
    assert res.confidence == pytest.approx(expected)
    assert set(res.timings) == {"sentiment", "context", "policy", "confidence", "total"}
    assert res.timings["total"] >= max(res.timings[s] for s in ("sentiment", "context", "policy"))
    orch.reward(res.tick, 0.5)


def test_interruption_scales_by_0_8_and_resets_attention_when_confident(built):
    orch = built["orchestrator"]
    e = built["corpus"].centers[("conversation", "music", "symphony")]
    calm = orch.orchestrate(e, sentiment=(1.0, 0.0, 0.5), measured_rate_hz=2.0)
    hit = orch.orchestrate(e, sentiment=(1.0, 0.0, 0.5), measured_rate_hz=2.0, interrupted=True)
    w_i = hit.weights.interruption
    before = hit.confidence / (0.8 ** w_i)
    assert hit.factors.interruption == 0.8
    assert hit.attention_reset == (before > 0.7)
    assert not calm.attention_reset
    for r in (calm, hit):
        orch.reward(r.tick, 1.0)


def test_bad_input_is_rejected_and_the_loop_keeps_working(built):
    orch = built["orchestrator"]
    e = built["corpus"].centers[("conversation", "daily", "food")]
    with pytest.raises(ValueError, match="shape"):
        orch.orchestrate(np.zeros(100, np.float32), sentiment=(0, 0, 0))
    with pytest.raises(ValueError, match="NaN"):
        orch.orchestrate(e, features=np.full(32, np.nan, np.float32))
    with pytest.raises(ValueError, match="valence"):
        orch.orchestrate(e, sentiment=(2.0, 0.5, 0.5))
    with pytest.raises(UnknownIdError):
        orch.reward(10**9, 1.0)
    with pytest.raises(ValueError, match="rate"):
        orch.set_rate(0.1)
    with pytest.raises(ValueError, match="rate"):
        orch.set_rate(5000)
    res = orch.orchestrate(e, features=np.ones(32, np.float32))
    orch.reward(res.tick, 0.3)
    with pytest.raises(UnknownIdError):
        orch.reward(res.tick, 0.3)  # once per tick


def test_the_bandit_learns_the_simulated_users_preferences():
    b = build_default(2.0, per_subtopic=20, kind="flat", seed=3)
    orch, arms = b["orchestrator"], b["arms"]
    stream = ConversationStream(b["corpus"], seed=4)
    reward_fn = simulated_user_reward(SimulatedUser(seed=5), arms)
    regret, random_regret = [], []
    for i in range(1500):
        t = next(stream)
        # the rate wanders so that the rate-error feature varies too
        res = orch.orchestrate(t.embedding, t.features, interrupted=t.interrupted,
                               measured_rate_hz=2.0 * (1 + 0.3 * np.sin(i / 7)))
        r = reward_fn(res, t)
        orch.reward(res.tick, r["reward"])
        regret.append(r["best_expected"] - r["expected_reward"])
        random_regret.append(r["best_expected"] - r["random_expected"])
    late = np.mean(regret[-500:])
    assert late < 0.5 * np.mean(random_regret[-500:]), (late, np.mean(random_regret))
    assert late < np.mean(regret[:200])


def test_timed_loop_holds_its_rate_and_delivers_late_rewards():
    b = build_default(50.0, per_subtopic=20, kind="flat", seed=1)
    orch, arms = b["orchestrator"], b["arms"]
    record = run_loop(orch, 1.0, ConversationStream(b["corpus"], seed=2),
                      simulated_user_reward(SimulatedUser(seed=3), arms), reward_delay=4)
    n = len(record["ticks"])
    assert n + record["timer"]["missed_ticks"] == 50  # every tick ran or was counted as missed
    assert orch.pending_rewards <= 4
    assert not record["errors"]
    assert all(math.isfinite(t["confidence"]) for t in record["ticks"])


def test_demo_writes_a_report(tmp_path):
    record = run_demo(1.0, 20.0, str(tmp_path), per_subtopic=10, kind="flat", live=False)
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 6
    for title in ("Timer lateness", "Per-stage latency", "Confidence and reward", "Reward objectives", "Arm choices",
                  "regret"):
        assert title in html
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["summary"]["ticks"] == len(data["ticks"]) > 0


def test_set_rate_while_running_retimes_the_loop():
    b = build_default(50.0, per_subtopic=10, kind="flat", seed=2)
    orch = b["orchestrator"]

    def status(row):
        if row["index"] == 9:
            orch.set_rate(100.0)  # after 0.2 s at 50 Hz, 0.8 s at 100 Hz remain

    record = run_loop(orch, 1.0, ConversationStream(b["corpus"], seed=3), status=status)
    total = len(record["ticks"]) + record["timer"]["missed_ticks"]
    assert 85 <= total <= 95, total
