"""Methodology section 8, "Screens no public monitor shows yet" (issue 29): supplier headroom, the CRMA
benchmark, bloc versus members.

- by hand: the real SQL models on the in-memory harness, every expected figure worked out in the comments
  from the section's formulas;
- the oracle (tests/oracle/beyond.py, polars, written from the contract) against the SQL models row by row,
  on the embedded default and on the adversarial world (tests/adversarial_world.py), and the oracle itself
  against the values the adversarial world plants (PLANTED_BEYOND).
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from sql_harness import Harness

CHN, USA, JPN, KOR, DEU, FRA, NLD, WORLD = 156, 842, 392, 410, 276, 251, 528, 0
ONE, FIVE = "810520", "850760"


@pytest.fixture(scope="module")
def harness():
    return Harness()


# ------------------------------------------------------------------------------------- supplier headroom

def _headroom_world(h: Harness) -> None:
    y = 2024
    h.add_comtrade([
        # ONE: world exports CHN 9900, USA 50, JPN 50: shares 0.99, 0.005, 0.005 -> one potential supplier (CHN)
        (CHN, "X", WORLD, ONE, y, 9900), (USA, "X", WORLD, ONE, y, 50), (JPN, "X", WORLD, ONE, y, 50),
        (KOR, "M", USA, ONE, y, 100),                                   # buys only from a non-potential one
        (DEU, "M", CHN, ONE, y, 50), (DEU, "M", USA, ONE, y, 10),       # buys from the one potential supplier
        (CHN, "M", USA, ONE, y, 5),                                     # the potential supplier itself
        (FRA, "M", WORLD, ONE, y, 70),                                  # only a World total: who is unknown
        # FIVE: CHN, USA, JPN, DEU, KOR export 100 each (0.2 each): five potential suppliers
        *[(r, "X", WORLD, FIVE, y, 100) for r in (CHN, USA, JPN, DEU, KOR)],
        (FRA, "M", CHN, FIVE, y, 60), (FRA, "M", USA, FIVE, y, 40),
        (NLD, "M", CHN, FIVE, y, 10), (NLD, "M", USA, FIVE, y, 10), (NLD, "M", JPN, FIVE, y, 10),
        (DEU, "M", CHN, FIVE, y, 30), (DEU, "M", USA, FIVE, y, 30),
    ])


def test_supplier_headroom_by_hand(harness):
    h = harness.reset()
    _headroom_world(h)
    h.build("monitor.supplier_headroom_by_year")
    rows = {(r["importer"], r["product_code"]): r for r in h.rows("SELECT * FROM monitor.supplier_headroom")}

    def got(importer, code):
        r = rows[(importer, code)]
        return (r["potential_suppliers"], r["actual_suppliers"], r["concentrated_oecd"], r["unused_potential_suppliers"])

    # a product with one potential supplier: KOR does not buy from it, 0 < 1 / 2 -> concentrated
    assert got("KOR", ONE) == (1, 0, True, "CHN")
    assert rows[("KOR", ONE)]["n_suppliers"] == 1 and rows[("KOR", ONE)]["n_exporters"] == 3
    # DEU buys from it: 1 < 0.5 is false; nothing unused
    assert got("DEU", ONE) == (1, 1, False, None)
    # CHN is never its own potential supplier: 0 potential, 0 actual, not concentrated
    assert got("CHN", ONE) == (0, 0, False, None)
    # FRA reports only a World total: who it buys from is unknown, never "concentrated"
    assert got("FRA", ONE) == (1, None, None, "CHN")
    # five potential suppliers of 0.2 each: FRA buys from 2 < 2.5 -> concentrated; the unused three tie on
    # world exports (100 each) and go to the highest code first
    assert got("FRA", FIVE) == (5, 2, True, "KOR; JPN; DEU")
    assert got("NLD", FIVE) == (5, 3, False, "KOR; DEU")
    # DEU is not a potential supplier of itself: 4 potential, 2 actual = exactly half, not concentrated
    assert got("DEU", FIVE) == (4, 2, False, "KOR; JPN")
    # the Comtrade EU27 bloc (DEU, FRA, NLD reports): extra-EU suppliers CHN, USA, JPN of the potential CHN, USA,
    # JPN, KOR (member DEU left out)
    assert got("EU27", FIVE) == (4, 3, False, "KOR")
    assert got("EU27", ONE) == (1, 1, False, None)
    assert rows[("KOR", ONE)]["potential_min_share"] == pytest.approx(0.01)
    assert rows[("KOR", ONE)]["world_covered"] is False  # 8 reporters here, fewer than 50

    year = h.rows("SELECT * FROM monitor.supplier_headroom_by_year")
    assert len(year) == 1
    y = year[0]
    # countries only: KOR/DEU/CHN ONE, FRA/NLD/DEU FIVE known (6 cases), FRA ONE unknown; concentrated: KOR ONE
    # (top supplier USA) and FRA FIVE (top supplier CHN 60 of 100)
    assert (y["importers"], y["cases"], y["concentrated_cases"], y["china_top_cases"]) == (5, 6, 2, 1)
    assert y["concentrated_share"] == pytest.approx(2 / 6)
    assert y["china_share_of_concentrated"] == pytest.approx(0.5)


def test_supplier_headroom_min_share_is_a_parameter():
    # at potential_min_share 0.005 the two small exporters of ONE count too: KOR buys from USA, 1 < 3 / 2
    h = Harness(potential_min_share=0.005)
    _headroom_world(h)
    h.build("monitor.supplier_headroom")
    r = h.rows("SELECT * FROM monitor.supplier_headroom WHERE importer = 'KOR'")[0]
    assert (r["potential_suppliers"], r["actual_suppliers"], r["concentrated_oecd"]) == (3, 1, True)
    assert r["unused_potential_suppliers"] == "CHN; JPN"
    assert r["potential_min_share"] == pytest.approx(0.005)


# ------------------------------------------------------------------------------------- CRMA benchmark

MEMBERS = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
           "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]


def test_crma_benchmark_by_hand(harness):
    h = harness.reset()
    # every member state reports 2024 (wooden furniture), so the EU27 bloc's 2024 is complete
    h.add_sdmx([(m, "CN", "94036000", 1, "2024", 10) for m in MEMBERS])
    h.add_sdmx([
        # cobalt, processing (810520 and 282200 summed): DE 810520 CN 40, US 20; FR 282200 CN 15, JP 15; NL 282200
        # CN 10 and BE 100 (intra-EU, not in it); FR 810520 from DE 50 (intra-EU). EU27: CN 65 of 100 -> exactly
        # the benchmark, not over it
        ("DE", "CN", "81052000", 1, "2024", 40), ("DE", "US", "81052000", 1, "2024", 20),
        ("FR", "CN", "28220000", 1, "2024", 15), ("FR", "JP", "28220000", 1, "2024", 15),
        ("NL", "CN", "28220000", 1, "2024", 10), ("NL", "BE", "28220000", 1, "2024", 100),
        ("FR", "DE", "81052000", 1, "2024", 50),
        # tungsten, extraction (261100): CN 66 of 100 in 2024 -> over; 2021: CN 70 of 100 but only DE reports
        # (an incomplete bloc): shown, never over
        ("DE", "CN", "26110000", 1, "2024", 66), ("DE", "RW", "26110000", 1, "2024", 34),
        ("DE", "CN", "26110000", 1, "2021", 70), ("DE", "RW", "26110000", 1, "2021", 30),
        # gallium, processing: 811292 is shared with germanium, indium, niobium, vanadium
        ("DE", "CN", "81129200", 1, "2024", 100),
    ])
    h.build("monitor.crma_benchmark")
    rows = {(r["reporter"], r["year"], r["material"], r["stage"]): r
            for r in h.rows("SELECT * FROM monitor.crma_benchmark")}
    co = rows[("EU27", 2024, "cobalt", "processing")]
    assert (co["m_extra"], co["top_supplier"], co["top_supplier_value"], co["n_suppliers_extra"]) == (
        Decimal("100.000"), "CHN", Decimal("65.000"), 3)
    assert co["top_share"] == pytest.approx(0.65, abs=1e-15) and co["benchmark"] == pytest.approx(0.65)
    assert co["over_benchmark"] is False and co["year_complete"] is True
    assert co["benchmark_gap"] == pytest.approx(0.0, abs=1e-12)
    assert co["codes_traded"] == 2 and co["codes_shared"] == 0
    # NL on its non-EU imports: CN 10 of 10 (BE's 100 is intra-EU)
    nl = rows[("NLD", 2024, "cobalt", "processing")]
    assert (nl["m_extra"], nl["top_share"], nl["over_benchmark"]) == (Decimal("10.000"), 1.0, True)
    assert nl["caveat"].startswith("quasi-transit")
    w = rows[("EU27", 2024, "tungsten", "extraction")]
    assert (w["top_supplier"], w["over_benchmark"]) == ("CHN", True) and w["top_share"] == pytest.approx(0.66)
    w21 = rows[("EU27", 2021, "tungsten", "extraction")]
    assert w21["top_share"] == pytest.approx(0.7) and w21["over_benchmark"] is False and w21["year_complete"] is False
    assert w["top_share_3y_before"] == pytest.approx(0.7) and w["top_share_change_3y"] == pytest.approx(-0.04)
    assert co["top_share_3y_before"] is None and co["top_share_change_3y"] is None
    ga = rows[("EU27", 2024, "gallium", "processing")]
    assert ga["codes_shared"] == 1 and ga["over_benchmark"] is True
    # germanium shares 811292: the same imports, labelled as an upper bound by codes_shared
    assert rows[("EU27", 2024, "germanium", "processing")]["m_extra"] == Decimal("100.000")
    assert ("EU27", 2024, "copper", "processing") not in rows  # nothing imported


def test_crma_benchmark_is_a_parameter():
    h = Harness(crma_benchmark=0.6)
    h.add_sdmx([(m, "CN", "94036000", 1, "2024", 10) for m in MEMBERS])
    h.add_sdmx([("DE", "CN", "81052000", 1, "2024", 65), ("DE", "US", "81052000", 1, "2024", 35)])
    h.build("monitor.crma_benchmark")
    r = h.rows("SELECT * FROM monitor.crma_benchmark WHERE reporter = 'EU27'")[0]
    assert r["benchmark"] == pytest.approx(0.6) and r["over_benchmark"] is True
    assert r["benchmark_gap"] == pytest.approx(0.05)


def test_crma_benchmark_rolling_by_hand(harness):
    h = harness.reset()
    # every member state reports each month of 2024 and January 2025 (wooden furniture): the bloc's windows
    # ending 2024-12 and 2025-01 are complete, those ending 2024-01..2024-11 are not (1..11 months)
    months = [f"2024-{m:02d}" for m in range(1, 13)] + ["2025-01"]
    h.add_sdmx([(m, "CN", "94036000", 1, p, 10) for m in MEMBERS for p in months])
    h.add_sdmx([
        # cobalt, processing (810520, 282200): 2024 DE CN 10 (Jan) + 45 (Jun), NL CN 10 (Feb, below), US 20 (Mar),
        # JP 15 (Sep): CN 65 of 100 in the window ending 2024-12 -> exactly the benchmark, not over it
        ("DE", "CN", "81052000", 1, "2024-01", 10), ("DE", "CN", "81052000", 1, "2024-06", 45),
        ("DE", "US", "81052000", 1, "2024-03", 20), ("FR", "JP", "28220000", 1, "2024-09", 15),
        # January 2025: CN 35 more; January 2024 leaves the window: CN 90 of 125 = 0.72 -> over
        ("DE", "CN", "81052000", 1, "2025-01", 35),
        # NL: CN 10 (Feb), and BE 100 (intra-EU, not in it): 10 of 10 from CN
        ("NL", "CN", "28220000", 1, "2024-02", 10), ("NL", "BE", "28220000", 1, "2024-02", 100),
    ])
    h.build("monitor.crma_benchmark_rolling")
    h.build("monitor.crma_benchmark")
    rows = {(r["reporter"], r["period_end"], r["material"], r["stage"]): r
            for r in h.rows("SELECT * FROM monitor.crma_benchmark_rolling")}
    dec = rows[("EU27", "2024-12", "cobalt", "processing")]
    assert (dec["m_extra"], dec["top_supplier"], dec["top_supplier_value"], dec["n_suppliers_extra"]) == (
        Decimal("100.000"), "CHN", Decimal("65.000"), 3)
    assert dec["top_share"] == pytest.approx(0.65, abs=1e-15) and dec["over_benchmark"] is False
    assert (dec["period_start"], dec["months_in_window"], dec["window_complete"], dec["bloc_members"],
            dec["bloc_complete"]) == ("2024-01", 12, True, 27, True)
    assert dec["codes_traded"] == 2 and dec["codes_shared"] == 0 and dec["year"] == 2024
    jan = rows[("EU27", "2025-01", "cobalt", "processing")]
    assert (jan["m_extra"], jan["top_supplier_value"], jan["over_benchmark"]) == (
        Decimal("125.000"), Decimal("90.000"), True)
    assert jan["top_share"] == pytest.approx(0.72) and jan["benchmark_gap"] == pytest.approx(0.07)
    # the window ending 2024-06 holds 6 months: CN 65 of 85 (0.76) is shown, never flagged
    jun = rows[("EU27", "2024-06", "cobalt", "processing")]
    assert jun["top_share"] == pytest.approx(65 / 85) and jun["months_in_window"] == 6
    assert jun["window_complete"] is False and jun["over_benchmark"] is False
    # before any cobalt import, no row
    assert ("EU27", "2024-01", "cobalt", "processing") in rows and ("EU27", "2023-12", "cobalt", "processing") not in rows
    assert rows[("EU27", "2024-01", "cobalt", "processing")]["m_extra"] == Decimal("10.000")
    nl = rows[("NLD", "2024-12", "cobalt", "processing")]
    assert (nl["m_extra"], nl["top_share"], nl["over_benchmark"], nl["bloc_complete"]) == (
        Decimal("10.000"), 1.0, True, None)
    assert nl["caveat"].startswith("quasi-transit") and ("NLD", "2024-01", "cobalt", "processing") not in rows
    # the December window of a year of monthly rows is the calendar year: monitor.crma_benchmark's row
    year = h.rows("SELECT * FROM monitor.crma_benchmark WHERE source = 'comext' AND year = 2024 "
                  "AND material = 'cobalt' AND reporter = 'EU27'")[0]
    assert (year["m_extra"], year["top_supplier"], year["top_share"], year["over_benchmark"]) == (
        dec["m_extra"], dec["top_supplier"], dec["top_share"], dec["over_benchmark"])


def test_crma_mapping_uses_only_known_hs_codes():
    import csv

    from conftest import REPO

    ref = REPO / "data" / "reference"
    hs = {r["code"] for r in csv.DictReader((ref / "hs_products.csv").open(encoding="utf-8"))}
    rows = list(csv.DictReader((ref / "crma_materials.csv").open(encoding="utf-8")))
    assert list(rows[0]) == ["material", "stage", "hs6", "hs_description", "shared_with"]
    assert rows == sorted(rows, key=lambda r: (r["material"], r["stage"], r["hs6"]))
    assert all(len(r["hs6"]) == 6 and r["hs6"] in hs for r in rows), [r for r in rows if r["hs6"] not in hs]
    assert len({(r["material"], r["stage"], r["hs6"]) for r in rows}) == len(rows)
    # the 17 strategic raw materials of Annex I, Section 1
    assert len({r["material"] for r in rows}) == 17
    assert {r["stage"] for r in rows} <= {"extraction", "processing", "magnets"}
    assert "## crma_materials.csv" in (ref / "PROVENANCE.md").read_text(encoding="utf-8")


@pytest.mark.pipeline
def test_crma_mapping_is_published_in_the_snapshot_and_the_analysts_file(default_world):
    """reference.crma_materials travels with the tables summed by it: Parquet and manifest (public, it is a
    mapping, not a finding) and geomonitor.duckdb, row for row the committed CSV."""
    import csv
    import json

    import duckdb

    from conftest import REPO

    csv_rows = sorted(tuple(r.values()) for r in csv.DictReader(
        (REPO / "data" / "reference" / "crma_materials.csv").open(encoding="utf-8")))
    paths = default_world.paths
    folder = paths.snapshots / paths.latest_pointer.read_text().strip()
    meta = json.loads((folder / "manifest.json").read_text())["tables"]["reference.crma_materials"]
    assert meta["access"] == "public" and meta["rows"] == len(csv_rows)
    cols = "material, stage, hs6, hs_description, coalesce(shared_with, '')"
    parquet = duckdb.sql(f"SELECT {cols} FROM read_parquet('{folder / meta['file']}') ORDER BY ALL").fetchall()
    assert parquet == csv_rows
    with duckdb.connect(str(paths.published_db), read_only=True) as con:
        assert con.execute(f"SELECT {cols} FROM reference.crma_materials ORDER BY ALL").fetchall() == csv_rows


# ------------------------------------------------------------------------------------- bloc versus members

BLOC_ONLY, MEMBERS_ONLY = "85051100", "85051900"


def test_bloc_vs_members_by_hand(harness):
    h = harness.reset()
    h.add_sdmx([(m, "CN", "94036000", 1, "2024", 10) for m in MEMBERS])  # a complete 2024 bloc
    h.add_sdmx([
        # BLOC_ONLY: DE imports CN 90, US 10 (HHI 0.82, extra share 1) but exports 100 to the US: ratio 1, C3 fails;
        # FR imports CN, US, JP, KR 10 each (HHI 0.25): C1 fails. The bloc: CN 100, US 20, JP 10, KR 10 of 140,
        # HHI (100^2 + 20^2 + 2 * 10^2) / 140^2 = 0.541 > 0.4, extra share 1, ratio 140 / 100 = 1.4: dependent
        ("DE", "CN", BLOC_ONLY, 1, "2024", 90), ("DE", "US", BLOC_ONLY, 1, "2024", 10),
        ("DE", "US", BLOC_ONLY, 2, "2024", 100),
        *[("FR", p, BLOC_ONLY, 1, "2024", 10) for p in ("CN", "US", "JP", "KR")],
        # MEMBERS_ONLY: DE imports CN 100 only, no exports: dependent on its own; FR imports US, JP, KR, IN 100
        # each and exports 1000: the bloc's HHI (1 + 4) / 25 = 0.2: not dependent
        ("DE", "CN", MEMBERS_ONLY, 1, "2024", 100),
        *[("FR", p, MEMBERS_ONLY, 1, "2024", 100) for p in ("US", "JP", "KR", "IN")],
        ("FR", "US", MEMBERS_ONLY, 2, "2024", 1000),
    ])
    h.build("monitor.bloc_member_counts")
    rows = {r["product_code"]: r for r in h.rows("SELECT * FROM monitor.bloc_vs_members WHERE source = 'comext'")}
    b = rows[BLOC_ONLY[:6]]
    assert (b["bloc_dependent"], b["members_dependent"], b["members_dependent_list"], b["dependence_pattern"]) == (
        True, 0, None, "bloc_only")
    assert b["hhi_extra"] == pytest.approx((100 ** 2 + 20 ** 2 + 2 * 10 ** 2) / 140 ** 2)
    # members' shares of the bloc's extra-EU imports: DEU 100, FRA 40 of 140
    assert (b["top_member"], b["top3_members"]) == ("DEU", "DEU; FRA")
    assert b["top_member_share"] == pytest.approx(100 / 140) and b["top3_members_share"] == pytest.approx(1.0)
    m = rows[MEMBERS_ONLY[:6]]
    assert (m["bloc_dependent"], m["members_dependent"], m["members_dependent_list"], m["dependence_pattern"]) == (
        False, 1, "DEU", "members_only")
    assert (m["top_member"], m["top_member_share"]) == ("FRA", pytest.approx(0.8))
    assert rows["940360"]["dependence_pattern"] == "both" and rows["940360"]["members_dependent"] == 27
    year = h.rows("SELECT * FROM monitor.bloc_member_counts WHERE source = 'comext'")
    assert [(r["side"], r["importer"], r["bloc_dependent"], r["members_dependent"], r["bloc_only"],
             r["members_only"], r["bloc_and_members"]) for r in year] == [("eu", "EU27", 2, 2, 1, 1, 1)]


def test_bloc_vs_members_third_country_by_hand(harness):
    h = harness.reset()
    h.add_comtrade([
        # KOR 850511: DEU 30, FRA 30, USA 40 of World 100: the EU 0.6 -> depends on the bloc; no member reaches 0.5
        # and the top supplier is the USA (HHI 0.34): on no single member
        (KOR, "M", DEU, "850511", 2024, 30), (KOR, "M", FRA, "850511", 2024, 30), (KOR, "M", USA, "850511", 2024, 40),
        (KOR, "M", WORLD, "850511", 2024, 100),
        # KOR 850519: DEU 60, USA 40: on DEU (0.6) and so on the bloc
        (KOR, "M", DEU, "850519", 2024, 60), (KOR, "M", USA, "850519", 2024, 40),
        # JPN 850519: DEU 35, CHN 30, USA 20, FRA 15: DEU is the top supplier and HHI 0.35^2 + 0.3^2 + 0.2^2 +
        # 0.15^2 = 0.275 (not > 0.4): on no member; the EU 0.5 -> on the bloc
        (JPN, "M", DEU, "850519", 2024, 35), (JPN, "M", CHN, "850519", 2024, 30), (JPN, "M", USA, "850519", 2024, 20),
        (JPN, "M", FRA, "850519", 2024, 15),
        # USA 850519: CHN 50, DEU 50 (a tie: DEU counts as top), HHI 0.5 > 0.4: on DEU, and on the bloc
        (USA, "M", CHN, "850519", 2024, 50), (USA, "M", DEU, "850519", 2024, 50),
    ])
    h.build("monitor.bloc_member_counts")
    rows = {(r["importer"], r["product_code"]): r for r in h.rows("SELECT * FROM monitor.third_country_bloc_vs_members")}

    def got(importer, code):
        r = rows[(importer, code)]
        return r["depends_on_eu"], r["members_depended_on"], r["members_depended_on_list"], r["dependence_pattern"]

    assert got("KOR", "850511") == (True, 0, None, "bloc_only")
    kor = rows[("KOR", "850511")]
    assert kor["top_member_supplier"] == "FRA" and kor["top_member_supplier_share"] == pytest.approx(0.3)
    assert got("KOR", "850519") == (True, 1, "DEU", "both")
    assert got("JPN", "850519") == (True, 0, None, "bloc_only")
    assert got("USA", "850519") == (True, 1, "DEU", "both")
    # the reverse (a single member, not the bloc) cannot happen on this side: the bloc's share and rank are at
    # least any one member's
    year = {r["importer"]: r for r in h.rows("SELECT * FROM monitor.bloc_member_counts WHERE side = 'partner'")}
    assert (year["KOR"]["bloc_dependent"], year["KOR"]["members_dependent"], year["KOR"]["bloc_only"]) == (2, 1, 1)


# ------------------------------------------------------------------------------------- EC screen on CN8

def test_ec_screen_cn8_by_hand(harness):
    h = harness.reset()
    h.add_sdmx([(m, "CN", "94036000", 1, "2024", 10) for m in MEMBERS])  # a complete bloc; far below the minimum
    h.add_sdmx([
        # 85051110: NL CN 2,000,000, US 100,000; DE CN 1,000,000. NLD: HHI (20^2 + 1) / 21^2, dependent
        ("NL", "CN", "85051110", 1, "2024", 2_000_000), ("NL", "US", "85051110", 1, "2024", 100_000),
        ("DE", "CN", "85051110", 1, "2024", 1_000_000),
        # 81052000: DE CN 600,000 + FR from DE 400,000 (intra-EU): the bloc's imports exactly EUR 1,000,000 -> in
        ("DE", "CN", "81052000", 1, "2024", 600_000), ("FR", "DE", "81052000", 1, "2024", 400_000),
        # 85051190: NL CN 999,999: below the minimum, no row for NLD nor the bloc
        ("NL", "CN", "85051190", 1, "2024", 999_999),
    ])
    h.build("monitor.ec_screen_cn8")
    rows = {(r["reporter"], r["cn8"]): r for r in h.rows("SELECT * FROM monitor.ec_screen_cn8")}
    assert set(rows) == {("NLD", "85051110"), ("EU27", "85051110"), ("EU27", "81052000")}
    nl = rows[("NLD", "85051110")]
    assert (nl["product_code"], nl["product_code_target"], nl["cn_edition"]) == ("850511", "850511", "CN2024")
    assert nl["hhi_extra"] == pytest.approx((20 ** 2 + 1) / 21 ** 2) and nl["dependent"] is True
    assert nl["annual_imports"] == Decimal("2100000.000") and nl["caveat"].startswith("quasi-transit")
    eu = rows[("EU27", "85051110")]
    assert (eu["m_extra"], eu["top_supplier"]) == (Decimal("3100000.000"), "CHN")
    co = rows[("EU27", "81052000")]
    assert (co["m_extra"], co["m_intra"], co["annual_imports"]) == (
        Decimal("600000.000"), Decimal("400000.000"), Decimal("1000000.000"))
    assert co["extra_eu_import_share"] == pytest.approx(0.6) and co["dependent"] is True
    assert co["min_value"] == pytest.approx(1_000_000)


# ------------------------------------------------------------------------------------- the demo world's planted cases

@pytest.mark.pipeline
def test_demo_world_shows_each_planted_beyond_case(default_world):
    """pipeline/demo_world/planted.py's BEYOND_CASES, found again on the embedded default in every demo year."""
    import duckdb

    from pipeline.demo_world.planted import BEYOND_CASES

    con = duckdb.connect(str(default_world.paths.published_db), read_only=True)
    q = lambda sql, *p: con.execute(sql, list(p)).fetchall()  # noqa: E731
    years = [y for (y,) in q("SELECT DISTINCT year FROM monitor.supplier_headroom ORDER BY 1")]
    assert years, "the demo world has Comtrade years"

    cobalt = BEYOND_CASES["crma_cobalt_over_benchmark"]
    rows = q("SELECT source, reporter, year, top_supplier, top_share, over_benchmark FROM monitor.crma_benchmark "
             "JOIN reference.crma_materials USING (material, stage) WHERE hs6 = ? AND year_complete", cobalt)
    assert {(s, r, y) for s, r, y, *_ in rows} == {(s, r, y) for s in ("comext", "comtrade") for r in ("EU27", "NLD")
                                                  for y in years}, rows
    assert all(top == "COD" and over and share == pytest.approx(0.70, abs=0.03) for *_, top, share, over in rows), rows
    windows = q("SELECT top_supplier, bool_and(over_benchmark), count(*) FROM monitor.crma_benchmark_rolling "
                "JOIN reference.crma_materials USING (material, stage) WHERE hs6 = ? AND reporter = 'EU27' "
                "AND window_complete AND bloc_complete GROUP BY ALL", cobalt)
    assert len(windows) == 1 and windows[0][:2] == ("COD", True) and windows[0][2] >= 12 * len(years) - 11, windows

    gallium = BEYOND_CASES["headroom_one_potential_supplier"]
    rows = q("SELECT year, potential_suppliers, actual_suppliers, concentrated_oecd, unused_potential_suppliers "
             "FROM monitor.supplier_headroom WHERE importer = 'NLD' AND product_code = ? ORDER BY year", gallium)
    assert rows == [(y, 1, 0, True, "CHN") for y in years]
    # the intermediaries buy from it: one potential, one actual supplier, not concentrated
    assert set(q("SELECT importer, potential_suppliers, actual_suppliers, concentrated_oecd "
                 "FROM monitor.supplier_headroom WHERE product_code = ? AND importer IN ('TUR', 'CHE')", gallium)) == \
        {("TUR", 1, 1, False), ("CHE", 1, 1, False)}

    small = BEYOND_CASES["cn8_below_minimum"]
    screened = q("SELECT reporter, year, m_extra + m_intra FROM monitor.ec_screen WHERE source = 'comext' "
                 "AND product_code = ? AND reporter IN ('NLD', 'EU27') AND year_complete", small)
    assert {(r, y) for r, y, _ in screened} == {(r, y) for r in ("NLD", "EU27") for y in years}, screened
    minimum = q("SELECT value FROM meta.parameters WHERE name = 'cn8_min_value'")[0][0]
    assert all(0 < v < minimum for *_, v in screened), screened  # the whole HS6 row is under it
    assert q("SELECT count(*) FROM monitor.ec_screen_cn8 WHERE product_code = ?", small) == [(0,)]

    # the EU27 bloc passes C1-C3 on penicillins in every year of both sources; neither member that trades them
    # does on its own: DEU sells more than it buys (C3), FRA buys from four suppliers (C1)
    bloc = BEYOND_CASES["bloc_dependent_no_member"]
    rows = q("SELECT source, year, bloc_dependent, members_dependent, members_screened, dependence_pattern, "
             "top3_members FROM monitor.bloc_vs_members WHERE product_code = ? AND bloc_complete", bloc)
    assert sorted(rows) == [(s, y, True, 0, 2, "bloc_only", "FRA; DEU") for s in ("comext", "comtrade")
                            for y in years], rows
    members = q("SELECT source, year, reporter, c1_concentration, c2_importance, c3_substitutability, dependent "
                "FROM monitor.ec_screen WHERE product_code = ? AND reporter IN ('DEU', 'FRA')", bloc)
    assert sorted(members) == sorted([(s, y, "DEU", True, True, False, False) for s in ("comext", "comtrade")
                                      for y in years]
                                     + [(s, y, "FRA", False, True, True, False) for s in ("comext", "comtrade")
                                        for y in years]), members
    # and it counts in the MERICS-style headline of each of those years
    counts = dict(((s, y), n) for s, y, n in q("SELECT source, year, bloc_only FROM monitor.bloc_member_counts "
                                               "WHERE side = 'eu'"))
    assert all(counts.get((s, y), 0) >= 1 for s in ("comext", "comtrade") for y in years), counts
    con.close()


