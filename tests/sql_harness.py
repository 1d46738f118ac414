"""Run the project's SQL models directly on an in-memory DuckDB: fast enough for property tests.

The raw tables are created empty with the readers' schemas and filled by the
test; reference tables come from the committed CSVs; the models run in
dependency order exactly as the assets run them (same SQL, same variables).
"""

from __future__ import annotations

import duckdb

from assets.reference import REFERENCE_TABLES
from pipeline.paths import REFERENCE_DIR, SQL_DIR
from pipeline.readers import comext, comtrade
from pipeline.readers.raw_store import META_COLUMNS, sql_string
from pipeline.resources import MonitorSettings
from pipeline.sql_models import load_models

RAW = {comtrade.TABLE: comtrade.COLUMNS, comext.SDMX_TABLE: comext.SDMX_COLUMNS, comext.BULK_TABLE: comext.BULK_COLUMNS}

_reference_cache: dict[str, list] = {}


class Harness:
    def __init__(self, **settings):
        self.con = duckdb.connect()
        for schema in ("raw", "reference", "staging", "monitor"):
            self.con.execute(f"CREATE SCHEMA {schema}")
        for name, (_, types) in REFERENCE_TABLES.items():
            type_map = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
            self.con.execute(f"CREATE TABLE reference.{name} AS SELECT * FROM read_csv("
                             f"{sql_string(REFERENCE_DIR / f'{name}.csv')}, header=true, all_varchar=true, "
                             f"types={type_map})")
        for table, columns in RAW.items():
            ddl = ", ".join(f'"{c}" {t}' for c, t in {**columns, **META_COLUMNS}.items())
            self.con.execute(f"CREATE TABLE {table} ({ddl})")
        for name, value in MonitorSettings(**settings).sql_variables().items():
            self.con.execute(f"SET VARIABLE {name} = ?", [value])
        self.models = {m.table: m for m in load_models(SQL_DIR, set(RAW) | {f"reference.{n}" for n in REFERENCE_TABLES})}

    def reset(self) -> "Harness":
        """Empty the raw tables and drop every model's table (no example reads another's), keep reference data."""
        for table in RAW:
            self.con.execute(f"DELETE FROM {table}")
        for table in self.models:
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
        return self

    def add_sdmx(self, rows, release="test", synthetic=False):
        """(reporter, partner, product, flow, period 'YYYY' or 'YYYY-MM', value) observations."""
        self.con.executemany(
            "INSERT INTO raw.comext_sdmx VALUES ('ESTAT:DS-045409(1.0)', TIMESTAMP '2026-02-13 11:00:00', "
            "CASE WHEN length(?) = 4 THEN 'A' ELSE 'M' END, ?, ?, ?, ?, 'VALUE_IN_EUROS', ?, ?, NULL, "
            "'test.csv', 0, ?, ?)",
            [[period, r, p, prod, flow, period, value, release, synthetic] for r, p, prod, flow, period, value in rows],
        )

    def add_comtrade(self, rows, release="test", synthetic=False):
        """(reporter code, flow 'M'|'X', partner code, hs6, year, value) annual HS 2022 records."""
        self.con.executemany(
            "INSERT INTO raw.comtrade_records (freqCode, refYear, refMonth, reporterCode, flowCode, partnerCode, "
            "partner2Code, classificationCode, cmdCode, customsCode, motCode, primaryValue, _file, _line, release, "
            "synthetic) VALUES ('A', ?, 52, ?, ?, ?, 0, 'H6', ?, 'C00', 0, ?, 'test.json', 0, ?, ?)",
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
        for name, model in self.models.items():  # load_models' order is topological
            if name in needed:
                self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {model.sql}")

    def rows(self, sql: str, params=()):
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
