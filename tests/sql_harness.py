"""Run the project's SQL models directly on an in-memory DuckDB: fast enough for property tests.

The raw tables are created empty with the readers' schemas and filled by the
test (or copied from a warehouse the real ingestion assets filled: ``copy_raw``);
reference tables come from the committed CSVs, loaded as the reference assets
load them; the models run in dependency order exactly as the assets run them
(same SQL, same variables) and ``build_all`` evaluates their checks as the
assets do (assets.models.run_checks).
"""

from __future__ import annotations

from functools import lru_cache

import duckdb

from assets.reference import REFERENCE_TABLES, load_reference_table
from pipeline.paths import SQL_DIR
from pipeline.sources.comtrade import reader as comtrade
from pipeline.sources.comext import reader as comext
from pipeline.readers.raw_store import META_COLUMNS
from pipeline.resources import Thresholds
from pipeline.sql_macros import prepare_session
from pipeline.sources.baci import reader as baci
from pipeline.sql_models import SqlModel, load_models

RAW = {comtrade.TABLE: comtrade.COLUMNS, comext.SDMX_TABLE: comext.SDMX_COLUMNS, comext.BULK_TABLE: comext.BULK_COLUMNS,
       baci.TABLE: baci.COLUMNS}


@lru_cache(maxsize=1)
def project_models() -> tuple[SqlModel, ...]:
    """The project's models, in dependency order (loaded once per test process)."""
    return tuple(load_models(SQL_DIR, set(RAW) | {f"reference.{n}" for n in REFERENCE_TABLES}))


@lru_cache(maxsize=1)
def _reference_data() -> dict:
    """The reference tables as Arrow tables, loaded once per process by the reference assets' own load."""
    con = duckdb.connect()
    for name in REFERENCE_TABLES:
        load_reference_table(con, name)
    return {name: con.sql(f"SELECT * FROM reference.{name}").to_arrow_table() for name in REFERENCE_TABLES}


def insert_rows(con: duckdb.DuckDBPyConnection, insert: str, row: str, rows: list, chunk: int = 1000) -> None:
    """``insert`` (an INSERT ... VALUES head) with one ``row`` template per row, as multi-row statements.
    The parameters take the target columns' types as executemany's do (the same rows, checked on the
    rolling screen's edges), at a third of the CPU: executemany runs a statement per row, which made the
    harness's inserts a tenth of the unit tier."""
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        con.execute(f"{insert} {', '.join([row] * len(part))}", [value for r in part for value in r])


def _reads_raw(model: SqlModel, models: dict[str, SqlModel]) -> bool:
    return any(d in RAW or (d in models and _reads_raw(models[d], models)) for d in model.deps)


class Harness:
    def __init__(self, **settings):
        self.con = duckdb.connect(config={"threads": 1})  # one thread, as conftest.IN_PROCESS_RUN says why
        for schema in ("raw", "reference", "staging", "monitor"):
            self.con.execute(f"CREATE SCHEMA {schema}")
        for name, data in _reference_data().items():
            self.con.register("_reference", data)
            self.con.execute(f"CREATE TABLE reference.{name} AS SELECT * FROM _reference")
            self.con.unregister("_reference")
        for table, columns in RAW.items():
            ddl = ", ".join(f'"{c}" {t}' for c, t in {**columns, **META_COLUMNS}.items())
            self.con.execute(f"CREATE TABLE {table} ({ddl})")
        self.variables = Thresholds(**settings).sql_variables()
        prepare_session(self.con, self.variables)
        self.models = {m.table: m for m in project_models()}
        # models on reference data alone (staging.hs_conversion) are the same for every example: kept by reset()
        self._per_example = {t for t, m in self.models.items() if _reads_raw(m, self.models)}

    def reset(self) -> "Harness":
        """Empty the raw tables and drop every model's table that reads them (no example reads another's);
        keep reference data and the models built on it alone."""
        for table in RAW:
            self.con.execute(f"DELETE FROM {table}")
        for table in self._per_example:
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
        return self

    def copy_raw(self, warehouse) -> None:
        """Fill the raw tables from a warehouse file the ingestion assets wrote (the real readers' rows)."""
        self.con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        try:
            # tables and views (raw.comtrade_records is a view over Parquet files)
            have = {f"{s}.{t}" for s, t in self.con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = 'wh'").fetchall()}
            for table in RAW:
                if table in have:
                    self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM wh.{table}")
        finally:
            self.con.execute("DETACH wh")

    def build_all(self) -> list[str]:
        """Build every model in order with its checks, as the refresh job does; a failed blocking check stops
        what depends on it. Returns 'check <name> failed' for every failed check (warnings included)."""
        from assets.models import run_checks
        from pipeline.incremental import BuildOutcome

        failures, blocked = [], set()
        for table, model in self.models.items():
            if any(d in blocked for d in model.deps):
                blocked.add(table)
                continue
            self.con.execute(f"CREATE OR REPLACE TABLE {table} AS {model.sql}")
            for result in run_checks(self.con, model, BuildOutcome(True, None, [], True, [])):
                if not result.passed:
                    failures.append(f"check {result.check_name} failed")
                    if result.check_name == "unique_grain" or any(
                            c.name == result.check_name and c.blocking for c in model.checks):
                        blocked.add(table)
        self.blocked = blocked
        return failures

    def add_sdmx(self, rows, release="test", synthetic=False):
        """(reporter, partner, product, flow, period 'YYYY' or 'YYYY-MM', value) observations."""
        insert_rows(
            self.con, "INSERT INTO raw.comext_sdmx VALUES",
            "('ESTAT:DS-045409(1.0)', TIMESTAMP '2026-02-13 11:00:00', CASE WHEN length(?) = 4 THEN 'A' ELSE 'M' END, "
            "?, ?, ?, ?, 'VALUE_IN_EUROS', ?, ?, NULL, 'test.csv', 0, ?, ?)",
            [[period, r, p, prod, flow, period, value, release, synthetic] for r, p, prod, flow, period, value in rows],
        )

    def add_comtrade(self, rows, release="test", synthetic=False):
        """(reporter code, flow 'M'|'X', partner code, hs6, year, value) annual HS 2022 records."""
        insert_rows(
            self.con,
            "INSERT INTO raw.comtrade_records (freqCode, refYear, refMonth, reporterCode, flowCode, partnerCode, "
            "partner2Code, classificationCode, cmdCode, customsCode, motCode, primaryValue, _file, _line, release, "
            "synthetic) VALUES", "('A', ?, 52, ?, ?, ?, 0, 'H6', ?, 'C00', 0, ?, 'test.json', 0, ?, ?)",
            [[year, reporter, flow, partner, hs6, value, release, synthetic]
             for reporter, flow, partner, hs6, year, value in rows],
        )

    def build(self, table: str) -> None:
        """Run ``table``'s model and every model it needs, in order."""
        needed, stack = set(), [table]
        while stack:
            t = stack.pop()
            if t in self.models and t not in needed:
                needed.add(t)
                stack.extend(self.models[t].deps)
        built = {f"{a}.{b}" for a, b in self.con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
        for name, model in self.models.items():  # load_models' order is topological
            if name in needed and (name in self._per_example or name not in built):
                self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {model.sql}")

    def rows(self, sql: str, params=()):
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
