"""``geomon fetch``: the shell face of the fetch assets. Each command fills the asset's config from its flags and
materializes that asset in-process on the data folder's Dagster instance (so the UI shows the run), with a
progress reporter installed (pipeline/clients/progress.py). There is no second client: what runs is the asset.

Exit status: 0 when the plan is complete, 1 when it is not (failures, quota; what was stored is kept and a
rerun resumes), 2 for invalid options, 130 after Ctrl-C (stored files are kept; a rerun resumes).
"""

from __future__ import annotations

import re
import sys
import time

from pipeline.cli.fetch_options import (
    FLOWS,
    LEVELS,
    _choices,
    _code_list,
    _month,
    _months,
    _positive,
    _rate,
    _years,
)
from pipeline.cli.progress_bar import TerminalProgress, _size
from pipeline.paths import DataPaths

def add_commands(sub) -> None:
    fetch = sub.add_parser("fetch", help="fetch from UN Comtrade or Eurostat Comext into the data folder "
                           "(the fetch assets, run in-process; resumable)")
    kinds = fetch.add_subparsers(dest="source", required=True)

    def common(p, base_help):
        p.add_argument("--base-url", help=base_help)
        p.add_argument("--rate", type=_rate, help="calls per second (throttle on the start of every request)")
        p.add_argument("--dry-run", action="store_true", help="print the plan and make no request")
        p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                       help="Dagster log level shown (default WARNING)")
        p.add_argument("--no-progress", action="store_true", help="plain log lines even on a terminal")
        p.add_argument("--config", metavar="FILE", type=_resource_settings,
                       help="a run config (YAML or JSON, as for geomon run) whose resources section sets the "
                       "client (timeouts, retries, base URL, rate); the flags above override it")

    ct = kinds.add_parser("comtrade", help="UN Comtrade v1 API pages (reporters x years x flows x level)")
    ct.add_argument("--reporters", required=True, type=_code_list("reporter", False), help="e.g. 528,276")
    ct.add_argument("--years", required=True, type=_years, help="e.g. 2019-2024 or 2021,2023")
    ct.add_argument("--flows", type=_choices(FLOWS, "flow"), default=["M"], help="M,X (default M)")
    ct.add_argument("--level", type=lambda t: _choices(LEVELS, "level")(t)[0], default="AG6",
                    help="TOTAL, AG2, AG4 or AG6 (default)")
    ct.add_argument("--partners", type=_code_list("partner", True), default=[], help="default: every partner")
    ct.add_argument("--max-calls", type=_positive, default=0, help="most HTTP calls this run may make")
    ct.add_argument("--check-revisions", action="store_true",
                    help="ask getDa for new releases now (by default only when the last check is older than 24 h)")
    common(ct, "API host (default https://comtradeapi.un.org)")
    ct.set_defaults(func=_comtrade)

    cb = kinds.add_parser("comtrade-bulk", help="UN Comtrade bulk files (premium key) per reporter and year")
    cb.add_argument("--reporters", required=True, type=_code_list("reporter", False))
    cb.add_argument("--years", required=True, type=_years)
    common(cb, "API host (default https://comtradeapi.un.org)")
    cb.set_defaults(func=_comtrade_bulk)

    cx = kinds.add_parser("comext", help="Eurostat Comext monthly bulk files (one Dagster partition a month)")
    which = cx.add_mutually_exclusive_group(required=True)
    which.add_argument("--months", type=_months, help="e.g. 2024-01..2024-06 or 2024-01,2024-03")
    which.add_argument("--latest", type=_positive, help="the N most recent months in the file listing")
    cx.add_argument("--force", action="store_true", help="download again even when current (old copy archived)")
    common(cx, "file service URL (default https://ec.europa.eu/eurostat/api/dissemination/files)")
    cx.set_defaults(func=_comext)

    sd = kinds.add_parser("comext-sdmx", help="one Comext SDMX query (DS-045409), stored per period")
    sd.add_argument("--reporter", required=True, type=lambda t: [v.strip().upper() for v in t.split(",") if v.strip()])
    sd.add_argument("--product", required=True, type=lambda t: [v.strip() for v in t.split(",") if v.strip()])
    sd.add_argument("--partner", default=[], type=lambda t: [v.strip().upper() for v in t.split(",") if v.strip()])
    sd.add_argument("--flow", default=[], type=_choices(("1", "2"), "flow"))
    sd.add_argument("--start", required=True, type=_month)
    sd.add_argument("--end", required=True, type=_month)
    sd.add_argument("--force", action="store_true",
                    help="ask again even when this exact query is held unchanged (by default it makes no request)")
    common(sd, "SDMX 2.1 base URL (default https://ec.europa.eu/eurostat/api/comext/dissemination/sdmx/2.1); "
           "the asynchronous-delivery URL moves with it (<base>/../../1.0/async)")
    sd.set_defaults(func=_comext_sdmx)


