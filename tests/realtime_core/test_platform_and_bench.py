"""platform_report() and a smoke run of the side-by-side benchmark module."""

import math

import numpy as np
import pytest

from superinstance.realtime_core import platform_report
from superinstance.bench import realtime_core as bench


def test_platform_report_lists_waiters_and_permissions():
    r = platform_report()
    assert set(r["timer_waiters"]) == {"clock_nanosleep", "timerfd", "io_uring", "hybrid"}
    assert r["timer_waiters"]["clock_nanosleep"]["ok"]
    assert r["auto_waiter"] in ("clock_nanosleep", "timerfd", "io_uring")
    assert "preempt_rt" in r["kernel"]["preemption"]
    assert {"sched_fifo", "mlock", "io_uring", "timer_slack_ns"} <= set(r["realtime"])


def test_bench_smoke_run_reports_every_method():
    rep = bench.run([1000], seconds=0.1, chunk=0.1, include_fifo=False, log=lambda s: None, cpu_dma_latency=None,
                    drift_seconds=0.1)
    res = rep["results"]
    names = {v["method"] for v in res.values()}
    assert {"Timer[clock_nanosleep]", "time.sleep(next-now)", "time.sleep(period)", "asyncio.sleep(next-now)",
            "Timer.aiter()", "callback delivery", "callback delivery: deadline to callback",
            "callback delivery, no lead"} <= names
    for v in res.values():
        assert v["count"] > 0 and v["p50_us"] <= v["p99_us"] <= v["max_us"] + 1e-9
    ours = res["1000Hz Timer[clock_nanosleep] [other]"]
    assert not math.isnan(ours["period_error_ppm"])
    assert not math.isnan(ours["continuous_period_error_ppm"])
    table = bench.format_table(rep)
    assert table.count("\n") == len(res) + 1


def _synthetic_chunk(rng, n, period, drift_ppm, start):
    idx = np.arange(n, dtype=np.int64)
    dl = start + idx * period
    ideal_wake = start + idx * period * (1 + drift_ppm * 1e-6)
    noise = rng.normal(30_000, 8_000, n)  # 30 us lateness, 8 us jitter
    stalls = rng.random(n) < 0.03  # one-sided multi-millisecond stalls
    noise[stalls] += rng.uniform(1e6, 5e6, int(stalls.sum()))
    return idx, dl, (ideal_wake + noise).astype(np.int64)


@pytest.mark.parametrize("drift_ppm", [0.0, 25.0, -120.0, 20000.0])
def test_period_estimate_recovers_a_known_drift_through_stalls(drift_ppm):
    rng = np.random.default_rng(7)
    period = 1_000_000
    chunks = [_synthetic_chunk(rng, 1000, period, drift_ppm, 10**9 * (k + 1)) for k in range(10)]
    mean_period, se_ppm = bench._period_estimate(chunks, period)
    err_ppm = (mean_period - period) / period * 1e6
    assert abs(err_ppm - drift_ppm) < max(3.0, 0.02 * abs(drift_ppm))
    assert 0 < se_ppm < 5


def test_paired_p99_compares_round_by_round():
    # A burst that hits cyclictest in one round and ours in another must not decide the ratio.
    quiet, burst = np.full(100, 50_000, np.int64), np.full(100, 5_000_000, np.int64)
    dl = np.arange(100, dtype=np.int64) * 1_000_000

    def chunk(lat):
        return (np.arange(100), dl, dl + lat)

    acc = {("Timer[x]", "other"): [chunk(quiet), chunk(burst), chunk(quiet)],
           ("cyclictest", "other"): [burst, quiet // 2, quiet // 2]}
    results = {"1000Hz Timer[x] [other]": {}, "1000Hz cyclictest [other]": {}}
    bench._paired_vs_cyclictest(results, acc, 1000)
    assert results["1000Hz Timer[x] [other]"]["p99_vs_cyclictest_paired"] == pytest.approx(2.0)
    assert results["1000Hz Timer[x] [other]"]["p99_round_median_us"] == pytest.approx(50.0)
    assert results["1000Hz cyclictest [other]"]["p99_round_median_us"] == pytest.approx(25.0)
