"""``geomon status``: what is fetched, per registered source, reporter and year (Comext: month), from the data
folder."""

from __future__ import annotations

import json
import sys

from pipeline.paths import DataPaths
from pipeline.sources.registry import SOURCES


def add_commands(sub) -> None:
    status = sub.add_parser("status", help="coverage matrix: what is fetched, its release, rows, what the "
                            "revision sensors would refetch")
    status.add_argument("--json", action="store_true", help="print the matrix as JSON")
    status.add_argument("--source", choices=[s.name for s in SOURCES], help="one source only")
    status.set_defaults(func=_status)


def _status(args, paths: DataPaths) -> int:
    from pipeline.status import coverage, render

    rows = coverage(paths)
    if args.source:
        rows = [r for r in rows if r["source"].startswith(args.source)]
    if args.json:
        json.dump(rows, sys.stdout, indent=1, default=str)
        print()
    else:
        print(render(rows, paths))
    return 0
