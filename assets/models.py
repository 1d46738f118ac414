"""The SQL models in ``dbt_like_sql/`` as one Dagster step, the way dagster-dbt runs a dbt project.

Every model is an asset of its own (its key, group, lineage, code version and checks, in the UI and in
tests/graph_snapshot.json), and all of them are computed by one ``@multi_asset`` that builds the selected
ones (``can_subset``: a source's job, one asset materialized from the UI) in dependency order, ``WORKERS`` at
a time, a ready model heading the longest chain of models below it first (``critical_first``): each model on
its own cursor of the warehouse's one connection. DuckDB runs two cursors' statements at once and releases
the GIL while it does, so one model's SQL runs while the other's Python (fingerprints, metadata, checks) or
single-threaded statements do; and the 33 models cost one step's overhead instead of 33 (Dagster's start
and end events, about 54 ms a step).

A model whose inputs changed is rebuilt (``CREATE OR REPLACE TABLE``), a model partitioned by year has
only its changed years deleted and inserted again, and a model whose inputs are all unchanged is left as
it is (pipeline/incremental.py); either way a rerun on the same inputs gives identical contents. Its grain
and declared checks are evaluated on the rows just built and returned with its materialization as soon as
it is done. A blocking check that fails, or an error, stops everything downstream of that model (the other
models still finish), its build is not recorded (the next run builds it again), and the step fails, so
nothing is published. A model whose inputs are above ``WHOLE_BUILD_ROWS`` is built alone, so the memory
limit stays one model's.
"""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    AutomationCondition,
    MaterializeResult,
    multi_asset,
)

from pipeline.incremental import (
    WHOLE_BUILD_ROWS,
    BuildOutcome,
    Incremental,
    create_state_table,
    input_rows,
    substitute_tables,
)
from pipeline.metadata import markdown_preview, screen_metadata, table_metadata
from pipeline.paths import SQL_DIR
from pipeline.resources import DUCKDB_POOL, InputSettings, Thresholds, Warehouse
from pipeline.sql_macros import prepare_session
from pipeline.sql_models import ModelError, SqlModel, load_models


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
            asset_key=_key(model.table),
            check_name="unique_grain",
            passed=dupes == 0 and nulls == 0,
            severity=AssetCheckSeverity.ERROR,
            metadata={"duplicate_keys": dupes, "null_keys": nulls, **checked,
                      **({"sample": markdown_preview(conn, dupes_sql, 5)} if dupes else {})},
        ))
    for check, (failing, failing_sql) in zip(model.checks, counts):
        results.append(AssetCheckResult(
            asset_key=_key(model.table),
            check_name=check.name,
            passed=failing == 0,
            severity=AssetCheckSeverity.ERROR if check.blocking else AssetCheckSeverity.WARN,
            metadata={"failing_rows": failing, "predicate": check.predicate, **checked,
                      **({"sample": markdown_preview(conn, failing_sql, 5)} if failing else {})},
        ))
    return results


# Models built at once. Two: DuckDB's own threads already share each statement among the cores, and the second
# model fills what one model leaves idle (its Python, its small single-threaded statements). `geomon run` on the
# embedded default, 2-core VM at load 1.0-1.5, 4 rounds each: 25b6242 (a step per model) 21.7 s wall, 28.8 CPU-s;
# this step with one worker 20.1 s, 26.9 CPU-s; with two 19.5 s, 27.5 CPU-s and 0.2 GB more peak RSS (1.1 GB).
# 1 builds one model at a time, in the same order.
WORKERS = 2
STEP = "sql_models"  # the step's name (its key in the run's event log and in `geomon run`'s failure lines)


def _spec(model: SqlModel) -> AssetSpec:
    return AssetSpec(
        key=_key(model.table),
        group_name=model.layer,
        description=model.description,
        deps=[_key(dep) for dep in sorted(model.deps)],
        code_version=model.code_version,
        kinds={"duckdb", "sql"},
        automation_condition=AutomationCondition.eager(),
        skippable=True,  # not built when something upstream of it failed, or when it is not selected
        metadata={"sql_file": _sql_file(model), "partitioned_by": model.partition or "none (whole table)"},
    )


def _sql_file(model: SqlModel) -> str:
    # a test's extra model folder (sql_models.EXTRA_MODEL_DIRS) lies outside the project
    return str(model.path.relative_to(SQL_DIR.parent) if model.path.is_relative_to(SQL_DIR.parent) else model.path)


@dataclass
class _Session:
    """What every model build of one step shares."""
    warehouse: Warehouse
    partitioned: set[str]
    variables: dict
    full_rebuild: bool
    state_lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: dict = field(default_factory=dict)  # table -> its cursor, to interrupt it if the step stops


@dataclass
class _Built:
    model: SqlModel
    metadata: dict
    checks: list[AssetCheckResult]
    failed: list[str]  # the blocking checks that failed


