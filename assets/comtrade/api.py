"""UN Comtrade v1 API: fetch a configured plan of calls into ``<data dir>/raw/comtrade/``, and watch for revisions.

The asset stores one gzip JSON page per finished call; ``raw/comtrade_records``
reads them like any other Comtrade page. A rerun resumes where the last one
stopped, a finished plan makes no calls, and with the default (empty) plan the
asset makes no call at all, so offline runs stay offline.

The sensor asks ``getDa`` which reporter-years of the last plan have a new
release and, if any, requests a run that archives their pages and refetches
them. It reads and writes only small JSON files next to the pages (never the
DuckDB warehouse).
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
    asset,
    sensor,
)
from pydantic import Field

from pipeline.clients.comtrade.plan import PlanError, PlanSpec
from pipeline.clients.comtrade.store import PageStore
from pipeline.clients.comtrade.sync import (
    changed_releases,
    last_plan,
    last_releases,
    release_marks,
    revision_check_due,
    sync_plan,
)
from pipeline.clients.http import FetchError, QuotaExhausted, utc_now
from pipeline.resources import ComtradeClient, DataFolder

ASSET_KEY = AssetKey(["raw", "comtrade_api_pages"])
# Comtrade's HTTP steps share one pool (their rate is the API's, not the DuckDB writer's); they write files only
COMTRADE_POOL = "comtrade_api"
# the op Dagster names after the asset key; run config for the asset's plan goes under it
OP_NAME = ASSET_KEY.to_python_identifier()


def page_store(data: DataFolder) -> PageStore:
    """``<data dir>/raw/comtrade`` (pages), with ``raw/comtrade_archive`` and ``raw/comtrade_reference`` beside it."""
    return PageStore(data.paths().comtrade_pages)


class ComtradeApiPlan(Config):
    """What to fetch. Empty reporters and years = nothing to do (no call)."""

    reporters: list[int] = Field(default=[], description="Comtrade reporter codes, e.g. [528, 842] (NL, USA).")
    years: list[int] = Field(default=[], description="Years (annual data), e.g. [2019, 2020, 2021, 2022, 2023, 2024].")
    flows: list[str] = Field(default=["M"], description="Flow codes: M imports, X exports, RM, RX.")
    level: str = Field(default="AG6", description="Product level: TOTAL, AG2, AG4 or AG6 (all HS codes of that level).")
    partners: list[int] = Field(default=[], description="Partner codes; empty = every partner (World 0 included).")
    revision_check_hours: float = Field(default=24.0, description="Ask getDa for new releases when the last check "
                                        "is older than this; 0 = every run, negative = never.")
    max_calls: int = Field(default=0, description="Most HTTP calls this run may make; 0 = what is left of the "
                           "resource's daily_call_limit.")
    allow_partial: bool = Field(default=False, description="Succeed even when the run stops before the plan is "
                                "complete (quota, failures); by default such a run fails after keeping its pages.")


@asset(key=ASSET_KEY, group_name="comtrade", pool=COMTRADE_POOL, kinds={"python"})
def comtrade_api_pages(context: AssetExecutionContext, config: ComtradeApiPlan, comtrade: ComtradeClient,
                       data: DataFolder) -> MaterializeResult:
    """UN Comtrade v1 API pages of the configured plan (reporters x years x flows x product level), stored as gzip
    JSON in <data dir>/raw/comtrade/ (one file per finished call, with URL without key, retrieval time and count).
    Resumes after any failure; a finished plan makes no calls; full pages are split, never truncated; reporter-years
    re-released upstream are archived and refetched. The default empty plan does nothing."""
    if not config.reporters and not config.years:
        context.log.info("Comtrade API plan is empty: no call made")
        return MaterializeResult(metadata={"calls": 0, "plan": "empty (set reporters and years to fetch)"})
    try:
        spec = PlanSpec.build(reporters=config.reporters, years=config.years, flows=config.flows,
                              level=config.level, partners=config.partners or None)
    except PlanError as exc:
        raise Failure(description=str(exc)) from None
    store = page_store(data)
    budget = store.call_budget(comtrade.daily_call_limit, config.max_calls)
    check = revision_check_due(store, spec, config.revision_check_hours)
    with comtrade.open_session(log=context.log, call_budget=budget) as api:
        result = sync_plan(api, spec, store, check_revisions=check, log=context.log)
        endpoint = api.data_base(spec.type_code, spec.freq, spec.cl)
    metadata = {
        "plan": MetadataValue.json(spec.as_dict()),
        "endpoint": endpoint,
        "keyed": comtrade.has_key,
        "record_cap": comtrade.record_cap(),
        "complete": result.complete,
        "stopped": result.stopped or "no",
        "calls": result.http_calls,
        "call_budget": -1 if budget is None else budget,
        "planned_calls": result.planned,
        "pages_stored": result.pages_stored,
        "pages_already_present": result.pages_present,
        "splits": result.splits,
        "records_fetched": result.records_fetched,
        "records_in_plan": result.records_total,
        "revision_check": check,
        "revision_check_failed": result.revision_check_failed or "no",
        "revised_reporter_years": MetadataValue.json(result.revised),
        "archived_files": result.archived_files,
        "retries": MetadataValue.json(result.retries),
        "failures": MetadataValue.json(result.failures[:20]),
        "elapsed_s": result.elapsed_s,
        "folder": str(store.dir),
    }
    if not result.complete:
        message = (f"Comtrade plan incomplete: {result.stopped}. {result.pages_stored} page(s) stored this run are "
                   f"kept; a rerun resumes ({result.http_calls} calls made).")
        if result.failures:
            message += " First failure(s): " + " | ".join(result.failures[:3])
        if not config.allow_partial:
            raise Failure(description=message, metadata=metadata)
        context.log.warning(message)
    return MaterializeResult(metadata=metadata)


def _plan_config(plan: dict) -> dict:
    return {"reporters": plan["reporters"], "years": plan["years"], "flows": plan["flows"], "level": plan["level"],
            "partners": plan.get("partners") or [], "revision_check_hours": 0}


@sensor(name="comtrade_revision_sensor", target=[ASSET_KEY], minimum_interval_seconds=6 * 3600,
        default_status=DefaultSensorStatus.STOPPED)
def comtrade_revision_sensor(context: SensorEvaluationContext, comtrade: ComtradeClient, data: DataFolder):
    """Requests a Comtrade page run when getDa shows a new release for a reporter-year of the last plan."""
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
    context.log.info(f"new Comtrade releases for {len(changed)} reporter-year(s): {changed[:20]}")
    return RunRequest(run_key=f"comtrade-releases-{digest[:16]}",
                      run_config={"ops": {OP_NAME: {"config": _plan_config(plan)}}},
                      tags={"geomonitor/trigger": "comtrade-revision", "geomonitor/reporter_years": str(len(changed))})
