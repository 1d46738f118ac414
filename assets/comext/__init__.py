"""Eurostat Comext assets: fetching monthly bulk files and SDMX extracts, and ingesting them as
``raw.comext_sdmx`` and ``raw.comext_bulk``.

:func:`source_definitions` is what the source registry (``pipeline/sources/comext``) points to.
"""


def source_definitions(*, comext_bulk_start=None, **_options):
    """The source's assets, sensors and client resource; ``comext_bulk_start`` (YYYY-MM) is the first month
    partition of the bulk fetch asset."""
    from dagster import Definitions

    from assets.comext.api import DEFAULT_BULK_START, comext_bulk_months_asset, comext_fetch_assets, comext_sensors
    from assets.comext.records import comext_bulk, comext_sdmx
    from pipeline.sources.comext.resource import ComextApi

    return Definitions(
        assets=[comext_sdmx, comext_bulk, *comext_fetch_assets,
                comext_bulk_months_asset(comext_bulk_start or DEFAULT_BULK_START)],
        sensors=comext_sensors,
        resources={"comext_api": ComextApi()},
    )
