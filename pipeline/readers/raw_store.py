"""Keep a raw table in step with the files that feed it.

Each raw table holds exactly the rows of the input files that exist now: a new
or changed file (by sha256) replaces its own rows, a file that disappeared
takes its rows with it, an unchanged file costs nothing. The whole sync is one
transaction, so a bad file leaves the table as it was and the error names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import duckdb

from pipeline.readers.inputs import InputError, InputFile

LEDGER = "raw.ingested_files"
_LEDGER_DDL = f"""
CREATE TABLE IF NOT EXISTS {LEDGER} (
    table_name VARCHAR, file VARCHAR, path VARCHAR, format VARCHAR, sha256 VARCHAR,
    size_bytes BIGINT, rows BIGINT, release VARCHAR, synthetic BOOLEAN, ingested_at TIMESTAMP
)"""
META_COLUMNS = {"_file": "VARCHAR", "_line": "BIGINT", "release": "VARCHAR", "synthetic": "BOOLEAN"}


def sql_string(value: str) -> str:
    """A SQL string literal; file paths cannot be bound as parameters in table functions."""
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class SyncReport:
    table: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    rows_added: int = 0
    total_rows: int = 0
    files: int = 0


def sync_raw_table(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, str],
    files: list[InputFile],
    select_for: Callable[[InputFile], str],
    validate: Callable[[duckdb.DuckDBPyConnection, InputFile], None] | None = None,
) -> SyncReport:
    """Bring ``table`` in line with ``files``.

    ``select_for(file)`` returns a SELECT yielding the data ``columns`` plus
    ``_line`` and ``release``; ``validate`` may raise InputError before any row
    of the file is inserted (envelope errors, truncated pages).
    """
    schema = table.split(".")[0]
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    ddl = ", ".join(f'"{name}" {dtype}' for name, dtype in {**columns, **META_COLUMNS}.items())
    conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
    conn.execute(_LEDGER_DDL)

    seen = dict(conn.execute(f"SELECT file, sha256 FROM {LEDGER} WHERE table_name = ?", [table]).fetchall())
    current = {f.label: f for f in files}
    stale = [label for label, sha in seen.items() if label not in current or current[label].sha256 != sha]
    fresh = [f for f in files if seen.get(f.label) != f.sha256]
    report = SyncReport(table=table, removed=stale, unchanged=len(files) - len(fresh), files=len(files))

    conn.begin()
    try:
        if stale:
            conn.execute(f"DELETE FROM {table} WHERE _file IN (SELECT unnest(?))", [stale])
            conn.execute(f"DELETE FROM {LEDGER} WHERE table_name = ? AND file IN (SELECT unnest(?))", [table, stale])
        for f in fresh:
            if validate is not None:
                validate(conn, f)
            try:
                inserted = conn.execute(
                    f"INSERT INTO {table} BY NAME SELECT s.*, ?::VARCHAR AS _file, ?::BOOLEAN AS synthetic "
                    f"FROM ({select_for(f)}) s",
                    [f.label, f.synthetic],
                ).fetchall()[0][0]
            except duckdb.Error as exc:
                raise InputError(f"{f.path}: {exc}") from exc
            conn.execute(
                f"INSERT INTO {LEDGER} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                [table, f.label, str(f.path), f.fmt, f.sha256, f.size, inserted, f.release, f.synthetic],
            )
            report.added.append(f.label)
            report.rows_added += inserted
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    report.total_rows = conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return report
