"""Write one publication: the analysts' DuckDB file, the Parquet snapshot and its report, then swap them in.

Order: first the publication guard (pipeline/publish/guard.py) compares the candidate with the current
publication and refuses one that lost tables, sources, years, reporters or rows (or has no flows at all),
before anything is written; then the analysts' DuckDB file and the Parquet snapshot are written under
temporary names, side by side (the years unchanged since the previous snapshot as hard links to its files,
pipeline/publish/parquet.py), then the report and the workbook (in a process of its own) from that file, side by side too; only then is the DuckDB file renamed over the old one,
the snapshot folder renamed to its id, and ``LATEST`` replaced. Each rename is
atomic, and a failure before them leaves every published byte as it was.
Readers holding the old DuckDB file open keep reading it; new connections see
the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipeline import catalog
from pipeline.io import atomic_write_text, sha256_of
from pipeline.paths import REPO_ROOT, SQL_DIR, DataPaths
from pipeline.publish.changes import DESCRIPTION as CHANGES_DESCRIPTION
from pipeline.publish.changes import TABLE as CHANGES_TABLE
from pipeline.publish.changes import build_changes
from pipeline.publish.access import PUBLIC, strictest, table_class
from pipeline.publish.database import (DERIVED_DESCRIPTIONS, DERIVED_TABLES, STORAGE_VERSION, describe_database,
                                       latest_complete_years, record_published_years, reusable_years, write_database)
from pipeline.publish.dictionary import DICTIONARY_FILE, dictionary_markdown
from pipeline.publish.guard import Guard, PublicationRefused, Verdict
from pipeline.publish.parquet import FORMAT_VERSION, previous_snapshot, write_tables
from pipeline.publish.report_files import write_snapshot_report
from pipeline.publish.snapshots import PINNED_FILE, apply_retention, latest_snapshot_id
from pipeline.publish.workbook_process import WorkbookProcess

if TYPE_CHECKING:
    from pipeline.report import ReportResult

# reference tables a snapshot carries, so that downloaders can put names on codes (when the database has them);
# crma_materials: the mapping monitor.crma_benchmark(_rolling) sums codes by (issue 29)
SNAPSHOT_REFERENCE_TABLES = ("reference.countries", "reference.hs_products", "reference.strategic_domains",
                             "reference.domains", "reference.crma_materials")
ATTRIBUTION = "Derived indicators. Sources: "


def attribution(sources: list[dict]) -> str:
    """The attribution of a publication: each registered source with rows in it (by label), in its own terms."""
    from pipeline.sources.registry import SOURCES

    present = {s["source"] for s in sources}
    listed = sorted((s for s in SOURCES if s.attribution and s.name in present), key=lambda s: s.label)
    return ATTRIBUTION + "; ".join(s.attribution for s in listed) + "."


@dataclass(frozen=True)
class Publication:
    snapshot_id: str
    database: Path
    snapshot_dir: Path
    manifest: dict
    database_writes: dict[str, str]  # per table of the analysts' file: written whole, or which years
    changes: dict[str, int]  # monitor.changes: rows per kind of change since the previous publication
    guard: Verdict  # the publication guard's comparison with the previous publication (findings accepted, if any)
    report: ReportResult  # the render of the snapshot's report (the data folder's copy is its bytes)


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
        # the pointer files' temporaries (pipeline.io.atomic_write_text)
        for pointer in (paths.latest_pointer.name, PINNED_FILE):
            for leftover in paths.snapshots.glob(f".{pointer}.*.tmp"):
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
    restricted_tables: list[str] | tuple[str, ...] | None = None,
    storage_version: str = STORAGE_VERSION,
    guard: Guard | None = None,
) -> Publication:
    """Publish ``database_tables`` to geomonitor.duckdb and ``snapshot_tables`` as a Parquet snapshot.

    ``descriptions`` (table -> text) become table comments, ``parameters`` (the
    thresholds used) go into the manifest, ``keep`` is how many snapshots
    retention keeps besides the pinned ones. ``restricted_tables`` are marked restricted in the manifest
    (everything else public; None: as the tables' SQL headers declare, see pipeline/publish/access.py); ``storage_version`` is the DuckDB storage
    format of geomonitor.duckdb (the oldest that holds the tables, so older DuckDB versions open it).
    ``guard`` holds the publication guard's limits (default: Guard()); a candidate it refuses raises
    ``PublicationRefused`` before any file is written.
    """
    # the audit comes first: a refused candidate leaves every byte of the data folder as it was
    verdict = (guard or Guard()).audit(conn, paths.published_db, database_tables, tuple(DERIVED_TABLES))
    if verdict.refused:
        raise PublicationRefused(verdict)
    paths.snapshots.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(paths)
    descriptions = descriptions or {}
    snapshot_id = _new_snapshot_id(paths, vintage)
    tmp_db = paths.root / f".geomonitor.duckdb.tmp-{snapshot_id}"
    tmp_snap = paths.snapshots / f".tmp-{snapshot_id}"
    synthetic = any(s["synthetic"] for s in sources)
    created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    workbook_writer = None
    try:
        # the workbook's own process, started first: its imports run while the analysts' file is written
        workbook_writer = WorkbookProcess()
        # against the publication about to be replaced, so users see what moved since they last looked
        changes = build_changes(conn, paths.published_db, snapshot_id,
                                (parameters or {}).get("changes_hhi_move", 0.1))
        database_tables = [*database_tables, CHANGES_TABLE, *DERIVED_TABLES]
        references = [t for t in SNAPSHOT_REFERENCE_TABLES if t in database_tables and t not in snapshot_tables]
        snapshot_tables = [*snapshot_tables, CHANGES_TABLE, *references]
        descriptions = {**DERIVED_DESCRIPTIONS, **descriptions, CHANGES_TABLE: CHANGES_DESCRIPTION}
        # a model's description with the thresholds this run used where it names one ('{setting}' in its header)
        descriptions = {t: catalog.table_description(t, parameters) or d for t, d in descriptions.items()}
        manifest = {
            "format_version": FORMAT_VERSION,
            "snapshot_id": snapshot_id,
            "created_at": created_at,
            "code_version": code_version(),
            "synthetic": synthetic,
            "synthetic_note": "CONTAINS SYNTHETIC DEMO DATA: not real trade figures" if synthetic else "",
            "sources": sources,
            "parameters": parameters or {},
            # input files left out of this publication, and why (empty unless the run accepted them)
            "quarantine": quarantine or [],
            "attribution": attribution(sources),
            "changes": changes,
            # what the publication guard compared this one with, its limits, and any shrink accepted on purpose
            "publication_guard": verdict.record(),
            "latest_complete_year": latest_complete_years(conn),
            "storage_version": storage_version,
            # every file's class is in its entry ("access"); restricted files need the serve token
            "access": {"restricted_tables": sorted(restricted_tables) if restricted_tables is not None
                       else catalog.restricted_tables(snapshot_tables), "public_only": False},
        }
        reusable = reusable_years(conn, paths, storage_version)
        tmp_snap.mkdir()
        access = {table: table_class(table, restricted_tables) for table in snapshot_tables}
        # the years unchanged since the previous snapshot are hard links to its files (pipeline/publish/parquet.py)
        previous = previous_snapshot(paths.snapshots / latest if (latest := latest_snapshot_id(paths)) else None)
        # Independent writers side by side (issue 28): the Parquet snapshot reads the working database on a
        # connection of its own while the analysts' file is written, then the workbook (in its own process,
        # pipeline/publish/workbook_process.py) beside the report, both reading that file. DuckDB, pyarrow and
        # zstd release the GIL. Leaving the block waits for every writer, so a failure cleans up only once
        # nothing writes any more.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="publish") as writers:
            parquet = writers.submit(_on_cursor, write_tables, conn.cursor(), tmp_snap, snapshot_tables, descriptions,
                                     manifest["parameters"], previous)
            writes = write_database(conn, tmp_db, database_tables, manifest, reusable, paths.published_db,
                                    storage_version)
            describe_database(tmp_db, database_tables, descriptions)
            workbook = writers.submit(workbook_writer.write, tmp_db, tmp_snap, dict(manifest), access)
            report_files, report = write_snapshot_report(tmp_db, tmp_snap)
            tables_meta = parquet.result()
            workbook_files = workbook.result()
        for table, meta in tables_meta.items():
            meta["access"] = access[table]
        manifest["tables"] = tables_meta
        # the report and the workbook read the database about to be published; the manifest lists them
        shown = strictest(access.values())
        manifest["files"] = {name: {**meta, "access": shown} for name, meta in report_files.items()}
        manifest["files"].update(_dictionary_file(tmp_snap, manifest))
        manifest["files"].update(workbook_files)
        (tmp_snap / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        # the swap: from here on, each step is a single atomic rename
        os.replace(tmp_db, paths.published_db)
        final_snap = paths.snapshots / snapshot_id
        tmp_snap.rename(final_snap)
        atomic_write_text(paths.latest_pointer, snapshot_id + "\n")
        record_published_years(conn, snapshot_id, database_tables)
    except BaseException:
        shutil.rmtree(tmp_snap, ignore_errors=True)
        tmp_db.unlink(missing_ok=True)
        Path(str(tmp_db) + ".wal").unlink(missing_ok=True)
        raise
    finally:
        if workbook_writer is not None:
            workbook_writer.close()
    apply_retention(paths, keep)
    return Publication(snapshot_id, paths.published_db, final_snap, manifest, writes, changes, verdict, report)


def _on_cursor(write, cursor: duckdb.DuckDBPyConnection, *args):
    """``write(cursor, *args)`` in a writer thread, then the cursor (a connection of its own) closed."""
    try:
        return write(cursor, *args)
    finally:
        cursor.close()


def _dictionary_file(folder: Path, manifest: dict) -> dict:
    (folder / DICTIONARY_FILE).write_text(dictionary_markdown(manifest), encoding="utf-8")
    return {DICTIONARY_FILE: {"bytes": (folder / DICTIONARY_FILE).stat().st_size,
                              "sha256": sha256_of(folder / DICTIONARY_FILE), "access": PUBLIC}}
