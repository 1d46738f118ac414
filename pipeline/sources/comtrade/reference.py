"""UN Comtrade's rules for the reference tables (run by ``python -m pipeline.reference_build``): its numeric
area codes -> area and kind (``area_codes.csv``), and each country's current Comtrade code (the
``comtrade_code`` column of ``countries.csv``: ``Source.code_column``). Every judgement is a named constant,
explained in ``data/reference/PROVENANCE.md``. Standard library only, like the build.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from pipeline.reference_build import WORLD, Countries, check, current_code, read_csv

# Input files, relative to the shared data folder.
COMTRADE_PARTNERS = "comtrade/reference/legacy_partnerAreas.json"
COMTRADE_REPORTERS = "comtrade/reference/legacy_reporterAreas.json"
COMTRADE_NES = "comtrade/reference/growthlab_partner_areas_nes_subset.csv"

# Groups of countries: never a supplier, always double counting.
COMTRADE_AGGREGATES = {"0": WORLD, "97": "CT97"}  # World; EU (EU-28 in the legacy list)
# Trade that has a real destination but no country: ships' bunkers, free zones,
# "special categories" (goods a reporter declines to allocate, e.g. military).
COMTRADE_SPECIAL = {"837", "838", "839"}
# "Other Asia, nes" is Comtrade's name for Taiwan; it must be checked before the
# generic "nes" rule below or Taiwan would vanish into unallocated trade.
COMTRADE_TAIWAN = "490"
# Codes Comtrade itself assigns to a current country's ISO3 (sources.md 1.6:
# USA -> 842, 841, 840; the legacy exports in shared/data label 381 as ITA) but
# that neither BACI nor the ISO numeric list resolves.
COMTRADE_EXTRA_ISO3 = {"381": "ITA", "841": "USA"}
# BACI maps these former entities onto a current country's ISO3 (Belgium-
# Luxembourg -> BEL, Fmr Fed. Rep. of Germany -> DEU, SACU -> ZAF, Fmr Sudan ->
# SDN). We keep that mapping for the area, but they are not the country's
# current code, so countries.csv must not pick them.
COMTRADE_FORMER_CODES = {"58", "280", "711", "736"}
# Comtrade's "not elsewhere specified" areas all say so in their name.
NES_NAME = re.compile(r"\bnes\b", re.IGNORECASE)


def comtrade_codes(shared: Path, baci: dict[str, dict[str, str]]) -> tuple[dict[str, str], dict[str, bool]]:
    """Every Comtrade code in the shared sources -> its native name; and isGroup flags."""
    names: dict[str, str] = {}
    # Later sources only fill gaps: the legacy partner list has Comtrade's own names.
    for rel in (COMTRADE_PARTNERS, COMTRADE_REPORTERS):
        for item in json.loads((shared / rel).read_text(encoding="utf-8"))["results"]:
            names.setdefault(str(item["id"]).strip(), item["text"].strip())
    is_group = {}
    for r in read_csv(shared / COMTRADE_NES):
        code = r["PartnerCode"].strip()
        names.setdefault(code, r["PartnerDesc"].strip())
        is_group[code] = r["isGroup"].strip().lower() == "true"
    for code, r in baci.items():
        names.setdefault(code, r["country_name_abbreviation"].strip())
    check(all(c.isdigit() for c in names), "non-numeric Comtrade code")
    return names, is_group


def classify_comtrade(code: str, name: str, baci: dict, is_group: dict, iso_by_numeric: dict) -> tuple[str, str]:
    """(area, kind) for one Comtrade code. Order matters: see the comments."""
    if code in COMTRADE_AGGREGATES:
        return COMTRADE_AGGREGATES[code], "aggregate"
    if is_group.get(code):
        return f"CT{code}", "aggregate"
    if code == COMTRADE_TAIWAN:
        return "TWN", "country"
    if code in COMTRADE_SPECIAL:
        return f"CT{code}", "special"
    # Before any ISO lookup: 492 "Europe EU, nes" is also Monaco's ISO numeric
    # code, and the Comtrade reference even gives it Monaco's ISO3.
    if NES_NAME.search(name):
        return f"CT{code}", "unspecified"
    if code in COMTRADE_EXTRA_ISO3:
        return COMTRADE_EXTRA_ISO3[code], "country"
    iso3 = baci.get(code, {}).get("iso_3digit_alpha", "").strip()
    if iso3 and iso3 != "N/A":
        return iso3, "country"
    # Apart from the few exceptions above, Comtrade codes are ISO numeric codes.
    if code in iso_by_numeric:
        return iso_by_numeric[code], "country"
    # A former or odd territory with no ISO3 of its own (Fmr Yugoslavia, Sikkim...).
    return f"CT{code}", "country"


def codes(ctx: Countries) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Its rows of area_codes.csv, and iso3 -> the country's current Comtrade code ('' when it has none)."""
    iso_by_numeric = {c["numeric"]: c["iso3"] for c in ctx.iso if c["numeric"]}
    names, is_group = comtrade_codes(ctx.shared, ctx.baci)
    rows = []
    for code, name in names.items():
        area, kind = classify_comtrade(code, name, ctx.baci, is_group, iso_by_numeric)
        rows.append({"source": "comtrade", "code": code, "area": area, "kind": kind, "name": name})

    listed, from_baci = defaultdict(list), defaultdict(list)
    for r in rows:
        if r["kind"] == "country" and r["code"] not in COMTRADE_FORMER_CODES:
            # BACI V202301 is the most recent Comtrade-style code list we have, so
            # its code wins over a code found only in the 2018 legacy lists
            # (IND: 699 over 356 "India, excl. Sikkim"; ITA: 380 over 381).
            (from_baci if r["code"] in ctx.baci else listed)[r["area"]].append(r["code"])
    current = {c["iso3"]: current_code(c["iso3"], from_baci.get(c["iso3"]) or listed.get(c["iso3"], []), None,
                                       "Comtrade") for c in ctx.iso}
    return rows, current
