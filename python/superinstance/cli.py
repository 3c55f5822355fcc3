"""The ``superinstance`` command (also ``python -m superinstance``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional


def _doctor(args: argparse.Namespace) -> int:
    from . import doctor

    r = doctor.report()
    if args.json:
        json.dump(r, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(doctor.format_text(r))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .equilibrium.demo import format_summary, run_demo
    from .equilibrium.orchestrator import MAX_RATE_HZ, MIN_RATE_HZ

    if not MIN_RATE_HZ <= args.rate <= MAX_RATE_HZ:
        print(f"superinstance demo: --rate must be within {MIN_RATE_HZ}..{MAX_RATE_HZ} Hz", file=sys.stderr)
        return 2
    if not args.seconds > 0:
        print("superinstance demo: --seconds must be > 0", file=sys.stderr)
        return 2
    print(f"running the equilibrium loop for {args.seconds:g} s at {args.rate:g} Hz on the built-in data ...",
          file=sys.stderr)
    record = run_demo(args.seconds, args.rate, None if args.no_report else args.report,
                      per_subtopic=args.per_subtopic, kind=args.index, seed=args.seed, objectives=args.objectives,
                      publish=args.publish)
    print(format_summary(record))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from . import bench

    return bench.run(args.suite, quick=args.quick, json_path=args.json)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="superinstance",
        description="Real-time timing, vector search, GPU dynamic programming and bandits.")
    parser.add_argument("--version", action="version", version=f"superinstance {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("doctor", help="report what this machine and build support")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_doctor)
    p = sub.add_parser("demo", help="run the token loop on built-in data and write a report")
    p.add_argument("--seconds", type=float, default=30.0, help="how long to run (default 30)")
    p.add_argument("--rate", type=float, default=20.0, help="target tick rate in Hz, 0.5..1000 (default 20)")
    p.add_argument("--report", default="superinstance-report", help="report directory (default ./superinstance-report)")
    p.add_argument("--no-report", action="store_true", help="print the summary only")
    p.add_argument("--index", choices=("hnsw", "flat"), default="hnsw", help="context index kind (default hnsw)")
    p.add_argument("--per-subtopic", type=int, default=200, help="utterances per basin in the corpus (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--publish", metavar="NAME", default=None,
                   help="write the loop's rate and lateness to the shared rate state block NAME on every tick "
                        "(read it from another process: superinstance.realtime_core.RateState.attach(NAME))")
    p.add_argument("--objectives", type=int, choices=(1, 2), default=2,
                   help="the simulated user's reward: 2 objectives (satisfaction, stability; scalarised 0.5/0.5) "
                        "or 1 (satisfaction) (default 2)")
    p.set_defaults(func=_demo)
    p = sub.add_parser("bench", help="side-by-side comparisons against the installed peers",
                       description="Runs the benchmark suites of superinstance.bench and prints their tables "
                                   "and a summary (case, ours, peers, ratio; ratio > 1: ours better).")
    p.add_argument("suite", nargs="?", default="all", choices=("timer", "search", "bandit", "gpu", "loop", "all"))
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (about a minute each)")
    p.add_argument("--json", metavar="FILE", help="write every suite's raw results and summary rows here")
    p.set_defaults(func=_bench)
    return parser


# Exit status of a command whose reader went away: 128 + SIGPIPE, what a C tool
# killed by SIGPIPE reports (Python ignores SIGPIPE and raises BrokenPipeError).
EXIT_BROKEN_PIPE = 141


def _silence_closed_stdout() -> None:
    """Points stdout (and stderr, when it is the same pipe) at /dev/null, so that
    the interpreter's final flush at exit does not raise a second BrokenPipeError."""
    try:
        out, err = sys.stdout.fileno(), sys.stderr.fileno()
        same_pipe = os.path.sameopenfile(out, err)
    except (OSError, ValueError, AttributeError):  # not real files (e.g. captured by a test)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, out)
        if same_pipe:
            os.dup2(devnull, err)
    finally:
        os.close(devnull)


def _run(argv: Optional[List[str]]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs one command. Output piped into a reader that stops early (``superinstance
    doctor | head``) ends the command quietly with status 141 instead of a traceback."""
    try:
        try:
            return _run(argv)
        finally:  # also after argparse's SystemExit (--help, --version, usage errors)
            sys.stdout.flush()  # buffered output meets a closed pipe here at the latest
    except BrokenPipeError:
        _silence_closed_stdout()
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
