"""Methodology section 8 by hand: look-through shares, hidden dependencies and supplier loss.

Every expected figure is worked out in the comments from the section's formulas; the real SQL
models run on the in-memory harness.
"""

from decimal import Decimal

import pytest

from sql_harness import Harness

NLD, CHN, USA, DEU, JPN, WORLD = 528, 156, 842, 276, 392, 0


@pytest.fixture(scope="module")
def harness():
    return Harness()


def shares(h, importer="NLD"):
    return {r["ultimate_supplier"]: r for r in h.rows(
        "SELECT * FROM monitor.look_through_shares WHERE importer = ? ORDER BY ALL", [importer])}


def test_three_countries_bel_exports_less_than_it_imports(harness):
    h = harness.reset()
    h.add_sdmx([("NL", "BE", "85051100", 1, "2024", 80), ("NL", "CN", "85051100", 1, "2024", 20),
                ("BE", "CN", "85051100", 1, "2024", 90), ("BE", "US", "85051100", 1, "2024", 10),
                ("BE", "NL", "85051100", 2, "2024", 60)])
    h.build("monitor.indirect_dependencies")
    nl = shares(h)
    # pass_BEL = 100 / max(60, 100) = 1: all of BEL's 0.8 goes to its suppliers 0.9 / 0.1
    assert nl["CHN"]["look_through_share"] == pytest.approx(0.2 + 0.8 * 0.9)
    assert nl["USA"]["look_through_share"] == pytest.approx(0.8 * 0.1)
    assert nl["BEL"]["look_through_share"] == pytest.approx(0.0)
    assert nl["BEL"]["hidden_share"] == pytest.approx(-0.8) and nl["CHN"]["hidden_share"] == pytest.approx(0.72)
    assert nl["CHN"]["via"] == "BEL 72.0%"
    assert sum(r["look_through_share"] for r in nl.values()) == pytest.approx(1.0)
    row = h.rows("SELECT * FROM monitor.indirect_dependencies WHERE importer = 'NLD'")[0]
    assert row["direct_hhi"] == pytest.approx(0.8 ** 2 + 0.2 ** 2)
    assert row["look_through_hhi"] == pytest.approx(0.92 ** 2 + 0.08 ** 2)
    assert (row["top_direct_supplier"], row["top_ultimate_supplier"]) == ("BEL", "CHN")
    assert row["hidden_dependency"] is False  # direct HHI 0.68 already passes 0.4


def test_an_intermediary_that_exports_more_keeps_a_part(harness):
    h = harness.reset()
    h.add_sdmx([("NL", "BE", "85051100", 1, "2024", 80), ("NL", "CN", "85051100", 1, "2024", 20),
                ("BE", "CN", "85051100", 1, "2024", 90), ("BE", "US", "85051100", 1, "2024", 10),
                ("BE", "DE", "85051100", 2, "2024", 200)])
    h.build("monitor.look_through_shares")
    nl = shares(h)
    # pass_BEL = 100 / 200 = 0.5: BEL keeps 0.4, passes 0.4 as 0.36 CHN and 0.04 USA
    assert nl["BEL"]["look_through_share"] == pytest.approx(0.4)
    assert nl["CHN"]["look_through_share"] == pytest.approx(0.56)
    assert nl["USA"]["look_through_share"] == pytest.approx(0.04)


def test_a_third_country_is_looked_through_only_where_it_depends_on_nl(harness):
    h = harness.reset()
    # BEL buys 850511 from NL 60, CN 40: NL share 0.6 >= 0.5, BEL depends on NL -> looked through;
    # NL buys it from CN only and exports it (pass_NL = 100 / max(100, 100) = 1): BEL's NL 0.6 is CHN's
    # BEL buys 850519 from NL 30, CN 70: NL share 0.3 and NL is not top -> not looked through
    h.add_sdmx([("BE", "NL", "85051100", 1, "2024", 60), ("BE", "CN", "85051100", 1, "2024", 40),
                ("NL", "CN", "85051100", 1, "2024", 100), ("NL", "BE", "85051100", 2, "2024", 60),
                ("BE", "NL", "85051900", 1, "2024", 30), ("BE", "CN", "85051900", 1, "2024", 70)])
    h.build("monitor.indirect_dependencies")
    rows = h.rows("SELECT importer, product_code, ultimate_supplier, look_through_share "
                  "FROM monitor.look_through_shares ORDER BY ALL")
    be = {r["ultimate_supplier"]: r["look_through_share"] for r in rows
          if r["importer"] == "BEL" and r["product_code"] == "850511"}
    assert be == {"CHN": pytest.approx(1.0), "NLD": pytest.approx(0.0)}
    assert not [r for r in rows if r["importer"] == "BEL" and r["product_code"] == "850519"]
    # NLD and the bloc are looked through on every product they import
    assert {(r["importer"], r["product_code"]) for r in rows} >= {("NLD", "850511"), ("BEL", "850511")}


