"""Every timer waiter that works here, on the real clock.

Timing assertions are about the grid (exact deadlines, no drift, counts,
woke >= deadline), never tight latency numbers: this is a noisy shared 2-core VM.
"""

import os
import threading
import time

import pytest

from superinstance import _core
from superinstance.errors import UnavailableError, ClosedError
from superinstance.realtime_core import Timer, monotonic_ns, waiters

WORKING = [b["name"] for b in waiters() if b["ok"]]
ALL = ["clock_nanosleep", "timerfd", "io_uring", "hybrid"]


def test_every_waiter_is_reported():
    names = [b["name"] for b in waiters()]
    assert names == ALL
    assert "clock_nanosleep" in WORKING  # POSIX: always available on Linux


@pytest.mark.parametrize("waiter", ALL)
def test_waiter_ticks_on_the_exact_grid(waiter):
    if waiter not in WORKING:
        pytest.skip(f"{waiter} refused here: " + next(b["detail"] for b in waiters() if b["name"] == waiter))
    period = 2_000_000  # 500 Hz
    start = monotonic_ns() + 5_000_000
    with Timer(period_ns=period, waiter=waiter, start_ns=start) as t:
        assert t.waiter == waiter
        ticks = [t.tick() for _ in range(60)]
        stats = t.stats()
    for tk in ticks:
        assert tk.deadline_ns == start + tk.index * period  # on the grid, whatever happened
        assert tk.woke_ns >= tk.deadline_ns                 # never early
        assert tk.lateness_ns == tk.woke_ns - tk.deadline_ns
    idx = [tk.index for tk in ticks]
    # skip policy: indices increase by 1 + the deadlines dropped before each next tick
    assert all(b - a == 1 + tk.missed for a, b, tk in zip(idx, idx[1:], ticks))
    assert stats.count == 60 and stats.missed == sum(tk.missed for tk in ticks)
    # No drift: the last deadline is exactly start + last index * period, and the wall time the
    # loop took matches it within scheduling noise (a relative-sleep loop accumulates lateness).
    elapsed = ticks[-1].woke_ns - start
    assert ticks[-1].index * period <= elapsed < ticks[-1].index * period + 250_000_000


@pytest.mark.parametrize("waiter", ["clock_nanosleep", "hybrid"])
def test_timer_slack_is_restored(waiter):
    before = _core.timer_slack_ns()
    with Timer(period_ns=1_000_000, waiter=waiter) as t:
        for _ in range(3):
            t.tick()
    assert _core.timer_slack_ns() == before


def test_auto_reports_its_choice():
    with Timer(rate_hz=1000) as t:
        assert t.waiter in ("clock_nanosleep", "timerfd", "io_uring")
        assert t.waiter in t.waiter_note and "auto chose" in t.waiter_note
        t.tick()


def test_a_refused_waiter_raises_with_the_reason_and_auto_falls_back():
    _core._realtime_simulate_refusal("io_uring", "io_uring_setup: Operation not permitted (seccomp)")
    _core._realtime_simulate_refusal("clock_nanosleep", "simulated")
    try:
        with pytest.raises(UnavailableError, match="io_uring refused: io_uring_setup: Operation not permitted"):
            Timer(rate_hz=100, waiter="io_uring")
        assert not next(b for b in waiters() if b["name"] == "io_uring")["ok"]
        with Timer(rate_hz=100) as t:
            assert t.waiter == "timerfd"
            assert "clock_nanosleep refused: simulated" in t.waiter_note
    finally:
        _core._realtime_clear_refusals()
    with Timer(rate_hz=100, waiter="io_uring") as t:
        assert t.waiter == "io_uring"


@pytest.mark.parametrize("waiter", ALL)
def test_close_wakes_a_blocked_tick(waiter):
    if waiter not in WORKING:
        pytest.skip(f"{waiter} refused here")
    t = Timer(rate_hz=0.01, waiter=waiter)  # next deadline 100 s away
    result = {}

    def waiter():
        try:
            t.tick()
        except ClosedError as e:
            result["err"] = e

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    t.close()
    th.join(2)
    assert not th.is_alive()
    assert isinstance(result.get("err"), ClosedError)
    assert time.monotonic() - t0 < 1.0


def test_tick_releases_the_gil():
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    th = threading.Thread(target=spin)
    th.start()
    try:
        with Timer(period_ns=100_000_000, waiter="clock_nanosleep") as t:
            before = counter[0]
            t.tick()
            assert counter[0] - before > 1000  # the other thread ran while we waited
    finally:
        stop.set()
        th.join()


def _fd_count():
    return len(os.listdir("/proc/self/fd"))


def test_no_file_descriptor_leaks_after_close():
    base = _fd_count()
    for _ in range(5):
        for b in WORKING:
            t = Timer(rate_hz=1000, waiter=b)
            t.tick()
            t.close()
        t = Timer(rate_hz=1000)
        t._t.async_fd()
        t.close()
    assert _fd_count() == base


def test_deterministic_concurrent_ticks_are_serialised():
    # Two threads share one timer: each deadline is delivered exactly once.
    got = []
    lock = threading.Lock()
    with Timer(period_ns=1_000_000, waiter="timerfd", on_missed="burst") as t:
        def run():
            for _ in range(20):
                tk = t.tick()
                with lock:
                    got.append(tk.index)
        ths = [threading.Thread(target=run) for _ in range(2)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
    assert sorted(got) == list(range(40))


@pytest.mark.parametrize("waiter", ["clock_nanosleep", "timerfd"])
def test_signals_interrupt_a_long_tick(waiter):
    import signal

    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted()

    old = signal.signal(signal.SIGUSR1, handler)
    try:
        t = Timer(rate_hz=0.01, waiter=waiter)  # 100 s to the first deadline
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        t0 = time.monotonic()
        with pytest.raises(Interrupted):
            t.tick()
        assert time.monotonic() - t0 < 2.0
        assert t.next_index == 0  # nothing was consumed; the timer is still usable
        t.close()
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_monotonic_ns_is_the_clock_of_the_deadlines():
    # The facade's clock must be the native loop's clock: read them interleaved.
    from superinstance import _core
    from superinstance.realtime_core import monotonic_ns

    for _ in range(100):
        a = monotonic_ns()
        b = _core.realtime_monotonic_ns()
        c = monotonic_ns()
        assert a <= b <= c
