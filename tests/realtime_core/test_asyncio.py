"""async for tick in timer.aiter(): a timerfd registered with loop.add_reader."""

import asyncio
import os

import pytest

from superinstance.realtime_core import Timer, VirtualClock, monotonic_ns


def test_aiter_ticks_on_the_grid():
    async def main():
        period = 5_000_000
        start = monotonic_ns() + 5_000_000
        got = []
        with Timer(period_ns=period, start_ns=start) as t:
            async for tick in t.aiter():
                got.append(tick)
                if len(got) == 30:
                    break
        return start, period, got

    start, period, got = asyncio.run(main())
    assert len(got) == 30
    for tk in got:
        assert tk.deadline_ns == start + tk.index * period
        assert tk.woke_ns >= tk.deadline_ns
    idx = [tk.index for tk in got]
    assert all(b - a == 1 + tk.missed for a, b, tk in zip(idx, idx[1:], got))


def test_aiter_lets_other_tasks_run_and_ends_on_close():
    async def main():
        t = Timer(period_ns=2_000_000)
        other = 0

        async def busy():
            nonlocal other
            while True:
                other += 1
                await asyncio.sleep(0)

        bg = asyncio.create_task(busy())
        n = 0
        async for _tick in t.aiter():
            n += 1
            if n == 10:
                t.close()  # ends the iteration instead of raising
        bg.cancel()
        return n, other, t

    n, other, t = asyncio.run(main())
    assert n == 10 and other > 10 and t.closed


def test_aiter_does_not_leak_descriptors():
    base = len(os.listdir("/proc/self/fd"))

    async def main():
        for _ in range(5):
            with Timer(period_ns=1_000_000) as t:
                async for tick in t.aiter():
                    if tick.index >= 2:
                        break

    asyncio.run(main())
    assert len(os.listdir("/proc/self/fd")) == base


def test_aiter_on_a_virtual_clock_is_deterministic():
    async def main():
        clock = VirtualClock(0)
        with Timer(rate_hz=3, start_ns=0, clock=clock) as t:
            out = []
            async for tick in t.aiter():
                out.append(tick.deadline_ns)
                if len(out) == 4:
                    break
        return out

    assert asyncio.run(main()) == [0, 333_333_333, 666_666_666, 1_000_000_000]


def test_second_concurrent_aiter_is_refused():
    async def main():
        with Timer(period_ns=1_000_000) as t:
            it1 = t.aiter()
            await it1.__anext__()
            with pytest.raises(RuntimeError, match="already"):
                await t.aiter().__anext__()
            await it1.aclose()

    asyncio.run(main())


def test_close_from_another_thread_ends_aiter():
    import threading

    async def main():
        t = Timer(rate_hz=0.01)  # first tick 100 s away
        threading.Timer(0.05, t.close).start()
        got = [tick async for tick in t.aiter()]
        return got, t.closed

    got, closed = asyncio.run(asyncio.wait_for(main(), 5))
    assert got == [] and closed
