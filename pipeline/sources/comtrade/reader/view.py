"""Keep ``raw.comtrade_records`` in step with the Comtrade files: a view over their typed Parquet conversions.

The contract is raw_store's (a file is read whole or not at all; a new or changed file, by
sha256, is read again, an unchanged one costs nothing, a file that disappears takes its rows
with it; what cannot be read goes to ``raw.quarantine`` with file, line and reason, and is
tried again on the next run), but the rows never enter the DuckDB file: each input file is
converted once to Parquet (:mod:`pipeline.sources.comtrade.reader.parquet`: a bulk file to its own
file, the new API pages of a run together to one file, each row marked with its page's key),
and the raw table is a view over the current files' conversions, with ``_file``, ``release``
and ``synthetic`` from the ledger (``raw.ingested_files``, which also records the Parquet file,
the page's ``part`` of it and the years). A changed page's old rows stay in its first batch's
file while other pages of that batch are current; the view joins on the part, so they are not
read as current, and the file goes once no current page is in it.

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
from pipeline.sources.comtrade import reader as comtrade
from pipeline.sources.comtrade.reader.parquet import (Conversion, cache_name, cached_conversion, convert_pages,
                                                      held_conversion, page_batches)

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
    # a page's rows in a batch's Parquet file (their _part); NULL where the file is the input's own
    conn.execute(f"ALTER TABLE {LEDGER} ADD COLUMN IF NOT EXISTS part VARCHAR")
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
    seen = {file: (sha, parquet, part) for file, sha, parquet, part in conn.execute(
        f"SELECT file, sha256, parquet, part FROM {LEDGER} WHERE table_name = ?", [table]).fetchall()}

    def held(f: InputFile) -> bool:
        sha, parquet, part = seen.get(f.label, (None, None, None))
        # the current converter's file: a new PARQUET_VERSION (other columns or checks) converts every file
        # again; the content and its sha256 are the same, so nothing downstream is rebuilt for it
        return (sha == f.sha256 and bool(parquet) and (part or Path(parquet).stem) == cache_name(f)
                and Path(parquet).exists())

    current = {f.label for f in files}
    fresh = [f for f in files if not held(f)]
    fresh_labels = {f.label for f in fresh}
    stale = [label for label in seen if label not in current or label in fresh_labels]
    sha_now = {f.label: f.sha256 for f in files}
    report = SyncReport(table=table, removed=[label for label, (sha, *_) in seen.items() if sha_now.get(label) != sha],
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

    conversions, reasons = _convert(conn, fresh, folder)
    conn.begin()
    try:
        added = [f for f in fresh if f.label in conversions]
        for f in fresh:
            if f.label in reasons:
                quarantine(conn, table, f, reasons[f.label])
                report.quarantined[f.label] = reasons[f.label]
        _record(conn, added, conversions)
        for f in added:
            report.added.append(f.label)
            report.rows_added += conversions[f.label].rows
            report.conversions.append({"file": f.label, **conversions[f.label].as_metadata()})
        report.superseded = _apply_precedence(conn)
        _create_view(conn)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    kept = conn.execute(f"SELECT parquet, part FROM {LEDGER} WHERE table_name = ?", [table]).fetchall()
    prune(folder, {Path(p).stem for p, _ in kept} | {part for _, part in kept if part})
    report.total_rows = conn.execute(
        f"SELECT coalesce(sum(rows), 0)::BIGINT FROM {LEDGER} WHERE table_name = ?", [table]).fetchall()[0][0]
    return report


def _convert(conn: duckdb.DuckDBPyConnection, fresh: list[InputFile], folder: Path
             ) -> tuple[dict[str, Conversion], dict[str, str]]:
    """Conversions of the fresh files ({label: conversion}) and why the others cannot be read ({label: reason}):
    cached ones from their reports, bulk files one by one, API pages in batches, side by side."""
    conversions: dict[str, Conversion] = {}
    reasons: dict[str, str] = {}
    todo = []
    for f in fresh:
        hit = held_conversion(f, folder)
        if hit is not None:
            conversions[f.label] = hit
        else:
            todo.append(f)
    # one bulk file is parsed by one thread (gzip is sequential), so bulk files are converted side by side; the
    # pages' batches are one task, batch after batch (DuckDB reads a batch's pages in parallel itself, and one
    # batch at a time bounds the memory they take)
    pages = [f for f in todo if f.fmt == "api_json"]
    tasks: list[list[InputFile]] = ([pages] if pages else []) + [[f] for f in todo if f.fmt != "api_json"]
    workers = max(1, min(len(tasks), os.cpu_count() or 1, MAX_PARALLEL_FILES))

    def run(task: list[InputFile]) -> tuple[dict[str, Conversion], dict[str, str]]:
        cur = conn.cursor()
        try:
            if task[0].fmt == "api_json":
                done: dict[str, Conversion] = {}
                failed: dict[str, str] = {}
                for batch in page_batches(task):
                    converted, refused = convert_pages(batch, folder, cur)
                    done.update(converted)
                    failed.update(refused)
                return done, failed
            f = task[0]
            try:
                return {f.label: cached_conversion(f, folder, cur)}, {}
            except InputError as exc:
                return {}, {f.label: _reason(exc, f)}
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, failed in pool.map(run, tasks):
            conversions.update(done)
            reasons.update(failed)
    return conversions, reasons


def _record(conn: duckdb.DuckDBPyConnection, added: list[InputFile], conversions: dict[str, Conversion]) -> None:
    """The ledger rows and coverage of the converted files, in one statement each."""
    if not added:
        return
    done = [conversions[f.label] for f in added]
    conn.execute(
        f"INSERT INTO {LEDGER} (table_name, file, path, format, sha256, size_bytes, rows, release, synthetic, "
        "ingested_at, years, parquet, part) SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
        "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[]), "
        "unnest(?::BOOLEAN[]), now()::TIMESTAMP, unnest(?::INTEGER[][]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
        [comtrade.TABLE, [f.label for f in added], [str(f.path) for f in added], [f.fmt for f in added],
         [f.sha256 for f in added], [f.size for f in added], [c.rows for c in done], [f.release for f in added],
         [f.synthetic for f in added], [c.years for c in done], [c.parquet for c in done],
         [c.part or None for c in done]])
    coverage = [[f.label, f.fmt, *row] for f, c in zip(added, done) for row in c.coverage]
    if coverage:
        columns = list(zip(*coverage))
        conn.execute(
            f"INSERT INTO {COVERAGE} SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::INTEGER[]), unnest(?::INTEGER[]), unnest(?::VARCHAR[]), unnest(?::BIGINT[]), NULL",
            [list(c) for c in columns])


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
    held = conn.execute(f"SELECT DISTINCT parquet, part IS NOT NULL FROM {LEDGER} WHERE table_name = ?",
                        [table]).fetchall()
    own = sorted(p for p, batched in held if not batched)
    batches = sorted(p for p, batched in held if batched)
    if not held:
        empty = ", ".join(f'NULL::{t} AS "{c}"' for c, t in comtrade.COLUMNS.items())
        body = (f"SELECT {empty}, NULL::VARCHAR AS _file, NULL::BIGINT AS _line, NULL::VARCHAR AS release, "
                "NULL::BOOLEAN AS synthetic WHERE false")
    else:
        superseded = conn.execute(f"SELECT count(*) FROM {COVERAGE} WHERE superseded_by IS NOT NULL").fetchall()[0][0]
        # only when some page lost keys to a bulk file: the anti-join then runs on those pages' rows alone
        where = (f"WHERE NOT EXISTS (SELECT 1 FROM {COVERAGE} AS c WHERE c.file = l.file "
                 f"AND c.superseded_by IS NOT NULL AND {_KEY_MATCH})") if superseded else ""
        scans = []
        # a file's own Parquet file, or a batch's, where each page's rows are those of its part
        for parquets, part in ((own, ""), (batches, " AND l.part = p._part")):
            if parquets:
                files = "[" + ", ".join(sql_string(p) for p in parquets) + "]"
                scans.append(
                    f"SELECT {cols}, l.file AS _file, p._line, l.release, l.synthetic "
                    f"FROM read_parquet({files}, filename = true) AS p "
                    f"JOIN {LEDGER} AS l ON l.table_name = {sql_string(table)} AND l.parquet = p.filename{part} "
                    f"{where}")
        body = "\nUNION ALL\n".join(scans)
    conn.execute(f"CREATE OR REPLACE VIEW {table} AS {body}")
