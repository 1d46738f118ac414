"""``geomon fetch comtrade`` and ``geomon fetch comtrade-bulk``: UN Comtrade's fetch subcommands (registered
through pipeline/sources/comtrade); they fill the fetch assets' config and run them with pipeline/cli/fetch.py."""

from __future__ import annotations

import sys

from pipeline.cli.fetch import _execute
from pipeline.cli.fetch_options import _choices, _positive
from pipeline.paths import DataPaths
from pipeline.sources.comtrade.options import FLOWS, LEVELS, _code_list, _years


def add_commands(kinds, common) -> None:
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


def _comtrade_resource(args):
    from pipeline.sources.comtrade.resource import ComtradeClient, ComtradeKey

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
    from pipeline.sources.comtrade.client.plan import PlanError, PlanSpec, plan_requests
    from pipeline.sources.comtrade.client.session import record_cap
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
