"""RealtimeExecutor and Scheduler facades over superinstance._core.RtExecutor / RtScheduler.

Error policy of periodic callbacks (``on_error``):

* ``"continue"`` (default): a callback that raises is counted (``errors`` in its
  task's stats), its exception is kept (the first 100, with the task name, in
  :attr:`RealtimeExecutor.errors`) and every task keeps running.
* ``"stop"``: the first failing call stops the executor loop (all its tasks).

Either way nothing is lost silently: :meth:`RealtimeExecutor.join` and
:meth:`RealtimeExecutor.close` re-raise the first kept exception (with a note
giving the task and the total number of failed calls) and then clear the
list, so each error is raised once. A callback exception that is not an
``Exception`` (KeyboardInterrupt, SystemExit) is kept the same way and also
stops the loop, whatever ``on_error`` says.

Closed means closed: after :meth:`close` every other method and property of
:class:`RealtimeExecutor` and :class:`Scheduler` (``join``, ``running``,
``obtained``, ``errors`` included) raises :class:`~superinstance.errors.ClosedError`;
``close()`` again, ``closed``, ``__exit__`` and ``repr()`` still work.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import math
import numbers
import sys
import threading
import warnings
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .. import _core
from ..errors import ClosedError, RealtimePermissionError
from ._timer import LatencyStats, Rate, VirtualClock

_MAX_KEPT = 100
_live: "weakref.WeakSet[RealtimeExecutor]" = weakref.WeakSet()


class RealtimeFallbackWarning(RuntimeWarning):
    """Some real-time request (policy, affinity, mlockall) was refused; see executor.obtained."""


class TaskErrors:
    """The exceptions kept from failing callbacks: a list of (task name, exception)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: List[Tuple[str, BaseException]] = []
        self.total = 0

    def sink(self, name: str, exc: BaseException) -> None:
        with self._lock:
            self.total += 1
            if len(self.items) < _MAX_KEPT:
                self.items.append((name, exc))

    def raise_first(self) -> None:
        with self._lock:
            if not self.items:
                return
            name, exc = self.items[0]
            total = self.total
            self.items = []
            self.total = 0
        _add_note(exc, f"raised by realtime task {name!r}; {total} failed call(s) in total since the last report")
        raise exc


def _add_note(exc: BaseException, note: str) -> None:
    """``exc.add_note(note)``: Python 3.11+ has it; on 3.9/3.10 the note goes into ``__notes__`` the same
    way (tracebacks there do not print it; the exception itself is left as raised)."""
    if sys.version_info >= (3, 11):
        exc.add_note(note)
        return
    try:
        notes = getattr(exc, "__notes__", None)
        exc.__notes__ = (list(notes) if isinstance(notes, list) else []) + [note]  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # a type that refuses new attributes: raise it without the note
        pass


def _stats(d: Dict[str, Any]) -> LatencyStats:
    return LatencyStats._from_dict(d)


