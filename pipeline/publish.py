"""Publication: build everything users read under temporary names, then swap it in.

Order: the analysts' DuckDB file and the Parquet snapshot are written in full
under temporary names; only then is the DuckDB file renamed over the old one,
the snapshot folder renamed to its id, and ``LATEST`` replaced. Each rename is
atomic, and a failure before them leaves every published byte as it was.
Readers holding the old DuckDB file open keep reading it; new connections see
the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import glossary
from pipeline.analyst_views import VIEW_DESCRIPTIONS, create_analyst_views
from pipeline.incremental import STATE as BUILD_STATE, table_exists
from pipeline.paths import REPO_ROOT, SQL_DIR, DataPaths
from pipeline.readers.inputs import sha256_of
from pipeline.readers.raw_store import sql_string

ROWS_PER_GROUP = 1_000_000  # Parquet row group = Arrow batch written at a time
REPORT_FILE = "report/index.html"  # the HTML report inside a snapshot, listed under the manifest's "files"
SNAPSHOT_ID = re.compile(r"^\d{8}T\d{6}Z(_[A-Za-z0-9]+)?(-\d+)?$")
ATTRIBUTION = (
    "Derived indicators. Sources: Eurostat, Comext (re-use with attribution); UN Comtrade "
    "(subject to the UN Comtrade policy on use and re-dissemination; raw records are not redistributed)."
)


# in the working database: which build of each year the published geomonitor.duckdb holds
PUBLISHED_YEARS = "meta.published_years"


def current_database(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute("SELECT current_database()").fetchall()[0][0]


class SnapshotError(Exception):
    """A snapshot that is missing, malformed or does not match its manifest."""


@dataclass(frozen=True)
class Publication:
    snapshot_id: str
    database: Path
    snapshot_dir: Path
    manifest: dict
    database_writes: dict[str, str]  # per table of the analysts' file: written whole, or which years


def code_version() -> str:
    """The git commit of the code (when run from a checkout) and a hash of all SQL models."""
    sql_hash = hashlib.sha256()
    for path in sorted(SQL_DIR.glob("*/*.sql")):
        sql_hash.update(path.read_bytes())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return f"git:{commit} sql:{sql_hash.hexdigest()[:12]}"


def _new_snapshot_id(paths: DataPaths, vintage: str) -> str:
    """UTC build time first, so ids sort by time; then the data vintage (e.g. data2024)."""
    base = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + (f"_{vintage}" if vintage else "")
    candidate, n = base, 1
    while (paths.snapshots / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _remove_stale_temporaries(paths: DataPaths) -> None:
    """Leftovers of a publish that was killed mid-way; never visible to readers, safe to delete."""
    for leftover in paths.root.glob(".geomonitor.duckdb.tmp-*"):
        leftover.unlink(missing_ok=True)
    if paths.snapshots.is_dir():
        for leftover in paths.snapshots.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in paths.snapshots.glob(".LATEST.tmp-*"):
            leftover.unlink(missing_ok=True)


def publish(
    conn: duckdb.DuckDBPyConnection,
    paths: DataPaths,
    *,
    database_tables: list[str],
    snapshot_tables: list[str],
    sources: list[dict],
    descriptions: dict[str, str] | None = None,
    parameters: dict | None = None,
    vintage: str = "",
    keep: int = 10,
    quarantine: list[dict] | None = None,
) -> Publication:
    """Publish ``database_tables`` to geomonitor.duckdb and ``snapshot_tables`` as a Parquet snapshot.

    ``descriptions`` (table -> text) become table comments, ``parameters`` (the
    thresholds used) go into the manifest, ``keep`` is how many snapshots
    retention keeps besides the pinned ones.
    """
    paths.snapshots.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(paths)
    descriptions = descriptions or {}
    snapshot_id = _new_snapshot_id(paths, vintage)
    tmp_db = paths.root / f".geomonitor.duckdb.tmp-{snapshot_id}"
    tmp_snap = paths.snapshots / f".tmp-{snapshot_id}"
    synthetic = any(s["synthetic"] for s in sources)
    created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        tables_meta = _write_snapshot(conn, tmp_snap, snapshot_tables, descriptions)
        manifest = {
            "snapshot_id": snapshot_id,
            "created_at": created_at,
            "code_version": code_version(),
            "synthetic": synthetic,
            "synthetic_note": "CONTAINS SYNTHETIC DEMO DATA: not real trade figures" if synthetic else "",
            "sources": sources,
            "parameters": parameters or {},
            # input files left out of this publication, and why (empty unless the run accepted them)
            "quarantine": quarantine or [],
            "attribution": ATTRIBUTION,
            "tables": tables_meta,
        }
        reusable = _reusable_years(conn, paths)
        writes = _write_database(conn, tmp_db, database_tables, manifest, reusable, paths.published_db)
        _describe_database(tmp_db, database_tables, descriptions)
        # the report reads the database about to be published; the manifest lists it like a table
        manifest["files"] = _write_report(tmp_db, tmp_snap)
        (tmp_snap / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        # the swap: from here on, each step is a single atomic rename
        os.replace(tmp_db, paths.published_db)
        final_snap = paths.snapshots / snapshot_id
        tmp_snap.rename(final_snap)
        latest_tmp = paths.snapshots / f".LATEST.tmp-{snapshot_id}"
        latest_tmp.write_text(snapshot_id + "\n")
        os.replace(latest_tmp, paths.latest_pointer)
        _record_published_years(conn, snapshot_id, database_tables)
    except BaseException:
        shutil.rmtree(tmp_snap, ignore_errors=True)
        tmp_db.unlink(missing_ok=True)
        Path(str(tmp_db) + ".wal").unlink(missing_ok=True)
        raise
    apply_retention(paths, keep)
    return Publication(snapshot_id, paths.published_db, final_snap, manifest, writes)


def _write_snapshot(conn: duckdb.DuckDBPyConnection, folder: Path, tables: list[str], descriptions: dict) -> dict:
    folder.mkdir(parents=True)
    meta = {}
    for table in tables:
        # sorted rows make the file, and so its checksum, a function of the table's contents
        reader = conn.sql(f"SELECT * FROM {table} ORDER BY ALL").to_arrow_reader(ROWS_PER_GROUP)
        path = folder / f"{table}.parquet"
        with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
            rows = _write_row_groups(reader, writer)
        meta[table] = {
            "file": path.name,
            "description": descriptions.get(table, ""),
            "rows": rows,
            "bytes": path.stat().st_size,
            "sha256": sha256_of(path),
            "schema": [{"name": f.name, "type": str(f.type), "description": glossary.describe(f.name) or ""}
                       for f in reader.schema],
        }
    return meta


def _write_row_groups(reader: pa.RecordBatchReader, writer: pq.ParquetWriter) -> int:
    """Stream ``reader`` into row groups of exactly ROWS_PER_GROUP rows (the last one shorter).

    Only one row group is held outside DuckDB at a time, whatever the table's size. The
    batches DuckDB hands out vary in size, so rows are regrouped and made contiguous before
    writing: the bytes then depend on the rows alone, and reruns give identical files.
    """
    pending, pending_rows, rows = [], 0, 0
    for batch in reader:
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= ROWS_PER_GROUP:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            writer.write_table(table.slice(0, ROWS_PER_GROUP).combine_chunks(), row_group_size=ROWS_PER_GROUP)
            rest = table.slice(ROWS_PER_GROUP)
            pending, pending_rows = rest.to_batches(), rest.num_rows
            rows += ROWS_PER_GROUP
    if pending_rows:
        writer.write_table(pa.Table.from_batches(pending, schema=reader.schema).combine_chunks(),
                           row_group_size=ROWS_PER_GROUP)
        rows += pending_rows
    return rows


def _write_report(database: Path, folder: Path) -> dict:
    """The offline HTML report of this publication, written into the snapshot before the swap."""
    from pipeline.report import write_report  # plotly is imported only when publishing

    result = write_report(database, folder / REPORT_FILE)
    return {REPORT_FILE: {"bytes": result.bytes, "sha256": result.sha256}}


def _reusable_years(conn: duckdb.DuckDBPyConnection, paths: DataPaths) -> dict[str, set[int]] | None:
    """Years of year-partitioned tables that the published file already holds exactly as built now.

    Known from what was recorded when that file was published (the per-year fingerprints of
    pipeline/incremental.py); None, for a complete rewrite, unless the published file is the
    one that record describes.
    """
    if not paths.published_db.exists() or not table_exists(conn, PUBLISHED_YEARS):
        return None
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


def _record_published_years(conn: duckdb.DuckDBPyConnection, snapshot_id: str, tables: list[str]) -> None:
    """After the swap: which build of each year the published file now holds."""
    conn.execute(f"CREATE OR REPLACE TABLE {PUBLISHED_YEARS} AS SELECT table_name, year, output_fp, "
                 f"?::VARCHAR AS snapshot_id FROM {BUILD_STATE} WHERE year IS NOT NULL AND table_name IN "
                 "(SELECT unnest(?::VARCHAR[]))", [snapshot_id, tables])


def _columns(conn: duckdb.DuckDBPyConnection, database: str, table: str) -> list[tuple]:
    schema, name = table.split(".")
    return conn.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
                        "AND schema_name = ? AND table_name = ? ORDER BY column_index",
                        [database, schema, name]).fetchall()


def _write_database(conn: duckdb.DuckDBPyConnection, target: Path, tables: list[str], manifest: dict,
                    reusable: dict[str, set[int]] | None, previous: Path) -> dict[str, str]:
    """The analysts' file under ``target``: a fresh file, or (``reusable`` known) a copy of the
    published one in which only the years and tables that changed are written again. The
    published file itself is never opened for writing; readers keep it until the swap."""
    if reusable is not None:
        shutil.copyfile(previous, target)
    conn.execute(f"ATTACH {sql_string(target)} AS publication")
    writes: dict[str, str] = {}
    try:
        current = current_database(conn)
        for schema, name in conn.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'publication'"
        ).fetchall():
            if f"{schema}.{name}" not in tables and schema != "meta":
                conn.execute(f"DROP TABLE publication.{schema}.{name}")  # no longer published
        for table in tables:
            schema, _ = table.split(".")
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS publication.{schema}")
            keep = (reusable or {}).get(table)
            if keep and _columns(conn, "publication", table) == _columns(conn, current, table):
                # a year-partitioned table: only its changed (or gone) years are written again
                kept = ", ".join(str(int(y)) for y in sorted(keep))
                conn.execute(f"DELETE FROM publication.{table} WHERE year NOT IN ({kept})")
                conn.execute(f"INSERT INTO publication.{table} SELECT * FROM {table} WHERE year NOT IN ({kept})")
                rewritten = conn.execute(f"SELECT list(DISTINCT year ORDER BY year) FROM {table} "
                                         f"WHERE year NOT IN ({kept})").fetchall()[0][0]
                writes[table] = f"years written: {rewritten or []}, kept: {len(keep)}"
            else:
                conn.execute(f"CREATE OR REPLACE TABLE publication.{table} AS SELECT * FROM {table}")
                writes[table] = "written whole"
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
        conn.execute("CHECKPOINT publication")
    finally:
        conn.execute("DETACH publication")
    return writes


def _describe_database(target: Path, tables: list[str], descriptions: dict) -> None:
    """Table and column comments, the analysts' views and the per-table build record, in the file itself.

    Done on a connection of the new file alone, so that the views' table names
    resolve inside the published file, not in the working database.
    """
    con = duckdb.connect(str(target))
    try:
        built_at = con.execute("SELECT published_at FROM meta.publication").fetchall()[0][0]
        con.execute("CREATE OR REPLACE TABLE meta.tables (\"table\" VARCHAR, description VARCHAR, \"rows\" BIGINT, "
                    "built_at TIMESTAMPTZ)")
        for table in tables:
            rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            con.execute("INSERT INTO meta.tables VALUES (?, ?, ?, ?)",
                        [table, descriptions.get(table, ""), rows, built_at])
        create_analyst_views(con)
        for schema, name, kind in con.execute(
            "SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT schema_name, view_name, 'VIEW' FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal"
        ).fetchall():
            text = descriptions.get(f"{schema}.{name}") or VIEW_DESCRIPTIONS.get(f"{schema}.{name}") \
                or META_DESCRIPTIONS.get(f"{schema}.{name}", "")
            if text:
                con.execute(f"COMMENT ON {kind} {schema}.{name} IS {sql_string(text)}")
        for schema, name, column in con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database()"
        ).fetchall():
            text = glossary.describe(column)
            if text:
                con.execute(f'COMMENT ON COLUMN {schema}.{name}."{column}" IS {sql_string(text)}')
        con.execute("CHECKPOINT")
    finally:
        con.close()


META_DESCRIPTIONS = {
    "meta.publication": "This publication: snapshot id, build time, code version, synthetic flag, attribution.",
    "meta.sources": "Input files per source and release that this publication was computed from.",
    "meta.parameters": "Thresholds and parameters the screens used.",
    "meta.tables": "Every published table with its description, row count and build time.",
    "meta.quarantine": "Input files left out of this publication (file, line, reason); empty normally.",
}


def apply_retention(paths: DataPaths, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` snapshots, never a pinned one or LATEST; returns what was removed."""
    pinned = set(pinned_snapshots(paths)) | {latest_snapshot_id(paths)}
    ids = sorted((p.name for p in paths.snapshots.iterdir() if p.is_dir() and SNAPSHOT_ID.match(p.name)),
                 reverse=True)
    removed = [s for s in ids[max(keep, 1):] if s not in pinned]
    for snapshot_id in removed:
        shutil.rmtree(paths.snapshots / snapshot_id)
    return removed


