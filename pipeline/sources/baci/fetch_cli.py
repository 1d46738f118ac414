"""``geomon fetch baci``: download CEPII BACI's zip of each HS edition (registered through pipeline/sources/baci);
fills the ``raw/baci_files`` asset's config and runs it with pipeline/cli/fetch.py."""

from __future__ import annotations

import argparse
import re

from pipeline.cli.fetch import _execute
from pipeline.paths import DataPaths
from pipeline.sources.baci.client import BASE_URL, DEFAULT_RELEASE, Folders, zip_name
from pipeline.sources.baci.files import EDITIONS


def _editions(text: str) -> list[str]:
    chosen = sorted({v.strip().upper() for v in text.split(",") if v.strip()})
    bad = [v for v in chosen if v not in EDITIONS]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(f"edition {','.join(bad) or text!r}: choose from {','.join(EDITIONS)}")
    return chosen


def _release(text: str) -> str:
    if not re.fullmatch(r"V\d{6}", text.strip().upper()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a BACI release like V202301")
    return text.strip().upper()


def add_commands(kinds, common) -> None:
    bc = kinds.add_parser("baci", help="CEPII BACI: one zip per HS edition (BACI_HS17_V202301.zip), resumable")
    bc.add_argument("--edition", type=_editions, default=["HS17"], help="HS92..HS22, comma-separated (default HS17)")
    bc.add_argument("--release", type=_release, default=DEFAULT_RELEASE, help=f"default {DEFAULT_RELEASE}")
    bc.add_argument("--force", action="store_true", help="download again even when the release is held")
    common(bc, f"folder URL of the zips (default {BASE_URL})")
    bc.set_defaults(func=_baci)


def _baci(args, paths: DataPaths) -> int:
    from assets.baci.records import FILES_KEY, FILES_OP
    from pipeline.sources.baci.resource import BaciApi

    overrides = {**(args.config or {}).get("baci_api", {})}
    if args.base_url:
        overrides["base_url"] = args.base_url.rstrip("/")
    if args.rate is not None:
        overrides["requests_per_second"] = args.rate
    api = BaciApi(**overrides)
    if args.dry_run:
        held = Folders(paths.raw_downloads).held()
        print(f"BACI plan: {len(args.edition)} zip(s) from {api.base_url}")
        for edition in args.edition:
            name = zip_name(edition, args.release)
            state = "held" if name in held and not args.force else "to fetch"
            print(f"  {state:8}  {name}")
        print("dry run: no request made")
        return 0
    config = {"editions": args.edition, "release": args.release, "force": args.force}
    return _execute(args, paths, FILES_KEY, run_config={"ops": {FILES_OP: {"config": config}}},
                    resources={"baci_api": api}, label="baci", total=len(args.edition), what="zips")
