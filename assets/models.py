"""Assets built from the SQL models in ``dbt_like_sql/``: one table, one asset, checks alongside.

A model whose inputs changed is rebuilt (``CREATE OR REPLACE TABLE``), a model
partitioned by year has only its changed years deleted and inserted again, and a
model whose inputs are all unchanged is left as it is (pipeline/incremental.py);
either way a rerun on the same inputs gives identical contents. Its grain and
declared checks are evaluated in the same step, on the rows just built, and
returned with the materialization; blocking ones stop everything downstream (and
the publication) when they fail.
"""


from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AutomationCondition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipeline.incremental import BuildOutcome, Incremental, substitute_tables
from pipeline.metadata import markdown_preview, screen_metadata, table_metadata
from pipeline.paths import SQL_DIR
from pipeline.resources import DUCKDB_POOL, InputSettings, Thresholds, Warehouse
from pipeline.sql_macros import prepare_session
from pipeline.sql_models import SqlModel, load_models


def _key(table: str) -> AssetKey:
    return AssetKey(table.split("."))


def _check_specs(model: SqlModel) -> list[AssetCheckSpec]:
    specs = []
    if model.grain:
        specs.append(AssetCheckSpec("unique_grain", asset=_key(model.table), blocking=True,
                                    description=f"One row per ({', '.join(model.grain)}), none null."))
    specs += [
        AssetCheckSpec(c.name, asset=_key(model.table), blocking=c.blocking,
                       description=f"No row returned by: {c.predicate}" if c.kind == "assert"
                       else f"Every row: {c.predicate}")
        for c in model.checks
    ]
    return specs


# Above this many rebuilt rows, a year-partitioned model is checked one year at a time: at ten world years the
# grain check of staging.annual_flows (a GROUP BY over every year at once) spilled some 40 GB under DuckDB's
# 2 GB limit and filled the disk. Its rows are built one year at a time and every check's keys hold a year (a
# row of one year never collides with a row of another), so the counts add up to the same answer.
CHECK_BY_YEAR_ROWS = 10_000_000


def _check_scopes(conn, model: SqlModel, outcome: BuildOutcome) -> list[str]:
    scope = outcome.scope()
    if not model.partition or not outcome.years or len(outcome.years) < 2:
        return [scope]
    rows = conn.execute(f"SELECT count(*) FROM {model.table} WHERE {scope}").fetchall()[0][0]
    return [f"year = {int(y)}" for y in outcome.years] if rows > CHECK_BY_YEAR_ROWS else [scope]


def _counts(conn, queries: list, scopes: list[str]) -> list[tuple[int, str | None]]:
    """Per query (a function of a scope giving the SQL of failing rows): the failing rows over every scope, and
    the SQL of the first scope that has any (for the sample). Each scope's counts are one DuckDB statement: a
    model's checks were 4 statements a step, 131 in a run."""
    totals = [0] * len(queries)
    firsts: list[str | None] = [None] * len(queries)
    # rows checked a year at a time (CHECK_BY_YEAR_ROWS) are large: one query at a time, so no two grain
    # aggregations hold memory together
    batches = [list(range(len(queries)))] if len(scopes) == 1 else [[i] for i in range(len(queries))]
    for scope, batch in ((s, b) for s in scopes for b in batches if b):
        sqls = {i: queries[i](scope) for i in batch}
        found = conn.execute("SELECT " + ", ".join(f"(SELECT count(*) FROM ({sqls[i]}))" for i in batch)).fetchall()[0]
        for i, n in zip(batch, found):
            totals[i] += n
            firsts[i] = firsts[i] or (sqls[i] if n else None)
    return list(zip(totals, firsts))


