"""Eurostat Comext client, on the shared HTTP layer: ``listing`` (the bulk file service's listing and
which months changed), ``sdmx`` (SDMX 2.1 queries and answers), ``client`` (the requests: ranged bulk
downloads, SDMX with 413 splits and asynchronous answers) and ``store`` (``<data dir>/raw/comext`` with its
sidecar and archive).

Facts marked [3rd] in sources.md are used as documented there and checked against the local fake only: the
listing's date column name, the async endpoints ``<base>/1.0/async/status|data/<id>``. The Dagster resource
is ``pipeline.sources.comext.resource.ComextApi``; nothing here imports Dagster or the readers.
"""


class ComextError(Exception):
    """A Comext answer or file that cannot be used; the message names the request or file and the reason."""


class DamagedFile(ComextError):
    """A downloaded file that failed its test (CRC, header, rows): quarantined, the held copy stays current."""