# --------------------------------------------------------------------------- running an asset


def _execute(args, paths: DataPaths, key, *, run_config, resources: dict | None = None,
             partitions: list[str] | None = None, label: str, total: int | None = None, what: str = "calls") -> int:
    """Materialize asset ``key`` (each of ``partitions``) in-process with a progress reporter; exit status.
    ``run_config`` is a dict, or a function of the partition giving its dict (or, to skip it, why)."""
    from dagster import materialize

    from pipeline.cli.instance import instance_for, run_tags
    from pipeline.clients.progress import reporting
    from pipeline.definitions import definitions

    defs = definitions(data_dir=str(paths.root))  # the Comtrade client takes its key from pipeline.settings
    merged = {**defs.resources, **(resources or {})}
    asset_def = defs.get_assets_def(key)
    config_for = run_config if callable(run_config) else (lambda _partition: run_config)
    loggers = {"console": {"config": {"log_level": args.log_level}}}
    instance = instance_for(paths)
    tty = sys.stderr.isatty() and not args.no_progress
    bar = TerminalProgress(label, tty)
    if total is not None:
        bar.total, bar.what, bar.locked = total, what, True
    failures: list[str] = []
    started = time.perf_counter()
    try:
        with bar, reporting(bar):
            for partition in partitions or [None]:
                config = config_for(partition)
                if isinstance(config, str):
                    failures.append(f"{partition}: {config}")
                    continue
                result = materialize([asset_def], resources=merged, run_config={**config, "loggers": loggers},
                                     instance=instance, partition_key=partition, raise_on_error=False,
                                     tags={"geomonitor/trigger": "geomon fetch", **run_tags()})
                if not result.success:
                    failures += [f"{partition + ': ' if partition else ''}{reason}" for reason in _reasons(result)]
    except KeyboardInterrupt:
        print(f"\ngeomon fetch: interrupted after {time.perf_counter() - started:.1f} s; everything stored so far "
              "is kept and the same command resumes.", file=sys.stderr)
        return 130
    finally:
        instance.dispose()
    elapsed = time.perf_counter() - started
    if failures:
        interrupted = any("Interrupt" in f for f in failures)
        print(f"geomon fetch {args.source}: {'interrupted' if interrupted else 'INCOMPLETE'} after {elapsed:.1f} s; "
              "what was stored is kept and the same command resumes.", file=sys.stderr)
        for reason in failures[:10]:
            print(f"  {reason}", file=sys.stderr)
        return 130 if interrupted else 1
    print(f"geomon fetch {args.source}: complete in {elapsed:.1f} s: {bar.done:,} {bar.what} ({bar.skipped:,} already "
          f"on disk), {bar.records:,} records, {_size(bar.nbytes)} downloaded.", file=sys.stderr)
    return 0


def _reasons(result) -> list[str]:
    out = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            message = ((error.cause or error).message or "").strip().splitlines()[0]
            out.append(re.sub(r"^dagster\._core\.definitions\.events\.Failure: ", "", message)[:500])
    return out or ["the run failed (see geomon status or the Dagster UI)"]


# --------------------------------------------------------------------------- the commands


def _resource_settings(path: str) -> dict:
    """``{resource name: config}`` of a run config file's resources section."""
    import argparse

    from pipeline.cli.run import _load_config

    try:
        resources = _load_config(path).get("resources") or {}
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{path}: {exc}") from None
    if not isinstance(resources, dict):
        raise argparse.ArgumentTypeError(f"{path}: resources must be a mapping")
    return {name: (entry or {}).get("config") or {} for name, entry in resources.items()}


def _comtrade_resource(args):
    from pipeline.resources import ComtradeClient, ComtradeKey

    # the key stays the environment's: a config file never carries it
    overrides = {k: v for k, v in (args.config or {}).get("comtrade", {}).items() if k not in ("key", "api_key")}
    if args.base_url:
        overrides["base_url"] = args.base_url.rstrip("/")
    if args.rate is not None:
        overrides["requests_per_second"] = args.rate
    client = ComtradeClient(key=ComtradeKey(), **overrides)
    return client, client.has_key


def _year_partitions(years: list[int], command: str) -> list[str] | None:
    """The years as partition keys of the Comtrade fetch assets, or None after saying which are not."""
    from assets.comtrade.api import year_partitions

    keys = year_partitions().get_partition_keys()
    outside = [y for y in years if str(y) not in keys]
    if outside:
        print(f"geomon fetch {command}: year(s) {','.join(map(str, outside))} outside the year partitions "
              f"{keys[0]}..{keys[-1]} (HS data starts in 1988; a year is a partition once it is over)",
              file=sys.stderr)
        return None
    return [str(y) for y in years]


