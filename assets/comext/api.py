"""Fetching Eurostat Comext: monthly bulk files (one partition a month), targeted SDMX queries, and a daily
revision sensor.

``raw/comext_bulk_months`` fetches one month's ``full_v2_YYYYMM.7z`` per partition (a backfill of a range
from the UI, ``dagster asset backfill`` or ``geomon fetch comext``); the SDMX asset does nothing with its
default (empty) configuration, so a full offline refresh runs it harmlessly. What they fetch lands in
``<data dir>/raw/comext`` with a ``_release.json`` sidecar; the ingestion assets read that folder like any
other input folder. A replaced version moves to ``<data dir>/raw/comext_archive``.

The sensor never opens the working DuckDB file: it compares the file service's listing with the sidecar (a
small JSON file) and keeps the listing's dates and its retry counts in its cursor. For a revised month it
requests a run of that month's partition together with everything built from Comext, so the revision is
fetched and published in one run.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    Config,
    DefaultSensorStatus,
    Failure,
    MaterializeResult,
    MetadataValue,
    MonthlyPartitionsDefinition,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset,
    define_asset_job,
    sensor,
)
from pydantic import Field

from pipeline.sources.comext.client import ComextError, DamagedFile
from pipeline.sources.comext.client.listing import changed_months, monthly_files
from pipeline.sources.comext.client.sdmx import SdmxQuery, contiguous_runs, stale_sdmx_periods
from pipeline.sources.comext.client.store import ComextRawStore
from pipeline.clients.http import FetchError
from pipeline.clients.progress import current as current_progress
from pipeline.sources.comext.bulk_reader import cached_bulk_parquet, parquet_dir
from pipeline.readers.inputs import InputError
from pipeline.resources import DataFolder
from pipeline.sources.comext.resource import ComextApi
from pipeline.schedules import source_jobs
from pipeline.sources.comext.sevenzip import ArchiveCheck, ArchiveError

comext_job = source_jobs["comext"]

SDMX_FILES_KEY = AssetKey(["raw", "comext_sdmx_files"])
# the op Dagster names after the asset key; the sensor's run config goes under it
SDMX_OP = SDMX_FILES_KEY.to_python_identifier()
SENSOR_MAX_ATTEMPTS = 3
# Eurostat asks for one extraction at a time: both fetch assets share a pool (default_limit 1 in
# pipeline/dagster.yaml). They never open the working DuckDB file, so they stay out of its writer pool.
EUROSTAT_POOL = "eurostat_api"


# --------------------------------------------------------------------------- bulk files


def latest_months(listing: dict, n: int) -> list[str]:
    """The ``n`` most recent monthly files of a listing (``YYYY-MM``)."""
    return sorted(m for m in listing if len(m) == 7)[-n:] if n > 0 else []


@dataclass
class MonthsOutcome:
    fetched: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    conversions: dict = field(default_factory=dict)


def fetch_months(client, store: ComextRawStore, listing: dict, wanted: list[str], data: DataFolder, *,
                 force: bool = False, convert: bool = True, log=None) -> MonthsOutcome:
    """Download (and convert) the listed files of ``wanted`` months that are missing, revised, forced or held
    damaged: the body of the monthly partitions (``geomon fetch comext`` runs them). A download becomes current
    only after its test (the conversion, or a 7z test pass without ``convert``); one that fails is an error
    naming the month, the file and the reason, and leaves the held copy and ``_release.json`` as they were."""
    say = (lambda level, msg: getattr(log, level)(msg)) if log is not None else (lambda level, msg: None)
    progress = current_progress()
    progress.plan(len(wanted), what="files")
    out = MonthsOutcome()
    held = store.held_bulk()
    reasons = changed_months({m: listing[m] for m in wanted}, held, months=wanted)
    for month in wanted:
        listed = listing[month]
        on_disk = (store.root / store.bulk_rel(listed.name)).exists()
        reason = reasons.get(month) or ("missing" if not on_disk else ("forced" if force else None))
        if reason is None and store.untested_or_damaged(listed.name):
            # held from before downloads were tested (no row count recorded): tested once now, and fetched
            # again if damaged, so a broken copy made current by an older version does not stick
            reason = "damaged"
            say("warning", f"{listed.name}: the held copy fails its test; fetching the month again")
        if reason is None:
            out.skipped.append(month)
            progress.advance(skipped=True)
            continue
        try:
            entry = store.fetch_bulk(client, listed, reason=reason,
                                     test=_conversion_test(data, out, month) if convert else None)
            out.fetched.append({"month": month, "reason": reason, **{k: entry[k] for k in
                                ("file", "size", "last_modified", "requests", "resumed_from", "seconds")}})
            say("info", f"{listed.name}: {reason}, {entry['size']:,} bytes in {entry['requests']} request(s)"
                + (f", resumed at byte {entry['resumed_from']:,}" if entry["resumed_from"] else ""))
            rows = 0
            if convert:
                # converted by the test before the file became current: the cached report, no second unpack
                report = cached_bulk_parquet(store.root / entry["file"], entry["sha256"], parquet_dir(data.paths()))
                out.conversions[month] = report.as_metadata()
                rows = report.rows
                say("info",
                    f"{listed.name}: {report.rows:,} rows, {report.unpacked_bytes / 1e6:.0f} MB unpacked -> "
                    f"{report.parquet_bytes / 1e6:.0f} MB Parquet in {report.seconds:.1f} s "
                    f"({report.rows_per_second:,.0f} rows/s); product kinds {report.product_kinds}, "
                    f"partner kinds {report.partner_kinds}")
            progress.advance(records=rows)
        except (ComextError, FetchError, InputError, OSError) as exc:
            out.errors.append(str(exc) if isinstance(exc, DamagedFile) else f"{month}: {exc}")  # it names the month
            say("error", f"{listed.name}: {exc}")
            progress.note(f"{listed.name}: {exc}")
            progress.advance()
    return out


def _conversion_test(data: DataFolder, out: MonthsOutcome, month: str):
    """The download test of a month that is converted anyway: the Parquet conversion unpacks the whole file
    (py7zr checks its CRC) and checks its header, periods and rows, so a month is unpacked once, before it
    replaces the held copy. A conversion that fails refuses the file (ArchiveError, named by the store)."""

    def test(path, sha256: str) -> ArchiveCheck:
        try:
            report = cached_bulk_parquet(path, sha256, parquet_dir(data.paths()))
        except InputError as exc:
            raise ArchiveError(str(exc)) from exc
        return ArchiveCheck(report.member, "", report.rows, report.unpacked_bytes, report.seconds)

    return test


# --------------------------------------------------------------------------- bulk files, one partition a month

BULK_MONTHS_KEY = AssetKey(["raw", "comext_bulk_months"])
DEFAULT_BULK_START = "2017-01"


def bulk_month_partitions(start: str = DEFAULT_BULK_START) -> MonthlyPartitionsDefinition:
    """Monthly partitions ``YYYY-MM`` from ``start`` to the last complete month."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", start):
        raise ValueError(f"Comext bulk partitions start {start!r}: use YYYY-MM")
    return MonthlyPartitionsDefinition(start_date=start, fmt="%Y-%m")