def test_a_dependency_hidden_behind_two_intermediaries(harness):
    h = harness.reset()
    # NL buys 30 from BEL, 30 from DEU, 40 from the US: direct HHI 0.09 + 0.09 + 0.16 = 0.34
    # BEL and DEU buy only from China and export less than they import: both pass everything
    h.add_sdmx([("NL", "BE", "85051100", 1, "2024", 30), ("NL", "DE", "85051100", 1, "2024", 30),
                ("NL", "US", "85051100", 1, "2024", 40),
                ("BE", "CN", "85051100", 1, "2024", 50), ("BE", "NL", "85051100", 2, "2024", 30),
                ("DE", "CN", "85051100", 1, "2024", 50), ("DE", "NL", "85051100", 2, "2024", 30)])
    h.build("monitor.indirect_dependencies")
    row = h.rows("SELECT * FROM monitor.indirect_dependencies WHERE importer = 'NLD'")[0]
    assert row["direct_hhi"] == pytest.approx(0.34)
    # look-through: CHN 0.6, USA 0.4 -> 0.36 + 0.16 = 0.52 > 0.4
    assert row["look_through_hhi"] == pytest.approx(0.52)
    assert row["top_ultimate_supplier"] == "CHN" and row["top_ultimate_share"] == pytest.approx(0.6)
    assert row["hidden_dependency"] is True
    assert shares(h)["CHN"]["via"] == "BEL 30.0%, DEU 30.0%"


def test_supplier_loss_with_coverage_below_one(harness):
    h = harness.reset()
    # NL imports 850511: CHN 80, USA 20. World exports (exporters' own reports): CHN 500 (80 of it to NL),
    # USA 30 (20 to NL), JPN 40, DEU 10.
    h.add_comtrade([(NLD, "M", CHN, "850511", 2024, 80), (NLD, "M", USA, "850511", 2024, 20),
                    (NLD, "M", WORLD, "850511", 2024, 100),
                    (CHN, "X", WORLD, "850511", 2024, 500), (CHN, "X", NLD, "850511", 2024, 80),
                    (USA, "X", WORLD, "850511", 2024, 30), (USA, "X", NLD, "850511", 2024, 20),
                    (JPN, "X", WORLD, "850511", 2024, 40), (DEU, "X", WORLD, "850511", 2024, 10)])
    h.build("monitor.supplier_loss_by_domain")
    loss = {(r["importer"], r["supplier"]): r for r in h.rows("SELECT * FROM monitor.supplier_loss")}
    chn = loss[("NLD", "CHN")]
    # if China stops: USA's 30 - 20 already to NL, JPN 40, DEU 10 -> 60 spare for 80 at risk
    assert chn["value_at_risk"] == Decimal("80.000") and chn["share_at_risk"] == pytest.approx(0.8)
    assert chn["spare_capacity"] == Decimal("60.000") and chn["coverage"] == pytest.approx(0.75)
    assert chn["supplier_world_export_share"] == pytest.approx(500 / 580)
    assert chn["single_point_of_failure"] is True and chn["supplier_rank"] == 1
    usa = loss[("NLD", "USA")]
    # if the US stops: CHN 500 - 80 + JPN 40 + DEU 10 = 470 for 20
    assert usa["spare_capacity"] == Decimal("470.000") and usa["single_point_of_failure"] is False
    # for the bloc (NL its only reporting member here) the member DEU is no outside capacity: 10 + 40
    assert loss[("EU27", "CHN")]["spare_capacity"] == Decimal("50.000")
    total = h.rows("SELECT * FROM monitor.supplier_loss_by_domain WHERE importer = 'NLD' AND supplier = 'CHN' "
                   "AND domain = 'all_products'")[0]
    assert (total["value_at_risk"], total["products_at_risk"], total["single_points_of_failure"]) == (80, 1, 1)


# ------------------------------------------------- issue 26: the supplier's own look-through share on every row

NZL, ITA, CHE, AUS, FRA = 554, 380, 757, 36, 251


def full(h, importer, code):
    return {r["ultimate_supplier"]: r["look_through_share"] for r in h.rows(
        "SELECT * FROM monitor.look_through_shares WHERE importer = ? AND product_code = ?", [importer, code])}


def dependence(h, table, importer, code):
    found = h.rows(f"SELECT * FROM monitor.{table} WHERE source = 'comtrade' AND importer = ? AND product_code = ?",
                   [importer, code])
    assert len(found) == 1, found
    return found[0]


