"""Side-by-side timer benchmark: ``python -m superinstance.bench.realtime_core``.

Measures, in one process run and interleaved (round-robin chunks, so slow
drifts in machine load hit every method alike), the lateness (woke minus
absolute deadline) and the mean period of:

* our Timer with each working waiter, under SCHED_OTHER and (where permitted)
  SCHED_FIFO;
* a Python ``time.sleep(next - now)`` loop (absolute targets) and a naive
  ``time.sleep(period)`` loop (relative: shows the drift);
* an ``asyncio.sleep(next - now)`` loop and our ``Timer.aiter()``;
* ``cyclictest`` from rt-tests when installed (the C reference);
* the cost of delivering a tick to a Python callback on a RealtimeExecutor
  (the loop's wake-up to the first line of the callback: GIL acquire, Tick,
  call), with the default ``python_lead_ns`` (the GIL is taken and the call
  path warmed before the deadline) and without it (``no lead``); each also as
  the lateness of the callback's first line against the deadline.

Mean period: the least-squares trend of lateness against an ideal grid (first
deadline + k * target period) within each chunk, samples above the chunk's P90
dropped (the VM's stalls are one-sided), pooled over chunks; reported as the
error from the target in ppm with a standard error from the spread between
chunks. Within a 1 s chunk, lateness wanders by tens of microseconds with the
load, which is tens of ppm of one chunk: ``--drift-seconds S`` adds one
continuous S-second run per timer of ours, whose estimate is S times tighter.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..realtime_core import RealtimeExecutor, Timer, monotonic_ns, waiters
from .table import best_peer_ratio, row, write_json

Chunk = Tuple[np.ndarray, np.ndarray, np.ndarray]  # index, deadline_ns, woke_ns


def _timer_chunk(backend: str, rate: int, seconds: float) -> Chunk:
    period = 10**9 // rate
    n = max(2, int(seconds * rate))
    idx = np.empty(n, np.int64)
    dl = np.empty(n, np.int64)
    wk = np.empty(n, np.int64)
    with Timer(rate_hz=rate, waiter=backend, start_ns=monotonic_ns() + 2 * period) as t:
        for i in range(n):
            tk = t.tick()
            idx[i], dl[i], wk[i] = tk.index, tk.deadline_ns, tk.woke_ns
    return idx, dl, wk


def _deadline_grid(rate: int, seconds: float) -> Chunk:
    """(index, deadline, room for the wake-up times) of a run on an absolute grid
    starting two periods from now."""
    period = 10**9 // rate
    idx = np.arange(max(2, int(seconds * rate)), dtype=np.int64)
    return idx, monotonic_ns() + 2 * period + idx * period, np.empty(idx.shape[0], np.int64)


def _sleep_abs_chunk(rate: int, seconds: float) -> Chunk:
    idx, dl, wk = _deadline_grid(rate, seconds)
    for i in range(idx.shape[0]):
        delta = dl[i] - time.monotonic_ns()
        if delta > 0:
            time.sleep(delta / 1e9)
        wk[i] = time.monotonic_ns()
    return idx, dl, wk


def _sleep_rel_chunk(rate: int, seconds: float) -> Chunk:
    period = 10**9 // rate
    n = max(2, int(seconds * rate))
    idx = np.arange(n, dtype=np.int64)
    wk = np.empty(n, np.int64)
    start = time.monotonic_ns()
    for i in range(n):
        time.sleep(period / 1e9)
        wk[i] = time.monotonic_ns()
    return idx, start + (idx + 1) * period, wk


def _asyncio_chunk(rate: int, seconds: float) -> Chunk:
    async def run() -> Chunk:
        idx, dl, wk = _deadline_grid(rate, seconds)
        for i in range(idx.shape[0]):
            delta = dl[i] - time.monotonic_ns()
            if delta > 0:
                await asyncio.sleep(delta / 1e9)
            wk[i] = time.monotonic_ns()
        return idx, dl, wk

    return asyncio.run(run())


def _aiter_chunk(rate: int, seconds: float) -> Chunk:
    period = 10**9 // rate
    n = max(2, int(seconds * rate))

    async def run() -> Chunk:
        idx = np.empty(n, np.int64)
        dl = np.empty(n, np.int64)
        wk = np.empty(n, np.int64)
        i = 0
        with Timer(rate_hz=rate, start_ns=monotonic_ns() + 2 * period) as t:
            async for tk in t.aiter():
                idx[i], dl[i], wk[i] = tk.index, tk.deadline_ns, tk.woke_ns
                i += 1
                if i == n:
                    break
        return idx, dl, wk

    return asyncio.run(run())


def callback_delivery(rate: int, seconds: float, policy: str, lead: Optional[int] = None) -> np.ndarray:
    """Row 0: delivery cost (ns), from the loop's wake-up to the first line of the Python callback;
    row 1: that first line's lateness against the deadline. ``lead``: python_lead_ns (None: default)."""
    n = max(2, int(seconds * rate))
    out = np.zeros((2, n), np.int64)
    pos = [0]

    def cb(tick: Any) -> None:
        now = monotonic_ns()
        i = pos[0]
        if i < n:
            out[0, i] = now - tick.woke_ns
            out[1, i] = now - tick.deadline_ns
            pos[0] = i + 1

    kw: Dict[str, Any] = {"policy": policy, "lock_memory": False}
    if policy == "fifo":
        kw["priority"] = 80
    if lead is not None:
        kw["python_lead_ns"] = lead
    ex = RealtimeExecutor(**kw)
    try:
        ex.add(cb, rate_hz=rate)
        while pos[0] < n:
            time.sleep(0.05)
    finally:
        ex.close()
    return out


