"""Facts the committed reference tables in data/reference/ must keep.

These read the committed CSVs only (no network, no shared data), so they run on
a fresh clone. The values asserted are real-world facts about the codes, not
whatever the build happened to produce: if one fails, the build or an input is
wrong. The last test rebuilds the tables from ../shared/data when that folder
is present and checks the committed files are exactly what the script writes.
"""

from __future__ import annotations

import csv
import filecmp
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
REF = REPO / "data" / "reference"
SHARED = Path(os.environ.get("GEOMON_SHARED_DATA", REPO.parent / "shared" / "data"))

FILES = {
    "countries.csv": ["iso3", "iso2", "m49", "comtrade_code", "comext_code", "name"],
    "area_codes.csv": ["source", "code", "area", "kind", "name"],
    "eu_members.csv": ["iso3", "iso2", "comext_code", "name", "accession_date", "exit_date", "in_eu27_2020"],
    "hs_products.csv": ["code", "level", "description", "parent", "section"],
    "hs_sections.csv": ["section", "name"],
    "strategic_domains.csv": ["hs_prefix", "domain", "label", "listed_in"],
}
KINDS = {"country", "aggregate", "unspecified", "confidential", "special"}


def read(name: str) -> list[dict[str, str]]:
    with (REF / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def areas() -> dict[tuple[str, str], dict[str, str]]:
    return {(r["source"], r["code"]): r for r in read("area_codes.csv")}


@pytest.fixture(scope="module")
def countries() -> dict[str, dict[str, str]]:
    return {r["iso3"]: r for r in read("countries.csv")}


@pytest.fixture(scope="module")
def eu() -> list[dict[str, str]]:
    return read("eu_members.csv")


@pytest.fixture(scope="module")
def hs() -> dict[str, dict[str, str]]:
    return {r["code"]: r for r in read("hs_products.csv")}


# --- format -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FILES))
def test_header_encoding_and_order(name):
    raw = (REF / name).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    assert b"\r" not in raw
    raw.decode("utf-8")
    rows = read(name)
    assert rows, "empty table"
    assert list(rows[0]) == FILES[name]
    # Deterministic order: the build sorts, so re-sorting by the key changes nothing.
    key = {"area_codes.csv": lambda r: (r["source"], int(r["code"]) if r["code"].isdigit() else 0, r["code"]),
           "hs_sections.csv": None}.get(name, lambda r: r[FILES[name][0]])
    if key is not None:
        assert rows == sorted(rows, key=key)


# --- area_codes ---------------------------------------------------------------


def test_area_codes_unique_and_kinds_valid():
    rows = read("area_codes.csv")
    keys = Counter((r["source"], r["code"]) for r in rows)
    assert max(keys.values()) == 1
    assert {r["kind"] for r in rows} == KINDS
    assert {r["source"] for r in rows} == {"comtrade", "comext"}
    assert all(r["area"] and r["name"] for r in rows)


@pytest.mark.parametrize(
    "code, iso3",
    [("490", "TWN"), ("842", "USA"), ("251", "FRA"), ("699", "IND"), ("757", "CHE"), ("579", "NOR"),
     ("276", "DEU"), ("156", "CHN"), ("528", "NLD"), ("826", "GBR"), ("380", "ITA"), ("381", "ITA")],
)
def test_comtrade_country_codes(areas, code, iso3):
    row = areas[("comtrade", code)]
    assert (row["kind"], row["area"]) == ("country", iso3)


def test_world_is_aggregate_in_both_sources(areas):
    for key in [("comtrade", "0"), ("comext", "WORLD")]:
        assert (areas[key]["kind"], areas[key]["area"]) == ("aggregate", "WORLD")


def test_comtrade_non_countries(areas):
    assert areas[("comtrade", "97")]["kind"] == "aggregate"
    assert areas[("comtrade", "899")]["kind"] == "unspecified"
    for code in ("837", "838", "839"):
        assert areas[("comtrade", code)]["kind"] == "special"
    # Every Comtrade "..., nes" area except Taiwan's 490 is unallocated trade.
    nes = [r for (src, _), r in areas.items() if src == "comtrade" and "nes" in r["name"].replace(",", " ").split()]
    assert len(nes) >= 15
    assert {r["kind"] for r in nes if r["code"] != "490"} == {"unspecified"}


def test_europe_eu_nes_is_not_monaco(areas):
    row = areas[("comtrade", "492")]
    assert row["kind"] == "unspecified"
    assert row["area"] != "MCO"
    assert not any(r["area"] == "MCO" for r in areas.values())


def test_comtrade_historical_codes_are_not_current_countries(areas, countries):
    current = {r["comtrade_code"] for r in countries.values()}
    for code in ("58", "200", "280", "810", "841", "891"):
        assert areas[("comtrade", code)]["kind"] == "country"
        assert code not in current


def test_comext_codes(areas):
    expected = {
        "GR": ("country", "GRC"), "XI": ("country", "GBR"), "XU": ("country", "GBR"),
        "GB": ("country", "GBR"), "XK": ("country", "XKX"), "XS": ("country", "SRB"),
        "CN": ("country", "CHN"), "TW": ("country", "TWN"), "NA": ("country", "NAM"),
    }
    for code, want in expected.items():
        assert (areas[("comext", code)]["kind"], areas[("comext", code)]["area"]) == want
    assert ("comext", "EL") not in areas  # Comext data uses GR, never Eurostat's EL
    for code in ("QX", "QY", "QZ"):
        assert areas[("comext", code)]["kind"] == "confidential"
    for code in ("QU", "QV", "QW"):
        assert areas[("comext", code)]["kind"] == "unspecified"
    for code in ("QP", "QQ", "QR", "QS"):
        assert areas[("comext", code)]["kind"] == "special"
    for code in ("EU27_2020", "EU27_2020_EXTRA", "EU27_2020_INTRA", "EXT_EU27_2020", "INT_EU27_2020"):
        assert (areas[("comext", code)]["kind"], areas[("comext", code)]["area"]) == ("aggregate", code)


def test_every_code_in_the_real_samples_is_classified(areas):
    # Partner/reporter codes that appear in the committed real samples.
    comtrade = {"0", "32", "156", "276", "699", "842", "899", "251", "757", "450", "528"}
    comext = {"AT", "AD", "BE", "GR", "NL", "CN", "WORLD", "DE", "FR"}
    assert {("comtrade", c) for c in comtrade} <= set(areas)
    assert {("comext", c) for c in comext} <= set(areas)


def test_country_areas_are_iso3_or_documented_pseudo_codes(areas, countries):
    former_iso3 = {"ANT", "CSK", "DDR", "SCG", "SUN"}  # BACI's codes for former countries
    for (source, code), row in areas.items():
        if row["kind"] != "country":
            continue
        area = row["area"]
        if area in countries or area in former_iso3:
            continue
        # No ISO3 of its own: Comtrade 'CT' + code, Comext its own code.
        assert area == (f"CT{code}" if source == "comtrade" else code), (source, code, area)


# --- countries ----------------------------------------------------------------


def test_countries_keys(countries):
    rows = list(countries.values())
    for field in ("iso3", "iso2", "comtrade_code", "comext_code"):
        values = [r[field] for r in rows if r[field]]
        assert len(values) == len(set(values)), field
    assert all(len(r["iso3"]) == 3 and len(r["iso2"]) == 2 for r in rows)
    assert all(r["m49"] == "" or (r["m49"].isdigit() and not r["m49"].startswith("0")) for r in rows)
    assert 245 <= len(rows) <= 260


@pytest.mark.parametrize(
    "iso3, iso2, m49, comtrade, comext",
    [
        ("TWN", "TW", "158", "490", "TW"),
        ("USA", "US", "840", "842", "US"),
        ("FRA", "FR", "250", "251", "FR"),
        ("IND", "IN", "356", "699", "IN"),
        ("CHE", "CH", "756", "757", "CH"),
        ("NOR", "NO", "578", "579", "NO"),
        ("GRC", "GR", "300", "300", "GR"),
        ("GBR", "GB", "826", "826", "GB"),
        ("NLD", "NL", "528", "528", "NL"),
        ("CHN", "CN", "156", "156", "CN"),
        ("NAM", "NA", "516", "516", "NA"),
        ("SRB", "RS", "688", "688", "XS"),
        ("XKX", "XK", "", "", "XK"),
        ("MCO", "MC", "492", "", ""),
    ],
)
def test_country_rows(countries, iso3, iso2, m49, comtrade, comext):
    row = countries[iso3]
    assert (row["iso2"], row["m49"], row["comtrade_code"], row["comext_code"]) == (iso2, m49, comtrade, comext)


def test_countries_agree_with_area_codes(countries, areas):
    for row in countries.values():
        if row["comtrade_code"]:
            assert areas[("comtrade", row["comtrade_code"])]["area"] == row["iso3"]
        if row["comext_code"]:
            assert areas[("comext", row["comext_code"])]["area"] == row["iso3"]


def test_major_economies_fully_coded(countries):
    for iso3 in ("USA", "CHN", "JPN", "DEU", "GBR", "FRA", "IND", "ITA", "BRA", "CAN", "KOR",
                 "RUS", "AUS", "MEX", "IDN", "TUR", "SAU", "CHE", "NOR", "TWN", "SGP", "ZAF"):
        row = countries[iso3]
        assert row["iso2"] and row["comtrade_code"] and row["comext_code"], iso3


# --- eu_members ---------------------------------------------------------------


def test_eu27_2020(eu, countries):
    members = [r for r in eu if r["in_eu27_2020"] == "true"]
    assert len(eu) == 28
    assert len(members) == 27
    assert {r["in_eu27_2020"] for r in eu} == {"true", "false"}
    assert "GBR" not in {r["iso3"] for r in members}
    uk = next(r for r in eu if r["iso3"] == "GBR")
    assert (uk["exit_date"], uk["in_eu27_2020"], uk["comext_code"]) == ("2020-01-31", "false", "GB")
    greece = next(r for r in eu if r["iso3"] == "GRC")
    assert (greece["iso2"], greece["comext_code"]) == ("GR", "GR")
    croatia = next(r for r in eu if r["iso3"] == "HRV")
    assert croatia["accession_date"] == "2013-07-01"
    for r in members:
        c = countries[r["iso3"]]
        assert c["comtrade_code"] and c["comext_code"] == r["comext_code"], r["iso3"]
        assert r["exit_date"] == ""
        assert len(r["accession_date"]) == 10 and r["accession_date"][4] == "-"


# --- HS -----------------------------------------------------------------------


def test_hs2022_counts(hs):
    levels = Counter(r["level"] for r in hs.values())
    assert levels == {"2": 97, "4": 1229, "6": 5613}


def test_hs2022_codes(hs):
    # HS 2022 split 854140 into 854141..854149 (LEDs, PV cells...).
    assert "854142" in hs and "854143" in hs
    assert "854140" not in hs
    assert hs["010121"]["parent"] == "0101" and hs["0101"]["parent"] == "01"
    assert hs["01"]["section"] == "I" and hs["8541"]["section"] == "XVI"
    for code, row in hs.items():
        assert code.isdigit() and len(code) == int(row["level"])
        if row["level"] != "2":
            assert code.startswith(row["parent"]) and row["parent"] in hs


def test_hs_sections(hs):
    sections = read("hs_sections.csv")
    assert len(sections) == 21
    assert sections[0]["section"] == "I" and sections[-1]["section"] == "XXI"
    assert {r["section"] for r in hs.values()} - {""} == {s["section"] for s in sections}


def test_strategic_domains_exist_in_hs(hs):
    rows = read("strategic_domains.csv")
    assert len(rows) >= 50
    for r in rows:
        assert len(r["hs_prefix"]) in (2, 4, 6) and r["hs_prefix"] in hs, r
        assert set(r["listed_in"].split(";")) <= {"seed", "crma_annex_i", "crma_annex_ii", "ec_swd_2021_352",
                                                  "ec_swd_2022_41"}, r
    assert len({(r["hs_prefix"], r["domain"]) for r in rows}) == len(rows)
    assert {r["domain"] for r in rows} == {
        "fossil_energy", "energy_transition", "critical_raw_materials", "medical",
        "digital_high_tech", "food_security", "strategic_raw_materials", "rare_earth_magnets", "batteries",
        "semiconductors", "active_pharmaceutical_ingredients",
    }


def test_strategic_domains_follow_the_published_lists():
    rows = read("strategic_domains.csv")
    domains: dict[str, set[str]] = {}
    for r in rows:
        domains.setdefault(r["hs_prefix"], set()).add(r["domain"])
    annex = {k: [r["hs_prefix"] for r in rows if k in r["listed_in"].split(";")]
             for k in ("crma_annex_i", "crma_annex_ii")}
    # Regulation (EU) 2024/1252: 17 strategic (Annex I) and 34 critical raw materials (Annex II); every
    # strategic raw material is also critical (Art. 4), so each Annex I code sits under an Annex II code.
    assert all(any(a.startswith(b) for b in annex["crma_annex_ii"]) for a in annex["crma_annex_i"])
    # Annex I: rare earths for magnets, magnesium, lithium, gallium/germanium, tungsten, PGMs, silicon metal
    for code in ("280530", "2846", "8104", "282520", "283691", "811292", "8101", "7110", "280469"):
        assert {"critical_raw_materials", "strategic_raw_materials"} <= domains[code], code
    # Annex II only: antimony, baryte, fluorspar, helium (rare gases), phosphate rock
    for code in ("8110", "251110", "252922", "280429", "2510"):
        assert "critical_raw_materials" in domains[code] and "strategic_raw_materials" not in domains[code], code
    # every published screen counts permanent magnets (China about 85%, EC SWD(2022) 41)
    assert "rare_earth_magnets" in domains["850511"]
    assert domains["850760"] == {"energy_transition", "batteries"}
    assert {"digital_high_tech", "semiconductors"} <= domains["8541"] and "semiconductors" in domains["8542"]
    assert "active_pharmaceutical_ingredients" in domains["2941"] and "medical" in domains["2941"]


# --- reproducible -------------------------------------------------------------


def test_code_columns_follow_the_source_registry():
    """A source with area codes of its own (Source.reference: its rules in pipeline/sources/<name>/reference.py)
    has its rows in area_codes.csv and its code column in countries.csv, in registry order, with the meaning
    its registry entry states; eu_members.csv carries the code of the sources whose reporters are the EU."""
    from pipeline import glossary
    from pipeline.sources.registry import SOURCES

    coded = [s for s in SOURCES if s.reference]
    assert [(s.name, s.code_column) for s in coded] == [("comtrade", "comtrade_code"), ("comext", "comext_code")]
    with (REF / "countries.csv").open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == ["iso3", "iso2", "m49", *(s.code_column for s in coded), "name"]
    with (REF / "eu_members.csv").open(encoding="utf-8") as f:
        assert next(csv.reader(f))[:3] == ["iso3", "iso2", *(s.code_column for s in coded if s.eu_reporters_only)]
    assert {r["source"] for r in read("area_codes.csv")} == {s.name for s in coded}
    assert all(glossary.COLUMNS[s.code_column] == s.code_meaning != "" for s in coded)


@pytest.mark.pipeline
@pytest.mark.skipif(not SHARED.is_dir(), reason="shared raw data not available")
def test_build_refuses_a_source_rule_broken_by_its_input(tmp_path):
    """A source's rule that an input breaks (GEONOM listing an aggregate code) stops the build run as a script
    with the reason and writes nothing."""
    shared = tmp_path / "shared"
    shared.mkdir()
    for entry in SHARED.iterdir():
        if entry.name != "comext":
            (shared / entry.name).symlink_to(entry)
    (shared / "comext" / "reference").mkdir(parents=True)
    geonom = (SHARED / "comext" / "reference" / "comext_geonom_partner_codes.csv").read_text(encoding="utf-8")
    last = geonom.rstrip("\n").rsplit("\n", 1)[1]
    (shared / "comext" / "reference" / "comext_geonom_partner_codes.csv").write_text(
        geonom.rstrip("\n") + "\nEU27_2020," + last.split(",", 1)[1] + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(REPO / "pipeline" / "reference_build.py"), "--shared", str(shared),
         "--out", str(tmp_path / "out")], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "reference_build: GEONOM now lists aggregate EU27_2020"
    assert not (tmp_path / "out").exists()


@pytest.mark.pipeline
@pytest.mark.skipif(not SHARED.is_dir(), reason="shared raw data not available")
def test_build_reproduces_committed_files(tmp_path):
    # Run as a script (not an import) so the test needs nothing the package imports.
    result = subprocess.run(
        [sys.executable, str(REPO / "pipeline" / "reference_build.py"), "--shared", str(SHARED), "--out", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in FILES:
        assert filecmp.cmp(tmp_path / name, REF / name, shallow=False), f"{name} differs from a fresh build"