def _build_model(session: _Session, model: SqlModel) -> _Built:
    """One model built and checked on a cursor of its own (in a worker thread); recorded if its blocking checks
    pass. Nothing here writes to Dagster: the step's own thread does, as each model is handed back."""
    started = time.perf_counter()
    with session.warehouse.get_connection() as conn:
        session.in_flight[model.table] = conn
        try:
            prepare_session(conn, session.variables, for_sql=model.session_sql)
            builds = Incremental(conn, session.partitioned, session.variables, full_rebuild=session.full_rebuild,
                                 state_lock=session.state_lock, create_state=False)
            outcome = builds.build(model)
            # the build's summary goes into the materialization's metadata ("build"), not a log line: each
            # log line is one more event written to the run's SQLite event log
            metadata = table_metadata(conn, model.table)
            metadata["build"] = outcome.summary()
            metadata["preview"] = markdown_preview(conn, f"SELECT * FROM {model.table}")
            metadata.update(screen_metadata(conn, model.table))
            checks = run_checks(conn, model, outcome)
            blocking = {c.name for c in model.checks if c.blocking} | {"unique_grain"}
            failed = [c.check_name for c in checks if not c.passed and c.check_name in blocking]
            if not failed:
                builds.record(model, outcome)
        finally:
            session.in_flight.pop(model.table, None)
    # wall seconds of its build and checks (with another model possibly built beside it)
    metadata["seconds"] = round(time.perf_counter() - started, 3)
    return _Built(model, metadata, checks, failed)


def critical_first(models: list[SqlModel]) -> list[SqlModel]:
    """``models`` (in dependency order) in the order the step hands them out: the model heading the longest chain
    of models below it first, ties in dependency order. Handed out in dependency order, the models that end no
    chain (crma_benchmark, ec_screen_cn8, supplier_loss...) took the second worker while the chain
    import_concentration -> supplier_dependence -> look_through_shares waited; the step's span is that chain's.
    Any order of the models gives the same tables (each reads only finished inputs).
    A chain is as long as its models' SQL (characters, a static proxy of their work): counted in models, the
    three small models under dependence_on_eu went before look_through_shares -> indirect_dependencies, and
    indirect_dependencies after eight one-model side branches, 0.5-0.8 s each at the end of the step's span."""
    chain: dict[str, int] = {}
    for model in reversed(models):
        chain[model.table] = len(model.sql) + max((chain[m.table] for m in models if model.table in m.deps),
                                                  default=0)
    return sorted(models, key=lambda m: -chain[m.table])  # stable: ties keep the dependency order


def _descendants(models: list[SqlModel], table: str) -> set[str]:
    """Every model downstream of ``table`` (``models`` in dependency order), selected or not."""
    found = {table}
    for model in models:
        if model.deps & found:
            found.add(model.table)
    return found - {table}


def _build_selected(context: AssetExecutionContext, models: list[SqlModel], session: _Session,
                    workers: int) -> Iterator[MaterializeResult | AssetCheckResult]:
    """The selected models, ``workers`` at a time in dependency order (``critical_first``), each one's result
    yielded as it is done; raises at the end if a model failed (after the others finished)."""
    selected_checks = context.selected_asset_check_keys
    chosen = [m for m in models if _key(m.table) in context.selected_asset_keys]
    pending = critical_first(chosen)  # a ready model heading a longer chain first
    unfinished = {m.table for m in chosen}
    blocked: dict[str, str] = {}  # table -> the model upstream whose failure keeps it from being built
    errors: list[str] = []
    running: dict[Future, SqlModel] = {}
    alone: SqlModel | None = None  # a model with large inputs, built with no other beside it
    large: dict[str, bool] = {}
    # The results of the models just done are yielded only once the models they made ready are handed out:
    # Dagster writes a result's events (its materialization, its checks) to the run's event log before the
    # step resumes, 0.1-0.45 s a model on the embedded default, and each of them held the next model of the
    # chain trade_flows -> ... -> look_through_shares -> indirect_dependencies.
    finished: list[MaterializeResult] = []
    with session.warehouse.get_connection() as conn, _any_insertion_order(conn), \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sql_model") as pool:
        try:
            while pending or running:
                for model in list(pending):
                    if model.table in blocked:
                        pending.remove(model)
                        continue
                    if alone is not None or len(running) >= workers:
                        break
                    if model.deps & unfinished:
                        continue  # an input is still to be built
                    if model.table not in large:
                        # its inputs are built: their sizes are final (raw by the ledger, tables by DuckDB's count)
                        large[model.table] = input_rows(conn, sorted(model.deps)) > WHOLE_BUILD_ROWS
                    if large[model.table] and running:
                        break  # waits for the models in flight, and nothing else starts before it
                    pending.remove(model)
                    running[pool.submit(_build_model, session, model)] = model
                    if large[model.table]:
                        alone = model
                if finished:
                    # one result at a time, and the models done meanwhile collected before the next: the next
                    # round hands out what they made ready before Dagster records another result
                    yield finished.pop(0)
                    done = wait(running, timeout=0, return_when=FIRST_COMPLETED)[0] if running else set()
                else:
                    if not running:
                        if pending:  # cannot happen: a pending model's inputs are built or pending; never spin
                            raise ModelError(f"no SQL model can be built: {[m.table for m in pending]} wait for "
                                             "inputs")
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: chosen.index(running[f])):
                    model = running.pop(future)
                    unfinished.discard(model.table)
                    if model is alone:
                        alone = None
                    try:
                        built = future.result()
                    except Exception as exc:  # noqa: BLE001 (any error: the model's, named with its file)
                        errors.append(f"{model.table} ({_sql_file(model)}): {_without_path(exc, model)}")
                        blocked.update({t: model.table for t in _descendants(models, model.table)})
                        continue
                    if built.failed:
                        context.log.error(f"{model.table}: blocking check(s) failed: {built.failed}; nothing "
                                          "downstream will be built, and the next run builds these rows again")
                        blocked.update({t: model.table for t in _descendants(models, model.table)})
                    finished.append(MaterializeResult(
                        asset_key=_key(model.table), metadata=built.metadata,
                        check_results=[c for c in built.checks if _check_key(c) in selected_checks]))
            yield from finished  # the last ones (the loop ends when nothing is pending or running)
            skipped = sorted(t for t in blocked if t in {m.table for m in chosen})
            if skipped:
                context.log.warning(f"not built, as a model upstream failed: {skipped}")
            yield from _checks_only(context, conn, models, session)
        except BaseException:
            # the step stops (an interrupted run, an error of its own): the models in flight stop too
            for cursor in list(session.in_flight.values()):
                cursor.interrupt()
            raise
    if errors:
        raise ModelError("; ".join(errors))


