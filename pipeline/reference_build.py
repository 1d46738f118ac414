"""Build the committed reference tables in ``data/reference/`` from the shared raw inputs.

Usage::

    python -m pipeline.reference_build --shared ../shared/data --out data/reference

The script is run by hand when an input or a rule below changes; its output is
committed, so the pipeline itself never needs ``shared/data``. Every rule that is
a judgement rather than a copy is a named constant near the top, and
``data/reference/PROVENANCE.md`` explains each one. The build refuses to write
anything when a check fails (an unclassified code, a duplicate key, an EU member
without codes...), so a bad input cannot silently produce a thinner table.

Only the standard library is used: the inputs are small, and reading them with
``csv`` keeps every code a string (``"010121"`` stays ``"010121"``, Namibia's
ISO2 ``"NA"`` stays ``"NA"`` instead of becoming a null).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

from pipeline.cli.parser import Parser

REPO_ROOT = Path(__file__).resolve().parents[1]

# Input files, relative to the shared data folder.
BACI_COUNTRIES = "baci/baci_country_codes_V202301.csv"
DATAHUB_COUNTRIES = "countries/country-codes_datahub.csv"
GEONOM = "comext/reference/comext_geonom_partner_codes.csv"
COMTRADE_PARTNERS = "comtrade/reference/legacy_partnerAreas.json"
COMTRADE_REPORTERS = "comtrade/reference/legacy_reporterAreas.json"
COMTRADE_NES = "comtrade/reference/growthlab_partner_areas_nes_subset.csv"
EU_MEMBERS = "eu/eu_member_states_eums.csv"
HS_CODES = "hs/harmonized-system.csv"
HS_SECTIONS = "hs/hs_sections.csv"
STRATEGIC = "reference/strategic_domains.csv"
# Published lists mapped to HS 2022 by this project (data/reference/PROVENANCE.md says which list each
# listed_in key is and how its names were matched to codes).
PUBLISHED_DOMAINS = REPO_ROOT / "data" / "reference" / "inputs" / "strategic_domains_published.csv"
DOMAIN_LISTS = {"crma_annex_i", "crma_annex_ii", "ec_swd_2021_352", "ec_swd_2022_41"}
HS_CORRELATIONS = "hs/hs_version_correlations_consolidated_growthlab.csv"

KINDS = ("country", "aggregate", "unspecified", "confidential", "special")
WORLD = "WORLD"

# --- Comtrade rules -------------------------------------------------------
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

# --- Comext rules ---------------------------------------------------------
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

# --- HS editions ------------------------------------------------------------
# The Growth Lab file's `adjustment` names a revision as "<newer year> to <older
# year>", with `code.after` in the newer and `code.before` in the older edition.
# Each one becomes a step older -> newer between Comtrade's edition codes.
# Its `1988 to 1976`-style rows (HS 1992 -> SITC, SITC revisions) are not HS and are skipped.
HS_STEPS = {
    "1996 to 1992": ("H0", "H1"),
    "2002 to 1996": ("H1", "H2"),
    "2007 to 2002": ("H2", "H3"),
    "2012 to 2007": ("H3", "H4"),
    "2017 to 2012": ("H4", "H5"),
    "2022 to 2017": ("H5", "H6"),
}
# The file stored codes as integers, so a leading zero is gone (10121 = 010121);
# HS codes are padded back to this width.
HS6_WIDTH = 6
# The file's `Relationship` is written newer:older ("n:1" on 854140 -> 854142 in
# "2022 to 2017": n HS 2022 codes for one HS 2017 code). This table states every
# relationship older:newer (from:to), so the file's label is read backwards.
FLIP = {"1:1": "1:1", "1:n": "n:1", "n:1": "1:n", "n:n": "n:n"}
# Facts the build insists on: HS 2017's photovoltaic and LED heading 854140 was
# split by HS 2022 into (among others) 854142/854143 (photovoltaic cells).
HS_SPLIT_FACT = ("H5", "854140", {"854141", "854142", "854143", "854149"})

# --- EU -------------------------------------------------------------------
# The EU27_2020 composition is the membership on the day after Brexit.
EU27_2020_DATE = date(2020, 2, 1)

# Countries that must come out with iso3, iso2, comtrade_code and comext_code all
# filled, on top of the EU members: the build fails otherwise.
MAJOR_ECONOMIES = (
    "USA", "CHN", "JPN", "DEU", "GBR", "FRA", "IND", "ITA", "BRA", "CAN", "KOR",
    "RUS", "AUS", "MEX", "IDN", "TUR", "SAU", "ARG", "ZAF", "CHE", "NOR", "TWN",
    "SGP", "ARE", "THA", "MYS", "VNM", "ISR", "UKR", "CHL", "HKG",
)
# Present in Comext (XK) but in no ISO/M49 list, so added by hand.
KOSOVO = {"iso3": "XKX", "iso2": "XK", "m49": "", "name": "Kosovo"}


class BuildError(Exception):
    """An input broke an assumption; nothing is written."""


def read_csv(path: Path) -> list[dict[str, str]]:
    # utf-8-sig strips a byte-order mark where there is one (hs_sections.csv).
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BuildError(message)


def code_order(code: str) -> tuple:
    """Numeric codes in numeric order, then the others alphabetically."""
    return (0, int(code), "") if code.isdigit() else (1, 0, code)


# --- countries and area codes ---------------------------------------------


def load_iso(shared: Path) -> list[dict[str, str]]:
    """Current ISO 3166 countries from the datahub list, plus Kosovo."""
    iso = []
    for r in read_csv(shared / DATAHUB_COUNTRIES):
        iso.append({
            "iso3": r["ISO3166-1-Alpha-3"].strip(),
            "iso2": r["ISO3166-1-Alpha-2"].strip(),
            "m49": r["M49"].strip(),
            "numeric": r["ISO3166-1-numeric"].strip(),
            # CLDR's display name is the short everyday one ("Czechia", "Taiwan").
            "name": (r["CLDR display name"] or r["official_name_en"]).strip(),
        })
    check(all(c["iso3"] and c["iso2"] for c in iso), "datahub row without ISO2/ISO3")
    check(not any(c["iso3"] == KOSOVO["iso3"] for c in iso), "datahub now lists Kosovo: drop KOSOVO")
    iso.append({**KOSOVO, "numeric": ""})
    return iso


def load_baci(shared: Path) -> dict[str, dict[str, str]]:
    """BACI's Comtrade-style numeric code -> its row (names, ISO2, ISO3)."""
    return {r["country_code"].strip(): r for r in read_csv(shared / BACI_COUNTRIES)}


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