class BulkMonthConfig(Config):
    force: bool = Field(default=False, description="Download again even when the held copy is current "
                        "(the old copy is archived).")
    convert: bool = Field(default=True, description="Convert the file to typed Parquet right away.")


@asset(
    key=BULK_MONTHS_KEY,
    group_name="comext_fetch",
    pool=EUROSTAT_POOL,
    kinds={"python", "parquet"},
    partitions_def=bulk_month_partitions(),
    description="One Eurostat Comext monthly bulk file (full_v2_YYYYMM.7z) per partition, downloaded into "
    "<data dir>/raw/comext/bulk (older version archived) and converted to typed Parquet. The conversion is "
    "the download's test: only a file that unpacks whole (CRC), with a known header and its rows, replaces "
    "the held copy; a damaged one goes to raw/comext_quarantine with its reason, the partition fails naming "
    "month, file and reason, and the next run tries again. Writes files only; the DuckDB models read what "
    "the partitions left. A partition that is current makes no download.",
)
def comext_bulk_months(context: AssetExecutionContext, config: BulkMonthConfig, comext_api: ComextApi,
                       data: DataFolder) -> MaterializeResult:
    """One Comext bulk month per partition (from ``DEFAULT_BULK_START``), fetched and tested by conversion."""
    months = list(context.partition_keys)
    store = ComextRawStore.at(data.paths().root)
    with comext_api.client(log=context.log) as client:
        listing = monthly_files(client.list_files())
        absent = [m for m in months if m not in listing]
        if absent:
            raise Failure(f"month(s) {absent} have no full_v2 file in the listing of {comext_api.products_dir} "
                          "(not published yet?); nothing fetched")
        outcome = fetch_months(client, store, listing, months, data, force=config.force,
                               convert=config.convert, log=context.log)
        stats = client.fetcher.stats.as_dict()
    held = store.held_bulk()
    month = months[0]
    name = listing[month].name
    conversion = outcome.conversions.get(month) or {}
    metadata = {
        "loaded": not outcome.errors,
        "release_date": listing[month].last_modified or "not stated",
        "records": int(conversion.get("rows") or _parquet_rows(data, held.get(name))),
        "file": (held.get(name) or {}).get("file", ""),
        "bytes": int((held.get(name) or {}).get("size") or 0),
        "action": outcome.fetched[0]["reason"] if outcome.fetched else ("up to date" if outcome.skipped else "failed"),
        "failed": "; ".join(outcome.errors) or "no",
        "http": MetadataValue.json(stats),
    }
    if outcome.errors:
        raise Failure(f"Comext bulk {month}: " + " | ".join(outcome.errors), metadata=metadata)
    return MaterializeResult(metadata=metadata)


