"""Keep a raw table in step with the files that feed it, and quarantine what cannot be read.

Each raw table holds exactly the rows of the input files that exist now and
could be read: a new or changed file (by sha256) replaces its own rows, a file
that disappeared takes its rows with it, an unchanged file costs nothing.

A file is read whole or not at all, each in its own transaction: a file that
fails (unreadable, wrong layout, a value that does not parse, a page the API
marked as failed) adds no row, and lands in ``raw.quarantine`` with its file,
line (where the reader knows it) and reason. It is tried again on the next run,
so a fixed file goes through. Quarantined input is never counted as zero: the
raw assets' blocking ``input_contract`` check stops the run before staging
unless the run explicitly accepts publishing without it.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import duckdb

from pipeline.readers.inputs import InputError, InputFile

LEDGER = "raw.ingested_files"
QUARANTINE = "raw.quarantine"
_LEDGER_DDL = f"""
CREATE TABLE IF NOT EXISTS {LEDGER} (
    table_name VARCHAR, file VARCHAR, path VARCHAR, format VARCHAR, sha256 VARCHAR,
    size_bytes BIGINT, rows BIGINT, release VARCHAR, synthetic BOOLEAN, ingested_at TIMESTAMP,
    years INTEGER[]
)"""
_QUARANTINE_DDL = f"""
CREATE TABLE IF NOT EXISTS {QUARANTINE} (
    table_name VARCHAR, file VARCHAR, path VARCHAR, line BIGINT, reason VARCHAR, recorded_at TIMESTAMP
)"""
MAX_PARALLEL_FILES = 4
META_COLUMNS = {"_file": "VARCHAR", "_line": "BIGINT", "release": "VARCHAR", "synthetic": "BOOLEAN"}
# (file, rows inserted, None) or (file, None, reason once quarantined)
Outcome = tuple[InputFile, int | None, str | None]
ReadTogether = Callable[[duckdb.DuckDBPyConnection, str, list[InputFile]], tuple[list[Outcome], list[InputFile]]]
# DuckDB's CSV errors say "CSV Error on Line: 3"; our own say "line 1:"
_LINE = re.compile(r"\bline:?\s+(\d+)", re.IGNORECASE)


@dataclass
class SyncReport:
    table: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)  # file -> reason
    unchanged: int = 0
    rows_added: int = 0
    total_rows: int = 0
    files: int = 0
    conversions: list[dict] = field(default_factory=list)  # per converted file: rows, seconds, rows/s, bytes
    superseded: dict[str, int] = field(default_factory=dict)  # file -> rows left out for another file's


def _reason(exc: BaseException, f: InputFile) -> str:
    """The error text without the file path prefix (the quarantine row has its own file column)."""
    text = str(exc).strip()
    prefix = f"{f.path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def sync_raw_table(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, str],
    files: list[InputFile],
    select_for: Callable[[InputFile], str],
    validate: Callable[[duckdb.DuckDBPyConnection, InputFile], None] | None = None,
    row_rule: str | None = None,
    year_of_row: str | None = None,
    read_together: ReadTogether | None = None,
) -> SyncReport:
    """Bring ``table`` in line with ``files``.

    ``select_for(file)`` returns a SELECT yielding the data ``columns`` plus
    ``_line`` and ``release``; ``validate`` may raise InputError before any row
    of the file is inserted (envelope errors, truncated pages). ``row_rule`` is
    a SQL expression over the raw columns giving, for a bad row, the reason
    (NULL when fine); it runs on the file's freshly inserted rows, so the file
    is not parsed twice, and the first bad row quarantines the file. ``year_of_row`` (SQL
    over the raw columns) gives the years each file holds, recorded in the ledger: the
    incremental rebuilds downstream (pipeline/incremental.py) redo only those years. ``read_together(conn, table,
    files)`` may read several new files in one pass under the same contract (its outcomes, and the files it leaves
    to be read one by one here).
    """
    schema = table.split(".")[0]
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    ddl = ", ".join(f'"{name}" {dtype}' for name, dtype in {**columns, **META_COLUMNS}.items())
    conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
    conn.execute(_LEDGER_DDL)
    # ledgers written before years were recorded get the column (and their years, below)
    conn.execute(f"ALTER TABLE {LEDGER} ADD COLUMN IF NOT EXISTS years INTEGER[]")
    conn.execute(_QUARANTINE_DDL)

    seen = dict(conn.execute(f"SELECT file, sha256 FROM {LEDGER} WHERE table_name = ?", [table]).fetchall())
    current = {f.label: f for f in files}
    stale = [label for label, sha in seen.items() if label not in current or current[label].sha256 != sha]
    fresh = [f for f in files if seen.get(f.label) != f.sha256]
    report = SyncReport(table=table, removed=stale, unchanged=len(files) - len(fresh), files=len(files))

    conn.begin()
    try:
        # old quarantine entries of this table are re-decided below: a file that reads now leaves it
        conn.execute(f"DELETE FROM {QUARANTINE} WHERE table_name = ?", [table])
        if stale:
            conn.execute(f"DELETE FROM {table} WHERE _file IN (SELECT unnest(?))", [stale])
            conn.execute(f"DELETE FROM {LEDGER} WHERE table_name = ? AND file IN (SELECT unnest(?))", [table, stale])
        conn.commit()
    except BaseException:
        conn.rollback()
        raise

    # Files are read side by side, each on its own cursor and in its own transaction: one gzip
    # file is parsed by one thread, and appends to the same table never conflict in DuckDB.
    workers = max(1, min(len(fresh), os.cpu_count() or 1, MAX_PARALLEL_FILES))

    def read_one(f: InputFile) -> tuple[InputFile, int | None, str | None]:
        cur = conn.cursor()
        try:
            return (f, *_read_file(cur, table, f, select_for, validate, row_rule))
        finally:
            cur.close()

    together, alone = read_together(conn, table, fresh) if read_together is not None and fresh else ([], fresh)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = together + list(pool.map(read_one, alone))
    order = {f.label: i for i, f in enumerate(fresh)}
    for f, inserted, reason in sorted(outcomes, key=lambda o: order[o[0].label]):
        if reason is not None:
            report.quarantined[f.label] = reason
        else:
            report.added.append(f.label)
            report.rows_added += inserted
    if year_of_row is not None:
        _record_years(conn, table, year_of_row)
    report.total_rows = conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return report


def quarantine(conn: duckdb.DuckDBPyConnection, table: str, f: InputFile, reason: str) -> None:
    """Record that ``f`` could not be read into ``table``: file, line (when the reason names one) and reason."""
    line = _LINE.search(reason)
    conn.execute(f"INSERT INTO {QUARANTINE} VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
                 [table, f.label, str(f.path), int(line.group(1)) if line else None, reason])


def record_ingested(cur: duckdb.DuckDBPyConnection, table: str, read: list[tuple[InputFile, int]]) -> None:
    """The ledger rows of files read whole into ``table``, ``(file, rows)`` each, in one statement (inside the
    transaction that inserted their rows)."""
    if not read:
        return
    files = [f for f, _ in read]
    cur.execute(
        f"INSERT INTO {LEDGER} (table_name, file, path, format, sha256, size_bytes, rows, release, synthetic, "
        "ingested_at) SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
        "unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[]), "
        "unnest(?::BOOLEAN[]), now()::TIMESTAMP",
        [table, [f.label for f in files], [str(f.path) for f in files], [f.fmt for f in files],
         [f.sha256 for f in files], [f.size for f in files], [rows for _, rows in read],
         [f.release for f in files], [f.synthetic for f in files]],
    )


def _read_file(cur: duckdb.DuckDBPyConnection, table: str, f: InputFile, select_for, validate,
               row_rule: str | None) -> tuple[int | None, str | None]:
    """One file into ``table`` in one transaction: (rows inserted, None), or (None, reason) once quarantined."""
    cur.begin()
    try:
        if validate is not None:
            validate(cur, f)
        try:
            inserted = cur.execute(
                f"INSERT INTO {table} BY NAME SELECT s.*, ?::VARCHAR AS _file, ?::BOOLEAN AS synthetic "
                f"FROM ({select_for(f)}) s",
                [f.label, f.synthetic],
            ).fetchall()[0][0]
        except duckdb.Error as exc:
            raise InputError(f"{f.path}: {exc}") from exc
        if row_rule is not None:
            bad = cur.execute(
                f"SELECT _line, reason FROM (SELECT _line, ({row_rule}) AS reason FROM {table} WHERE _file = ?) "
                "WHERE reason IS NOT NULL ORDER BY _line LIMIT 1", [f.label]).fetchall()
            if bad:
                raise InputError(f"{f.path}: line {bad[0][0]}: {bad[0][1]}")
        record_ingested(cur, table, [(f, inserted)])
        cur.commit()
        return inserted, None
    except InputError as exc:
        cur.rollback()
        reason = _reason(exc, f)
        quarantine(cur, table, f, reason)
        return None, reason
    except BaseException:
        cur.rollback()
        raise


def _record_years(conn: duckdb.DuckDBPyConnection, table: str, year_of_row: str) -> None:
    """The years of every ledger file that has none recorded yet (new files, or an older ledger)."""
    conn.execute(
        f"UPDATE {LEDGER} AS l SET years = y.years FROM ("
        f"  SELECT _file, list(DISTINCT y ORDER BY y) FILTER (WHERE y IS NOT NULL) AS years"
        f"  FROM (SELECT _file, ({year_of_row}) AS y FROM {table}"
        f"        WHERE _file IN (SELECT file FROM {LEDGER} WHERE table_name = ? AND years IS NULL))"
        f"  GROUP BY _file) AS y "
        f"WHERE l.table_name = ? AND l.years IS NULL AND l.file = y._file",
        [table, table])
    # a file that gave no row holds no year
    conn.execute(f"UPDATE {LEDGER} SET years = [] WHERE table_name = ? AND years IS NULL", [table])
