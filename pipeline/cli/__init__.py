"""``geomon``: run the monitor, and list, verify, export, serve and report published snapshots.

One module per group of commands: ``run`` (the pipeline) and ``snapshots`` (what was published).
Each module has ``add_commands(sub)``, registering its subcommands with their handler as
``func``; a new group is a new module listed in ``GROUPS``.
"""

from __future__ import annotations

import argparse
import sys

from pipeline.cli import fetch, run, snapshots, status
from pipeline.paths import DATA_DIR_ENV, DataPaths

GROUPS = (run, fetch, status, snapshots)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geomon", description="Run the geo-economic monitor and work with what it published.")
    parser.add_argument("--data-dir", help=f"data folder (default: ${DATA_DIR_ENV} or <repo>/data)")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.func(args, DataPaths.resolve(args.data_dir))


if __name__ == "__main__":
    sys.exit(main())
