"""UN Comtrade bulk files (premium key), one year partition at a time, into ``<data dir>/raw/comtrade/bulk/``,
each converted to typed Parquet as soon as it is held (``work/comtrade_parquet``), so that
``raw/comtrade_records`` only has to put them in its view.

Reporters come from the run's configuration or, without one (a backfill from the UI), from the standing
bulk plan the last configured run left in ``bulk/_plan.json``. ``geomon fetch comtrade-bulk`` is this asset
run for each year asked, with its configuration filled from the flags.
"""

import duckdb
from dagster import AssetExecutionContext, AssetKey, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.comtrade.api import (COMTRADE_POOL, DEFAULT_START_YEAR, FETCH_GROUP, NOTHING_FETCHED, page_store,
                                 partition_result, partition_year, year_partitions)
from pipeline.sources.comtrade.client.bulk import BulkStore, sync_bulk
from pipeline.sources.comtrade.client.plan import PlanError, PlanSpec
from pipeline.clients.landing import read_json, write_json
from pipeline.readers.inputs import InputError, InputFile
from pipeline.resources import DataFolder
from pipeline.sources.comtrade.reader.parquet import cache_dir, cached_conversion
from pipeline.sources.comtrade.resource import ComtradeClient

BULK_KEY = AssetKey(["raw", "comtrade_bulk_files"])
BULK_OP = BULK_KEY.to_python_identifier()
PLAN_FILE = "_plan.json"


class ComtradeBulkYear(Config):
    reporters: list[int] = Field(default=[], description="Comtrade reporter codes, e.g. [528, 276]; empty = the "
                                 "standing bulk plan in raw/comtrade/bulk/_plan.json.")
    allow_partial: bool = Field(default=False, description="Succeed even when some files failed.")


def bulk_store(data: DataFolder) -> BulkStore:
    return BulkStore(page_store(data).dir)


def _reporters(config: ComtradeBulkYear, store: BulkStore, year: int) -> list[int]:
    standing = read_json(store.dir / PLAN_FILE, {}) or {}
    reporters = config.reporters or standing.get("reporters") or []
    if not reporters:
        raise PlanError("no Comtrade bulk plan: give reporters in the run configuration, or run `geomon fetch "
                        "comtrade-bulk --reporters ... --years ...` once; a backfill then reuses them")
    spec = PlanSpec.build(reporters=reporters, years=[year])
    if config.reporters:
        same = sorted(standing.get("reporters") or []) == list(spec.reporters)
        years = sorted(set(standing.get("years") or []) | {year}) if same else [year]
        write_json(store.dir / PLAN_FILE, {"reporters": list(spec.reporters), "years": years})
    return list(spec.reporters)


def _convert_held(store: BulkStore, year: int, reporters: list[int], folder) -> tuple[dict, list[str]]:
    """Typed Parquet of every held file of ``year``: {file: conversion metadata}, and what could not be read."""
    conversions, failures = {}, []
    con = duckdb.connect(config={"memory_limit": "1GB", "temp_directory": str(folder / "duckdb_tmp")})
    try:
        for entry in store.held().values():
            if str(entry.get("period"))[:4] != str(year) or int(entry["reporterCode"]) not in reporters:
                continue
            path = store.dir / entry["file"]
            f = InputFile(path=path, label=f"api:comtrade/bulk/{entry['file']}", fmt="bulk_tsv", release="",
                          synthetic=False, sha256=entry["sha256"], size=path.stat().st_size)
            try:
                conversions[entry["file"]] = cached_conversion(f, folder, con.cursor()).as_metadata()
            except InputError as exc:
                failures.append(f"{entry['file']} is held but cannot be read: {exc}")
    finally:
        con.close()
    return conversions, failures


def comtrade_bulk_files_asset(start: str = DEFAULT_START_YEAR):
    """The year-partitioned bulk asset (built per definitions, so the first year is configurable)."""

    @asset(key=BULK_KEY, group_name=FETCH_GROUP, pool=COMTRADE_POOL, kinds={"python", "parquet"},
           partitions_def=year_partitions(start))
    def comtrade_bulk_files(context: AssetExecutionContext, config: ComtradeBulkYear, comtrade: ComtradeClient,
                            data: DataFolder) -> MaterializeResult:
        """UN Comtrade final bulk files (gzip TSV, one per reporter, year and classification) of one year (a
        partition) for the plan's reporters, verified (listed size, gzip CRC) and stored in
        <data dir>/raw/comtrade/bulk/ (a new publication archives the file it replaces), then converted to
        typed Parquet by DuckDB (a file must hold the reporter-year its name states). Needs a premium COMTRADE_API_KEY. Metadata per partition: loaded,
        release_date (publicationDate), records, failed."""
        year = partition_year(context, "geomon fetch comtrade-bulk")
        if year is None:
            return NOTHING_FETCHED
        store = bulk_store(data)
        try:
            reporters = _reporters(config, store, year)
        except PlanError as exc:
            raise Failure(description=str(exc)) from None
        if not comtrade.has_key:
            raise Failure(description="Comtrade bulk files need a premium COMTRADE_API_KEY; none is set")
        with comtrade.open_session(log=context.log) as api:
            result = sync_bulk(api, store, reporters, [year], log=context.log)
            http = api.fetcher.stats.as_dict()
        conversions, unreadable = _convert_held(store, year, reporters, cache_dir(data.paths()))
        published = {str(e["reporterCode"]): e.get("publicationDate") or "" for e in store.held().values()
                     if str(e.get("period"))[:4] == str(year) and int(e["reporterCode"]) in reporters}
        failures = result.failures + unreadable
        metadata = {
            "loaded": result.complete and not unreadable,
            "release_date": max(published.values(), default="") or "none held",
            "records": sum(c["rows"] for c in conversions.values()),
            "failed": (result.stopped or "; ".join(failures[:3])) or "no",
            "publication_dates": MetadataValue.json(published),
            "reporters": len(reporters), "files_listed": result.listed, "downloaded": len(result.downloaded),
            "up_to_date": result.up_to_date, "archived": result.archived, "bytes": result.bytes,
            "not_listed": MetadataValue.json(result.missing), "failures": MetadataValue.json(failures[:20]),
            "files": MetadataValue.json(result.downloaded[:50]), "conversions": MetadataValue.json(conversions),
            "http": MetadataValue.json(http), "folder": str(store.dir),
        }
        message = None
        if failures or result.stopped:
            message = (f"Comtrade bulk {year} incomplete: {result.stopped or f'{len(failures)} file(s) failed'}; "
                       "files stored are kept, a rerun resumes. " + " | ".join(failures[:3]))
        return partition_result(context, metadata, message, config.allow_partial)

    return comtrade_bulk_files


comtrade_bulk_files = comtrade_bulk_files_asset()
