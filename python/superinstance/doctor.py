"""``superinstance doctor``: what this machine and build support.

Every fact is read or probed at call time (probes try the real operation, so
containers that forbid io_uring or SCHED_FIFO are reported truthfully).
Unknown facts are reported as ``None`` with the reason where one exists.
"""

from __future__ import annotations

import gzip
import os
import platform
import re
import resource
from typing import Any, Dict, Optional

from . import _backend, _core, capabilities

__all__ = ["report", "format_text", "kernel_report", "realtime_report", "gpu_report"]


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _kernel_config() -> Optional[str]:
    release = os.uname().release
    text = _read(f"/boot/config-{release}")
    if text is not None:
        return text
    try:
        with gzip.open("/proc/config.gz", "rt", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _preemption(uname_version: str, config: Optional[str]) -> Dict[str, Any]:
    """Preemption model: debugfs's live setting first, then the build config, then uname."""
    live = _read("/sys/kernel/debug/sched/preempt")  # e.g. "none voluntary (full) lazy"
    if live:
        m = re.search(r"\((\w+)\)", live)
        if m:
            model = m.group(1)
            return {"model": model, "source": "/sys/kernel/debug/sched/preempt",
                    "preempt_rt": "PREEMPT_RT" in uname_version}
    rt = "PREEMPT_RT" in uname_version or os.path.exists("/sys/kernel/realtime")
    if config:
        if re.search(r"^CONFIG_PREEMPT_RT=y", config, re.M):
            return {"model": "rt", "source": "kernel config", "preempt_rt": True}
        dynamic = bool(re.search(r"^CONFIG_PREEMPT_DYNAMIC=y", config, re.M))
        for opt, name in (("CONFIG_PREEMPT", "full"), ("CONFIG_PREEMPT_VOLUNTARY", "voluntary"),
                          ("CONFIG_PREEMPT_NONE", "none")):
            if re.search(rf"^{opt}=y", config, re.M):
                suffix = " (default; PREEMPT_DYNAMIC can change it at boot)" if dynamic else ""
                return {"model": name + suffix, "source": "kernel config", "preempt_rt": rt}
    if rt:
        return {"model": "rt", "source": "uname -v", "preempt_rt": True}
    if "PREEMPT_DYNAMIC" in uname_version:
        model = "dynamic (mode not readable without debugfs)"
    elif re.search(r"\bPREEMPT\b", uname_version):
        model = "full"
    else:
        model = "none or voluntary"
    return {"model": model, "source": "uname -v", "preempt_rt": False}


def kernel_report() -> Dict[str, Any]:
    u = os.uname()
    config = _kernel_config()
    hz = None
    if config:
        m = re.search(r"^CONFIG_HZ=(\d+)", config, re.M)
        hz = int(m.group(1)) if m else None
    return {
        "system": u.sysname,
        "release": u.release,
        "version": u.version,
        "preemption": _preemption(u.version, config),
        "hz": hz,
        "hz_source": "kernel config" if hz else "unknown (no /boot/config or /proc/config.gz)",
        "clocksource": _read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
    }


def _rlimit(which: int) -> Dict[str, Any]:
    soft, hard = resource.getrlimit(which)
    fmt = lambda v: "unlimited" if v == resource.RLIM_INFINITY else int(v)  # noqa: E731
    return {"soft": fmt(soft), "hard": fmt(hard)}


def _capability(bit: int) -> Optional[bool]:
    status = _read("/proc/self/status")
    if not status:
        return None
    m = re.search(r"^CapEff:\s*([0-9a-f]+)", status, re.M)
    return bool(int(m.group(1), 16) >> bit & 1) if m else None


def _int_or_none(text: Optional[str]) -> Optional[int]:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def realtime_report() -> Dict[str, Any]:
    rt_runtime = _int_or_none(_read("/proc/sys/kernel/sched_rt_runtime_us"))
    rt_period = _int_or_none(_read("/proc/sys/kernel/sched_rt_period_us"))
    if rt_runtime is None:
        throttling = None
    else:
        throttling = rt_runtime >= 0
    uring = _core.probe_io_uring()
    return {
        "sched_fifo": _core.probe_sched_fifo(1).as_dict(),
        "rlimit_rtprio": _rlimit(resource.RLIMIT_RTPRIO),
        "cap_sys_nice": _capability(23),
        "mlock": _core.probe_mlock().as_dict(),
        "rlimit_memlock": _rlimit(resource.RLIMIT_MEMLOCK),
        "cap_ipc_lock": _capability(14),
        "timer_slack_ns": _core.timer_slack_ns(),
        "rt_throttling": {"enabled": throttling, "runtime_us": rt_runtime, "period_us": rt_period},
        "timer_waiters": {p["name"]: {"ok": p["ok"], "detail": " ".join(p["detail"].split())}
                          for p in _core.realtime_probe_waiters()},
        "io_uring": dict(uring.as_dict(),
                         io_uring_disabled_sysctl=_int_or_none(_read("/proc/sys/kernel/io_uring_disabled"))),
    }


def _cpu_report() -> Dict[str, Any]:
    caps = capabilities()
    model = None
    info = _read("/proc/cpuinfo") or ""
    m = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    if m:
        model = m.group(1).strip()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return {
        "model": model or platform.processor() or None,
        "arch": caps["arch"],
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "features": caps["features"],
    }


def gpu_report() -> Dict[str, Any]:
    """GPUs through cuda-python where installed, else through superinstance._cuda,
    and the backend that ``backend="auto"`` takes (the library's own decision,
    superinstance._backend, on a probe run now)."""
    module = _backend.probe_now()
    found, why = _backend.cuda_python_devices()
    if found is not None:
        result = {"source": "cuda-python", "reason": why or None,
                  "devices": [dict(d, dpx="native" if d["compute_capability"][0] >= 9 else "emulated")
                              for d in found]}
    elif module["built"]:
        result = {"source": "superinstance._cuda", "devices": module["devices"], "reason": module["error"] or None}
    else:
        result = {"source": None, "devices": [],
                  "reason": "neither cuda-python nor the superinstance._cuda module is installed"}
    result["cuda_module"] = (
        {"built": False} if not module["built"] else
        {"built": True, "runtime_version": module["runtime_version"],
         "driver_version": module["driver_version"], "error": module["error"] or None,
         "compiled_architectures": module["compiled_architectures"],
         "kernel_checks": [{"index": d["index"], "ok": d["kernel_ok"], "error": d["kernel_error"] or None}
                           for d in module["devices"]]})
    result["backend"], result["backend_reason"] = _backend.decide(module)
    return result


def report() -> Dict[str, Any]:
    """Everything ``superinstance doctor`` shows, as a JSON-serialisable dict."""
    caps = capabilities()
    build = _core.build_info()
    return {
        "library": {
            "version": caps["version"],
            "compiler": build["compiler"],
            "build_type": build["build_type"],
            "simd_level": caps["simd_level"],
            "simd_detected": caps["simd_detected"],
            "simd_available": caps["simd_available"],
            "simd_requested": caps["simd_requested"] or None,
            "simd_warning": caps["simd_warning"] or None,
            "cuda_built": caps["cuda_built"],
            "python": platform.python_version(),
        },
        "cpu": _cpu_report(),
        "kernel": kernel_report(),
        "realtime": realtime_report(),
        "gpu": gpu_report(),
    }


def _yes(v: Any) -> str:
    return {True: "yes", False: "no", None: "unknown"}.get(v, str(v))


def _probe_line(p: Dict[str, Any]) -> str:
    return "yes" if p["ok"] else f"no ({p['detail']})"


def format_text(r: Dict[str, Any]) -> str:
    lib, cpu, ker, rt, gpu = r["library"], r["cpu"], r["kernel"], r["realtime"], r["gpu"]
    feats = ", ".join(k for k, v in cpu["features"].items() if v) or "none"
    thr = rt["rt_throttling"]
    if thr["enabled"] is None:
        throttling = "unknown"
    elif thr["enabled"]:
        throttling = f"on ({thr['runtime_us']} us per {thr['period_us']} us)"
    else:
        throttling = "off"
    rows = [
        ("superinstance", f"{lib['version']} (Python {lib['python']})"),
        ("  build", f"{lib['compiler']}, {lib['build_type']}"),
        ("  SIMD in use", lib["simd_level"] + (f"  [SUPERINSTANCE_SIMD={lib['simd_requested']}]"
                                             if lib["simd_requested"] else "")),
        ("  SIMD available", ", ".join(lib["simd_available"])),
        ("  CUDA module", "built" if lib["cuda_built"] else "not built"),
        ("CPU", f"{cpu['model']} ({cpu['arch']})"),
        ("  CPUs", f"{cpu['logical_cpus']} logical, {cpu['usable_cpus']} usable by this process"),
        ("  features", feats),
        ("kernel", f"{ker['system']} {ker['release']}"),
        ("  preemption", f"{ker['preemption']['model']} (from {ker['preemption']['source']})"),
        ("  PREEMPT_RT", _yes(ker["preemption"]["preempt_rt"])),
        ("  HZ", str(ker["hz"]) if ker["hz"] else ker["hz_source"]),
        ("  clocksource", str(ker["clocksource"])),
        ("real-time", ""),
        ("  SCHED_FIFO", _probe_line(rt["sched_fifo"])),
        ("  RLIMIT_RTPRIO", f"soft {rt['rlimit_rtprio']['soft']}, hard {rt['rlimit_rtprio']['hard']}"),
        ("  CAP_SYS_NICE", _yes(rt["cap_sys_nice"])),
        ("  mlock", _probe_line(rt["mlock"])),
        ("  RLIMIT_MEMLOCK", f"soft {rt['rlimit_memlock']['soft']}, hard {rt['rlimit_memlock']['hard']}"),
        ("  timer slack", f"{rt['timer_slack_ns']} ns"),
        ("  RT throttling", throttling),
        ("  io_uring", _probe_line(rt["io_uring"])),
        ("  timer waiters", ", ".join(f"{name} {'ok' if b['ok'] else 'refused (' + b['detail'] + ')'}"
                                      for name, b in rt["timer_waiters"].items())),
    ]
    if gpu["devices"]:
        for d in gpu["devices"]:
            cc = "{}.{}".format(*d["compute_capability"])
            rows.append((f"GPU {d['index']}", f"{d['name']}, sm_{cc.replace('.', '')}, "
                         f"{d['total_memory'] / 2**30:.1f} GiB, {d['multiprocessors']} SMs, "
                         f"DPX {d['dpx']}"))
    else:
        rows.append(("GPU", f"none ({gpu['reason']})"))
    rows.append(("  queried via", str(gpu["source"])))
    rows.append(("  backend", f"{gpu['backend']} ({gpu['backend_reason']})"))
    mod = gpu["cuda_module"]
    if mod["built"]:
        archs = ", ".join(f"sm_{a}" for a in mod["compiled_architectures"])
        rows.append(("  _cuda module", f"runtime {mod['runtime_version']}, driver "
                     f"{mod['driver_version'] or 'none'}, built for {archs}"))
        for k in mod["kernel_checks"]:
            rows.append((f"  kernel on GPU {k['index']}", "ok" if k["ok"] else f"failed ({k['error']})"))
    width = max(len(k) for k, _ in rows) + 2
    out = [f"{k:<{width}}{v}" if v else k for k, v in rows]
    if lib["simd_warning"]:
        out.append(f"warning: {lib['simd_warning']}")
    return "\n".join(out)
