"""monitor.changes: what moved since the previous publication, computed while publishing.

The previous figures are the published ``geomonitor.duckdb`` itself, attached read-only
before it is replaced, so the comparison is always against what users last saw. The first
publication (or one after a file without the screens) gets an empty table with the same
columns. The SQL is ``changes.sql`` beside this module; the screens it compares are declared by their
tables (``-- changes <screen>: keys ...; flag ...; top ...; hhi ...``, pipeline/contracts.py).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline import catalog
from pipeline.io import sql_string

TABLE = catalog.CHANGES_TABLE
DESCRIPTION = ("What changed since the previous publication, per screen key (EC screen, world-supply screen, "
               "dependence on NL and on the EU): newly_dependent, no_longer_dependent, top_supplier_changed, "
               "hhi_moved (more than changes_hhi_move), with previous and new values and both snapshot ids. "
               "Empty for the first publication.")
SQL_FILE = catalog.CHANGES_SQL
EMPTY = ("SELECT NULL::VARCHAR AS screen, NULL::VARCHAR AS source, NULL::VARCHAR AS reporter, NULL::INTEGER AS year, "
         "NULL::VARCHAR AS product_code, NULL::BOOLEAN AS dependent, NULL::VARCHAR AS top_supplier, "
         "NULL::DOUBLE AS hhi WHERE false")


def build_changes(conn: duckdb.DuckDBPyConnection, previous_db: Path, snapshot_id: str,
                  hhi_move: float = 0.1) -> dict[str, int]:
    """Create ``monitor.changes`` in the warehouse against ``previous_db``; the number of changes of each kind."""
    conn.execute("SET VARIABLE changes_hhi_move = ?", [hhi_move])
    # each screen's keys, flag, top supplier and HHI, read the same way from this publication (db '') and from the
    # previous one (db 'prev.'); a table the previous file lacks gives no previous rows
    screens = catalog.change_screens()
    previous_id, parts = None, []
    attached = previous_db.is_file()
    if attached:
        conn.execute(f"ATTACH {sql_string(previous_db)} AS prev (READ_ONLY)")
    try:
        if attached:
            present = {t for (t,) in conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'prev' AND schema_name = 'monitor'"
            ).fetchall()}
            parts = [screen.select(table, "prev.") for table, screen in screens if table.split(".")[1] in present]
            if parts:
                previous_id = conn.execute("SELECT snapshot_id FROM prev.meta.publication").fetchall()[0][0]
        previous = "\n    UNION ALL\n    ".join(parts) if parts else EMPTY
        conn.execute(f"CREATE OR REPLACE TABLE {TABLE} AS " + SQL_FILE.read_text().format(
            current="\n    UNION ALL\n    ".join(screen.select(table) for table, screen in screens), previous=previous),
                     [previous_id, snapshot_id, bool(parts)])
    finally:
        if attached:
            conn.execute("DETACH prev")
    return dict(conn.execute(f"SELECT change, count(*) FROM {TABLE} GROUP BY ALL ORDER BY ALL").fetchall())
