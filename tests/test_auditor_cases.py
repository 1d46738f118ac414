"""The edges an auditor found (issue "Numbers that survive an auditor"), one test per case.

Each runs the real SQL models on the in-memory harness with a handful of hand-made rows;
every expected value is worked out by hand in the comments from methodology.md, so each
test failed on the models as they were before the fix.
"""

from decimal import Decimal

import pytest

from pipeline.analyst_views import create_analyst_views
from sql_harness import Harness, insert_rows

# Comtrade numeric codes used below
DEU, FRA, NLD, CHN, USA, EU97, WORLD, AREAS_NES = 276, 251, 528, 156, 842, 97, 0, 899


@pytest.fixture(scope="module")
def harness():
    return Harness(min_world_reporters=1)


def one(h: Harness, sql: str, params=()):
    rows = h.rows(sql, params)
    assert len(rows) == 1, rows
    return rows[0]


def conc(h, reporter, level, code, scope, year=2024, source="comext"):
    return one(h, "SELECT * FROM monitor.import_concentration WHERE source = ? AND reporter = ? AND year = ? "
                  "AND product_level = ? AND product_code = ? AND partner_scope = ?",
               [source, reporter, year, level, code, scope])


def screen(h, reporter, code, year=2024, source="comext"):
    return one(h, "SELECT * FROM monitor.ec_screen WHERE source = ? AND reporter = ? AND year = ? AND product_code = ?",
               [source, reporter, year, code])


def test_1_unallocated_is_floored_per_product_and_member_then_summed(harness):
    h = harness.reset()
    h.add_sdmx([
        # DEU 392010: World 1000, one partner row 100 -> leftover 900
        ("DE", "CN", "39201010", 1, "2024", 100), ("DE", "WORLD", "39201010", 1, "2024", 1000),
        # DEU 392020: partner rows 800 above World 200 -> leftover 0, 600 above World
        ("DE", "CN", "39202010", 1, "2024", 500), ("DE", "US", "39202010", 1, "2024", 300),
        ("DE", "WORLD", "39202010", 1, "2024", 200),
        # FRA 392010: fully accounted; CYP 392010: partner rows 30 above World 20
        ("FR", "CN", "39201010", 1, "2024", 50), ("FR", "WORLD", "39201010", 1, "2024", 50),
        ("CY", "CN", "39201010", 1, "2024", 30), ("CY", "WORLD", "39201010", 1, "2024", 20),
    ])
    h.build("monitor.import_concentration")
    hs4 = conc(h, "DEU", "HS4", "3920", "all")
    # netted at the heading (World 1200 - partners 900) it was 300; per product it is 900 + 0
    assert hs4["unallocated_value"] == Decimal("900.000")
    assert hs4["partner_rows_above_world"] == Decimal("600.000")
    assert hs4["world_value"] == Decimal("1200.000")
    assert hs4["allocated_value"] + hs4["unallocated_value"] + hs4["internal_value"] == \
        hs4["world_value"] + hs4["partner_rows_above_world"]
    # the bloc: DEU 900 + FRA 0 + CYP 0 (its 10 above World is not netted against DEU's leftover)
    eu = conc(h, "EU27", "HS6", "392010", "extra_eu")
    assert eu["unallocated_value"] == Decimal("900.000")
    assert eu["partner_rows_above_world"] == Decimal("10.000")
    assert eu["world_value"] == Decimal("1070.000")


def test_2_a_members_reimports_are_not_intra_eu_imports(harness):
    h = harness.reset()
    h.add_sdmx([
        ("NL", "NL", "85051100", 1, "2024", 40),   # re-imports
        ("NL", "DE", "85051100", 1, "2024", 30),
        ("NL", "CN", "85051100", 1, "2024", 100),
    ])
    h.build("monitor.ec_screen")
    assert screen(h, "EU27", "850511")["m_intra"] == Decimal("30.000")  # was 70
    assert screen(h, "NLD", "850511")["m_intra"] == Decimal("30.000")
    eu = conc(h, "EU27", "HS6", "850511", "extra_eu")
    # the re-imports stay in internal_value (they are the reporter's, not a supplier's)
    assert eu["internal_value"] == Decimal("70.000") and eu["allocated_value"] == Decimal("100.000")


