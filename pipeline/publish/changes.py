"""monitor.changes: what moved since the previous publication, computed while publishing.

The previous figures are the published ``geomonitor.duckdb`` itself, attached read-only
before it is replaced, so the comparison is always against what users last saw. The first
publication (or one after a file without the screens) gets an empty table with the same
columns. The SQL is ``changes.sql`` beside this module.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.io import sql_string

TABLE = "monitor.changes"
DESCRIPTION = ("What changed since the previous publication, per screen key (EC screen, world-supply screen, "
               "dependence on NL and on the EU): newly_dependent, no_longer_dependent, top_supplier_changed, "
               "hhi_moved (more than changes_hhi_move), with previous and new values and both snapshot ids. "
               "Empty for the first publication.")
SQL_FILE = Path(__file__).with_name("changes.sql")
# each screen's keys, flag, top supplier and HHI, read the same way from this publication ({db} empty) and
# from the previous one ({db} 'prev.'); a table the previous file lacks gives no previous rows
SCREENS = {
    "ec_screen": "SELECT 'ec_screen' AS screen, source, reporter, year, product_code, dependent, top_supplier, "
                 "hhi_extra AS hhi FROM {db}monitor.ec_screen",
    "world_supply_screen": "SELECT 'world_supply_screen', source, importer, year, product_code, flagged, "
                           "top_supplier, importer_hhi FROM {db}monitor.world_supply_screen",
    "supplier_dependence": "SELECT CASE supplier WHEN 'NLD' THEN 'dependence_on_nl' ELSE 'dependence_on_eu' END, "
                           "source, importer, year, product_code, depends, importer_top_partner, importer_hhi "
                           "FROM {db}monitor.supplier_dependence",
}
EMPTY = ("SELECT NULL::VARCHAR AS screen, NULL::VARCHAR AS source, NULL::VARCHAR AS reporter, NULL::INTEGER AS year, "
         "NULL::VARCHAR AS product_code, NULL::BOOLEAN AS dependent, NULL::VARCHAR AS top_supplier, "
         "NULL::DOUBLE AS hhi WHERE false")


def build_changes(conn: duckdb.DuckDBPyConnection, previous_db: Path, snapshot_id: str,
                  hhi_move: float = 0.1) -> dict[str, int]:
    """Create ``monitor.changes`` in the warehouse against ``previous_db``; the number of changes of each kind."""
    conn.execute("SET VARIABLE changes_hhi_move = ?", [hhi_move])
    previous_id, parts = None, []
    attached = previous_db.is_file()
    if attached:
        conn.execute(f"ATTACH {sql_string(previous_db)} AS prev (READ_ONLY)")
    try:
        if attached:
            present = {t for (t,) in conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'prev' AND schema_name = 'monitor'"
            ).fetchall()}
            parts = [sql.format(db="prev.") for table, sql in SCREENS.items() if table in present]
            if parts:
                previous_id = conn.execute("SELECT snapshot_id FROM prev.meta.publication").fetchall()[0][0]
        previous = "\n    UNION ALL\n    ".join(parts) if parts else EMPTY
        conn.execute(f"CREATE OR REPLACE TABLE {TABLE} AS " + SQL_FILE.read_text().format(
            current="\n    UNION ALL\n    ".join(sql.format(db="") for sql in SCREENS.values()), previous=previous),
                     [previous_id, snapshot_id, bool(parts)])
    finally:
        if attached:
            conn.execute("DETACH prev")
    return dict(conn.execute(f"SELECT change, count(*) FROM {TABLE} GROUP BY ALL ORDER BY ALL").fetchall())
