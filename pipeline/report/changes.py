"""The report's opening section: what changed since the previous publication (monitor.changes)."""

from __future__ import annotations

from pipeline.report.queries import columns, rows

SHOWN = 40  # changes listed by name; the counts cover all of them


def what_changed(conn) -> dict:
    """Counts per screen and kind of change, and the EU27 and NL screen changes that matter most first."""
    if not columns(conn, "monitor", "changes"):
        return {"available": False}
    counts = rows(conn, "SELECT screen, change, count(*) AS n FROM monitor.changes GROUP BY ALL ORDER BY ALL")
    previous = conn.execute("SELECT any_value(previous_snapshot_id) FROM monitor.changes").fetchall()[0][0]
    listed = rows(conn, """
        SELECT c.screen, c.source, c.reporter, c.year, c.product_code, c.change,
               coalesce(p.description, c.product_code) AS product,
               c.top_supplier_before, c.top_supplier_now, c.hhi_before, c.hhi_now
        FROM monitor.changes AS c
        LEFT JOIN reference.hs_products AS p ON p.code = c.product_code AND p.level = '6'
        WHERE c.screen = 'ec_screen' AND c.reporter IN ('EU27', 'NLD')
        ORDER BY c.change IN ('newly_dependent', 'no_longer_dependent') DESC, c.change, c.source, c.reporter,
                 c.year DESC, c.product_code
        LIMIT ?
    """, [SHOWN])
    return {"available": True, "previous": previous, "counts": counts, "listed": listed,
            "total": sum(c["n"] for c in counts)}