def _parquet_rows(data: DataFolder, entry: dict | None) -> int:
    """Rows of the converted Parquet file of a held bulk file, from its conversion report (0 if none)."""
    if not entry or not entry.get("sha256"):
        return 0
    for report in sorted(parquet_dir(data.paths()).glob(f"*.{entry['sha256'][:16]}.v*.json")):
        try:
            return int(json.loads(report.read_text(encoding="utf-8")).get("rows") or 0)
        except (OSError, ValueError):
            continue
    return 0



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
    force: bool = Field(default=False, description="Ask again even when a query is held: the same full query "
                        "answered before, its files unchanged (sha256). The revision sensor sets it.")


@asset(
    key=SDMX_FILES_KEY,
    group_name="comext",
    pool=EUROSTAT_POOL,
    kinds={"python", "csv"},
    description="Targeted Eurostat Comext SDMX 2.1 queries (DS-045409, SDMX-CSV) stored as one gzip CSV per "
    "query and period in <data dir>/raw/comext/sdmx; only periods whose content changed are replaced (the old "
    "version is archived). Default config fetches nothing.",
)
def comext_sdmx_files(context: AssetExecutionContext, config: SdmxFetchConfig, comext_api: ComextApi,
                      data: DataFolder) -> MaterializeResult:
    if not config.queries:
        context.log.info("comext_sdmx_files: no queries configured; nothing fetched")
        return MaterializeResult(metadata={"queries": 0})
    store = ComextRawStore.at(data.paths().root)
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
                held = None if config.force else store.held_answer(query, periods)
                if held is not None:
                    # asked and answered before, every file still as stored: nothing to ask
                    summary[query.query_id()] = {"query": query.describe(), "held": True,
                                                 "answered_at": held["answered_at"], "files": len(held["files"])}
                    current_progress().advance(skipped=True)
                    context.log.info(f"{query.describe()}: held since {held['answered_at']} ({len(held['files'])} "
                                     "file(s) unchanged); no request (force to ask again)")
                    continue
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
                current_progress().advance(records=sum(a.rows for a in answers))
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


