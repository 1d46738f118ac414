"""The report of the latest publication: ``<data>/report/index.html``, checked against the snapshot's copy.

A published snapshot is never modified: its own ``report/index.html`` is written by the
publisher before the swap and listed in the manifest (``files``). Here the report is
rendered again from the published ``geomonitor.duckdb`` into the data folder's fixed
location, the one ``geomon report`` opens, and compared with the snapshot's copy: from
the same database and code the bytes are the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.paths import DataPaths
from pipeline.publish import snapshot_dir
from pipeline.report.build import ReportResult, write_report

REPORT_FILE = "report/index.html"  # inside a snapshot folder, and inside the data folder


class ReportError(Exception):
    """The latest report cannot be written consistently (e.g. a publication ran meanwhile)."""


@dataclass(frozen=True)
class LatestReport:
    result: ReportResult
    snapshot_dir: Path
    snapshot_copy: Path | None  # the snapshot's listed report, None when its publication had none
    matches_snapshot: bool | None  # same bytes as the snapshot's copy (None: no copy to compare)


def latest_report_path(paths: DataPaths) -> Path:
    return paths.root / REPORT_FILE


def write_latest_report(paths: DataPaths) -> LatestReport:
    folder = snapshot_dir(paths, None)
    manifest = json.loads((folder / "manifest.json").read_text())
    if not paths.published_db.is_file():
        raise ReportError(f"no published database at {paths.published_db}")
    result = write_report(paths.published_db, latest_report_path(paths), manifest=manifest)
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
