"""CEPII BACI's rows of ``geomon status``: one per zip held in raw/baci (HS edition and release)."""

from __future__ import annotations

from pipeline.paths import DataPaths
from pipeline.sources.baci.client import Folders
from pipeline.status import in_db


def coverage(paths: DataPaths, ingested: dict, published) -> list[dict]:
    folders = Folders(paths.raw_downloads)
    rows = []
    for name, entry in sorted(folders.held().items()):
        path = folders.current / name
        n, read, pub = in_db(path, ingested, published)
        years = sorted(m.split("_Y")[1][:4] for m in entry.get("members", []) if "_Y" in m)
        rows.append({"source": "baci", "reporter": "all", "period": f"{years[0]}-{years[-1]}" if years else "?",
                     "fetched": path.is_file(), "files": 1, "release": f"{entry.get('release')} {entry.get('edition')}",
                     "retrieved": str(entry.get("fetched_at") or "")[:19], "records": None,
                     "rows_in_warehouse": n, "in_warehouse": read, "in_latest_publication": pub,
                     "sensor": "- (yearly schedule baci_yearly)"})
    return rows
