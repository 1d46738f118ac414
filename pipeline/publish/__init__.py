"""Publication: build everything users read under temporary names, then swap it in.

Modules, one job each: ``guard`` (the audit before a publication: nothing smaller than the current one
unless accepted, never one without flows), ``write`` (one publication: snapshot, analysts' file, report,
then the atomic swap), ``database`` (the analysts' ``geomonitor.duckdb``, rewritten
year by year where it can be), ``report_files`` (the report's copies in the snapshot
and the data folder), ``snapshots`` (the catalog: LATEST, pins, retention, export,
verification).

The names below are imported from their module when first asked for (PEP 562): importing the package, or
one light module of it (``guard`` for the settings), does not import pyarrow, polars and the report's
libraries, which only a publication, an export or a verification needs (issue 28: `geomon run` starts
its first step sooner, `geomon snapshots` lists without them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_MODULE_OF = {
    **dict.fromkeys(("Guard", "PublicationRefused", "Verdict"), "guard"),
    **dict.fromkeys(("REPORT_FILE", "LatestReport", "ReportError", "latest_report_path", "write_latest_report"),
                    "report_files"),
    **dict.fromkeys(("SNAPSHOT_ID", "SnapshotError", "apply_retention", "export_snapshot", "latest_snapshot_id",
                     "list_snapshots", "pinned_snapshots", "set_pinned", "snapshot_dir", "verify_folder",
                     "verify_snapshot"), "snapshots"),
    **dict.fromkeys(("Publication", "code_version", "publish"), "write"),
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # asked once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


if TYPE_CHECKING:
    from pipeline.publish.guard import Guard, PublicationRefused, Verdict
    from pipeline.publish.report_files import (REPORT_FILE, LatestReport, ReportError, latest_report_path,
                                               write_latest_report)
    from pipeline.publish.snapshots import (SNAPSHOT_ID, SnapshotError, apply_retention, export_snapshot,
                                            latest_snapshot_id, list_snapshots, pinned_snapshots, set_pinned,
                                            snapshot_dir, verify_folder, verify_snapshot)
    from pipeline.publish.write import Publication, code_version, publish
