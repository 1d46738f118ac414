"""The report files of a publication: the snapshot's own copy and the data folder's copy of the latest.

A published snapshot is never modified: its ``report/index.html`` is written by the
publisher before the swap and listed in the manifest (``files``). The data folder's
copy, the one ``geomon report`` opens, is rendered again from the published
``geomonitor.duckdb`` and compared with the snapshot's: from the same database and code
the bytes are the same.

The report package renders pages and knows nothing of snapshots; this module is the
only place where the two meet, so the dependency runs one way (publish -> report).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.paths import REPORT_FILE, DataPaths
from pipeline.publish.snapshots import snapshot_dir

if TYPE_CHECKING:
    from pipeline.report import ReportResult



class ReportError(Exception):
    """The latest report cannot be written consistently (e.g. a publication ran meanwhile)."""


@dataclass(frozen=True)
class LatestReport:
    result: ReportResult
    snapshot_dir: Path
    snapshot_copy: Path | None  # the snapshot's listed report, None when its publication had none
    matches_snapshot: bool | None  # same bytes as the snapshot's copy (None: no copy to compare)


def write_snapshot_report(database: Path, folder: Path) -> dict:
    """The offline HTML report of a publication about to be swapped in, as the manifest lists it."""
    from pipeline.report import write_report  # plotly is imported only when a report is written

    result = write_report(database, folder / REPORT_FILE)
    return {REPORT_FILE: {"bytes": result.bytes, "sha256": result.sha256}}


def latest_report_path(paths: DataPaths) -> Path:
    return paths.root / REPORT_FILE


def write_latest_report(paths: DataPaths) -> LatestReport:
    """Render the latest publication's report into the data folder and compare it with the snapshot's copy."""
    from pipeline.report import MissingSharesError, write_report  # plotly is imported only when a report is written

    folder = snapshot_dir(paths, None)
    manifest = json.loads((folder / "manifest.json").read_text())
    if not paths.published_db.is_file():
        raise ReportError(f"no published database at {paths.published_db}")
    try:
        result = write_report(paths.published_db, latest_report_path(paths), manifest=manifest)
    except MissingSharesError as exc:
        raise ReportError(f"{paths.published_db}: {exc}") from exc
    if result.snapshot_id != manifest["snapshot_id"]:
        raise ReportError(
            f"{paths.published_db} holds snapshot {result.snapshot_id} but LATEST is {manifest['snapshot_id']}: "
            "a publication ran meanwhile; run the report again"
        )
    listed = manifest.get("files", {}).get(REPORT_FILE)
    copy = folder / REPORT_FILE
    if not listed or not copy.is_file():
        return LatestReport(result, folder, None, None)
    return LatestReport(result, folder, copy, listed["sha256"] == result.sha256)
