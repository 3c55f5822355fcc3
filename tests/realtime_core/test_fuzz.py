"""Property-based fuzzing of every public call of realtime_core, and the grid against integer oracles.

Two kinds of properties:
* refused calls: each argument of each public call gets bad values (wrong types, None, NaN/inf, huge and
  negative ints, huge/negative periods, rates and starts); a call is either accepted or refused with a
  clear error (never a crash or pybind11's signature dump), and a refused call leaves the object as it
  was and usable (its next tick / next deadline unchanged);
* correctness: deadlines are exactly start + floor(k * period) on the virtual clock (Python integers as
  the oracle), and the missed-tick policies, rate changes and the EDF scheduler follow a Python model
  of the documented rules tick for tick.
"""

import ctypes
import ctypes.util
import math
from fractions import Fraction

import numpy as np
import pytest
from fuzz_helpers import HUGE_INTS, assert_rejected_cleanly, bad_values
from hypothesis import assume, given
from hypothesis import strategies as st

from superinstance.realtime_core import (LatencyStats, RealtimeExecutor, Scheduler, Tick, Timer, VirtualClock,
                                         period_fraction)

pytestmark = pytest.mark.fuzz

END = 2**63 - 1


def extreme_values():
    """bad_values() plus the extremes of this module: huge/negative periods, rates and starts."""
    return st.one_of(bad_values(), st.sampled_from([0, 999, 10**15 + 1, 1e-7, 2e6, END, END + 1, -(2**63),
                                                    Fraction(1, 10**7), Fraction(10**7), Fraction(-3, 2),
                                                    1e6 + 0.5, 2.0**63, -1e-300, np.float32(1e30)]))


def _getpid_address():
    # getpid ignores its arguments: a native task that does nothing, whatever user_data is.
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return ctypes.cast(libc.getpid, ctypes.c_void_p).value


NOOP_NATIVE = _getpid_address()