def pinned_snapshots(paths: DataPaths) -> list[str]:
    pin_file = paths.snapshots / "PINNED"
    if not pin_file.exists():
        return []
    return [line.strip() for line in pin_file.read_text().splitlines() if SNAPSHOT_ID.match(line.strip())]


def set_pinned(paths: DataPaths, snapshot_id: str, pinned: bool) -> None:
    snapshot_dir(paths, snapshot_id)  # validates the id and that it exists
    ids = set(pinned_snapshots(paths))
    ids = ids | {snapshot_id} if pinned else ids - {snapshot_id}
    tmp = paths.snapshots / ".PINNED.tmp"
    tmp.write_text("".join(f"{i}\n" for i in sorted(ids)))
    os.replace(tmp, paths.snapshots / "PINNED")


def export_snapshot(paths: DataPaths, snapshot_id: str | None, dest: Path) -> Path:
    """Copy a verified snapshot to ``dest/<id>`` and verify the copy."""
    source = snapshot_dir(paths, snapshot_id)
    problems = verify_folder(source)
    if problems:
        raise SnapshotError(f"{source} does not verify, not exported: {problems[0]}")
    target = Path(dest).expanduser().resolve() / source.name
    if target.exists():
        raise SnapshotError(f"{target} already exists")
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    tmp.rename(target)
    problems = verify_folder(target)
    if problems:
        raise SnapshotError(f"the copy in {target} does not verify: {problems[0]}")
    return target


