"""Shared body of the raw-ingestion assets: find files, sync a raw table, describe it."""


from pathlib import Path
from typing import Callable

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
)

from pipeline.metadata import table_schema
from pipeline.readers.inputs import InputFile, discover
from pipeline.readers.raw_store import LEDGER, SyncReport
from pipeline.resources import DataFolder, InputSettings, Warehouse


def input_contract_spec(key: AssetKey) -> AssetCheckSpec:
    return AssetCheckSpec(
        "input_contract", asset=key, blocking=True,
        description="Every input file was read whole; none is in raw.quarantine (file, line, reason).",
    )


def ingest(
    context: AssetExecutionContext,
    settings: InputSettings,
    warehouse: Warehouse,
    data: DataFolder,
    *,
    source: str,
    table: str,
    detect: Callable[[Path], str | None],
    sync: Callable[[duckdb.DuckDBPyConnection, list[InputFile]], SyncReport],
    releases_from_ledger: bool = False,
) -> MaterializeResult:
    """``sync(conn, files)`` brings ``table`` in line with the files found (raw_store.sync_raw_table for a
    DuckDB table, a source's own sync for a view over Parquet files, as Comtrade's reader.view)."""
    files = discover(settings.input_dirs(data.paths(), source), detect)
    with warehouse.get_connection() as conn:
        report = sync(conn, files)
        context.log.info(
            f"{table}: {len(report.added)} file(s) read ({report.rows_added:,} rows), "
            f"{len(report.removed)} removed, {report.unchanged} unchanged, {len(report.quarantined)} quarantined"
        )
        for label, reason in report.quarantined.items():
            context.log.error(f"quarantined {label}: {reason}")
        for label, rows in report.superseded.items():
            context.log.info(f"{label}: {rows:,} rows left out, a bulk file holds the same reporter-years and flows")
        if releases_from_ledger:
            # a view over Parquet files: the ledger's rows per file add up to the view's, no scan needed
            releases = conn.execute(
                f"SELECT release, synthetic, sum(rows)::BIGINT FROM {LEDGER} WHERE table_name = ? GROUP BY ALL "
                "ORDER BY release", [table]).fetchall()
        else:  # a reader may set the release per row (Comext SDMX: the file's LAST UPDATE)
            releases = conn.execute(
                f"SELECT release, synthetic, count(*) FROM {table} GROUP BY ALL ORDER BY release").fetchall()
        schema = table_schema(conn, table)
    accepted = settings.accept_quarantined_input
    contract = AssetCheckResult(
        check_name="input_contract",
        passed=not report.quarantined,
        # accepting quarantined input downgrades the failure to a warning: it is still shown, never hidden
        severity=AssetCheckSeverity.WARN if accepted else AssetCheckSeverity.ERROR,
        metadata={"quarantined_files": len(report.quarantined),
                  "quarantine": MetadataValue.json(report.quarantined)},
    )
    extra = {}
    if report.conversions:
        seconds = sum(c["seconds"] for c in report.conversions if not c["cached"])
        converted = sum(c["rows"] for c in report.conversions if not c["cached"])
        extra["parquet_conversions"] = MetadataValue.json({
            "files": len(report.conversions), "cached": sum(c["cached"] for c in report.conversions),
            "rows_converted": converted, "seconds_summed_over_files": round(seconds, 3)})
    if report.superseded:
        extra["rows_superseded_by_bulk"] = MetadataValue.json(report.superseded)
    return MaterializeResult(
        check_results=[contract],
        metadata={
            "dagster/row_count": report.total_rows,
            "dagster/column_schema": schema,
            "dagster/table_name": table,
            "files": len(files),
            "files_read": MetadataValue.json(report.added),
            "files_removed": MetadataValue.json(report.removed),
            "rows_added": report.rows_added,
            "quarantined": MetadataValue.json(report.quarantined),
            "synthetic_rows": sum(n or 0 for _, synthetic, n in releases if synthetic),
            "releases": MetadataValue.json({release: n for release, _, n in releases}),
            **extra,
        }
    )