def _cyclictest_chunk(rate: int, seconds: float, policy: str) -> Optional[np.ndarray]:
    exe = shutil.which("cyclictest")
    if exe is None:
        return None
    loops = max(2, int(seconds * rate))
    interval_us = 10**6 // rate
    prio = ["-p", "80"] if policy == "fifo" else ["-p", "0", "--policy=other"]
    cmd = [exe, "-m", "-q", "-t", "1", "-i", str(interval_us), "-l", str(loops), "-h", "20000", *prio]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 3 + 30)
    vals: List[int] = []
    counts: List[int] = []
    for line in r.stdout.splitlines():
        m = re.match(r"^(\d+)\s+(\d+)", line)
        if m and int(m.group(2)):
            vals.append(int(m.group(1)))
            counts.append(int(m.group(2)))
    if not counts:
        return None
    over = re.search(r"# Histogram Overflows: (\d+)", r.stdout)
    lat = np.repeat(np.array(vals, np.int64) * 1000, counts)  # us buckets -> ns
    if over and int(over.group(1)):
        lat = np.concatenate([lat, np.full(int(over.group(1)), 20_000_000, np.int64)])
    return lat


class _Fifo:
    """Runs the calling thread under SCHED_FIFO for a block (restored afterwards)."""

    def __init__(self, enabled: bool, prio: int = 80):
        self.enabled, self.prio = enabled, prio

    def __enter__(self) -> None:
        if self.enabled:
            self.old = (os.sched_getscheduler(0), os.sched_getparam(0))
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.prio))

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            os.sched_setscheduler(0, self.old[0], self.old[1])


def _on_fresh_thread(fn: Callable[[int, float], Any], rate: int, seconds: float, fifo: bool) -> Any:
    """Runs one chunk on a new thread (under SCHED_FIFO if asked) and returns its result.

    cyclictest starts as a fresh process for every chunk; the kernel's fair scheduler
    (EEVDF) remembers how much CPU a thread used, and this process's main thread has
    just done all the bookkeeping of the other methods, so its wake-ups would lose to
    other tasks more often. A fresh thread per chunk gives every method the same start.
    """
    box: Dict[str, Any] = {}

    def body() -> None:
        try:
            with _Fifo(fifo):
                box["result"] = fn(rate, seconds)
        except BaseException as e:  # noqa: BLE001 - re-raised on the calling thread
            box["error"] = e

    t = threading.Thread(target=body, name="timer-bench-chunk")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def _fifo_permitted() -> bool:
    try:
        with _Fifo(True, 1):
            return True
    except OSError:
        return False


def _chunk_trend(chunk: Chunk, period: int) -> Optional[Tuple[float, float, float]]:
    """Least-squares trend of one chunk's lateness against an ideal grid (first deadline + k *
    target period): (sum t*l, sum t*t) over centred tick index t and lateness l, and the slope.

    The VM's stalls are one-sided and would dominate a plain fit, so samples whose residual
    from a first robust line (medians of the two halves) is above the 90th percentile are
    dropped; trimming the raw lateness instead would drop the late end of a drifting chunk."""
    idx, dl, wk = chunk
    if idx.size < 8:
        return None
    t_all = idx.astype(np.float64) - float(idx[0])
    lat = (wk - (dl[0] + (idx - idx[0]) * period)).astype(np.float64)
    h = idx.size // 2
    span = float(np.median(t_all[h:]) - np.median(t_all[:h]))
    slope0 = float(np.median(lat[h:]) - np.median(lat[:h])) / span if span > 0 else 0.0
    resid = lat - slope0 * t_all
    keep = resid <= np.percentile(resid, 90)
    t = t_all[keep] - t_all[keep].mean()
    lk = lat[keep] - lat[keep].mean()
    tt = float(t @ t)
    return (float(t @ lk), tt, float(t @ lk) / tt) if tt > 0 else None


