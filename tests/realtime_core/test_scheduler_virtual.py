"""The EDF scheduler in simulated time: exact, deterministic, no sleeping."""

import pytest

from superinstance.errors import ClosedError, UnknownIdError
from superinstance.realtime_core import Scheduler, VirtualClock


def test_2_10_30_hz_in_earliest_deadline_first_order():
    clock = VirtualClock(0)
    log = []
    with Scheduler(clock=clock) as s:
        ids = {r: s.add(lambda t, r=r: log.append((t.deadline_ns, r)), rate_hz=r, start_ns=0) for r in (2, 10, 30)}
        s.run_until(10 * 10**9 - 1)  # ten seconds of deadlines in [0, 10 s)
        counts = {r: s.stats(i).count for r, i in ids.items()}
    assert counts == {2: 20, 10: 100, 30: 300}
    assert [d for d, _ in log] == sorted(d for d, _ in log)  # earliest deadline first
    # Reference: every deadline of every task, in order (ties: the task added first).
    ref = sorted(((k * 10**9) // r, [2, 10, 30].index(r), r) for r in (2, 10, 30) for k in range(r * 10))
    assert log == [(d, r) for d, _, r in ref]


def test_overruns_missed_and_runtime_are_exact():
    clock = VirtualClock(0)
    s = Scheduler(clock=clock)
    n = [0]

    def slow(tick):
        n[0] += 1
        clock.advance(25_000_000 if n[0] % 2 else 1_000_000)  # 2.5 periods, then 0.1

    tid = s.add(slow, period_ns=10_000_000, start_ns=0)
    fast = s.add(lambda t: None, period_ns=1_000_000, start_ns=0)
    s.run_until(100_000_000)
    st = s.stats(tid)
    # Same arithmetic as the C++ test, scaled by 10: calls at k=0,1,3,4,6,7,9 (3 skipped).
    assert n[0] == 7
    assert (st.overruns, st.missed) == (4, 3)
    assert st.extra["runtime_max_ns"] == 25_000_000
    fs = s.stats(fast)
    assert fs.overruns == 0 and fs.missed > 0  # the 1 ms task was starved during the long calls
    assert fs.max_ns <= 25_000_000


def test_add_and_remove_between_runs_and_unknown_ids():
    clock = VirtualClock(0)
    s = Scheduler(clock=clock)
    a = s.add(lambda t: None, rate_hz=100, start_ns=0)
    s.run_for(100_000_000)
    b = s.add(lambda t: None, rate_hz=50)
    s.remove(a)
    s.run_for(100_000_000)
    assert s.tasks() == [b]
    assert s.stats(b).count == 4  # due at 120, 140, 160, 180 ms; 200 ms is the end of the run, not in it
    with pytest.raises(UnknownIdError):
        s.remove(a)
    with pytest.raises(UnknownIdError):
        s.stats(12345)


def test_errors_continue_or_stop():
    clock = VirtualClock(0)
    s = Scheduler(clock=clock)

    def boom(t):
        raise ValueError(f"boom {t.index}")

    tid = s.add(boom, rate_hz=10, start_ns=0)
    with pytest.raises(ValueError, match="boom 0") as ei:
        s.run_for(999_000_000)
    assert "10 failed call(s)" in ei.value.__notes__[0]
    assert s.stats(tid).extra["errors"] == 10

    clock2 = VirtualClock(0)
    s2 = Scheduler(clock=clock2, on_error="stop")
    s2.add(boom, rate_hz=10, start_ns=0)
    with pytest.raises(ValueError, match="boom 0"):
        s2.run_for(10**9)
    assert clock2.now_ns() == 0  # stopped at the first failure
    s2.close()
    with pytest.raises(ClosedError):
        s2.add(boom, rate_hz=1)


def test_bad_task_arguments():
    s = Scheduler(clock=VirtualClock(0))
    with pytest.raises(TypeError):
        s.add("not callable", rate_hz=1)
    with pytest.raises(ValueError):
        s.add(lambda t: None, rate_hz=0)
    with pytest.raises(ValueError):
        s.add(lambda t: None)
    with pytest.raises(ValueError, match="skip, burst or delay"):
        s.add(lambda t: None, rate_hz=1, on_missed="never")
    with Scheduler(lock_memory=False) as threaded:
        with pytest.raises(RuntimeError, match="VirtualClock"):
            threaded.run_for(1)
