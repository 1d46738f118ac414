"""Publication: the one asset that writes what users read, and its guard."""

from collections.abc import Iterator

from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, AssetKey,
                     AssetsDefinition, AutomationCondition, Failure, MaterializeResult, MetadataValue, asset)

from pipeline.publish.guard import PublicationRefused, Verdict
from pipeline.publish.notify import post_summary, summary
from pipeline.publish.report_files import report_summary
from pipeline.resources import DUCKDB_POOL, DataFolder, InputSettings, Thresholds, Warehouse, Webhook

KEY = AssetKey(["publish", "publication"])
GUARD_CHECK = "publication_guard"

# Analysts get the flows too (to trace a figure to its file and line); downloads get
# derived indicators only, because UN Comtrade restricts redistribution of raw records.
ANALYST_EXTRA_TABLES = ["staging.trade_flows"]


def publication_asset(monitor_tables: list[str], reference_tables: list[str],
                      descriptions: dict[str, str]) -> AssetsDefinition:
    database_tables = sorted(monitor_tables) + sorted(reference_tables) + ANALYST_EXTRA_TABLES
    snapshot_tables = sorted(monitor_tables)

    @asset(
        key=KEY,
        group_name="publish",
        deps=[AssetKey(t.split(".")) for t in database_tables],
        pool=DUCKDB_POOL,
        kinds={"duckdb", "parquet"},
        automation_condition=AutomationCondition.eager(),
        check_specs=[AssetCheckSpec(
            GUARD_CHECK, asset=KEY, blocking=True,
            description="Evaluated before the swap, against the current publication: flow rows were staged (never "
            "accepted otherwise), and no table, source, source-year or reporter-year disappeared and no row count "
            "fell past the limits (settings: max_table_drop, max_source_year_drop), unless allow_shrink accepts it "
            "(the manifest's publication_guard records what). A failure leaves the publication as it was.")],
    )
    def publication(context: AssetExecutionContext, data: DataFolder, settings: InputSettings,
                    thresholds: Thresholds, warehouse: Warehouse, webhook: Webhook) -> Iterator:
        """The published monitor: ``geomonitor.duckdb`` for analysts (monitor, reference and flow tables,
        opened read-only) and a Parquet snapshot with a checked manifest under ``snapshots/<id>/``, then
        ``snapshots/LATEST``. Built under temporary names and swapped in by atomic renames, only after every
        blocking check upstream passed and the publication guard accepted the candidate (the check
        ``publication_guard``, evaluated before anything is written); a failure leaves the previous publication
        byte for byte, and the webhook is not called. Publishes
        ``monitor.changes`` (what moved since the previous publication) and, when a webhook is set, posts a
        summary to it afterwards (a failed post is logged, never a failed publication)."""
        paths = data.paths()
        with warehouse.get_connection() as conn:
            sources = [
                {"source": table.split(".")[1].split("_")[0], "table": table, "release": release,
                 "synthetic": synthetic, "files": files, "rows": rows}
                for table, release, synthetic, files, rows in conn.execute(
                    "SELECT table_name, release, synthetic, count(*), sum(rows)::BIGINT FROM raw.ingested_files "
                    "GROUP BY ALL ORDER BY ALL"
                ).fetchall()
            ]
            quarantine = [
                {"table": t, "file": f, "line": line, "reason": reason}
                for t, f, line, reason in conn.execute(
                    "SELECT table_name, file, line, reason FROM raw.quarantine ORDER BY ALL").fetchall()
            ]
            years = conn.execute("SELECT max(year) FROM monitor.import_concentration").fetchall()[0][0]
            from pipeline.publish.write import publish  # pyarrow, polars, the workbook: when it runs (issue 28)

            try:
                result = publish(
                    conn, paths, database_tables=database_tables, snapshot_tables=snapshot_tables, sources=sources,
                    descriptions=descriptions, parameters=thresholds.sql_variables(),
                    vintage=f"data{years}" if years else "", keep=data.keep_snapshots, quarantine=quarantine,
                    restricted_tables=data.restricted_tables, storage_version=data.published_storage_version,
                    guard=settings.guard(),
                )
            except PublicationRefused as refused:
                # the check shows the findings in the UI; the failure stops the step before any byte is written
                yield _guard_result(refused.verdict)
                raise Failure(description=str(refused), metadata={"findings": len(refused.verdict.findings)},
                              allow_retries=False) from None
        if result.guard.findings:
            context.log.warning("the publication guard's findings were accepted (allow_shrink): "
                                + "; ".join(result.guard.lines()))
        manifest = result.manifest
        if manifest["synthetic"]:
            context.log.warning("this publication CONTAINS SYNTHETIC DEMO DATA (see manifest.synthetic)")
        webhook_result = "off"
        if webhook.webhook_url:
            delivered, webhook_result = post_summary(webhook.webhook_url, summary(result),
                                                     timeout_s=webhook.webhook_timeout_s,
                                                     retries=webhook.webhook_retries)
            (context.log.info if delivered else context.log.warning)(webhook_result)
        yield MaterializeResult(
            check_results=[_guard_result(result.guard)],
            metadata={
                "snapshot_id": result.snapshot_id,
                "database": MetadataValue.path(str(result.database)),
                "snapshot": MetadataValue.path(str(result.snapshot_dir)),
                "synthetic": manifest["synthetic"],
                "code_version": manifest["code_version"],
                "rows": MetadataValue.json({t: m["rows"] for t, m in manifest["tables"].items()}),
                # incremental publication: a year-partitioned table has only its changed years written
                "database_writes": MetadataValue.json(result.database_writes),
                # what moved since the previous publication (monitor.changes), per kind of change
                "changes": MetadataValue.json(result.changes),
                "webhook": webhook_result,
                # the figures of the report rendered into the snapshot: monitor_report copies that page
                "report": MetadataValue.json(report_summary(result.report)),
            }
        )

    return publication


def _guard_result(verdict: Verdict) -> AssetCheckResult:
    """The publication guard's verdict as the check Dagster shows: every finding, the next step when refused."""
    return AssetCheckResult(
        check_name=GUARD_CHECK, asset_key=KEY, passed=not verdict.findings,
        # findings accepted on purpose (allow_shrink) still show, as a failed check of severity warning
        severity=AssetCheckSeverity.ERROR if verdict.refused else AssetCheckSeverity.WARN,
        metadata={
            "compared_with": verdict.previous or "nothing (first publication)",
            "flow_rows": verdict.flow_rows,
            "allow_shrink": verdict.allow_shrink,
            "findings": MetadataValue.json([f.line() for f in verdict.findings]),
            **({"next_step": verdict.next_step()} if verdict.refused else {}),
        },
    )
