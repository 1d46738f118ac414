"""``geomon``: run the monitor, list and verify published snapshots."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from pipeline.paths import DATA_DIR_ENV, DataPaths

SOURCES = ("sample", "demo", "landing", "api")


def _sources(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SOURCES)} (got {text!r})")
    return chosen


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geomon", description=__doc__)
    parser.add_argument("--data-dir", help=f"data folder (default: ${DATA_DIR_ENV} or <repo>/data)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialize every asset and publish")
    run.add_argument("--sources", type=_sources, default=list(SOURCES),
                     help="input folders to read, comma-separated (default: sample,demo,landing,api)")
    run.add_argument("--demo-scale", type=float, default=None, help="demo-world size (1.0 = ~9M flows a year)")
    run.add_argument("--demo-years", type=int, nargs="+", default=None, help="demo-world years")
    run.add_argument("--config", metavar="FILE",
                     help="Dagster run config (YAML or JSON) merged into the defaults, e.g. an API fetch plan: "
                     "ops: {raw__comtrade_api_pages: {config: {reporters: [528], years: [2023]}}}")
    run.add_argument("--full-rebuild", action="store_true",
                     help="rebuild every SQL model and year instead of only what changed inputs need")
    run.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                     help="Dagster console log level (default WARNING)")

    snaps = sub.add_parser("snapshots", help="list published snapshots")
    snaps.add_argument("--pin", metavar="ID", help="keep this snapshot whatever retention says")
    snaps.add_argument("--unpin", metavar="ID", help="let retention remove this snapshot again")
    export = sub.add_parser("export", help="copy a verified snapshot to a folder")
    export.add_argument("--snapshot", help="snapshot id (default: LATEST)")
    export.add_argument("--dest", required=True, help="destination folder")
    serve = sub.add_parser("serve", help="serve the snapshots over HTTP with range requests")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; anything else only when you mean it)")
    report = sub.add_parser("report", help="write the HTML report of the latest snapshot (data/report/index.html)")
    report.add_argument("--open", action="store_true", help="open it in the default web browser")
    verify = sub.add_parser("verify", help="check a snapshot's files against its manifest")
    verify.add_argument("snapshot", nargs="?", help="snapshot id (default: LATEST)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.data_dir:
        # the resources resolve the data folder from this variable when the run starts
        os.environ[DATA_DIR_ENV] = os.path.abspath(args.data_dir)
    paths = DataPaths.resolve()
    if args.command == "run":
        return _run(args, paths)
    if args.command == "snapshots":
        return _snapshots(args, paths)
    if args.command == "export":
        return _export(args, paths)
    if args.command == "serve":
        return _serve(args, paths)
    if args.command == "report":
        return _report(args, paths)
    return _verify(args, paths)


def _run(args, paths: DataPaths) -> int:
    from dagster import DagsterInstance

    from pipeline.definitions import defs

    settings: dict = {"sources": args.sources}
    if args.demo_scale is not None:
        settings["demo_scale"] = args.demo_scale
    if args.demo_years:
        settings["demo_years"] = args.demo_years
    if args.full_rebuild:
        settings["full_rebuild"] = True
    # Dagster's EnvVar needs the variable to exist; empty = no key, the keyless preview endpoint
    os.environ.setdefault("COMTRADE_API_KEY", "")
    run_config = {
        "resources": {"settings": {"config": settings}},
        "loggers": {"console": {"config": {"log_level": args.log_level}}},
    }
    if args.config:
        try:
            run_config = _merge(run_config, _load_config(args.config))
        except (OSError, ValueError) as exc:
            print(f"geomon run: --config {args.config}: {exc}", file=sys.stderr)
            return 2
    comtrade_config = run_config.get("resources", {}).get("comtrade", {}).get("config")
    if isinstance(comtrade_config, dict):
        # run config replaces the resource's configuration as a whole: keep the key coming from the
        # environment rather than silently falling back to the keyless preview
        comtrade_config.setdefault("api_key", {"env": "COMTRADE_API_KEY"})
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = defs.resolve_job_def("refresh").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False
    )
    elapsed = time.perf_counter() - started
    if not result.success:
        print(f"geomon run FAILED after {elapsed:.1f} s; the previous publication is unchanged.", file=sys.stderr)
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                # the user-facing reason is the exception Dagster wrapped, when there is one
                reason = (error.cause or error).message.strip()
                print(f"  step {event.step_key}: {reason}", file=sys.stderr)
        _print_quarantine(paths)
        for check in result.get_asset_check_evaluations():
            if not check.passed:
                print(f"  check {check.asset_key.to_user_string()}:{check.check_name} failed: "
                      f"{ {k: v.value for k, v in check.metadata.items() if k != 'sample'} }", file=sys.stderr)
        return 1
    from pipeline.summary import print_summary

    print_summary(paths, elapsed)
    return 0


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


def _merge(base: dict, extra: dict) -> dict:
    """``extra`` over ``base``, mappings merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def _print_quarantine(paths: DataPaths) -> None:
    """What the run quarantined, read from the working database once the run is over."""
    import duckdb

    if not paths.warehouse.exists():
        return
    try:
        con = duckdb.connect(str(paths.warehouse), read_only=True)
    except duckdb.Error:
        return
    try:
        rows = con.execute("SELECT file, line, reason FROM raw.quarantine ORDER BY ALL").fetchall()
    except duckdb.Error:
        rows = []
    finally:
        con.close()
    if rows:
        print(f"  {len(rows)} input file(s) quarantined (not read; nothing published):", file=sys.stderr)
        for file, line, reason in rows:
            where = f"{file}, line {line}" if line else file
            print(f"    {where}: {reason.splitlines()[0][:300]}", file=sys.stderr)


