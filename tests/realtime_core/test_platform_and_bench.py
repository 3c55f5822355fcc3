"""platform_report() and a smoke run of the side-by-side benchmark module."""

import math

from superinstance.realtime_core import platform_report
from superinstance.realtime_core import bench


def test_platform_report_lists_backends_and_permissions():
    r = platform_report()
    assert set(r["timer_backends"]) == {"clock_nanosleep", "timerfd", "io_uring", "hybrid"}
    assert r["timer_backends"]["clock_nanosleep"]["ok"]
    assert r["auto_backend"] in ("clock_nanosleep", "timerfd", "io_uring")
    assert "preempt_rt" in r["kernel"]["preemption"]
    assert {"sched_fifo", "mlock", "io_uring", "timer_slack_ns"} <= set(r["realtime"])


def test_bench_smoke_run_reports_every_method():
    rep = bench.run([1000], seconds=0.1, chunk=0.1, include_fifo=False, log=lambda s: None, cpu_dma_latency=None)
    res = rep["results"]
    names = {v["method"] for v in res.values()}
    assert {"Timer[clock_nanosleep]", "time.sleep(next-now)", "time.sleep(period)", "asyncio.sleep(next-now)",
            "Timer.aiter()", "callback delivery", "callback delivery: deadline to callback",
            "callback delivery, no lead"} <= names
    for v in res.values():
        assert v["count"] > 0 and v["p50_us"] <= v["p99_us"] <= v["max_us"] + 1e-9
    ours = res["1000Hz Timer[clock_nanosleep] [other]"]
    assert not math.isnan(ours["period_error_ppm"])
    table = bench.format_table(rep)
    assert table.count("\n") == len(res) + 1