def build_area_codes(shared: Path, iso: list[dict[str, str]], baci: dict[str, dict[str, str]],
                     windows: dict[str, list[dict[str, str]]]) -> list[dict[str, str]]:
    iso_by_numeric = {c["numeric"]: c["iso3"] for c in iso if c["numeric"]}
    iso_by_iso2 = {c["iso2"]: c["iso3"] for c in iso}

    names, is_group = comtrade_codes(shared, baci)
    rows = []
    for code, name in names.items():
        area, kind = classify_comtrade(code, name, baci, is_group, iso_by_numeric)
        rows.append({"source": "comtrade", "code": code, "area": area, "kind": kind, "name": name})

    # BACI ISO2 -> ISO3, for former countries only; ISO2 codes that BACI uses for
    # two different entities (CS: Czechoslovakia and Serbia-Montenegro) are dropped.
    by_iso2 = defaultdict(set)
    for r in baci.values():
        iso2, iso3 = r["iso_2digit_alpha"].strip(), r["iso_3digit_alpha"].strip()
        if iso2 and iso3 != "N/A":
            by_iso2[iso2].add(iso3)
    baci_by_iso2 = {k: v.pop() for k, v in by_iso2.items() if len(v) == 1}

    comext_names = {code: ws[-1]["name"].strip() for code, ws in windows.items()}
    for code, label in COMEXT_AGGREGATES.items():
        check(code not in comext_names, f"GEONOM now lists aggregate {code}")
        comext_names[code] = label
    for code, name in comext_names.items():
        area, kind = classify_comext(code, iso_by_iso2, baci_by_iso2)
        rows.append({"source": "comext", "code": code, "area": area, "kind": kind, "name": name})

    rows.sort(key=lambda r: (r["source"], code_order(r["code"])))
    keys = [(r["source"], r["code"]) for r in rows]
    check(len(keys) == len(set(keys)), "duplicate (source, code) in area_codes")
    check(all(r["kind"] in KINDS for r in rows), "unknown kind")
    return rows


