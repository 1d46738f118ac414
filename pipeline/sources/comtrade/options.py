"""UN Comtrade's ``geomon fetch`` option types: reporters and partners as Comtrade codes, years, flows, levels.
Each parses one flag or says clearly why it cannot (argparse turns the message into a usage error, exit 2)."""

from __future__ import annotations

import argparse
import csv
import re

from pipeline.paths import REFERENCE_DIR

FLOWS = ("M", "X", "RM", "RX")
LEVELS = ("TOTAL", "AG2", "AG4", "AG6")


def _this_year() -> int:
    from pipeline.clients.http import utc_now

    return utc_now().year


def _years(text: str) -> list[int]:
    years: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{4})(?:-(\d{4}))?", part)
        if not m:
            raise argparse.ArgumentTypeError(f"{part!r} is not a year or a range like 2019-2024")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo > hi:
            raise argparse.ArgumentTypeError(f"{part}: the range runs backwards")
        years += range(lo, hi + 1)
    this_year = _this_year()
    late = [y for y in years if y > this_year]
    if late:
        raise argparse.ArgumentTypeError(f"{late[0]} is after the current year {this_year}: no data can exist yet")
    early = [y for y in years if y < 1962]
    if early:
        raise argparse.ArgumentTypeError(f"{early[0]} is before 1962, the first year Comtrade holds")
    return sorted(set(years))


def comtrade_codes() -> dict[int, str]:
    """Comtrade area codes the project knows (data/reference/area_codes.csv): code -> name."""
    with open(REFERENCE_DIR / "area_codes.csv", encoding="utf-8") as fh:
        return {int(r["code"]): r["name"] for r in csv.DictReader(fh) if r["source"] == "comtrade" and r["code"].isdigit()}


def _code_list(what: str, allow_world: bool):
    def parse(text: str) -> list[int]:
        known = comtrade_codes()
        codes, bad = [], []
        for part in (p.strip() for p in text.split(",")):
            if not part.isdigit():
                raise argparse.ArgumentTypeError(f"{what} {part!r} is not a numeric Comtrade code (e.g. 528 for the "
                                                 "Netherlands, 842 for the USA)")
            code = int(part)
            if code == 0 and not allow_world:
                raise argparse.ArgumentTypeError(f"{what} 0 is World, not a {what}")
            if code not in known and code != 0:
                bad.append(part)
            codes.append(code)
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {what} code(s) {','.join(bad)} (not in "
                                             "data/reference/area_codes.csv; e.g. 528 Netherlands, 276 Germany)")
        return sorted(set(codes))
    return parse
