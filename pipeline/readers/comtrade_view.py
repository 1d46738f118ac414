"""Keep ``raw.comtrade_records`` in step with the Comtrade files: a view over one typed Parquet file each.

The contract is raw_store's (a file is read whole or not at all; a new or changed file, by
sha256, is read again, an unchanged one costs nothing, a file that disappears takes its rows
with it; what cannot be read goes to ``raw.quarantine`` with file, line and reason, and is
tried again on the next run), but the rows never enter the DuckDB file: each input file is
converted once to Parquet (:mod:`pipeline.readers.comtrade_parquet`), and the raw table is a
view over the current files' conversions, with ``_file``, ``release`` and ``synthetic`` from
the ledger (``raw.ingested_files``, which also records the Parquet file and the years).

Copying nine million records into a table would cost as much again as converting them, and
every year-narrowed read downstream skips whole files through the Parquet statistics.

Precedence: ``raw.comtrade_coverage`` holds the rows per frequency, reporter, year and flow of
each file. Where a bulk file covers a key that API pages also cover, the pages' rows for that
key are left out of the view (``superseded_by`` names the bulk file) and the ledger's ``rows``
counts what each file contributes, so ``sum(rows)`` is always the view's row count.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from pipeline.io import sql_string
from pipeline.readers import comtrade
from pipeline.readers.comtrade_parquet import Conversion, cache_name, cached_conversion
from pipeline.readers.inputs import InputError, InputFile
from pipeline.readers.parquet_cache import prune
from pipeline.readers.raw_store import (
    _LEDGER_DDL,
    _QUARANTINE_DDL,
    LEDGER,
    MAX_PARALLEL_FILES,
    QUARANTINE,
    SyncReport,
    _reason,
    quarantine,
)

COVERAGE = "raw.comtrade_coverage"
_COVERAGE_DDL = f"""
CREATE TABLE IF NOT EXISTS {COVERAGE} (
    file VARCHAR, format VARCHAR, freqCode VARCHAR, reporterCode INTEGER, refYear INTEGER, flowCode VARCHAR,
    rows BIGINT, superseded_by VARCHAR
)"""
_KEY_MATCH = " AND ".join(f"c.{k} IS NOT DISTINCT FROM p.{k}" for k in comtrade.COVERAGE_KEY)


def _prepare(conn: duckdb.DuckDBPyConnection) -> None:
    table = comtrade.TABLE
    conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
    conn.execute(_LEDGER_DDL)
    conn.execute(f"ALTER TABLE {LEDGER} ADD COLUMN IF NOT EXISTS years INTEGER[]")
    conn.execute(f"ALTER TABLE {LEDGER} ADD COLUMN IF NOT EXISTS parquet VARCHAR")
    conn.execute(_QUARANTINE_DDL)
    conn.execute(_COVERAGE_DDL)
    schema, name = table.split(".")
    is_table = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? "
        "AND table_name = ?", [schema, name]).fetchall()[0][0]
    if is_table:
        # a warehouse from before the Parquet conversion: its files are converted again (same rows, same
        # ledger fingerprints, so nothing downstream is rebuilt for it)
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"DELETE FROM {LEDGER} WHERE table_name = ?", [table])


def sync_comtrade_view(conn: duckdb.DuckDBPyConnection, files: list[InputFile], folder: Path) -> SyncReport:
    """Bring ``raw.comtrade_records`` in line with ``files``, converting new or changed ones into ``folder``."""
    table = comtrade.TABLE
    _prepare(conn)
    seen = {file: (sha, parquet) for file, sha, parquet in conn.execute(
        f"SELECT file, sha256, parquet FROM {LEDGER} WHERE table_name = ?", [table]).fetchall()}

    def held(f: InputFile) -> bool:
        sha, parquet = seen.get(f.label, (None, None))
        # the current converter's file: a new PARQUET_VERSION (other columns or checks) converts every file
        # again; the content and its sha256 are the same, so nothing downstream is rebuilt for it
        return (sha == f.sha256 and bool(parquet) and Path(parquet).name == f"{cache_name(f)}.parquet"
                and Path(parquet).exists())

    current = {f.label for f in files}
    fresh = [f for f in files if not held(f)]
    fresh_labels = {f.label for f in fresh}
    stale = [label for label in seen if label not in current or label in fresh_labels]
    sha_now = {f.label: f.sha256 for f in files}
    report = SyncReport(table=table, removed=[label for label, (sha, _) in seen.items() if sha_now.get(label) != sha],
                        unchanged=len(files) - len(fresh), files=len(files))

    conn.begin()
    try:
        conn.execute(f"DELETE FROM {QUARANTINE} WHERE table_name = ?", [table])
        if stale:
            conn.execute(f"DELETE FROM {LEDGER} WHERE table_name = ? AND file IN (SELECT unnest(?))", [table, stale])
        conn.execute(f"DELETE FROM {COVERAGE} WHERE file NOT IN "
                     f"(SELECT file FROM {LEDGER} WHERE table_name = ?)", [table])
        conn.commit()
    except BaseException:
        conn.rollback()
        raise

    # one file is parsed by one thread (gzip is sequential), so files are converted side by side
    workers = max(1, min(len(fresh), os.cpu_count() or 1, MAX_PARALLEL_FILES))

    def convert_one(f: InputFile) -> tuple[InputFile, Conversion | None, str | None]:
        cur = conn.cursor()
        try:
            return f, cached_conversion(f, folder, cur), None
        except InputError as exc:
            return f, None, _reason(exc, f)
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(convert_one, fresh))

    conn.begin()
    try:
        for f, conversion, reason in outcomes:
            if reason is not None:
                quarantine(conn, table, f, reason)
                report.quarantined[f.label] = reason
                continue
            conn.execute(
                f"INSERT INTO {LEDGER} (table_name, file, path, format, sha256, size_bytes, rows, release, synthetic, "
                "ingested_at, years, parquet) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?)",
                [table, f.label, str(f.path), f.fmt, f.sha256, f.size, conversion.rows, f.release, f.synthetic,
                 conversion.years, conversion.parquet])
            if conversion.coverage:
                conn.executemany(f"INSERT INTO {COVERAGE} VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                                 [[f.label, f.fmt, *row] for row in conversion.coverage])
            report.added.append(f.label)
            report.rows_added += conversion.rows
            report.conversions.append({"file": f.label, **conversion.as_metadata()})
        report.superseded = _apply_precedence(conn)
        _create_view(conn)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    parquets = [p for (p,) in conn.execute(
        f"SELECT parquet FROM {LEDGER} WHERE table_name = ?", [table]).fetchall()]
    prune(folder, {Path(p).stem for p in parquets})
    report.total_rows = conn.execute(
        f"SELECT coalesce(sum(rows), 0)::BIGINT FROM {LEDGER} WHERE table_name = ?", [table]).fetchall()[0][0]
    return report


def _apply_precedence(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Mark API-page keys a bulk file covers, and set each file's ledger rows to what it contributes.
    Returns {page file: rows left out} for the pages that lost rows."""
    keys = " AND ".join(f"b.{k} IS NOT DISTINCT FROM c.{k}" for k in comtrade.COVERAGE_KEY)
    conn.execute(f"""
        UPDATE {COVERAGE} AS c SET superseded_by = (
            SELECT min(b.file) FROM {COVERAGE} AS b
            WHERE b.format = {sql_string(comtrade.SUPERSEDING_FORMAT)} AND {keys})
        WHERE c.format <> {sql_string(comtrade.SUPERSEDING_FORMAT)}""")
    conn.execute(f"""
        UPDATE {LEDGER} AS l SET rows = s.kept FROM (
            SELECT file, sum(rows) FILTER (WHERE superseded_by IS NULL)::BIGINT AS kept FROM {COVERAGE} GROUP BY file
        ) AS s WHERE l.table_name = ? AND l.file = s.file""", [comtrade.TABLE])
    conn.execute(f"UPDATE {LEDGER} SET rows = 0 WHERE table_name = ? AND rows IS NULL", [comtrade.TABLE])
    return dict(conn.execute(
        f"SELECT file, sum(rows)::BIGINT FROM {COVERAGE} WHERE superseded_by IS NOT NULL GROUP BY file ORDER BY file"
    ).fetchall())


