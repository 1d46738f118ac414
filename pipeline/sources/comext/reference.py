"""Eurostat Comext's rules for the reference tables (run by ``python -m pipeline.reference_build``): its GEONOM
and aggregate partner codes -> area and kind (``area_codes.csv``), and each country's current GEONOM code (the
``comext_code`` column of ``countries.csv`` and, Comext's reporters being the EU members, of
``eu_members.csv``: ``Source.code_column``). Every judgement is a named constant, explained in
``data/reference/PROVENANCE.md``. Standard library only, like the build.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from pipeline.reference_build import Countries, check, current_code, read_csv

# Input file, relative to the shared data folder.
GEONOM = "comext/reference/comext_geonom_partner_codes.csv"

# Partner/reporter aggregates used by the Comext API and bulk files. They are not
# in the GEONOM list (which only holds geographic codes), so they are listed here.
COMEXT_AGGREGATES = {
    "WORLD": "All countries of the world",
    "EU27_2020": "European Union - 27 countries (from 2020)",
    "EU27_2020_EXTRA": "Extra-EU27 (from 2020)",
    "EU27_2020_INTRA": "Intra-EU27 (from 2020)",
    "EXT_EU27_2020": "Extra-EU27 (from 2020)",
    "INT_EU27_2020": "Intra-EU27 (from 2020)",
    "EU28": "European Union - 28 countries (2013-2020)",
    "EU28_EXTRA": "Extra-EU28 (2013-2020)",
    "EU28_INTRA": "Intra-EU28 (2013-2020)",
    "EXT_EU28": "Extra-EU28 (2013-2020)",
    "INT_EU28": "Intra-EU28 (2013-2020)",
}
COMEXT_UNSPECIFIED = {
    "QU", "QV", "QW",  # countries not specified (all / intra-EU / extra-EU)
    "QT",  # "West Indies" (1976-1986): a region, like Comtrade's "Caribbean, nes"
    "ZZ",  # "No data, work code"
}
COMEXT_CONFIDENTIAL = {"QX", "QY", "QZ"}  # not specified for commercial or military reasons
COMEXT_SPECIAL = {"QP", "QQ", "QR", "QS"}  # high seas; stores and provisions
# GEONOM codes that are not (or no longer) ISO 3166 alpha-2 but stand for a
# country we know the ISO3 of.
COMEXT_ISO3 = {
    "XI": "GBR",  # United Kingdom (Northern Ireland), from 2021
    "XU": "GBR",  # United Kingdom (excluding Northern Ireland), from 2021
    "XK": "XKX",  # Kosovo: no ISO code; XKX is the code the EU, IMF and World Bank use
    "XS": "SRB",  # Serbia, from 2005 (GEONOM never used RS)
    "XM": "MNE",  # Montenegro 2005-2006, before GEONOM switched to ME
    "XP": "PSE",  # West Bank and Gaza Strip 1995-2000, now PS
    "TP": "TLS",  # Portuguese/East Timor, now TL
    "CS": "SCG",  # Serbia and Montenegro 2004-2005 (its 1976-1992 meaning was Czechoslovakia)
}
GEONOM_OPEN_END = "2500-12-31"


def geonom(shared: Path) -> dict[str, list[dict[str, str]]]:
    """GEONOM code -> its validity windows, oldest first."""
    windows: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in read_csv(shared / GEONOM):
        windows[r["code"].strip()].append(r)
    for rows in windows.values():
        rows.sort(key=lambda r: r["valid_from"])
    return windows


def classify_comext(code: str, iso_by_iso2: dict, baci_by_iso2: dict) -> tuple[str, str]:
    if code in COMEXT_AGGREGATES:
        return code, "aggregate"
    if code in COMEXT_UNSPECIFIED:
        return code, "unspecified"
    if code in COMEXT_CONFIDENTIAL:
        return code, "confidential"
    if code in COMEXT_SPECIAL:
        return code, "special"
    if code in COMEXT_ISO3:
        return COMEXT_ISO3[code], "country"
    if code in iso_by_iso2:  # GR -> GRC: Comext uses ISO's GR, not Eurostat's EL
        return iso_by_iso2[code], "country"
    if code in baci_by_iso2:  # former countries BACI knows: AN -> ANT, SU -> SUN, DD -> DDR
        return baci_by_iso2[code], "country"
    # Places with no ISO3 at all (Yugoslavia, Canary Islands, Ceuta, Melilla,
    # "American Oceania"...): still one identifiable supplier, kept under its own code.
    return code, "country"


def codes(ctx: Countries) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Its rows of area_codes.csv, and iso3 -> the country's current GEONOM code ('' when it has none)."""
    windows = geonom(ctx.shared)
    iso_by_iso2 = {c["iso2"]: c["iso3"] for c in ctx.iso}
    # BACI ISO2 -> ISO3, for former countries only; ISO2 codes that BACI uses for
    # two different entities (CS: Czechoslovakia and Serbia-Montenegro) are dropped.
    by_iso2 = defaultdict(set)
    for r in ctx.baci.values():
        iso2, iso3 = r["iso_2digit_alpha"].strip(), r["iso_3digit_alpha"].strip()
        if iso2 and iso3 != "N/A":
            by_iso2[iso2].add(iso3)
    baci_by_iso2 = {k: v.pop() for k, v in by_iso2.items() if len(v) == 1}

    names = {code: ws[-1]["name"].strip() for code, ws in windows.items()}
    for code, label in COMEXT_AGGREGATES.items():
        check(code not in names, f"GEONOM now lists aggregate {code}")
        names[code] = label
    rows = []
    for code, name in names.items():
        area, kind = classify_comext(code, iso_by_iso2, baci_by_iso2)
        rows.append({"source": "comext", "code": code, "area": area, "kind": kind, "name": name})

    open_geonom = {code for code, ws in windows.items() if ws[-1]["valid_to"] == GEONOM_OPEN_END}
    held = defaultdict(list)
    for r in rows:
        if r["kind"] == "country" and r["code"] in open_geonom:
            held[r["area"]].append(r["code"])
    # GBR has GB, XI and XU open: the whole-country code is the one equal to ISO2.
    current = {c["iso3"]: current_code(c["iso3"], held.get(c["iso3"], []), c["iso2"], "Comext") for c in ctx.iso}
    return rows, current
