"""`python -m bench [--quick] [--only CASE ...]`: run the benchmarks, print and record them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.harness import CASES, run_all
from bench.report import merge, update_benchmarks_md


def main(argv: list[str] | None = None) -> int:
    names = [c.name for c in CASES]
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Every benchmark of the issue's table, each with a baseline of the same run.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for CI: checks ratios, not times"
    )
    parser.add_argument("--only", nargs="+", choices=names, metavar="CASE", help=", ".join(names))
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        metavar="RESULTS_JSON",
        help="only rewrite BENCHMARKS.md from results files (a full run, then re-run cases: "
        "a later file's case replaces the earlier one's)",
    )
    args = parser.parse_args(argv)
    if args.report:
        update_benchmarks_md(merge([json.loads(p.read_text()) for p in args.report]))
        return 0
    report, path = run_all(args.only, args.quick)
    print(f"\nresults: {path}")
    if not args.quick and args.only is None:
        update_benchmarks_md(report)
        print("BENCHMARKS.md updated")
    if report["failures"]:
        print("\nfailed:")
        for failure in report["failures"]:
            print(f"  - {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
