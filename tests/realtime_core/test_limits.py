"""The ends of the clock, argument checking, interruptible waits and the Python 3.9/3.10 note helper."""

import ctypes
import ctypes.util
import os
import signal
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from superinstance import _core
from superinstance.realtime_core import RealtimeExecutor, Scheduler, Tick, Timer, VirtualClock
from superinstance.realtime_core._executor import TaskErrors, _add_note

END = 2**63 - 1  # the last int64 nanosecond


def _libc_free_address():
    # free(NULL) does nothing: called as f(user_data=0, index, deadline) it is a native no-op task.
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return ctypes.cast(libc.free, ctypes.c_void_p).value


# ---- deadlines at the end of the int64 clock
def test_the_issue_timer_raises_instead_of_spinning():
    t = Timer(period_ns=1000, start_ns=END, clock=VirtualClock(0), waiter="virtual")
    assert t.tick().deadline_ns == END
    for _ in range(2):  # refused every time, and nothing changes
        with pytest.raises(OverflowError, match="past 2\\*\\*63-1"):
            t.tick()
        assert (t.next_index, t.stats().count) == (1, 1)
    with pytest.raises(OverflowError):
        t.next_deadline_ns
    with pytest.raises(OverflowError):
        t.set_rate(period_ns=2000)  # re-anchoring needs the next deadline


@pytest.mark.parametrize("missed", ["skip", "burst", "delay"])
def test_last_representable_deadlines_are_exact(missed):
    period = 999_983  # prime: no lucky rounding
    start = END - 5 * period
    t = Timer(period_ns=period, start_ns=start, clock=VirtualClock(start), on_missed=missed)
    assert [t.tick().deadline_ns for _ in range(6)] == [start + k * period for k in range(6)]
    with pytest.raises(OverflowError):
        t.tick()


def test_virtual_clock_stays_in_range():
    c = VirtualClock(END - 10)
    with pytest.raises(OverflowError, match="2\\*\\*63-1"):
        c.advance(11)
    assert c.now_ns() == END - 10
    c.advance(10)
    assert c.now_ns() == END
    with pytest.raises(ValueError, match="start_ns"):
        VirtualClock(-1)
    # A wake latency that would carry a wait past the end: refused before the clock moves.
    c2 = VirtualClock(0)
    c2.set_wake_latency(100)
    t = Timer(period_ns=1000, start_ns=END - 50, clock=c2)
    with pytest.raises(OverflowError):
        t.tick()
    assert (c2.now_ns(), t.next_index) == (0, 0)


def test_default_start_near_the_end_is_refused():
    with pytest.raises(OverflowError, match="default start"):
        Timer(rate_hz=10, clock=VirtualClock(END - 10))
    with pytest.raises(OverflowError, match="default start"):
        Scheduler(clock=VirtualClock(END - 10)).add(lambda tk: None, rate_hz=10)


def test_scheduler_tasks_past_the_end_are_never_due():
    clock = VirtualClock(END - 3000)
    s = Scheduler(clock=clock)
    calls = []
    tid = s.add(lambda tk: calls.append(tk.deadline_ns), period_ns=1000, start_ns=END - 2000)
    s.run_until(END)
    assert calls == [END - 2000, END - 1000] and clock.now_ns() == END  # run_until runs calls due before END
    assert s.stats(tid).count == 2
    t = Timer(period_ns=1000, start_ns=END - 1000, clock=clock, on_missed="burst")  # the clock is at END already
    assert [t.tick().deadline_ns for _ in range(2)] == [END - 1000, END]  # END itself is a deadline
    with pytest.raises(OverflowError):
        t.tick()


# ---- waits that stay interruptible
def _interrupt_soon(delay=0.3):
    threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()


def test_long_virtual_run_is_interruptible():
    s = Scheduler(clock=VirtualClock(0))
    s.add_native(_libc_free_address(), period_ns=1000, on_missed="burst")
    t0 = time.monotonic()
    _interrupt_soon()
    with pytest.raises(KeyboardInterrupt):
        s.run_until(2**62)  # ~4.6e15 native calls: would take months
    assert time.monotonic() - t0 < 10
    assert s.now_ns() < 2**62