# a revised month and everything built from Comext, in one run of that month's partition; the sensor's job
comext_month_job = define_asset_job(
    name="comext_month_refresh",
    selection=(AssetSelection.assets(BULK_MONTHS_KEY) | AssetSelection.groups("comext").downstream()
               | AssetSelection.groups("reference")),
    description="One Comext month fetched (its partition of raw/comext_bulk_months) and everything built from "
    "Comext rebuilt and published; what the comext_revisions sensor requests for a revised month.",
)


@sensor(
    name="comext_revisions",
    jobs=[comext_month_job, comext_job],
    minimum_interval_seconds=24 * 3600,
    default_status=DefaultSensorStatus.STOPPED,
    description="Daily: reads the Comext file listing and requests, per month whose bulk file changed, a run "
    "of its partition with everything built from Comext (and a refresh for the periods of stored SDMX queries "
    "the listing shows as revised).",
)
def comext_revisions(context: SensorEvaluationContext, comext_api: ComextApi, data: DataFolder):
    store = ComextRawStore.at(data.paths().root)
    meta = store.read()
    if not meta.get("bulk") and not meta.get("sdmx") and not comext_api.track_from:
        return SkipReason("nothing fetched yet and no track_from set: no month to watch")
    try:
        with comext_api.client(log=context.log) as client:
            listing = monthly_files(client.list_files())
    except (FetchError, ComextError) as exc:
        # like the Comtrade sensor: a listing that cannot be read is a skipped tick that says why, not an error
        return SkipReason(f"Comext file listing could not be read, nothing requested: {exc}")
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
    # the listing shows these periods revised: ask even if the same query is held
    sdmx = {"ops": {SDMX_OP: {"config": {"queries": plan["sdmx"], "force": True}}}} if plan["sdmx"] else {}
    tags = {"geomonitor/trigger": "comext_revisions", "geomonitor/comext_months": ",".join(sorted(plan["bulk"]))}
    months = sorted(m for m in plan["bulk"] if m in _partition_keys(context))
    if len(months) < len(plan["bulk"]):
        context.log.warning(f"months {sorted(set(plan['bulk']) - set(months))} are not partitions of "
                            f"{BULK_MONTHS_KEY.to_user_string()}; not requested")
    # one run per month (its partition; the SDMX periods ride along with the first); without a revised month,
    # one refresh for the SDMX periods alone
    requests = [RunRequest(run_key=f"comext-{signature}-{attempt}-{month}", job_name=comext_month_job.name,
                           partition_key=month, run_config=sdmx if i == 0 else {}, tags=tags)
                for i, month in enumerate(months)]
    if not months:
        requests = [RunRequest(run_key=f"comext-{signature}-{attempt}", job_name=comext_job.name, run_config=sdmx,
                               tags=tags)]
    context.log.info(f"Comext revisions: bulk {plan['bulk']}, SDMX periods "
                     f"{[q['only_periods'] for q in plan['sdmx']]}")
    return SensorResult(run_requests=requests, cursor=json.dumps(new_cursor))


def _partition_keys(context: SensorEvaluationContext) -> set[str]:
    """The month partitions of the definitions the sensor runs in (the first month is configurable)."""
    repo = context.repository_def
    partitions = repo.get_job(comext_month_job.name).partitions_def if repo is not None else None
    return set((partitions or bulk_month_partitions()).get_partition_keys())


comext_fetch_assets = [comext_sdmx_files]
comext_sensors = [comext_revisions]