def _accepted_ns(value):
    """Whether value is a valid *_ns argument (an int or a whole float within [0, 2**63-1])."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return 0 <= int(value) <= END
    if isinstance(value, float):
        return math.isfinite(value) and value == int(value) and 0 <= value < 2.0**63
    return False


# ---------------------------------------------------------------- Timer
TIMER_ARGS = ["rate_hz", "period_ns", "start_ns", "waiter", "on_missed", "clock"]


@given(arg=st.sampled_from(TIMER_ARGS), value=extreme_values())
def test_timer_constructor_refuses_cleanly(arg, value):
    kwargs = dict(period_ns=1_000_000, start_ns=0, clock=VirtualClock(0))
    if arg == "rate_hz":
        del kwargs["period_ns"]
    kwargs[arg] = value
    holder = []
    if assert_rejected_cleanly(lambda: holder.append(Timer(**kwargs))):
        t = holder[0]
        if arg == "start_ns" and value is not None:  # None: the default (now + one period)
            assert _accepted_ns(value) and t.tick().deadline_ns == int(value)
        if arg == "period_ns":
            assert _accepted_ns(value) and t.period_fraction == (int(value), 1)
        t.close()


def _timer_state(t):
    return t.next_index, t.next_deadline_ns, t.period_fraction, t.on_missed, t.stats().count


@given(method=st.sampled_from(["set_rate(rate_hz)", "set_rate(period_ns)", "set_on_missed"]), value=extreme_values())
def test_timer_calls_refuse_cleanly_and_keep_the_grid(method, value):
    t = Timer(period_ns=1_000_000, start_ns=0, clock=VirtualClock(0), on_missed="burst")
    t.tick()
    call = {"set_rate(rate_hz)": lambda: t.set_rate(rate_hz=value),
            "set_rate(period_ns)": lambda: t.set_rate(period_ns=value),
            "set_on_missed": lambda: t.set_on_missed(value)}[method]
    if not assert_rejected_cleanly(call, lambda: _timer_state(t)):
        assert t.tick().deadline_ns == 1_000_000  # the next tick is where it was


# ---------------------------------------------------------------- VirtualClock, Tick, period_fraction
@given(method=st.sampled_from(["advance", "set", "set_wake_latency", "set_wake_script", "VirtualClock"]),
       value=st.one_of(extreme_values(), st.lists(extreme_values(), max_size=3)))
def test_virtual_clock_refuses_cleanly(method, value):
    clock = VirtualClock(1000)
    clock.set_wake_latency(7)
    t = Timer(period_ns=1000, start_ns=5000, clock=clock, on_missed="burst")
    call = {"advance": lambda: clock.advance(value), "set": lambda: clock.set(value),
            "set_wake_latency": lambda: clock.set_wake_latency(value),
            "set_wake_script": lambda: clock.set_wake_script(value), "VirtualClock": lambda: VirtualClock(value)}[method]
    if not assert_rejected_cleanly(call, lambda: (clock.now_ns(), clock.waits)):
        tick = t.tick()  # the refused call changed neither the time nor the wake latency
        assert (tick.deadline_ns, tick.woke_ns) == (5000, 5007)


@given(position=st.integers(0, 4), value=extreme_values())
def test_tick_constructor_refuses_cleanly(position, value):
    args = [1, 2, 3, 4, 5]
    args[position] = value
    holder = []
    if assert_rejected_cleanly(lambda: holder.append(Tick(*args))):
        tk = holder[0]
        assert [tk.index, tk.deadline_ns, tk.woke_ns, tk.lateness_ns, tk.missed][position] == int(value)


@given(which=st.sampled_from(["rate_hz", "period_ns"]), value=extreme_values())
def test_period_fraction_refuses_cleanly(which, value):
    holder = []
    if assert_rejected_cleanly(lambda: holder.append(period_fraction(**{which: value}))):
        num, den = holder[0]
        assert 1000 * den <= num <= 10**15 * den  # within [1 us, 1e15 ns]


@given(bound=st.sampled_from(["p50_ns", "p99_ns", "p999_ns", "max_ns", "missed"]), value=extreme_values())
def test_latency_stats_within_refuses_cleanly(bound, value):
    t = Timer(period_ns=1000, start_ns=0, clock=VirtualClock(0))
    t.tick()
    stats = t.stats()
    assert isinstance(stats, LatencyStats)
    holder = []
    if assert_rejected_cleanly(lambda: holder.append(stats.within(**{bound: value}))):
        assert holder[0] == (value is None or 0 <= value)  # the one tick had lateness 0 and missed 0


# ---------------------------------------------------------------- Scheduler (virtual clock)
SCHED_CALLS = ["add.fn", "add.rate_hz", "add.period_ns", "add.name", "add.on_missed", "add.start_ns",
               "add_native.address", "add_native.user_data", "remove", "stats", "run_until", "run_for"]


def _sched_state(s, ids):
    return s.tasks(), s.now_ns(), [s.stats(i).count for i in ids]


@given(call=st.sampled_from(SCHED_CALLS), value=extreme_values())
def test_scheduler_calls_refuse_cleanly_and_stay_usable(call, value):
    clock = VirtualClock(0)
    s = Scheduler(clock=clock)
    ids = [s.add(lambda tick: None, period_ns=1_000_000, start_ns=0)]
    s.run_until(2_500_000)  # 3 calls
    task = dict(fn=lambda tick: None, period_ns=1_000_000)
    name, _, arg = call.partition(".")
    if name == "add":
        if arg == "rate_hz":
            del task["period_ns"]
        task[arg] = value
        fn = task.pop("fn")
        attempt = lambda: s.add(fn, **task)  # noqa: E731
    elif name == "add_native":
        native = dict(address=NOOP_NATIVE, user_data=0, period_ns=10**15)
        native[arg] = value
        attempt = lambda: s.add_native(native.pop("address"), **native)  # noqa: E731
    else:
        attempt = {"remove": lambda: s.remove(value), "stats": lambda: s.stats(value),
                   "run_until": lambda: s.run_until(value), "run_for": lambda: s.run_for(value)}[name]
        if name in ("run_until", "run_for"):
            # An accepted run would be long: a 1 ms task up to 2**63 ns is 9e12 calls.
            assume(not _accepted_ns(value) or int(value) < 10**9)
    if assert_rejected_cleanly(attempt, lambda: _sched_state(s, ids)):
        for i in s.tasks():
            if i not in ids:
                s.remove(i)  # a native task added with an accepted odd address is never run
        return
    before = s.stats(ids[0]).count
    s.run_for(2_000_000)
    assert s.stats(ids[0]).count == before + 2  # still on its grid: deadlines 3 ms and 4 ms


# ---------------------------------------------------------------- RealtimeExecutor
@pytest.fixture(scope="module")
def executor():
    with RealtimeExecutor(lock_memory=False) as ex:
        yield ex


@pytest.fixture(scope="module")
def stopped_executor():
    # A loop stopped (not closed) by its own callback: join(timeout) returns at once for any valid timeout.
    with RealtimeExecutor(lock_memory=False) as ex:
        ex.add(lambda tick: ex.close(), period_ns=1000, start_ns=0)
        assert ex.join(10)
        yield ex


EXECUTOR_CALLS = ["add.fn", "add.rate_hz", "add.period_ns", "add.name", "add.on_missed", "add.start_ns",
                  "add_native.address", "add_native.user_data", "remove", "stats", "submit", "join"]


@given(call=st.sampled_from(EXECUTOR_CALLS), value=extreme_values())
def test_executor_calls_refuse_cleanly(executor, stopped_executor, call, value):
    far = 10**15  # ~11 days: an accepted task never runs during the test
    name, _, arg = call.partition(".")
    ex = executor
    if name in ("add", "add_native"):
        task = dict(fn=lambda tick: None, address=NOOP_NATIVE, user_data=0, period_ns=far)
        if arg == "rate_hz":
            del task["period_ns"]
        task[arg] = value
        fn, address = task.pop("fn"), task.pop("address")
        if name == "add":
            del task["user_data"]
            attempt = lambda: ex.add(fn, **task)  # noqa: E731
        else:
            attempt = lambda: ex.add_native(address, **task)  # noqa: E731
    elif name == "join":
        ex = stopped_executor
        attempt = lambda: ex.join(value)  # noqa: E731
    else:
        attempt = {"remove": lambda: ex.remove(value), "stats": lambda: ex.stats(value),
                   "submit": lambda: ex.submit(value)}[name]
    before = ex.tasks()
    if assert_rejected_cleanly(attempt, ex.tasks):
        for i in ex.tasks():
            if i not in before:
                ex.remove(i)
    assert not ex.closed
    if ex is executor:
        assert ex.submit(pow, 2, 5).result(5) == 32  # the loop still works


EXECUTOR_ARGS = ["policy", "priority", "cpus", "lock_memory", "runtime_ns", "deadline_ns", "period_ns", "on_error",
                 "waiter", "prefault_stack_bytes", "python_lead_ns"]


@given(arg=st.sampled_from(EXECUTOR_ARGS), value=extreme_values())
def test_executor_constructor_refuses_cleanly(arg, value):
    holder = []
    kwargs = {"lock_memory": False, arg: value}
    if assert_rejected_cleanly(lambda: holder.append(RealtimeExecutor(**kwargs))):
        holder[0].close()


# ---------------------------------------------------------------- correctness against integer oracles
def _periods():
    """(kwargs, num, den): a period_ns, or an exact rate p/q Hz whose period is 10**9 * q / p ns."""
    by_ns = st.integers(1000, 10**15).map(lambda p: ({"period_ns": p}, p, 1))
    by_rate = st.builds(Fraction, st.integers(1, 10**6), st.integers(1, 10**6)).filter(
        lambda r: Fraction(1, 10**6) <= r <= 10**6).map(lambda r: ({"rate_hz": r}, 10**9 * r.denominator, r.numerator))
    return st.one_of(by_ns, by_rate)


@given(period=_periods(), start=st.integers(0, 2**62), n=st.integers(1, 40),
       jumps=st.lists(st.integers(0, 10**16), max_size=4))
def test_deadlines_are_exactly_start_plus_k_periods(period, start, n, jumps):
    kwargs, num, den = period
    clock = VirtualClock(start)
    t = Timer(start_ns=start, clock=clock, on_missed="burst", **kwargs)
    for k in range(n):
        assert t.tick().deadline_ns == start + k * num // den
    # Far along the grid (skip: the next tick is the first deadline after the clock).
    t.set_on_missed("skip")
    for jump in jumps:
        if clock.now_ns() + jump > END - 10**16:
            break
        clock.advance(jump)
        t.tick()
        k = t.next_index
        assert t.next_deadline_ns == start + k * num // den
        assert start + (k - 1) * num // den <= clock.now_ns() < start + k * num // den


class TimerModel:
    """The documented grid and missed-tick rules (docs/realtime_core.md), in Python integers."""

    def __init__(self, num, den, start, policy):
        self.num, self.den, self.anchor_k, self.anchor_ns = num, den, 0, start
        self.policy, self.next = policy, 0
        self.count = self.missed = self.overruns = self.max_late = 0

    def deadline(self, k):
        return self.anchor_ns + (k - self.anchor_k) * self.num // self.den

    def first_after(self, t, k):
        """The smallest j >= k with deadline(j) > t."""
        if self.deadline(k) > t:
            return k
        j = max(k, self.anchor_k + (t - self.anchor_ns) * self.den // self.num)  # exact up to one step
        while self.deadline(j) <= t:
            j += 1
        while j > k and self.deadline(j - 1) > t:
            j -= 1
        return j

    def complete(self, woke):
        k, d = self.next, self.deadline(self.next)
        following = self.first_after(woke, k + 1)
        behind = following - (k + 1)
        missed = 0
        if self.policy == "skip":
            missed, self.next = behind, following
        else:
            if self.policy == "delay" and behind:
                self.anchor_k, self.anchor_ns = k, woke  # the next deadline is woke + one period
            self.next = k + 1
        self.count += 1
        self.missed += missed
        self.overruns += behind > 0
        self.max_late = max(self.max_late, woke - d)
        return (k, d, woke, woke - d, missed)

    def set_period(self, num, den):
        d = self.deadline(self.next)
        self.anchor_k, self.anchor_ns, self.num, self.den = self.next, d, num, den


STEPS = st.lists(st.tuples(st.sampled_from(["tick", "tick", "tick", "rate"]), st.integers(0, 5_000_000),
                           st.integers(0, 5_000_000), st.integers(1000, 3_000_000)), min_size=1, max_size=40)


@given(period=st.integers(1000, 3_000_000), start=st.integers(0, 10**12), policy=st.sampled_from(["skip", "burst",
       "delay"]), steps=STEPS)
def test_missed_tick_policies_follow_the_model(period, start, policy, steps):
    clock = VirtualClock(start)
    t = Timer(period_ns=period, start_ns=start, clock=clock, on_missed=policy)
    model = TimerModel(period, 1, start, policy)
    now = start
    for op, latency, work, new_period in steps:
        if op == "rate":
            t.set_rate(period_ns=new_period)
            model.set_period(new_period, 1)
            assert t.next_deadline_ns == model.deadline(model.next)
            continue
        clock.set_wake_latency(latency)
        now = max(now, model.deadline(model.next)) + latency  # a virtual wait: to the deadline, plus latency
        tk = t.tick()
        assert (tk.index, tk.deadline_ns, tk.woke_ns, tk.lateness_ns, tk.missed) == model.complete(now)
        clock.advance(work)  # the loop body's work
        now += work
        assert (t.next_index, t.next_deadline_ns) == (model.next, model.deadline(model.next))
    s = t.stats()
    assert (s.count, s.missed, s.overruns, s.max_ns) == (model.count, model.missed, model.overruns, model.max_late)


TASKS = st.lists(st.tuples(st.integers(1000, 2_000_000), st.integers(0, 3_000_000), st.integers(0, 1_500_000),
                           st.sampled_from(["skip", "burst", "delay"])), min_size=1, max_size=4)


@given(tasks=TASKS, until=st.integers(0, 20_000_000))
def test_scheduler_follows_the_edf_model(tasks, until):
    """Earliest deadline first (ties: the older task), each call's work delays the others; run_until runs
    the calls due before its end."""
    clock = VirtualClock(0)
    s = Scheduler(clock=clock)
    log = []
    for i, (period, start, work, policy) in enumerate(tasks):
        def body(tick, i=i, work=work):
            log.append((i, tick.index, tick.deadline_ns, tick.woke_ns, tick.missed))
            clock.advance(work)
        s.add(body, period_ns=period, start_ns=start, on_missed=policy)
    s.run_until(until)

    models = [TimerModel(p, 1, start, policy) for p, start, _, policy in tasks]
    expect, now = [], 0
    while now < until:
        due = [(m.deadline(m.next), i) for i, m in enumerate(models) if m.deadline(m.next) < until]
        if not due:
            break
        d, i = min(due)
        now = max(now, d)
        index, deadline, woke, _, missed = models[i].complete(now)
        expect.append((i, index, deadline, woke, missed))
        now += tasks[i][2]
    assert log == expect
    assert clock.now_ns() == max(now, until)
