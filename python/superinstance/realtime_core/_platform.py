"""platform_report(): what this machine offers for real-time timing, shared with ``superinstance doctor``."""

from __future__ import annotations

from typing import Any, Dict

from .. import _core


def platform_report() -> Dict[str, Any]:
    """Kernel preemption model (PREEMPT_RT from ``uname -v``), SCHED_FIFO and mlock permission,
    timer slack, RT throttling, io_uring, and which timer waiters work in this process."""
    from .. import doctor

    rt = doctor.realtime_report()
    kernel = doctor.kernel_report()
    probes = _core.realtime_probe_waiters()
    return {
        "kernel": {"release": kernel["release"], "version": kernel["version"],
                   "preemption": kernel["preemption"], "hz": kernel["hz"], "clocksource": kernel["clocksource"]},
        "realtime": rt,
        "timer_waiters": {p["name"]: {"ok": p["ok"], "detail": p["detail"]} for p in probes},
        "auto_waiter": next((p["name"] for p in probes if p["ok"] and p["name"] != "hybrid"), None),
    }
