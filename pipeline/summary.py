"""The short report printed after ``geomon run``, read from the published file only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

from pipeline.paths import DataPaths
from pipeline.publish import latest_snapshot_id
from pipeline.sources.registry import preference

TOP_EU_DEPENDENCIES = """
WITH main_year AS (
    -- per source, the year with the most screened products (latest on a tie): a partial
    -- latest year or a single-product extract does not make the headline; the finest source first
    -- ($preference: pipeline.sources.registry.preference, Comext's CN8 before HS6 sources)
    SELECT source, arg_max(year, (n, year)) AS year
    FROM (SELECT source, year, count(*) AS n FROM monitor.eu_dependencies GROUP BY ALL)
    GROUP BY source
)
SELECT e.source, e.year, e.product_code, coalesce(p.description, '?') AS product, e.hhi_extra, e.top_supplier,
       e.top_supplier_share, e.m_extra, e.currency, e.synthetic
FROM monitor.eu_dependencies AS e
JOIN main_year USING (source, year)
LEFT JOIN reference.hs_products AS p ON p.code = e.product_code
WHERE e.dependent
ORDER BY array_position($preference, e.source), e.hhi_extra DESC, e.m_extra DESC
LIMIT 5
"""

# The EC found 137 of about 5,200 products (2.6%); the figure to compare the demo world's screen with.
EU27_DEPENDENT_SHARE = """
SELECT source, year, count(*) FILTER (WHERE screened) AS screened, count(*) FILTER (WHERE dependent) AS dependent,
       bool_and(bloc_complete) AS complete, bool_or(synthetic) AS synthetic
FROM monitor.eu_dependencies
GROUP BY ALL
HAVING count(*) FILTER (WHERE screened) > 0
ORDER BY source, year
"""


def print_summary(paths: DataPaths, elapsed: float) -> None:
    con = duckdb.connect(str(paths.published_db), read_only=True)
    try:
        meta = con.execute("SELECT snapshot_id, synthetic, synthetic_note FROM meta.publication").fetchall()[0]
        tables = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('meta', 'views') AND table_type = 'BASE TABLE' ORDER BY 1"
        ).fetchall()
        print(f"geomon run finished in {elapsed:.1f} s")
        if meta[1]:
            print(f"*** {meta[2]} ***")
        # the DuckDB CLI the project installs (duckdb-cli) sits beside the interpreter running this
        cli = Path(sys.executable).with_name("duckdb")
        print(f"published database: {paths.published_db}  (open with: {cli if cli.exists() else 'duckdb'} "
              f"-readonly {paths.published_db})")
        print(f"snapshot:           {paths.snapshots / (latest_snapshot_id(paths) or '?')}  (LATEST = {meta[0]})")
        _print_accepted_shrink(paths)
        report = paths.root / "report" / "index.html"
        if report.is_file():
            geomon = Path(sys.executable).with_name("geomon")
            print(f"report:             {report}  (open with: {geomon if geomon.exists() else 'geomon'} report --open)")
        print("rows per table:")
        for (table,) in tables:
            n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            print(f"  {table:<38} {n:>12,}")
        print("EU27 screen (EC 2021 C1-C3, HS6): dependent / screened products per source and year:")
        for source, year, screened, dependent, complete, synthetic in con.execute(EU27_DEPENDENT_SHARE).fetchall():
            notes = ("" if complete else " [incomplete bloc: never flagged]") + (" [SYNTHETIC]" if synthetic else "")
            print(f"  {source} {year}: {dependent:,} of {screened:,} = {dependent / screened:.1%}{notes}")
        print("top 5 most concentrated EU27 dependencies (EC 2021 screen C1-C3, HS6, extra-EU suppliers):")
        for source, year, code, product, hhi, top, share, value, currency, synthetic in con.execute(
            TOP_EU_DEPENDENCIES, {"preference": preference()}
        ).fetchall():
            label = " [SYNTHETIC]" if synthetic else ""
            print(f"  {source} {year} {code} {product[:48]:<48} HHI {hhi:.3f}  top {top} {share:.0%}  "
                  f"{value:,.0f} {currency}{label}")
    finally:
        con.close()


def _print_accepted_shrink(paths: DataPaths, shown: int = 5) -> None:
    """What the publication guard found and the run accepted (--allow-shrink), from the snapshot's manifest."""
    latest = latest_snapshot_id(paths)
    manifest = paths.snapshots / latest / "manifest.json" if latest else None
    if manifest is None or not manifest.is_file():
        return
    accepted = json.loads(manifest.read_text()).get("publication_guard", {}).get("accepted", [])
    if not accepted:
        return
    print(f"published SMALLER than the previous publication, accepted with --allow-shrink "
          f"({len(accepted)} finding(s), listed in the manifest's publication_guard):")
    for finding in accepted[:shown]:
        print(f"  {finding['kind']}: {finding['subject']} ({finding['rows_before']:,} -> {finding['rows_after']:,} rows)")
    if len(accepted) > shown:
        print(f"  ... and {len(accepted) - shown} more")