# ------------------------------------------------------------------------------------- the oracle, row by row

def _oracle_and_sql(runner) -> tuple[dict, dict]:
    from oracle.beyond import TABLES, compute_beyond

    with runner.warehouse() as con:
        oracle = compute_beyond(con)
        sql = {t: con.sql(f"SELECT * FROM monitor.{t}").pl() for t in TABLES}
    return oracle, sql


@pytest.fixture(scope="module")
def default_tables(default_world):
    """The embedded default as `geomon run` builds it (conftest.default_world, shared by the session)."""
    return _oracle_and_sql(default_world)


@pytest.fixture(scope="module")
def adversarial_tables(adversarial_publication):
    """The adversarial world published once per session (conftest.adversarial_publication, read also by
    test_oracle)."""
    return _oracle_and_sql(adversarial_publication)


def _check(world, table: str) -> None:
    from oracle.beyond import CONTRACT_COLUMNS, KEYS
    from oracle.compare import compare

    oracle, sql = world
    assert oracle[table].height > 0, f"{table}: the oracle has no row, nothing is compared"
    res = compare(oracle[table], sql[table], KEYS[table], table, columns=CONTRACT_COLUMNS[table])
    assert res.ok, "\n" + res.report


BEYOND_TABLES = ["supplier_headroom", "supplier_headroom_by_year", "crma_benchmark", "crma_benchmark_rolling",
                 "bloc_vs_members", "third_country_bloc_vs_members", "bloc_member_counts", "ec_screen_cn8"]


