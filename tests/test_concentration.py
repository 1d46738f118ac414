"""HHI and its companion columns on hand-computed cases, through the real assets and SQL."""

import pytest

from conftest import failure_messages, sdmx_rows


@pytest.fixture
def runner(sql_runner):
    """These cases test what the SQL computes: the real readers, then the models on the in-memory harness."""
    return sql_runner

def _row(con, reporter, product="850511", level="HS6", year=2024, scope=None):
    scope = scope or ("extra_eu" if reporter == "EU27" else "all")
    cur = con.execute(
        "SELECT * FROM monitor.import_concentration WHERE reporter = ? AND product_level = ? "
        "AND product_code = ? AND year = ? AND partner_scope = ?",
        [reporter, level, product if level != "HS2" else product[:2], year, scope])
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(names, rows[0]))


def test_single_supplier_and_equal_suppliers(runner):
    runner.write("landing/comext/a.csv", sdmx_rows([
        ("FR", "CN", "85051100", 1, "2024", 500),          # one supplier -> 1.0
        ("DE", "CN", "85051100", 1, "2024", 100),          # four equal suppliers -> 0.25
        ("DE", "US", "85051100", 1, "2024", 100),
        ("DE", "JP", "85051100", 1, "2024", 100),
        ("DE", "KR", "85051100", 1, "2024", 100),
    ]))
    result = runner.run()
    assert result.success, failure_messages(result)
    con = runner.published()
    fr = _row(con, "FRA")
    assert fr["hhi"] == pytest.approx(1.0) and fr["n_suppliers"] == 1
    assert fr["hhi_normalized"] is None and fr["equivalent_suppliers"] == pytest.approx(1.0)
    de = _row(con, "DEU")
    assert de["hhi"] == pytest.approx(0.25)
    assert de["equivalent_suppliers"] == pytest.approx(4.0)
    assert de["hhi_normalized"] == pytest.approx(0.0)
    assert de["top1_share"] == pytest.approx(0.25) and de["top3_share"] == pytest.approx(0.75)
    # a four-way tie goes to the highest partner code, so reruns agree
    assert de["top1_partner"] == "USA"


def test_aggregates_excluded_and_unallocated_from_world(runner):
    # NL imports: CN 60, US 20, an unspecified partner QV 10, World 120 -> 30 unaccounted by any row
    runner.write("landing/comext/a.csv", sdmx_rows([
        ("NL", "CN", "85051100", 1, "2024", 60),
        ("NL", "US", "85051100", 1, "2024", 20),
        ("NL", "QV", "85051100", 1, "2024", 10),
        ("NL", "WORLD", "85051100", 1, "2024", 120),
        ("NL", "EU27_2020_EXTRA", "85051100", 1, "2024", 90),
        ("NL", "NL", "85051100", 1, "2024", 5),            # re-imports: excluded from the HHI
    ]))
    result = runner.run()
    assert result.success, failure_messages(result)
    nl = _row(runner.published(), "NLD")
    assert nl["n_suppliers"] == 2
    assert nl["allocated_value"] == pytest.approx(80)
    assert nl["hhi"] == pytest.approx((60 / 80) ** 2 + (20 / 80) ** 2)
    # explicit unallocated 10 + World residual 120 - (60 + 20 + 10 + 5) = 25
    assert nl["unallocated_value"] == pytest.approx(35)
    assert nl["unallocated_share"] == pytest.approx(35 / 115)
    assert nl["low_confidence"] is True
    assert nl["top1_partner"] == "CHN" and nl["top1_share"] == pytest.approx(0.75)


def test_eu_bloc_uses_extra_eu_suppliers_only(runner):
    runner.write("landing/comext/a.csv", sdmx_rows([
        ("FR", "DE", "85051100", 1, "2024", 1000),   # intra-EU: not in the bloc's HHI
        ("FR", "CN", "85051100", 1, "2024", 90),
        ("DE", "CN", "85051100", 1, "2024", 60),
        ("DE", "US", "85051100", 1, "2024", 50),
        ("DE", "FR", "85051100", 1, "2024", 700),    # intra-EU
    ]))
    result = runner.run()
    assert result.success, failure_messages(result)
    con = runner.published()
    eu = _row(con, "EU27")
    assert eu["n_suppliers"] == 2
    assert eu["allocated_value"] == pytest.approx(200)
    assert eu["hhi"] == pytest.approx((150 / 200) ** 2 + (50 / 200) ** 2)
    assert eu["internal_value"] == pytest.approx(1700)
    assert eu["bloc_members"] == 2
    # France alone counts Germany as a supplier in its all-partner HHI, not in its extra-EU one
    fr = _row(con, "FRA")
    assert fr["hhi"] == pytest.approx((1000 / 1090) ** 2 + (90 / 1090) ** 2)
    fr_extra = _row(con, "FRA", scope="extra_eu")
    assert fr_extra["hhi"] == pytest.approx(1.0) and fr_extra["internal_value"] == pytest.approx(1000)
    assert con.execute("SELECT count(*) FROM monitor.import_concentration WHERE reporter = 'EU27' "
                       "AND partner_scope = 'all'").fetchall() == [(0,)]


def test_group_hhi_sums_partner_values_not_member_hhis(runner):
    # HS2 85 = 850511 (CN 100) + 854142 (US 100): group HHI 0.5, although each HS6 has HHI 1
    runner.write("landing/comext/a.csv", sdmx_rows([
        ("IT", "CN", "85051100", 1, "2024", 100),
        ("IT", "US", "85414200", 1, "2024", 100),
    ]))
    result = runner.run()
    assert result.success, failure_messages(result)
    con = runner.published()
    assert _row(con, "ITA", "850511")["hhi"] == pytest.approx(1.0)
    assert _row(con, "ITA", "85", level="HS2")["hhi"] == pytest.approx(0.5)
    # 854142 is energy_transition (6-digit prefix beats the 8541 digital entry), 850511 its own domain
    domains = dict(con.execute(
        "SELECT product_code, hhi FROM monitor.import_concentration WHERE reporter = 'ITA' "
        "AND product_level = 'domain' AND partner_scope = 'all'"
    ).fetchall())
    assert domains.get("energy_transition") == pytest.approx(1.0)


def test_months_are_summed_to_the_year(runner):
    runner.write("landing/comext/a.csv", sdmx_rows(
        [("AT", "CN", "85051100", 1, f"2024-{m:02d}", 10) for m in range(1, 13)]
        + [("AT", "US", "85051100", 1, "2024-01", 40)]
    ))
    result = runner.run()
    assert result.success, failure_messages(result)
    at = _row(runner.published(), "AUT")
    assert at["allocated_value"] == pytest.approx(160)
    assert at["months_covered"] == 12
    assert at["hhi"] == pytest.approx((120 / 160) ** 2 + (40 / 160) ** 2)