def test_3_an_annual_row_never_drops_another_keys_months(harness):
    h = harness.reset()
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    h.add_sdmx(
        [("FR", "CN", "85051100", 1, "2024", 100)]                       # annual imports of A
        + [("FR", "US", "85051100", 1, m, 5) for m in months]            # A's months: annual wins for A
        + [("FR", "CN", "85052000", 1, m, 10) for m in months]           # B: monthly imports ...
        + [("FR", "US", "85052000", 2, m, 10) for m in months]           # ... and monthly exports
    )
    h.build("monitor.ec_screen")
    a = screen(h, "FRA", "850511")
    assert a["m_extra"] == Decimal("100.000")  # the annual row, not 100 + 60
    b = screen(h, "FRA", "850520")
    # before: B's monthly rows vanished, X_extra became 0 and C3 passed from nothing
    assert b["m_extra"] == Decimal("120.000") and b["x_extra"] == Decimal("120.000")
    assert b["import_export_ratio"] == pytest.approx(1.0)
    assert b["c3_substitutability"] is False and b["dependent"] is False


def test_4_an_aggregate_reporter_is_never_an_exporter(harness):
    h = harness.reset()
    h.add_comtrade([
        (EU97, "X", WORLD, "850511", 2024, 1000),   # Comtrade's EU aggregate
        (DEU, "X", WORLD, "850511", 2024, 100),
        (CHN, "X", WORLD, "850511", 2024, 50),
        (FRA, "M", CHN, "850511", 2024, 40), (FRA, "M", WORLD, "850511", 2024, 40),
    ])
    h.build("monitor.world_supply_screen")
    exporters = {r["exporter"] for r in h.rows("SELECT exporter FROM staging.world_exports")}
    assert exporters == {"DEU", "CHN"}
    fra = one(h, "SELECT * FROM monitor.world_supply_screen WHERE importer = 'FRA'")
    assert fra["n_exporters"] == 2 and fra["reporters_in_year"] == 3
    assert fra["hhi_world_exports"] == pytest.approx((100 / 150) ** 2 + (50 / 150) ** 2)


def test_5_intra_eu_codes_are_intra_eu_imports_not_unallocated(harness):
    h = harness.reset()
    codes = {"QV": 20, "QY": 10, "QR": 5,             # within intra-EU trade
             "QS": 7, "QW": 3, "QZ": 2,               # within extra-EU trade
             "QU": 1, "QX": 4, "QP": 6}               # no scope
    h.add_sdmx([("DE", "CN", "84748010", 1, "2024", 100)]
               + [("DE", code, "84748010", 1, "2024", v) for code, v in codes.items()])
    h.build("monitor.ec_screen")
    extra = conc(h, "DEU", "HS6", "847480", "extra_eu")
    assert extra["unallocated_value"] == Decimal("23.000")    # 7 + 3 + 2 + 1 + 4 + 6; was 58
    assert extra["internal_value"] == Decimal("35.000")
    assert conc(h, "DEU", "HS6", "847480", "all")["unallocated_value"] == Decimal("58.000")
    assert screen(h, "DEU", "847480")["m_intra"] == Decimal("35.000")
    eu = conc(h, "EU27", "HS6", "847480", "extra_eu")
    assert eu["unallocated_value"] == Decimal("23.000")
    assert screen(h, "EU27", "847480")["m_intra"] == Decimal("35.000")


