"""UN Comtrade ingestion: API pages and bulk files from the input folders, as ``raw.comtrade_records``."""


from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from assets.ingest import ingest, input_contract_spec
from pipeline.freshness import freshness_policy
from pipeline.resources import DUCKDB_POOL, DataFolder, InputSettings, Warehouse
from pipeline.sources.comtrade import reader as comtrade
from pipeline.sources.comtrade.reader.parquet import cache_dir
from pipeline.sources.comtrade.reader.view import sync_comtrade_view

RECORDS_KEY = AssetKey(["raw", "comtrade_records"])


@asset(
    key=RECORDS_KEY,
    check_specs=[input_contract_spec(RECORDS_KEY)],
    group_name="comtrade",
    freshness_policy=freshness_policy("comtrade"),
    deps=[AssetKey(["raw", "demo_world"]), AssetKey(["raw", "comtrade_api_pages"]),
          AssetKey(["raw", "comtrade_bulk_files"])],
    pool=DUCKDB_POOL,
    kinds={"duckdb", "parquet"},
)
def comtrade_records(context: AssetExecutionContext, settings: InputSettings, warehouse: Warehouse,
                     data: DataFolder) -> MaterializeResult:
    """Every UN Comtrade record of the input folders (v1 API JSON pages or bulk TSV), typed, one row per
    record, with the file, record position and release it came from: a view over typed Parquet files
    (work/comtrade_parquet), each input file converted once per content: a bulk file on its own, the new API
    pages of a run together in one DuckDB read (a page that fails is quarantined alone). Where a bulk file and
    API pages hold the same frequency, reporter, year and flow, the bulk file's rows are the ones kept."""
    folder = cache_dir(data.paths())
    return ingest(
        context, settings, warehouse, data, source="comtrade", table=comtrade.TABLE, detect=comtrade.detect,
        sync=lambda conn, files: sync_comtrade_view(conn, files, folder), releases_from_ledger=True,
    )
