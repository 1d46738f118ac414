"""Rebuild only what changed: year partitions of the large SQL models, and no model whose inputs are the same.

Every model build leaves a record in ``meta.model_builds``: a fingerprint of what the
model was computed from (its SQL, the settings it reads, and its inputs' fingerprints),
per year for a partitioned model (``-- partition: year``), once for any other. Inputs
are fingerprinted as follows:

* a raw table, per year: the files (name and sha256) holding rows of that year, from
  the raw ledger (``raw.ingested_files.years``), so a changed file changes its years only;
* a partitioned model, per year: its own fingerprint for that year;
* any other model: a hash of its contents after the build, so that a rebuild that gives
  the same rows (new data in 2019 leaving the HS split weights as they were) changes
  nothing downstream; a reference table: a hash of its contents.

A partitioned model rebuilds exactly the years whose fingerprint changed (delete the
year, insert it, one transaction per year, which also bounds memory: one year at a time)
and drops years no input has any more; a change to its SQL rebuilds every year. Each
year's SQL is the model's own, with every partitioned input narrowed to that year. The
fingerprints are recorded only once the model's blocking checks pass, so a year that
failed a check is rebuilt and checked again by the next run, never silently kept.

A first build (no table yet, a changed SQL, ``--full-rebuild``) of a model whose partitioned inputs are small
(``WHOLE_BUILD_ROWS``) runs as one statement over every year instead of one per year: the same rows (a year's
rows read only its own years' inputs, so the union of the narrowed years is the whole), a sixth of the
statements on the embedded default's six years. Larger inputs are still built one year at a time.

A year's rows may need earlier years: a 12-month window ending in March 2024 reads April
to December 2023. Such a model says so (``-- partition: year, lookback 1``): its year Y
reads its partitioned inputs narrowed to the years Y-1..Y, keeps the rows of year Y only,
and its fingerprint is made of its inputs' fingerprints of Y-1 and Y. So new data in 2024
rebuild 2024 (and 2025, which reads 2024), never 2023 or before; and a model whose whole
SQL is correct on all years is correct on each narrowed year, as long as the rows of year Y
read nothing older than the lookback.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache

import duckdb
from sqlglot import tokenize
from sqlglot.tokens import TokenType

from pipeline.readers.raw_store import LEDGER
from pipeline.sources.registry import raw_years
from pipeline.sql_models import ModelError, SqlModel

STATE = "meta.model_builds"
_STATE_DDL = f"""
CREATE TABLE IF NOT EXISTS {STATE} (
    table_name VARCHAR, year INTEGER, code_version VARCHAR, input_fp VARCHAR, output_fp VARCHAR, built_at TIMESTAMP
)"""

# The year of a raw row, per raw table of every registered source (the readers' own column names).
RAW_YEAR = raw_years()
# Up to this many rows in a partitioned model's partitioned inputs, its first build is one statement over every
# year: per-year statements cost a query's fixed overhead each and read shared inputs (reference tables, the HS
# split weights) once a year. Above it, one year at a time keeps DuckDB within its memory limit (a world year,
# SF1, is 24M flow rows; ten of them in one statement spill tens of GB).
WHOLE_BUILD_ROWS = 5_000_000
_VARIABLE = re.compile(r"getvariable\(\s*'(\w+)'\s*\)", re.IGNORECASE)


def create_state_table(conn: duckdb.DuckDBPyConnection) -> None:
    """The build records' table (and its schema) if missing."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS meta")
    conn.execute(_STATE_DDL)


def input_rows(conn: duckdb.DuckDBPyConnection, tables: list[str]) -> int:
    """Rows of ``tables``: raw tables by the raw ledger (Comtrade's is a view over Parquet), the others by
    DuckDB's own count of the table (no scan)."""
    raw = [t for t in tables if t in RAW_YEAR]
    rows = conn.execute(f"SELECT coalesce(sum(rows), 0) FROM {LEDGER} WHERE list_contains(?, table_name)",
                        [raw]).fetchall()[0][0] if raw else 0
    others = [t for t in tables if t not in RAW_YEAR]
    if others:
        rows += conn.execute(
            "SELECT coalesce(sum(estimated_size), 0) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND list_contains(?, schema_name || '.' || table_name)", [others]).fetchall()[0][0]
    return int(rows)


