"""One measurement per process, so that each gets its own peak RSS (run by bench/run.py).

    python bench/child.py <pipeline|stage|query|pandas|polars|profile|ingest|input_floor> --repo REPO --out RESULT.json ...

``--repo`` is the checkout whose pipeline is measured; it goes first on sys.path, so its
``pipeline`` and ``assets`` packages are the ones imported (not an editable install's).
Each command writes its own timings (without interpreter start-up) to ``--out``; the
parent adds wall time, CPU time and peak RSS of the whole process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

T_PROCESS = time.perf_counter()
BENCH_ROOT = Path(__file__).resolve().parents[1]


def _setup_path(repo: Path) -> None:
    sys.path[:0] = [str(repo), str(BENCH_ROOT)]


def _write(out: Path, payload: dict) -> None:
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    tmp.replace(out)


def _prepare(con) -> None:
    """The settings as variables and the shared SQL macros, as the model assets prepare their connection."""
    from pipeline.resources import Thresholds
    from pipeline.sql_macros import prepare_session

    prepare_session(con, Thresholds().sql_variables())


# ---------------------------------------------------------------------------------- pipeline

def cmd_pipeline(args) -> dict:
    """`geomon run` as pipeline/cli.py runs it (same job, run config, ephemeral instance,
    summary), plus the warehouse's memory_limit/threads, and per-step times from the event log."""
    from dagster import DagsterEventType, DagsterInstance

    from pipeline.definitions import definitions
    from pipeline.paths import DataPaths

    paths = DataPaths(Path(args.data_dir).resolve())
    # the data folder given, not the environment's; no Comtrade key (empty: keyless, and no API call here)
    defs = definitions(data_dir=str(paths.root), comtrade_key="")

    t_imported = time.perf_counter()
    settings: dict = {"sources": args.sources.split(",")}
    if args.demo_scale is not None:
        settings["demo_scale"] = args.demo_scale
    if args.demo_years:
        settings["demo_years"] = [int(y) for y in args.demo_years.split(",")]
    run_config: dict = {
        "resources": {"settings": {"config": settings}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    warehouse = {k: v for k, v in (("memory_limit", args.memory_limit), ("threads", args.threads)) if v}
    if warehouse:
        run_config["resources"]["warehouse"] = {"config": warehouse}
    instance = DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = defs.resolve_job_def("refresh").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False)
    elapsed = time.perf_counter() - started
    if result.success:
        from pipeline.summary import print_summary

        with contextlib.redirect_stdout(sys.stderr):
            print_summary(paths, elapsed)
    t_summary = time.perf_counter()

    steps: dict[str, dict] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        step = steps.setdefault(event.step_key, {"step": event.step_key})
        if event.event_type == DagsterEventType.STEP_START:
            step["start"] = entry.timestamp
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            step["end"] = entry.timestamp
            step["duration_s"] = event.event_specific_data.duration_ms / 1000
            step["status"] = "success"
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            step["end"] = entry.timestamp
            step["status"] = "failure"
            step["error"] = event.step_failure_data.error.to_string()[-2000:]
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION and "seconds" in (
                meta := event.event_specific_data.materialization.metadata):
            # the SQL models share one step (assets/models.py); each model's own build and checks are timed in
            # its materialization, reported as a row of its own ("within" the step, so not counted twice)
            seconds = float(meta["seconds"].value)
            name = "__".join(event.event_specific_data.materialization.asset_key.path)
            steps[name] = {"step": name, "start": entry.timestamp - seconds, "end": entry.timestamp,
                           "duration_s": seconds, "status": "success", "within": event.step_key}
    failed_checks = [
        f"{c.asset_key.to_user_string()}:{c.check_name}"
        for c in result.get_asset_check_evaluations() if not c.passed
    ]
    return {
        "success": result.success,
        "import_s": t_imported - T_PROCESS,
        "run_s": elapsed,
        "summary_s": t_summary - started - elapsed,
        "steps": sorted(steps.values(), key=lambda s: s.get("start", 0)),
        "failed_checks": failed_checks,
    }


# ---------------------------------------------------------------------------------- queries

def cmd_query(args) -> dict:
    """Time one query as CREATE OR REPLACE TABLE bench.<name> on the run's warehouse file."""
    from bench import queries

    repo = Path(args.repo)
    con = queries.connect(args.db, memory_limit=args.memory_limit, threads=args.threads,
                          temp_directory=args.temp_dir)
    _prepare(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS bench")
    mart = queries.model_sql(repo, "monitor.import_concentration")
    sql = {
        "floor": lambda: queries.floor_sql(Path(args.parquet), "decimal"),
        "floor_double": lambda: queries.floor_sql(Path(args.parquet), "double"),
        "mart_hs6": lambda: queries.restricted_mart_sql(mart),
        "mart_hs6_columns": lambda: queries.restricted_mart_sql(mart, queries.KEY + queries.MEASURES),
        "mart_full": lambda: mart,
    }[args.name]()
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TABLE bench.{args.name} AS {sql}").fetchall()
        times.append(time.perf_counter() - t)
    rows = con.execute(f"SELECT count(*) FROM bench.{args.name}").fetchall()[0][0]
    if args.name.startswith("floor"):
        input_rows = con.execute(f"SELECT count(*) FROM read_parquet({queries.sql_string(args.parquet)})").fetchall()[0][0]
    else:
        where = " AND source = 'comtrade'" if args.name.startswith("mart_hs6") else ""
        input_rows = con.execute(
            f"SELECT count(*) FROM staging.annual_flows WHERE flow = 'import'{where}").fetchall()[0][0]
    con.close()
    return {"name": args.name, "times_s": times, "rows": rows, "input_rows": input_rows}


def cmd_stage(args) -> dict:
    """Demo bulk TSV -> the typed Parquet the floor and pandas read (once per scale)."""
    from bench import queries
    from pipeline.paths import REFERENCE_DIR
    from pipeline.sources.comtrade.reader import COLUMNS

    t = time.perf_counter()
    rows = queries.stage_parquet(Path(args.landing), Path(args.parquet), REFERENCE_DIR, COLUMNS)
    return {"rows": rows, "stage_s": time.perf_counter() - t, "bytes": Path(args.parquet).stat().st_size}


def _best_of(compute, args) -> tuple[list[float], object]:
    """``compute(parquet)`` run ``args.repeats`` times: the wall times and the last result."""
    times, result = [], None
    for _ in range(args.repeats):
        result = None  # the previous result is freed before the next run is timed
        t = time.perf_counter()
        result = compute(args.parquet)
        times.append(time.perf_counter() - t)
    return times, result


def cmd_pandas(args) -> dict:
    from bench.pandas_baseline import import_concentration

    import pandas as pd

    times, result = _best_of(import_concentration, args)
    t = time.perf_counter()
    result.to_parquet(args.result, index=False)
    return {"times_s": times, "rows": len(result), "write_s": time.perf_counter() - t,
            "pandas": pd.__version__, "string_dtype": str(result["reporter"].dtype)}


def cmd_polars(args) -> dict:
    """The polars-lazy baseline, timed like pandas: the whole query, from the Parquet to a DataFrame."""
    import polars as pl

    from bench.polars_baseline import import_concentration

    times, result = _best_of(import_concentration, args)
    t = time.perf_counter()
    result.write_parquet(args.result)
    return {"times_s": times, "rows": result.height, "write_s": time.perf_counter() - t,
            "polars": pl.__version__, "threads": pl.thread_pool_size()}


# ---------------------------------------------------------------------------------- profiles

def _operators(profile: dict, top: int = 6) -> list[dict]:
    """The most expensive operators of a DuckDB JSON profile (timing summed over threads)."""
    found: list[dict] = []

    def walk(node: dict) -> None:
        info = node.get("extra_info") or {}
        detail = {k: info[k] for k in ("Table", "Join Type", "Groups", "Aggregates", "Function", "Conditions")
                  if k in info}
        found.append({"operator": node.get("name") or node.get("operator_name"),
                      "timing_s": round(float(node.get("timing", node.get("operator_timing", 0)) or 0), 3),
                      "rows": node.get("intermediate_rows", node.get("operator_cardinality")),
                      "detail": json.dumps(detail, default=str)[:300]})
        for child in node.get("children", []):
            walk(child)

    for root in profile.get("operator", profile.get("children", [])) or []:
        walk(root)
    return sorted(found, key=lambda o: -o["timing_s"])[:top]


def cmd_profile(args) -> dict:
    """Rebuild every SQL model on the run's warehouse (same SQL, same order, identical
    contents) and time its parts separately: the CREATE TABLE (with DuckDB's operator
    profile), the metadata and preview the asset records, and each check."""
    from bench import queries
    from pipeline.metadata import markdown_preview, table_metadata
    from pipeline.paths import SQL_DIR
    from pipeline.sql_models import load_models

    plans = Path(args.plans_dir)
    plans.mkdir(parents=True, exist_ok=True)
    con = queries.connect(args.db, memory_limit=args.memory_limit, threads=args.threads,
                          temp_directory=args.temp_dir)
    _prepare(con)
    existing = {f"{s}.{t}" for s, t in con.execute(  # raw.comtrade_records is a view over Parquet files
        "SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    out = []
    for model in load_models(SQL_DIR, existing):
        entry: dict = {"table": model.table}
        plan_file = plans / f"{model.table}.json"
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = {queries.sql_string(plan_file)}")
        t = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TABLE {model.table} AS {model.sql}").fetchall()
        entry["build_s"] = time.perf_counter() - t
        con.execute("PRAGMA disable_profiling")
        try:
            profile = json.loads(plan_file.read_text())
            entry["top_operators"] = _operators(profile)
            system = profile.get("system", {})
            entry["duckdb_peak_buffer_mb"] = round(system.get("peak_buffer_memory", 0) / 2**20, 1)
            entry["duckdb_spilled_mb"] = round(system.get("total_bytes_spilled", 0) / 2**20, 1)
        except (OSError, ValueError):
            entry["top_operators"] = []
        t = time.perf_counter()
        table_metadata(con, model.table)
        markdown_preview(con, f"SELECT * FROM {model.table}")
        entry["metadata_s"] = time.perf_counter() - t
        checks = {}
        if model.grain:  # the same two queries as assets/models.py _run_checks
            cols = ", ".join(model.grain)
            not_null = " OR ".join(f"{c} IS NULL" for c in model.grain if c != "month")
            t = time.perf_counter()
            con.execute(f"SELECT count(*) FROM (SELECT {cols}, count(*) AS n FROM {model.table} "
                        "GROUP BY ALL HAVING count(*) > 1)").fetchall()
            con.execute(f"SELECT count(*) FROM {model.table} WHERE {not_null}").fetchall()
            checks["unique_grain"] = time.perf_counter() - t
        for check in model.checks:
            t = time.perf_counter()
            con.execute(f"SELECT count(*) FROM ({check.failing_rows_sql(model.table)})").fetchall()
            checks[check.name] = time.perf_counter() - t
        entry["checks_s"] = checks
        entry["rows"] = con.execute(f"SELECT count(*) FROM {model.table}").fetchall()[0][0]
        out.append(entry)
    con.close()
    return {"models": out}


def cmd_ingest(args) -> dict:
    """raw.comtrade_records on the same files, into a scratch database and an empty Parquet cache:
    hashing (discover), the conversion of every file to typed Parquet (this process's peak RSS is the
    conversion's), the same sync again with every file cached, and one scan of the view. A checkout from
    before the Parquet conversion (``--repo``) is measured with its own sync (one INSERT per file)."""
    import shutil

    from bench import queries
    from pipeline.sources.comtrade import reader as comtrade
    from pipeline.readers.inputs import discover

    landing = Path(args.landing)
    result: dict = {}
    t = time.perf_counter()
    files = discover([("landing", landing / "comtrade")], comtrade.detect)
    result["discover_sha256_s"] = time.perf_counter() - t
    result["files"] = len(files)
    result["bytes"] = sum(f.size for f in files)
    Path(args.temp_dir).mkdir(parents=True, exist_ok=True)
    scratch = Path(args.temp_dir) / "ingest_scratch.duckdb"
    cache = Path(args.temp_dir) / "ingest_scratch_parquet"
    shutil.rmtree(cache, ignore_errors=True)
    for suffix in ("", ".wal"):
        Path(str(scratch) + suffix).unlink(missing_ok=True)
    con = queries.connect(scratch, memory_limit=args.memory_limit, threads=args.threads,
                          temp_directory=args.temp_dir)
    try:
        from pipeline.sources.comtrade.reader.view import sync_comtrade_view
    except ImportError:  # the older pipeline: rows inserted into a DuckDB table
        from pipeline.readers.raw_store import sync_raw_table

        t = time.perf_counter()
        sync_raw_table(con, comtrade.TABLE, comtrade.COLUMNS, files, comtrade.select_for, comtrade.validate,
                       comtrade.ROW_RULE, comtrade.YEAR_OF_ROW)
        result["path"] = "insert into a DuckDB table"
        result["sync_s"] = time.perf_counter() - t
    else:
        t = time.perf_counter()
        report = sync_comtrade_view(con, files, cache)
        result["path"] = "typed Parquet per file, view"
        result["sync_s"] = time.perf_counter() - t
        result["quarantined"] = report.quarantined
        result["parquet_bytes"] = sum(p.stat().st_size for p in cache.glob("*.parquet"))
        result["per_file_s"] = sorted(c["seconds"] for c in report.conversions)
        t = time.perf_counter()
        sync_comtrade_view(con, files, cache)
        result["sync_cached_s"] = time.perf_counter() - t
    t = time.perf_counter()
    result["rows"], _ = con.execute(f"SELECT count(*), sum(primaryValue) FROM {comtrade.TABLE}").fetchall()[0]
    result["scan_s"] = time.perf_counter() - t
    result["rows_per_s"] = round(result["rows"] / result["sync_s"]) if result["sync_s"] else None
    con.close()
    for suffix in ("", ".wal"):
        Path(str(scratch) + suffix).unlink(missing_ok=True)
    shutil.rmtree(cache, ignore_errors=True)
    return result


def cmd_input_floor(args) -> dict:
    """The input floor (bench/input_floor.py): every landing file read once into a scratch DuckDB file."""
    from bench.input_floor import read_input_floor

    work = Path(args.temp_dir)
    work.mkdir(parents=True, exist_ok=True)
    return read_input_floor(Path(args.landing), Path(args.db), work, memory_limit=args.memory_limit,
                            threads=args.threads)


def main() -> int:
    # plain argparse: this child must import nothing of pipeline before _setup_path picks the repo
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("command", choices=["pipeline", "stage", "query", "pandas", "polars", "profile", "ingest",
                                            "input_floor"])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir")
    parser.add_argument("--sources", default="landing")
    parser.add_argument("--demo-scale", type=float)
    parser.add_argument("--demo-years")
    parser.add_argument("--memory-limit", default="")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--db")
    parser.add_argument("--temp-dir")
    parser.add_argument("--parquet")
    parser.add_argument("--name")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--result")
    parser.add_argument("--plans-dir")
    parser.add_argument("--landing")
    args = parser.parse_args()
    _setup_path(Path(args.repo).resolve())
    handler = {"pipeline": cmd_pipeline, "stage": cmd_stage, "query": cmd_query, "pandas": cmd_pandas,
               "polars": cmd_polars, "profile": cmd_profile, "ingest": cmd_ingest,
               "input_floor": cmd_input_floor}[args.command]
    payload = handler(args)
    _write(Path(args.out), payload)
    return 0 if payload.get("success", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
