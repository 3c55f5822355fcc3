"""Closed means closed: every public member of each closable realtime_core class, called after close().

Each member runs in a forked child (tests/closed_harness.py), so a crash fails the test by name.
"""

import pytest
from closed_harness import assert_closed_everywhere

from superinstance import _core
from superinstance.errors import ClosedError
from superinstance.realtime_core import RealtimeExecutor, Scheduler, Timer, VirtualClock, waiters

WORKING = {b["name"] for b in waiters() if b["ok"]} | {"virtual"}

# Arguments for members that take some (valid ones: the call must fail only because the object is closed).
TASK_ARGS = '''
def noop(tick):
    pass
'''

NEXT_SKIP = ('"__next__": "by design: next() on a closed Timer raises StopIteration, because closing is how a '
             'for-loop over the timer is ended (docs/realtime_core.md); tested in test_next_after_close_ends_iteration"')


@pytest.mark.parametrize("waiter", ["virtual", "timerfd", "clock_nanosleep"])
def test_timer_facade(waiter):
    if waiter not in WORKING:
        pytest.skip(f"{waiter} refused here")
    clock = "clock=VirtualClock(0), " if waiter == "virtual" else ""
    assert_closed_everywhere(f'''
from superinstance.realtime_core import Timer, VirtualClock
def make():
    return Timer(rate_hz=100, waiter="{waiter}", {clock})
ARGS = {{"set_rate": (50,), "set_on_missed": ("burst",)}}
SKIP = {{{NEXT_SKIP}}}
''')


def test_core_timer():
    assert_closed_everywhere('''
from superinstance import _core
def make():
    return _core.RtTimer(rate_hz=100, waiter="timerfd")
ARGS = {"set_rate": (50,), "set_on_missed": ("burst",)}
ARGS["publish"] = ("si-closed-test",)
''')


def test_virtual_scheduler_facade():
    assert_closed_everywhere(TASK_ARGS + '''
from superinstance.realtime_core import Scheduler, VirtualClock
def make():
    s = Scheduler(clock=VirtualClock(0))
    s.add(noop, rate_hz=10)
    return s
ARGS = {"add": (noop, 10), "add_native": (1, 10), "remove": (1,), "stats": (1,), "run_until": (10**9,),
        "run_for": (10**9,)}
''')


@pytest.mark.parametrize("shared", [False, True])
def test_executor_scheduler_facade(shared):
    make = ("ex = RealtimeExecutor(lock_memory=False)\n    s = Scheduler(ex)" if shared
            else "s = Scheduler(lock_memory=False)")
    assert_closed_everywhere(TASK_ARGS + f'''
from superinstance.realtime_core import RealtimeExecutor, Scheduler
def make():
    {make}
    s.add(noop, rate_hz=10)
    return s
ARGS = {{"add": (noop, 10), "add_native": (1, 10), "remove": (1,), "stats": (1,), "run_until": (10**9,),
        "run_for": (10**9,)}}
''')


def test_core_scheduler():
    assert_closed_everywhere(TASK_ARGS + '''
from superinstance import _core
from superinstance.realtime_core import VirtualClock
def make():
    s = _core.RtScheduler(VirtualClock(0))
    s.add_task(noop, rate_hz=10)
    return s
ARGS = {"add_task": (noop, 10), "add_native_task": (1, 0, 10), "remove_task": (1,), "task_stats": (1,),
        "run_until": (10**9,)}
ARGS["publish_task"] = (1, "si-closed-test")
''')


def test_executor_facade():
    # join, running and obtained raise ClosedError too: after close there is no thread to ask about.
    assert_closed_everywhere(TASK_ARGS + '''
from superinstance.realtime_core import RealtimeExecutor
def make():
    ex = RealtimeExecutor(lock_memory=False)
    ex.add(noop, rate_hz=10)
    return ex
ARGS = {"add": (noop, 10), "add_native": (1, 10), "remove": (1,), "stats": (1,), "submit": (print,),
        "join": (0.1,)}
''')


def test_core_executor():
    assert_closed_everywhere(TASK_ARGS + '''
from superinstance import _core
def make():
    ex = _core.RtExecutor(lock_memory=False)
    ex.add_task(noop, rate_hz=10)
    return ex
ARGS = {"add_task": (noop, 10), "add_native_task": (1, 0, 10), "remove_task": (1,), "task_stats": (1,),
        "submit": (print,), "wait_stopped": (0.1,)}
ARGS["publish_task"] = (1, "si-closed-test")
''')


# ---- the crashes of the issue, spelled out (they were exit 139 before)
def test_executor_reads_after_close_raise():
    ex = RealtimeExecutor(lock_memory=False)
    tid = ex.add(lambda tick: None, rate_hz=100)
    ex.close()
    for call in (lambda: ex.total_errors, lambda: ex.stats(tid), ex.tasks, lambda: ex.remove(tid),
                 lambda: ex.join(0.1), lambda: ex.running, lambda: ex.obtained, lambda: ex.errors):
        with pytest.raises(ClosedError, match="RealtimeExecutor is closed"):
            call()
    ex.close()  # idempotent
    assert ex.closed and repr(ex) == "RealtimeExecutor(closed)"


def test_scheduler_stats_after_with_block_raise():
    with Scheduler(lock_memory=False) as s:
        tid = s.add(lambda tick: None, rate_hz=100)
    with pytest.raises(ClosedError, match="Scheduler is closed"):
        s.stats(tid)
    clock = VirtualClock(0)
    with Scheduler(clock=clock) as s:
        tid = s.add(lambda tick: None, rate_hz=100)
        s.run_for(10**8)
    assert s.closed
    with pytest.raises(ClosedError, match="Scheduler is closed"):
        s.stats(tid)


def test_shared_executor_keeps_running_after_its_scheduler_closes():
    with RealtimeExecutor(lock_memory=False) as ex:
        s = Scheduler(ex)
        s.close()
        assert s.closed and not ex.closed and ex.running
        with pytest.raises(ClosedError):
            s.tasks()


def test_next_after_close_ends_iteration():
    t = Timer(rate_hz=100, clock=VirtualClock(0))
    it = iter(t)
    next(it)
    t.close()
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(ClosedError):
        iter(t)


def test_close_from_a_callback_only_requests_the_stop():
    # A thread cannot join itself: close() from the executor's own callback stops the loop but the
    # executor is closed (and joined) only by a later close() from another thread.
    with RealtimeExecutor(lock_memory=False) as ex:
        ex.add(lambda tick: ex.close(), rate_hz=1000)
        assert ex.join(5)
        assert not ex.closed and not ex.running
        assert ex.tasks()
    assert ex.closed


def test_core_messages_name_the_public_class():
    t = _core.RtTimer(rate_hz=10, clock=VirtualClock(0))
    t.close()
    with pytest.raises(ClosedError, match="^Timer is closed$"):
        t.tick()
