"""The demo and bench commands as a user runs them."""

import json
import subprocess
import sys

import pytest


def test_demo_command_runs_and_writes_its_report(tmp_path):
    res = subprocess.run([sys.executable, "-m", "superinstance", "demo", "--seconds", "1.5", "--rate", "20",
                          "--per-subtopic", "20", "--report", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "summary:" in res.stdout and "report:" in res.stdout
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


def test_bench_runs_without_the_optional_peers(tmp_path):
    out = tmp_path / "b.json"
    res = subprocess.run([sys.executable, "-c", BLOCK_PEERS, str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "mabwiser unavailable" in res.stdout and "vw unavailable" in res.stdout
    data = json.loads(out.read_text())
    assert data["bandit"][0]["rc"] == 0
