"""The screens of methodology sections 6-7 on hand-computed edge cases."""

import pytest

from conftest import comtrade_page, failure_messages, sdmx_rows


@pytest.fixture
def runner(sql_runner):
    """These cases test what the SQL computes: the real readers, then the models on the in-memory harness."""
    return sql_runner


def _one(con, sql, params=()):
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(names, rows[0]))


def _eu(con, product, year=2024):
    return _one(con, "SELECT * FROM monitor.eu_dependencies WHERE source = 'comext' AND product_code = ? AND year = ?",
                [product, year])


def _member(con, reporter, product, year=2024):
    return _one(con, "SELECT * FROM monitor.ec_screen WHERE source = 'comext' AND reporter = ? AND product_code = ? "
                "AND year = ?", [reporter, product, year])


def test_ec_screen_edges(runner):
    rows = [
        # 850511: HHI exactly 0.4 (shares 6,1,1,1,1 of 10) -> C1 false, since the criterion is "> 0.4"
        ("DE", "CN", "85051100", 1, "2024", 600), ("DE", "US", "85051100", 1, "2024", 100),
        ("DE", "JP", "85051100", 1, "2024", 100), ("DE", "KR", "85051100", 1, "2024", 100),
        ("DE", "IN", "85051100", 1, "2024", 100),
        # 260500: one supplier, no exports at all -> C1, C2 pass, C3 passes with a null ratio
        ("FR", "CD", "26050000", 1, "2024", 300),
        # 280530: extra share exactly 0.5 (extra 200 = intra 200) -> C2 false
        ("IT", "CN", "28053000", 1, "2024", 200), ("IT", "DE", "28053000", 1, "2024", 200),
        # 810520: imports/exports exactly 1 -> C3 false; 811292: ratio 2 -> dependent
        ("NL", "CN", "81052000", 1, "2024", 100), ("NL", "US", "81052000", 2, "2024", 100),
        ("NL", "CN", "81129200", 1, "2024", 100), ("NL", "US", "81129200", 2, "2024", 50),
    ]
    runner.write("landing/comext/a.csv", sdmx_rows(rows))
    result = runner.run()
    assert result.success, failure_messages(result)
    con = runner.published()

    # each member state is screened on its own; the EU27 rows here rest on 4 of 27 members
    exact = _member(con, "DEU", "850511")
    assert exact["hhi_extra"] == pytest.approx(0.4, abs=0) and exact["c1_concentration"] is False
    assert exact["c1_threshold"] == 0.4 and exact["dependent"] is False

    single = _member(con, "FRA", "260500")
    assert single["hhi_extra"] == 1.0 and single["n_suppliers_extra"] == 1
    assert single["x_extra"] == 0 and single["import_export_ratio"] is None
    assert single["c3_substitutability"] is True and single["dependent"] is True
    assert single["top_supplier"] == "COD" and single["top_supplier_share"] == 1.0
    assert single["domain"] == "critical_raw_materials" and single["years_flagged"] == 1
    # the same criteria for the bloc, which is incomplete: shown, never flagged (methodology section 5)
    bloc = _eu(con, "260500")
    assert bloc["c1_concentration"] and bloc["c2_importance"] and bloc["c3_substitutability"]
    assert bloc["bloc_members"] == 4 and bloc["bloc_complete"] is False and bloc["dependent"] is False

    half = _member(con, "ITA", "280530")
    assert half["extra_eu_import_share"] == 0.5 and half["c2_importance"] is False and half["dependent"] is False

    assert _member(con, "NLD", "810520")["import_export_ratio"] == 1.0
    assert _member(con, "NLD", "810520")["c3_substitutability"] is False
    two = _member(con, "NLD", "811292")
    assert two["import_export_ratio"] == 2.0 and two["dependent"] is True

    # the same screen for NL, with the all-partner HHI and the quasi-transit caveat on Comext rows
    nl = _one(con, "SELECT * FROM monitor.nl_dependencies WHERE product_code = '811292' AND year = 2024")
    assert nl["dependent"] is True and nl["hhi_all_partners"] == 1.0 and "quasi-transit" in nl["caveat"]


def test_thresholds_are_parameters(runner):
    runner.write("landing/comext/a.csv", sdmx_rows([
        ("DE", "CN", "85051100", 1, "2024", 600), ("DE", "US", "85051100", 1, "2024", 100),
        ("DE", "JP", "85051100", 1, "2024", 100), ("DE", "KR", "85051100", 1, "2024", 100),
        ("DE", "IN", "85051100", 1, "2024", 100),
    ]))
    result = runner.run(ec_c1_hhi=0.35)
    assert result.success, failure_messages(result)
    row = _member(runner.published(), "DEU", "850511")
    assert row["c1_threshold"] == 0.35 and row["c1_concentration"] is True and row["dependent"] is True


def _world_rows(years):
    """USA imports 260500 from COD only; COD is the only exporter: G1, G2, G3 hold every year given."""
    records = []
    for y in years:
        records += [("USA", "M", "BRA", "260500", y, 100), ("BRA", "X", "USA", "260500", y, 100),
                    ("BRA", "X", "WORLD", "260500", y, 100)]
    return records


@pytest.mark.parametrize("years,persistent_last", [((2020, 2022), True), ((2019, 2022), False),
                                                    ((2021, 2022, 2023), True)])