def test_6_a_partial_bloc_is_labelled_and_never_dependent(harness):
    h = harness.reset()
    h.add_sdmx([("DE", "CN", "85051100", 1, f"2024-{m:02d}", 100) for m in range(1, 13)]
               + [("GR", "CN", "85051100", 1, f"2024-{m:02d}", 10) for m in (1, 2)])
    h.add_comtrade([(DEU, "M", CHN, "850511", 2024, 100), (DEU, "M", WORLD, "850511", 2024, 100),
                    (CHN, "X", WORLD, "850511", 2024, 1000)])
    h.build("monitor.world_supply_screen")
    h.build("monitor.eu_dependencies")
    eu = screen(h, "EU27", "850511")
    assert (eu["bloc_members"], eu["bloc_months_min"], eu["months_covered"], eu["bloc_complete"]) == (2, 2, 2, False)
    # C1-C3 all hold (one supplier, nothing intra-EU, no exports): shown, but not flagged
    assert eu["c1_concentration"] and eu["c2_importance"] and eu["c3_substitutability"]
    assert eu["dependent"] is False
    assert screen(h, "DEU", "850511")["dependent"] is True  # a member state is judged on its own
    world = one(h, "SELECT * FROM monitor.world_supply_screen WHERE importer = 'EU27'")
    assert world["g1_importer_concentration"] and world["g2_world_concentration"] and world["g3_net_importer"]
    assert world["bloc_complete"] is False and world["flagged"] is False
    ec = one(h, "SELECT * FROM monitor.eu_dependencies WHERE source = 'comext' AND year = 2024")
    assert ec["bloc_complete"] is False


def test_7_release_and_synthetic_per_row_on_both_sides(harness):
    h = harness.reset()
    h.add_sdmx([("NL", "CN", "39201010", 1, "2024", 100), ("NL", "US", "39201010", 2, "2024", 80)],
               release="real extract", synthetic=False)
    h.add_sdmx([("NL", "CN", "85051100", 1, "2024", 100), ("NL", "US", "85051100", 2, "2024", 60)],
               release="demo", synthetic=True)
    h.build("monitor.dependence_on_nl")
    h.build("monitor.ec_screen")
    real = conc(h, "NLD", "HS6", "392010", "all")
    assert real["synthetic"] is False and real["release"] == "real extract"  # was the reporter-year's: true
    assert conc(h, "NLD", "HS2", "85", "all")["synthetic"] is True
    assert screen(h, "NLD", "392010")["synthetic"] is False
    # mirror-only rows (the US does not report): they rest on NL's export report
    rows = {r["product_code"]: r for r in h.rows("SELECT * FROM monitor.dependence_on_nl WHERE importer = 'USA'")}
    assert rows["392010"]["synthetic"] is False and rows["392010"]["release"] == "real extract"
    assert rows["850511"]["synthetic"] is True and rows["850511"]["release"] == "demo"


def test_8_unknown_is_not_false_and_views_say_which_view_exists(harness):
    h = harness.reset()
    h.add_sdmx([("NL", "US", "85051100", 2, "2024", 60)])  # NL exports; the US reports nothing
    h.build("monitor.dependence_on_nl")
    h.build("monitor.dependence_on_eu")
    h.build("monitor.eu_dependencies")
    h.build("monitor.nl_dependencies")
    row = one(h, "SELECT * FROM monitor.dependence_on_nl WHERE importer = 'USA'")
    assert row["partner_view_available"] is False and row["mirror_view_available"] is True
    assert row["depends_on_nl"] is None
    create_analyst_views(h.con)
    view = one(h, "SELECT * FROM views.dependence_on_nl WHERE importer = 'USA'")
    assert view["partner_view_available"] is False and view["depends_on_nl"] is None


def test_9a_nothing_traded_outside_the_eu_is_not_screened(harness):
    h = harness.reset()
    h.add_sdmx([("DE", "FR", "85051100", 1, "2024", 100)])  # imports from a member only, no exports
    h.build("monitor.ec_screen")
    row = screen(h, "DEU", "850511")
    assert row["m_extra"] == 0 and row["x_extra"] == 0
    assert row["screened"] is False and row["c3_substitutability"] is None and row["dependent"] is False
    assert row["years_screened"] == 0


