"""Eurostat Comext ingestion: SDMX-CSV API extracts and bulk full_v2 files into raw tables."""


from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from assets.ingest import ingest, input_contract_spec
from pipeline.sources.comext import reader as comext
from pipeline.sources.comext.bulk_reader import bulk_selector, parquet_dir, read_months_together
from pipeline.readers.raw_store import sync_raw_table
from pipeline.freshness import freshness_policy
from pipeline.resources import DUCKDB_POOL, DataFolder, InputSettings, Warehouse


def _only(*formats: str):
    def detect(path):
        fmt = comext.detect(path)
        return fmt if fmt in formats else None
    return detect


@asset(
    key=AssetKey(["raw", "comext_sdmx"]),
    check_specs=[input_contract_spec(AssetKey(["raw", "comext_sdmx"]))],
    group_name="comext",
    freshness_policy=freshness_policy("comext"),
    deps=[AssetKey(["raw", "demo_world"]), AssetKey(["raw", "comext_sdmx_files"])],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
)
def comext_sdmx(context: AssetExecutionContext, settings: InputSettings, warehouse: Warehouse,
                data: DataFolder) -> MaterializeResult:
    """Observations of Comext SDMX-CSV files (dataset DS-045409): one row per key, period and indicator,
    released as stated in the file's LAST UPDATE column."""
    return ingest(
        context, settings, warehouse, data, source="comext", table=comext.SDMX_TABLE, detect=_only("sdmx_csv"),
        sync=lambda conn, files: sync_raw_table(
            conn, comext.SDMX_TABLE, comext.SDMX_COLUMNS, files, comext.select_sdmx, comext.validate,
            comext.SDMX_ROW_RULE, comext.SDMX_YEAR_OF_ROW),
    )


@asset(
    key=AssetKey(["raw", "comext_bulk"]),
    check_specs=[input_contract_spec(AssetKey(["raw", "comext_bulk"]))],
    group_name="comext",
    freshness_policy=freshness_policy("comext"),
    deps=[AssetKey(["raw", "demo_world"]), AssetKey(["raw", "comext_bulk_months"])],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
)
def comext_bulk(context: AssetExecutionContext, settings: InputSettings, warehouse: Warehouse,
                data: DataFolder) -> MaterializeResult:
    """Rows of Comext bulk product files (full_v2 and the older DECLARANT layout), one row per file line,
    statistical procedures still separate; confidential codes and pseudo-partners kept as they are. New CSV months
    are read together in one DuckDB pass (bulk_reader.read_months_together), each still whole or not at all."""
    select = bulk_selector(parquet_dir(data.paths()))
    return ingest(
        context, settings, warehouse, data, source="comext", table=comext.BULK_TABLE,
        detect=_only("full_v2", "legacy"),
        sync=lambda conn, files: sync_raw_table(
            conn, comext.BULK_TABLE, comext.BULK_COLUMNS, files, select, comext.validate,
            comext.BULK_ROW_RULE, comext.BULK_YEAR_OF_ROW, read_together=read_months_together),
    )
