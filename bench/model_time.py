"""One SQL model rebuilt on a copy of a finished warehouse, the way the pipeline builds it (issue 28).

    python -m bench.model_time --warehouse COPY.duckdb --sql-root DIR staging.annual_flows [--compare ORIG.duckdb]

The model's SQL is read from ``--sql-root`` (a checkout's ``dbt_like_sql``: compare a branch's SQL with
``main``'s on one copy), built by ``pipeline.incremental.Incremental`` with every year rebuilt (at SF1 a model
over more than ``WHOLE_BUILD_ROWS`` input rows is one INSERT a year, as in a run) under the pipeline's
memory limit and thread count, and timed: wall and CPU seconds of this process (DuckDB's threads are in it)
and its peak RSS. ``--compare`` ATTACHes another warehouse read-only (the one the base built) and counts
the rows of each side missing from the other (EXCEPT ALL both ways) and the columns whose name or type
differ. One model per process, so the peak RSS is the model's. Prints one JSON line.
"""

import argparse
import json
import resource
import time
from pathlib import Path

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="schema.table of the model to rebuild")
    parser.add_argument("--warehouse", required=True, help="a copy of a finished warehouse (it is written)")
    parser.add_argument("--sql-root", required=True, help="the dbt_like_sql folder whose SQL is built")
    parser.add_argument("--compare", help="a warehouse holding the reference table (attached read-only)")
    parser.add_argument("--save-as", help="copy the built table to this name (a reference for --compare-with)")
    parser.add_argument("--compare-with", help="a table of the same warehouse to compare with (EXCEPT ALL both ways)")
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--profile", help="write DuckDB's JSON profile of the build here; top operators printed")
    args = parser.parse_args()

    from pipeline.definitions import RAW_TABLES, REFERENCE_TABLES
    from pipeline.incremental import Incremental, create_state_table
    from pipeline.settings import ScreenThresholds
    from pipeline.sql_macros import prepare_session
    from pipeline.sql_models import load_models

    models = load_models(Path(args.sql_root), set(REFERENCE_TABLES) | set(RAW_TABLES))
    model = next(m for m in models if m.table == args.model)
    variables = ScreenThresholds().sql_variables()
    config = {"memory_limit": args.memory_limit, **({"threads": args.threads} if args.threads else {})}
    conn = duckdb.connect(args.warehouse, config=config)
    conn.execute("SET enable_progress_bar = false")
    create_state_table(conn)
    prepare_session(conn, variables, Path(args.sql_root), for_sql=model.session_sql)
    builds = Incremental(conn, {m.table for m in models if m.partition}, variables, full_rebuild=True,
                         create_state=False)
    if args.profile:
        conn.execute("PRAGMA enable_profiling = 'json'")
        conn.execute(f"PRAGMA profiling_output = '{args.profile}'")
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    outcome = builds.build(model)
    if args.profile:
        conn.execute("PRAGMA disable_profiling")
    conn.execute("CHECKPOINT")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "model": model.table, "sql_root": args.sql_root, "build": outcome.summary(),
        "wall_s": round(wall, 2),
        "cpu_s": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2),
        "peak_rss_mb": round(after.ru_maxrss / 1024),
        "rows": conn.execute(f"SELECT count(*) FROM {model.table}").fetchall()[0][0],
    }
    if args.profile:
        from bench.child import _operators
        profile = json.loads(Path(args.profile).read_text())
        result["top_operators"] = _operators(profile, top=12)
        result["spilled_mb"] = round(profile.get("system", {}).get("total_bytes_spilled", 0) / 2**20, 1)
    if args.save_as:
        conn.execute(f"CREATE OR REPLACE TABLE {args.save_as} AS FROM {model.table}")
    if args.compare_with:
        # rows compared by their hashes (EXCEPT ALL of the two multisets of row hashes): a plain EXCEPT ALL of
        # 15M rows with list columns ran past 10 minutes under the 2 GB limit at SF1
        mine, ref = model.table, args.compare_with
        print(json.dumps(result), flush=True)  # the build's figures, before the comparison
        rows = "SELECT hash(t) AS h FROM {} AS t"
        result["only_new"] = conn.execute(f"SELECT count(*) FROM ({rows.format(mine)} EXCEPT ALL "
                                          f"{rows.format(ref)})").fetchall()[0][0]
        result["only_ref"] = conn.execute(f"SELECT count(*) FROM ({rows.format(ref)} EXCEPT ALL "
                                          f"{rows.format(mine)})").fetchall()[0][0]
        result["schema_same"] = conn.execute(f"DESCRIBE {mine}").fetchall() == conn.execute(f"DESCRIBE {ref}").fetchall()
        print(json.dumps({k: result[k] for k in ("model", "only_new", "only_ref", "schema_same")}), flush=True)
        return
    if args.compare:
        conn.execute(f"ATTACH '{args.compare}' AS ref (READ_ONLY)")
        mine, ref = model.table, f"ref.{model.table}"
        result["only_new"] = conn.execute(f"SELECT count(*) FROM (FROM {mine} EXCEPT ALL FROM {ref})").fetchall()[0][0]
        result["only_ref"] = conn.execute(f"SELECT count(*) FROM (FROM {ref} EXCEPT ALL FROM {mine})").fetchall()[0][0]
        schema, table = model.table.split(".")
        cols = "SELECT column_name, data_type, column_index FROM duckdb_columns() WHERE database_name = ? " \
               "AND schema_name = ? AND table_name = ? ORDER BY column_index"
        new_cols = conn.execute(cols, [conn.execute("SELECT current_database()").fetchall()[0][0], schema, table]).fetchall()
        ref_cols = conn.execute(cols, ["ref", schema, table]).fetchall()
        result["schema_same"] = new_cols == ref_cols
        if new_cols != ref_cols:
            result["schema_diff"] = [list(c) for c in set(new_cols) ^ set(ref_cols)]
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
