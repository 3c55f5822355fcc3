"""`superinstance doctor`: truthful, complete, and runnable as a command."""

import json
import os
import resource
import subprocess
import sys

import superinstance
import superinstance.gpu_accelerator
from superinstance import _backend, _core, doctor


def test_report_is_complete_and_truthful():
    r = doctor.report()
    assert r["library"]["version"] == superinstance.__version__
    assert r["library"]["simd_level"] in r["library"]["simd_available"]
    assert r["cpu"]["logical_cpus"] == os.cpu_count()
    assert r["kernel"]["release"] == os.uname().release
    assert isinstance(r["kernel"]["preemption"]["preempt_rt"], bool)
    rt = r["realtime"]
    soft, hard = resource.getrlimit(resource.RLIMIT_RTPRIO)
    assert rt["rlimit_rtprio"]["soft"] in (soft, "unlimited")
    for key in ("sched_fifo", "mlock", "io_uring"):
        assert set(rt[key]) >= {"ok", "errno", "detail"}
        assert rt[key]["ok"] == (rt[key]["errno"] == 0)
    with open(f"/proc/self/timerslack_ns") as f:
        assert rt["timer_slack_ns"] == int(f.read())
    assert set(rt["timer_waiters"]) == {"clock_nanosleep", "timerfd", "io_uring", "hybrid"}
    assert rt["timer_waiters"]["io_uring"]["ok"] == rt["io_uring"]["ok"]
    gpu = r["gpu"]
    assert gpu["devices"] or gpu["reason"]
    assert gpu["cuda_module"]["built"] == superinstance.capabilities()["cuda_built"]
    # the library's own backend decision (superinstance._backend), not a third copy
    assert (gpu["backend"], gpu["backend_reason"]) == _backend.decide(_backend.probe_now())
    assert gpu["backend"] == superinstance.gpu_accelerator.default_backend()


def test_io_uring_probe_agrees_with_a_second_opinion():
    # The probe must tell the truth: compare with what the sysctl says when it forbids io_uring.
    p = _core.probe_io_uring()
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            disabled = int(f.read())
    except OSError:
        disabled = None
    if disabled == 2:
        assert not p.ok
    if p.ok:
        assert p.errno == 0


def test_sched_fifo_probe_does_not_change_the_caller():
    before = os.sched_getscheduler(0)
    _core.probe_sched_fifo(1)
    assert os.sched_getscheduler(0) == before


def test_command_text_and_json():
    out = subprocess.run([sys.executable, "-m", "superinstance", "doctor"], capture_output=True,
                         text=True, check=True).stdout
    for word in ("SIMD in use", "preemption", "PREEMPT_RT", "SCHED_FIFO", "mlock", "io_uring",
                 "RT throttling", "timer slack", "timer waiters", "GPU"):
        assert word in out
    js = subprocess.run([sys.executable, "-m", "superinstance", "doctor", "--json"],
                        capture_output=True, text=True, check=True).stdout
    data = json.loads(js)
    assert set(data) == {"library", "cpu", "kernel", "realtime", "gpu"}


def test_console_script_is_installed_or_module_runs():
    res = subprocess.run([sys.executable, "-m", "superinstance", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and superinstance.__version__ in res.stdout
    res = subprocess.run([sys.executable, "-m", "superinstance"], capture_output=True, text=True)
    assert res.returncode == 2 and "doctor" in res.stdout


def test_doctor_into_a_closed_pipe_ends_quietly():
    # `superinstance doctor | head` once head has gone: the pipe's read end is closed before
    # the command writes. No BrokenPipeError traceback; status 141 (128 + SIGPIPE).
    r, w = os.pipe()
    os.close(r)
    try:
        res = subprocess.run([sys.executable, "-m", "superinstance", "doctor"], stdout=w, stderr=subprocess.PIPE,
                             text=True, timeout=120)
    finally:
        os.close(w)
    assert res.returncode == 141 and res.stderr == "", res.stderr[-2000:]