def _period_estimate(chunks: List[Chunk], period: int) -> Tuple[float, float]:
    """Mean period (ns) pooled over the chunks' trends, and its standard error in ppm from the
    spread of the per-chunk slopes (nan with one chunk). A timer that drifts shows a slope within
    every chunk; one on an exact grid only shows the noise of its lateness over the chunk."""
    trends = [tr for tr in (_chunk_trend(c, period) for c in chunks) if tr is not None]
    if not trends:
        return float("nan"), float("nan")
    tl, tt = sum(tr[0] for tr in trends), sum(tr[1] for tr in trends)
    slope = tl / tt
    se = float("nan")
    if len(trends) > 1:
        var = sum(tr[1] * (tr[2] - slope) ** 2 for tr in trends) / ((len(trends) - 1) * tt)
        se = var ** 0.5 / period * 1e6
    return period + slope, se


def _summary(lat_ns: np.ndarray, chunks: Optional[List[Chunk]], period: int) -> Dict[str, Any]:
    lat = np.maximum(lat_ns, 0)
    p = np.percentile(lat, [50, 99, 99.9], method="inverted_cdf") if lat.size else [np.nan] * 3
    d: Dict[str, Any] = {"count": int(lat.size), "p50_us": p[0] / 1e3, "p99_us": p[1] / 1e3,
                         "p999_us": p[2] / 1e3, "max_us": float(lat.max()) / 1e3 if lat.size else np.nan}
    if chunks:
        mean_period, se_ppm = _period_estimate(chunks, period)
        d["mean_period_ns"] = mean_period
        d["period_error_ppm"] = (mean_period - period) / period * 1e6
        d["period_error_se_ppm"] = se_ppm
        d["missed"] = int(sum(int(np.sum(np.diff(c[0]) - 1)) for c in chunks))
    return d


class _CpuDmaLatency:
    """Holds /dev/cpu_dma_latency at a value (0: no deep C-states) while open, as cyclictest does
    for itself by default, so that every method runs under the same power settings."""

    def __init__(self, value: Optional[int]):
        self.value, self.fd, self.held = value, None, False

    def __enter__(self) -> "_CpuDmaLatency":
        if self.value is not None:
            try:
                self.fd = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
                os.write(self.fd, int(self.value).to_bytes(4, "little", signed=True))
                self.held = True
            except OSError:
                if self.fd is not None:
                    os.close(self.fd)
                self.fd = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            os.close(self.fd)


def run(rates: List[int], seconds: float, chunk: float, include_fifo: bool = True,
        log: Callable[[str], None] = print, cpu_dma_latency: Optional[int] = 0,
        drift_seconds: float = 0.0) -> Dict[str, Any]:
    with _CpuDmaLatency(cpu_dma_latency) as dma:
        rep = _run(rates, seconds, chunk, include_fifo, log, drift_seconds)
    rep["cpu_dma_latency_held"] = cpu_dma_latency if dma.held else None
    return rep