def current_code(iso3: str, candidates: list[str], preferred: str | None, what: str) -> str:
    """The one current native code for a country, or '' when the sources have none."""
    if not candidates:
        return ""
    if preferred in candidates:
        return preferred
    check(len(candidates) == 1, f"{iso3}: several current {what} codes {sorted(candidates)}")
    return candidates[0]


def build_countries(iso: list[dict[str, str]], areas: list[dict[str, str]], baci_codes: set[str],
                    windows: dict[str, list[dict[str, str]]]) -> list[dict[str, str]]:
    open_geonom = {code for code, ws in windows.items() if ws[-1]["valid_to"] == GEONOM_OPEN_END}

    comtrade, comtrade_baci, comext = defaultdict(list), defaultdict(list), defaultdict(list)
    for r in areas:
        if r["kind"] != "country":
            continue
        if r["source"] == "comtrade" and r["code"] not in COMTRADE_FORMER_CODES:
            # BACI V202301 is the most recent Comtrade-style code list we have, so
            # its code wins over a code found only in the 2018 legacy lists
            # (IND: 699 over 356 "India, excl. Sikkim"; ITA: 380 over 381).
            (comtrade_baci if r["code"] in baci_codes else comtrade)[r["area"]].append(r["code"])
        elif r["source"] == "comext" and r["code"] in open_geonom:
            comext[r["area"]].append(r["code"])

    rows = []
    for c in iso:
        iso3 = c["iso3"]
        ct_candidates = comtrade_baci.get(iso3) or comtrade.get(iso3, [])
        rows.append({
            "iso3": iso3,
            "iso2": c["iso2"],
            "m49": c["m49"],
            "comtrade_code": current_code(iso3, ct_candidates, None, "Comtrade"),
            # GBR has GB, XI and XU open: the whole-country code is the one equal to ISO2.
            "comext_code": current_code(iso3, comext.get(iso3, []), c["iso2"], "Comext"),
            "name": c["name"],
        })
    rows.sort(key=lambda r: r["iso3"])
    for field in ("iso3", "iso2", "comtrade_code", "comext_code"):
        values = [r[field] for r in rows if r[field]]
        check(len(values) == len(set(values)), f"countries.csv: duplicate {field}")
    return rows


# --- EU, HS, domains ------------------------------------------------------


def iso_date(value: str) -> str:
    """'1952-07-23' stays; the source's 'NA' becomes empty."""
    value = value.strip()
    if value in ("", "NA"):
        return ""
    return date.fromisoformat(value).isoformat()


def build_eu_members(shared: Path, countries: list[dict[str, str]]) -> list[dict[str, str]]:
    comext_by_iso3 = {r["iso3"]: r["comext_code"] for r in countries}
    rows = []
    for r in read_csv(shared / EU_MEMBERS):
        iso3 = r["iso_alpha_3_code"].strip()
        joined, left = iso_date(r["accession_date"]), iso_date(r["exit_date"])
        member_then = date.fromisoformat(joined) <= EU27_2020_DATE and (
            not left or date.fromisoformat(left) >= EU27_2020_DATE
        )
        rows.append({
            "iso3": iso3,
            # ISO2 (GR, GB), not the EU's own member_state_code (EL, UK).
            "iso2": r["iso_alpha_2_code"].strip(),
            "comext_code": comext_by_iso3.get(iso3, ""),
            "name": r["member_state"].strip(),
            "accession_date": joined,
            "exit_date": left,
            "in_eu27_2020": "true" if member_then else "false",
        })
    rows.sort(key=lambda r: r["iso3"])
    check(sum(r["in_eu27_2020"] == "true" for r in rows) == 27, "EU27_2020 must have 27 members")
    return rows


