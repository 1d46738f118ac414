"""UN Comtrade ingestion: API pages and bulk files from the input folders into ``raw.comtrade_records``."""


from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from assets.ingest import ingest, input_contract_spec
from pipeline.readers import comtrade
from pipeline.freshness import COMTRADE_FRESHNESS
from pipeline.resources import DUCKDB_POOL, DataFolder, InputSettings, Warehouse


@asset(
    key=AssetKey(["raw", "comtrade_records"]),
    check_specs=[input_contract_spec(AssetKey(["raw", "comtrade_records"]))],
    group_name="comtrade",
    freshness_policy=COMTRADE_FRESHNESS,
    deps=[AssetKey(["raw", "demo_world"]), AssetKey(["raw", "comtrade_api_pages"]), AssetKey(["raw", "comtrade_bulk_files"])],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
)
def comtrade_records(context: AssetExecutionContext, settings: InputSettings, warehouse: Warehouse,
                     data: DataFolder) -> MaterializeResult:
    """Every UN Comtrade record of the input folders (v1 API JSON pages or bulk TSV), typed, one row per
    record, with the file, record position and release it came from. Re-reads only new or changed files."""
    return ingest(
        context, settings, warehouse, data,
        source="comtrade", table=comtrade.TABLE, columns=comtrade.COLUMNS,
        detect=comtrade.detect, select_for=comtrade.select_for, validate=comtrade.validate,
        row_rule=comtrade.ROW_RULE, year_of_row=comtrade.YEAR_OF_ROW,
    )