def _comtrade(args, paths: DataPaths) -> int:
    from assets.comtrade.api import ASSET_KEY, OP_NAME, page_store
    from pipeline.clients.comtrade.plan import PlanError, PlanSpec, plan_requests
    from pipeline.clients.comtrade.session import record_cap
    from pipeline.resources import DataFolder

    try:
        spec = PlanSpec.build(reporters=args.reporters, years=args.years, flows=args.flows, level=args.level,
                              partners=args.partners or None)
    except PlanError as exc:
        print(f"geomon fetch comtrade: {exc}", file=sys.stderr)
        return 2
    partitions = _year_partitions(list(spec.years), "comtrade")
    if partitions is None:
        return 2
    resource, keyed = _comtrade_resource(args)
    cap = record_cap(keyed, resource.max_records_per_call)
    kind = "data/v1/get" if keyed else "public/v1/preview"
    base = f"{resource.base_url}/{kind}/{spec.type_code}/{spec.freq}/{spec.cl}"
    # one partition a year: the first calls of each year's plan, as the partitions will make them
    roots = [r for y in spec.years for r in plan_requests(
        PlanSpec.build(reporters=spec.reporters, years=[y], flows=spec.flows, level=spec.level,
                       partners=spec.partners), record_cap=cap, base_url=base, max_url=resource.max_url_length)]
    store = page_store(DataFolder(root=str(paths.root)))
    if args.dry_run:
        held = sum(store.has_page(r) for r in roots)
        print(f"Comtrade plan: {len(spec.reporters)} reporter(s) x {len(spec.years)} year(s) (one partition each of "
              f"raw/comtrade_api_pages) x flows {','.join(spec.flows)} at {spec.level}, "
              f"{'all partners' if spec.partners is None else f'{len(spec.partners)} partners'}; "
              f"{'keyed' if keyed else 'keyless preview'}, {cap:,} records per call, endpoint {base}")
        print(f"  {len(roots)} first call(s), {held} already stored in {store.dir}; full pages are split at run time; "
              f"{'getDa is asked now (--check-revisions); ' if args.check_revisions else ''}"
              f"daily call limit {resource.daily_call_limit or 'none'}"
              f"{f', at most {args.max_calls} call(s) this run' if args.max_calls else ''}")
        for req in roots[:20]:
            print(f"  {'stored ' if store.has_page(req) else 'to fetch'}  {req.label()}")
        if len(roots) > 20:
            print(f"  ... {len(roots) - 20} more")
        print("dry run: no request made")
        return 0
    base_config = {"reporters": list(spec.reporters), "flows": list(spec.flows), "level": spec.level,
                   "partners": list(spec.partners or []),
                   # 0 h: the revision check is due now, whatever the age of the last one
                   **({"revision_check_hours": 0.0} if args.check_revisions else {})}
    calls_before = sum(store.load("_calls.json", {}).values())

    def config_for(partition):
        # --max-calls is for the whole command: each year gets what the years before it left
        left = 0
        if args.max_calls:
            left = args.max_calls - (sum(store.load("_calls.json", {}).values()) - calls_before)
            if left <= 0:
                return f"not fetched: the {args.max_calls} call(s) of --max-calls are spent"
        return {"ops": {OP_NAME: {"config": {**base_config, "max_calls": left}}}}

    return _execute(args, paths, ASSET_KEY, run_config=config_for, resources={"comtrade": resource},
                    partitions=partitions, label="comtrade", total=len(roots), what="calls")


def _comtrade_bulk(args, paths: DataPaths) -> int:
    from assets.comtrade.bulk import BULK_KEY, BULK_OP, bulk_store
    from pipeline.resources import DataFolder

    partitions = _year_partitions(args.years, "comtrade-bulk")
    if partitions is None:
        return 2
    resource, keyed = _comtrade_resource(args)
    if args.dry_run:
        store = bulk_store(DataFolder(root=str(paths.root)))
        held = store.held()
        print(f"Comtrade bulk plan: {len(args.reporters)} reporter(s) x {len(args.years)} year(s) (one partition each "
              f"of raw/comtrade_bulk_files) = {len(args.reporters) * len(args.years)} listing call(s) at "
              f"{resource.base_url}/bulk/v1/get/C/A/HS; {len(held)} file(s) held in {store.dir}; files whose "
              "publication is unchanged are not downloaded; each file is converted to typed Parquet once")
        if not keyed:
            print("  note: no COMTRADE_API_KEY set; bulk files need a premium key, the run would stop")
        print("dry run: no request made")
        return 0
    if not keyed:
        print("geomon fetch comtrade-bulk: bulk files need a premium COMTRADE_API_KEY in the environment; "
              "none is set", file=sys.stderr)
        return 2
    config = {"ops": {BULK_OP: {"config": {"reporters": args.reporters}}}}
    return _execute(args, paths, BULK_KEY, run_config=config, resources={"comtrade": resource},
                    partitions=partitions, label="comtrade-bulk", total=len(args.reporters) * len(args.years),
                    what="reporter-years")


