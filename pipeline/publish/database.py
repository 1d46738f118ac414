"""The analysts' file, ``geomonitor.duckdb``: written under a temporary name, then described.

On a rerun only the years of year-partitioned tables whose build changed are written
again into a copy of the published file (``reusable_years``, recorded per publication
in the working database by ``record_published_years``); everything else is written whole.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from pipeline import catalog
from pipeline.analyst_views import create_analyst_views, domains_sql
from pipeline.incremental import STATE as BUILD_STATE, table_exists
from pipeline.io import sql_string
from pipeline.paths import DataPaths

# in the working database: which build of each year the published geomonitor.duckdb holds
PUBLISHED_YEARS = "meta.published_years"
# The storage format the analysts' file is written in: the oldest that holds the tables, so that DuckDB 1.1 and
# every later CLI or library opens it (DuckDB 2.0's own default is readable only by 2.0).
STORAGE_VERSION = "v1.1.0"
# tables the publication makes itself (not in the working database): name -> query
DERIVED_TABLES = {"reference.domains": domains_sql()}
DERIVED_DESCRIPTIONS = {
    "reference.domains": "Strategic domains (slug as in the monitor tables' domain column) and their readable label.",
}


def storage_format(path: Path) -> int | None:
    """The storage format number in a DuckDB file's header (64 = v1.0/v1.1 ... ); None if not a DuckDB file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[8:12] != b"DUCK":
        return None
    return struct.unpack("<Q", head[12:20])[0]


