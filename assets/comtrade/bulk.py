"""UN Comtrade bulk files (premium key) for a configured list of reporters and years, into
``<data dir>/raw/comtrade/bulk/``; ``raw/comtrade_records`` reads them as bulk TSV.

The default (empty) plan makes no call, so offline runs stay offline. ``geomon fetch comtrade-bulk`` is
this asset with its config filled from the flags.
"""

from dagster import AssetExecutionContext, AssetKey, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.comtrade.api import COMTRADE_POOL, page_store
from pipeline.clients.comtrade.bulk import BulkStore, sync_bulk
from pipeline.clients.comtrade.plan import PlanError, PlanSpec
from pipeline.resources import ComtradeClient, DataFolder

BULK_KEY = AssetKey(["raw", "comtrade_bulk_files"])
BULK_OP = BULK_KEY.to_python_identifier()


class ComtradeBulkPlan(Config):
    reporters: list[int] = Field(default=[], description="Comtrade reporter codes, e.g. [528, 276].")
    years: list[int] = Field(default=[], description="Years, e.g. [2022, 2023].")
    allow_partial: bool = Field(default=False, description="Succeed even when some files failed.")


def bulk_store(data: DataFolder) -> BulkStore:
    return BulkStore(page_store(data).dir)


@asset(key=BULK_KEY, group_name="comtrade", pool=COMTRADE_POOL, kinds={"python"})
def comtrade_bulk_files(context: AssetExecutionContext, config: ComtradeBulkPlan, comtrade: ComtradeClient,
                        data: DataFolder) -> MaterializeResult:
    """UN Comtrade final bulk files (gzip TSV, one per reporter, year and classification) of the configured
    reporters and years, verified (listed size, gzip CRC) and stored in <data dir>/raw/comtrade/bulk/; a new
    publication archives the file it replaces. Needs a premium COMTRADE_API_KEY. Default plan: no call."""
    if not config.reporters and not config.years:
        context.log.info("Comtrade bulk plan is empty: no call made")
        return MaterializeResult(metadata={"calls": 0, "plan": "empty (set reporters and years to fetch)"})
    try:
        spec = PlanSpec.build(reporters=config.reporters, years=config.years)
    except PlanError as exc:
        raise Failure(description=str(exc)) from None
    if not comtrade.has_key:
        raise Failure(description="Comtrade bulk files need a premium COMTRADE_API_KEY; none is set")
    store = bulk_store(data)
    with comtrade.open_session(log=context.log) as api:
        result = sync_bulk(api, store, list(spec.reporters), list(spec.years), log=context.log)
        http = api.fetcher.stats.as_dict()
    metadata = {
        "reporter_years": result.planned, "files_listed": result.listed, "downloaded": len(result.downloaded),
        "up_to_date": result.up_to_date, "archived": result.archived, "bytes": result.bytes,
        "not_listed": MetadataValue.json(result.missing), "failures": MetadataValue.json(result.failures[:20]),
        "files": MetadataValue.json(result.downloaded[:50]), "http": MetadataValue.json(http),
        "complete": result.complete, "folder": str(store.dir),
    }
    if not result.complete:
        message = (f"Comtrade bulk plan incomplete: {result.stopped or f'{len(result.failures)} file(s) failed'}; "
                   "files stored are kept, a rerun resumes. " + " | ".join(result.failures[:3]))
        if not config.allow_partial:
            raise Failure(description=message, metadata=metadata)
        context.log.warning(message)
    return MaterializeResult(metadata=metadata)
