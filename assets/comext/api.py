"""Fetching Eurostat Comext: monthly bulk files and targeted SDMX queries, and a daily revision sensor.

Both assets do nothing with their default (empty) configuration: no listing,
no request, success in an instant, so a full offline refresh runs them
harmlessly. What they fetch lands in ``<data dir>/raw/comext`` with a
``_release.json`` sidecar; the ingestion assets read that folder like any
other input folder. A replaced version moves to ``<data dir>/raw/comext_archive``.

The sensor never opens the working DuckDB file: it compares the file
service's listing with the sidecar (a small JSON file) and keeps the
listing's dates and its retry counts in its cursor.
"""

import hashlib
import json
import re
from contextlib import contextmanager
from typing import Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    ConfigurableResource,
    DefaultSensorStatus,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset,
    sensor,
)
from pydantic import Field

from pipeline.clients.comext import (
    ASYNC_URL,
    FILES_URL,
    PRODUCTS_DIR,
    SDMX_URL,
    ComextClient,
    ComextError,
    ComextRawStore,
    SdmxQuery,
    changed_months,
    contiguous_runs,
    monthly_files,
    stale_sdmx_periods,
)
from pipeline.clients.http import FetchError, FetchPolicy, Fetcher
from pipeline.paths import DataPaths
from pipeline.readers.comext import cached_bulk_parquet
from pipeline.readers.inputs import InputError

BULK_FILES_KEY = AssetKey(["raw", "comext_bulk_files"])
SDMX_FILES_KEY = AssetKey(["raw", "comext_sdmx_files"])
BULK_OP = "raw__comext_bulk_files"
SDMX_OP = "raw__comext_sdmx_files"
SENSOR_MAX_ATTEMPTS = 3
# Eurostat asks for one extraction at a time: both fetch assets share a pool (default_limit 1 in
# pipeline/dagster.yaml). They never open the working DuckDB file, so they stay out of its writer pool.
EUROSTAT_POOL = "eurostat_api"
# Comext inputs and everything downstream (pipeline/schedules.py); the fetch assets are in its "comext" group
SENSOR_JOB = "comext_refresh"
_MONTH = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")


class ComextApi(ConfigurableResource):
    """Where Eurostat Comext is and how politely to ask it; the defaults are the real services."""

    files_url: str = Field(default=FILES_URL, description="Eurostat file service (bulk files and listing).")
    products_dir: str = Field(default=PRODUCTS_DIR, description="Folder of the monthly product files.")
    sdmx_url: str = Field(default=SDMX_URL, description="Comext SDMX 2.1 base URL.")
    async_url: str = Field(default=ASYNC_URL, description="Asynchronous-delivery base URL (status/<id>, data/<id>).")
    requests_per_second: float = Field(default=0.5, description="Throttle on the start of every request; 0 = none.")
    timeout_s: float = Field(default=300.0, description="Timeout of one request.")
    max_attempts: int = Field(default=5, description="Attempts per request (transient failures are retried).")
    backoff_base_s: float = Field(default=2.0, description="First retry wait; doubles per retry.")
    chunk_mb: float = Field(default=16.0, description="Bytes per range request of a bulk download, in MB.")
    async_poll_s: float = Field(default=15.0, description="Wait between polls of an asynchronous SDMX answer.")
    async_max_polls: int = Field(default=40, description="Polls before an asynchronous answer counts as failed.")
    track_from: str = Field(
        default="",
        description="YYYY-MM: the revision sensor also requests new monthly bulk files from this month on. "
        "Empty: it only watches months already fetched.",
    )

    @contextmanager
    def client(self, log=None) -> Iterator[ComextClient]:
        policy = FetchPolicy(requests_per_second=self.requests_per_second, timeout_s=self.timeout_s,
                             max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_s)
        with Fetcher(policy, log=log) as fetcher:
            yield ComextClient(
                fetcher, files_url=self.files_url, products_dir=self.products_dir, sdmx_url=self.sdmx_url,
                async_url=self.async_url, chunk_bytes=max(1, int(self.chunk_mb * (1 << 20))),
                async_poll_s=self.async_poll_s, async_max_polls=self.async_max_polls, log=log,
            )


