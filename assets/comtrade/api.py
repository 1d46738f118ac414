"""UN Comtrade v1 API: fetch one year of a plan per partition into ``<data dir>/raw/comtrade/``, and watch for
revisions.

The asset is partitioned by year: a partition stores one gzip JSON page per finished call of the plan's
reporters x flows x product level for that year; ``raw/comtrade_records`` reads them like any other Comtrade
page. Why by year and not by year x reporter: the models downstream are rebuilt per year, a year is the unit
Comtrade's reporters are released and revised in as far as a plan is concerned, the reporter list is a
setting that may grow (a partition per reporter would tie the partition set to it), and a 30-year backfill is
30 runs instead of about 6,000. A rerun of a year resumes where the last one stopped, a finished year makes
no call, and ``force`` archives the year's pages and fetches them again.

What to fetch comes from the run's configuration or, when it gives no reporter (a backfill launched from the
UI), from the standing plan the last configured run left in ``_plan.json``. The sensor asks ``getDa`` which
reporter-years of that plan have a new release and requests a run of each year concerned. Both read and write
only files next to the pages (never the DuckDB warehouse).
"""

import hashlib
import json

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    DefaultSensorStatus,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    TimeWindowPartitionsDefinition,
    asset,
    sensor,
)
from pydantic import Field

from pipeline.sources.comtrade.client.plan import PlanError, PlanSpec
from pipeline.sources.comtrade.client.store import PageStore
from pipeline.sources.comtrade.client.sync import (
    changed_releases,
    last_plan,
    last_releases,
    release_dates,
    release_marks,
    revision_check_due,
    sync_plan,
)
from pipeline.clients.http import FetchError, QuotaExhausted, utc_now
from pipeline.resources import DataFolder
from pipeline.sources.comtrade.resource import ComtradeClient

ASSET_KEY = AssetKey(["raw", "comtrade_api_pages"])
# Comtrade's HTTP steps share one pool (their rate is the API's, not the DuckDB writer's); they write files only
COMTRADE_POOL = "comtrade_api"
# the fetch assets partitioned by year: materialized per partition, outside the unpartitioned refresh jobs
FETCH_GROUP = "comtrade_fetch"
# the op Dagster names after the asset key; run config for the asset's plan goes under it
OP_NAME = ASSET_KEY.to_python_identifier()
# the first year of the HS classification (1988): Comtrade's HS data starts there
DEFAULT_START_YEAR = "1988"


def year_partitions(start: str = DEFAULT_START_YEAR) -> TimeWindowPartitionsDefinition:
    """Yearly partitions ``YYYY`` from ``start`` to the last complete year (annual data of the current year
    does not exist yet)."""
    return TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", start=start, fmt="%Y")


# what a fetch asset run without a partition (a job over every asset, "Materialize all") reports
NOTHING_FETCHED = MaterializeResult(metadata={"calls": 0, "plan": "no partition: nothing fetched"})


def partition_year(context: AssetExecutionContext, command: str) -> int | None:
    """The run's year partition; None, after saying so, for a run without one (it fetches nothing)."""
    if context.has_partition_key:
        return int(context.partition_key)
    context.log.info(f"{context.asset_key.to_user_string()} is fetched one year partition at a time ({command}, "
                     "a backfill); a run without a partition fetches nothing")
    return None


def partition_result(context: AssetExecutionContext, metadata: dict, incomplete: str | None,
                     allow_partial: bool) -> MaterializeResult:
    """A year's materialization; an incomplete year fails the step (its files are kept, a rerun resumes)
    unless the run allows partial years, which then only warn."""
    if incomplete and not allow_partial:
        raise Failure(description=incomplete, metadata=metadata)
    if incomplete:
        context.log.warning(incomplete)
    return MaterializeResult(metadata=metadata)


def page_store(data: DataFolder) -> PageStore:
    """``<data dir>/raw/comtrade`` (pages), with ``raw/comtrade_archive`` and ``raw/comtrade_reference`` beside it."""
    return PageStore(data.paths().api_dir("comtrade"))


