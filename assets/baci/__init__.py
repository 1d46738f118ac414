"""CEPII BACI assets: downloading one zip per HS edition (``raw/baci_files``) and ingesting the yearly CSVs
as ``raw.baci_flows``.

:func:`source_definitions` is what the source registry (``pipeline/sources/baci``) points to.
"""


def source_definitions():
    """The source's assets and download resource (no sensor: BACI is released once a year)."""
    from dagster import Definitions

    from assets.baci.records import baci_files, baci_flows
    from pipeline.sources.baci.resource import BaciApi

    return Definitions(assets=[baci_files, baci_flows], resources={"baci_api": BaciApi()})
