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
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.cli.parser import Parser

REPO_ROOT = Path(__file__).resolve().parents[1]

# Input files, relative to the shared data folder.
BACI_COUNTRIES = "baci/baci_country_codes_V202301.csv"
DATAHUB_COUNTRIES = "countries/country-codes_datahub.csv"
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

# Countries that must come out with iso3, iso2 and every source's code (comtrade_code, ...) all
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
# Each source's own codes and rules are in its folder (pipeline/sources/<name>/reference.py, Source.reference).


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


def current_code(iso3: str, candidates: list[str], preferred: str | None, what: str) -> str:
    """The one current native code for a country, or '' when the sources have none."""
    if not candidates:
        return ""
    if preferred in candidates:
        return preferred
    check(len(candidates) == 1, f"{iso3}: several current {what} codes {sorted(candidates)}")
    return candidates[0]


@dataclass(frozen=True)
class Countries:
    """What every source's rules start from: the shared data folder, the current ISO countries (Kosovo added)
    and BACI's country dictionary (numeric Comtrade-style code -> its row)."""

    shared: Path
    iso: list[dict[str, str]]
    baci: dict[str, dict[str, str]]


def source_rules() -> list[tuple[str, Any]]:
    """(code column, reference module) of the registered sources that have area codes of their own
    (``Source.reference``, a module whose ``codes(ctx)`` gives its rows of area_codes.csv and iso3 -> the
    country's current code; ``Source.code_column``, the column of countries.csv holding that code), in
    registry order."""
    from pipeline.sources import load
    from pipeline.sources.registry import SOURCES

    return [(s.code_column, load(s.reference)) for s in SOURCES if s.reference]


def eu_member_columns() -> list[str]:
    """The code columns eu_members.csv carries: those of the sources whose reporters are the EU members."""
    from pipeline.sources.registry import SOURCES

    return [s.code_column for s in SOURCES if s.reference and s.eu_reporters_only]


def build_codes(ctx: Countries) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(area_codes.csv, countries.csv): every source's native area codes, and each country with its current
    code in each source (a column per source, in registry order)."""
    areas, current = [], {}
    for column, rules in source_rules():
        rows, codes = rules.codes(ctx)
        areas += rows
        current[column] = codes
    areas.sort(key=lambda r: (r["source"], code_order(r["code"])))
    keys = [(r["source"], r["code"]) for r in areas]
    check(len(keys) == len(set(keys)), "duplicate (source, code) in area_codes")
    check(all(r["kind"] in KINDS for r in areas), "unknown kind")

    countries = []
    for c in ctx.iso:
        countries.append({"iso3": c["iso3"], "iso2": c["iso2"], "m49": c["m49"],
                          **{column: codes.get(c["iso3"], "") for column, codes in current.items()},
                          "name": c["name"]})
    countries.sort(key=lambda r: r["iso3"])
    for field in ("iso3", "iso2", *current):
        values = [r[field] for r in countries if r[field]]
        check(len(values) == len(set(values)), f"countries.csv: duplicate {field}")
    return areas, countries


# --- EU, HS, domains ------------------------------------------------------


def iso_date(value: str) -> str:
    """'1952-07-23' stays; the source's 'NA' becomes empty."""
    value = value.strip()
    if value in ("", "NA"):
        return ""
    return date.fromisoformat(value).isoformat()


def build_eu_members(shared: Path, countries: list[dict[str, str]]) -> list[dict[str, str]]:
    by_iso3 = {r["iso3"]: r for r in countries}
    columns = eu_member_columns()
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
            **{column: by_iso3.get(iso3, {}).get(column, "") for column in columns},
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
        for field in ("iso2", *(column for column, _ in source_rules())):
            check(bool(row[field]), f"{iso3}: no {field}")


def build(shared: Path, out: Path) -> dict[str, int]:
    areas, countries = build_codes(Countries(shared, load_iso(shared), load_baci(shared)))
    eu = build_eu_members(shared, countries)
    check_coverage(countries, eu)
    products, sections, hs_notes = build_hs(shared)
    domains, nested = build_domains(shared, {p["code"] for p in products})
    correlations, hs_chain_notes = build_hs_correlations(shared, {p["code"] for p in products if p["level"] == "6"})

    # Everything is checked before the first file is written.
    outputs = {
        "countries.csv": (["iso3", "iso2", "m49", *(column for column, _ in source_rules()), "name"], countries),
        "area_codes.csv": (["source", "code", "area", "kind", "name"], areas),
        "eu_members.csv": (
            ["iso3", "iso2", *eu_member_columns(), "name", "accession_date", "exit_date", "in_eu27_2020"], eu),
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
    # Run as a file (python pipeline/reference_build.py): run the importable module, the one whose Countries,
    # check and BuildError the sources' rules import, so that their BuildError is the one main() catches.
    from pipeline.reference_build import main as _main

    sys.exit(_main())