def test_9b_the_blocs_import_export_ratio_compares_one_scope(harness):
    h = harness.reset()
    h.add_comtrade([
        (DEU, "M", CHN, "850511", 2024, 100), (DEU, "M", AREAS_NES, "850511", 2024, 50),
        (DEU, "M", WORLD, "850511", 2024, 150),
        (DEU, "X", USA, "850511", 2024, 120), (DEU, "X", WORLD, "850511", 2024, 120),
    ])
    h.build("monitor.world_supply_screen")
    eu = one(h, "SELECT * FROM monitor.world_supply_screen WHERE importer = 'EU27'")
    # extra-EU country suppliers against exports to non-EU countries: 100 / 120, not (100 + 50) / 120
    assert eu["imports"] == Decimal("100.000") and eu["exports"] == Decimal("120.000")
    assert eu["g3_net_importer"] is False
    assert eu["source"] == "comtrade"


def test_9c_every_table_says_source_currency_release_and_caveat(harness):
    h = harness.reset()
    h.add_sdmx([("NL", "CN", "85051100", 1, str(y), 100) for y in (2023, 2024)], release="r1")
    for table in ("monitor.trends", "monitor.domain_summary", "monitor.supplier_shares", "monitor.nl_dependencies"):
        h.build(table)
    trend = one(h, "SELECT * FROM monitor.trends WHERE reporter = 'NLD' AND year = 2024")
    assert trend["currency"] == "EUR" and trend["release"] == "r1"
    assert trend["dependency_status"] == "continuing"
    assert all(r["release"] == "r1" for r in h.rows("SELECT release FROM monitor.domain_summary"))
    assert all(r["release"] == "r1" for r in h.rows("SELECT release FROM monitor.supplier_shares"))
    # the quasi-transit caveat on every NL Comext row, not only in nl_dependencies
    assert screen(h, "NLD", "850511")["caveat"].startswith("quasi-transit")
    assert conc(h, "NLD", "HS2", "85", "all")["caveat"].startswith("quasi-transit")
    assert conc(h, "EU27", "HS6", "850511", "extra_eu")["caveat"] is None


def test_9d_new_means_dependent_now_and_not_the_year_before(harness):
    h = harness.reset()
    h.add_sdmx([("NL", "FR", "85051100", 1, "2023", 100),     # 2023: only intra-EU imports, not dependent
                ("NL", "CN", "85051100", 1, "2024", 100),     # 2024: one non-EU supplier, dependent
                ("NL", "CN", "85052000", 1, "2024", 100)])    # not imported in 2023 at all
    h.build("monitor.trends")
    status = {r["product_code"]: r["dependency_status"]
              for r in h.rows("SELECT * FROM monitor.trends WHERE reporter = 'NLD' AND year = 2024")}
    assert status == {"850511": "new", "850520": "new"}


# ------------------------------------------------------------------ issue 26: incomplete years

def test_an_incomplete_single_reporter_year_is_never_dependent(harness):
    h = harness.reset()
    months = [f"2025-{m:02d}" for m in range(1, 12)]  # January to November: the year in progress
    # CYP 392010 from CN only (10 a month), no exports: C1 (HHI 1), C2 (share 1) and C3 (no exports) hold
    rows = [("CY", "CN", "39201010", 1, m, 10) for m in months]
    # MLT the same over all twelve months: dependent
    rows += [("MT", "CN", "39201010", 1, f"2025-{m:02d}", 10) for m in range(1, 13)]
    h.add_sdmx(rows)
    h.build("monitor.ec_screen")
    cyp = screen(h, "CYP", "392010", year=2025)
    assert cyp["m_extra"] == Decimal("110.000") and cyp["hhi_extra"] == 1.0
    assert cyp["c1_concentration"] and cyp["c2_importance"] and cyp["c3_substitutability"]
    # 11 months: the criteria are shown, the flag is not
    assert (cyp["months_covered"], cyp["year_complete"]) == (11, False)
    assert (cyp["dependent"], cyp["years_flagged"]) == (False, 0)
    mlt = screen(h, "MLT", "392010", year=2025)
    assert (mlt["months_covered"], mlt["year_complete"], mlt["dependent"]) == (12, True, True)
    # the bloc row (2 members) is incomplete for its own reason: year_complete is bloc_complete
    eu = screen(h, "EU27", "392010", year=2025)
    assert (eu["bloc_complete"], eu["year_complete"]) == (False, False)
    assert (eu["months_covered"], eu["dependent"]) == (11, False)
    ic = conc(h, "CYP", "HS6", "392010", "all", year=2025)
    assert (ic["months_covered"], ic["year_complete"]) == (11, False)