def latest_snapshot_id(paths: DataPaths) -> str | None:
    if not paths.latest_pointer.exists():
        return None
    return paths.latest_pointer.read_text().strip() or None


def list_snapshots(paths: DataPaths) -> list[dict]:
    """Published snapshots, newest first, with their manifest summary."""
    out = []
    if not paths.snapshots.is_dir():
        return out
    latest = latest_snapshot_id(paths)
    for folder in sorted(paths.snapshots.iterdir(), reverse=True):
        if not folder.is_dir() or not SNAPSHOT_ID.match(folder.name):
            continue
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, json.JSONDecodeError):
            manifest = {}
        out.append({
            "snapshot_id": folder.name,
            "latest": folder.name == latest,
            "created_at": manifest.get("created_at", "?"),
            "synthetic": manifest.get("synthetic"),
            "tables": {t: m.get("rows") for t, m in manifest.get("tables", {}).items()},
        })
    return out


def snapshot_dir(paths: DataPaths, snapshot_id: str | None) -> Path:
    """The folder of a snapshot id (default: LATEST), refusing anything that is not a plain id."""
    snapshot_id = snapshot_id or latest_snapshot_id(paths)
    if not snapshot_id:
        raise SnapshotError(f"no snapshot published yet in {paths.snapshots}")
    if not SNAPSHOT_ID.match(snapshot_id):
        raise SnapshotError(f"not a snapshot id: {snapshot_id!r} (expected e.g. 20261128T093000Z)")
    folder = paths.snapshots / snapshot_id
    if not folder.is_dir():
        raise SnapshotError(f"no snapshot {snapshot_id} in {paths.snapshots}")
    return folder