def _comext_resource(args, **fields):
    from pipeline.resources import ComextApi

    overrides = {**(args.config or {}).get("comext_api", {}), **fields}
    if args.rate is not None:
        overrides["requests_per_second"] = args.rate
    return ComextApi(**overrides)


def _comext(args, paths: DataPaths) -> int:
    from assets.comext.api import BULK_MONTHS_KEY, DEFAULT_BULK_START, bulk_month_partitions, latest_months
    from pipeline.clients.comext import ComextError
    from pipeline.clients.comext.listing import monthly_files
    from pipeline.clients.comext.store import ComextRawStore
    from pipeline.clients.http import FetchError

    api = _comext_resource(args, **({"files_url": args.base_url.rstrip("/")} if args.base_url else {}))
    keys = set(bulk_month_partitions(DEFAULT_BULK_START).get_partition_keys())
    store = ComextRawStore.at(paths.root)
    if args.months:
        outside = [m for m in args.months if m not in keys]
        if outside:
            print(f"geomon fetch comext: month(s) {','.join(outside)} outside the partitions {min(keys)}..{max(keys)} "
                  "(first month configurable; the current month is not complete)", file=sys.stderr)
            return 2
        months = args.months
    elif args.dry_run:
        print(f"Comext plan: the {args.latest} most recent monthly file(s) of the listing at {api.files_url} "
              "(the listing is not requested in a dry run)")
        print(f"  held: {sorted(e.get('month') for e in store.held_bulk().values() if e.get('month'))}")
        print("dry run: no request made")
        return 0
    else:
        try:
            with api.client() as client:
                listing = monthly_files(client.list_files())
        except (FetchError, ComextError) as exc:
            print(f"geomon fetch comext: the file listing could not be read: {exc}", file=sys.stderr)
            return 1
        months = [m for m in latest_months(listing, args.latest) if m in keys]
    if args.dry_run:
        held = {e.get("month") for e in store.held_bulk().values()}
        print(f"Comext plan: {len(months)} monthly partition(s) of raw/comext_bulk_months from {api.files_url}; "
              "held months are checked against the listing and downloaded only when it changed")
        for m in months:
            print(f"  {m}  {'held' if m in held else 'to fetch'}")
        print("dry run: no request made")
        return 0
    run_config = {"ops": {BULK_MONTHS_KEY.to_python_identifier(): {"config": {"force": args.force}}}}
    return _execute(args, paths, BULK_MONTHS_KEY, run_config=run_config, resources={"comext_api": api},
                    partitions=months, label="comext", total=len(months), what="months")


def _comext_sdmx(args, paths: DataPaths) -> int:
    from assets.comext.api import SDMX_FILES_KEY, SDMX_OP
    from pipeline.clients.comext.sdmx import SdmxQuery, async_url_for

    if args.start > args.end:
        print(f"geomon fetch comext-sdmx: --start {args.start} is after --end {args.end}", file=sys.stderr)
        return 2
    query = {"reporter": args.reporter, "product": args.product, "partner": args.partner, "flow": args.flow,
             "start_period": args.start, "end_period": args.end}
    # every URL of the source follows --base-url: the SDMX endpoint and the asynchronous delivery beside it
    moved = {"sdmx_url": args.base_url.rstrip("/"), "async_url": async_url_for(args.base_url)} if args.base_url else {}
    api = _comext_resource(args, **moved)
    if args.dry_run:
        q = SdmxQuery(reporter=tuple(args.reporter), product=tuple(args.product), partner=tuple(args.partner),
                      flow=tuple(args.flow), start_period=args.start, end_period=args.end)
        print(f"Comext SDMX plan: {q.describe()} at {api.sdmx_url} (asynchronous delivery {api.async_url}); "
              f"{len(q.periods())} period(s), split by reporter then period if the API answers 413; "
              f"{'asked again (--force)' if args.force else 'no request if this query is held unchanged'}")
        print("dry run: no request made")
        return 0
    config = {"queries": [query], "force": args.force}
    return _execute(args, paths, SDMX_FILES_KEY, run_config={"ops": {SDMX_OP: {"config": config}}},
                    resources={"comext_api": api}, label="comext-sdmx", total=1, what="queries")
