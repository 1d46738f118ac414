"""Shared body of the raw-ingestion assets: find files, sync a raw table, describe it."""


from pathlib import Path
from typing import Callable

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

from pipeline.metadata import table_metadata
from pipeline.readers.inputs import discover
from pipeline.readers.raw_store import sync_raw_table
from pipeline.resources import MonitorSettings, Warehouse


def ingest(
    context: AssetExecutionContext,
    settings: MonitorSettings,
    warehouse: Warehouse,
    *,
    source: str,
    table: str,
    columns: dict[str, str],
    detect: Callable[[Path], str | None],
    select_for,
    validate,
) -> MaterializeResult:
    paths = settings.paths()
    unknown = set(settings.sources) - {"sample", "demo", "landing"}
    if unknown:
        raise ValueError(f"unknown source folder(s) {sorted(unknown)}; use sample, demo, landing")
    files = discover(paths.source_dirs(source, settings.sources), detect)
    with warehouse.get_connection() as conn:
        report = sync_raw_table(conn, table, columns, files, select_for, validate)
        context.log.info(
            f"{table}: {len(report.added)} file(s) read ({report.rows_added:,} rows), "
            f"{len(report.removed)} removed, {report.unchanged} unchanged"
        )
        metadata = table_metadata(conn, table)
        releases = conn.execute(
            f"SELECT release, synthetic, count(*) FROM {table} GROUP BY ALL ORDER BY release"
        ).fetchall()
    return MaterializeResult(
        metadata={
            **metadata,
            "files": len(files),
            "files_read": MetadataValue.json(report.added),
            "files_removed": MetadataValue.json(report.removed),
            "rows_added": report.rows_added,
            "synthetic_rows": sum(n for _, synthetic, n in releases if synthetic),
            "releases": MetadataValue.json({release: n for release, _, n in releases}),
        }
    )
