"""The monitor report: one offline HTML page per publication, for people rather than programs."""


from dagster import AssetExecutionContext, AssetKey, AutomationCondition, MaterializeResult, MetadataValue, asset

from pipeline.publish import write_latest_report
from pipeline.publish.report_files import copy_latest_report
from pipeline.resources import DUCKDB_POOL, DataFolder

PUBLICATION = AssetKey(["publish", "publication"])


@asset(
    key=AssetKey(["publish", "monitor_report"]),
    group_name="publish",
    deps=[PUBLICATION],
    # it reads the published file; in the writers' pool it never overlaps a publication swapping that file
    pool=DUCKDB_POOL,
    kinds={"html", "plotly"},
    automation_condition=AutomationCondition.eager(),
)
def monitor_report(context: AssetExecutionContext, data: DataFolder) -> MaterializeResult:
    """The offline HTML report of the latest publication, written to ``<data>/report/index.html``: headline
    counts per strategic domain, a sortable and filterable table of EU27 and NL dependencies, supplier shares and
    HHI over the years for a selected product, the countries that depend on NL and on the EU, methodology,
    caveats and source releases, and a SYNTHETIC DATA banner when any input is synthetic. Self-contained (plotly.js
    inlined, no request to any host); every figure comes from the published ``geomonitor.duckdb``. The snapshot
    keeps its own copy, ``snapshots/<id>/report/index.html``, written by the publisher and listed in the manifest;
    this asset checks that the two are the same bytes. After a publication in this instance it copies the
    snapshot's page (checked against the manifest) with the figures of the publisher's render, instead of
    rendering the same file again; otherwise it renders."""
    paths = data.paths()
    latest = copy_latest_report(paths, _published_render(context)) or write_latest_report(paths)
    result = latest.result
    if result.synthetic:
        context.log.warning("the report shows the SYNTHETIC DATA banner: some inputs are synthetic demo data")
    if result.share_mismatches:
        context.log.warning(f"supplier shares disagree with the published HHI for {len(result.share_mismatches)} "
                            f"product(s); their charts are withheld: {list(result.share_mismatches)[:5]}")
    if latest.snapshot_copy is None:
        context.log.warning(f"snapshot {result.snapshot_id} lists no report/index.html in its manifest "
                            "(published without one); only the data folder's copy was written")
    elif not latest.matches_snapshot:
        context.log.warning(f"{latest.snapshot_copy} differs from the report rendered now from the same database "
                            "(code changed since the publication?)")
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(result.path)),
        "open": MetadataValue.url(result.path.as_uri()),
        "snapshot_id": result.snapshot_id,
        "snapshot_copy": MetadataValue.path(str(latest.snapshot_copy)) if latest.snapshot_copy else "none",
        "matches_snapshot_copy": bool(latest.matches_snapshot),
        "synthetic": result.synthetic,
        "bytes": MetadataValue.int(result.bytes),
        "sha256": result.sha256,
        "render_seconds": MetadataValue.float(round(result.seconds, 3)),
        "written": "copied from the snapshot" if latest.copied else "rendered from geomonitor.duckdb",
        "dependency_table_rows": MetadataValue.int(result.table_rows),
        "products_with_supplier_chart": MetadataValue.int(result.products_charted),
        "supplier_share_mismatches": MetadataValue.int(len(result.share_mismatches)),
        "dependent_products_per_domain": MetadataValue.md(_domain_table(result)),
    })


def _published_render(context: AssetExecutionContext) -> dict | None:
    """The report figures the latest publication recorded (its ``report`` metadata), if any."""
    event = context.instance.get_latest_materialization_event(PUBLICATION)
    materialization = event.asset_materialization if event else None
    entry = materialization.metadata.get("report") if materialization else None
    return entry.value if entry is not None and isinstance(entry.value, dict) else None


def _domain_table(result) -> str:
    lines = ["| source | year | domain | EU27 dependent | NL dependent |", "|---|---|---|---|---|"]
    for source, domains in sorted(result.dependent_by_domain.items()):
        for domain, (eu, nl) in sorted(domains.items()):
            lines.append(f"| {source} | {result.headline_years[source]} | {domain} | {eu} | {nl} |")
    return "\n".join(lines)
