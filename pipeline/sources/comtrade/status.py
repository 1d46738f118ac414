"""UN Comtrade's rows of ``geomon status``: API pages per reporter-year (with what the getDa revision check
would look at) and bulk files per reporter-year. Reads only the fetch stores' small JSON files."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pipeline.paths import DataPaths
from pipeline.status import in_db as _in_db


def coverage(paths: DataPaths, ingested: dict, published) -> list[dict]:
    """Comtrade API pages per reporter-year and bulk files per reporter-year-classification."""
    from pipeline.sources.comtrade.client.bulk import BulkStore
    from pipeline.sources.comtrade.client.store import PageStore

    rows: list[dict] = []

    # Comtrade API pages, per reporter-year
    pages = PageStore(paths.api_dir("comtrade"))
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
    bulk = BulkStore(paths.api_dir("comtrade"))
    for key, entry in sorted(bulk.held().items()):
        n, read, pub = _in_db(bulk.dir / entry["file"], ingested, published)
        rows.append({"source": "comtrade-bulk", "reporter": str(entry["reporterCode"]), "period": entry["period"],
                     "fetched": (bulk.dir / entry["file"]).is_file(), "files": 1,
                     "release": str(entry.get("publicationDate") or "?")[:10],
                     "retrieved": str(entry.get("fetched_at") or "")[:19], "records": None,
                     "rows_in_warehouse": n, "in_warehouse": read, "in_latest_publication": pub,
                     "sensor": "-"})
    return rows