def build_hs(shared: Path) -> tuple[list[dict[str, str]], list[dict[str, str]], list[str]]:
    notes = []
    sections = [{"section": r["section"].strip(), "name": r["name"].strip()} for r in read_csv(shared / HS_SECTIONS)]
    known_sections = {s["section"] for s in sections}

    products = []
    for r in read_csv(shared / HS_CODES):
        code, level = r["hscode"].strip(), r["level"].strip()
        if level not in ("2", "4", "6"):
            # The file's root row ("TOTAL", level 5): not a product code.
            notes.append(f"dropped {code!r} (level {level}): {r['description']}")
            continue
        check(code.isdigit() and len(code) == int(level), f"HS code {code!r} does not match level {level}")
        parent, section = r["parent"].strip(), r["section"].strip()
        # Chapter 99 ("commodities not specified according to kind", which
        # Comtrade reports under 99/9999/999999) belongs to no section: the
        # file files it under "TOTAL". It is kept, with an empty section.
        if section == "TOTAL" and code.startswith("99"):
            section = ""
        check(section == "" or section in known_sections, f"HS {code}: unknown section {section!r}")
        products.append({
            "code": code,
            "level": level,
            "description": r["description"].strip(),
            # Chapters hang under "TOTAL", which is dropped, so they get no parent.
            "parent": "" if level == "2" else parent,
            "section": section,
        })
    products.sort(key=lambda r: r["code"])
    codes = {p["code"] for p in products}
    check(len(codes) == len(products), "duplicate HS code")
    for p in products:
        check(not p["parent"] or (p["parent"] in codes and p["code"].startswith(p["parent"])),
              f"HS {p['code']}: parent {p['parent']!r} missing or not a prefix")
    # Sections keep the file's order, which is the official I..XXI order.
    return products, sections, notes


def build_domains(shared: Path, hs_codes: set[str]) -> tuple[list[dict[str, str]], list[str]]:
    """The seed list plus the published lists (PUBLISHED_DOMAINS): one row per (prefix, domain)."""
    seed = [{**{k: r[k].strip() for k in ("hs_prefix", "domain", "label")}, "listed_in": "seed"}
            for r in read_csv(shared / STRATEGIC)]
    published = [{k: r[k].strip() for k in ("hs_prefix", "domain", "label", "listed_in")}
                 for r in read_csv(PUBLISHED_DOMAINS)]
    check(all(r["listed_in"] in DOMAIN_LISTS for r in published),
          f"{PUBLISHED_DOMAINS.name}: listed_in not one of {sorted(DOMAIN_LISTS)}")
    problems = [f"{r['hs_prefix']} ({r['label']}, {r['listed_in']})" for r in seed + published
                if not (r["hs_prefix"].isdigit() and len(r["hs_prefix"]) in (2, 4, 6) and r["hs_prefix"] in hs_codes)]
    check(not problems, f"strategic_domains prefixes not valid HS 2022 codes: {problems}")
    for name, rows in (("seed", seed), (PUBLISHED_DOMAINS.name, published)):
        keys = [(r["hs_prefix"], r["domain"]) for r in rows]
        check(len(keys) == len(set(keys)), f"duplicate (hs_prefix, domain) in {name}")
    # A (prefix, domain) in the seed and in a published list is one row: the seed's label, both lists named.
    merged: dict[tuple[str, str], dict[str, str]] = {}
    for r in seed + published:
        row = merged.setdefault((r["hs_prefix"], r["domain"]), {**r, "listed_in": ""})
        row["listed_in"] = ";".join(x for x in (row["listed_in"], r["listed_in"]) if x)
    rows = sorted(merged.values(), key=lambda r: (r["hs_prefix"], r["domain"]))
    # Nested prefixes of one domain are allowed (longest prefix wins within the domain) but worth stating;
    # across domains a product simply sits in each.
    nested = [f"{inner['hs_prefix']} inside {outer['hs_prefix']} ({inner['domain']})" for inner in rows for outer in rows
              if inner is not outer and inner["domain"] == outer["domain"] and inner["hs_prefix"].startswith(outer["hs_prefix"])]
    return rows, nested