def test_persistence_counts_calendar_years_with_gaps(runner, years, persistent_last):
    runner.write("landing/comtrade/page.json", comtrade_page(_world_rows(years)))
    result = runner.run(min_world_reporters=1)
    assert result.success, failure_messages(result)
    rows = runner.published().execute(
        "SELECT year, flagged, persistent, years_in_window, hhi_world_exports FROM monitor.world_supply_screen "
        "WHERE importer = 'USA' AND product_code = '260500' ORDER BY year").fetchall()
    assert [r[0] for r in rows] == list(years)
    assert all(r[1] for r in rows) and all(r[4] == 1.0 for r in rows)
    assert rows[0][2] is False  # a single year is never persistent
    assert rows[-1][2] is persistent_last


def test_world_screen_is_null_with_a_reason_without_world_coverage(runner):
    runner.write("landing/comtrade/page.json", comtrade_page(_world_rows([2024])))
    result = runner.run()  # default: at least 50 reporters a year
    assert result.success, failure_messages(result)
    row = _one(runner.published(), "SELECT * FROM monitor.world_supply_screen WHERE importer = 'USA'")
    assert row["hhi_world_exports"] is None and row["g2_world_concentration"] is None and row["flagged"] is None
    assert "only 2 Comtrade reporters in 2024" in row["world_coverage_note"]
    assert row["g1_importer_concentration"] is True


def test_dependence_on_nl_partner_and_mirror_views(runner):
    runner.write("landing/comtrade/page.json", comtrade_page([
        # BEL reports: 60 from NL, 30 from DEU, 10 from CHN; World 100
        ("BEL", "M", "NLD", "848620", 2024, 60), ("BEL", "M", "DEU", "848620", 2024, 30),
        ("BEL", "M", "CHN", "848620", 2024, 10), ("BEL", "M", "WORLD", "848620", 2024, 100),
        # KOR reports imports without NL: 70 JPN, 30 USA
        ("KOR", "M", "JPN", "848620", 2024, 70), ("KOR", "M", "USA", "848620", 2024, 30),
        # NL reports exports to BEL (58), KOR (5) and TWN (40); TWN reports nothing
        ("NLD", "X", "BEL", "848620", 2024, 58), ("NLD", "X", "KOR", "848620", 2024, 5),
        ("NLD", "X", "TWN", "848620", 2024, 40),
        # FRA: NL is (joint) top supplier with 45 of 100 and FRA's HHI 0.415 > 0.4 -> depends although
        # its share is below 0.5
        ("FRA", "M", "NLD", "848620", 2024, 45), ("FRA", "M", "DEU", "848620", 2024, 45),
        ("FRA", "M", "USA", "848620", 2024, 10),
    ]))
    result = runner.run()
    assert result.success, failure_messages(result)
    con = runner.published()
    q = "SELECT * FROM monitor.dependence_on_nl WHERE importer = ? AND product_code = '848620'"
    bel = _one(con, q, ["BEL"])
    assert bel["nl_share"] == 0.6 and bel["nl_rank"] == 1 and bel["nl_is_top_supplier"] is True
    assert bel["importer_hhi"] == pytest.approx(0.6**2 + 0.3**2 + 0.1**2) and bel["depends_on_nl"] is True
    assert bel["mirror_share"] == pytest.approx(0.58) and bel["nl_reported_exports"] == 58
    kor = _one(con, q, ["KOR"])
    assert kor["nl_share"] == 0 and kor["nl_rank"] is None and kor["depends_on_nl"] is False
    assert kor["mirror_share"] == pytest.approx(0.05)
    twn = _one(con, q, ["TWN"])
    assert twn["partner_view_available"] is False and twn["mirror_view_available"] is True
    # TWN reports no imports: whether it depends on NL is unknown, not false
    assert twn["nl_share"] is None and twn["mirror_share"] is None and twn["depends_on_nl"] is None
    fra = _one(con, q, ["FRA"])
    # a tie with DEU: rank counts only strictly larger suppliers, so NL is (joint) first
    assert fra["nl_share"] == 0.45 and fra["nl_rank"] == 1
    assert fra["importer_hhi"] == pytest.approx(0.415) and fra["depends_on_nl"] is True
    # the EU as supplier: BEL is a member, so not an importer; KOR buys nothing from members
    eu_importers = {r[0] for r in con.execute("SELECT importer FROM monitor.dependence_on_eu").fetchall()}
    assert "BEL" not in eu_importers and "FRA" not in eu_importers and "KOR" in eu_importers


def test_nl_share_on_the_real_fixture_matches_a_hand_computation(sample_publication):
    import csv
    from collections import defaultdict

    from conftest import SAMPLE

    totals = defaultdict(float)
    from_nl = defaultdict(float)
    with (SAMPLE / "comext" / "DS-045409_M_EU27_CN39201081_2023-2025.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["flow"] == "1" and row["indicators"] == "VALUE_IN_EUROS" and row["reporter"] != "NL":
                key = (row["reporter"], int(row["TIME_PERIOD"][:4]))
                if row["partner"] == "WORLD":
                    totals[key] += float(row["OBS_VALUE"])
                elif row["partner"] == "NL":
                    from_nl[key] += float(row["OBS_VALUE"])
    runner = sample_publication  # the job run on data/sample alone (conftest), shared read-only
    got = runner.published().execute(
        "SELECT c.comext_code, d.year, d.nl_share FROM monitor.dependence_on_nl AS d "
        "JOIN reference.countries AS c ON c.iso3 = d.importer "
        "WHERE d.source = 'comext' AND d.product_code = '392010' AND d.partner_view_available").fetchall()
    assert len(got) == len(totals) == 26 * 3
    for code, year, share in got:
        code = "GR" if code == "EL" else code
        assert share == pytest.approx(from_nl[(code, year)] / totals[(code, year)], rel=1e-12), (code, year)