class RealtimeExecutor:
    """A native thread with real-time scheduling that runs periodic tasks
    (earliest deadline first) and one-shot jobs.

    ``policy``: ``"fifo"`` / ``"rr"`` (``priority`` 1..99, default 50),
    ``"deadline"`` (SCHED_DEADLINE; give ``runtime_ns <= deadline_ns <=
    period_ns``), or ``"other"``. ``cpus``: CPU affinity. ``lock_memory``:
    ``mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`` (process-wide, undone
    when the last locking executor closes). The thread pre-faults
    ``prefault_stack_bytes`` of its stack. ``waiter``: how the loop waits for
    the next deadline (``"timerfd"`` by default; the names of :class:`Timer`).

    What the platform refuses is skipped with ONE :class:`RealtimeFallbackWarning`
    (or :class:`~superinstance.errors.RealtimePermissionError` when
    ``strict=True``); :attr:`obtained` says exactly what the thread got.
    Python callbacks take the GIL only around their call. See the module
    docstring for the error policy.

    ``python_lead_ns`` (default 200 us; 0 turns it off): a thread that slept a
    whole period wakes with cold caches, and taking the GIL and entering a
    Python callback then costs tens of microseconds after the deadline. With a
    lead the loop wakes early, takes the GIL, runs the call path once on a
    throw-away Tick, spins to the deadline and calls the callback warm. The
    lead adapts to the measured wake-up overshoot (``stats(id).extra
    ["lead_ns"]``) within [5 us, min(python_lead_ns, period / 4)]; the price is
    that spin (the GIL is held during it) on every call. Callbacks never start
    before their deadline. Native tasks never take the GIL and get no lead.
    """

    def __init__(self, policy: str = "other", priority: Optional[int] = None, cpus: Optional[Sequence[int]] = None,
                 lock_memory: bool = True, *, runtime_ns: Optional[int] = None, deadline_ns: Optional[int] = None,
                 period_ns: Optional[int] = None, strict: bool = False, on_error: str = "continue",
                 waiter: str = "timerfd", prefault_stack_bytes: int = 256 * 1024,
                 python_lead_ns: int = 200_000):
        # Defaults only: the binding checks types, the core the policy and the
        # priority's range for it (1..99 for fifo / rr, none for the others).
        if priority is None and isinstance(policy, str) and policy in ("fifo", "rr"):
            priority = 50
        if cpus is not None and (isinstance(cpus, (str, bytes)) or not hasattr(cpus, "__iter__")):
            raise TypeError(f"cpus must be a sequence of ints or None, got {type(cpus).__name__}")
        cpu_list = None if cpus is None else list(cpus)  # each entry is checked by the binding
        self._errors = TaskErrors()
        self._futures: set = set()
        self._futures_lock = threading.Lock()
        # Types and ranges of the rest are checked by the binding (TypeError / ValueError naming the argument).
        self._ex = _core.RtExecutor(policy=policy, priority=_or_zero(priority), cpus=cpu_list,
                                    lock_memory=lock_memory, runtime_ns=_or_zero(runtime_ns),
                                    deadline_ns=_or_zero(deadline_ns), period_ns=_or_zero(period_ns),
                                    prefault_stack_bytes=prefault_stack_bytes, waiter=waiter, on_error=on_error,
                                    error_sink=self._errors.sink, python_lead_ns=python_lead_ns)
        self.requested = {"policy": policy, "priority": _or_zero(priority), "cpus": cpu_list or [],
                          "lock_memory": lock_memory, "runtime_ns": runtime_ns, "deadline_ns": deadline_ns,
                          "period_ns": period_ns}
        self._tid = self._ex.obtained["tid"]
        refused = self._ex.obtained["refused"]
        if refused:
            msg = ("RealtimeExecutor: running with less than requested (" + "; ".join(refused) + "); obtained: " +
                   _describe(self._ex.obtained))
            if strict:
                self._ex.close()
                raise RealtimePermissionError(msg)
            warnings.warn(msg, RealtimeFallbackWarning, stacklevel=2)
        _live.add(self)

    # ---- facts
    @property
    def obtained(self) -> Dict[str, Any]:
        """What the thread got: policy, priority (and SCHED_DEADLINE parameters), cpus,
        memory_locked, stack_prefaulted_bytes, tid, refused (one line per refusal), waiter."""
        return self._ex.obtained

    @property
    def errors(self) -> List[Tuple[str, BaseException]]:
        """Kept exceptions of failing callbacks not yet re-raised: (task name, exception)."""
        self._check_open()
        return list(self._errors.items)

    def _check_open(self) -> None:
        if self._ex.closed:
            raise ClosedError("RealtimeExecutor is closed")

    @property
    def total_errors(self) -> int:
        return self._ex.total_errors

    @property
    def closed(self) -> bool:
        return self._ex.closed

    @property
    def running(self) -> bool:
        return self._ex.running

    def now_ns(self) -> int:
        return self._ex.now_ns()

    # ---- work
    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "concurrent.futures.Future[Any]":
        """Run ``fn(*args, **kwargs)`` once on the executor thread, before the next periodic task.

        A job still queued when the executor closes is cancelled (its future raises CancelledError)."""
        self._check_open()
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def job() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as e:  # noqa: BLE001 - delivered through the future
                fut.set_exception(e)

        with self._futures_lock:
            self._futures.add(fut)
        fut.add_done_callback(self._forget)
        try:
            self._ex.submit(job)
        except BaseException:
            fut.cancel()
            raise
        return fut

    def _forget(self, fut: "concurrent.futures.Future[Any]") -> None:
        with self._futures_lock:
            self._futures.discard(fut)

    def _cancel_pending(self) -> None:
        # Jobs that never ran (the loop stopped first) are cancelled, so that no result() hangs.
        with self._futures_lock:
            pending = list(self._futures)
        for f in pending:
            f.cancel()

    def add(self, fn: Callable[[Any], Any], rate_hz: Optional[Rate] = None, period_ns: Optional[int] = None, *,
              name: str = "", on_missed: str = "skip", start_ns: Optional[int] = None,
            publish: Optional[str] = None) -> int:
        """Call ``fn(tick)`` periodically on the grid ``start_ns + k * period``; returns the task id.
        ``publish="name"``: the task writes the shared rate state block ``name`` on every call (RateState)."""
        task_id = self._ex.add_task(fn, rate_hz=rate_hz, period_ns=period_ns, name=_task_name(name, fn),
                                    on_missed=on_missed, start_ns=start_ns)
        return _publish(self._ex, task_id, publish)

    def add_native(self, address: int, rate_hz: Optional[Rate] = None, period_ns: Optional[int] = None, *,
                     user_data: int = 0, name: str = "", on_missed: str = "skip", start_ns: Optional[int] = None,
            publish: Optional[str] = None) -> int:
        """Call the C function ``void f(void *user_data, uint64_t index, int64_t deadline_ns)`` at
        ``address`` (ctypes, numba ``cfunc``) periodically, without taking the GIL."""
        task_id = self._ex.add_native_task(address, user_data=user_data, rate_hz=rate_hz, period_ns=period_ns,
                                           name=_native_name(name, address), on_missed=on_missed, start_ns=start_ns)
        return _publish(self._ex, task_id, publish)

    def remove(self, task_id: int) -> None:
        """Remove a periodic task (UnknownIdError if there is none with this id)."""
        self._ex.remove_task(task_id)

    def tasks(self) -> List[int]:
        return self._ex.task_ids()

    def stats(self, task_id: int) -> LatencyStats:
        """Lateness of each call's start, plus in ``extra``: name, errors, runtime_p50_ns/p99/max,
        late_starts, lead_ns (the current lead of a Python task, see the class doc); ``overruns`` counts calls that ran longer than one period."""
        return _stats(self._ex.task_stats(task_id))

    # ---- lifetime
    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait until the loop stops (on_error='stop', or close() elsewhere) or ``timeout`` s pass;
        re-raise the first kept callback exception if any. True if the loop has stopped."""
        stopped = self._ex.wait_stopped(-1.0 if timeout is None else timeout)
        self._errors.raise_first()
        return stopped

    def close(self) -> None:
        """Stop the loop after the call in progress, join the thread, undo mlockall if this was the last
        locking executor, then re-raise the first kept callback exception. Idempotent.

        Called from one of this executor's own callbacks, it only asks the loop to stop after
        that callback (a thread cannot join itself); call close() again from elsewhere to join."""
        if not self._ex.closed and threading.get_native_id() == self._tid:
            self._ex.close()  # request only
            return
        self._ex.close()
        self._cancel_pending()
        _live.discard(self)
        self._errors.raise_first()

    def __enter__(self) -> "RealtimeExecutor":
        self._check_open()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:  # do not mask the exception in flight
            self._ex.close()
            self._cancel_pending()
            _live.discard(self)

    def __repr__(self) -> str:
        o = self._ex.obtained if not self._ex.closed else {}
        return f"RealtimeExecutor({_describe(o) if o else 'closed'})"


class Scheduler:
    """Several periodic tasks at different rates, earliest deadline first, on one thread.

    With ``clock=VirtualClock()`` the scheduler runs synchronously in simulated
    time (:meth:`run_for`, :meth:`run_until`): callbacks can ``clock.advance()``
    to simulate work, so lateness, overruns and missed deadlines are exact and
    deterministic. Otherwise the tasks run on ``executor`` (a
    :class:`RealtimeExecutor`; one is created from ``executor_kwargs`` and owned
    when not given). Callbacks receive the :class:`Tick` of their call.
    """

    def __init__(self, executor: Optional[RealtimeExecutor] = None, *, clock: Optional[VirtualClock] = None,
                 on_error: str = "continue", **executor_kwargs: Any):
        self._virtual = clock is not None
        self._owned = False
        self._closed = False
        if executor is not None and not isinstance(executor, RealtimeExecutor):
            raise TypeError(f"executor must be a RealtimeExecutor, got {type(executor).__name__}")
        if clock is not None:
            if executor is not None or executor_kwargs:
                raise ValueError("a virtual-clock Scheduler takes no executor")
            if not isinstance(clock, VirtualClock):
                raise TypeError("clock must be a superinstance.realtime_core.VirtualClock")
            self._errors = TaskErrors()
            self._core = _core.RtScheduler(clock, on_error=on_error, error_sink=self._errors.sink)
            self._executor = None
        else:
            if executor is None:
                executor = RealtimeExecutor(on_error=on_error, **executor_kwargs)
                self._owned = True
            elif executor_kwargs:
                raise ValueError("give either an executor or executor settings, not both")
            self._executor = executor
            self._core = executor._ex
            self._errors = executor._errors
        self.clock = clock

    @property
    def closed(self) -> bool:
        """True after :meth:`close` (or when the owned executor was closed)."""
        return self._closed or self._core.closed

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedError("Scheduler is closed")

    @property
    def executor(self) -> Optional[RealtimeExecutor]:
        self._check_open()
        return self._executor

    def add(self, fn: Callable[[Any], Any], rate_hz: Optional[Rate] = None, period_ns: Optional[int] = None, *,
            name: str = "", on_missed: str = "skip", start_ns: Optional[int] = None,
            publish: Optional[str] = None) -> int:
        """Add a periodic task ``fn(tick)``; safe while running. Returns its id.
        ``publish="name"``: the task writes the shared rate state block ``name`` on every call (RateState)."""
        self._check_open()
        task_id = self._core.add_task(fn, rate_hz=rate_hz, period_ns=period_ns, name=_task_name(name, fn),
                                      on_missed=on_missed, start_ns=start_ns)
        return _publish(self._core, task_id, publish)

    def add_native(self, address: int, rate_hz: Optional[Rate] = None, period_ns: Optional[int] = None, *,
                   user_data: int = 0, name: str = "", on_missed: str = "skip", start_ns: Optional[int] = None,
            publish: Optional[str] = None) -> int:
        """Add a C callback ``void f(void*, uint64_t index, int64_t deadline_ns)``, called without the GIL."""
        self._check_open()
        task_id = self._core.add_native_task(address, user_data=user_data, rate_hz=rate_hz, period_ns=period_ns,
                                             name=_native_name(name, address), on_missed=on_missed, start_ns=start_ns)
        return _publish(self._core, task_id, publish)

    def remove(self, task_id: int) -> None:
        """Remove a task (UnknownIdError if unknown); safe while running."""
        self._check_open()
        self._core.remove_task(task_id)

    def tasks(self) -> List[int]:
        self._check_open()
        return self._core.task_ids()

    def stats(self, task_id: int) -> LatencyStats:
        self._check_open()
        return _stats(self._core.task_stats(task_id))

    def now_ns(self) -> int:
        self._check_open()
        return self._core.now_ns()

    @property
    def total_errors(self) -> int:
        self._check_open()
        return self._core.total_errors

    @property
    def errors(self) -> List[Tuple[str, BaseException]]:
        self._check_open()
        return list(self._errors.items)

    def run_until(self, t_ns: int) -> None:
        """Virtual clock only: run the calls due before ``t_ns`` in simulated time (earliest deadline first;
        a call due at ``t_ns`` belongs to the next run) and leave the clock at ``t_ns``, or later if the last
        call ran past it; on_error='stop' stops earlier. Then re-raise a kept callback exception.
        Ctrl-C interrupts a long run."""
        self._check_open()
        if not self._virtual:
            raise RuntimeError("run_until/run_for need a Scheduler(clock=VirtualClock())")
        self._core.run_until(t_ns)
        self._errors.raise_first()

    def run_for(self, duration_ns: int) -> None:
        """Virtual clock only: :meth:`run_until` ``now + duration_ns`` (>= 0)."""
        self._check_open()
        if isinstance(duration_ns, float):  # like every *_ns argument: a whole float is fine
            if not (math.isfinite(duration_ns) and duration_ns.is_integer()):
                raise ValueError(f"duration_ns must be a whole number of ns, got {duration_ns!r}")
            duration_ns = int(duration_ns)
        if isinstance(duration_ns, bool) or not isinstance(duration_ns, numbers.Integral):
            raise TypeError(f"duration_ns must be an int, got {type(duration_ns).__name__}")
        if duration_ns < 0:
            raise ValueError(f"duration_ns must be >= 0, got {duration_ns}")
        self.run_until(self.now_ns() + int(duration_ns))

    def close(self) -> None:
        """Close (an owned executor is closed; a shared one keeps running, with the tasks added through
        this scheduler) and re-raise kept errors. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._virtual:
            self._core.close()
            self._errors.raise_first()
        elif self._owned:
            assert self._executor is not None
            self._executor.close()
        else:
            self._errors.raise_first()

    def __enter__(self) -> "Scheduler":
        self._check_open()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
            return
        self._closed = True  # do not mask the exception in flight
        if self._virtual:
            self._core.close()
        elif self._owned and self._executor is not None:
            self._executor._ex.close()

    def __repr__(self) -> str:
        kind = "virtual clock" if self._virtual else "executor"
        return f"Scheduler({kind}, {'closed' if self.closed else 'open'})"



