"""The offline HTML report of a published monitor.

``write_report(database, target)`` renders one self-contained page from a published
``geomonitor.duckdb`` (opened read-only). Where its files go (into a snapshot, and the
data folder's copy of the latest) is the publisher's business: ``pipeline.publish.report_files``.

Modules, one job each: ``queries`` (SQL on the published tables), ``supplier_shares``
(the per-supplier breakdown, checked against the published HHI), ``content`` (gathers
page and chart data), ``charts`` (plotly figure specs), ``formatting`` (numbers and
labels), ``render`` (the HTML, with ``static/``), ``build`` (write one file).
"""

from pipeline.report.build import ReportResult, write_report
from pipeline.report.supplier_shares import MissingSharesError

__all__ = ["MissingSharesError", "ReportResult", "write_report"]
