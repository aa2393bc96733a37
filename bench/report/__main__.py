"""``python -m bench.report``: turn experiments/ into reports/."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench.report.render import write_reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("--experiments", type=Path, default=Path("experiments"), help="folder of run records")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="where to write the report")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="studies built at once, each in a process of its own (default: one per core)")
    parser.add_argument("--svg", action="store_true", help="write every figure as SVG too, beside its PNG")
    parser.add_argument("studies", nargs="*", help="the studies to include (folders of --experiments); default: all")
    args = parser.parse_args(argv)
    if not args.experiments.is_dir():
        print(f"error: no experiments folder at {args.experiments}", file=sys.stderr)
        return 1
    try:
        index = write_reports(args.experiments, args.out, args.studies, jobs=args.jobs, svg=args.svg)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"report written: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