def _snapshots(args, paths: DataPaths) -> int:
    from pipeline.publish import SnapshotError, list_snapshots, pinned_snapshots, set_pinned

    try:
        if args.pin:
            set_pinned(paths, args.pin, True)
        if args.unpin:
            set_pinned(paths, args.unpin, False)
    except SnapshotError as exc:
        print(f"geomon snapshots: {exc}", file=sys.stderr)
        return 2
    pinned = set(pinned_snapshots(paths))

    snapshots = list_snapshots(paths)
    if not snapshots:
        print(f"no snapshots in {paths.snapshots}")
        return 0
    for snap in snapshots:
        flag = (" (LATEST)" if snap["latest"] else "") + (" (pinned)" if snap["snapshot_id"] in pinned else "")
        synthetic = "  SYNTHETIC" if snap["synthetic"] else ""
        rows = ", ".join(f"{t} {n:,}" for t, n in snap["tables"].items())
        print(f"{snap['snapshot_id']}{flag}  {snap['created_at']}{synthetic}  {rows}")
    return 0


def _export(args, paths: DataPaths) -> int:
    from pipeline.publish import SnapshotError, export_snapshot

    try:
        target = export_snapshot(paths, args.snapshot, args.dest)
    except SnapshotError as exc:
        print(f"geomon export: {exc}", file=sys.stderr)
        return 2
    print(f"exported and verified: {target}")
    return 0


def _serve(args, paths: DataPaths) -> int:
    from pipeline.serve import make_server

    if not paths.snapshots.is_dir():
        print(f"geomon serve: no snapshots in {paths.snapshots}; run geomon run first", file=sys.stderr)
        return 2
    server = make_server(paths.snapshots, args.host, args.port)
    host, port = server.server_address[:2]
    print(f"serving {paths.snapshots} at http://{host}:{port}/ (byte ranges supported); Ctrl-C stops")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _report(args, paths: DataPaths) -> int:
    from pipeline.publish import SnapshotError
    from pipeline.report import ReportError, write_latest_report

    try:
        latest = write_latest_report(paths)
    except (SnapshotError, ReportError) as exc:
        print(f"geomon report: {exc}", file=sys.stderr)
        return 2
    result = latest.result
    synthetic = "  *** SYNTHETIC DATA (banner shown) ***" if result.synthetic else ""
    print(f"report of snapshot {result.snapshot_id}: {result.path}  "
          f"({result.bytes / 1e6:.1f} MB, {result.seconds:.1f} s){synthetic}")
    if latest.snapshot_copy:
        same = "same bytes" if latest.matches_snapshot else "differs: written by other code at publication"
        print(f"snapshot's copy: {latest.snapshot_copy}  ({same})")
    if args.open:
        import webbrowser

        if not webbrowser.open(result.path.as_uri()):
            print(f"no web browser found here; open {result.path.as_uri()}", file=sys.stderr)
    return 0


def _verify(args, paths: DataPaths) -> int:
    from pipeline.publish import SnapshotError, snapshot_dir, verify_snapshot

    try:
        folder = snapshot_dir(paths, args.snapshot)
        problems = verify_snapshot(paths, args.snapshot)
    except SnapshotError as exc:
        print(f"geomon verify: {exc}", file=sys.stderr)
        return 2
    if problems:
        print(f"{folder}: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  {problem}")
        return 1
    manifest = json.loads((folder / "manifest.json").read_text())
    print(f"{folder}: OK ({len(manifest['tables'])} tables, checksums and row counts match the manifest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
