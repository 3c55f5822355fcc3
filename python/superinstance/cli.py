"""The ``superinstance`` command (also ``python -m superinstance``)."""

from __future__ import annotations

import argparse
import json
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
    p = sub.add_parser("bench", help="side-by-side comparisons against the installed peers")
    p.add_argument("suite", nargs="?", default="all", choices=("timer", "search", "bandit", "gpu", "all"))
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (about a minute each)")
    p.add_argument("--json", metavar="FILE", help="write every suite's raw results here")
    p.set_defaults(func=_bench)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