def test_depending_on_dutch_supply_bought_from_italy(harness):
    """The issue's NZL 540769 case: NL's direct share 0, ITA the only supplier, ITA re-exports Dutch supply."""
    h = harness.reset()
    h.add_comtrade([
        # NZL 540769: ITA 100 only (World 100)
        (NZL, "M", ITA, "540769", 2024, 100), (NZL, "M", WORLD, "540769", 2024, 100),
        # ITA imports NLD 80, CHN 20 (World 100) and exports World 125: pass_ITA = 100 / 125 = 0.8
        (ITA, "M", NLD, "540769", 2024, 80), (ITA, "M", CHN, "540769", 2024, 20),
        (ITA, "M", WORLD, "540769", 2024, 100),
        (ITA, "X", WORLD, "540769", 2024, 125),
        # NL's own report: exports to ITA 80 (none to NZL) and to AUS 40 (AUS reports nothing)
        (NLD, "X", ITA, "540769", 2024, 80), (NLD, "X", AUS, "540769", 2024, 40),
        # NZL 540771: CHE 100 only; CHE imports DEU 60, FRA 30, CHN 10 and exports World 50: pass_CHE = 1
        (NZL, "M", CHE, "540771", 2024, 100),
        (CHE, "M", DEU, "540771", 2024, 60), (CHE, "M", FRA, "540771", 2024, 30), (CHE, "M", CHN, "540771", 2024, 10),
        (CHE, "X", WORLD, "540771", 2024, 50),
        # NZL 540762: a World row only (no country supplier)
        (NZL, "M", WORLD, "540762", 2024, 10),
    ])
    for table in ("indirect_dependencies", "dependence_on_nl", "dependence_on_eu"):
        h.build(f"monitor.{table}")
    nzl = dependence(h, "dependence_on_nl", "NZL", "540769")
    # direct: NL 0 of 100 -> not dependent; look-through: 1.0 (ITA) * 0.8 (pass) * 0.8 (NL in ITA's imports)
    assert nzl["nl_share"] == 0.0 and nzl["depends_on_nl"] is False
    assert nzl["lt_nl_share"] == pytest.approx(0.64, abs=1e-12)
    assert nzl["hidden_dependence_on_nl"] is True
    # unknown versus zero: NL reports to Comtrade in 2024, so no export row to NZL is 0, not unknown
    assert nzl["nl_reported_exports"] == Decimal("0.000") and nzl["mirror_share"] == 0.0
    assert nzl["mirror_view_available"] is False
    # NL's world export share of 540769: NL 80 + 40 (its partner rows, no World row) of ITA 125 + NL 120
    assert nzl["nl_world_export_share"] == pytest.approx(120 / 245)
    # the EU: ITA keeps 0.2 (a member), passes on 0.8 * 0.8 of NL's goods -> 0.84; the EU's direct share is 1
    eu = dependence(h, "dependence_on_eu", "NZL", "540769")
    assert eu["depends_on_eu"] is True and eu["lt_eu_share"] == pytest.approx(0.84, abs=1e-12)
    assert eu["hidden_dependence_on_eu"] is False
    # the full distribution is there for the hidden case: ITA 0.2, NLD 0.64, CHN 0.8 * 0.2 = 0.16
    assert full(h, "NZL", "540769") == {"ITA": pytest.approx(0.2), "NLD": pytest.approx(0.64),
                                        "CHN": pytest.approx(0.16)}

    # NZL 540771 from CHE: the EU's goods behind a non-member; NL none of it
    che = dependence(h, "dependence_on_eu", "NZL", "540771")
    assert che["eu_share"] == 0.0 and che["depends_on_eu"] is False
    assert che["lt_eu_share"] == pytest.approx(0.9, abs=1e-12) and che["hidden_dependence_on_eu"] is True
    nl_che = dependence(h, "dependence_on_nl", "NZL", "540771")
    assert nl_che["lt_nl_share"] == 0.0 and nl_che["hidden_dependence_on_nl"] is False
    # world exports of 540771 are CHE's 50: NL exports none of it, which is a share of 0
    assert nl_che["nl_world_export_share"] == 0.0
    # its full distribution (hidden EU dependence): DEU 0.6, FRA 0.3, CHN 0.1, CHE 0
    assert full(h, "NZL", "540771") == {"DEU": pytest.approx(0.6), "FRA": pytest.approx(0.3),
                                        "CHN": pytest.approx(0.1), "CHE": pytest.approx(0.0)}

    # the report's section lists both hidden cases, NL's with the intermediary it comes through
    from pipeline.report.indirect import hidden_dependence_on_supplier

    section = {s["supplier"]: s for s in hidden_dependence_on_supplier(h.con)["suppliers"]}
    assert [(r["importer"], r["product_code"], r["importer_top_partner"], r["via"]) for r in section["NLD"]["rows"]] \
        == [("NZL", "540769", "ITA", "ITA 64.0%")]
    assert section["NLD"]["total"] == 1 and section["NLD"]["rows"][0]["lt_supplier_share"] == pytest.approx(0.64)
    assert [(r["importer"], r["product_code"]) for r in section["EU27"]["rows"]] == [("NZL", "540771")]

    # no country supplier: no look-through share, no hidden flag (the partner view is there)
    bare = dependence(h, "dependence_on_nl", "NZL", "540762")
    assert bare["partner_view_available"] is True and bare["lt_nl_share"] is None
    assert bare["hidden_dependence_on_nl"] is None
    # mirror view only (AUS reports nothing): unknown
    aus = dependence(h, "dependence_on_nl", "AUS", "540769")
    assert aus["partner_view_available"] is False and aus["lt_nl_share"] is None
    assert aus["hidden_dependence_on_nl"] is None and aus["nl_reported_exports"] == Decimal("40.000")
    # ITA itself: NL supplies 0.8 directly and ITA passes nothing to itself: lt = 0.8 * (1 - pass_NL = 1)
    ita = dependence(h, "dependence_on_nl", "ITA", "540769")
    assert ita["depends_on_nl"] is True and ita["lt_nl_share"] == pytest.approx(0.8, abs=1e-12)
    assert ita["hidden_dependence_on_nl"] is False