def _pair_relationship(n_from_of_to: int, n_to_of_from: int) -> str:
    """from:to relationship of one pair: 'n' on a side that has other codes too."""
    return ("n" if n_from_of_to > 1 else "1") + ":" + ("n" if n_to_of_from > 1 else "1")


def build_hs_correlations(shared: Path, hs6_2022: set[str]) -> tuple[list[dict[str, str]], list[str]]:
    """One row per (step, older code, newer code) of HS 1992 -> ... -> HS 2022."""
    rows, seen_steps = [], set()
    for r in read_csv(shared / HS_CORRELATIONS):
        adjustment = r["adjustment"].strip()
        if adjustment not in HS_STEPS:
            continue  # SITC rows
        seen_steps.add(adjustment)
        before, after, label = r["code.before"].strip(), r["code.after"].strip(), r["Relationship"].strip()
        for code in (before, after):
            check(code.isdigit() and HS6_WIDTH - 1 <= len(code) <= HS6_WIDTH,
                  f"{adjustment}: code {code!r} is not an HS6 code that lost at most one leading zero")
        check(label in FLIP, f"{adjustment}: unknown relationship {label!r}")
        from_edition, to_edition = HS_STEPS[adjustment]
        rows.append({
            "from_edition": from_edition,
            "from_code": before.zfill(HS6_WIDTH),
            "to_edition": to_edition,
            "to_code": after.zfill(HS6_WIDTH),
            "relationship_table": FLIP[label],
        })
    check(seen_steps == set(HS_STEPS), f"HS revisions missing from the correlations: {set(HS_STEPS) - seen_steps}")
    keys = [(r["from_edition"], r["from_code"], r["to_code"]) for r in rows]
    check(len(keys) == len(set(keys)), "duplicate (from_edition, from_code, to_code) in the HS correlations")

    # The relationship of each pair, from the pairs themselves: does the older code
    # go to other newer codes too, does the newer code come from other older codes too.
    n_to, n_from = defaultdict(int), defaultdict(int)
    for r in rows:
        n_to[(r["from_edition"], r["from_code"])] += 1
        n_from[(r["to_edition"], r["to_code"])] += 1
    for r in rows:
        r["relationship"] = _pair_relationship(n_from[(r["to_edition"], r["to_code"])],
                                               n_to[(r["from_edition"], r["from_code"])])
        # The published label is the one of the whole group of codes, so a pair inside
        # an n:n group may itself be 1:n or n:1; any other disagreement means the
        # file's direction is not what we think it is.
        check(r["relationship"] == r["relationship_table"]
              or (r["relationship_table"] == "n:n" and r["relationship"] != "1:1"),
              f"{r['from_edition']} {r['from_code']} -> {r['to_code']}: pairs say {r['relationship']}, "
              f"the table says {r['relationship_table']} (read as from:to)")

    edition, code, targets = HS_SPLIT_FACT
    found = {r["to_code"] for r in rows if r["from_edition"] == edition and r["from_code"] == code}
    check(targets <= found, f"{edition} {code} should split into {sorted(targets)}, found {sorted(found)}")
    newest = {r["to_code"] for r in rows if r["to_edition"] == "H6"}
    check(newest == hs6_2022, "HS 2022 codes of the correlations differ from hs_products: "
          f"{sorted(newest ^ hs6_2022)[:10]}")

    # Codes that a step produces but the next step does not know are dead ends of a chain.
    notes = []
    by_edition_from = defaultdict(set)
    by_edition_to = defaultdict(set)
    for r in rows:
        by_edition_from[r["from_edition"]].add(r["from_code"])
        by_edition_to[r["to_edition"]].add(r["to_code"])
    for edition in sorted(set(by_edition_to) & set(by_edition_from)):
        for code in sorted(by_edition_to[edition] - by_edition_from[edition]):
            notes.append(f"{edition} {code} is a target of the previous revision but has no row in the next one")
        for code in sorted(by_edition_from[edition] - by_edition_to[edition]):
            notes.append(f"{edition} {code} has a row in the next revision but is no target of the previous one")

    rows.sort(key=lambda r: (r["from_edition"], r["from_code"], r["to_code"]))
    header = ["from_edition", "from_code", "to_edition", "to_code", "relationship", "relationship_table"]
    return [{k: r[k] for k in header} for r in rows], notes