# --------------------------------------------------------------------------- bulk files


class BulkFetchConfig(Config):
    months: list[str] = Field(
        default=[], description="Months to fetch, YYYY-MM (full_v2_YYYYMM.7z), or YYYY for the annual "
        "full_v2_YYYY52.7z. Empty with latest=0: nothing is fetched."
    )
    latest: int = Field(default=0, description="Also fetch the N most recent monthly files in the listing.")
    force: bool = Field(default=False, description="Download again even when the held copy is current.")
    convert: bool = Field(
        default=True, description="Convert each downloaded file to typed Parquet right away (and report its rows)."
    )


def _check_months(months: list[str]) -> None:
    bad = [m for m in months if not _MONTH.match(m)]
    if bad:
        raise Failure(f"months {bad}: use YYYY-MM (monthly file) or YYYY (annual file)")


@asset(
    key=BULK_FILES_KEY,
    group_name="comext",
    pool=EUROSTAT_POOL,
    kinds={"python", "parquet"},
    description="Eurostat Comext monthly bulk files (full_v2_YYYYMM.7z, every reporter, partner and CN8 "
    "product) downloaded into <data dir>/raw/comext/bulk with a _release.json sidecar, each converted to a typed "
    "Parquet file. Default config fetches nothing.",
)
def comext_bulk_files(context: AssetExecutionContext, config: BulkFetchConfig, comext_api: ComextApi) -> MaterializeResult:
    if not config.months and config.latest <= 0:
        context.log.info("comext_bulk_files: no months requested; nothing fetched")
        return MaterializeResult(metadata={"requested": 0, "fetched": MetadataValue.json([])})
    _check_months(config.months)
    store = ComextRawStore.at(DataPaths.resolve().root)
    fetched, skipped, errors, conversions = [], [], [], {}
    with comext_api.client(log=context.log) as client:
        listing = monthly_files(client.list_files(), annual=True)
        wanted = list(dict.fromkeys(config.months))
        if config.latest > 0:
            recent = sorted(m for m in listing if len(m) == 7)[-config.latest:]
            wanted += [m for m in recent if m not in wanted]
        absent = [m for m in wanted if m not in listing]
        if absent:
            raise Failure(f"months {absent} have no file in the listing of {comext_api.products_dir}")
        held = store.held_bulk()
        reasons = changed_months({m: listing[m] for m in wanted}, held, months=wanted)
        for month in wanted:
            listed = listing[month]
            on_disk = (store.root / store.bulk_rel(listed.name)).exists()
            reason = reasons.get(month) or ("missing" if not on_disk else ("forced" if config.force else None))
            if reason is None:
                skipped.append(month)
                continue
            try:
                entry = store.fetch_bulk(client, listed, reason=reason)
                fetched.append({"month": month, "reason": reason, **{k: entry[k] for k in
                                ("file", "size", "last_modified", "requests", "resumed_from", "seconds")}})
                context.log.info(f"{listed.name}: {reason}, {entry['size']:,} bytes in {entry['requests']} request(s)"
                                 + (f", resumed at byte {entry['resumed_from']:,}" if entry["resumed_from"] else ""))
                if config.convert:
                    report = cached_bulk_parquet(store.root / entry["file"], entry["sha256"])
                    conversions[month] = report.as_metadata()
                    context.log.info(
                        f"{listed.name}: {report.rows:,} rows, {report.unpacked_bytes / 1e6:.0f} MB unpacked -> "
                        f"{report.parquet_bytes / 1e6:.0f} MB Parquet in {report.seconds:.1f} s "
                        f"({report.rows_per_second:,.0f} rows/s); product kinds {report.product_kinds}, "
                        f"partner kinds {report.partner_kinds}"
                    )
            except (ComextError, FetchError, InputError, OSError) as exc:
                errors.append(f"{month}: {exc}")
                context.log.error(f"{listed.name}: {exc}")
        stats = client.fetcher.stats.as_dict()
    metadata = {
        "requested": len(wanted), "fetched": MetadataValue.json(fetched), "up_to_date": MetadataValue.json(skipped),
        "conversions": MetadataValue.json(conversions), "http": MetadataValue.json(stats),
        "rows": sum(c["rows"] for c in conversions.values()),
    }
    if errors:
        raise Failure(f"{len(errors)} of {len(wanted)} Comext bulk file(s) failed: " + " | ".join(errors),
                      metadata=metadata)
    return MaterializeResult(metadata=metadata)


