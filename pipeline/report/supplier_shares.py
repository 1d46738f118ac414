"""Each non-EU supplier's share of EU27 and NL imports of a product, for the product charts.

The partner values come from the published mart ``monitor.supplier_shares`` when the
publication has it. Older publications lack it; there the values are summed from the
published ``staging.trade_flows`` by the rules of ``staging.annual_flows`` and
``monitor.import_concentration`` (detail rows only; per reporter and year, annual rows
when there are any, else the months; the EU27 bloc from Comext's own EU27 rows where
they exist for the product code, else the 27 member states summed; suppliers are
country partners outside the EU with a positive value), without the conversion of
codes across HS editions. Either way every product-year is checked against the
published HHI: where the sum of squared shares differs, the chart is withheld and the
page says so (``mismatches``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pipeline.report.queries import rows

TOP_SUPPLIERS = 7  # per product; the rest are shown as one "other" bar
HHI_TOLERANCE = 1e-6

PUBLISHED_VALUES = """
SELECT source, reporter, product_code, year, partner, value::DOUBLE AS value
FROM monitor.supplier_shares
WHERE reporter IN ('EU27', 'NLD') AND value > 0
ORDER BY ALL
"""

REDERIVED_VALUES = """
WITH members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
wanted AS (
    SELECT DISTINCT source, reporter, product_code FROM monitor.ec_screen
    WHERE reporter IN ('EU27', 'NLD') AND years_flagged > 0
),
reporter_years AS (
    SELECT source, reporter, year, bool_or(freq = 'A') AS has_annual
    FROM staging.trade_flows WHERE flow IN ('import', 'export') AND is_detail
    GROUP BY ALL
),
annual AS (
    SELECT t.source, t.reporter, t.year, t.partner, t.partner_kind, t.product_code_native, t.product_code,
           sum(t.value) AS value
    FROM staging.trade_flows AS t
    JOIN reporter_years AS ry USING (source, reporter, year)
    WHERE t.flow = 'import' AND t.is_detail
      AND t.product_code IN (SELECT product_code FROM wanted)
      AND (t.reporter IN ('EU27', 'NLD') OR t.reporter IN (SELECT iso3 FROM members))
      AND t.freq = CASE WHEN ry.has_annual THEN 'A' ELSE 'M' END
    GROUP BY ALL
),
direct_bloc AS (
    SELECT DISTINCT source, year, product_code_native FROM annual WHERE reporter = 'EU27'
),
by_reporter AS (
    SELECT source, reporter, year, partner, partner_kind, product_code, value
    FROM annual WHERE reporter IN ('EU27', 'NLD')
    UNION ALL
    SELECT a.source, 'EU27', a.year, a.partner, a.partner_kind, a.product_code, a.value
    FROM annual AS a
    JOIN members AS m ON a.reporter = m.iso3
    ANTI JOIN direct_bloc AS d USING (source, year, product_code_native)
)
SELECT r.source, r.reporter, r.product_code, r.year, r.partner, sum(r.value)::DOUBLE AS value
FROM by_reporter AS r
JOIN wanted AS w USING (source, reporter, product_code)
WHERE r.partner_kind = 'country' AND r.partner <> r.reporter AND r.partner NOT IN (SELECT iso3 FROM members)
GROUP BY ALL
HAVING sum(r.value) > 0
ORDER BY ALL
"""


@dataclass
class SupplierShares:
    """Per product key (source|reporter|product_code): years, the suppliers shown and their shares."""

    products: dict[str, dict] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    origin: str = ""  # where the partner values came from, said on the page


def product_key(source: str, reporter: str, product_code: str) -> str:
    return f"{source}|{reporter}|{product_code}"


def supplier_shares(conn, published_hhi: dict[tuple[str, int], float | None], names: dict[str, str],
                    other_label: str = "Other non-EU countries") -> SupplierShares:
    """Shares by supplier and year. ``published_hhi`` maps (key, year) to the screen's hhi_extra."""
    values: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    published = has_published_shares(conn)
    for r in rows(conn, PUBLISHED_VALUES if published else REDERIVED_VALUES):
        values[product_key(r["source"], r["reporter"], r["product_code"])][r["year"]][r["partner"]] = r["value"]
    out = SupplierShares(origin="monitor.supplier_shares" if published else "staging.trade_flows")
    for key in sorted(values):
        by_year = values[key]
        years = sorted(by_year)
        totals = {y: sum(by_year[y].values()) for y in years}
        shares = {y: {p: v / totals[y] for p, v in by_year[y].items()} for y in years}
        bad = [y for y in years if not _hhi_matches(shares[y], published_hhi.get((key, y)))]
        if bad:
            out.mismatches.append(f"{key} {bad}")
            continue
        overall: dict[str, float] = defaultdict(float)
        for y in years:
            for partner, share in shares[y].items():
                overall[partner] += share
        shown = sorted(overall, key=lambda p: (-overall[p], p))[:TOP_SUPPLIERS]
        series = []
        for y in years:
            row = [shares[y].get(p, 0.0) for p in shown]
            series.append({"year": y, "shares": row, "other": max(0.0, 1.0 - sum(row)),
                           "n_suppliers": len(shares[y]), "total": totals[y]})
        out.products[key] = {
            "suppliers": shown,
            "supplier_names": [names.get(p, p) for p in shown],
            "other_label": other_label,
            "years": series,
        }
    return out


def has_published_shares(conn) -> bool:
    return bool(conn.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                             "AND schema_name = 'monitor' AND table_name = 'supplier_shares'").fetchall()[0][0])


def _hhi_matches(shares: dict[str, float], published: float | None) -> bool:
    if published is None:
        return not shares
    return abs(sum(s * s for s in shares.values()) - published) <= HHI_TOLERANCE