# --- driver ---------------------------------------------------------------


def check_coverage(countries: list[dict[str, str]], eu: list[dict[str, str]]) -> None:
    by_iso3 = {r["iso3"]: r for r in countries}
    must = [r["iso3"] for r in eu if r["in_eu27_2020"] == "true"] + list(MAJOR_ECONOMIES)
    for iso3 in must:
        row = by_iso3.get(iso3)
        check(row is not None, f"{iso3} missing from countries.csv")
        for field in ("iso2", "comtrade_code", "comext_code"):
            check(bool(row[field]), f"{iso3}: no {field}")


def build(shared: Path, out: Path) -> dict[str, int]:
    iso, baci, windows = load_iso(shared), load_baci(shared), geonom(shared)
    areas = build_area_codes(shared, iso, baci, windows)
    countries = build_countries(iso, areas, set(baci), windows)
    eu = build_eu_members(shared, countries)
    check_coverage(countries, eu)
    products, sections, hs_notes = build_hs(shared)
    domains, nested = build_domains(shared, {p["code"] for p in products})
    correlations, hs_chain_notes = build_hs_correlations(shared, {p["code"] for p in products if p["level"] == "6"})

    # Everything is checked before the first file is written.
    outputs = {
        "countries.csv": (["iso3", "iso2", "m49", "comtrade_code", "comext_code", "name"], countries),
        "area_codes.csv": (["source", "code", "area", "kind", "name"], areas),
        "eu_members.csv": (
            ["iso3", "iso2", "comext_code", "name", "accession_date", "exit_date", "in_eu27_2020"], eu),
        "hs_products.csv": (["code", "level", "description", "parent", "section"], products),
        "hs_sections.csv": (["section", "name"], sections),
        "strategic_domains.csv": (["hs_prefix", "domain", "label", "listed_in"], domains),
        "hs_correlations.csv": (
            ["from_edition", "from_code", "to_edition", "to_code", "relationship", "relationship_table"],
            correlations),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in outputs.items():
        write_csv(out / name, header, rows)
    for note in hs_notes:
        print(f"hs_products: {note}", file=sys.stderr)
    for note in nested:
        print(f"strategic_domains: nested prefix {note}", file=sys.stderr)
    for note in hs_chain_notes:
        print(f"hs_correlations: {note}", file=sys.stderr)
    return {name: len(rows) for name, (_, rows) in outputs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared" / "data",
                        help="the shared raw data folder (default: ../shared/data next to the repo)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "reference",
                        help="where to write the CSVs (default: data/reference)")
    args = parser.parse_args(argv)
    if not args.shared.is_dir():
        print(f"reference_build: shared data folder not found: {args.shared}", file=sys.stderr)
        return 1
    try:
        counts = build(args.shared, args.out)
    except BuildError as e:
        print(f"reference_build: {e}", file=sys.stderr)
        return 1
    for name, n in counts.items():
        print(f"{name}: {n} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