def test_look_through_share_equals_the_full_distributions_row(harness):
    """lt_nl_share (one sum over intermediaries) is NLD's share in look_through_shares where both exist."""
    h = harness.reset()
    bel = 56
    h.add_comtrade([
        # USA 300215: NLD 60, BEL 30, CHE 10 (nl_share 0.6: dependent, so looked through in full)
        (USA, "M", NLD, "300215", 2024, 60), (USA, "M", bel, "300215", 2024, 30), (USA, "M", CHE, "300215", 2024, 10),
        # BEL imports NLD 50, CHN 50 (no World row) and exports World 200: pass_BEL = 100 / 200 = 0.5
        (bel, "M", NLD, "300215", 2024, 50), (bel, "M", CHN, "300215", 2024, 50),
        (bel, "X", WORLD, "300215", 2024, 200),
        # NLD imports CHN 30 and exports World 60: pass_NLD = 0.5; CHE reports nothing: pass 0
        (NLD, "M", CHN, "300215", 2024, 30), (NLD, "X", WORLD, "300215", 2024, 60),
    ])
    h.build("monitor.look_through_shares")
    h.build("monitor.dependence_on_nl")
    usa = dependence(h, "dependence_on_nl", "USA", "300215")
    # NL keeps 0.6 * (1 - 0.5) = 0.3; BEL passes on 0.3 * 0.5 * 0.5 = 0.075 of NL's goods
    assert usa["depends_on_nl"] is True and usa["lt_nl_share"] == pytest.approx(0.375, abs=1e-12)
    assert usa["hidden_dependence_on_nl"] is False
    # the full distribution: NLD 0.375, BEL 0.15, CHE 0.1, CHN 0.6 * 0.5 + 0.3 * 0.5 * 0.5 = 0.375
    assert full(h, "USA", "300215") == {
        "NLD": pytest.approx(0.375), "BEL": pytest.approx(0.15), "CHE": pytest.approx(0.1), "CHN": pytest.approx(0.375)}
    # BEL: NL 0.5 directly (dependent), pass_NLD 0.5 -> 0.25
    assert dependence(h, "dependence_on_nl", "BEL", "300215")["lt_nl_share"] == pytest.approx(0.25, abs=1e-12)
    pairs = h.rows("""
        SELECT d.importer, d.lt_nl_share, coalesce(s.look_through_share, 0) AS full_share
        FROM monitor.dependence_on_nl AS d
        JOIN (SELECT DISTINCT source, importer, year, product_code FROM monitor.look_through_shares) AS l
          USING (source, importer, year, product_code)
        LEFT JOIN monitor.look_through_shares AS s
          ON s.source = d.source AND s.importer = d.importer AND s.year = d.year
         AND s.product_code = d.product_code AND s.ultimate_supplier = 'NLD'""")
    assert {r["importer"] for r in pairs} == {"USA", "BEL"}
    for r in pairs:
        assert r["lt_nl_share"] == pytest.approx(r["full_share"], abs=1e-12), r