def _name_of(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _publish(core: Any, task_id: int, publish: Optional[str]) -> int:
    """Have the task write the shared rate state block ``publish`` on every call; a refused block removes the task."""
    if publish is not None:
        try:
            core.publish_task(task_id, publish)
        except BaseException:
            core.remove_task(task_id)
            raise
    return task_id


def _task_name(name: Any, fn: Any) -> Any:
    # "" asks for the callback's own name; anything else goes to the binding as given (a non-str is refused there).
    return _name_of(fn) if isinstance(name, str) and not name else name


def _native_name(name: Any, address: Any) -> Any:
    if isinstance(name, str) and not name:
        return f"native@{address:#x}" if isinstance(address, int) and not isinstance(address, bool) else "native"
    return name


def _or_zero(value: Any) -> Any:
    return 0 if value is None else value


def _describe(o: Dict[str, Any]) -> str:
    parts = [f"policy={o.get('policy')}"]
    if o.get("policy") in ("fifo", "rr"):
        parts.append(f"priority={o.get('priority')}")
    parts.append(f"cpus={o.get('cpus')}")
    parts.append(f"memory_locked={o.get('memory_locked')}")
    return ", ".join(parts)


@atexit.register
def _close_all() -> None:  # threads must not outlive the interpreter
    for ex in list(_live):
        try:
            ex._ex.close()
        except Exception:  # noqa: BLE001
            pass