def _run(rates: List[int], seconds: float, chunk: float, include_fifo: bool,
         log: Callable[[str], None], drift_seconds: float = 0.0) -> Dict[str, Any]:
    working = [b["name"] for b in waiters() if b["ok"]]
    fifo = include_fifo and _fifo_permitted()
    methods: List[Tuple[str, str, Callable[[int, float], Any]]] = []
    for pol in (["other", "fifo"] if fifo else ["other"]):
        for b in working:
            methods.append((f"Timer[{b}]", pol, lambda r, s, b=b: _timer_chunk(b, r, s)))
        methods.append(("time.sleep(next-now)", pol, _sleep_abs_chunk))
        if pol == "other":
            methods.append(("time.sleep(period)", pol, _sleep_rel_chunk))
            methods.append(("asyncio.sleep(next-now)", pol, _asyncio_chunk))
            methods.append(("Timer.aiter()", pol, _aiter_chunk))
        methods.append(("cyclictest", pol, lambda r, s, pol=pol: _cyclictest_chunk(r, s, pol)))
        methods.append(("callback delivery", pol, lambda r, s, pol=pol: callback_delivery(r, s, pol)))
        methods.append(("callback delivery, no lead", pol, lambda r, s, pol=pol: callback_delivery(r, s, pol, 0)))
    results: Dict[str, Any] = {}
    for rate in rates:
        period = 10**9 // rate
        # 100 Hz needs longer chunks for a meaningful per-chunk slope.
        ch = max(chunk, 250 / rate)
        rounds = max(1, int(round(seconds / ch)))
        acc: Dict[Tuple[str, str], List[Any]] = {(m, p): [] for m, p, _ in methods}
        for rnd in range(rounds):
            for name, pol, fn in methods:
                # cyclictest and the executor run on threads of their own; the rest on a fresh one.
                if name == "cyclictest" or name.startswith("callback delivery"):
                    acc[(name, pol)].append(fn(rate, ch))
                else:
                    acc[(name, pol)].append(_on_fresh_thread(fn, rate, ch, pol == "fifo"))
            log(f"  {rate} Hz: round {rnd + 1}/{rounds} done")
        for (name, pol), parts in acc.items():
            parts = [p for p in parts if p is not None]
            if not parts:
                continue
            if isinstance(parts[0], tuple):
                lat = np.concatenate([wk - dl for _, dl, wk in parts])
                s = _summary(lat, parts, period)
                if name == "time.sleep(period)":
                    s["note"] = "relative sleeps: lateness vs the intended grid grows without bound"
            elif parts[0].ndim == 2:  # callback delivery: cost, and lateness vs the deadline
                both = np.concatenate(parts, axis=1)
                for part, label in ((0, name), (1, name + ": deadline to callback")):
                    results[f"{rate}Hz {label} [{pol}]"] = dict(_summary(both[part], None, period), rate_hz=rate,
                                                                 method=label, policy=pol, seconds=rounds * ch)
                continue
            else:
                s = _summary(np.concatenate(parts), None, period)
            results[f"{rate}Hz {name} [{pol}]"] = dict(s, rate_hz=rate, method=name, policy=pol,
                                                        seconds=rounds * ch)
        _paired_vs_cyclictest(results, acc, rate)
        if drift_seconds > 0:
            _continuous_runs(results, methods, rate, drift_seconds, log)
    return {"results": results, "machine": _machine(), "fifo": fifo, "waiters": working,
            "cyclictest": shutil.which("cyclictest") is not None,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _round_p99_us(parts: List[Any]) -> List[Optional[float]]:
    """P99 lateness (us) of each round's chunk (None where the method did not run)."""
    out: List[Optional[float]] = []
    for p in parts:
        if p is None:
            out.append(None)
            continue
        lat = p[2] - p[1] if isinstance(p, tuple) else p
        out.append(float(np.percentile(np.maximum(lat, 0), 99)) / 1e3)
    return out


def _paired_vs_cyclictest(results: Dict[str, Any], acc: Dict[Tuple[str, str], List[Any]], rate: int) -> None:
    """Per round, the P99 of each timer of ours over cyclictest's P99 in the same round and policy;
    the median over rounds. On a loaded machine a burst of load hits one method's chunk at random
    and decides a pooled P99; pairing by round keeps it from deciding the comparison."""
    for pol in sorted({p for _, p in acc}):
        cyc = acc.get(("cyclictest", pol))
        if not cyc or all(c is None for c in cyc):
            continue
        cyc_p99 = _round_p99_us(cyc)
        for (name, p), parts in acc.items():
            if p != pol or not (name.startswith("Timer[") or name == "cyclictest"):
                continue
            ours = _round_p99_us(parts)
            r = results.get(f"{rate}Hz {name} [{pol}]")
            if r is None:
                continue
            r["p99_round_median_us"] = float(np.median([a for a in ours if a is not None]))
            ratios = [a / b for a, b in zip(ours, cyc_p99) if a is not None and b]
            if ratios and name != "cyclictest":
                r["p99_vs_cyclictest_paired"] = float(np.median(ratios))


def _continuous_runs(results: Dict[str, Any], methods: List[Tuple[str, str, Callable[[int, float], Any]]],
                     rate: int, seconds: float, log: Callable[[str], None]) -> None:
    """One continuous run per timer of ours (SCHED_OTHER): its mean period over `seconds`."""
    period = 10**9 // rate
    for name, pol, fn in methods:
        if pol != "other" or not (name.startswith("Timer") or name == "time.sleep(next-now)"):
            continue
        mean_period, _ = _period_estimate([_on_fresh_thread(fn, rate, seconds, False)], period)
        r = results.get(f"{rate}Hz {name} [{pol}]")
        if r is not None:
            r["continuous_s"] = seconds
            r["continuous_period_error_ppm"] = (mean_period - period) / period * 1e6
        log(f"  {rate} Hz: {seconds:g} s continuous run of {name} done")


def _machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            model = m.group(1).strip() if m else ""
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{model}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
            f"load average at end {load[0]:.2f}")


