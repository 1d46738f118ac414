"""The report's view of methodology section 8: dependencies hidden behind intermediaries and the
supplier-loss stress test, read from the published tables (absent in older publications: empty)."""

from __future__ import annotations

from pipeline.report.queries import columns, rows

TOP_LOSS_SUPPLIERS = 12  # largest suppliers offered in the "if a supplier stopped" picker, beside every SPOF


def hidden_dependencies(conn) -> list[dict]:
    """NL and EU27 products whose look-through HHI passes the screen's threshold while the direct one
    does not, in each source's latest year."""
    if not columns(conn, "monitor", "indirect_dependencies"):
        return []
    return rows(conn, """
        WITH latest AS (
            SELECT source, max(year) AS year FROM monitor.indirect_dependencies GROUP BY source
        )
        SELECT i.source, i.currency, i.importer, i.year, i.product_code,
               coalesce(p.description, i.product_code) AS product, i.domain,
               i.top_direct_supplier, i.top_direct_share, i.top_ultimate_supplier, i.top_ultimate_share,
               i.direct_hhi, i.look_through_hhi, s.via, i.synthetic
        FROM monitor.indirect_dependencies AS i
        JOIN latest AS l ON l.source = i.source AND l.year = i.year
        LEFT JOIN monitor.look_through_shares AS s
            ON s.source = i.source AND s.importer = i.importer AND s.year = i.year
           AND s.product_code = i.product_code AND s.ultimate_supplier = i.top_ultimate_supplier
        LEFT JOIN reference.hs_products AS p ON p.code = i.product_code AND p.level = '6'
        WHERE i.importer IN ('NLD', 'EU27') AND i.hidden_dependency
        ORDER BY i.source, i.importer, i.look_through_hhi DESC, i.product_code
    """)


HIDDEN_ON_SUPPLIER_SHOWN = 60  # rows listed per supplier; the count says how many there are


def hidden_dependence_on_supplier(conn) -> dict:
    """Third countries that depend on Dutch (or the EU's) supply without buying it from the Netherlands (the
    EU): hidden_dependence of monitor.supplier_dependence in each source's latest year, largest look-through
    share first; per supplier the count and the first rows."""
    if "hidden_dependence" not in columns(conn, "monitor", "supplier_dependence"):
        return {"available": False, "suppliers": []}
    found = rows(conn, """
        WITH latest AS (
            SELECT source, max(year) AS year FROM monitor.supplier_dependence GROUP BY source
        ),
        hidden AS (
            SELECT d.*, count(*) OVER (PARTITION BY d.supplier) AS n_hidden,
                   row_number() OVER (PARTITION BY d.supplier
                                      ORDER BY d.lt_supplier_share DESC, d.source, d.importer, d.product_code) AS rn
            FROM monitor.supplier_dependence AS d
            JOIN latest AS l ON l.source = d.source AND l.year = d.year
            WHERE d.hidden_dependence
        )
        SELECT h.supplier, h.n_hidden, h.source, h.year, h.importer, coalesce(c.name, h.importer) AS importer_name,
               h.product_code, coalesce(p.description, h.product_code) AS product, h.domain,
               h.supplier_share, h.lt_supplier_share, h.importer_top_partner, s.via, h.synthetic
        FROM hidden AS h
        LEFT JOIN reference.countries AS c ON c.iso3 = h.importer
        LEFT JOIN reference.hs_products AS p ON p.code = h.product_code AND p.level = '6'
        LEFT JOIN monitor.look_through_shares AS s
            ON h.supplier = 'NLD' AND s.source = h.source AND s.importer = h.importer AND s.year = h.year
           AND s.product_code = h.product_code AND s.ultimate_supplier = 'NLD'
        WHERE h.rn <= ?
        ORDER BY h.supplier DESC, h.rn
    """, [HIDDEN_ON_SUPPLIER_SHOWN])
    suppliers = []
    for supplier, label in (("NLD", "the Netherlands"), ("EU27", "the EU")):
        listed = [r for r in found if r["supplier"] == supplier]
        suppliers.append({"supplier": supplier, "label": label, "rows": listed,
                          "total": listed[0]["n_hidden"] if listed else 0})
    return {"available": True, "suppliers": suppliers}


def supplier_loss(conn) -> dict:
    """Per supplier (the largest by value at risk, and every single point of failure), what NL and the EU27 would lose by domain in the latest
    Comtrade year, and the products for which it is a single point of failure."""
    if not columns(conn, "monitor", "supplier_loss_by_domain"):
        return {"year": None, "suppliers": []}
    year = conn.execute("SELECT max(year) FROM monitor.supplier_loss_by_domain").fetchall()[0][0]
    # the largest suppliers, and every supplier that is a single point of failure for something
    top = rows(conn, """
        WITH totals AS (
            SELECT supplier, sum(value_at_risk) AS value, sum(single_points_of_failure) AS spof
            FROM monitor.supplier_loss_by_domain
            WHERE year = ? AND domain = 'all_products'
            GROUP BY ALL
        )
        SELECT t.supplier, coalesce(c.name, t.supplier) AS name, t.value, t.spof
        FROM totals AS t LEFT JOIN reference.countries AS c ON c.iso3 = t.supplier
        QUALIFY row_number() OVER (ORDER BY t.value DESC, t.supplier) <= ? OR t.spof > 0
        ORDER BY t.value DESC, t.supplier
    """, [year, TOP_LOSS_SUPPLIERS])
    wanted = [t["supplier"] for t in top]
    by_domain = rows(conn, """
        SELECT supplier, importer, currency, domain, value_at_risk, products_at_risk, single_points_of_failure
        FROM monitor.supplier_loss_by_domain
        WHERE year = ? AND list_contains(?, supplier)
        ORDER BY supplier, importer, domain = 'all_products', value_at_risk DESC, domain
    """, [year, wanted])
    spof = rows(conn, """
        SELECT l.supplier, l.importer, l.product_code, coalesce(p.description, l.product_code) AS product,
               l.share_at_risk, l.coverage, l.supplier_world_export_share
        FROM monitor.supplier_loss AS l
        LEFT JOIN reference.hs_products AS p ON p.code = l.product_code AND p.level = '6'
        WHERE l.year = ? AND l.single_point_of_failure AND list_contains(?, l.supplier)
        ORDER BY l.supplier, l.importer, l.value_at_risk DESC, l.product_code
    """, [year, wanted])
    suppliers = []
    for t in top:
        suppliers.append({
            **t,
            "domains": [r for r in by_domain if r["supplier"] == t["supplier"]],
            "spof": [r for r in spof if r["supplier"] == t["supplier"]],
        })
    return {"year": year, "suppliers": suppliers}
