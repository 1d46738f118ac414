"""Eurostat Comext assets: fetching monthly bulk files and SDMX extracts, and ingesting them as
``raw.comext_sdmx`` and ``raw.comext_bulk``.

:func:`source_definitions` is what the source registry (``pipeline/sources/comext``) points to.
"""


def source_definitions():
    """The source's assets (the bulk fetch asset's month partitions start at ``assets.comext.api.DEFAULT_BULK_START``),
    sensors and client resource."""
    from dagster import Definitions

    from assets.comext.api import comext_bulk_months, comext_fetch_assets, comext_sensors
    from assets.comext.records import comext_bulk, comext_sdmx
    from pipeline.sources.comext.resource import ComextApi

    return Definitions(
        assets=[comext_sdmx, comext_bulk, *comext_fetch_assets, comext_bulk_months],
        sensors=comext_sensors,
        resources={"comext_api": ComextApi()},
    )