def format_table(report: Dict[str, Any]) -> str:
    rows = ["| rate | method | policy | P50 us | P99 us | P99.9 us | max us | P99 per round, median us "
            "| ours P99 / cyclictest P99, paired by round | period error ppm (+- s.e.) | continuous run ppm | missed |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["results"].values():
        ppm, se = r.get("period_error_ppm"), r.get("period_error_se_ppm")
        ppm_s = "n/a" if ppm is None else f"{ppm:+.1f}" + ("" if se is None or se != se else f" +- {se:.1f}")
        cont = r.get("continuous_period_error_ppm")
        cont_s = "" if cont is None else f"{cont:+.2f} ({r['continuous_s']:g} s)"
        rnd = r.get("p99_round_median_us")
        rnd_s = "" if rnd is None else f"{rnd:.1f}"
        pair = r.get("p99_vs_cyclictest_paired")
        pair_s = "" if pair is None else f"{pair:.2f}x"
        rows.append(f"| {r['rate_hz']} Hz | {r['method']} | {r['policy']} | {r['p50_us']:.1f} | {r['p99_us']:.1f} | "
                    f"{r['p999_us']:.1f} | {r['max_us']:.0f} | {rnd_s} | {pair_s} | {ppm_s} | {cont_s} | "
                    f"{r.get('missed', '')} |")
    return "\n".join(rows)


PEER_METHODS = ("cyclictest", "time.sleep(next-now)", "asyncio.sleep(next-now)")


def summary(report: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Summary rows (case, ours, peers, ratio): per rate and policy, the wake-up lateness P99 of
    our best Timer against the absolute sleep loops and cyclictest (ratio: best peer / ours)."""
    groups: Dict[Tuple[int, str], List[Dict[str, Any]]] = {}
    for r in report["results"].values():
        groups.setdefault((r["rate_hz"], r["policy"]), []).append(r)
    rows = []
    for (rate, policy), rs in groups.items():
        timers = [r for r in rs if r["method"].startswith("Timer[")]
        if not timers:
            continue
        best = min(timers, key=lambda r: r["p99_us"])
        peers = {r["method"]: r["p99_us"] for r in rs if r["method"] in PEER_METHODS}
        rows.append(row(f"lateness P99, {rate} Hz, SCHED_{policy.upper()}", f"{best['method']} {best['p99_us']:.1f} us",
                        ", ".join(f"{m} {v:.1f} us" for m, v in peers.items()),
                        best_peer_ratio(best["p99_us"], peers)))
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="1000,100", help="comma-separated rates in Hz (default 1000,100)")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per method and rate (default 10)")
    ap.add_argument("--chunk", type=float, default=1.0, help="seconds per interleaved chunk (default 1)")
    ap.add_argument("--no-fifo", action="store_true", help="skip the SCHED_FIFO runs")
    ap.add_argument("--drift-seconds", type=float, default=0.0,
                    help="also run each timer of ours once for this many seconds without a break, for a "
                         "tighter mean-period estimate (default 0: off)")
    ap.add_argument("--json", help="write the full report here")
    ap.add_argument("--cpu-dma-latency", type=int, default=0,
                    help="hold /dev/cpu_dma_latency at this many us for the whole run, for every method "
                         "(cyclictest does so for itself); -1 leaves it alone (default 0)")
    a = ap.parse_args(argv)
    rep = run([int(r) for r in a.rates.split(",")], a.seconds, a.chunk, not a.no_fifo,
              log=lambda s: print(s, file=sys.stderr),
              cpu_dma_latency=None if a.cpu_dma_latency < 0 else a.cpu_dma_latency,
              drift_seconds=a.drift_seconds)
    # The arguments this module was given (not sys.argv: `superinstance bench` calls main() too).
    rep["command"] = "python -m superinstance.bench.realtime_core " + " ".join(
        sys.argv[1:] if argv is None else argv)
    write_json(a.json, rep)
    print(f"# {rep['date']}; {rep['machine']}")
    print(f"# {rep['command']}; /dev/cpu_dma_latency held at: {rep['cpu_dma_latency_held']}")
    print(format_table(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
