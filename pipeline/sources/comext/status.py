"""Eurostat Comext's rows of ``geomon status``: bulk files per month and SDMX answers per period. Reads only
the fetch store's sidecar and conversion reports."""

from __future__ import annotations

from pipeline.paths import DataPaths
from pipeline.status import in_db as _in_db


def coverage(paths: DataPaths, ingested: dict, published) -> list[dict]:
    """Comext bulk files per month (all reporters) and SDMX answers per query and period."""
    from pipeline.sources.comext.client.store import ComextRawStore

    rows: list[dict] = []
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
    return rows


def _conversion_rows(paths: DataPaths, entry: dict) -> int | None:
    import json

    from pipeline.sources.comext.bulk_reader import parquet_dir

    sha = str(entry.get("sha256") or "")[:16]
    if not sha:
        return None
    for report in sorted(parquet_dir(paths).glob(f"*.{sha}.v*.json")):
        try:
            return int(json.loads(report.read_text(encoding="utf-8")).get("rows") or 0)
        except (OSError, ValueError):
            continue
    return None