class ComtradeYearPlan(Config):
    """What to fetch for the partition's year. No reporter: the standing plan (the last configured run's)."""

    reporters: list[int] = Field(default=[], description="Comtrade reporter codes, e.g. [528, 842] (NL, USA); "
                                 "empty = the standing plan in raw/comtrade/_plan.json.")
    flows: list[str] = Field(default=[], description="Flow codes: M imports, X exports, RM, RX (empty: the "
                             "standing plan's, else M).")
    level: str = Field(default="", description="Product level: TOTAL, AG2, AG4 or AG6 (empty: the standing "
                       "plan's, else AG6).")
    partners: list[int] = Field(default=[], description="Partner codes; empty = every partner (World 0 included).")
    revision_check_hours: float = Field(default=24.0, description="Ask getDa for new releases when the last check "
                                        "is older than this; 0 = every run, negative = never.")
    max_calls: int = Field(default=0, description="Most HTTP calls this run may make; 0 = what is left of the "
                           "resource's daily_call_limit.")
    force: bool = Field(default=False, description="Archive the year's stored pages of the plan and fetch them "
                        "again (a rerun otherwise resumes and makes no call for what is stored).")
    allow_partial: bool = Field(default=False, description="Succeed even when the run stops before the plan is "
                                "complete (quota, failures); by default such a run fails after keeping its pages.")


def plan_for_year(config: ComtradeYearPlan, store: PageStore, year: int) -> PlanSpec:
    """The run's plan for one year: its configuration, or the standing plan where it gives none."""
    standing = store.load("_plan.json", {}) or {}
    reporters = config.reporters or standing.get("reporters") or []
    if not reporters:
        raise PlanError("no Comtrade plan: give reporters in the run configuration, or run `geomon fetch comtrade "
                        "--reporters ... --years ...` once; a backfill then reuses that plan")
    from_standing = not config.reporters
    return PlanSpec.build(
        reporters=reporters, years=[year],
        flows=config.flows or (standing.get("flows") if from_standing else None) or ["M"],
        level=config.level or (standing.get("level") if from_standing else None) or "AG6",
        partners=config.partners or ((standing.get("partners") or None) if from_standing else None))


def comtrade_api_pages_asset(start: str = DEFAULT_START_YEAR):
    """The year-partitioned pages asset (built per definitions, so the first year is configurable)."""

    @asset(key=ASSET_KEY, group_name=FETCH_GROUP, pool=COMTRADE_POOL, kinds={"python"},
           partitions_def=year_partitions(start))
    def comtrade_api_pages(context: AssetExecutionContext, config: ComtradeYearPlan, comtrade: ComtradeClient,
                           data: DataFolder) -> MaterializeResult:
        """UN Comtrade v1 API pages of one year (a partition) of the plan (reporters x flows x product level),
        stored as gzip JSON in <data dir>/raw/comtrade/ (one file per finished call, with URL without key,
        retrieval time and count). Resumes after any failure; a finished year makes no calls; full pages are
        split, never truncated; reporter-years re-released upstream are archived and refetched. Metadata per
        partition: loaded, release_date (getDa), records, failed."""
        year = partition_year(context, "geomon fetch comtrade")
        if year is None:
            return NOTHING_FETCHED
        store = page_store(data)
        try:
            spec = plan_for_year(config, store, year)
        except PlanError as exc:
            raise Failure(description=str(exc)) from None
        budget = store.call_budget(comtrade.daily_call_limit, config.max_calls)
        check = revision_check_due(store, spec, config.revision_check_hours)
        with comtrade.open_session(log=context.log, call_budget=budget) as api:
            result = sync_plan(api, spec, store, check_revisions=check, refetch=config.force, log=context.log)
            endpoint = api.data_base(spec.type_code, spec.freq, spec.cl)
        releases = release_dates(store, spec.reporters, year)
        failed = result.stopped or "; ".join(result.failures[:3])
        metadata = {
            "loaded": result.complete,
            "release_date": max(releases.values()) or "not checked",
            "records": result.records_total,
            "failed": failed or "no",
            "releases": MetadataValue.json({str(r): d or "not checked" for r, d in releases.items()}),
            "plan": MetadataValue.json(spec.as_dict()),
            "endpoint": endpoint,
            "keyed": comtrade.has_key,
            "record_cap": comtrade.record_cap(),
            "calls": result.http_calls,
            "call_budget": -1 if budget is None else budget,
            "planned_calls": result.planned,
            "pages_stored": result.pages_stored,
            "pages_already_present": result.pages_present,
            "splits": result.splits,
            "records_fetched": result.records_fetched,
            "revision_check": check,
            "revision_check_failed": result.revision_check_failed or "no",
            "revised_reporter_years": MetadataValue.json(result.revised),
            "archived_files": result.archived_files,
            "retries": MetadataValue.json(result.retries),
            "failures": MetadataValue.json(result.failures[:20]),
            "elapsed_s": result.elapsed_s,
            "folder": str(store.dir),
        }
        message = None
        if not result.complete:
            message = (f"Comtrade {year} incomplete: {result.stopped}. {result.pages_stored} page(s) stored this run "
                       f"are kept; a rerun resumes ({result.http_calls} calls made).")
            if result.failures:
                message += " First failure(s): " + " | ".join(result.failures[:3])
        return partition_result(context, metadata, message, config.allow_partial)

    return comtrade_api_pages


