"""The offline HTML report of a published monitor.

``write_report(database, target)`` renders one self-contained page from a published
``geomonitor.duckdb`` (opened read-only); ``write_latest_report(paths)`` places it for
the latest snapshot: ``<snapshot>/report/index.html`` and ``<data>/report/index.html``.

Modules, one job each: ``queries`` (SQL on the published tables), ``supplier_shares``
(the per-supplier breakdown, checked against the published HHI), ``content`` (gathers
page and chart data), ``charts`` (plotly figure specs), ``formatting`` (numbers and
labels), ``render`` (the HTML, with ``static/``), ``build`` (write one file),
``latest`` (where the files of the latest snapshot go).
"""

from pipeline.report.build import ReportResult, write_report
from pipeline.report.latest import REPORT_FILE, LatestReport, ReportError, latest_report_path, write_latest_report

__all__ = ["REPORT_FILE", "LatestReport", "ReportError", "ReportResult", "latest_report_path", "write_latest_report",
           "write_report"]
