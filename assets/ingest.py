"""Shared body of the raw-ingestion assets: find files, sync a raw table, describe it."""


from pathlib import Path
from typing import Callable

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
)

from pipeline.metadata import table_metadata
from pipeline.readers.inputs import discover
from pipeline.readers.raw_store import sync_raw_table
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
    columns: dict[str, str],
    detect: Callable[[Path], str | None],
    select_for,
    validate,
    row_rule: str | None = None,
    year_of_row: str | None = None,
) -> MaterializeResult:
    files = discover(settings.input_dirs(data.paths(), source), detect)
    with warehouse.get_connection() as conn:
        report = sync_raw_table(conn, table, columns, files, select_for, validate, row_rule, year_of_row)
        context.log.info(
            f"{table}: {len(report.added)} file(s) read ({report.rows_added:,} rows), "
            f"{len(report.removed)} removed, {report.unchanged} unchanged, {len(report.quarantined)} quarantined"
        )
        for label, reason in report.quarantined.items():
            context.log.error(f"quarantined {label}: {reason}")
        metadata = table_metadata(conn, table)
        releases = conn.execute(
            f"SELECT release, synthetic, count(*) FROM {table} GROUP BY ALL ORDER BY release"
        ).fetchall()
    accepted = settings.accept_quarantined_input
    contract = AssetCheckResult(
        check_name="input_contract",
        passed=not report.quarantined,
        # accepting quarantined input downgrades the failure to a warning: it is still shown, never hidden
        severity=AssetCheckSeverity.WARN if accepted else AssetCheckSeverity.ERROR,
        metadata={"quarantined_files": len(report.quarantined),
                  "quarantine": MetadataValue.json(report.quarantined)},
    )
    return MaterializeResult(
        check_results=[contract],
        metadata={
            **metadata,
            "files": len(files),
            "files_read": MetadataValue.json(report.added),
            "files_removed": MetadataValue.json(report.removed),
            "rows_added": report.rows_added,
            "quarantined": MetadataValue.json(report.quarantined),
            "synthetic_rows": sum(n for _, synthetic, n in releases if synthetic),
            "releases": MetadataValue.json({release: n for release, _, n in releases}),
        }
    )
