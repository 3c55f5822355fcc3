"""Deterministic timing on Linux from Python: drift-free timers, a multi-rate
earliest-deadline-first scheduler and a real-time executor thread.

Deadlines lie on the integer-nanosecond grid ``start + k * period`` of
CLOCK_MONOTONIC (the clock of :func:`time.monotonic_ns`), with the period kept
as an exact fraction of nanoseconds, so a timer never drifts: not at 1 kHz,
not at 3 Hz. Waiting happens in C++ with the GIL released.

>>> from superinstance.realtime_core import Timer
>>> with Timer(rate_hz=100) as t:                    # doctest: +SKIP
...     for tick in t:
...         work()
...         if tick.index == 999: break
>>> t.stats().p99_ns                                 # doctest: +SKIP

See docs/realtime_core.md for the waiters, the missed-tick policies and how
to configure a machine for real-time work.
"""

from __future__ import annotations

from ._timer import LatencyStats, Tick, Timer, VirtualClock, monotonic_ns, period_fraction, waiters
from ._executor import RealtimeExecutor, RealtimeFallbackWarning, Scheduler, TaskErrors
from ._platform import platform_report
from ._rate_state import RateSnapshot, RateState

__all__ = [
    "Timer",
    "Tick",
    "LatencyStats",
    "VirtualClock",
    "RealtimeExecutor",
    "RealtimeFallbackWarning",
    "Scheduler",
    "TaskErrors",
    "RateState",
    "RateSnapshot",
    "monotonic_ns",
    "period_fraction",
    "platform_report",
    "waiters",
]
