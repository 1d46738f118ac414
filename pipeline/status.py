"""The coverage matrix: what the fetch stores hold on disk (per source: Comtrade pages and bulk files per
reporter-year, Comext bulk files per month, BACI zips per HS edition), their release, records, whether the
working database read them and whether the latest publication includes them, and what the revision sensors would
look at. Each registered source gives its own rows (pipeline/sources/<name>/status.py).

Reads only small JSON state files and, read-only, the working and published DuckDB files; makes no request.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.paths import DataPaths


def _ingested(paths: DataPaths) -> dict[str, tuple[int, int, object]]:
    """path -> (size, rows, ingested_at) of every file the working database read (empty without one)."""
    import duckdb

    if not paths.warehouse.exists():
        return {}
    try:
        con = duckdb.connect(str(paths.warehouse), read_only=True)
    except duckdb.Error:
        return {}
    try:
        return {p: (s, r, t) for p, s, r, t in con.execute(
            "SELECT path, size_bytes, rows, ingested_at FROM raw.ingested_files").fetchall()}
    except duckdb.Error:
        return {}
    finally:
        con.close()


def _published_at(paths: DataPaths):
    import duckdb

    if not paths.published_db.exists():
        return None
    try:
        con = duckdb.connect(str(paths.published_db), read_only=True)
    except duckdb.Error:
        return None
    try:
        cols = [r[0] for r in con.execute("DESCRIBE meta.publication").fetchall()]
        col = next((c for c in cols if "published" in c or c.endswith("_at")), None)
        return con.execute(f'SELECT max("{col}") FROM meta.publication').fetchone()[0] if col else None
    except duckdb.Error:
        return None
    finally:
        con.close()


def in_db(path: Path, ingested: dict, published) -> tuple[int | None, bool, bool]:
    """(rows read, read by the warehouse at its current size, included in the latest publication)."""
    hit = ingested.get(str(path))
    if hit is None:
        return None, False, False
    size, rows, at = hit
    current = path.exists() and path.stat().st_size == size
    in_pub = bool(current and published is not None and at is not None and str(at) <= str(published))
    return rows, current, in_pub


def coverage(paths: DataPaths) -> list[dict]:
    """Every registered source's rows (its ``status`` function), in registry order."""
    from pipeline.sources import load
    from pipeline.sources.registry import SOURCES

    ingested, published = _ingested(paths), _published_at(paths)
    return [row for s in SOURCES if s.status for row in load(s.status)(paths, ingested, published)]


def render(rows: list[dict], paths: DataPaths) -> str:
    if not rows:
        return f"nothing fetched under {paths.root / 'raw'} yet (geomon fetch --help lists the sources)"
    head = ("source", "reporter", "period", "fetched", "release", "records", "rows read", "in warehouse",
            "in latest pub.", "revision sensor")
    table = [head] + [(r["source"], r["reporter"], r["period"], "yes" if r["fetched"] else "NO", r["release"],
                       "" if r["records"] is None else f"{r['records']:,}",
                       "" if r["rows_in_warehouse"] is None else f"{r['rows_in_warehouse']:,}",
                       "yes" if r["in_warehouse"] else "no", "yes" if r["in_latest_publication"] else "no",
                       r["sensor"]) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
