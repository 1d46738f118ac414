"""Publication: build everything users read under temporary names, then swap it in.

Modules, one job each: ``guard`` (the audit before a publication: nothing smaller than the current one
unless accepted, never one without flows), ``write`` (one publication: snapshot, analysts' file, report,
then the atomic swap), ``database`` (the analysts' ``geomonitor.duckdb``, rewritten
year by year where it can be), ``report_files`` (the report's copies in the snapshot
and the data folder), ``snapshots`` (the catalog: LATEST, pins, retention, export,
verification).
"""

from pipeline.publish.guard import Guard, PublicationRefused, Verdict
from pipeline.publish.report_files import (REPORT_FILE, LatestReport, ReportError, latest_report_path,
                                           write_latest_report)
from pipeline.publish.snapshots import (SNAPSHOT_ID, SnapshotError, apply_retention, export_snapshot,
                                        latest_snapshot_id, list_snapshots, pinned_snapshots, set_pinned,
                                        snapshot_dir, verify_folder, verify_snapshot)
from pipeline.publish.write import Publication, code_version, publish

__all__ = ["REPORT_FILE", "SNAPSHOT_ID", "Guard", "LatestReport", "Publication", "PublicationRefused", "ReportError",
           "SnapshotError", "Verdict",
           "apply_retention", "code_version", "export_snapshot", "latest_report_path", "latest_snapshot_id",
           "list_snapshots", "pinned_snapshots", "publish", "set_pinned", "snapshot_dir", "verify_folder",
           "verify_snapshot", "write_latest_report"]