@contextmanager
def _any_insertion_order(conn) -> Iterator[None]:
    """The models' statements free to write rows in any order (DuckDB's ``preserve_insertion_order``, a setting
    of the whole database instance, so every model cursor of the step; restored afterwards, for the steps and
    callers that share the instance). No model relies on the order of a table's rows: every output is compared
    and fingerprinted as a multiset (``sum(hash(t))``, EXCEPT ALL), arg_max breaks ties by value, and the
    snapshot's Parquet is written ORDER BY ALL. Kept order makes a parallel CREATE TABLE AS reassemble its rows
    in input order: ``staging.trade_flows`` (916k rows on the embedded default), the head of the models'
    longest chain, 2.06-2.10 -> 1.59-1.61 s wall, 2.8 -> 2.4 CPU-s and 0.1 GB less peak (2026-12-08)."""
    (saved,) = conn.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0]
    conn.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        conn.execute(f"SET preserve_insertion_order = {'true' if saved else 'false'}")


def _check_key(result: AssetCheckResult) -> AssetCheckKey:
    return AssetCheckKey(result.asset_key, result.check_name)


def _without_path(exc: Exception, model: SqlModel) -> str:
    """The error's text without the model file's absolute path (pipeline/incremental.py puts it first), as the
    message names the model and its file already."""
    text = str(exc)
    prefix = f"{model.path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _checks_only(context: AssetExecutionContext, conn, models: list[SqlModel],
                 session: _Session) -> Iterator[AssetCheckResult]:
    """Checks selected without their model (a check run from the UI): evaluated on the whole table as it is."""
    wanted = {k for k in context.selected_asset_check_keys if k.asset_key not in context.selected_asset_keys}
    for model in models:
        if any(k.asset_key == _key(model.table) for k in wanted):
            prepare_session(conn, session.variables, for_sql=model.session_sql)
            for result in run_checks(conn, model, BuildOutcome(True, None, [], True, [])):
                if _check_key(result) in wanted:
                    yield result


def sql_models_asset(models: list[SqlModel], *, workers: int | None = None) -> AssetsDefinition:
    """Every model of ``models`` (in dependency order) as one multi-asset; ``workers``: models built at once
    (default ``WORKERS``)."""
    partitioned = {m.table for m in models if m.partition}

    @multi_asset(
        name=STEP,
        specs=[_spec(m) for m in models],
        check_specs=[spec for m in models for spec in _check_specs(m)],
        can_subset=True,
        pool=DUCKDB_POOL,
    )
    def sql_models(context: AssetExecutionContext, settings: InputSettings, thresholds: Thresholds,
                   warehouse: Warehouse):
        """The SQL models of dbt_like_sql/, the selected ones built in dependency order, two at a time, each
        with its checks (assets/models.py)."""
        session = _Session(warehouse, partitioned, thresholds.sql_variables(), settings.full_rebuild)
        with warehouse.get_connection() as conn:
            # once, before any thread: two CREATEs of one schema at once are a DuckDB write-write conflict
            create_state_table(conn)
            for layer in sorted({m.layer for m in models}):
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
        yield from _build_selected(context, models, session, workers or WORKERS)

    return sql_models


def sql_model_assets(external_tables: set[str]) -> list[AssetsDefinition]:
    return [sql_models_asset(load_models(SQL_DIR, external_tables))]