def test_unknown_versus_zero_in_the_mirror_view(harness):
    h = harness.reset()
    h.add_comtrade([
        # USA imports 850511 from CHN 90 and NLD 10 (World 100); NL reports exports of 850511 to DEU only
        (USA, "M", CHN, "850511", 2024, 90), (USA, "M", NLD, "850511", 2024, 10),
        (USA, "M", WORLD, "850511", 2024, 100),
        (NLD, "X", DEU, "850511", 2024, 40),
        # DEU imports 850519 from CHN 50; nobody reports exporting 850519 (world exports unknown)
        (DEU, "M", CHN, "850519", 2024, 50),
        # FRA imports 850511 in 2023, when NL reports nothing to Comtrade
        (FRA, "M", CHN, "850511", 2023, 70),
    ])
    h.build("monitor.dependence_on_nl")
    rows = {(r["importer"], r["year"], r["product_code"]): r
            for r in h.rows("SELECT * FROM monitor.dependence_on_nl WHERE source = 'comtrade'")}
    usa = rows[("USA", 2024, "850511")]
    # NL reports to Comtrade in 2024: no export row to the USA is 0, and so is its mirror share
    assert usa["nl_reported_exports"] == Decimal("0.000") and usa["mirror_share"] == 0.0
    assert usa["mirror_view_available"] is False
    # world exports of 850511 are NL's 40 alone: share 1; of 850519 nobody reports: unknown
    assert usa["nl_world_export_share"] == 1.0
    deu = rows[("DEU", 2024, "850519")]
    assert deu["nl_reported_exports"] == Decimal("0.000") and deu["nl_world_export_share"] is None
    # 2023: NL reports nothing to Comtrade, so its exports to FRA are unknown
    fra = rows[("FRA", 2023, "850511")]
    assert fra["nl_reported_exports"] is None and fra["mirror_share"] is None


def test_an_incomplete_year_is_not_flagged_and_does_not_count_in_persistence(harness):
    h = harness.reset()
    # USA buys 280530 only from CHN, the only exporter, and exports none: G1, G2 (1.0) and G3 hold every year.
    # 2024 is annual; 2025 comes as January to November monthly records (the year in progress).
    annual = [(2024, 52, USA, "M", CHN, "280530", 100), (2024, 52, CHN, "X", WORLD, "280530", 1000)]
    monthly = [(2025, m, USA, "M", CHN, "280530", 10) for m in range(1, 12)]
    monthly += [(2025, m, CHN, "X", WORLD, "280530", 100) for m in range(1, 12)]
    insert_rows(
        h.con, "INSERT INTO raw.comtrade_records (freqCode, refYear, refMonth, reporterCode, flowCode, partnerCode, "
        "partner2Code, classificationCode, cmdCode, customsCode, motCode, primaryValue, _file, _line, release, "
        "synthetic) VALUES", "(CASE WHEN ? = 52 THEN 'A' ELSE 'M' END, ?, ?, ?, ?, ?, 0, 'H6', ?, 'C00', 0, ?, "
        "'test.json', 0, 'test', false)",
        [[month, year, month, r, f, p, code, v] for year, month, r, f, p, code, v in annual + monthly])
    h.build("monitor.world_supply_screen")
    got = {r["year"]: r for r in h.rows("SELECT * FROM monitor.world_supply_screen WHERE importer = 'USA'")}
    assert (got[2024]["months_covered"], got[2024]["year_complete"], got[2024]["flagged"]) == (12, True, True)
    y = got[2025]
    assert y["g1_importer_concentration"] and y["g2_world_concentration"] and y["g3_net_importer"]
    # 11 months: criteria shown, never flagged, and a year that does not hold: 1 flagged year of 2023-2025
    assert (y["months_covered"], y["year_complete"], y["flagged"]) == (11, False, False)
    assert (y["years_flagged_in_window"], y["persistent"]) == (1, False)
