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