@pytest.mark.oracle
@pytest.mark.parametrize("table", BEYOND_TABLES)
def test_default_world_matches_oracle(default_tables, table):
    _check(default_tables, table)


@pytest.mark.oracle
@pytest.mark.pipeline
@pytest.mark.parametrize("table", BEYOND_TABLES)
def test_adversarial_world_matches_oracle(adversarial_tables, table):
    _check(adversarial_tables, table)


@pytest.mark.oracle
@pytest.mark.pipeline
def test_planted_values_in_oracle_and_sql(adversarial_tables):
    """The oracle and the SQL against the values tests/adversarial_world.py plants (PLANTED_BEYOND)."""
    from adversarial_world import PLANTED_BEYOND
    from oracle.beyond import KEYS

    wrong = []
    for side, tables in zip(("oracle", "sql"), adversarial_tables):
        for edge, spec in PLANTED_BEYOND.items():
            for exp in spec["expect"]:
                table = exp["table"]
                cond = [pl.col(k) == v for k, v in zip(KEYS[table], exp["key"])]
                hit = tables[table].filter(*cond)
                if exp.get("absent"):
                    if hit.height:
                        wrong.append(f"{side} {edge}: {table} {exp['key']} should have no row")
                    continue
                if hit.height != 1:
                    wrong.append(f"{side} {edge}: {table} {exp['key']}: {hit.height} rows")
                    continue
                row = hit.to_dicts()[0]
                for col, want in exp["values"].items():
                    got = row[col]
                    ok = (got == want if not isinstance(want, float) or got is None
                          else abs(float(got) - want) <= 1e-9)
                    if isinstance(got, Decimal):
                        ok = got == Decimal(str(want))
                    if not ok:
                        wrong.append(f"{side} {edge}: {table} {exp['key']} {col}: {got!r}, planted {want!r}")
    assert not wrong, "\n".join(wrong)