def test_keyboard_interrupt_in_a_callback_stops_the_run():
    s = Scheduler(clock=VirtualClock(0))  # on_error="continue" does not swallow it

    def cb(tick):
        if tick.index == 3:
            raise KeyboardInterrupt

    tid = s.add(cb, period_ns=1000, start_ns=0)
    with pytest.raises(KeyboardInterrupt):
        s.run_until(10**9)
    assert s.stats(tid).count == 4


def test_real_timer_wait_is_interruptible():
    with Timer(period_ns=10**15, waiter="timerfd") as t:  # first deadline ~11 days away
        _interrupt_soon()
        with pytest.raises(KeyboardInterrupt):
            t.tick()


def test_join_from_its_own_callback_is_refused():
    got = []

    def cb(tick):
        try:
            ex.join(1)
        except ValueError as e:
            got.append(str(e))
        ex.close()  # asks the loop to stop

    with RealtimeExecutor(lock_memory=False) as ex:
        ex.add(cb, period_ns=1000, start_ns=0)
        assert ex.join(10)
    assert got and "forever" in got[0]


# ---- scalar arguments: a clear TypeError / ValueError, never a signature dump
BAD_TIMER = [
    (dict(rate_hz="10"), TypeError, "rate_hz must be a number, got str"),
    (dict(rate_hz=b"10"), TypeError, "rate_hz must be a number, got bytes"),
    (dict(rate_hz=None, period_ns="1000"), TypeError, "period_ns must be an int, got str"),
    (dict(period_ns=2**64), ValueError, "period_ns = 18446744073709551616 is out of range"),
    (dict(period_ns=float("nan")), ValueError, "period_ns is NaN"),
    (dict(rate_hz=Fraction(10**30, 1)), ValueError, "numerator"),
    (dict(rate_hz=10, start_ns=2**63), ValueError, "start_ns"),
    (dict(rate_hz=10, start_ns="0"), TypeError, "start_ns must be an int"),
    (dict(rate_hz=10, on_missed=3), TypeError, "on_missed must be a str"),
    (dict(rate_hz=10, clock=3), TypeError, "VirtualClock"),
]


@pytest.mark.parametrize("kwargs, exc, match", BAD_TIMER)
def test_timer_arguments(kwargs, exc, match):
    kwargs.setdefault("clock", VirtualClock(0))
    with pytest.raises(exc, match=match):
        Timer(**kwargs)


def test_whole_float_ns_arguments_are_accepted():
    t = Timer(period_ns=2e6, start_ns=1e6, clock=VirtualClock(0))
    assert t.tick().deadline_ns == 1_000_000 and t.period_fraction == (2_000_000, 1)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(cpus="0"), TypeError, "cpus must be a sequence"),
    (dict(cpus=[0.5]), TypeError, "cpus entry must be an int"),
    (dict(cpus=[-1]), ValueError, "cpus entry = -1 is out of range"),
    (dict(lock_memory="no"), TypeError, "lock_memory must be a bool"),
    (dict(policy="fifo", priority="3"), TypeError, "priority must be an int"),
    (dict(python_lead_ns="1"), TypeError, "python_lead_ns must be an int"),
    (dict(prefault_stack_bytes=-1), ValueError, "prefault_stack_bytes = -1"),
    (dict(waiter=3), TypeError, "waiter must be a str"),
    (dict(policy=3), TypeError, "policy must be a str"),
    (dict(on_error=None), TypeError, "on_error must be a str"),
])
def test_executor_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        RealtimeExecutor(**kwargs)


