"""``geomon run``: materialize every asset of the refresh job and publish, then print the summary."""

from __future__ import annotations

import argparse
import atexit
import gc
import sys
import time

from pipeline.paths import DataPaths
from pipeline.settings import INPUT_FOLDERS, SettingsError

SOURCES = INPUT_FOLDERS
GUARD_CHECK, GUARD_STEP = "publication_guard", "publish__publication"  # assets/publication.py's
MODELS_STEP = "sql_models"  # assets/models.py's: its error names the model and its SQL file
SHOWN = 12  # guard findings printed; the check's metadata has them all


def _sources(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SOURCES)} (got {text!r})")
    return chosen


def add_commands(sub) -> None:
    run = sub.add_parser("run", help="materialize every asset and publish")
    run.add_argument("--sources", type=_sources, default=list(SOURCES),
                     help="input folders to read, comma-separated (default: sample,demo,landing,api)")
    run.add_argument("--demo-scale", type=float, default=None, help="demo-world size (1.0 = ~9M flows a year)")
    run.add_argument("--demo-years", type=int, nargs="+", default=None, help="demo-world years")
    run.add_argument("--config", metavar="FILE",
                     help="Dagster run config (YAML or JSON) merged into the defaults, e.g. an API fetch plan: "
                     "ops: {raw__comext_sdmx_files: {config: {queries: [...]}}}")
    run.add_argument("--full-rebuild", action="store_true",
                     help="rebuild every SQL model and year instead of only what changed inputs need")
    run.add_argument("--accept-quarantined-input", action="store_true",
                     help="publish even if input files are quarantined (they are left out and listed in "
                     "meta.quarantine and the manifest)")
    run.add_argument("--allow-shrink", action="store_true",
                     help="publish even if the publication guard finds this run's tables, sources, years or "
                     "reporters smaller than the current publication's (the manifest records what was accepted); "
                     "a run that staged no flow rows is never published")
    # Dagster's own console lines (every skipped step, stack traces) are for debugging; the run ends with
    # its summary or its reasons either way
    run.add_argument("--log-level", default="CRITICAL", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                     help="Dagster console log level (default CRITICAL: only geomon's own summary)")
    run.set_defaults(func=_run)


def _run(args, paths: DataPaths) -> int:
    # Python's cyclic garbage collector: off while Dagster and the definitions are imported and built (some
    # 220,000 objects that live as long as the process, each full collection walking all of them: 3 before the
    # first step), then those objects frozen out of the run's collections (_job: 2 more full ones). Collections
    # hold the GIL that the model workers and the publication's writers share (2026-12-08).
    gc.disable()
    try:
        return _job(args, paths)
    finally:
        gc.enable()
        gc.unfreeze()  # a caller in the same process (the tests) gets its objects collected again
        # and frozen again at exit: the interpreter's last collection, after the atexit calls, walked every object
        # still alive (with Dagster imported: 1.2-3.5 s at load 17, 0.07-0.5 s frozen), though the process ends
        atexit.unregister(gc.freeze)
        atexit.register(gc.freeze)


def _job(args, paths: DataPaths) -> int:
    from pipeline.cli.instance import instance_for, run_tags
    from pipeline.definitions import definitions
    from pipeline.resources.settings import check_resource_config

    # the flags configure the resources; a --config file is run config on top of them (ops, other resources)
    settings: dict = {"sources": args.sources}
    if args.demo_scale is not None:
        settings["demo_scale"] = args.demo_scale
    if args.demo_years:
        settings["demo_years"] = args.demo_years
    if args.full_rebuild:
        settings["full_rebuild"] = True
    if args.accept_quarantined_input:
        settings["accept_quarantined_input"] = True
    if args.allow_shrink:
        settings["allow_shrink"] = True
    run_config: dict = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
    if args.config:
        try:
            run_config = {**run_config, **_load_config(args.config)}
            # the typed layer checks the settings a config file gives, before Dagster starts: a wrong one is a
            # line naming it, not a configuration traceback
            check_resource_config(_resource_configs(run_config))
        except (OSError, ValueError) as exc:  # SettingsError is a ValueError
            print(f"geomon run: --config {args.config}: {exc}", file=sys.stderr)
            return 2
    try:
        # the Comtrade key is not handed over: the client takes it from the environment main() read
        defs = definitions(data_dir=str(paths.root), **settings)
    except SettingsError as exc:
        print(f"geomon run: {exc}", file=sys.stderr)
        return 2
    # disposed at the end: the event log's held connections are closed (pipeline/cli/event_log.py)
    with instance_for(paths) as instance:
        gc.freeze()  # what exists now lives until the process ends: the run's collections skip it
        gc.enable()
        started = time.perf_counter()
        result = defs.resolve_job_def("refresh").execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False, tags=run_tags()
        )
    elapsed = time.perf_counter() - started
    if not result.success:
        _print_failure(result, paths, elapsed)
        return 1
    from pipeline.summary import print_summary

    print_summary(paths, elapsed)
    return 0


