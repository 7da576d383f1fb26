"""Entry point of one case's subprocess: `python -m bench.case <module> --out FILE [--quick]`."""

from __future__ import annotations

import argparse
import importlib
import logging
import shutil
import sys
from pathlib import Path

from bench.common import write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.case")
    parser.add_argument("module", help="bench.cases.<name>")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    module = importlib.import_module(args.module)
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True)
    try:
        outcome = module.run(quick=args.quick, workdir=args.workdir)
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    rows = outcome.get("rows", [])
    write_json(
        args.out,
        {
            "rows": [r.as_dict() for r in rows],
            "notes": outcome.get("notes", []),
            "pending": outcome.get("pending"),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
