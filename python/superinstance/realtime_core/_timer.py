"""Timer facade over superinstance._core.RtTimer."""

from __future__ import annotations

import asyncio
import math
import numbers
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Tuple, Union

from .. import _core
from ..errors import ClosedError

Tick = _core.RtTick
VirtualClock = _core.RtVirtualClock
Rate = Union[int, float, Fraction]

WAITERS = ("auto", "clock_nanosleep", "timerfd", "io_uring", "hybrid", "virtual")
MISSED = ("skip", "burst", "delay")


if sys.platform.startswith("linux"):
    # time.monotonic_ns reads CLOCK_MONOTONIC here, the clock of every deadline; as a C builtin it
    # is cheaper to call from a callback than a Python wrapper around the native clock.
    monotonic_ns = time.monotonic_ns
else:  # pragma: no cover - the library targets Linux
    def monotonic_ns() -> int:
        """CLOCK_MONOTONIC in ns, the clock of every deadline."""
        return _core.realtime_monotonic_ns()


def waiters() -> List[Dict[str, Any]]:
    """Each timer waiter (how a timer waits) with whether it works in this process and why not (tries it)."""
    return _core.realtime_probe_waiters()


def period_fraction(rate_hz: Optional[Rate] = None, period_ns: Optional[int] = None) -> Tuple[int, int]:
    """The exact period ``num/den`` ns a timer uses for this rate (or period).

    Floats are read as the nearest fraction with denominator <= 10**6, so
    ``3.0`` is exactly 3 Hz (period 1e9/3 ns) and ``0.1`` exactly 1/10 Hz;
    pass a :class:`fractions.Fraction` for any other exact rate.
    """
    return tuple(_core.realtime_period_fraction(rate_hz, period_ns))  # type: ignore[return-value]


@dataclass(frozen=True)
class LatencyStats:
    """Lateness (woke minus deadline, clamped at 0) of the ticks so far, in ns.

    ``missed`` counts grid deadlines dropped by the ``skip`` policy; ``overruns``
    counts ticks delivered at or after the following deadline (for scheduler
    tasks: calls that ran longer than one period). ``histogram`` is the
    :class:`superinstance.LatencyHistogram` behind the percentiles.
    """

    count: int
    missed: int
    overruns: int
    p50_ns: float
    p95_ns: float
    p99_ns: float
    p999_ns: float
    max_ns: int
    mean_ns: float
    histogram: Any = field(repr=False, compare=False, default=None)
    extra: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def _from_dict(cls, d: Dict[str, Any]) -> "LatencyStats":
        keys = {"count", "missed", "overruns", "p50_ns", "p95_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns",
                "histogram"}
        return cls(count=d["count"], missed=d["missed"], overruns=d["overruns"], p50_ns=d["p50_ns"],
                   p95_ns=d["p95_ns"], p99_ns=d["p99_ns"], p999_ns=d["p999_ns"], max_ns=d["max_ns"],
                   mean_ns=d["mean_ns"], histogram=d["histogram"],
                   extra={k: v for k, v in d.items() if k not in keys})

    def within(self, *, p50_ns: Optional[float] = None, p99_ns: Optional[float] = None,
               p999_ns: Optional[float] = None, max_ns: Optional[float] = None,
               missed: Optional[int] = None) -> bool:
        """Budget check, e.g. ``stats.within(p99_ns=2e6)``: every given bound holds (and count > 0).

        Bounds are real numbers (inf allowed) or None; a NaN bound raises ValueError, other types TypeError."""
        bounds = {"p50_ns": p50_ns, "p99_ns": p99_ns, "p999_ns": p999_ns, "max_ns": max_ns, "missed": missed}
        for name, bound in bounds.items():
            _check_bound(name, bound)
        if self.count == 0:
            return False
        values = {"p50_ns": self.p50_ns, "p99_ns": self.p99_ns, "p999_ns": self.p999_ns, "max_ns": self.max_ns,
                  "missed": self.missed}
        return all(bound is None or values[name] <= bound for name, bound in bounds.items())

    def as_dict(self) -> Dict[str, Any]:
        d = {"count": self.count, "missed": self.missed, "overruns": self.overruns, "p50_ns": self.p50_ns,
             "p95_ns": self.p95_ns, "p99_ns": self.p99_ns, "p999_ns": self.p999_ns, "max_ns": self.max_ns,
             "mean_ns": self.mean_ns}
        d.update({k: v for k, v in self.extra.items() if not k.endswith("histogram")})
        return d


