"""``geomon fetch``: the shell face of the fetch assets. Each command fills the asset's config from its flags and
materializes that asset in-process on the data folder's Dagster instance (so the UI shows the run), with a
progress reporter installed (pipeline/clients/progress.py). There is no second client: what runs is the asset.

Exit status: 0 when the plan is complete, 1 when it is not (failures, quota; what was stored is kept and a
rerun resumes), 2 for invalid options, 130 after Ctrl-C (stored files are kept; a rerun resumes).
"""

from __future__ import annotations

import re
import sys
import time

from pipeline.cli.fetch_options import _rate
from pipeline.cli.progress_bar import TerminalProgress, _size
from pipeline.paths import DataPaths
from pipeline.sources import load
from pipeline.sources.registry import SOURCES


def add_commands(sub, *, sources: bool = True) -> None:
    """The ``fetch`` command; with ``sources`` False without the sources' subcommands (see pipeline.cli._parser)."""
    fetch = sub.add_parser("fetch", help="fetch from a registered source (" + ", ".join(s.label for s in SOURCES)
                           + ") into the data folder (the fetch assets, run in-process; resumable)")
    kinds = fetch.add_subparsers(dest="source", required=True)

    def common(p, base_help):
        p.add_argument("--base-url", help=base_help)
        p.add_argument("--rate", type=_rate, help="calls per second (throttle on the start of every request)")
        p.add_argument("--dry-run", action="store_true", help="print the plan and make no request")
        p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                       help="Dagster log level shown (default WARNING)")
        p.add_argument("--no-progress", action="store_true", help="plain log lines even on a terminal")
        p.add_argument("--config", metavar="FILE", type=_resource_settings,
                       help="a run config (YAML or JSON, as for geomon run) whose resources section sets the "
                       "client (timeouts, retries, base URL, rate); the flags above override it")

    # each registered source adds its own subcommands (pipeline/sources/<name>/fetch_cli.py)
    for source in SOURCES if sources else ():
        load(source.fetch_cli).add_commands(kinds, common)


# --------------------------------------------------------------------------- running an asset


def _execute(args, paths: DataPaths, key, *, run_config, resources: dict | None = None,
             partitions: list[str] | None = None, label: str, total: int | None = None, what: str = "calls") -> int:
    """Materialize asset ``key`` (each of ``partitions``) in-process with a progress reporter; exit status.
    ``run_config`` is a dict, or a function of the partition giving its dict (or, to skip it, why)."""
    from dagster import materialize

    from pipeline.cli.instance import instance_for, run_tags
    from pipeline.clients.progress import reporting
    from pipeline.definitions import definitions

    defs = definitions(data_dir=str(paths.root))  # the Comtrade client takes its key from pipeline.settings
    merged = {**defs.resources, **(resources or {})}
    asset_def = defs.get_assets_def(key)
    config_for = run_config if callable(run_config) else (lambda _partition: run_config)
    loggers = {"console": {"config": {"log_level": args.log_level}}}
    instance = instance_for(paths)
    tty = sys.stderr.isatty() and not args.no_progress
    bar = TerminalProgress(label, tty)
    if total is not None:
        bar.total, bar.what, bar.locked = total, what, True
    failures: list[str] = []
    started = time.perf_counter()
    try:
        with bar, reporting(bar):
            for partition in partitions or [None]:
                config = config_for(partition)
                if isinstance(config, str):
                    failures.append(f"{partition}: {config}")
                    continue
                result = materialize([asset_def], resources=merged, run_config={**config, "loggers": loggers},
                                     instance=instance, partition_key=partition, raise_on_error=False,
                                     tags={"geomonitor/trigger": "geomon fetch", **run_tags()})
                if not result.success:
                    failures += [f"{partition + ': ' if partition else ''}{reason}" for reason in _reasons(result)]
    except KeyboardInterrupt:
        print(f"\ngeomon fetch: interrupted after {time.perf_counter() - started:.1f} s; everything stored so far "
              "is kept and the same command resumes.", file=sys.stderr)
        return 130
    finally:
        instance.dispose()
    elapsed = time.perf_counter() - started
    if failures:
        interrupted = any("Interrupt" in f for f in failures)
        print(f"geomon fetch {args.source}: {'interrupted' if interrupted else 'INCOMPLETE'} after {elapsed:.1f} s; "
              "what was stored is kept and the same command resumes.", file=sys.stderr)
        for reason in failures[:10]:
            print(f"  {reason}", file=sys.stderr)
        return 130 if interrupted else 1
    print(f"geomon fetch {args.source}: complete in {elapsed:.1f} s: {bar.done:,} {bar.what} ({bar.skipped:,} already "
          f"on disk), {bar.records:,} records, {_size(bar.nbytes)} downloaded.", file=sys.stderr)
    return 0


def _reasons(result) -> list[str]:
    out = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            message = ((error.cause or error).message or "").strip().splitlines()[0]
            out.append(re.sub(r"^dagster\._core\.definitions\.events\.Failure: ", "", message)[:500])
    return out or ["the run failed (see geomon status or the Dagster UI)"]


# --------------------------------------------------------------------------- the commands


def _resource_settings(path: str) -> dict:
    """``{resource name: config}`` of a run config file's resources section."""
    import argparse

    from pipeline.cli.run import _load_config

    try:
        resources = _load_config(path).get("resources") or {}
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{path}: {exc}") from None
    if not isinstance(resources, dict):
        raise argparse.ArgumentTypeError(f"{path}: resources must be a mapping")
    return {name: (entry or {}).get("config") or {} for name, entry in resources.items()}
