"""The short report printed after ``geomon run``, read from the published file only."""

from __future__ import annotations

import duckdb

from pipeline.paths import DataPaths
from pipeline.publish import latest_snapshot_id

TOP_EU_DEPENDENCIES = """
WITH latest AS (
    -- per source, the latest year that has all twelve months
    SELECT source, max(year) AS year FROM monitor.import_concentration
    WHERE reporter = 'EU27' AND months_covered = 12 GROUP BY source
)
SELECT c.source, c.year, c.product_code, coalesce(p.description, '?') AS product, c.hhi, c.top1_partner,
       c.top1_share, c.allocated_value, c.currency, c.synthetic
FROM monitor.import_concentration AS c
JOIN latest USING (source, year)
LEFT JOIN reference.hs_products AS p ON p.code = c.product_code
WHERE c.reporter = 'EU27' AND c.product_level = 'HS6' AND c.partner_scope = 'extra_eu' AND c.n_suppliers > 0
ORDER BY c.source = 'comext' DESC, c.hhi DESC, c.allocated_value DESC
LIMIT 5
"""


def print_summary(paths: DataPaths, elapsed: float) -> None:
    con = duckdb.connect(str(paths.published_db), read_only=True)
    try:
        meta = con.execute("SELECT snapshot_id, synthetic, synthetic_note FROM meta.publication").fetchall()[0]
        tables = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema <> 'meta' ORDER BY 1"
        ).fetchall()
        print(f"geomon run finished in {elapsed:.1f} s")
        if meta[1]:
            print(f"*** {meta[2]} ***")
        print(f"published database: {paths.published_db}  (open with: duckdb -readonly {paths.published_db})")
        print(f"snapshot:           {paths.snapshots / (latest_snapshot_id(paths) or '?')}  (LATEST = {meta[0]})")
        print("rows per table:")
        for (table,) in tables:
            n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            print(f"  {table:<38} {n:>12,}")
        print("top 5 most concentrated EU27 import dependencies (HS6, extra-EU suppliers):")
        for source, year, code, product, hhi, top, share, value, currency, synthetic in con.execute(
            TOP_EU_DEPENDENCIES
        ).fetchall():
            label = " [SYNTHETIC]" if synthetic else ""
            print(f"  {source} {year} {code} {product[:48]:<48} HHI {hhi:.3f}  top {top} {share:.0%}  "
                  f"{value:,.0f} {currency}{label}")
    finally:
        con.close()