def _create_view(conn: duckdb.DuckDBPyConnection) -> None:
    table = comtrade.TABLE
    cols = ", ".join(f'p."{c}"' for c in comtrade.COLUMNS)
    parquets = sorted({p for (p,) in conn.execute(
        f"SELECT parquet FROM {LEDGER} WHERE table_name = ?", [table]).fetchall()})
    if not parquets:
        empty = ", ".join(f'NULL::{t} AS "{c}"' for c, t in comtrade.COLUMNS.items())
        body = (f"SELECT {empty}, NULL::VARCHAR AS _file, NULL::BIGINT AS _line, NULL::VARCHAR AS release, "
                "NULL::BOOLEAN AS synthetic WHERE false")
    else:
        files = "[" + ", ".join(sql_string(p) for p in parquets) + "]"
        superseded = conn.execute(f"SELECT count(*) FROM {COVERAGE} WHERE superseded_by IS NOT NULL").fetchall()[0][0]
        # only when some page lost keys to a bulk file: the anti-join then runs on those pages' rows alone
        where = (f"WHERE NOT EXISTS (SELECT 1 FROM {COVERAGE} AS c WHERE c.file = l.file "
                 f"AND c.superseded_by IS NOT NULL AND {_KEY_MATCH})") if superseded else ""
        body = (f"SELECT {cols}, l.file AS _file, p._line, l.release, l.synthetic "
                f"FROM read_parquet({files}, filename = true) AS p "
                f"JOIN {LEDGER} AS l ON l.table_name = {sql_string(table)} AND l.parquet = p.filename {where}")
    conn.execute(f"CREATE OR REPLACE VIEW {table} AS {body}")
