"""``geomon fetch comext`` and ``geomon fetch comext-sdmx``: Eurostat Comext's fetch subcommands (registered
through pipeline/sources/comext); they fill the fetch assets' config and run them with pipeline/cli/fetch.py."""

from __future__ import annotations

import sys

from pipeline.cli.fetch import _execute
from pipeline.cli.fetch_options import _choices, _month, _months, _positive
from pipeline.paths import DataPaths


def add_commands(kinds, common) -> None:
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


def _comext_resource(args, **fields):
    from pipeline.sources.comext.resource import ComextApi

    overrides = {**(args.config or {}).get("comext_api", {}), **fields}
    if args.rate is not None:
        overrides["requests_per_second"] = args.rate
    return ComextApi(**overrides)


def _comext(args, paths: DataPaths) -> int:
    from assets.comext.api import BULK_MONTHS_KEY, DEFAULT_BULK_START, bulk_month_partitions, latest_months
    from pipeline.sources.comext.client import ComextError
    from pipeline.sources.comext.client.listing import monthly_files
    from pipeline.sources.comext.client.store import ComextRawStore
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
    from pipeline.sources.comext.client.sdmx import SdmxQuery, async_url_for

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
