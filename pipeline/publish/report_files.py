"""The report files of a publication: the snapshot's own copy and the data folder's copy of the latest.

A published snapshot is never modified: its ``report/index.html`` is written by the
publisher before the swap and listed in the manifest (``files``). The data folder's
copy, the one ``geomon report`` opens, is the snapshot's bytes when they are the
manifest's and the publisher's render of this very snapshot is known (``copy_latest_report``:
the monitor_report step of a run, which so renders the page once instead of twice);
otherwise (``write_latest_report``, and ``geomon report``) it is rendered again from the published
``geomonitor.duckdb`` and compared with the snapshot's: from the same database and code
the bytes are the same.

The report package renders pages and knows nothing of snapshots; this module is the
only place where the two meet, so the dependency runs one way (publish -> report).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.io import atomic_write_bytes
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
    copied: bool = False  # the snapshot's bytes copied (True) or the page rendered again (False)


def write_snapshot_report(database: Path, folder: Path) -> tuple[dict, ReportResult]:
    """The offline HTML report of a publication about to be swapped in: as the manifest lists it, and the render."""
    from pipeline.report import write_report  # plotly is imported only when a report is written

    result = write_report(database, folder / REPORT_FILE)
    return {REPORT_FILE: {"bytes": result.bytes, "sha256": result.sha256}}, result


def report_summary(result: ReportResult) -> dict:
    """A render's figures as JSON (the publication's metadata), for ``copy_latest_report``."""
    summary = asdict(result)
    summary["path"] = str(result.path)
    summary["share_mismatches"] = list(result.share_mismatches)
    summary["dependent_by_domain"] = {s: {d: list(v) for d, v in ds.items()}
                                      for s, ds in result.dependent_by_domain.items()}
    return summary


def copy_latest_report(paths: DataPaths, summary: dict | None) -> LatestReport | None:
    """The latest snapshot's report copied into the data folder, when ``summary`` (``report_summary`` of the
    publisher's render) is of that snapshot, the published file holds it, and the snapshot's page has the
    checksum its manifest lists; None otherwise (then ``write_latest_report`` renders it)."""
    from pipeline.report import ReportResult

    started = time.perf_counter()
    folder = snapshot_dir(paths, None)
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = manifest.get("files", {}).get(REPORT_FILE)
    copy = folder / REPORT_FILE
    if not summary or not listed or summary.get("snapshot_id") != manifest["snapshot_id"] \
            or summary.get("sha256") != listed["sha256"] or not copy.is_file() or not paths.published_db.is_file():
        return None
    if _published_snapshot(paths.published_db) != manifest["snapshot_id"]:
        return None  # a publication ran meanwhile: rendering says so
    data = copy.read_bytes()
    if len(data) != listed["bytes"] or hashlib.sha256(data).hexdigest() != listed["sha256"]:
        return None
    target = latest_report_path(paths)
    atomic_write_bytes(target, data)
    result = ReportResult(**{
        **summary, "path": target, "seconds": time.perf_counter() - started,
        "share_mismatches": tuple(summary["share_mismatches"]),
        "dependent_by_domain": {s: {d: tuple(v) for d, v in ds.items()}
                                for s, ds in summary["dependent_by_domain"].items()}})
    return LatestReport(result, folder, copy, True, copied=True)


def _published_snapshot(database: Path) -> str | None:
    import duckdb

    try:
        with duckdb.connect(str(database), read_only=True) as con:
            return con.execute("SELECT any_value(snapshot_id) FROM meta.publication").fetchall()[0][0]
    except duckdb.Error:
        return None


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