def _check_bound(name: str, bound: Any) -> None:
    if bound is None:
        return
    if isinstance(bound, bool) or not isinstance(bound, numbers.Real):
        raise TypeError(f"{name} must be a number or None, got {type(bound).__name__}")
    if math.isnan(bound):
        raise ValueError(f"{name} is NaN")


class _Registration:
    """A timerfd registered with an event loop; unregisters once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int):
        self.loop, self.fd, self.active = loop, fd, True

    def unregister(self) -> None:
        if not self.active:
            return
        self.active = False
        try:
            self.loop.remove_reader(self.fd)
        except (OSError, ValueError, RuntimeError):
            pass


def _abort(reg: _Registration, fut: Optional["asyncio.Future[Any]"]) -> None:
    reg.unregister()
    if fut is not None and not fut.done():
        fut.set_exception(ClosedError("timer is closed"))


class Timer:
    """A periodic timer on the grid ``start_ns + k * period``.

    Give ``rate_hz`` (int, float or Fraction, within [1e-6, 1e6]) or
    ``period_ns`` (int, >= 1000). ``start_ns`` is the deadline of tick 0
    (default: now + one period). ``waiter`` is how the timer waits: ``auto``
    (first working of clock_nanosleep, timerfd, io_uring; see :attr:`waiter`),
    one of those by name (a refused one raises
    :class:`~superinstance.errors.UnavailableError` with the reason),
    ``hybrid`` (sleep, then spin: lowest lateness, burns CPU for the margin),
    or ``virtual`` with ``clock=VirtualClock()`` for deterministic tests.
    ``on_missed`` is the missed-tick policy: ``skip`` (default), ``burst`` or
    ``delay``, with tokio's meanings (docs/realtime_core.md).
    ``publish="name"`` writes the shared rate state block ``name`` on every
    tick, for :class:`RateState` readers in any process or language; the block
    is marked closed and its name removed when the timer closes.

    :meth:`tick` blocks (GIL released) until the next deadline and returns a
    :class:`Tick`. Iterating yields ticks until the timer is closed;
    ``async for tick in timer.aiter()`` does the same in asyncio through a
    timerfd registered with ``loop.add_reader``.

    Closed means closed: after :meth:`close`, every method and property raises
    :class:`~superinstance.errors.ClosedError` (``iter()``, ``aiter()`` and
    ``with`` included), except ``close()`` (idempotent), ``closed``,
    ``__exit__`` and ``repr()``. One exception by design: ``next(timer)`` on a
    closed timer raises StopIteration, because closing is how a ``for tick in
    timer`` loop is ended from inside or from another thread.
    """

    def __init__(self, rate_hz: Optional[Rate] = None, period_ns: Optional[int] = None, waiter: str = "auto",
                 on_missed: str = "skip", start_ns: Optional[int] = None, clock: Optional[VirtualClock] = None,
                 publish: Optional[str] = None):
        if not isinstance(waiter, str):
            raise TypeError(f"waiter must be a str, got {type(waiter).__name__}")
        if waiter not in WAITERS:
            raise ValueError(f"unknown timer waiter {waiter!r}: use one of {', '.join(WAITERS)}")
        if clock is not None and not isinstance(clock, VirtualClock):
            raise TypeError("clock must be a superinstance.realtime_core.VirtualClock")
        self._t = _core.RtTimer(rate_hz=rate_hz, period_ns=period_ns, waiter=waiter, on_missed=on_missed,
                                start_ns=start_ns, clock=clock)
        self._clock = clock
        if publish is not None:  # the shared rate state block, written on every tick (RateState)
            try:
                self._t.publish(publish)
            except BaseException:
                self._t.close()
                raise
        self._async: Optional[_Registration] = None
        self._pending: Optional[asyncio.Future] = None

    # ---- ticking
    def tick(self) -> Tick:
        """Wait for the next deadline; the GIL is released while waiting. ClosedError once closed."""
        return self._t.tick()

    def __iter__(self) -> Iterator[Tick]:
        self._check_open()
        return self

    def _check_open(self) -> None:
        if self._t.closed:
            raise ClosedError("Timer is closed")

    def __next__(self) -> Tick:
        try:
            return self._t.tick()
        except ClosedError:
            raise StopIteration from None

    async def aiter(self) -> AsyncIterator[Tick]:
        """``async for tick in timer.aiter()``: ticks delivered by the running event loop.

        A timerfd armed at each absolute deadline is registered with
        ``loop.add_reader``, so waits are not rounded to asyncio's 1 ms
        clock resolution. Ends when the timer is closed. On a virtual clock,
        ticks come at once (simulated time). ClosedError if the timer is closed already.
        """
        self._check_open()
        if self._clock is not None:
            while not self._t.closed:
                await asyncio.sleep(0)
                try:
                    yield self._t.tick()
                except ClosedError:
                    return
            return
        loop = asyncio.get_running_loop()
        if self._async is not None:
            raise RuntimeError("this timer is already being iterated with aiter()")
        try:
            fd = self._t.async_fd()
        except ClosedError:
            return
        reg = _Registration(loop, fd)
        self._async = reg
        loop.add_reader(fd, self._on_readable)
        try:
            while reg.active:
                fut = loop.create_future()
                self._pending = fut
                try:
                    self._t.async_arm()
                except ClosedError:
                    return
                try:
                    tick = await fut
                except ClosedError:
                    return
                yield tick
        finally:
            # close() may have unregistered already (and the fd number may be reused since).
            if self._async is reg:
                self._pending = None
                self._async = None
            reg.unregister()

    def _on_readable(self) -> None:
        fut = self._pending
        try:
            tick = self._t.async_try_complete()
        except ClosedError as e:
            if fut is not None and not fut.done():
                fut.set_exception(e)
            return
        if tick is None or fut is None or fut.done():
            return
        self._pending = None
        fut.set_result(tick)

    # ---- control
    def set_rate(self, rate_hz: Optional[Rate] = None, period_ns: Optional[int] = None) -> None:
        """Change the period from the next deadline on: that deadline stays, later ones follow the new period."""
        self._t.set_rate(rate_hz=rate_hz, period_ns=period_ns)

    def set_on_missed(self, on_missed: str) -> None:
        """Change the missed-tick policy (``skip``, ``burst`` or ``delay``) from the next tick on."""
        self._t.set_on_missed(on_missed)

    def close(self) -> None:
        """Release the waiter (file descriptors, rings). Idempotent; a blocked tick() raises ClosedError."""
        reg, fut = self._async, self._pending
        self._t.close()  # first: whoever sees the iteration end also sees a closed timer
        if reg is not None:
            self._async = None
            self._pending = None
            try:
                here = asyncio.get_running_loop()
            except RuntimeError:
                here = None
            if here is reg.loop:
                _abort(reg, fut)
            else:  # closed from another thread: let the loop's own thread finish the iteration
                try:
                    reg.loop.call_soon_threadsafe(_abort, reg, fut)
                except RuntimeError:  # that loop is already closed
                    pass

    def __enter__(self) -> "Timer":
        self._check_open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        t = getattr(self, "_t", None)
        if t is not None and not t.closed:
            t.close()

    # ---- facts
    def stats(self) -> LatencyStats:
        return LatencyStats._from_dict(self._t.stats())

    def reset_stats(self) -> None:
        self._t.reset_stats()

    @property
    def closed(self) -> bool:
        return self._t.closed

    @property
    def waiter(self) -> str:
        """The waiter in use (what ``auto`` chose)."""
        return self._t.waiter

    @property
    def waiter_note(self) -> str:
        """Why this waiter: auto's choice and the reasons of refused ones."""
        return self._t.waiter_note

    @property
    def waiter_info(self) -> str:
        """The waiter's settings as ``key=value`` words (the hybrid waiter's spin margin, ...)."""
        return self._t.waiter_info

    @property
    def period_ns(self) -> int:
        """The period rounded to whole ns (the grid itself uses :attr:`period_fraction`)."""
        return self._t.period_ns

    @property
    def period_fraction(self) -> Tuple[int, int]:
        return tuple(self._t.period_fraction)  # type: ignore[return-value]

    @property
    def rate_hz(self) -> float:
        return self._t.rate_hz

    @property
    def on_missed(self) -> str:
        """The missed-tick policy (``skip``, ``burst`` or ``delay``)."""
        return self._t.on_missed

    @property
    def next_deadline_ns(self) -> int:
        return self._t.next_deadline_ns

    @property
    def next_index(self) -> int:
        return self._t.next_index

    def now_ns(self) -> int:
        return self._t.now_ns()

    def __repr__(self) -> str:
        if self.closed:
            return "Timer(closed)"
        return (f"Timer(period_ns={self.period_ns}, waiter={self.waiter!r}, on_missed={self.on_missed!r}, "
                f"next={self.next_index})")
