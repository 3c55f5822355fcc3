"""The real-time loop: tasks on realtime_core's multi-rate scheduler.

:class:`EquilibriumLoop` puts four periodic tasks on one scheduler thread (a
:class:`~superinstance.realtime_core.RealtimeExecutor`, or a
``Scheduler(clock=VirtualClock())`` in tests), earliest deadline first:

* ``token`` at the orchestrator's ``rate_hz``: takes the newest moment of the
  conversation from the source (its utterance embedding), decides with the
  sentiment and the interruption sensed so far, asks the reward function for
  the user's answer and delivers it ``reward_delay`` tokens later;
* ``sentiment`` at ``sentiment_rate_hz`` (10 Hz): the sentiment head on the
  newest moment's feature frame;
* ``interruption`` at ``interruption_rate_hz`` (30 Hz): whether the user is
  interrupting in the newest moment; an interruption heard since the last
  token is held for the next token;
* ``warm`` at the token rate, ``warm_lead_ns`` before each token deadline: the
  token step's code path on the previous utterance, deciding nothing, so that
  the step starts with its code and data in the caches (a thread that slept a
  whole period finds them cold).

The rate has one owner, the orchestrator (``orch.rate_hz``); ``set_rate`` on
either re-times the token and warm tasks at the next token deadline.

Every deadline of the token and sensing tasks in [their first deadline, the loop's
end) is accounted for: it either ran (``calls``) or was missed (skipped because the
thread was late); the loop counts them itself from the grid index of each call
(see :class:`_Deadlines`), so that a late call near the end does not count deadlines
beyond the end, and a rate change does not lose or double any.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import numpy as np

from ..realtime_core import period_fraction
from .data import ConversationStream, Tick
from .orchestrator import EquilibriumOrchestrator, EquilibriumResult, _check_rate

__all__ = ["EquilibriumLoop", "run_loop", "user_state", "simulated_user_reward", "SENTIMENT_RATE_HZ",
           "INTERRUPTION_RATE_HZ", "WARM_LEAD_NS"]

SENTIMENT_RATE_HZ = 10.0     # the original plan's sensing rates
INTERRUPTION_RATE_HZ = 30.0
WARM_LEAD_NS = 1_000_000     # warm-up this long before each token deadline (at most a quarter period)
WARM_SPIN_END_NS = 5_000     # the warm task spins until this long before the token deadline
WARM_MAX_PASSES = 64

RewardFn = Callable[[EquilibriumResult, Tick], Dict[str, float]]


def user_state(result: EquilibriumResult, inputs: Tick) -> tuple:
    """The simulated user's view of a tick: (rate_error, context_confidence, arousal, interrupted).

    ``interrupted`` is the interruption the decision was made with (in the loop: heard since the last token)."""
    rate_error = min(1.0, abs(result.measured_rate_hz / result.rate_hz - 1.0) / 0.5)
    return (rate_error, result.factors.context, inputs.vad[1], 1.0 if result.interrupted else 0.0)


def simulated_user_reward(user: Any, arms: List[Any]) -> RewardFn:
    """A reward function that also reports what regret analysis needs: the reward, and the expected
    reward of the chosen arm, of the best arm and of a uniformly random arm in the tick's state.

    ``user``: a :class:`~.data.SimulatedUser` (one objective), or a multi-objective user such as
    :class:`superinstance.frozen_model_rl.simulation.TwoObjectiveUser`, which names its
    ``objectives``, scalarises with ``weights`` and whose ``reward``/``expected`` return one value
    per objective. Then ``reward`` is the reward vector @ weights, the expected values are
    ``expected(...) @ weights``, and each objective's observed value is returned under its name
    (e.g. ``satisfaction`` and ``stability``)."""
    matrix = [np.array([a.rate, a.context, a.sentiment, a.interruption]) for a in arms]
    objectives = tuple(str(n) for n in getattr(user, "objectives", ()))
    if not objectives:
        def reward(result: EquilibriumResult, inputs: Tick) -> Dict[str, float]:
            state = user_state(result, inputs)
            values = [user.expected(w, state) for w in matrix]
            return {"reward": user.reward(matrix[result.arm], state), "expected_reward": values[result.arm],
                    "best_expected": max(values), "random_expected": float(np.mean(values))}

        return reward
    weights = np.asarray(user.weights, dtype=np.float64)
    if weights.shape != (len(objectives),) or not np.all(np.isfinite(weights)):
        raise ValueError(f"user.weights must be {len(objectives)} finite numbers (one per objective "
                         f"{objectives}), got {user.weights!r}")

    def vector_reward(result: EquilibriumResult, inputs: Tick) -> Dict[str, float]:
        state = user_state(result, inputs)
        observed = np.asarray(user.reward(matrix[result.arm], state), dtype=np.float64)
        values = [float(np.asarray(user.expected(w, state), dtype=np.float64) @ weights) for w in matrix]
        out = {"reward": float(observed @ weights), "expected_reward": values[result.arm],
               "best_expected": max(values), "random_expected": float(np.mean(values))}
        out.update((name, float(v)) for name, v in zip(objectives, observed))
        return out

    return vector_reward


def _own_executor(policy: str) -> Any:
    """A RealtimeExecutor with ``policy``, or with what the system allows instead (no warning: a loop
    that asks for SCHED_FIFO where it is refused runs as before, and its record says so)."""
    from ..realtime_core import RealtimeExecutor, RealtimeFallbackWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RealtimeFallbackWarning)
        return RealtimeExecutor(policy=policy, lock_memory=False)


def _period_ns(rate_hz: float) -> int:
    return int(round(1e9 / rate_hz))


class _Grid:
    """The deadlines of one periodic task as the scheduler computes them: deadline k is
    ``start_ns + floor(k * num / den)`` with the exact period num/den ns of its rate."""

    def __init__(self, start_ns: int, rate_hz: float) -> None:
        self.start_ns = int(start_ns)
        self.num, self.den = period_fraction(rate_hz=rate_hz)

    def first_index_from(self, t_ns: int) -> int:
        """The smallest grid index whose deadline is at or after ``t_ns``."""
        if t_ns <= self.start_ns:
            return 0
        return -(-(t_ns - self.start_ns) * self.den // self.num)


class _Deadlines:
    """Accounts for every deadline of a task in [its first deadline, ``end_ns``): each one either
    ran (``calls``) or was ``missed``. Counted from the grid index of each call rather than from
    the scheduler's per-call ``missed`` (the deadlines already passed when a call starts), which
    may lie at or after the end when a call near the end starts late."""

    def __init__(self, grid: _Grid, end_ns: int) -> None:
        self.grid, self.end_ns = grid, end_ns
        self.calls = self.missed = 0
        self._next = 0  # the first grid index not yet accounted for

    def _end_index(self) -> int:
        return self.grid.first_index_from(self.end_ns)

    def reach(self, index: int) -> bool:
        """A call at grid ``index``: the deadlines skipped before it are missed. False when the call
        lies at or after the end (the deadlines before the end that it skipped are missed too)."""
        end = self._end_index()
        self.missed += max(0, min(index, end) - self._next)
        if index >= end:
            self._next = max(self._next, end)
            return False
        self._next = index + 1
        return True

    def missed_after(self, index: int, skipped: int) -> int:
        """Of the ``skipped`` deadlines after a call at ``index`` (the scheduler's ``tick.missed``),
        those before the end."""
        return max(0, min(skipped, self._end_index() - index - 1))

    def regrid(self, grid: _Grid, now_ns: int) -> None:
        """The task continues on ``grid`` (a rate change at ``now_ns``): the deadlines of the old
        grid that passed before now without running are missed; the new one counts from its start."""
        passed = self.grid.first_index_from(min(now_ns, self.end_ns))
        self.missed += max(0, passed - self._next)
        self.grid, self._next = grid, 0


class EquilibriumLoop:
    """The equilibrium loop as tasks on a realtime_core scheduler (see the module doc).

    ``scheduler``: a :class:`~superinstance.realtime_core.RealtimeExecutor` or
    :class:`~superinstance.realtime_core.Scheduler` (anything with ``add``/``remove``/``stats``/
    ``now_ns``); shared ones stay open after :meth:`close`. When not given the loop makes its own
    executor with scheduling ``policy`` ("fifo" by default: where the system refuses it, the thread
    quietly stays "other"; the record's ``timer["policy"]`` says what it got; no mlockall) and
    closes it with itself. ``warm_lead_ns=0`` turns the warm-up off. Bad input from the source is
    reported in :attr:`errors` and the loop keeps going. ``publish="name"``: the token task writes
    the shared rate state block ``name`` on every tick, for other processes and languages
    (:class:`~superinstance.realtime_core.RateState`; a rate change re-adds the token task, which
    closes the block and writes a new one under the same name: readers attach again when
    ``read().state == "closed"``).
    """

    def __init__(self, orch: EquilibriumOrchestrator, source: ConversationStream,
                 reward_fn: Optional[RewardFn] = None, *, reward_delay: int = 0,
                 status: Optional[Callable[[Dict[str, Any]], None]] = None,
                 sentiment_rate_hz: float = SENTIMENT_RATE_HZ, interruption_rate_hz: float = INTERRUPTION_RATE_HZ,
                 warm_lead_ns: int = WARM_LEAD_NS, scheduler: Any = None, policy: str = "fifo",
                 publish: Optional[str] = None) -> None:
        if isinstance(reward_delay, bool) or not isinstance(reward_delay, int) or reward_delay < 0:
            raise ValueError(f"reward_delay must be an int >= 0, got {reward_delay!r}")
        if isinstance(warm_lead_ns, bool) or not isinstance(warm_lead_ns, int) or warm_lead_ns < 0:
            raise ValueError(f"warm_lead_ns must be an int >= 0, got {warm_lead_ns!r}")
        self.orch, self.source, self.reward_fn, self.status = orch, source, reward_fn, status
        self.reward_delay, self.warm_lead_ns, self.publish = reward_delay, warm_lead_ns, publish
        self.sentiment_rate_hz = _check_rate(sentiment_rate_hz)
        self.interruption_rate_hz = _check_rate(interruption_rate_hz)
        self._owned = scheduler is None
        self.scheduler = _own_executor(policy) if scheduler is None else scheduler
        self.ticks: List[Dict[str, Any]] = []
        self.errors: List[str] = []
        self.sensed = {"sentiment": 0, "interruption": 0, "interruptions_heard": 0}
        self._task_ids: Dict[str, int] = {}
        self._late: Deque[Tuple[int, int, float]] = deque()
        self._moment: Optional[Tick] = None     # the newest moment a token took (what the sensors read)
        self._upcoming: Optional[Tick] = None   # the next token's input, sampled ahead (see _warm_task)
        self._vad: Tuple[float, float, float] = (0.0, 0.5, 0.5)
        self._heard_in: Optional[Tick] = None   # the moment whose interruption was heard last
        self._interrupted = False               # heard since the last token
        self._start_ns = self._end_ns = 0
        self._last_token_ns: Optional[int] = None
        self._accounts: Dict[str, _Deadlines] = {}  # token, sentiment, interruption (see _Deadlines)
        self._done = threading.Event()
        self._tasks_lock = threading.RLock()  # set_rate may come from another thread while the loop ends
        self._calls = threading.Condition()    # task bodies in flight (close waits for them)
        self._in_call, self._call_thread = 0, 0
        self._started = self._closed = False
        self.timing: Optional[Dict[str, Any]] = None
        self._warm_lead_now = 0
        self.warm_passes = 0

    # ------------------------------------------------------------------ the rate (owned by orch)
    @property
    def rate_hz(self) -> float:
        return self.orch.rate_hz

    def set_rate(self, rate_hz: float) -> None:
        """Same as ``orch.set_rate``: the orchestrator holds the rate, the token task follows it."""
        self.orch.set_rate(rate_hz)

    def _follow_rate(self, rate_hz: float) -> None:
        with self._tasks_lock:  # with the token task's accounting (it may run on another thread)
            if "token" not in self._task_ids:  # not started, or the loop ended meanwhile
                return
            period = _period_ns(rate_hz)
            last = self._last_token_ns if self._last_token_ns is not None else self._start_ns - period
            start = last + period  # re-anchored at the last token: no jump, no drift
            now = self.scheduler.now_ns()
            if start < now:  # set while the loop was behind: the first grid point from now
                start += -(-(now - start) // period) * period
            for name in ("token", "warm"):
                if name in self._task_ids:
                    self.scheduler.remove(self._task_ids.pop(name))
            self._accounts["token"].regrid(_Grid(start, rate_hz), now)
            self._add_token_tasks(rate_hz, start)

    # ------------------------------------------------------------------ tasks
    def _add(self, name: str, fn: Callable[[Any], None], rate_hz: float, start_ns: int) -> None:
        publish = {"publish": self.publish} if name == "token" and self.publish is not None else {}
        self._task_ids[name] = self.scheduler.add(self._counted(fn), rate_hz=rate_hz, name=f"equilibrium.{name}",
                                                  on_missed="skip", start_ns=start_ns, **publish)

    def _counted(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """``fn`` as a task body that close() can wait for (a call in flight finishes after its removal)."""
        calls = self._calls

        def body(tick: Any) -> None:
            with calls:
                self._in_call, self._call_thread = self._in_call + 1, threading.get_ident()
            try:
                fn(tick)
            finally:
                with calls:
                    self._in_call -= 1
                    calls.notify_all()

        body.__qualname__ = getattr(fn, "__qualname__", "body")
        return body

    def _add_token_tasks(self, rate_hz: float, start_ns: int) -> None:
        lead = self._warm_lead_now = min(self.warm_lead_ns, _period_ns(rate_hz) // 4)
        if lead > 0:  # added first: ties go to the older task, and the warm-up must come first
            self._add("warm", self._warm_task, rate_hz, start_ns - lead)
        grid = self._accounts["token"].grid

        def token(tk: Any) -> None:
            self._token_task(tk, grid)

        token.__qualname__ = "EquilibriumLoop._token_task"
        self._add("token", token, rate_hz, start_ns)

    @property
    def first_deadline_ns(self) -> int:
        """The first token deadline (after :meth:`start`)."""
        return self._start_ns

    @property
    def end_ns(self) -> int:
        """The token deadline at which the loop stops (first + seconds); no token runs at or after it."""
        return self._end_ns

    @property
    def task_ids(self) -> Dict[str, int]:
        """The scheduler's task id of each running task: token, warm, sentiment, interruption."""
        return dict(self._task_ids)

    def stats(self, name: str) -> Any:
        """The scheduler's statistics of one of the loop's tasks (by name, see :attr:`task_ids`)."""
        if name not in self._task_ids:
            raise KeyError(f"no running loop task {name!r}; running: {sorted(self._task_ids)}")
        return self.scheduler.stats(self._task_ids[name])

    def start(self, seconds: float) -> None:
        """Add the tasks; the first token deadline is one token period from now, the last one before
        ``seconds`` later. The sensing tasks run half a token period before the first token."""
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"seconds must be > 0, got {seconds}")
        if self._started or self._closed:
            raise RuntimeError("an EquilibriumLoop runs once: make a new one")
        self._started = True
        self._moment = next(self.source)  # what was heard before the first token
        self._sense_sentiment_now()
        period = _period_ns(self.orch.rate_hz)
        self._start_ns = self.scheduler.now_ns() + period
        self._end_ns = self._start_ns + int(seconds * 1e9)
        sensing = self._start_ns - period // 2
        self._accounts = {"token": _Deadlines(_Grid(self._start_ns, self.orch.rate_hz), self._end_ns),
                          "sentiment": _Deadlines(_Grid(sensing, self.sentiment_rate_hz), self._end_ns),
                          "interruption": _Deadlines(_Grid(sensing, self.interruption_rate_hz), self._end_ns)}
        self._add("sentiment", self._sentiment_task, self.sentiment_rate_hz, sensing)
        self._add("interruption", self._interruption_task, self.interruption_rate_hz, sensing)
        self._add_token_tasks(self.orch.rate_hz, self._start_ns)
        self.orch._rate_watchers.append(self._follow_rate)

    def _sense_sentiment_now(self) -> None:
        assert self._moment is not None
        try:
            self._vad = self.orch.sense_sentiment(self._moment.features)
        except ValueError as e:  # keep the last sensed sentiment
            self.errors.append(f"sentiment: {e}")

    def _sensing_due(self, name: str, tick: Any) -> bool:
        """Accounts for a sensing call; False at or after the loop's end (it senses nothing then)."""
        account = self._accounts[name]
        if not account.reach(tick.index):
            return False
        account.calls += 1
        self.sensed[name] += 1
        return True

    def _sentiment_task(self, tick: Any) -> None:
        if self._sensing_due("sentiment", tick):
            self._sense_sentiment_now()

    def _interruption_task(self, tick: Any) -> None:
        if not self._sensing_due("interruption", tick):
            return
        m = self._moment
        if m is not None and m.interrupted and m is not self._heard_in:  # one interruption per moment
            self._heard_in = m
            self._interrupted = True
            self.sensed["interruptions_heard"] += 1

    def _warm_task(self, tick: Any) -> None:
        """Warm passes, then a spin, until just before the token deadline: the thread must not sleep
        in between (a core that idles, even for a few hundred microseconds, is cold again, and a
        thread that sleeps on a busy machine wakes late)."""
        m = self._moment
        if m is None:
            return
        if self._upcoming is None:
            # The simulator's work for the next token, done first so that its cache traffic is not the
            # step's (an external producer does it elsewhere); the loop sees it at the deadline only.
            self._upcoming = self._next_input()
        token_deadline = tick.deadline_ns + self._warm_lead_now
        clock = self.scheduler.now_ns
        now = clock()
        for _ in range(WARM_MAX_PASSES):
            try:
                self.orch.warm(m.embedding, self._vad, self._interrupted)
            except ValueError:  # reported by the token task that takes this input
                return
            self.warm_passes += 1
            last, now = now, clock()
            if now == last:  # a virtual clock: passes take no simulated time, nothing to wait for
                return
            if now + (now - last) + (now - last) // 4 >= token_deadline - WARM_SPIN_END_NS:
                break  # one more pass might overrun the deadline
        while clock() < token_deadline - WARM_SPIN_END_NS:
            pass

    def _token_task(self, tk: Any, grid: _Grid) -> None:
        with self._tasks_lock:  # set_rate may re-grid the token task from another thread
            account = self._accounts["token"]
            if grid is not account.grid:  # a call of the grid before a rate change: superseded
                return
            if not account.reach(tk.index):  # at or after the end
                self._finish()
                return
            inputs = self._upcoming if self._upcoming is not None else self._next_input()
            self._upcoming = None
            if inputs is None:  # the source ended
                self._finish()
                return
            self._last_token_ns = tk.deadline_ns
            account.calls += 1
            missed_after = account.missed_after(tk.index, int(tk.missed))
        orch = self.orch
        orch.observe_wake(tk.woke_ns)
        self._moment = inputs
        interrupted, self._interrupted = self._interrupted, False
        cpu0 = time.thread_time_ns()  # the step's CPU time: its wall time minus what the machine took away
        try:
            res = orch.orchestrate(inputs.embedding, sentiment=self._vad, interrupted=interrupted)
        except (ValueError, KeyError) as e:  # bad input from the source: report it, keep running
            self.errors.append(f"token {account.calls - 1}: {e}")
            return
        self._record(res, inputs, tk, time.thread_time_ns() - cpu0, missed_after)

    def _next_input(self) -> Optional[Tick]:
        try:
            return next(self.source)
        except StopIteration:
            if "the source ended" not in self.errors:
                self.errors.append("the source ended")
            return None

    def _record(self, res: EquilibriumResult, inputs: Tick, tk: Any, cpu_ns: int, missed: int) -> None:
        row: Dict[str, Any] = {
            "index": res.tick, "woke_ns": tk.woke_ns, "deadline_ns": tk.deadline_ns,
            "t_s": (tk.deadline_ns - self._start_ns) / 1e9, "lateness_ns": tk.lateness_ns,
            "missed": missed, "confidence": res.confidence, "arm": res.arm, "rate_hz": res.rate_hz,
            "measured_rate_hz": res.measured_rate_hz, "interrupted": res.interrupted,
            "attention_reset": res.attention_reset, "stages_ns": dict(res.timings), "cpu_ns": cpu_ns,
            "path": list(res.suggested_path or ()), "reward": float("nan"), "expected_reward": float("nan"),
            "best_expected": float("nan"), "random_expected": float("nan")}
        if self.reward_fn is not None:
            answer = self.reward_fn(res, inputs)
            row.update(answer)
            self._late.append((res.tick + self.reward_delay, res.tick, answer["reward"]))
        while self._late and self._late[0][0] <= res.tick:
            _, t, r = self._late.popleft()
            self.orch.reward(t, r)
        self.ticks.append(row)
        if self.status is not None:
            self.status(row)

    def _finish(self) -> None:
        with self._tasks_lock:
            self.timing = self._timing()
            self._remove_tasks()
        self._done.set()

    def _timing(self) -> Dict[str, Any]:
        tasks = {}
        for name, tid in self._task_ids.items():
            s = self.scheduler.stats(tid)
            tasks[name] = {"calls": s.count, "missed": s.missed, "lateness_p50_ns": s.p50_ns,
                           "lateness_p99_ns": s.p99_ns, "lateness_max_ns": s.max_ns,
                           "runtime_p50_ns": s.extra.get("runtime_p50_ns"),
                           "runtime_p99_ns": s.extra.get("runtime_p99_ns"), "period_ns": s.extra.get("period_ns"),
                           "lead_ns": s.extra.get("lead_ns")}
        for name, account in self._accounts.items():  # counted here, within [first deadline, end) (see _Deadlines)
            if name in tasks:
                tasks[name].update(calls=account.calls, missed=account.missed)
        token = self._accounts.get("token")
        calls, missed = (token.calls, token.missed) if token is not None else (0, 0)
        late = np.array([r["lateness_ns"] for r in self.ticks], dtype=np.float64)
        pct = (lambda q: float(np.percentile(late, q))) if late.size else (lambda q: float("nan"))
        return {"timer": {"p50_ns": pct(50), "p99_ns": pct(99), "max_ns": float(late.max()) if late.size else
                          float("nan"), "count": int(late.size)},
                "missed_ticks": missed, "deadlines": calls + missed,
                "period_ns": _period_ns(self.orch.rate_hz), "tasks": tasks, "sensed": dict(self.sensed),
                "waiter": self._waiter(), "policy": self._policy()}

    def _policy(self) -> str:
        obtained = getattr(self.scheduler, "obtained", None)
        return str(obtained.get("policy", "?")) if isinstance(obtained, dict) else "virtual clock"

    def _obtained(self) -> Optional[Dict[str, Any]]:
        """What the executor thread got (None on a virtual clock); a Scheduler shares its executor's."""
        if getattr(self.scheduler, "clock", None) is not None:
            return None
        obtained = getattr(self.scheduler, "obtained", None)
        if obtained is None:  # a Scheduler on an executor
            obtained = getattr(getattr(self.scheduler, "executor", None), "obtained", None)
        return obtained if isinstance(obtained, dict) else None

    def _waiter(self) -> str:
        o = self._obtained()
        return "virtual clock" if o is None else str(o.get("waiter", "?"))

    def _policy(self) -> str:
        o = self._obtained()
        return "virtual clock" if o is None else str(o.get("policy", "?"))

    def _remove_tasks(self) -> None:
        if self._follow_rate in self.orch._rate_watchers:
            self.orch._rate_watchers.remove(self._follow_rate)
        with self._tasks_lock:
            for name in list(self._task_ids):
                try:
                    self.scheduler.remove(self._task_ids.pop(name))
                except Exception:  # noqa: BLE001 - already gone (its scheduler was closed)
                    pass

    # ------------------------------------------------------------------ lifetime
    def wait(self, timeout: Optional[float] = None) -> bool:
        """Until the token task's call at or after the end has ended the run (True), or ``timeout`` s
        (False). A virtual-clock scheduler is run to that point here: past the end, and on while the
        token task, late, skipped the deadline at the end (its next call comes within a period)."""
        run_until = getattr(self.scheduler, "run_until", None)
        if getattr(self.scheduler, "clock", None) is not None and run_until is not None:
            until = self._end_ns + 1
            while not self._done.is_set() and "token" in self._task_ids:
                run_until(until)
                until = self.scheduler.now_ns() + _period_ns(self.orch.rate_hz) + 1
        return self._done.wait(timeout)

    def record(self) -> Dict[str, Any]:
        """The run record (see report.py): ticks, errors, timing (per task too), and the paced tick work."""
        timing = self.timing or self._timing()
        return {"ticks": self.ticks, "errors": list(self.errors), "timer": timing}

    def close(self) -> None:
        """Remove every task of the loop (a shared scheduler keeps running without them) and wait for a
        call of one that is running to finish (not when called from that call); close an owned
        executor. Idempotent."""
        if self._closed:
            return
        with self._tasks_lock:
            if self._task_ids:  # closed before the end: the statistics so far
                self.timing = self._timing()
            self._remove_tasks()
        self._closed = True
        with self._calls:  # a call that was running finishes now, unless close() came from inside it
            if self._call_thread != threading.get_ident():
                self._calls.wait_for(lambda: self._in_call == 0, timeout=30.0)
        if self._owned:
            self.scheduler.close()

    def __enter__(self) -> "EquilibriumLoop":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def run(self, seconds: float) -> Dict[str, Any]:
        """start, wait, close; returns :meth:`record` with ``wall_s``."""
        t0 = time.perf_counter()
        try:
            self.start(seconds)
            if not self.wait(timeout=seconds + 60.0):
                self.errors.append("the loop did not reach its last deadline within 60 s of the end")
        finally:
            self.close()
        out = self.record()
        out["wall_s"] = time.perf_counter() - t0
        return out


def run_loop(orch: EquilibriumOrchestrator, seconds: float, source: ConversationStream,
             reward_fn: Optional[RewardFn] = None, reward_delay: int = 0,
             status: Optional[Callable[[Dict[str, Any]], None]] = None, scheduler: Any = None,
             **loop_kwargs: Any) -> Dict[str, Any]:
    """Runs an :class:`EquilibriumLoop` for ``seconds`` and returns the run record (see report.py)."""
    loop = EquilibriumLoop(orch, source, reward_fn, reward_delay=reward_delay, status=status, scheduler=scheduler,
                           **loop_kwargs)
    return loop.run(seconds)
