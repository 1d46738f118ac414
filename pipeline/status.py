"""The coverage matrix: what the fetch stores hold on disk (Comtrade pages and bulk files per reporter-year,
Comext bulk files per month), their release, records, whether the working database read them and whether the
latest publication includes them, and what the revision sensors would look at.

Reads only small JSON state files and, read-only, the working and published DuckDB files; makes no request.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
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


def _in_db(path: Path, ingested: dict, published) -> tuple[int | None, bool, bool]:
    """(rows read, read by the warehouse at its current size, included in the latest publication)."""
    hit = ingested.get(str(path))
    if hit is None:
        return None, False, False
    size, rows, at = hit
    current = path.exists() and path.stat().st_size == size
    in_pub = bool(current and published is not None and at is not None and str(at) <= str(published))
    return rows, current, in_pub


def coverage(paths: DataPaths) -> list[dict]:
    from pipeline.clients.comext.store import ComextRawStore
    from pipeline.clients.comtrade.bulk import BulkStore
    from pipeline.clients.comtrade.store import PageStore
    from pipeline.clients.landing import read_json

    ingested, published = _ingested(paths), _published_at(paths)
    rows: list[dict] = []

    # Comtrade API pages, per reporter-year
    pages = PageStore(paths.comtrade_pages)
    availability = pages.load("_availability.json", {})
    plan = pages.load("_plan.json", {}) or {}
    checked = availability.get("checked_at")
    due = True
    if checked:
        try:
            due = datetime.fromisoformat(checked) < datetime.now(timezone.utc) - timedelta(hours=24)
        except ValueError:
            pass
    watched = {f"{r}:{y}" for r in plan.get("reporters", []) for y in plan.get("years", [])}
    per_ry: dict[str, dict] = {}
    if pages.dir.is_dir():
        for name, entry in pages.index().items():
            req = entry["request"]
            for r in req["reporters"]:
                for p in req["periods"]:
                    cell = per_ry.setdefault(f"{r}:{p}", {"files": 0, "records": 0, "rows": 0, "read": True,
                                                          "published": True, "retrieved": ""})
                    cell["files"] += 1
                    cell["records"] += int(entry.get("count") or 0) if len(req["reporters"]) * len(req["periods"]) == 1 else 0
                    n, read, pub = _in_db(pages.dir / name, ingested, published)
                    cell["rows"] += n or 0
                    cell["read"] &= read
                    cell["published"] &= pub
                    cell["retrieved"] = max(cell["retrieved"], str(entry.get("retrieved_at") or ""))
    for key in sorted(per_ry | {k: None for k in watched}):
        cell = per_ry.get(key) or {"files": 0, "records": 0, "rows": 0, "read": False, "published": False, "retrieved": ""}
        r, y = key.split(":")
        mark = availability.get("releases", {}).get(key, "")
        release = ",".join(sorted({part.split("@", 1)[1].split("#", 1)[0] for part in mark.split("|") if "@" in part})) or "?"
        rows.append({"source": "comtrade-api", "reporter": r, "period": y, "fetched": cell["files"] > 0,
                     "files": cell["files"], "release": release, "retrieved": cell["retrieved"][:19],
                     "records": cell["records"], "rows_in_warehouse": cell["rows"], "in_warehouse": cell["read"],
                     "in_latest_publication": cell["published"],
                     "sensor": ("getDa check due" if due else "watched") if key in watched else "-"})

    # Comtrade bulk files, per reporter-year-classification
    bulk = BulkStore(paths.comtrade_pages)
    for key, entry in sorted(bulk.held().items()):
        n, read, pub = _in_db(bulk.dir / entry["file"], ingested, published)
        rows.append({"source": "comtrade-bulk", "reporter": str(entry["reporterCode"]), "period": entry["period"],
                     "fetched": (bulk.dir / entry["file"]).is_file(), "files": 1,
                     "release": str(entry.get("publicationDate") or "?")[:10],
                     "retrieved": str(entry.get("fetched_at") or "")[:19], "records": None,
                     "rows_in_warehouse": n, "in_warehouse": read, "in_latest_publication": pub,
                     "sensor": "-"})

    # Comext bulk files, per month (all reporters)
    store = ComextRawStore.at(paths.root)
    try:
        meta = store.read()
    except Exception:  # noqa: BLE001 - a broken sidecar is shown, not raised
        meta = {}
    for name, entry in sorted(meta.get("bulk", {}).items()):
        path = store.root / entry["file"]
        n, read, pub = _in_db(path, ingested, published)
        report = _conversion_rows(paths, entry)
        rows.append({"source": "comext-bulk", "reporter": "all", "period": entry.get("month") or name,
                     "fetched": path.is_file(), "files": 1, "release": str(entry.get("last_modified") or "?")[:19],
                     "retrieved": str(entry.get("fetched_at") or "")[:19], "records": report,
                     "rows_in_warehouse": n, "in_warehouse": read, "in_latest_publication": pub,
                     "sensor": "listing checked daily (comext_revisions)"})
    for qid, entry in sorted(meta.get("sdmx", {}).items()):
        for period, info in sorted(entry.get("periods", {}).items()):
            path = store.root / info["file"]
            n, read, pub = _in_db(path, ingested, published)
            rows.append({"source": "comext-sdmx", "reporter": ",".join(entry.get("query", {}).get("reporter") or ["all"]),
                         "period": period, "fetched": path.is_file(), "files": 1,
                         "release": str(info.get("last_update") or "?")[:19],
                         "retrieved": str(info.get("fetched_at") or "")[:19], "records": info.get("rows"),
                         "rows_in_warehouse": n, "in_warehouse": read, "in_latest_publication": pub,
                         "sensor": "refetched when the listing is newer than LAST UPDATE"})
    _ = read_json  # (kept for symmetry with the stores' own readers)
    return rows


def _conversion_rows(paths: DataPaths, entry: dict) -> int | None:
    import json

    sha = str(entry.get("sha256") or "")[:16]
    if not sha:
        return None
    for report in sorted(paths.comext_parquet.glob(f"*.{sha}.v*.json")):
        try:
            return int(json.loads(report.read_text(encoding="utf-8")).get("rows") or 0)
        except (OSError, ValueError):
            continue
    return None


def render(rows: list[dict], paths: DataPaths) -> str:
    if not rows:
        return (f"nothing fetched under {paths.root / 'raw'} yet (geomon fetch comtrade|comtrade-bulk|comext|"
                "comext-sdmx)")
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