def expected_storage_format(storage_version: str) -> int | None:
    """The header number a file written with ``storage_version`` gets from this DuckDB."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.duckdb"
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {sql_string(probe)} AS probe (STORAGE_VERSION {sql_string(storage_version)})")
            con.execute("CREATE TABLE probe.t AS SELECT 1 AS x")
            con.execute("DETACH probe")
        finally:
            con.close()
        return storage_format(probe)


def current_database(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute("SELECT current_database()").fetchall()[0][0]


def reusable_years(conn: duckdb.DuckDBPyConnection, paths: DataPaths,
                   storage_version: str = STORAGE_VERSION) -> dict[str, set[int]] | None:
    """Years of year-partitioned tables that the published file already holds exactly as built now.

    Known from what was recorded when that file was published (the per-year fingerprints of
    pipeline/incremental.py); None, for a complete rewrite, unless the published file is the
    one that record describes, and written in the storage version asked for now.
    """
    if not paths.published_db.exists() or not table_exists(conn, PUBLISHED_YEARS):
        return None
    if storage_format(paths.published_db) != expected_storage_format(storage_version):
        return None  # another storage format: written whole in the one asked for
    recorded = conn.execute(f"SELECT table_name, year, output_fp, snapshot_id FROM {PUBLISHED_YEARS}").fetchall()
    try:
        with duckdb.connect(str(paths.published_db), read_only=True) as published:
            published_id = published.execute("SELECT snapshot_id FROM meta.publication").fetchall()[0][0]
    except (duckdb.Error, IndexError):
        return None
    if not recorded or {snapshot for *_, snapshot in recorded} != {published_id}:
        return None
    current = {(t, y): fp for t, y, fp in conn.execute(
        f"SELECT table_name, year, output_fp FROM {BUILD_STATE} WHERE year IS NOT NULL").fetchall()}
    reusable: dict[str, set[int]] = {}
    for table, year, fp, _ in recorded:
        if current.get((table, year)) == fp:
            reusable.setdefault(table, set()).add(year)
    return reusable


def record_published_years(conn: duckdb.DuckDBPyConnection, snapshot_id: str, tables: list[str]) -> None:
    """After the swap: which build of each year the published file now holds."""
    conn.execute(f"CREATE OR REPLACE TABLE {PUBLISHED_YEARS} AS SELECT table_name, year, output_fp, "
                 f"?::VARCHAR AS snapshot_id FROM {BUILD_STATE} WHERE year IS NOT NULL AND table_name IN "
                 "(SELECT unnest(?::VARCHAR[]))", [snapshot_id, tables])


def _columns(conn: duckdb.DuckDBPyConnection, database: str, table: str) -> list[tuple]:
    schema, name = table.split(".")
    return conn.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
                        "AND schema_name = ? AND table_name = ? ORDER BY column_index",
                        [database, schema, name]).fetchall()


def write_database(conn: duckdb.DuckDBPyConnection, target: Path, tables: list[str], manifest: dict,
                   reusable: dict[str, set[int]] | None, previous: Path,
                   storage_version: str = STORAGE_VERSION) -> dict[str, str]:
    """The analysts' file under ``target``: a fresh file, or (``reusable`` known) a copy of the
    published one in which only the years and tables that changed are written again. The
    published file itself is never opened for writing; readers keep it until the swap."""
    if reusable is not None:
        shutil.copyfile(previous, target)
    # One DuckDB thread and no FSST while the file is written (reset afterwards): a parallel CREATE TABLE AS
    # leaves partial row groups that the checkpoint then rewrites (the flows' 916k rows of the embedded
    # default: 2.6-2.8 CPU-s and 28.8 MB; one thread 1.9-2.2 CPU-s and 20.5 MB), and FSST's sampling cost
    # 0.3-0.4 CPU-s more for the same size (dictionary compression holds these low-cardinality codes; both
    # read by DuckDB 1.x). The Parquet snapshot is written meanwhile on its own connection, on the other core.
    saved = conn.execute("SELECT name, value FROM duckdb_settings() "
                         "WHERE name IN ('threads', 'disabled_compression_methods')").fetchall()
    conn.execute("SET threads = 1")
    conn.execute("SET disabled_compression_methods = 'fsst'")
    try:
        return _write_database(conn, target, tables, manifest, reusable, storage_version)
    finally:
        for name, value in saved:
            conn.execute(f"SET {name} = {sql_string(value)}")


def _write_database(conn: duckdb.DuckDBPyConnection, target: Path, tables: list[str], manifest: dict,
                    reusable: dict[str, set[int]] | None, storage_version: str) -> dict[str, str]:
    conn.execute(f"ATTACH {sql_string(target)} AS publication (STORAGE_VERSION {sql_string(storage_version)})")
    writes: dict[str, str] = {}
    try:
        current = current_database(conn)
        for schema, name in conn.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'publication'"
        ).fetchall():
            if f"{schema}.{name}" not in tables and schema != "meta":
                conn.execute(f"DROP TABLE publication.{schema}.{name}")  # no longer published
        for schema in sorted({table.split(".")[0] for table in tables}):
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS publication.{schema}")
        # the largest table (the flows) on a connection of its own, beside the others: DuckDB appends to two
        # tables of one file at once, and this file is written on one DuckDB thread (write_database)
        sizes = dict(conn.execute("SELECT schema_name || '.' || table_name, estimated_size FROM duckdb_tables() "
                                  "WHERE database_name = current_database()").fetchall())
        largest = max((t for t in tables if t not in DERIVED_TABLES), key=lambda t: sizes.get(t, 0), default=None)
        cursor = conn.cursor()
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish-largest") as side:
                big = side.submit(_write_table, cursor, largest, current, reusable) if largest else None
                done = {t: _write_table(conn, t, current, reusable) for t in tables if t != largest}
            if big is not None:  # leaving the block waited for it
                done[largest] = big.result()
        finally:
            cursor.close()
        writes.update((t, done[t]) for t in tables)
        conn.execute("CREATE SCHEMA IF NOT EXISTS publication.meta")
        conn.execute(
            "CREATE OR REPLACE TABLE publication.meta.publication AS SELECT ? AS snapshot_id, ?::TIMESTAMPTZ AS published_at, "
            "? AS code_version, ? AS synthetic, ? AS synthetic_note, ? AS attribution",
            [manifest["snapshot_id"], manifest["created_at"], manifest["code_version"], manifest["synthetic"],
             manifest["synthetic_note"], manifest["attribution"]],
        )
        conn.execute('CREATE OR REPLACE TABLE publication.meta.sources (source VARCHAR, "table" VARCHAR, release VARCHAR, '
                     'synthetic BOOLEAN, files BIGINT, "rows" BIGINT)')
        if manifest["sources"]:
            conn.executemany(
                "INSERT INTO publication.meta.sources VALUES (?, ?, ?, ?, ?, ?)",
                [[s["source"], s["table"], s["release"], s["synthetic"], s["files"], s["rows"]]
                 for s in manifest["sources"]],
            )
        conn.execute("CREATE OR REPLACE TABLE publication.meta.parameters (name VARCHAR, value DOUBLE)")
        if manifest["parameters"]:
            conn.executemany("INSERT INTO publication.meta.parameters VALUES (?, ?)",
                             [[k, float(v)] for k, v in sorted(manifest["parameters"].items())])
        conn.execute('CREATE OR REPLACE TABLE publication.meta.quarantine ("table" VARCHAR, file VARCHAR, line BIGINT, '
                     'reason VARCHAR)')
        if manifest["quarantine"]:
            conn.executemany("INSERT INTO publication.meta.quarantine VALUES (?, ?, ?, ?)",
                             [[q["table"], q["file"], q["line"], q["reason"]] for q in manifest["quarantine"]])
        conn.execute('CREATE OR REPLACE TABLE publication.meta.latest_complete_year (source VARCHAR, '
                     'latest_complete_year INTEGER, reporters_checked VARCHAR, years_published INTEGER[])')
        if manifest.get("latest_complete_year"):
            conn.executemany("INSERT INTO publication.meta.latest_complete_year VALUES (?, ?, ?, ?)",
                             [[r["source"], r["latest_complete_year"], r["reporters_checked"], r["years_published"]]
                              for r in manifest["latest_complete_year"]])
        conn.execute("CHECKPOINT publication")
    finally:
        conn.execute("DETACH publication")
    return writes


def _write_table(conn: duckdb.DuckDBPyConnection, table: str, current: str,
                 reusable: dict[str, set[int]] | None) -> str:
    """One table into the attached ``publication``: whole, or (a year-partitioned table whose years the file
    holds) only its changed or gone years; returns what was written."""
    keep = (reusable or {}).get(table)
    if table in DERIVED_TABLES:
        conn.execute(f"CREATE OR REPLACE TABLE publication.{table} AS {DERIVED_TABLES[table]}")
        return "written whole"
    if keep and _columns(conn, "publication", table) == _columns(conn, current, table):
        kept = ", ".join(str(int(y)) for y in sorted(keep))
        conn.execute(f"DELETE FROM publication.{table} WHERE year NOT IN ({kept})")
        conn.execute(f"INSERT INTO publication.{table} SELECT * FROM {table} WHERE year NOT IN ({kept})")
        rewritten = conn.execute(f"SELECT list(DISTINCT year ORDER BY year) FROM {table} "
                                 f"WHERE year NOT IN ({kept})").fetchall()[0][0]
        return f"years written: {rewritten or []}, kept: {len(keep)}"
    conn.execute(f"CREATE OR REPLACE TABLE publication.{table} AS SELECT * FROM {table}")
    return "written whole"


def describe_database(target: Path, tables: list[str], descriptions: dict) -> None:
    """Table and column comments, the analysts' views and the per-table build record, in the file itself.

    Done on a connection of the new file alone, so that the views' table names
    resolve inside the published file, not in the working database.
    """
    con = duckdb.connect(str(target))
    try:
        # One transaction, and the row counts and comments each as one statement batch: a thousand COMMENT
        # statements each committed on their own took seconds, each executed on its own 0.3-0.4 CPU-s
        con.execute("BEGIN TRANSACTION")
        built_at = con.execute("SELECT published_at FROM meta.publication").fetchall()[0][0]
        con.execute("CREATE OR REPLACE TABLE meta.tables (\"table\" VARCHAR, description VARCHAR, \"rows\" BIGINT, "
                    "built_at TIMESTAMPTZ)")
        if tables:
            counts = con.execute("SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in tables)
                                 ).fetchall()[0]
            con.execute("INSERT INTO meta.tables VALUES " + ", ".join(["(?, ?, ?, ?)"] * len(tables)),
                        [value for table, rows in zip(tables, counts)
                         for value in (table, descriptions.get(table, ""), rows, built_at)])
        view_descriptions = create_analyst_views(con)
        comments = []
        for schema, name, kind in con.execute(
            "SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT schema_name, view_name, 'VIEW' FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal"
        ).fetchall():
            text = descriptions.get(f"{schema}.{name}") or view_descriptions.get(f"{schema}.{name}") \
                or META_DESCRIPTIONS.get(f"{schema}.{name}", "") or DERIVED_DESCRIPTIONS.get(f"{schema}.{name}", "")
            if text:
                comments.append(f"COMMENT ON {kind} {schema}.{name} IS {sql_string(text)}")
        # a meaning that names a threshold states the value this publication used (meta.parameters)
        parameters = dict(con.execute("SELECT name, value FROM meta.parameters").fetchall())
        for schema, name, column in con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database()"
        ).fetchall():
            text = catalog.describe(column, f"{schema}.{name}", parameters)
            if text:
                comments.append(f'COMMENT ON COLUMN {schema}.{name}."{column}" IS {sql_string(text)}')
        if comments:
            con.execute(";\n".join(comments))
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()


META_DESCRIPTIONS = {
    "meta.publication": "This publication: snapshot id, build time, code version, synthetic flag, attribution.",
    "meta.sources": "Input files per source and release that this publication was computed from.",
    "meta.parameters": "Thresholds and parameters the screens used.",
    "meta.tables": "Every published table with its description, row count and build time.",
    "meta.quarantine": "Input files left out of this publication (file, line, reason); empty normally.",
    "meta.latest_complete_year": ("Per source, the latest year in which every reporter that matters (NLD, and the "
                                  "EU27 bloc complete: 27 members with 12 months) has 12 months of data."),
}

LATEST_COMPLETE_YEAR = """
WITH matters AS (  -- the reporters that matter, of those the source has at all: NLD and the EU27 bloc
    SELECT source, year, reporter,
           bool_and(CASE WHEN reporter = 'EU27' THEN coalesce(bloc_complete, false) AND months_covered = 12
                         ELSE months_covered = 12 END) AS complete
    FROM monitor.import_concentration
    WHERE reporter IN ('NLD', 'EU27')
    GROUP BY ALL
),
wanted AS (
    SELECT source, count(DISTINCT reporter) AS n, string_agg(DISTINCT reporter, ', ' ORDER BY reporter) AS names
    FROM matters GROUP BY source
),
per_year AS (
    SELECT c.source, c.year, count(*) FILTER (WHERE m.complete) AS n_complete
    FROM (SELECT DISTINCT source, year FROM monitor.import_concentration) AS c
    LEFT JOIN matters AS m USING (source, year)
    GROUP BY ALL
)
SELECT p.source, max(p.year) FILTER (WHERE p.n_complete = w.n AND w.n > 0)::INTEGER AS latest_complete_year,
       coalesce(any_value(w.names), 'none (no NLD or EU27 rows)') || ': 12 months each (EU27: all 27 members)'
           AS reporters_checked,
       list(p.year::INTEGER ORDER BY p.year) AS years_published
FROM per_year AS p LEFT JOIN wanted AS w USING (source)
GROUP BY p.source ORDER BY p.source
"""


def latest_complete_years(conn: duckdb.DuckDBPyConnection) -> list[dict]:
    """meta.latest_complete_year, from the working database's import concentration (empty without it)."""
    if not table_exists(conn, "monitor.import_concentration"):
        return []
    return [{"source": s, "latest_complete_year": y, "reporters_checked": r, "years_published": list(ys)}
            for s, y, r, ys in conn.execute(LATEST_COMPLETE_YEAR).fetchall()]
