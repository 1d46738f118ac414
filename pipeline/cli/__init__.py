"""``geomon``: run the monitor, and list, verify, export, serve and report published snapshots.

One module per group of commands: ``run`` (the pipeline) and ``snapshots`` (what was published).
Each module has ``add_commands(sub)``, registering its subcommands with their handler as
``func``; a new group is a new module listed in ``GROUPS``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from pipeline.cli import fetch, run, snapshots, status
from pipeline.cli.parser import Parser
from pipeline.paths import DataPaths
from pipeline.settings import DATA_DIR_ENV, environment, read_environment, using

GROUPS = (run, fetch, status, snapshots)
# commands that write into the data folder (the Dagster instance's SQLite files among them); `snapshots` only
# with --pin or --unpin
WRITING_COMMANDS = ("run", "fetch", "report")


def _parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """geomon's parser. Given the command line, it leaves out what that line cannot use: the fetch subcommands of
    each source import its client (httpx and the rest, about a third of a second) and are only added to a line
    that says ``fetch``."""
    parser = Parser(prog="geomon", description="Run the geo-economic monitor and work with what it published.")
    parser.add_argument("--data-dir", help=f"data folder (default: ${DATA_DIR_ENV} or <repo>/data)")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        if group is fetch:
            fetch.add_commands(sub, sources=argv is None or "fetch" in argv)
        else:
            group.add_commands(sub)
    return parser


def unwritable(paths: DataPaths) -> str | None:
    """Why the data folder cannot be written (the first folder that refuses a file), or None.

    Checked before a writing command starts: otherwise the first to fail is Dagster opening its SQLite
    instance, with a traceback of some 90 lines ending in "unable to open database file"."""
    try:
        paths.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the data folder {paths.root} ({exc.strerror or exc})"
    home = environment().dagster_home
    folders = [paths.root, *(paths.root / name for name in ("dagster_home", "work", "snapshots")),
               *([Path(home)] if home else [])]
    for folder in folders:
        if not folder.is_dir():
            continue
        try:
            with tempfile.TemporaryFile(dir=folder, prefix=".geomon-write-probe-"):
                pass
        except OSError as exc:
            return f"cannot write to {folder} ({exc.strerror or exc})"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(argv).parse_args(argv)
    # the environment is read once, here, and is what every part of the command asks for (pipeline/settings.py)
    with using(read_environment()):
        paths = DataPaths.resolve(args.data_dir)
        if args.command in WRITING_COMMANDS or getattr(args, "pin", None) or getattr(args, "unpin", None):
            reason = unwritable(paths)
            if reason:
                print(f"geomon {args.command}: {reason}; make it writable (a read-only mount: remount it "
                      f"read-write), or choose a writable data folder with --data-dir or ${DATA_DIR_ENV}",
                      file=sys.stderr)
                return 2
        return args.func(args, paths)


if __name__ == "__main__":
    sys.exit(main())
