"""CEPII BACI: the download of its zips and the ingestion of its yearly CSVs."""

from dagster import AssetExecutionContext, AssetKey, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.ingest import ingest, input_contract_spec
from pipeline.clients.http import FetchError, FetchStats
from pipeline.freshness import freshness_policy
from pipeline.readers.raw_store import sync_raw_table
from pipeline.resources import DUCKDB_POOL, DataFolder, InputSettings, Warehouse
from pipeline.sources.baci import reader
from pipeline.sources.baci.client import DEFAULT_RELEASE, BaciError, Folders, fetch_edition
from pipeline.sources.baci.resource import BaciApi

FILES_KEY = AssetKey(["raw", "baci_files"])
FILES_OP = FILES_KEY.to_python_identifier()
FLOWS_KEY = AssetKey(["raw", "baci_flows"])


class BaciFetchConfig(Config):
    editions: list[str] = Field(default=[], description="HS editions to download (HS92 .. HS22, e.g. HS17); "
                                "empty: nothing is fetched.")
    release: str = Field(default=DEFAULT_RELEASE, description="BACI release, e.g. V202301.")
    force: bool = Field(default=False, description="Download again even when the release is held.")


@asset(key=FILES_KEY, group_name="baci", kinds={"python"}, pool="cepii_download")
def baci_files(context: AssetExecutionContext, config: BaciFetchConfig, baci_api: BaciApi,
               data: DataFolder) -> MaterializeResult:
    """CEPII BACI zips, one per HS edition and release (BACI_HS17_V202301.zip), downloaded in resumable byte
    ranges into <data dir>/raw/baci; a zip becomes current only after every member passes its CRC and the
    yearly CSVs have BACI's header; a damaged one goes to raw/baci_quarantine with its reason and the held
    copy stays current. Writes files only; raw.baci_flows reads them. No edition configured: nothing fetched."""
    if not config.editions:
        # the default run: no HTTP client (httpx's import and TLS context cost the run's first step 0.13 CPU-s)
        return MaterializeResult(metadata={"editions": MetadataValue.json([]), "failed": "no",
                                           "http": MetadataValue.json(FetchStats().as_dict())})
    folders = Folders(data.paths().raw_downloads)
    done, errors = [], []
    with baci_api.fetcher(log=context.log) as fetcher:
        for edition in config.editions:
            try:
                done.append(fetch_edition(fetcher, folders, base_url=baci_api.base_url, edition=edition,
                                          release=config.release, chunk_bytes=baci_api.chunk_bytes,
                                          force=config.force))
            except (BaciError, FetchError) as exc:
                # what arrived stays in raw/baci_incoming: the next fetch resumes it
                errors.append(f"{edition}: {exc}")
        stats = fetcher.stats.as_dict()
    metadata = {"editions": MetadataValue.json(done), "failed": "; ".join(errors) or "no",
                "http": MetadataValue.json(stats)}
    if errors:
        raise Failure(" | ".join(errors), metadata=metadata)
    return MaterializeResult(metadata=metadata)


@asset(
    key=FLOWS_KEY,
    check_specs=[input_contract_spec(FLOWS_KEY)],
    group_name="baci",
    freshness_policy=freshness_policy("baci"),
    deps=[AssetKey(["raw", "demo_world"]), FILES_KEY],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
)
def baci_flows(context: AssetExecutionContext, settings: InputSettings, warehouse: Warehouse,
               data: DataFolder) -> MaterializeResult:
    """Every line of the CEPII BACI yearly CSVs in the input folders (BACI_HS17_Y2021_V202301.csv, or the zip
    of an edition holding them), typed: year t, exporter i, importer j, HS6 k (text), value v in thousand USD
    and quantity q in tonnes as exact decimals, the HS edition and release from the file name. A file with a
    bad header, a non-numeric value, a country code outside BACI's dictionary or a short HS code is
    quarantined with file, line and reason."""
    select = reader.selector(data.paths().work / "baci_unzipped")
    return ingest(
        context, settings, warehouse, data, source="baci", table=reader.TABLE, detect=reader.detect,
        sync=lambda conn, files: sync_raw_table(conn, reader.TABLE, reader.COLUMNS, files, select, reader.validate,
                                                reader.ROW_RULE, reader.YEAR_OF_ROW),
    )
