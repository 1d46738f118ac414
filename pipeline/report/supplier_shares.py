"""Each non-EU supplier's share of EU27 and NL imports of a product, for the product charts.

The partner values come from the published mart ``monitor.supplier_shares``, built by
the same SQL as the screen; a publication without it cannot have its product charts
drawn, and says so (``MissingSharesError``) rather than re-deriving the shares by
other rules. Every product-year is checked against the published HHI: where the sum of
squared shares differs, the chart is withheld and the page says so (``mismatches``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pipeline.report.queries import columns, rows

TOP_SUPPLIERS = 7  # per product; the rest are shown as one "other" bar
HHI_TOLERANCE = 1e-6

PUBLISHED_VALUES = """
SELECT source, reporter, product_code, year, partner, value::DOUBLE AS value
FROM monitor.supplier_shares
WHERE reporter IN ('EU27', 'NLD') AND value > 0
ORDER BY ALL
"""


@dataclass
class SupplierShares:
    """Per product key (source|reporter|product_code): years, the suppliers shown and their shares."""

    products: dict[str, dict] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)


class MissingSharesError(LookupError):
    """The published file has no ``monitor.supplier_shares`` (published by older code)."""


def product_key(source: str, reporter: str, product_code: str) -> str:
    return f"{source}|{reporter}|{product_code}"


def supplier_shares(conn, published_hhi: dict[tuple[str, int], float | None], names: dict[str, str],
                    other_label: str = "Other non-EU countries") -> SupplierShares:
    """Shares by supplier and year. ``published_hhi`` maps (key, year) to the screen's hhi_extra."""
    if not columns(conn, "monitor", "supplier_shares"):
        raise MissingSharesError(
            "the published database has no monitor.supplier_shares (it was published by older code), so the "
            "report cannot chart supplier shares; publish again (geomon run) and render the report from that")
    values: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows(conn, PUBLISHED_VALUES):
        values[product_key(r["source"], r["reporter"], r["product_code"])][r["year"]][r["partner"]] = r["value"]
    out = SupplierShares()
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


def _hhi_matches(shares: dict[str, float], published: float | None) -> bool:
    if published is None:
        return not shares
    return abs(sum(s * s for s in shares.values()) - published) <= HHI_TOLERANCE