def _first_lines(text: str, limit: int = 3) -> str:
    """The lines of an error a person reads: the first, and DuckDB's 'Original Line' / conversion lines."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    keep = lines[:1] + [line for line in lines[1:] if line.startswith(("Original Line", "Error when", "Could not"))]
    return " | ".join(keep[:limit])[:400]


def _print_failure(result, paths: DataPaths, elapsed: float) -> None:
    """Why the run failed and what to do, after the run: the files, lines and reasons, the failed checks,
    and that nothing the users read changed."""
    from pipeline.publish import latest_snapshot_id

    out = sys.stderr
    latest = latest_snapshot_id(paths)
    unchanged = f"the previous publication ({latest}) is unchanged" if latest else "nothing was published"
    print(f"geomon run FAILED after {elapsed:.1f} s; {unchanged}.", file=out)
    quarantined = _quarantine(paths)
    if quarantined:
        print(f"Input files that could not be read ({len(quarantined)}):", file=out)
        for file, line, reason in quarantined:
            print(f"  {file}{f', line {line}' if line else ''}: {_first_lines(reason)}", file=out)
    evaluations = result.get_asset_check_evaluations()
    # refused (an accepted shrink fails the check as a warning only, without a next step)
    guard = next((c for c in evaluations if c.check_name == GUARD_CHECK and "next_step" in c.metadata), None)
    if guard is not None:
        _print_guard(guard, out)
    failed_checks = [c for c in evaluations
                     if not c.passed and not (quarantined and c.check_name == "input_contract")
                     and c.check_name != GUARD_CHECK]
    if failed_checks:
        print("Checks that failed:", file=out)
        for check in failed_checks:
            details = "; ".join(f"{k}: {str(v.value)[:120]}" for k, v in check.metadata.items() if k != "sample")
            print(f"  {check.asset_key.to_user_string()} {check.check_name}: {details}", file=out)
    steps = [e for e in result.all_events if e.is_step_failure
             and "DagsterAssetCheckFailedError" not in (e.step_failure_data.error.cls_name or "")
             # the guard's refusal is printed above, finding by finding
             and not (guard is not None and e.step_key == GUARD_STEP)]
    for event in steps:
        error = event.step_failure_data.error
        # the user-facing reason is the exception Dagster wrapped, when there is one
        reason = _first_lines((error.cause or error).message)
        if event.step_key == MODELS_STEP:
            print(f"  {reason.removeprefix('pipeline.sql_models.ModelError: ')}", file=out)
        else:
            print(f"  step {event.step_key}: {reason}", file=out)
    if quarantined:
        next_step = ("fix or remove the file(s) above and run again, or publish without them: "
                     "geomon run --accept-quarantined-input (they are then listed in meta.quarantine).")
    elif guard is not None:
        next_step = str(guard.metadata["next_step"].value).replace("<data dir>", str(paths.root)) + "."
    else:
        next_step = "see the reasons above; `geomon run --log-level ERROR` shows Dagster's own messages."
    print("Next: " + next_step, file=out)


def _print_guard(check, out) -> None:
    """The publication guard's refusal: what it compared with and each finding (the check's metadata)."""
    metadata = {k: v.value for k, v in check.metadata.items()}
    findings = metadata.get("findings") or []
    print(f"The publication guard refused this run's publication (compared with {metadata.get('compared_with')}):",
          file=out)
    for line in findings[:SHOWN]:
        print(f"  {line}", file=out)
    if len(findings) > SHOWN:
        print(f"  ... and {len(findings) - SHOWN} more (the check publish/publication:{GUARD_CHECK} in the UI "
              "lists them all)", file=out)


def _load_config(path: str) -> dict:
    import yaml  # PyYAML comes with Dagster

    text = open(path, encoding="utf-8").read()
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML or JSON ({exc})") from exc
    if not isinstance(loaded, dict):
        raise ValueError("expected a mapping at the top level")
    return loaded


def _resource_configs(run_config: dict) -> dict[str, dict]:
    """``{resource key: its config}`` of a run config's resources section."""
    resources = run_config.get("resources") or {}
    if not isinstance(resources, dict):
        raise ValueError("resources must be a mapping")
    out = {}
    for key, entry in resources.items():
        config = (entry or {}).get("config") if isinstance(entry, dict) else None
        if config is not None and not isinstance(config, dict):
            raise ValueError(f"resources.{key}.config must be a mapping")
        out[key] = config or {}
    return out


def _quarantine(paths: DataPaths) -> list[tuple]:
    """What the run quarantined (file, line, reason), read from the working database once the run is over."""
    import duckdb

    if not paths.warehouse.exists():
        return []
    try:
        con = duckdb.connect(str(paths.warehouse), read_only=True)
    except duckdb.Error:
        return []
    try:
        return con.execute("SELECT file, line, reason FROM raw.quarantine ORDER BY ALL").fetchall()
    except duckdb.Error:
        return []
    finally:
        con.close()
