"""The demo and bench commands as a user runs them."""

import json
import os
import subprocess
import sys

import pytest


def test_demo_command_runs_and_writes_its_report(tmp_path):
    res = subprocess.run([sys.executable, "-m", "superinstance", "demo", "--seconds", "1.5", "--rate", "20",
                          "--per-subtopic", "20", "--report", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "summary:" in res.stdout and "report:" in res.stdout
    assert "tick_paced_p50_us" in res.stdout and "tick_paced_p99_us" in res.stdout
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["summary"]["ticks"] + data["summary"]["missed_ticks"] == 30


@pytest.mark.parametrize("args, message", [
    (["--rate", "0.1"], "--rate must be within"),
    (["--rate", "2000"], "--rate must be within"),
    (["--seconds", "0"], "--seconds must be > 0"),
])
def test_demo_rejects_bad_arguments(args, message):
    res = subprocess.run([sys.executable, "-m", "superinstance", "demo", *args], capture_output=True, text=True)
    assert res.returncode == 2 and message in res.stderr


BLOCK_PEERS = """
import sys
for name in ("mabwiser", "vowpalwabbit"):
    sys.modules[name] = None          # as if not installed
from superinstance.cli import main
raise SystemExit(main(["bench", "bandit", "--quick", "--json", sys.argv[1]]))
"""


def _run_into_closed_pipe(args, unbuffered=False, timeout=300):
    """Runs a Python command whose stdout is a pipe nobody reads any more (as under
    `superinstance doctor | head` once head has exited): the read end is closed before
    the command starts, so its first write to stdout fails with EPIPE (at the write when
    unbuffered, else at a flush)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run([sys.executable, *args], stdout=w, stderr=subprocess.PIPE, text=True, env=env,
                              timeout=timeout)
    finally:
        os.close(w)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("args", [
    ["doctor"], ["doctor", "--json"], ["--version"], [],
    ["demo", "--seconds", "0.3", "--rate", "20", "--per-subtopic", "5", "--no-report"],
], ids=lambda a: " ".join(a) or "no command")
def test_every_command_ends_quietly_when_the_reader_goes_away(args, unbuffered):
    res = _run_into_closed_pipe(["-m", "superinstance", *args], unbuffered)
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr, res.stderr[-2000:]
    if args in (["--version"], []) and unbuffered:
        # argparse (3.11+) ignores a failed write of the version or the help itself and exits as usual
        assert res.returncode in ((0 if args else 2), 141)
    else:
        assert res.returncode == 141  # 128 + SIGPIPE, as a C tool killed by SIGPIPE reports


TWO_CHATTY_SUITES = """
import sys, types
from superinstance import bench
from superinstance.cli import main

def chatty_main(argv):
    print("suite started", file=sys.stderr)
    for i in range(10000):  # more than any pipe or stdio buffer holds
        print(f"| row {i} |")
    return 0

sys.modules["chatty_bench"] = types.SimpleNamespace(main=chatty_main)
bench.SUITES["timer"] = [("chatty_bench", [], []), ("chatty_bench", [], [])]
raise SystemExit(main(["bench", "timer", "--quick"]))
"""


def test_bench_stops_at_a_closed_pipe_instead_of_running_the_next_suite():
    # The reader takes the first line (the first suite's header) and goes away while the
    # suite writes more than a pipe holds; the second suite must not start.
    p = subprocess.Popen([sys.executable, "-c", TWO_CHATTY_SUITES], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        while not p.stdout.readline().startswith("=="):
            pass
        p.stdout.close()
        err = p.stderr.read()
        assert p.wait(timeout=120) == 141, err[-2000:]
    finally:
        p.kill()
        p.wait()
    assert err.count("suite started") == 1 and "failed" not in err and "Traceback" not in err, err[-2000:]


def test_realtime_bench_header_names_its_own_arguments(monkeypatch, capsys):
    # `superinstance bench timer` calls the module's main(argv); its header used to show
    # sys.argv ("... realtime_core.bench bench --quick").
    from superinstance.bench import realtime_core as rt_bench

    canned = {"results": {}, "machine": "test machine", "fifo": False, "waiters": [], "cyclictest": False,
              "date": "2026-01-01 00:00 UTC", "cpu_dma_latency_held": None}
    monkeypatch.setattr(rt_bench, "run", lambda *a, **k: dict(canned))
    monkeypatch.setattr(sys, "argv", ["superinstance", "bench", "timer", "--quick"])
    assert rt_bench.main(["--seconds", "2", "--rates", "1000,100"]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert header.startswith("# python -m superinstance.bench.realtime_core --seconds 2 --rates 1000,100;")
    assert "bench bench" not in header


def _is_table_or_note(line):
    return line == "" or line.startswith(("|", "#", "==", "wrote ")) or ":" in line


def _outside_summaries(lines):
    """The lines outside the runner's aligned summary tables (a "-- ..." title up to a blank line)."""
    out, inside = [], False
    for ln in lines:
        inside = ln.startswith(("-- ", "== summary")) or (inside and ln != "")
        if not inside:
            out.append(ln)
    return out


def test_bench_runs_without_the_optional_peers_and_prints_tables_only(tmp_path):
    out = tmp_path / "b.json"
    res = subprocess.run([sys.executable, "-c", BLOCK_PEERS, str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "mabwiser unavailable" in res.stdout and "vw unavailable" in res.stdout
    lines = res.stdout.splitlines()
    assert not [ln for ln in lines if ln.lstrip().startswith(("{", "}", "[", "]", '"'))], "raw JSON on stdout"
    assert all(_is_table_or_note(ln) for ln in _outside_summaries(lines)), res.stdout
    assert "-- bandit summary (ratio > 1: ours better; best peer time / ours, or our rate / best peer rate)" in lines
    assert any(ln.startswith("LinUCB select+update, K=8 d=16") and "mabwiser n/a, vw n/a" in ln for ln in lines)
    header = next(ln for ln in lines if ln.startswith("| arms K"))
    assert "numpy/ours time" in header and "ours faster" not in header
    data = json.loads(out.read_text())  # the raw results, on request
    assert data["bandit"][0]["rc"] == 0 and data["bandit"][0]["results"]["configs"]
