"""The loop as tasks on realtime_core's scheduler: rates, the one owner of the token rate, the warm-up,
closing. A virtual clock makes the counts exact; one test runs on a real executor thread."""

import math
import time

import numpy as np
import pytest

from superinstance.equilibrium.data import ConversationStream, SimulatedUser
from superinstance.equilibrium.demo import build_default, format_summary, run_demo
from superinstance.equilibrium.loop import EquilibriumLoop, simulated_user_reward
from superinstance.realtime_core import RealtimeExecutor, Scheduler, VirtualClock

MS = 1_000_000


@pytest.fixture(scope="module")
def built():
    return build_default(20.0, per_subtopic=10, kind="flat", seed=0)


def _loop(built, scheduler, rate_hz=20.0, **kw):
    orch = built["orchestrator"]
    orch.set_rate(rate_hz)
    kw.setdefault("reward_delay", 2)
    return EquilibriumLoop(orch, ConversationStream(built["corpus"], seed=1),
                           simulated_user_reward(SimulatedUser(seed=2), built["arms"]), scheduler=scheduler, **kw)


def _grid_count(first_ns, period_ns, end_ns):
    """Deadlines first + k * period (k >= 0) before end: what a task on that grid must run."""
    return -(-(end_ns - first_ns) // period_ns)


def test_each_task_runs_at_its_own_rate_on_a_virtual_clock(built):
    with Scheduler(clock=VirtualClock()) as sched:
        loop = _loop(built, sched, 20.0, sentiment_rate_hz=10.0, interruption_rate_hz=30.0)
        loop.start(2.0)
        first, end = loop.first_deadline_ns, loop.end_ns
        assert end - first == 2000 * MS
        loop.wait()
        record = loop.record()
        loop.close()
    tasks = record["timer"]["tasks"]
    sensing = first - 25 * MS  # half a token period before the first token
    assert len(record["ticks"]) == 40 == tasks["token"]["calls"]
    assert record["timer"]["missed_ticks"] == 0 and not record["errors"]
    assert tasks["sentiment"]["calls"] == _grid_count(sensing, 100 * MS, end) == loop.sensed["sentiment"] == 21
    # 30 Hz: the period is the exact fraction 10^9 / 30 ns, so deadline k is sensing + k * 10^9 / 30
    assert tasks["interruption"]["calls"] == loop.sensed["interruption"] == math.ceil((end - sensing) * 30 / 1e9) == 61
    assert tasks["warm"]["calls"] == _grid_count(first - 1 * MS, 50 * MS, end) == 41  # 1 ms before each token
    assert tasks["token"]["period_ns"] == 50 * MS and tasks["sentiment"]["period_ns"] == 100 * MS
    # token deadlines lie on the 20 Hz grid from the first one
    deadlines = np.array([row["deadline_ns"] for row in record["ticks"]])
    np.testing.assert_array_equal(deadlines, first + 50 * MS * np.arange(40))


def _run_with_slow_steps(built, rate_hz, seconds, work_ns, then=None):
    """Runs a loop on a virtual clock in which the token step at grid position k (from the first token
    deadline) takes work_ns[k] of virtual time, then calls then(k). Returns (record, loop)."""
    clock = VirtualClock()
    period = int(round(1e9 / rate_hz))
    with Scheduler(clock=clock) as sched:
        loop = _loop(built, sched, rate_hz)
        loop.start(seconds)

        def status(row):
            k = (row["deadline_ns"] - loop.first_deadline_ns) // period
            clock.advance(work_ns.get(k, 0))
            if then is not None:
                then(k)

        loop.status = status
        loop.wait()
        record = loop.record()
        loop.close()
    return record, loop


def test_late_and_missed_tokens_are_accounted_for_exactly_on_a_virtual_clock(built):
    # 20 Hz for 1 s: deadlines first + 50 ms * k, k = 0..19. The step at k = 2 takes 120 ms: the call at
    # k = 3 starts 70 ms late and k = 4 is skipped. The step at k = 17 takes 250 ms: the call at k = 18
    # starts at 1100 ms, when 950, 1000, 1050 and 1100 ms have passed; only 950 ms (k = 19) lies before the
    # end, the others are not the run's deadlines (the scheduler's own tick.missed counts all four).
    record, loop = _run_with_slow_steps(built, 20.0, 1.0, {2: 120 * MS, 17: 250 * MS})
    first = loop.first_deadline_ns
    rows, timer = record["ticks"], record["timer"]
    ks = [(r["deadline_ns"] - first) // (50 * MS) for r in rows]
    assert ks == [0, 1, 2, 3] + list(range(5, 19))
    assert timer["missed_ticks"] == 2 and timer["deadlines"] == 20 == _grid_count(first, 50 * MS, loop.end_ns)
    assert timer["tasks"]["token"]["calls"] == len(rows) == 18 and timer["tasks"]["token"]["missed"] == 2
    assert [r["missed"] for r in rows if r["missed"]] == [1, 1]  # after k = 3 and k = 18, within the run
    late = {k: r["lateness_ns"] for k, r in zip(ks, rows) if r["lateness_ns"]}
    assert late == {3: 70 * MS, 18: 200 * MS}
    assert not record["errors"]


def test_a_slow_first_and_last_step_miss_only_deadlines_before_the_end(built):
    # 50 Hz for 0.2 s (10 deadlines, as in the real-clock test below). The first step takes 65 ms: the call
    # at k = 1 starts 45 ms late, k = 2 and 3 are skipped. The step at k = 8 takes 300 ms: the call at k = 9
    # starts 280 ms late, far past the end, and the run ends at the next call; none of the 14 deadlines that
    # k = 9 skipped (200 .. 460 ms) is the run's.
    record, loop = _run_with_slow_steps(built, 50.0, 0.2, {0: 65 * MS, 8: 300 * MS})
    first = loop.first_deadline_ns
    ks = [(r["deadline_ns"] - first) // (20 * MS) for r in record["ticks"]]
    assert ks == [0, 1] + list(range(4, 10))
    assert record["timer"]["missed_ticks"] == 2 and record["timer"]["deadlines"] == 10
    # the sensing tasks, late too, count only their deadlines before the end
    sensing = first - 10 * MS
    for name, period in (("sentiment", 100 * MS), ("interruption", 10**9 / 30)):
        t = record["timer"]["tasks"][name]
        assert t["calls"] + t["missed"] == math.ceil((loop.end_ns - sensing) / period), name
        assert t["calls"] == loop.sensed[name]


def test_a_rate_change_while_behind_counts_the_old_grids_passed_deadlines(built):
    # 20 Hz; the step at k = 5 (250 ms) takes 130 ms and then sets 40 Hz: at 380 ms the 20 Hz deadlines
    # 300 and 350 ms have passed without running (missed); the 40 Hz grid continues from the last token
    # (275, 300, ... ms) at its first point from now, 400 ms, up to the end (975 ms): 24 deadlines.
    def change(k):
        if k == 5:
            built["orchestrator"].set_rate(40.0)

    record, loop = _run_with_slow_steps(built, 20.0, 1.0, {5: 130 * MS}, then=change)
    first = loop.first_deadline_ns
    t_ms = [(r["deadline_ns"] - first) // MS for r in record["ticks"]]
    assert t_ms == [50 * k for k in range(6)] + [400 + 25 * k for k in range(24)]
    assert record["timer"]["missed_ticks"] == 2 and record["timer"]["deadlines"] == 32


def test_the_sensing_rates_are_configurable(built):
    with Scheduler(clock=VirtualClock()) as sched:
        loop = _loop(built, sched, 20.0, sentiment_rate_hz=4.0, interruption_rate_hz=50.0, warm_lead_ns=0)
        record = loop.run(1.0)
        sensing, end = loop.first_deadline_ns - 25 * MS, loop.end_ns
    tasks = record["timer"]["tasks"]
    assert "warm" not in tasks and set(tasks) == {"token", "sentiment", "interruption"}
    assert tasks["sentiment"]["period_ns"] == 250 * MS and tasks["interruption"]["period_ns"] == 20 * MS
    assert tasks["sentiment"]["calls"] == _grid_count(sensing, 250 * MS, end) == 5  # sensing starts 25 ms early
    assert tasks["interruption"]["calls"] == _grid_count(sensing, 20 * MS, end) == 52
    assert tasks["token"]["calls"] == 20


def test_the_orchestrator_owns_the_rate_and_the_token_task_follows_it(built):
    with Scheduler(clock=VirtualClock()) as sched:
        loop = _loop(built, sched, 20.0)
        loop.start(2.0)
        first = loop.first_deadline_ns
        sched.run_until(first + 1000 * MS)  # tokens at 20 Hz: first + 0, 50, ..., 950 ms
        assert len(loop.ticks) == 20 and loop.stats("token").extra["period_ns"] == 50 * MS
        built["orchestrator"].set_rate(40.0)  # the one owner; the loop's task follows
        assert loop.rate_hz == 40.0
        assert loop.stats("token").extra["period_ns"] == 25 * MS
        assert loop.stats("warm").extra["period_ns"] == 25 * MS
        loop.wait()
        record = loop.record()
        loop.close()
    assert record["timer"]["missed_ticks"] == 0 and record["timer"]["deadlines"] == 60
    deadlines = np.array([row["deadline_ns"] for row in record["ticks"]])
    # no jump at the change: the 40 Hz grid continues from the last 20 Hz token
    np.testing.assert_array_equal(np.diff(deadlines[:20]), 50 * MS)
    np.testing.assert_array_equal(deadlines[20:], first + 1000 * MS + 25 * MS * np.arange(40))
    assert [row["rate_hz"] for row in record["ticks"]] == [20.0] * 20 + [40.0] * 40
    loop.set_rate(10.0)  # after close: the orchestrator takes it, no task is re-added anywhere
    assert built["orchestrator"].rate_hz == 10.0 and loop.task_ids == {}


def test_closing_the_loop_stops_every_task_on_a_shared_scheduler(built):
    with Scheduler(clock=VirtualClock()) as sched:
        other = sched.add(lambda tick: None, rate_hz=5.0, name="someone else's")
        loop = _loop(built, sched, 20.0)
        loop.start(10.0)
        sched.run_for(500 * MS)
        ids = set(loop.task_ids.values())
        assert len(ids) == 4 and ids <= set(sched.tasks())
        loop.close()
        assert sched.tasks() == [other]  # the loop's tasks are gone, the scheduler's own task stays
        counts = (len(loop.ticks), dict(loop.sensed), loop.warm_passes)
        sched.run_for(1000 * MS)
        assert (len(loop.ticks), dict(loop.sensed), loop.warm_passes) == counts
        assert sched.stats(other).count == 7  # 1.5 s at 5 Hz, first call one period in


def test_closing_the_loop_stops_every_task_on_a_shared_executor(built):
    with RealtimeExecutor(policy="other", lock_memory=False) as ex:
        loop = _loop(built, ex, 50.0)
        loop.start(30.0)
        deadline = time.monotonic() + 20
        while len(loop.ticks) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(loop.ticks) >= 3
        loop.close()
        assert ex.tasks() == []
        counts = (len(loop.ticks), dict(loop.sensed))
        time.sleep(0.2)  # ten token periods
        assert (len(loop.ticks), dict(loop.sensed)) == counts
        assert ex.running


def test_an_interruption_heard_between_tokens_reaches_the_next_token(built):
    with Scheduler(clock=VirtualClock()) as sched:
        loop = _loop(built, sched, 20.0)
        record = loop.run(6.0)
    heard = loop.sensed["interruptions_heard"]
    used = sum(row["interrupted"] for row in record["ticks"])
    assert heard > 0
    assert used in (heard, heard - 1)  # each one is used once; one heard after the last token is not


def test_warm_up_changes_no_decision():
    # two identical loops' orchestrators, one warmed before every step: same decisions, same state
    a = build_default(20.0, per_subtopic=10, kind="flat", seed=4)
    b = build_default(20.0, per_subtopic=10, kind="flat", seed=4)
    stream_a = ConversationStream(a["corpus"], seed=5)
    stream_b = ConversationStream(b["corpus"], seed=5)
    prev = next(stream_a).embedding
    next(stream_b)
    for i in range(60):
        ta, tb = next(stream_a), next(stream_b)
        vad = (0.3, 0.4 + 0.005 * i, 0.5)
        for _ in range(3):
            a["orchestrator"].warm(prev, vad, ta.interrupted)
        ra = a["orchestrator"].orchestrate(ta.embedding, sentiment=vad, interrupted=ta.interrupted,
                                           measured_rate_hz=20.0)
        rb = b["orchestrator"].orchestrate(tb.embedding, sentiment=vad, interrupted=tb.interrupted,
                                           measured_rate_hz=20.0)
        assert (ra.tick, ra.arm, ra.decision_id, ra.confidence) == (rb.tick, rb.arm, rb.decision_id, rb.confidence)
        a["orchestrator"].reward(ra.tick, 0.1 * (i % 10))
        b["orchestrator"].reward(rb.tick, 0.1 * (i % 10))
        prev = ta.embedding
    assert a["orchestrator"].pending_rewards == b["orchestrator"].pending_rewards == 0


def test_a_loop_runs_once_and_checks_its_arguments(built):
    with Scheduler(clock=VirtualClock()) as sched:
        with pytest.raises(ValueError, match="reward_delay"):
            _loop(built, sched, reward_delay=-1)
        with pytest.raises(ValueError, match="warm_lead_ns"):
            _loop(built, sched, warm_lead_ns=-5)
        with pytest.raises(ValueError, match="rate_hz"):
            _loop(built, sched, sentiment_rate_hz=0.0)
        loop = _loop(built, sched)
        with pytest.raises(ValueError, match="seconds"):
            loop.start(float("nan"))
        loop.run(0.2)
        with pytest.raises(RuntimeError, match="runs once"):
            loop.start(0.2)


def test_the_demo_summary_reports_the_paced_tick(tmp_path):
    record = run_demo(1.0, 20.0, None, per_subtopic=10, kind="flat", live=False)
    s = record["summary"]
    for key in ("tick_paced_p50_us", "tick_paced_p99_us", "tick_paced_cpu_p50_us", "tick_paced_cpu_p99_us"):
        assert math.isfinite(s[key]) and s[key] > 0, key
    assert s["tick_paced_p50_us"] <= s["tick_paced_p99_us"]
    totals = [row["stages_ns"]["total"] / 1e3 for row in record["ticks"]]
    assert s["tick_paced_p99_us"] == pytest.approx(float(np.percentile(totals, 99)))
    # sensing from half a token period (25 ms) before the first token to the end: each deadline ran or
    # was missed (a loaded machine makes the thread late; calls alone may be fewer)
    tasks = record["timer"]["tasks"]
    assert tasks["sentiment"]["calls"] + tasks["sentiment"]["missed"] == 11  # ceil(1025 ms / 100 ms)
    assert tasks["interruption"]["calls"] + tasks["interruption"]["missed"] == 31  # ceil(1.025 s * 30 Hz)
    assert s["sentiment_task_calls"] == tasks["sentiment"]["calls"] > 0
    text = format_summary(record)
    assert "tick_paced_p50_us" in text and "tick_paced_p99_us" in text


def test_a_source_that_ends_ends_the_loop(built):
    class Short:
        def __init__(self, n):
            self.inner, self.left = ConversationStream(built["corpus"], seed=3), n

        def __next__(self):
            if self.left == 0:
                raise StopIteration
            self.left -= 1
            return next(self.inner)

    with Scheduler(clock=VirtualClock()) as sched:
        built["orchestrator"].set_rate(20.0)
        loop = EquilibriumLoop(built["orchestrator"], Short(11), scheduler=sched)
        record = loop.run(5.0)
        assert sched.tasks() == []
    assert len(record["ticks"]) == 10  # one moment is heard before the first token
    assert record["errors"] == ["the source ended"]


def test_the_paced_tick_benchmark_measures_three_ways():
    from superinstance.bench.equilibrium import paced_tick

    r = paced_tick(rate_hz=50.0, seconds=0.3, repeats=2, per_subtopic=5)
    assert set(r["median_us"]) == {"back_to_back", "paced", "paced_cold"}
    for name, runs in r["runs_us"].items():
        assert len(runs) == 2
        for run in runs:
            assert 0 < run["p50"] <= run["p99"] and 0 < run["cpu_p50"] <= run["cpu_p99"], (name, run)
        assert r["median_us"][name]["p50"] == pytest.approx(float(np.median([x["p50"] for x in runs])))


def test_the_tick_benchmark_compares_basin_depths_on_the_same_tokens():
    from superinstance.bench.equilibrium import tick_cost

    r = tick_cost(n=600, ticks=60, kind="flat", basin_depths=(0, 3), block=20)
    assert set(r["by_basin_depth"]) == {"0", "3"} and r["stages_us"] == r["by_basin_depth"]["0"]
    for stages in r["by_basin_depth"].values():
        assert 0 < stages["context"]["p50"] <= stages["context"]["p99"] <= stages["total"]["max"]


def test_an_own_executor_asks_for_fifo_and_says_what_it_got(built):
    built["orchestrator"].set_rate(50.0)
    record = EquilibriumLoop(built["orchestrator"], ConversationStream(built["corpus"], seed=1)).run(0.2)
    assert record["timer"]["policy"] in ("fifo", "other")  # "other" where SCHED_FIFO is refused, with no warning
    record = EquilibriumLoop(built["orchestrator"], ConversationStream(built["corpus"], seed=1), policy="other").run(0.2)
    assert record["timer"]["policy"] == "other"
    # every deadline in [first, end) ran or was missed, however late the thread (a loaded machine): a call
    # that starts past the end does not count the deadlines after the end (see the virtual-clock tests)
    assert record["timer"]["deadlines"] == 10 and not record["errors"]
    assert len(record["ticks"]) + record["timer"]["missed_ticks"] == 10


def test_a_scheduler_on_an_executor_reports_the_executors_thread(built):
    built["orchestrator"].set_rate(50.0)
    with RealtimeExecutor(policy="other", lock_memory=False) as ex:
        with Scheduler(ex) as sched:
            record = EquilibriumLoop(built["orchestrator"], ConversationStream(built["corpus"], seed=1),
                                     scheduler=sched).run(0.2)
            assert sched.tasks() == [] and ex.tasks() == []
        got = ex.obtained
    assert record["timer"]["policy"] == "other"
    assert record["timer"]["waiter"] == got.get("waiter", got.get("backend"))  # the key is being renamed to waiter
    with Scheduler(clock=VirtualClock()) as sched:
        record = EquilibriumLoop(built["orchestrator"], ConversationStream(built["corpus"], seed=1),
                                 scheduler=sched).run(0.2)
    assert record["timer"]["policy"] == record["timer"]["waiter"] == "virtual clock"


def _one_step(built, seed=1):
    """One orchestrated step and its input, for calling a reward function directly."""
    orch = built["orchestrator"]
    tick = next(ConversationStream(built["corpus"], seed=seed))
    res = orch.orchestrate(tick.embedding, sentiment=(0.2, 0.7, 0.5), interrupted=True, measured_rate_hz=25.0)
    return res, tick


def test_a_two_objective_user_scalarises_with_its_weights_and_names_each_objective(built):
    from superinstance.equilibrium.loop import user_state
    from superinstance.frozen_model_rl.simulation import TwoObjectiveUser

    arms = built["arms"]
    fn = simulated_user_reward(TwoObjectiveUser(seed=7, weights=(0.8, 0.2)), arms)
    twin = TwoObjectiveUser(seed=7, weights=(0.8, 0.2))  # the same noise, drawn independently
    res, tick = _one_step(built)
    out = fn(res, tick)
    state = user_state(res, tick)
    w = [np.array([a.rate, a.context, a.sentiment, a.interruption]) for a in arms]
    observed = twin.reward(w[res.arm], state)
    expected = np.array([twin.expected(x, state) for x in w])  # (arms, 2)
    assert set(out) == {"reward", "expected_reward", "best_expected", "random_expected", "satisfaction", "stability"}
    assert (out["satisfaction"], out["stability"]) == (observed[0], observed[1])
    assert out["reward"] == pytest.approx(0.8 * observed[0] + 0.2 * observed[1], abs=1e-15)
    scalar = 0.8 * expected[:, 0] + 0.2 * expected[:, 1]
    assert out["expected_reward"] == pytest.approx(scalar[res.arm], abs=1e-15)
    assert out["best_expected"] == pytest.approx(scalar.max(), abs=1e-15)
    assert out["random_expected"] == pytest.approx(scalar.mean(), abs=1e-15)
    assert 0.0 <= min(observed) and max(observed) <= 1.0


def test_a_single_objective_user_gives_what_it_gave_before(built):
    from superinstance.equilibrium.loop import user_state

    fn = simulated_user_reward(SimulatedUser(seed=3), built["arms"])
    twin = SimulatedUser(seed=3)
    res, tick = _one_step(built, seed=4)
    out = fn(res, tick)
    state = user_state(res, tick)
    w = [np.array([a.rate, a.context, a.sentiment, a.interruption]) for a in built["arms"]]
    values = [twin.expected(x, state) for x in w]
    assert out == {"reward": twin.reward(w[res.arm], state), "expected_reward": values[res.arm],
                   "best_expected": max(values), "random_expected": float(np.mean(values))}


def test_a_multi_objective_user_needs_one_weight_per_objective(built):
    class Odd:
        objectives = ("a", "b")
        weights = (1.0, 0.0, 0.0)

    with pytest.raises(ValueError, match="one per objective"):
        simulated_user_reward(Odd(), built["arms"])


def test_the_demo_rewards_two_objectives_by_default_and_one_when_asked(tmp_path):
    record = run_demo(0.5, 20.0, str(tmp_path / "r"), per_subtopic=10, kind="flat", live=False)
    ticks, s = record["ticks"], record["summary"]
    assert record["objectives"] == ["satisfaction", "stability"] and ticks
    for t in ticks:  # the demo's user scalarises 0.5 / 0.5
        assert 0.0 <= t["satisfaction"] <= 1.0 and 0.0 <= t["stability"] <= 1.0
        assert t["reward"] == pytest.approx(0.5 * t["satisfaction"] + 0.5 * t["stability"], abs=1e-15)
    for name in ("satisfaction", "stability"):
        assert s[f"mean_{name}"] == pytest.approx(np.mean([t[name] for t in ticks]))
        assert f"mean_{name}" in format_summary(record)
    assert s["mean_reward"] == pytest.approx((s["mean_satisfaction"] + s["mean_stability"]) / 2)
    assert "2-objective reward (satisfaction, stability" in record["description"]
    page = open(record["paths"]["html"]).read()
    assert "Reward objectives" in page and "mean_stability" in page

    one = run_demo(0.5, 20.0, None, per_subtopic=10, kind="flat", live=False, objectives=1)
    assert one["objectives"] == [] and one["config"]["objectives"] == 1
    assert not any("satisfaction" in t or "stability" in t for t in one["ticks"])
    assert not any(k.startswith("mean_s") for k in one["summary"])
    with pytest.raises(ValueError, match="objectives must be 1 or 2"):
        run_demo(0.5, 20.0, None, per_subtopic=10, kind="flat", live=False, objectives=3)


def test_the_token_task_publishes_the_shared_rate_state(built):
    import os
    import uuid

    from superinstance.realtime_core import RateState

    name = f"si-test-loop-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with Scheduler(clock=VirtualClock()) as sched:
            loop = _loop(built, sched, 20.0, publish=name)
            loop.start(1.0)
            state = RateState.attach(name)  # another process would attach the same way
            loop.wait()
            snap, record = state.read(), loop.record()
            # the scheduler's task ran 20 steps plus the call at the end deadline that ended the run
            assert snap.rate_hz == 20.0 and snap.ticks == record["timer"]["tasks"]["token"]["calls"] + 1 == 21
            assert snap.last_emission_ns == loop.end_ns
            assert snap.state == "closed"  # the run's end removed the task and closed the block
            loop.close()
    finally:
        RateState.unlink(name)
