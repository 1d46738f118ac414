"""UN Comtrade assets: fetching API pages and bulk files, and ingesting them as ``raw.comtrade_records``.

:func:`source_definitions` is what the source registry (``pipeline/sources/comtrade``) points to.
"""


def source_definitions(*, comtrade_key=None):
    """The source's assets, sensor and client resource; ``comtrade_key`` None: the environment's key, read by
    pipeline.settings (never config); empty: the keyless preview."""
    from dagster import Definitions

    from assets.comtrade.api import comtrade_api_pages, comtrade_revision_sensor
    from assets.comtrade.bulk import comtrade_bulk_files
    from assets.comtrade.records import comtrade_records
    from pipeline.sources.comtrade.resource import ComtradeClient, ComtradeKey

    return Definitions(
        assets=[comtrade_api_pages, comtrade_bulk_files, comtrade_records],
        sensors=[comtrade_revision_sensor],
        resources={"comtrade": ComtradeClient(key=ComtradeKey(value=comtrade_key))},
    )
