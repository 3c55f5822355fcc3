"""Create/close cycles return file descriptors, threads and locked memory to the baseline.

The issue asks for 2,000 cycles. Every kind below runs 2,000, except two whose single cycle is slow
for a reason that repeating it does not exercise further:
* the hybrid waiter calibrates its spin margin at creation with 16 real 200 us sleeps (~4.5 ms a
  timer, ~9 s for 2,000): 200 cycles, which would still show a leak of one descriptor or thread per
  cycle 200 times over;
* an executor with lock_memory=True pays mlockall/munlockall of the whole process (~16 ms here):
  100 cycles, checking that VmLck returns to its baseline (munlockall when the last one closes).
The whole file takes ~10 s here.
"""

import gc
import threading
import warnings

import pytest

from resource_probes import locked_memory_kb, open_fds, os_threads
from superinstance.realtime_core import RealtimeExecutor, Scheduler, Timer, VirtualClock, waiters
from superinstance.realtime_core import RealtimeFallbackWarning

WORKING = {b["name"] for b in waiters() if b["ok"]}
CYCLES = 2000




def _snapshot():
    gc.collect()
    return {"fds": open_fds(), "os threads": os_threads(), "python threads": threading.active_count()}


def _assert_cycles_leave_nothing(cycle, n):
    for _ in range(5):  # warm-up: first-use allocations (imports, caches) are not leaks
        cycle()
    before = _snapshot()
    for _ in range(n):
        cycle()
    assert _snapshot() == before


@pytest.mark.parametrize("waiter", ["clock_nanosleep", "timerfd", "io_uring", "hybrid"])
def test_timer_cycles(waiter):
    if waiter not in WORKING:
        pytest.skip(f"{waiter} refused here")

    def cycle():
        t = Timer(rate_hz=1000, waiter=waiter)
        t.close()

    _assert_cycles_leave_nothing(cycle, 200 if waiter == "hybrid" else CYCLES)


def test_timer_cycles_with_a_tick_and_the_asyncio_fd():
    def cycle():
        t = Timer(period_ns=1000, start_ns=0, waiter="timerfd")  # deadline passed: tick() returns at once
        t.tick()
        t._t.async_fd()  # the extra timerfd of aiter(), released by close()
        t.close()

    _assert_cycles_leave_nothing(cycle, CYCLES)


def test_virtual_timer_and_scheduler_cycles():
    def cycle():
        clock = VirtualClock(0)
        with Timer(rate_hz=1000, clock=clock) as t:
            t.tick()
        with Scheduler(clock=clock) as s:
            s.add(lambda tick: None, rate_hz=1000)
            s.run_for(5_000_000)

    _assert_cycles_leave_nothing(cycle, CYCLES)


def test_executor_cycles():
    def cycle():
        with RealtimeExecutor(lock_memory=False) as ex:
            ex.add(lambda tick: None, rate_hz=1000)

    _assert_cycles_leave_nothing(cycle, CYCLES)


def test_owned_scheduler_cycles():
    def cycle():
        with Scheduler(lock_memory=False) as s:
            s.add(lambda tick: None, rate_hz=1000)

    _assert_cycles_leave_nothing(cycle, CYCLES)


def test_executor_cycles_that_run_tasks_and_jobs():
    # Cycles where the thread really runs: a job and a few calls of a task before the close.
    def cycle():
        with RealtimeExecutor(lock_memory=False, python_lead_ns=0) as ex:
            ex.add(lambda tick: None, period_ns=100_000, start_ns=0)
            ex.submit(int).result(5)

    _assert_cycles_leave_nothing(cycle, CYCLES)


def test_locked_executor_cycles_unlock_memory():
    base = locked_memory_kb()

    def cycle():
        with warnings.catch_warnings():  # where mlockall is refused, VmLck simply stays at its baseline
            warnings.simplefilter("ignore", RealtimeFallbackWarning)
            RealtimeExecutor().close()

    _assert_cycles_leave_nothing(cycle, 100)
    assert locked_memory_kb() == base
