"""Timer logic on a virtual clock: exact grids, missed-tick policies, rate changes, statistics.

Nothing here sleeps: VirtualClock jumps to each deadline (plus a scripted wake
latency), and clock.advance() stands in for the work of a loop body.
"""

from fractions import Fraction

import numpy as np
import pytest

from superinstance.errors import ClosedError
from superinstance.realtime_core import LatencyStats, Tick, Timer, VirtualClock, period_fraction


def grid(start, num, den, k):
    return start + (k * num) // den  # exact reference in Python integers


def test_three_hz_grid_is_exact_over_a_long_run():
    clock = VirtualClock(0)
    t = Timer(rate_hz=3, start_ns=7, clock=clock)
    assert t.period_fraction == (1_000_000_000, 3)
    assert t.period_ns == 333_333_333
    ticks = [t.tick() for _ in range(3001)]
    for k, tk in enumerate(ticks):
        assert tk.index == k
        assert tk.deadline_ns == 7 + (k * 10**9) // 3
        assert tk.lateness_ns == 0
    # After 3000 ticks exactly 1000 s elapsed: a rounded 333333333 ns period would be 1 us early.
    assert ticks[3000].deadline_ns - ticks[0].deadline_ns == 1000 * 10**9


@pytest.mark.parametrize("rate, expect", [(2.5, (400_000_000, 1)), (0.1, (10_000_000_000, 1)),
                                          (Fraction(1000, 3), (3_000_000, 1)), (1000 / 3, (3_000_000, 1)),
                                          (7, (1_000_000_000, 7)), (1e-6, (10**15, 1)), (1e6, (1000, 1))])
def test_rates_are_read_as_exact_fractions(rate, expect):
    # Exact on every CPU: the continued fraction uses only floor, subtraction and division of doubles
    # (correctly rounded IEEE operations, no multiply-add to contract, no libm), then integers.
    assert period_fraction(rate) == expect


def test_float_rate_grid_matches_fraction_reference():
    clock = VirtualClock(10**9)
    t = Timer(rate_hz=29.97, start_ns=10**9, clock=clock)
    num, den = t.period_fraction
    assert Fraction(num, den) == Fraction(10**9) / Fraction(2997, 100)
    for k in range(500):
        assert t.tick().deadline_ns == grid(10**9, num, den, k)


def test_default_start_is_one_period_from_now():
    clock = VirtualClock(5_000)
    t = Timer(period_ns=1_000_000, clock=clock)
    assert t.next_deadline_ns == 1_005_000
    assert t.tick().deadline_ns == 1_005_000
    assert clock.now_ns() == 1_005_000


def test_wake_latency_is_reported_and_recorded():
    clock = VirtualClock(0)
    script = [100, 2_000, 50, 7_000, 0]
    clock.set_wake_script(script)
    t = Timer(period_ns=1_000_000, start_ns=0, clock=clock)
    ticks = [t.tick() for _ in range(100)]
    lat = np.array([tk.lateness_ns for tk in ticks])
    assert list(lat) == script * 20
    assert all(tk.woke_ns == tk.deadline_ns + tk.lateness_ns for tk in ticks)
    s = t.stats()
    assert isinstance(s, LatencyStats)
    assert (s.count, s.missed, s.overruns, s.max_ns) == (100, 0, 0, 7_000)
    # The histogram's buckets are integer log-linear (1/128 of a power of two wide): a percentile at the
    # bucket midpoint is within 0.4% of the exact one, on any machine; 0.5% leaves room for the midpoint.
    assert s.p50_ns == pytest.approx(np.percentile(lat, 50, method="inverted_cdf"), rel=0.005)
    assert s.p99_ns == pytest.approx(np.percentile(lat, 99, method="inverted_cdf"), rel=0.005)
    assert s.histogram.count == 100
    assert s.within(p99_ns=8_000) and not s.within(p99_ns=1_000)


def test_skip_drops_the_deadlines_that_passed():
    clock = VirtualClock(0)
    t = Timer(period_ns=1_000_000, start_ns=0, on_missed="skip", clock=clock)
    t.tick()                       # k=0 at 0
    clock.advance(3_500_000)       # the loop body takes 3.5 periods
    late = t.tick()                # k=1 fires at once, 2.5 ms late; 2 and 3 have passed too
    assert (late.index, late.deadline_ns, late.lateness_ns, late.missed) == (1, 1_000_000, 2_500_000, 2)
    nxt = t.tick()
    assert (nxt.index, nxt.deadline_ns, nxt.lateness_ns, nxt.missed) == (4, 4_000_000, 0, 0)
    s = t.stats()
    assert (s.count, s.missed, s.overruns) == (3, 2, 1)


def test_burst_fires_every_deadline_until_caught_up():
    clock = VirtualClock(0)
    t = Timer(period_ns=1_000_000, start_ns=0, on_missed="burst", clock=clock)
    t.tick()
    clock.advance(3_500_000)
    ticks = [t.tick() for _ in range(4)]
    assert [tk.index for tk in ticks] == [1, 2, 3, 4]
    assert [tk.woke_ns for tk in ticks] == [3_500_000, 3_500_000, 3_500_000, 4_000_000]
    assert all(tk.missed == 0 for tk in ticks)
    assert t.stats().missed == 0 and t.stats().overruns == 2  # ticks 1 and 2 were due after their successor