comtrade_api_pages = comtrade_api_pages_asset()


def _plan_config(plan: dict) -> dict:
    return {"reporters": plan["reporters"], "flows": plan["flows"], "level": plan["level"],
            "partners": plan.get("partners") or [], "revision_check_hours": 0}


@sensor(name="comtrade_revision_sensor", target=[ASSET_KEY], minimum_interval_seconds=6 * 3600,
        default_status=DefaultSensorStatus.STOPPED)
def comtrade_revision_sensor(context: SensorEvaluationContext, comtrade: ComtradeClient, data: DataFolder):
    """Requests a run of each year partition in which getDa shows a new release for a reporter of the standing
    plan."""
    store = page_store(data)
    plan = last_plan(store.dir)
    if not plan:
        return SkipReason("no Comtrade API plan has run yet")
    keys = [f"{r}:{y}" for r in plan["reporters"] for y in plan["years"]]
    old = last_releases(store.dir)
    today = utc_now().strftime("%Y-%m-%d")
    budget = store.call_budget(comtrade.daily_call_limit, today=today)
    try:
        with comtrade.open_session(log=context.log, call_budget=budget) as api:
            try:
                rows = api.availability(plan["reporters"], plan["years"])
            finally:
                store.add_calls(today, api.fetcher.stats.attempts)
    except QuotaExhausted as exc:
        return SkipReason(f"quota: {exc}")
    except FetchError as exc:
        return SkipReason(f"data availability check failed: {exc}")
    marks = release_marks(rows)
    for key in keys:
        marks.setdefault(key, "")
    changed = changed_releases(old, marks)
    if not changed:
        return SkipReason(f"no new release among {len(keys)} reporter-years")
    digest = hashlib.sha1(json.dumps({k: marks[k] for k in changed}, sort_keys=True).encode()).hexdigest()
    if context.cursor == digest:
        return SkipReason(f"a run was already requested for these releases ({len(changed)} reporter-years)")
    context.update_cursor(digest)
    years = sorted({k.split(":")[1] for k in changed})
    context.log.info(f"new Comtrade releases for {len(changed)} reporter-year(s): {changed[:20]}; "
                     f"requesting year partition(s) {years}")
    # one run per year partition concerned; the run's getDa check archives and refetches the revised ones
    return [RunRequest(run_key=f"comtrade-releases-{digest[:16]}-{year}", partition_key=year,
                       run_config={"ops": {OP_NAME: {"config": _plan_config(plan)}}},
                       tags={"geomonitor/trigger": "comtrade-revision",
                             "geomonitor/reporter_years": str(sum(k.endswith(f":{year}") for k in changed))})
            for year in years]