def verify_snapshot(paths: DataPaths, snapshot_id: str | None = None) -> list[str]:
    """Problems found in a snapshot: checksum, size or row-count mismatches, missing or extra files."""
    return verify_folder(snapshot_dir(paths, snapshot_id))


def verify_folder(folder: Path) -> list[str]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return [f"{folder / 'manifest.json'}: unreadable ({exc})"]
    problems = []
    listed = {"manifest.json"}
    for table, meta in manifest.get("tables", {}).items():
        path = folder / meta["file"]
        listed.add(meta["file"])
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        if path.stat().st_size != meta["bytes"]:
            problems.append(f"{path}: {path.stat().st_size} bytes, manifest says {meta['bytes']}")
        if sha256_of(path) != meta["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest")
            continue
        rows = pq.read_metadata(path).num_rows
        if rows != meta["rows"]:
            problems.append(f"{path}: {rows} rows, manifest says {meta['rows']}")
    for name, meta in manifest.get("files", {}).items():
        if Path(name).is_absolute() or ".." in Path(name).parts:
            problems.append(f"{folder / 'manifest.json'}: lists a file outside the snapshot: {name!r}")
            continue
        path = folder / name
        listed.add(name)
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != meta["bytes"]:
            problems.append(f"{path}: {path.stat().st_size} bytes, manifest says {meta['bytes']}")
        elif sha256_of(path) != meta["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest")
    # every file, in subfolders too (report/index.html)
    present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())
    for extra in present:
        if extra not in listed:
            problems.append(f"{folder / extra}: not listed in the manifest")
    return problems