def test_delay_reanchors_at_the_late_tick():
    clock = VirtualClock(0)
    t = Timer(period_ns=1_000_000, start_ns=0, on_missed="delay", clock=clock)
    t.tick()
    clock.advance(3_500_000)
    late = t.tick()
    assert (late.index, late.woke_ns, late.missed) == (1, 3_500_000, 0)
    ticks = [t.tick() for _ in range(3)]
    assert [tk.deadline_ns for tk in ticks] == [4_500_000, 5_500_000, 6_500_000]
    assert [tk.index for tk in ticks] == [2, 3, 4]
    # Lateness below a period does not move the grid.
    clock.advance(300_000)
    assert t.tick().deadline_ns == 7_500_000


def test_set_rate_reanchors_at_the_next_deadline_without_a_jump():
    clock = VirtualClock(0)
    t = Timer(rate_hz=10, start_ns=0, clock=clock)
    for _ in range(3):
        t.tick()
    assert t.next_deadline_ns == 300_000_000
    t.set_rate(3)
    assert t.next_deadline_ns == 300_000_000
    ds = [t.tick().deadline_ns for _ in range(4)]
    assert ds == [300_000_000 + (k * 10**9) // 3 for k in range(4)]
    t.set_rate(period_ns=2_000_000)
    d0 = t.next_deadline_ns
    assert [t.tick().deadline_ns for _ in range(3)] == [d0, d0 + 2_000_000, d0 + 4_000_000]
    assert t.rate_hz == pytest.approx(500)


def test_iteration_and_context_manager_and_closed_errors():
    clock = VirtualClock(0)
    with Timer(period_ns=10_000, start_ns=0, clock=clock) as t:
        seen = []
        for tk in t:
            seen.append(tk.index)
            if tk.index == 4:
                t.close()
        assert seen == [0, 1, 2, 3, 4]
    assert t.closed
    with pytest.raises(ClosedError):
        t.tick()
    with pytest.raises(ClosedError):
        t.set_rate(5)
    t.close()  # idempotent


def test_tick_type_and_equality():
    tk = Tick(3, 100, 150, 50, 1)
    assert (tk.index, tk.deadline_ns, tk.woke_ns, tk.lateness_ns, tk.missed) == (3, 100, 150, 50, 1)
    assert tk == Tick(3, 100, 150, 50, 1)
    assert "index=3" in repr(tk)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(rate_hz=0), ValueError, "> 0"),
    (dict(rate_hz=-3), ValueError, "> 0"),
    (dict(rate_hz=float("nan")), ValueError, "NaN"),
    (dict(rate_hz=float("inf")), ValueError, "infinite"),
    (dict(rate_hz=2e6), ValueError, "1e6"),
    (dict(rate_hz=1e-7), ValueError, "1e-6"),
    (dict(rate_hz=True), TypeError, "bool"),
    (dict(rate_hz="fast"), TypeError, "number"),
    (dict(period_ns=999), ValueError, "1000"),
    (dict(period_ns=1.5e6 + 0.5), ValueError, "whole"),
    (dict(), ValueError, "exactly one"),
    (dict(rate_hz=10, period_ns=1000), ValueError, "exactly one"),
    (dict(rate_hz=10, waiter="sundial"), ValueError, "unknown timer waiter"),
    (dict(rate_hz=10, on_missed="sometimes"), ValueError, "skip, burst or delay"),
    (dict(rate_hz=10, start_ns=-1), ValueError, "start_ns"),
    (dict(rate_hz=10, waiter="virtual"), ValueError, "VirtualClock"),
])
def test_bad_input_raises_clear_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Timer(**kwargs)


def test_bad_set_rate_keeps_the_timer_usable():
    clock = VirtualClock(0)
    t = Timer(rate_hz=100, start_ns=0, clock=clock)
    t.tick()
    with pytest.raises(ValueError):
        t.set_rate(0)
    assert t.tick().deadline_ns == 10_000_000


def test_virtual_clock_rejects_bad_moves():
    c = VirtualClock(10)
    with pytest.raises(ValueError):
        c.advance(-1)
    with pytest.raises(ValueError):
        c.set(5)
    with pytest.raises(ValueError):
        c.set_wake_latency(-1)
    with pytest.raises(TypeError):
        Timer(rate_hz=1, clock=object())


def test_numpy_scalars_are_accepted():
    clock = VirtualClock(0)
    t = Timer(period_ns=np.int64(2_000_000), start_ns=np.int64(0), clock=clock)
    assert t.tick().deadline_ns == 0 and t.tick().deadline_ns == 2_000_000
    assert Timer(rate_hz=np.float64(3.0), clock=clock).period_fraction == (10**9, 3)
    assert Timer(rate_hz=np.int32(7), clock=clock).period_fraction == (10**9, 7)