def run_checks(conn, model: SqlModel, outcome: BuildOutcome) -> list[AssetCheckResult]:
    """The model's checks on the rows this build wrote (rows of unchanged years passed them before); the
    in-memory SQL harness of the tests (tests/sql_harness.py) runs the same on a whole table."""
    scope = outcome.scope()
    scopes = _check_scopes(conn, model, outcome)
    checked = {"checked_rows": "all" if scope == "true" else "none (nothing rebuilt)" if scope == "false"
               else f"years {outcome.years}"}
    if len(scopes) > 1:
        checked["checked_by"] = "year"
    queries = []
    if model.grain:
        cols = ", ".join(model.grain)
        # month is legitimately null for annual rows, so nulls are checked on the other columns only
        not_null = " OR ".join(f"{c} IS NULL" for c in model.grain if c != "month")

        def own(s: str) -> str:
            return f"(SELECT * FROM {model.table} WHERE {s}) AS {model.name}"

        queries.append(lambda s: f"SELECT {cols}, count(*) AS n FROM {own(s)} GROUP BY ALL HAVING count(*) > 1")
        queries.append(lambda s: f"SELECT 1 FROM {own(s)} WHERE {not_null}")
    for check in model.checks:
        # asserts read the model's table by name, possibly twice: each reference is narrowed alike
        queries.append(lambda s, check=check: substitute_tables(
            check.failing_rows_sql(model.table), {model.table: f"SELECT * FROM {model.table} WHERE {s}"}))
    counts = _counts(conn, queries, scopes)
    results = []
    if model.grain:
        (dupes, dupes_sql), (nulls, _) = counts[:2]
        counts = counts[2:]
        results.append(AssetCheckResult(
            check_name="unique_grain",
            passed=dupes == 0 and nulls == 0,
            severity=AssetCheckSeverity.ERROR,
            metadata={"duplicate_keys": dupes, "null_keys": nulls, **checked,
                      **({"sample": markdown_preview(conn, dupes_sql, 5)} if dupes else {})},
        ))
    for check, (failing, failing_sql) in zip(model.checks, counts):
        results.append(AssetCheckResult(
            check_name=check.name,
            passed=failing == 0,
            severity=AssetCheckSeverity.ERROR if check.blocking else AssetCheckSeverity.WARN,
            metadata={"failing_rows": failing, "predicate": check.predicate, **checked,
                      **({"sample": markdown_preview(conn, failing_sql, 5)} if failing else {})},
        ))
    return results


def model_asset(model: SqlModel, partitioned: set[str]) -> AssetsDefinition:
    @asset(
        key=_key(model.table),
        group_name=model.layer,
        description=model.description,
        deps=[_key(dep) for dep in sorted(model.deps)],
        code_version=model.code_version,
        check_specs=_check_specs(model),
        pool=DUCKDB_POOL,
        kinds={"duckdb", "sql"},
        automation_condition=AutomationCondition.eager(),
        metadata={"sql_file": str(model.path.relative_to(SQL_DIR.parent) if model.path.is_relative_to(SQL_DIR.parent)
                                  else model.path),  # a test's extra model folder (sql_models.EXTRA_MODEL_DIRS)
                  "partitioned_by": model.partition or "none (whole table)"},
    )
    def _build(context: AssetExecutionContext, settings: InputSettings, thresholds: Thresholds,
               warehouse: Warehouse) -> MaterializeResult:
        variables = thresholds.sql_variables()
        with warehouse.get_connection() as conn:
            prepare_session(conn, variables, for_sql=model.session_sql)
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {model.layer}")
            builds = Incremental(conn, partitioned, variables, full_rebuild=settings.full_rebuild)
            outcome = builds.build(model)
            # the build's summary goes into the materialization's metadata ("build"), not a log line: each
            # log line is one more event written to the run's SQLite event log (some 11 ms each)
            metadata = table_metadata(conn, model.table)
            metadata["build"] = outcome.summary()
            metadata["preview"] = markdown_preview(conn, f"SELECT * FROM {model.table}")
            metadata.update(screen_metadata(conn, model.table))
            checks = run_checks(conn, model, outcome)
            blocking = {c.name for c in model.checks if c.blocking} | {"unique_grain"}
            failed = [c.check_name for c in checks if not c.passed and c.check_name in blocking]
            if failed:
                context.log.error(f"{model.table}: blocking check(s) failed: {failed}; nothing downstream "
                                  "will be built, and the next run builds these rows again")
            else:
                builds.record(model, outcome)
        return MaterializeResult(metadata=metadata, check_results=checks)

    return _build


def sql_model_assets(external_tables: set[str]) -> list[AssetsDefinition]:
    models = load_models(SQL_DIR, external_tables)
    partitioned = {m.table for m in models if m.partition}
    return [model_asset(m, partitioned) for m in models]
