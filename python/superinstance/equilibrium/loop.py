"""The real-time loop: a realtime_core timer paces the orchestrator on an
executor thread, a source supplies inputs and a reward function (the simulated
user by default) answers, optionally some ticks late.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from .data import ConversationStream, SimulatedUser, Tick
from .orchestrator import EquilibriumOrchestrator, EquilibriumResult

__all__ = ["run_loop", "user_state", "simulated_user_reward"]


def user_state(result: EquilibriumResult, inputs: Tick) -> tuple:
    """The simulated user's view of a tick: (rate_error, context_confidence, arousal, interrupted)."""
    rate_error = min(1.0, abs(result.measured_rate / result.rate_target - 1.0) / 0.5)
    return (rate_error, result.factors.context, inputs.vad[1], 1.0 if inputs.interrupted else 0.0)


def simulated_user_reward(user: SimulatedUser, arms: List[Any]) -> Callable[[EquilibriumResult, Tick], Dict[str, float]]:
    """A reward function that also reports what regret analysis needs."""
    matrix = [np.array([a.rate, a.context, a.sentiment, a.interruption]) for a in arms]

    def reward(result: EquilibriumResult, inputs: Tick) -> Dict[str, float]:
        state = user_state(result, inputs)
        chosen = matrix[result.arm]
        values = [user.expected(w, state) for w in matrix]
        return {"reward": user.reward(chosen, state), "expected_reward": values[result.arm],
                "best_expected": max(values), "random_expected": float(np.mean(values))}

    return reward


def run_loop(orch: EquilibriumOrchestrator, seconds: float, source: ConversationStream,
             reward_fn: Optional[Callable[[EquilibriumResult, Tick], Dict[str, float]]] = None,
             reward_delay: int = 0, status: Optional[Callable[[Dict[str, Any]], None]] = None,
             executor: Any = None, backend: str = "auto") -> Dict[str, Any]:
    """Runs the loop for ``seconds`` and returns the run record (see report.py)."""
    from ..realtime_core import RealtimeExecutor, Timer

    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be > 0, got {seconds}")
    if reward_delay < 0:
        raise ValueError("reward_delay must be >= 0")
    ticks: List[Dict[str, Any]] = []
    errors: List[str] = []

    def loop() -> Dict[str, Any]:
        late: deque = deque()
        with Timer(rate_hz=orch.target_rate_hz, on_missed="skip", waiter=backend) as timer:
            start_ns = timer.next_deadline_ns
            end_ns = start_ns + int(seconds * 1e9)
            missed = 0
            while True:
                tk = timer.tick()
                if tk.deadline_ns >= end_ns:
                    break
                if timer.rate_hz != orch.target_rate_hz:  # orch.set_rate() while running
                    timer.set_rate(orch.target_rate_hz)
                missed += int(tk.missed)
                orch.observe_wake(tk.woke_ns)
                inputs = next(source)
                try:
                    res = orch.orchestrate(inputs.embedding, inputs.features, interrupted=inputs.interrupted)
                except (ValueError, KeyError) as e:  # bad input from the source: report it, keep running
                    errors.append(f"tick {tk.index}: {e}")
                    continue
                row: Dict[str, Any] = {
                    "index": res.tick, "timer_index": tk.index, "woke_ns": tk.woke_ns,
                    "t_s": (tk.deadline_ns - start_ns) / 1e9, "lateness_ns": tk.lateness_ns,
                    "missed": int(tk.missed), "confidence": res.confidence, "arm": res.arm,
                    "measured_rate": res.measured_rate, "attention_reset": res.attention_reset,
                    "stages_ns": dict(res.timings), "path": list(res.suggested_path or ()),
                    "reward": float("nan"), "expected_reward": float("nan"),
                    "best_expected": float("nan"), "random_expected": float("nan")}
                if reward_fn is not None:
                    answer = reward_fn(res, inputs)
                    row.update(answer)
                    late.append((res.tick + reward_delay, res.tick, answer["reward"]))
                while late and late[0][0] <= res.tick:
                    _, t, r = late.popleft()
                    orch.reward(t, r)
                ticks.append(row)
                if status is not None:
                    status(row)
            stats = timer.stats().as_dict()
            return {"timer": stats, "missed_ticks": missed, "backend": timer.waiter,
                    "period_ns": timer.period_ns, "deadlines": int(tk.index)}

    t0 = time.perf_counter()
    if executor is None:
        with RealtimeExecutor(policy="other", lock_memory=False) as ex:
            timing = ex.submit(loop).result()
    else:
        timing = executor.submit(loop).result()
    wall = time.perf_counter() - t0
    return {"ticks": ticks, "errors": errors, "timer": timing, "wall_s": wall}
