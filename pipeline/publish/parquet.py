"""The Parquet files of a snapshot: one file per table, and one file per year for a year-partitioned table.

A table the incremental build keeps per year (``-- partition: year``, pipeline/incremental.py) is published
as ``<table>/year=<year>.parquet``, each file holding the ``year`` column itself, so that
``read_parquet('<table>/*.parquet')`` (DuckDB, with or without ``hive_partitioning``), polars and
``pyarrow.dataset(..., partitioning='hive')`` read the folder as the table, with the year's type and values as
in the analysts' file. A year whose build is the one the previous snapshot's file was written from (its *key*:
the build's fingerprint of that year, which covers the model's SQL, settings and inputs, plus the writer's
format, DuckDB and pyarrow versions) is not written again: the file is a hard link to the previous snapshot's
(a copy where the filesystem refuses links), so the publication's own cost follows the years that changed.
Since the writer is deterministic (sorted rows, fixed row groups), a linked file has the bytes writing it again
would give: a refresh publishes what a full build publishes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import catalog
from pipeline.incremental import STATE as BUILD_STATE, table_exists
from pipeline.io import sha256_of
from pipeline.publish.database import DERIVED_TABLES
from pipeline.publish.snapshots import combined_sha256

# manifest.json's format: 2 = year-partitioned tables as one file per year (``files``); 1 (no field) = one file each
FORMAT_VERSION = 2
ROWS_PER_GROUP = 1_000_000  # Parquet row group = Arrow batch written at a time
NULL_YEAR = "__HIVE_DEFAULT_PARTITION__"  # the hive name of a NULL partition value


@dataclass(frozen=True)
class Previous:
    """The snapshot a new one may link unchanged years from: its folder and, per (table, year), the entry."""
    folder: Path
    snapshot_id: str
    years: dict[tuple[str, int], dict]


def previous_snapshot(folder: Path | None) -> Previous | None:
    """The year files of the snapshot in ``folder`` (LATEST), if its manifest has them (format 2)."""
    if folder is None or not (folder / "manifest.json").is_file():
        return None
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None  # an unreadable manifest: every year is written again
    years = {(table, entry["year"]): entry for table, meta in manifest.get("tables", {}).items()
             for entry in meta.get("files", []) if entry.get("key")}
    return Previous(folder, manifest.get("snapshot_id", folder.name), years)


def year_keys(conn: duckdb.DuckDBPyConnection, tables: list[str]) -> dict[str, dict[int, str]]:
    """Per year-partitioned table of ``tables``, the key of each year's current build (see the module doc)."""
    if not table_exists(conn, BUILD_STATE):
        return {}
    writer = f"format {FORMAT_VERSION}|rows {ROWS_PER_GROUP}|duckdb {duckdb.__version__}|pyarrow {pa.__version__}"
    keys: dict[str, dict[int, str]] = {}
    for table, year, code, fp in conn.execute(
            f"SELECT table_name, year, code_version, output_fp FROM {BUILD_STATE} WHERE year IS NOT NULL "
            "AND table_name IN (SELECT unnest(?::VARCHAR[]))", [tables]).fetchall():
        keys.setdefault(table, {})[year] = hashlib.sha256(f"{writer}|{code}|{fp}".encode()).hexdigest()
    return keys


def write_tables(conn: duckdb.DuckDBPyConnection, folder: Path, tables: list[str], descriptions: dict,
                 parameters: dict, previous: Previous | None = None) -> dict:
    """Every table of ``tables`` into ``folder``; returns the manifest's ``tables`` entries."""
    keys = year_keys(conn, tables)
    meta = {}
    for table in tables:
        query = f"SELECT * FROM ({DERIVED_TABLES[table]})" if table in DERIVED_TABLES else f"SELECT * FROM {table}"
        if table in keys:
            entry, schema = _write_years(conn, folder, table, query, keys[table], previous)
        else:
            path = folder / f"{table}.parquet"
            rows, schema = _write_file(conn, query, path)
            entry = {"file": path.name, "rows": rows, "bytes": path.stat().st_size, "sha256": sha256_of(path),
                     "linked": False}
        meta[table] = {
            **entry,
            "description": descriptions.get(table, ""),
            # column meanings with the thresholds this run used (pipeline/glossary.py: fill)
            "schema": [{"name": f.name, "type": str(f.type),
                        "description": catalog.describe(f.name, table, parameters) or ""} for f in schema],
        }
    return meta


def _write_years(conn, folder: Path, table: str, query: str, keys: dict[int, str],
                 previous: Previous | None) -> tuple[dict, pa.Schema]:
    (folder / table).mkdir()
    schema = conn.sql(f"{query} LIMIT 0").to_arrow_table().schema
    years = [y for (y,) in conn.execute(f"SELECT DISTINCT year FROM {table} ORDER BY year NULLS LAST").fetchall()]
    files = []
    for year in years:
        name = f"{table}/year={NULL_YEAR if year is None else int(year)}.parquet"
        key = keys.get(year) if year is not None else None
        old = previous.years.get((table, year)) if previous and key else None
        reused = _reuse(previous.folder / old["file"], folder / name, old) \
            if old is not None and old["key"] == key and old["file"] == name else None
        if reused is not None:
            files.append({**{k: old[k] for k in ("rows", "bytes", "sha256")}, "file": name, "year": year,
                          "key": key, "linked": reused, "reused_from": previous.snapshot_id})
            continue
        where = "year IS NULL" if year is None else f"year = {int(year)}"
        rows, _ = _write_file(conn, f"{query} WHERE {where}", folder / name)
        files.append({"file": name, "year": year, "rows": rows, "bytes": (folder / name).stat().st_size,
                      "sha256": sha256_of(folder / name), "key": key, "linked": False})
    if not files:  # no rows at all: one empty file keeps the schema and the folder readable
        name = f"{table}/empty.parquet"
        rows, _ = _write_file(conn, query, folder / name)
        files.append({"file": name, "year": None, "rows": rows, "bytes": (folder / name).stat().st_size,
                      "sha256": sha256_of(folder / name), "key": None, "linked": False})
    return {"file": f"{table}/*.parquet", "partitioning": "year", "files": files,
            "rows": sum(f["rows"] for f in files), "bytes": sum(f["bytes"] for f in files),
            "sha256": combined_sha256(files)}, schema


def _reuse(source: Path, target: Path, entry: dict) -> bool | None:
    """The previous snapshot's file as ``target``: True if hard-linked, False if copied (a filesystem that
    refuses links), None when it is not there as its manifest lists it (then the year is written again)."""
    try:
        if source.stat().st_size != entry["bytes"]:
            return None
    except OSError:
        return None
    try:
        os.link(source, target)
        return True
    except OSError:
        shutil.copyfile(source, target)
        return False


def _write_file(conn: duckdb.DuckDBPyConnection, query: str, path: Path) -> tuple[int, pa.Schema]:
    # sorted rows make the file, and so its checksum, a function of the table's contents
    reader = conn.sql(f"{query} ORDER BY ALL").to_arrow_reader(ROWS_PER_GROUP)
    with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
        rows = _write_row_groups(reader, writer)
    return rows, reader.schema


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
