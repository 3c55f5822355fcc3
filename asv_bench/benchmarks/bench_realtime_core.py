"""Benchmarks of realtime_core: timer lateness per waiter next to Python's own
sleep loops, tick overhead on a virtual clock, and the cost of delivering a
tick to a Python callback.

Run against the installed build: ``cd asv_bench && asv run --python=same --quick``.
The full interleaved side-by-side comparison (10 s per method, cyclictest,
SCHED_FIFO) is ``python -m superinstance.bench.realtime_core``; its results are
in docs/benchmarks.md.
"""

import asyncio
import time

import numpy as np

from superinstance.realtime_core import Scheduler, Timer, VirtualClock, monotonic_ns, waiters
from superinstance.bench import realtime_core as rt_bench

WAITERS = [b["name"] for b in waiters() if b["ok"]]
SECONDS = 0.5  # per measurement: lateness needs hundreds of ticks, not repeats


def _percentiles(lat_ns):
    lat = np.maximum(np.asarray(lat_ns, dtype=np.int64), 0)
    return np.percentile(lat, [50, 99], method="inverted_cdf") / 1e3


class TimerLateness:
    """Lateness (us) of our Timer per waiter and of Python sleep loops, at 1 kHz and 100 Hz."""

    params = [WAITERS + ["time.sleep", "asyncio.sleep", "aiter"], [1000, 100]]
    param_names = ["method", "rate_hz"]
    timeout = 60
    number = 1
    repeat = 1

    def _run(self, method, rate):
        n = int(SECONDS * rate)
        period = 10**9 // rate
        start = monotonic_ns() + 2 * period
        if method == "time.sleep":
            lat = []
            for k in range(n):
                d = start + k * period
                delta = d - time.monotonic_ns()
                if delta > 0:
                    time.sleep(delta / 1e9)
                lat.append(time.monotonic_ns() - d)
            return lat
        if method == "asyncio.sleep":
            async def loop():
                lat = []
                for k in range(n):
                    d = start + k * period
                    delta = d - time.monotonic_ns()
                    if delta > 0:
                        await asyncio.sleep(delta / 1e9)
                    lat.append(time.monotonic_ns() - d)
                return lat
            return asyncio.run(loop())
        if method == "aiter":
            async def aloop():
                lat = []
                with Timer(rate_hz=rate, start_ns=start) as t:
                    async for tk in t.aiter():
                        lat.append(tk.lateness_ns)
                        if len(lat) == n:
                            break
                return lat
            return asyncio.run(aloop())
        with Timer(rate_hz=rate, waiter=method, start_ns=start) as t:
            return [t.tick().lateness_ns for _ in range(n)]

    def track_p50_us(self, method, rate):
        return float(_percentiles(self._run(method, rate))[0])

    def track_p99_us(self, method, rate):
        return float(_percentiles(self._run(method, rate))[1])

    track_p50_us.unit = "us"
    track_p99_us.unit = "us"


class TickOverhead:
    """Pure overhead of tick() (no waiting): a timer on a virtual clock."""

    params = [["skip", "burst", "delay"]]
    param_names = ["on_missed"]

    def setup(self, on_missed):
        self.clock = VirtualClock(0)
        self.t = Timer(rate_hz=1000, start_ns=0, on_missed=on_missed, clock=self.clock)

    def time_tick(self, on_missed):
        self.t.tick()

    def teardown(self, missed):
        self.t.close()


class SchedulerVirtual:
    """EDF scheduling of 2/10/30 Hz Python tasks over 100 simulated seconds."""

    def setup(self):
        self.clock = VirtualClock(0)
        self.s = Scheduler(clock=self.clock)
        for r in (2, 10, 30):
            self.s.add(lambda t: None, rate_hz=r, start_ns=0)

    def time_run_100_seconds(self):
        self.s.run_for(100 * 10**9)


class CallbackDelivery:
    """Median ns from the executor's wake-up (and from the deadline) to the first line of a
    Python callback, with the default GIL lead and without it (python_lead_ns=0)."""

    timeout = 60
    number = 1
    repeat = 1
    params = ([100, 1000], ["default", "off"])
    param_names = ["rate_hz", "python_lead"]

    def _run(self, rate_hz, python_lead):
        return rt_bench.callback_delivery(rate_hz, 500 / rate_hz, "other", None if python_lead == "default" else 0)

    def track_delivery_p50_ns(self, rate_hz, python_lead):
        return float(np.median(self._run(rate_hz, python_lead)[0]))

    track_delivery_p50_ns.unit = "ns"

    def track_deadline_to_callback_p50_ns(self, rate_hz, python_lead):
        return float(np.median(self._run(rate_hz, python_lead)[1]))

    track_deadline_to_callback_p50_ns.unit = "ns"