# --------------------------------------------------------------------------- SDMX queries


class SdmxQueryConfig(Config):
    reporter: list[str] = Field(default=[], description="Reporter codes (e.g. NL, EU27_2020); empty = all.")
    partner: list[str] = Field(default=[], description="Partner codes; empty = all.")
    product: list[str] = Field(default=[], description="CN8 / HS codes or TOTAL; empty = all.")
    flow: list[str] = Field(default=[], description="1 import, 2 export; empty = both.")
    indicators: list[str] = Field(default=["VALUE_IN_EUROS", "QUANTITY_IN_100KG"], description="Indicators.")
    start_period: str = Field(default="", description="YYYY-MM (freq M) or YYYY (freq A).")
    end_period: str = Field(default="", description="YYYY-MM or YYYY; with start_period, or both empty.")
    freq: str = Field(default="M", description="M or A.")
    dataset: str = Field(default="DS-045409", description="Comext dataset.")
    only_periods: list[str] = Field(
        default=[], description="Fetch only these periods of the query (revisions); empty = the whole range."
    )

    def query(self) -> SdmxQuery:
        return SdmxQuery(reporter=tuple(self.reporter), partner=tuple(self.partner), product=tuple(self.product),
                         flow=tuple(self.flow), indicators=tuple(self.indicators), start_period=self.start_period,
                         end_period=self.end_period, freq=self.freq, dataset=self.dataset)


class SdmxFetchConfig(Config):
    queries: list[SdmxQueryConfig] = Field(default=[], description="Queries to fetch; empty: nothing is fetched.")


@asset(
    key=SDMX_FILES_KEY,
    group_name="comext",
    pool=EUROSTAT_POOL,
    kinds={"python", "csv"},
    description="Targeted Eurostat Comext SDMX 2.1 queries (DS-045409, SDMX-CSV) stored as one gzip CSV per "
    "query and period in <data dir>/raw/comext/sdmx; only periods whose content changed are replaced (the old "
    "version is archived). Default config fetches nothing.",
)
def comext_sdmx_files(context: AssetExecutionContext, config: SdmxFetchConfig, comext_api: ComextApi) -> MaterializeResult:
    if not config.queries:
        context.log.info("comext_sdmx_files: no queries configured; nothing fetched")
        return MaterializeResult(metadata={"queries": 0})
    store = ComextRawStore.at(DataPaths.resolve().root)
    summary, errors = {}, []
    with comext_api.client(log=context.log) as client:
        for spec in config.queries:
            try:
                query = spec.query()
                periods = query.periods()
                if spec.only_periods:
                    outside = [p for p in spec.only_periods if periods and p not in periods]
                    if outside:
                        raise ComextError(f"{query.describe()}: only_periods {outside} outside the query's range")
                    periods = sorted(spec.only_periods)
                runs = contiguous_runs(periods, query.freq) if periods else [None]
                before = (client.sdmx_requests, client.splits)
                answers = []
                for run in runs:
                    answers += client.fetch_sdmx(query if run is None else query.for_periods(*run))
                outcomes = store.store_sdmx(query, answers, periods)
                counts = {s: [o.period for o in outcomes if o.status == s]
                          for s in ("new", "revised", "unchanged", "absent")}
                summary[query.query_id()] = {
                    "query": query.describe(), "rows": sum(a.rows for a in answers),
                    "requests": client.sdmx_requests - before[0], "splits_after_413": client.splits - before[1],
                    "asynchronous_answers": sum(a.asynchronous for a in answers),
                    **{k: v for k, v in counts.items() if v},
                }
                context.log.info(f"{query.describe()}: " + ", ".join(f"{k} {len(v)}" for k, v in counts.items() if v))
                if counts["absent"]:
                    context.log.warning(f"{query.describe()}: no observations for {counts['absent']}; "
                                        "stored files for them (if any) are kept")
            except (ComextError, FetchError, OSError) as exc:
                errors.append(str(exc))
                context.log.error(str(exc))
        stats = client.fetcher.stats.as_dict()
    metadata = {"queries": len(config.queries), "summary": MetadataValue.json(summary), "http": MetadataValue.json(stats)}
    if errors:
        raise Failure(f"{len(errors)} of {len(config.queries)} Comext SDMX queries failed: " + " | ".join(errors),
                      metadata=metadata)
    return MaterializeResult(metadata=metadata)