def table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``schema.name`` is a table of the connection's own database."""
    schema, name = table.split(".")
    return bool(conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?", [schema, name]).fetchall()[0][0])


def _sha(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


@lru_cache(maxsize=256)
def _references(sql: str, names: frozenset[str]) -> tuple[tuple[int, int, str, str | None], ...]:
    """Where ``sql`` reads each table of ``names``: (start, end, table, the alias to add or None). Tokenizing is
    the costly part (a model's narrowed SQL for each year, every assert of every check), so it is done once per
    text and set of tables."""
    tokens = tokenize(sql, read="duckdb")
    found: list[tuple[int, int, str, str | None]] = []
    i = 0
    while i + 2 < len(tokens):
        first, dot, second = tokens[i], tokens[i + 1], tokens[i + 2]
        name = f"{first.text}.{second.text}".lower()
        qualified_further = (i > 0 and tokens[i - 1].token_type == TokenType.DOT) or (
            i + 3 < len(tokens) and tokens[i + 3].token_type == TokenType.DOT)
        if dot.token_type == TokenType.DOT and name in names and not qualified_further:
            aliased = i + 3 < len(tokens) and tokens[i + 3].token_type in (TokenType.ALIAS, TokenType.VAR)
            found.append((first.start, second.end + 1, name, None if aliased else second.text))
            i += 3
        else:
            i += 1
    return tuple(found)


def substitute_tables(sql: str, replacements: dict[str, str]) -> str:
    """``sql`` with each reference to a table in ``replacements`` (schema.name) replaced by a subquery.

    The tokenizer finds the references, so strings, comments and column names are never
    touched and the rest of the SQL is kept character for character. A reference without an
    alias gets its table name as alias, so ``name.column`` still resolves.
    """
    for start, end, name, alias in reversed(_references(sql, frozenset(replacements))):
        sql = sql[:start] + f"({replacements[name]})" + ("" if alias is None else f" AS {alias}") + sql[end:]
    return sql


def year_filter(table: str, partitioned: set[str], year: int | None, lookback: int = 0) -> str:
    """The predicate selecting one year (None: no row), and the ``lookback`` years before it, of a
    partitioned table or raw table."""
    if year is None:
        return "false"
    if table in RAW_YEAR:
        column = f"({RAW_YEAR[table]})"
    elif table in partitioned:
        column = "year"
    else:
        raise ModelError(f"{table} is not partitioned by year")
    if lookback:
        return f"{column} BETWEEN {int(year) - int(lookback)} AND {int(year)}"
    return f"{column} = {int(year)}"


def narrowed_sql(model: SqlModel, partitioned: set[str], year: int | None) -> str:
    """The model's SELECT for one year: every partitioned input (raw tables included) narrowed to ``year``
    and the model's lookback years before it; with a lookback, only the rows of ``year`` are kept."""
    inputs = {t for t in model.deps if t in partitioned or t in RAW_YEAR}
    sql = substitute_tables(model.sql, {
        t: f"SELECT * FROM {t} WHERE {year_filter(t, partitioned, year, model.lookback)}" for t in inputs})
    if model.lookback and year is not None:
        # the earlier years are read for this year's rows, not built: theirs come from their own builds
        sql = f"SELECT * FROM ({sql}) AS rows_of_years WHERE year = {int(year)}"
    return sql


def whole_sql(model: SqlModel, years: list[int]) -> str:
    """The model's SELECT over every year at once: what the per-year builds of ``years`` give together. With a
    lookback, rows of a year no input has (windows running past the last month) are left out, as the per-year
    builds never build that year."""
    if not model.lookback:
        return model.sql
    wanted = ", ".join(str(int(y)) for y in years) or "NULL"
    return f"SELECT * FROM ({model.sql}) AS rows_of_years WHERE year IN ({wanted})"


def _inputs_of_year(per_input: dict[str, dict[int, str]], year: int, lookback: int) -> list:
    """What one year of a partitioned model reads: each input's fingerprint of that year and of the
    ``lookback`` years before it."""
    if not lookback:
        return [(t, fps.get(year)) for t, fps in per_input.items()]
    return [(t, [fps.get(y) for y in range(year - lookback, year + 1)]) for t, fps in per_input.items()]


@dataclass
class BuildOutcome:
    """What a build did: ``years`` rebuilt (None for a whole-table model), or nothing at all."""
    rebuilt: bool
    years: list[int] | None
    dropped: list[int]
    full: bool
    pending: list[tuple]  # state rows to record once the checks pass

    def scope(self) -> str:
        """The rows the checks must look at: the rebuilt ones."""
        if not self.rebuilt:
            return "false"
        if self.years is None or self.full:
            return "true"
        return f"year IN ({', '.join(str(int(y)) for y in self.years)})" if self.years else "false"

    def summary(self) -> str:
        if not self.rebuilt:
            return "unchanged inputs: nothing rebuilt"
        if self.years is None:
            return "rebuilt in full"
        what = "every year" if self.full else "changed years"
        return f"{what} rebuilt: {self.years or 'none'}" + (f"; years dropped: {self.dropped}" if self.dropped else "")


class Incremental:
    """Fingerprints and builds on one connection, for the models of one definitions load."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, partitioned: set[str], variables: dict[str, object],
                 *, full_rebuild: bool = False, state_lock: AbstractContextManager | None = None,
                 create_state: bool = True):
        self.conn = conn
        self.partitioned = partitioned
        self.variables = variables
        self.full_rebuild = full_rebuild  # every year of every model, whatever the fingerprints say
        # held around the writes of the build records outside a year's transaction, when models are built by
        # several threads at once (assets/models.py): each thread only touches its own model's rows
        self.state_lock = state_lock or nullcontext()
        if create_state:  # False: the caller made it once, before threads (two CREATEs at once conflict)
            create_state_table(conn)

    # ------------------------------------------------------------------ fingerprints of inputs

    def _exists(self, table: str) -> bool:
        return table_exists(self.conn, table)

    def content_hash(self, table: str) -> str:
        n, total = self.conn.execute(f"SELECT count(*), sum(hash(t))::VARCHAR FROM {table} AS t").fetchall()[0]
        return f"{n}:{total}"

    def year_fingerprints(self, table: str) -> dict[int, str]:
        """Per-year fingerprints of a raw table or a partitioned model."""
        if table in RAW_YEAR:
            rows = self.conn.execute(
                f"SELECT y, string_agg(file || ':' || sha256, ',' ORDER BY file) FROM "
                f"(SELECT file, sha256, unnest(years) AS y FROM {LEDGER} WHERE table_name = ?) GROUP BY y",
                [table]).fetchall()
            return {y: _sha(fp) for y, fp in rows}
        rows = self.conn.execute(f"SELECT year, output_fp FROM {STATE} WHERE table_name = ? AND year IS NOT NULL",
                                 [table]).fetchall()
        return dict(rows)

    def table_fingerprint(self, table: str) -> str:
        if table in RAW_YEAR or table in self.partitioned:
            return _sha(sorted(self.year_fingerprints(table).items()))
        stored = self.conn.execute(f"SELECT output_fp FROM {STATE} WHERE table_name = ? AND year IS NULL",
                                   [table]).fetchall()
        return stored[0][0] if stored else self.content_hash(table)

    def _settings(self, model: SqlModel) -> list:
        used = sorted({name.lower() for name in _VARIABLE.findall(model.sql)})
        return [(name, self.variables.get(name)) for name in used]

    # ------------------------------------------------------------------ builds

    def build(self, model: SqlModel) -> BuildOutcome:
        if model.partition:
            return self._build_partitioned(model)
        return self._build_whole(model)

    def _build_whole(self, model: SqlModel) -> BuildOutcome:
        fp = _sha(model.code_version, self._settings(model),
                  [(t, self.table_fingerprint(t)) for t in sorted(model.deps)])
        stored = self.conn.execute(f"SELECT input_fp FROM {STATE} WHERE table_name = ? AND year IS NULL",
                                   [model.table]).fetchall()
        if stored and stored[0][0] == fp and self._exists(model.table) and not self.full_rebuild:
            return BuildOutcome(False, None, [], False, [])
        with self.state_lock:
            self.conn.execute(f"DELETE FROM {STATE} WHERE table_name = ?", [model.table])
        self._run(model, f"CREATE OR REPLACE TABLE {model.table} AS {model.sql}")
        return BuildOutcome(True, None, [], True, [(None, fp)])

    def _build_partitioned(self, model: SqlModel) -> BuildOutcome:
        inputs = sorted(t for t in model.deps if t in self.partitioned or t in RAW_YEAR)
        if not inputs:
            raise ModelError(f"{model.path}: '-- partition: year' needs at least one input partitioned by year")
        whole = [(t, self.table_fingerprint(t)) for t in sorted(model.deps) if t not in inputs]
        per_input = {t: self.year_fingerprints(t) for t in inputs}
        years = sorted(set().union(*per_input.values()))
        base = (model.code_version, self._settings(model), whole)
        wanted = {y: _sha(base, _inputs_of_year(per_input, y, model.lookback)) for y in years}

        stored = dict(self.conn.execute(
            f"SELECT year, input_fp FROM {STATE} WHERE table_name = ? AND year IS NOT NULL", [model.table]).fetchall())
        versions = {v for (v,) in self.conn.execute(
            f"SELECT DISTINCT code_version FROM {STATE} WHERE table_name = ?", [model.table]).fetchall()}
        full = self.full_rebuild or not self._exists(model.table) or versions != {model.code_version}
        if full:
            with self.state_lock:
                self.conn.execute(f"DELETE FROM {STATE} WHERE table_name = ?", [model.table])
            if years and input_rows(self.conn, inputs) <= WHOLE_BUILD_ROWS:
                self._run(model, f"CREATE OR REPLACE TABLE {model.table} AS {whole_sql(model, years)}")
                return BuildOutcome(True, years, [], True, [(y, wanted[y]) for y in years])
            # an empty table of the right shape, then one year at a time
            # (LIMIT 0: a global aggregate gives a row of nulls even over no input)
            self._run(model, f"CREATE OR REPLACE TABLE {model.table} AS SELECT * FROM "
                             f"({narrowed_sql(model, self.partitioned, None)}) AS empty_shape LIMIT 0")
            stale, dropped = years, []
        else:
            stale = [y for y in years if stored.get(y) != wanted[y]]
            dropped = sorted(y for y in stored if y not in wanted)
        for year in dropped:
            self.conn.execute(f"DELETE FROM {model.table} WHERE year = ?", [year])
            with self.state_lock:
                self.conn.execute(f"DELETE FROM {STATE} WHERE table_name = ? AND year = ?", [model.table, year])
        for year in stale:
            # the year's records are deleted inside its transaction, without state_lock: DuckDB's transactions
            # conflict only on the same rows, and these rows are this model's alone
            self.conn.begin()
            try:
                self.conn.execute(f"DELETE FROM {STATE} WHERE table_name = ? AND year = ?", [model.table, year])
                if not full:
                    self.conn.execute(f"DELETE FROM {model.table} WHERE year = ?", [year])
                self._run(model, f"INSERT INTO {model.table} {narrowed_sql(model, self.partitioned, year)}")
                self.conn.commit()
            except BaseException:
                self.conn.rollback()
                raise
        rebuilt = bool(stale or dropped or full)
        return BuildOutcome(rebuilt, stale, dropped, full, [(y, wanted[y]) for y in stale])

    def _run(self, model: SqlModel, statement: str) -> None:
        try:
            self.conn.execute(statement)
        except duckdb.Error as exc:
            raise ModelError(f"{model.path}: {exc}") from exc

    def record(self, model: SqlModel, outcome: BuildOutcome) -> None:
        """Remember what the rebuilt parts were computed from; call only after the blocking checks passed.
        One statement for every rebuilt year: one INSERT a year was one commit (a WAL sync) a year, 108 in a
        `make run`."""
        if not outcome.pending:
            return
        rows = [(year, input_fp, input_fp if year is not None else self.content_hash(model.table))
                for year, input_fp in outcome.pending]
        with self.state_lock:
            self.conn.execute(
                f"INSERT INTO {STATE} VALUES " + ", ".join(["(?, ?, ?, ?, ?, now()::TIMESTAMP)"] * len(rows)),
                [value for year, input_fp, output_fp in rows
                 for value in (model.table, year, model.code_version, input_fp, output_fp)])