def test_executor_call_arguments():
    with RealtimeExecutor(lock_memory=False) as ex:
        tid = ex.add(lambda tk: None, rate_hz=10)
        for call, exc, match in [
            (lambda: ex.remove("a"), TypeError, "task_id must be an int, got str"),
            (lambda: ex.remove(-1), ValueError, "task_id = -1 is out of range"),
            (lambda: ex.stats(2**64), ValueError, "task_id"),
            (lambda: ex.join("1"), TypeError, "timeout_s must be a number"),
            (lambda: ex.join(float("nan")), ValueError, "timeout_s is NaN"),
            (lambda: ex.add(3, rate_hz=1), TypeError, "fn must be callable"),
            (lambda: ex.add_native("0x10", rate_hz=1), TypeError, "address must be an int"),
            (lambda: ex.add_native(0, rate_hz=1), ValueError, "address is 0"),
            (lambda: ex.add(print, rate_hz=1, name=5), TypeError, "name must be a str"),
            (lambda: ex.submit(3), TypeError, "fn must be callable"),
        ]:
            with pytest.raises(exc, match=match):
                call()
        assert ex.tasks() == [tid]  # nothing was added by the refused calls


def test_clock_tick_and_scheduler_arguments():
    c = VirtualClock(0)
    for call, exc, match in [
        (lambda: c.set("x"), TypeError, "t_ns must be an int"),
        (lambda: c.advance(-1), ValueError, "ns = -1"),
        (lambda: c.set_wake_script("abc"), TypeError, "latencies_ns must be a sequence"),
        (lambda: c.set_wake_script([1, "a"]), TypeError, "latencies_ns entry"),
        (lambda: Tick("a", 1, 2, 3), TypeError, "index must be an int"),
        (lambda: Scheduler(clock=c).run_until("5"), TypeError, "until_ns must be an int"),
        (lambda: Scheduler(clock=c).run_for(1.5), ValueError, "duration_ns must be a whole number"),
        (lambda: Scheduler(clock=c).run_for("1"), TypeError, "duration_ns must be an int"),
        (lambda: Scheduler(clock=c).run_for(-1), ValueError, "duration_ns must be >= 0"),
        (lambda: Scheduler(clock=c, on_error=1), TypeError, "on_error must be a str"),
        (lambda: Scheduler(executor=3), TypeError, "executor must be a RealtimeExecutor"),
        (lambda: _core.RtScheduler(3), TypeError, "clock must be"),
    ]:
        with pytest.raises(exc, match=match):
            call()
    assert c.now_ns() == 0
    assert Tick(1, 2, 3, 1) != "not a tick"


# ---- Python 3.9/3.10: the note helper
def test_add_note_keeps_the_exception_and_adds_the_note():
    e = ValueError("boom")
    _add_note(e, "first")
    _add_note(e, "second")
    assert e.__notes__ == ["first", "second"] and e.args == ("boom",)


def test_add_note_on_python_before_3_11(monkeypatch):
    # What 3.9/3.10 do: no BaseException.add_note; the note still lands in __notes__.
    import superinstance.realtime_core._executor as mod
    monkeypatch.setattr(mod.sys, "version_info", (3, 9, 18))
    e = RuntimeError("boom")
    mod._add_note(e, "raised by realtime task 't'")
    assert e.__notes__ == ["raised by realtime task 't'"] and str(e) == "boom"


def test_raise_first_keeps_the_task_exception(monkeypatch):
    import superinstance.realtime_core._executor as mod
    monkeypatch.setattr(mod.sys, "version_info", (3, 10, 0))
    errors = TaskErrors()
    original = ZeroDivisionError("the task's own error")
    errors.sink("t", original)
    errors.sink("t", ValueError("second"))
    with pytest.raises(ZeroDivisionError) as ei:
        errors.raise_first()
    assert ei.value is original and "2 failed call(s)" in ei.value.__notes__[0]
    errors.raise_first()  # cleared: raised once


def test_numpy_scalars_everywhere():
    c = VirtualClock(np.int64(0))
    c.advance(np.uint32(5))
    s = Scheduler(clock=c)
    tid = s.add(lambda tk: None, period_ns=np.int64(1000), start_ns=np.int64(5))
    s.run_until(np.int64(5000))
    assert s.stats(np.uint64(tid)).count == 5