# --------------------------------------------------------------------------- revision sensor


def revision_plan(meta: dict, listing: dict, track_from: str = "") -> dict:
    """What to fetch again: bulk months with a changed listing entry, SDMX periods older than the listing."""
    bulk = changed_months(listing, meta.get("bulk", {}), track_from=track_from)
    sdmx = []
    for query_id, entry in sorted(meta.get("sdmx", {}).items()):
        query = SdmxQuery.from_dict(entry["query"])
        stale = stale_sdmx_periods(entry.get("periods", {}), listing, query.periods())
        if stale:
            sdmx.append({**query.to_dict(), "only_periods": stale})
    return {"bulk": bulk, "sdmx": sdmx}


@sensor(
    name="comext_revisions",
    job_name=SENSOR_JOB,
    minimum_interval_seconds=24 * 3600,
    default_status=DefaultSensorStatus.STOPPED,
    description="Daily: reads the Comext file listing and requests a refresh that fetches only the months "
    "whose bulk file changed (and the periods of stored SDMX queries the listing shows as revised).",
)
def comext_revisions(context: SensorEvaluationContext, comext_api: ComextApi):
    store = ComextRawStore.at(DataPaths.resolve().root)
    meta = store.read()
    if not meta.get("bulk") and not meta.get("sdmx") and not comext_api.track_from:
        return SkipReason("nothing fetched yet and no track_from set: no month to watch")
    with comext_api.client(log=context.log) as client:
        listing = monthly_files(client.list_files(), annual=True)
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen = {m: f.last_modified for m, f in listing.items()}
    moved = sorted(m for m, d in seen.items() if m in cursor.get("listing", {}) and cursor["listing"][m] != d)
    plan = revision_plan(meta, listing, comext_api.track_from)
    new_cursor = {"listing": seen, "attempts": {}}
    if not plan["bulk"] and not plan["sdmx"]:
        reason = "no Comext month changed" + (f" (listing dates moved for {moved}, already fetched)" if moved else "")
        return SensorResult(skip_reason=reason, cursor=json.dumps(new_cursor))
    signature = hashlib.sha1(json.dumps(
        {"bulk": {m: seen.get(m) for m in plan["bulk"]}, "sdmx": plan["sdmx"]}, sort_keys=True).encode()
    ).hexdigest()[:16]
    attempt = cursor.get("attempts", {}).get(signature, 0) + 1
    if attempt > SENSOR_MAX_ATTEMPTS:
        new_cursor["attempts"] = {signature: attempt - 1}
        return SensorResult(
            skip_reason=f"months {sorted(plan['bulk'])} still differ after {SENSOR_MAX_ATTEMPTS} requested runs; "
            "look at the failed runs of the refresh job", cursor=json.dumps(new_cursor))
    new_cursor["attempts"] = {signature: attempt}
    run_config = {"ops": {}}
    if plan["bulk"]:
        run_config["ops"][BULK_OP] = {"config": {"months": sorted(plan["bulk"])}}
    if plan["sdmx"]:
        run_config["ops"][SDMX_OP] = {"config": {"queries": plan["sdmx"]}}
    context.log.info(f"Comext revisions: bulk {plan['bulk']}, SDMX periods "
                     f"{[q['only_periods'] for q in plan['sdmx']]}")
    return SensorResult(
        run_requests=[RunRequest(
            run_key=f"comext-{signature}-{attempt}", run_config=run_config,
            tags={"geomonitor/trigger": "comext_revisions", "geomonitor/comext_months": ",".join(sorted(plan["bulk"]))},
        )],
        cursor=json.dumps(new_cursor),
    )


comext_fetch_assets = [comext_bulk_files, comext_sdmx_files]
comext_sensors = [comext_revisions]
