"""The SQL models against an independent polars oracle (tests/oracle/), table by table and row by row.

- hand-made cases: the oracle on a tiny in-memory warehouse, against values computed by hand;
- compare(): it notices each kind of disagreement;
- the embedded default (``geomon run``'s default sources) and the adversarial world
  (tests/adversarial_world.py): the pipeline's monitor.* tables against the oracle's, computed
  from the same warehouse's staging.trade_flows and reference tables.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import polars as pl
import pytest

from conftest import REPO, Runner
from oracle.compare import CONTRACT_COLUMNS, compare
from oracle.oracle import KEYS, NLD_CAVEAT, TABLES, compute_all

REFERENCE = REPO / "data" / "reference"

# --------------------------------------------------------------------------------------------- hand-made

FLOW_COLUMNS = ["source", "currency", "freq", "year", "month", "reporter", "reporter_kind", "partner",
                "partner_kind", "flow", "product_code_native", "value"]

KIND = {"WORLD": "aggregate", "CT899": "unspecified", "QV": "unspecified", "QS": "special"}


def _rows() -> list[tuple]:
    """(source, currency, freq, year, month, reporter, partner, flow, native code, value)."""
    ct = ("comtrade", "USD", "A", 2023, None, "USA")
    rows = [
        # USA 850760: CHN 600, KOR 300, JPN 100, self 50, Areas nes 40, World 1200
        *[(*ct, p, "import", "850760", v) for p, v in
          [("CHN", 600), ("KOR", 300), ("JPN", 100), ("USA", 50), ("CT899", 40), ("WORLD", 1200)]],
        # USA 850750: CHN 100, DEU 100, World 150 (partner rows 50 above World)
        *[(*ct, p, "import", "850750", v) for p, v in [("CHN", 100), ("DEU", 100), ("WORLD", 150)]],
    ]
    ce = ("comext", "EUR", "M", 2023)
    rows += [
        # NLD 85076000, two months; January: CHN 100, DEU 50, self 10, QV 20, QS 5, World 200
        *[(*ce, 1, "NLD", p, "import", "85076000", v) for p, v in
          [("CHN", 100), ("DEU", 50), ("NLD", 10), ("QV", 20), ("QS", 5), ("WORLD", 200)]],
        # February: CHN 100, USA 100, World 200
        *[(*ce, 2, "NLD", p, "import", "85076000", v) for p, v in [("CHN", 100), ("USA", 100), ("WORLD", 200)]],
        # exports, January: USA 30, DEU 500, QS 7, self 3
        *[(*ce, 1, "NLD", p, "export", "85076000", v) for p, v in
          [("USA", 30), ("DEU", 500), ("QS", 7), ("NLD", 3)]],
        # NLD 85075000: an annual row (CHN 300) and a monthly one (CHN 10): the annual row wins; no World
        ("comext", "EUR", "A", 2023, None, "NLD", "CHN", "import", "85075000", 300),
        ("comext", "EUR", "M", 2023, 1, "NLD", "CHN", "import", "85075000", 10),
    ]
    return rows


def _hand_warehouse(source_rows: list[tuple] | None = None) -> duckdb.DuckDBPyConnection:
    rows = [
        (s, c, f, y, m, r, "country", p, KIND.get(p, "country"), fl, code, v)
        for s, c, f, y, m, r, p, fl, code, v in (_rows() if source_rows is None else source_rows)
    ]
    flows = pl.DataFrame(rows, schema=FLOW_COLUMNS, orient="row").with_columns(
        pl.col("year").cast(pl.Int32), pl.col("month").cast(pl.Int32),
        is_detail=pl.lit(True),
        product_code=pl.col("product_code_native").str.slice(0, 6),
        hs4=pl.col("product_code_native").str.slice(0, 4),
        hs2=pl.col("product_code_native").str.slice(0, 2),
        hs_edition=pl.lit("H6"),
        release=pl.when(pl.col("source") == "comtrade").then(pl.lit("CT release")).otherwise(pl.lit("CE release")),
        synthetic=pl.col("reporter") == "NLD",
    )
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA reference")
    con.register("flows_df", flows)
    con.execute("CREATE TABLE staging.trade_flows AS "
                "SELECT * REPLACE (CAST(value AS DECIMAL(38,3)) AS value) FROM flows_df")
    for name in ("eu_members", "area_codes", "strategic_domains", "hs_correlations"):
        con.execute(f"CREATE TABLE reference.{name} AS SELECT * FROM read_csv('{REFERENCE / (name + '.csv')}', "
                    "all_varchar=true)")
    con.execute("ALTER TABLE reference.eu_members ALTER in_eu27_2020 TYPE BOOLEAN")
    return con


@pytest.fixture(scope="module")
def hand() -> dict[str, pl.DataFrame]:
    return compute_all(_hand_warehouse())


def _row(df: pl.DataFrame, **keys) -> dict:
    hit = df.filter(*[pl.col(k) == v for k, v in keys.items()])
    assert hit.height == 1, f"{keys}: {hit.height} rows"
    return hit.to_dicts()[0]


D = Decimal


def test_hand_hs6_leftover_and_shares(hand):
    r = _row(hand["import_concentration"], source="comtrade", reporter="USA", year=2023, product_level="HS6",
             product_code="850760", partner_scope="all")
    # suppliers CHN 600, KOR 300, JPN 100: shares .6 .3 .1
    assert r["n_suppliers"] == 3
    assert r["hhi"] == pytest.approx(0.46, abs=1e-12)
    assert r["equivalent_suppliers"] == pytest.approx(1 / 0.46, abs=1e-12)
    assert r["hhi_normalized"] == pytest.approx(0.19, abs=1e-12)  # (0.46 - 1/3) / (2/3)
    assert (r["top1_partner"], r["top1_value"], r["top1_share"]) == ("CHN", D("600.000"), pytest.approx(0.6))
    assert r["top3_share"] == pytest.approx(1.0)
    # World 1200 - partner rows 1090 = leftover 110, plus 40 with Areas nes
    assert r["allocated_value"] == D("1000.000")
    assert r["unallocated_value"] == D("150.000")
    assert r["internal_value"] == D("50.000")  # the re-import
    assert r["world_value"] == D("1200.000")
    assert r["partner_rows_above_world"] == D("0.000")
    assert r["unallocated_share"] == pytest.approx(150 / 1150, abs=1e-12)
    assert r["low_confidence"] is True
    assert r["months_covered"] == 12
    assert r["bloc_members"] is None and r["bloc_complete"] is None and r["bloc_basis"] is None
    assert r["caveat"] is None and r["release"] == "CT release" and r["synthetic"] is False
    # the domain of 850760 (energy_transition) holds the same figures
    d = _row(hand["import_concentration"], source="comtrade", reporter="USA", product_level="domain",
             product_code="energy_transition")
    assert d["hhi"] == pytest.approx(0.46, abs=1e-12) and d["unallocated_value"] == D("150.000")


def test_hand_hs4_never_nets_leftovers(hand):
    r = _row(hand["import_concentration"], source="comtrade", reporter="USA", product_level="HS4",
             product_code="8507", partner_scope="all")
    # CHN 700, KOR 300, JPN 100, DEU 100: HHI (49 + 9 + 1 + 1) / 144
    assert r["n_suppliers"] == 4
    assert r["hhi"] == pytest.approx(60 / 144, abs=1e-12)
    assert r["top1_share"] == pytest.approx(7 / 12) and r["top3_share"] == pytest.approx(11 / 12)
    assert r["allocated_value"] == D("1200.000")
    assert r["unallocated_value"] == D("150.000")  # +110 of 850760 and 40 Areas nes; 850750's -50 not netted
    assert r["partner_rows_above_world"] == D("50.000")
    assert r["world_value"] == D("1350.000")
    # allocated + unallocated + internal = world + above
    assert 1200 + 150 + 50 == 1350 + 50
    assert _row(hand["import_concentration"], source="comtrade", reporter="USA", product_level="HS2",
                product_code="85")["hhi"] == pytest.approx(60 / 144, abs=1e-12)


def test_hand_member_scopes_monthly_and_annual(hand):
    ic = hand["import_concentration"]
    a = _row(ic, source="comext", reporter="NLD", product_level="HS6", product_code="850760", partner_scope="all")
    # two months summed: CHN 200, DEU 50, USA 100; self 10; QV 20 + QS 5; World 400
    assert a["n_suppliers"] == 3 and a["hhi"] == pytest.approx(21 / 49, abs=1e-12)
    assert (a["allocated_value"], a["unallocated_value"], a["internal_value"]) == (D("350.000"), D("40.000"), D("10.000"))
    assert a["world_value"] == D("400.000") and a["months_covered"] == 2
    assert a["caveat"] == NLD_CAVEAT and a["synthetic"] is True and a["release"] == "CE release"
    x = _row(ic, source="comext", reporter="NLD", product_level="HS6", product_code="850760", partner_scope="extra_eu")
    # extra-EU: CHN 200, USA 100; DEU and QV are intra-EU, the re-import is internal too; QS + leftover 15
    assert x["n_suppliers"] == 2 and x["hhi"] == pytest.approx(5 / 9, abs=1e-12)
    assert (x["allocated_value"], x["unallocated_value"], x["internal_value"]) == (D("300.000"), D("20.000"), D("80.000"))
    h4 = _row(ic, source="comext", reporter="NLD", product_level="HS4", product_code="8507", partner_scope="all")
    # 85075000: the annual CHN 300 replaces the monthly CHN 10; it has no World total -> world_value null
    assert h4["allocated_value"] == D("650.000") and h4["world_value"] is None
    assert h4["top1_partner"] == "CHN" and h4["top1_value"] == D("500.000")


def test_hand_ec_screen_and_bloc(hand):
    ec = hand["ec_screen"]
    n = _row(ec, source="comext", reporter="NLD", year=2023, product_code="850760")
    assert (n["m_extra"], n["m_intra"], n["x_extra"]) == (D("300.000"), D("70.000"), D("30.000"))
    assert n["extra_eu_import_share"] == pytest.approx(300 / 370) and n["import_export_ratio"] == pytest.approx(10.0)
    assert n["c1_concentration"] and n["c2_importance"] and n["c3_substitutability"] and n["screened"]
    # NLD's 2023 is two months (January, February): an incomplete year shows its criteria, never the flag
    assert (n["months_covered"], n["year_complete"], n["bloc_complete"]) == (2, False, None)
    assert n["dependent"] is False and n["years_flagged"] == 0
    e = _row(ec, source="comext", reporter="EU27", year=2023, product_code="850760")
    # the bloc is NLD alone: same figures, but 1 member of 27 covering 2 months -> never dependent
    assert (e["m_extra"], e["m_intra"], e["x_extra"]) == (D("300.000"), D("70.000"), D("30.000"))
    assert (e["bloc_members"], e["bloc_months_min"], e["bloc_complete"]) == (1, 2, False)
    assert e["c1_concentration"] and e["c2_importance"] and e["c3_substitutability"] and e["dependent"] is False
    b = _row(hand["import_concentration"], source="comext", reporter="EU27", product_level="HS6",
             product_code="850760", partner_scope="extra_eu")
    assert b["bloc_basis"] == "members" and b["months_covered"] == 2 and b["caveat"] is None


def test_hand_dependence_on_nl(hand):
    dep = hand["dependence_on_nl"]
    # NLD's exports to USA (mirror only: USA reports no 850760 imports from anyone in comext)
    m = _row(dep, source="comext", importer="USA", year=2023, product_code="850760")
    assert m["partner_view_available"] is False and m["mirror_view_available"] is True
    assert m["nl_reported_exports"] == D("30.000") and m["depends_on_nl"] is None and m["mirror_share"] is None


# --------------------------------------------------------------------------- section 8 by hand (a second warehouse)

def _beyond_rows() -> list[tuple]:
    """Methodology section 8: look-through shares and supplier loss (same row format as _rows())."""
    ce = lambda year: ("comext", "EUR", "A", year, None)  # noqa: E731
    ct = ("comtrade", "USD", "A", 2024, None)
    rows = [
        # A (comext 2024, 850511): NL buys 80 from BEL, 20 from CHN; BEL imports 90 CHN + 10 USA, exports 60 (to NL)
        *[(*ce(2024), r, p, fl, "85051100", v) for r, p, fl, v in
          [("NLD", "BEL", "import", 80), ("NLD", "CHN", "import", 20), ("BEL", "CHN", "import", 90),
           ("BEL", "USA", "import", 10), ("BEL", "NLD", "export", 60)]],
        # B (comext 2023, 850511): the same imports, but BEL exports 200 (to DEU)
        *[(*ce(2023), r, p, fl, "85051100", v) for r, p, fl, v in
          [("NLD", "BEL", "import", 80), ("NLD", "CHN", "import", 20), ("BEL", "CHN", "import", 90),
           ("BEL", "USA", "import", 10), ("BEL", "DEU", "export", 200)]],
        # C (comext 2024, 850519): NL buys 50 BEL, 50 USA; BEL imports World 250 (NLD 60, CHN 140: 50 left
        # over), exports World 500; NL's own goods come back through BEL
        *[(*ce(2024), r, p, fl, "85051900", v) for r, p, fl, v in
          [("NLD", "BEL", "import", 50), ("NLD", "USA", "import", 50), ("BEL", "WORLD", "import", 250),
           ("BEL", "NLD", "import", 60), ("BEL", "CHN", "import", 140), ("BEL", "WORLD", "export", 500)]],
        # D (comext 2023, 850519): a dependency hidden behind two intermediaries
        *[(*ce(2023), r, p, fl, "85051900", v) for r, p, fl, v in
          [("NLD", "BEL", "import", 40), ("NLD", "DEU", "import", 40), ("NLD", "USA", "import", 20),
           ("BEL", "CHN", "import", 100), ("BEL", "FRA", "export", 50),
           ("DEU", "CHN", "import", 40), ("DEU", "JPN", "import", 10), ("DEU", "FRA", "export", 25)]],
        # E (comtrade 2024, 850440): DEU buys 100 from CHE; CHE imports DEU 50, FRA 25, CHN 25, exports World 80
        *[(*ct, r, p, fl, "850440", v) for r, p, fl, v in
          [("DEU", "CHE", "import", 100), ("CHE", "DEU", "import", 50), ("CHE", "FRA", "import", 25),
           ("CHE", "CHN", "import", 25), ("CHE", "WORLD", "export", 80)]],
        # F (comtrade 2024, 850760): NL imports CHN 80, USA 20 (World 100). Exporters' own reports: CHN World
        # 500 (80 to NL), USA World 30 (20 to NL), JPN World 40, DEU World 10 (5 to NL), FRA no World row:
        # 3 to NL + 7 to USA
        *[(*ct, r, p, fl, "850760", v) for r, p, fl, v in
          [("NLD", "CHN", "import", 80), ("NLD", "USA", "import", 20), ("NLD", "WORLD", "import", 100),
           ("CHN", "WORLD", "export", 500), ("CHN", "NLD", "export", 80), ("USA", "WORLD", "export", 30),
           ("USA", "NLD", "export", 20), ("JPN", "WORLD", "export", 40), ("DEU", "WORLD", "export", 10),
           ("DEU", "NLD", "export", 5), ("FRA", "NLD", "export", 3), ("FRA", "USA", "export", 7)]],
        # G (comtrade 2024, 850511, no strategic domain): NL imports CHN 50, USA 50 (a tie); nobody exports it
        *[(*ct, "NLD", p, "import", "850511", v) for p, v in [("CHN", 50), ("USA", 50), ("WORLD", 100)]],
    ]
    return rows


@pytest.fixture(scope="module")
def beyond() -> dict[str, pl.DataFrame]:
    return compute_all(_hand_warehouse(_beyond_rows()))


def _shares_of(beyond, source, importer, year, code) -> dict[str, dict]:
    df = beyond["look_through_shares"].filter(
        pl.col("source") == source, pl.col("importer") == importer, pl.col("year") == year,
        pl.col("product_code") == code,
    )
    out = {r["ultimate_supplier"]: r for r in df.to_dicts()}
    assert sum(r["look_through_share"] for r in out.values()) == pytest.approx(1.0, abs=1e-12)
    for r in out.values():
        assert r["hidden_share"] == pytest.approx(r["look_through_share"] - r["direct_share"], abs=1e-12)
    return out


def _looked_through_importers(beyond) -> set[str]:
    return set(beyond["look_through_shares"]["importer"].to_list())


def _lt(shares: dict[str, dict]) -> dict[str, float]:
    return {u: pytest.approx(r["look_through_share"], abs=1e-12) for u, r in shares.items()}


def test_hand_look_through_bel_passes_everything(beyond):
    nl = _shares_of(beyond, "comext", "NLD", 2024, "850511")
    # M_BEL = 90 + 10 = 100 (no World row: its partner rows), X_BEL = 60: pass_BEL = 100 / max(60, 100) = 1
    # CHN 0.2 + 0.8 * 1 * 0.9 = 0.92, USA 0.8 * 0.1 = 0.08, BEL 0.8 * (1 - 1) = 0; CHN is no reporter: pass 0
    assert _lt(nl) == {"CHN": 0.92, "USA": 0.08, "BEL": 0.0}
    assert nl["BEL"]["direct_share"] == pytest.approx(0.8) and nl["BEL"]["hidden_share"] == pytest.approx(-0.8)
    assert nl["CHN"]["hidden_share"] == pytest.approx(0.72) and nl["USA"]["direct_share"] == 0.0
    assert nl["CHN"]["release"] == "CE release" and nl["CHN"]["synthetic"] is True and nl["CHN"]["currency"] == "EUR"
    # BEL is an intermediary here, and no importer looked through: it depends neither on NL nor on the EU for
    # the product (CHE does, on the EU: case E below)
    assert _looked_through_importers(beyond) == {"NLD", "EU27", "CHE"}
    # the bloc (NLD + BEL): extra-EU suppliers only, CHN 20 + 90, USA 10; BEL is internal
    assert _lt(_shares_of(beyond, "comext", "EU27", 2024, "850511")) == {"CHN": 110 / 120, "USA": 10 / 120}
    row = _row(beyond["indirect_dependencies"], source="comext", importer="NLD", year=2024, product_code="850511")
    assert row["direct_hhi"] == pytest.approx(0.8 ** 2 + 0.2 ** 2)  # 0.68
    assert row["look_through_hhi"] == pytest.approx(0.92 ** 2 + 0.08 ** 2)  # 0.8528
    assert (row["top_direct_supplier"], row["top_direct_share"]) == ("BEL", pytest.approx(0.8))
    assert (row["top_ultimate_supplier"], row["top_ultimate_share"]) == ("CHN", pytest.approx(0.92))
    assert row["hhi_threshold"] == 0.4 and row["hidden_dependency"] is False  # direct 0.68 already > 0.4


def test_hand_look_through_bel_keeps_half(beyond):
    nl = _shares_of(beyond, "comext", "NLD", 2023, "850511")
    # BEL exports 200: pass_BEL = 100 / max(200, 100) = 0.5
    # BEL keeps 0.8 * 0.5 = 0.4; CHN 0.2 + 0.8 * 0.5 * 0.9 = 0.56; USA 0.8 * 0.5 * 0.1 = 0.04
    assert _lt(nl) == {"BEL": 0.4, "CHN": 0.56, "USA": 0.04}
    assert nl["BEL"]["hidden_share"] == pytest.approx(-0.4) and nl["CHN"]["hidden_share"] == pytest.approx(0.36)


def test_hand_look_through_world_total_and_own_goods_back(beyond):
    nl = _shares_of(beyond, "comext", "NLD", 2024, "850519")
    # M_BEL = its World row 250 (not the partner rows' 200), X_BEL = World 500: pass = 250 / 500 = 0.5
    # BEL's shares over its country suppliers: NLD 60/200 = 0.3, CHN 140/200 = 0.7
    # BEL keeps 0.5 * 0.5 = 0.25; USA 0.5 (not a reporter); NLD (own goods back) 0.5 * 0.5 * 0.3 = 0.075;
    # CHN 0.5 * 0.5 * 0.7 = 0.175
    assert _lt(nl) == {"BEL": 0.25, "USA": 0.5, "NLD": 0.075, "CHN": 0.175}
    assert nl["NLD"]["direct_share"] == 0.0 and nl["NLD"]["hidden_share"] == pytest.approx(0.075)
    row = _row(beyond["indirect_dependencies"], source="comext", importer="NLD", year=2024, product_code="850519")
    # direct: 0.25 + 0.25 = 0.5; look-through 0.0625 + 0.25 + 0.005625 + 0.030625 = 0.34875
    assert row["direct_hhi"] == pytest.approx(0.5) and row["look_through_hhi"] == pytest.approx(0.34875)
    # BEL and USA tie at 50 directly: the highest code
    assert (row["top_direct_supplier"], row["top_direct_share"]) == ("USA", pytest.approx(0.5))
    assert (row["top_ultimate_supplier"], row["top_ultimate_share"]) == ("USA", pytest.approx(0.5))
    assert row["hidden_dependency"] is False  # 0.5 > 0.4 directly already


def test_hand_hidden_dependency(beyond):
    nl = _shares_of(beyond, "comext", "NLD", 2023, "850519")
    # NL: BEL 0.4, DEU 0.4, USA 0.2 -> direct HHI 0.16 + 0.16 + 0.04 = 0.36 (not > 0.4)
    # pass_BEL = 100 / max(50, 100) = 1 (all CHN); pass_DEU = 50 / max(25, 50) = 1 (CHN 0.8, JPN 0.2)
    # CHN 0.4 + 0.4 * 0.8 = 0.72; JPN 0.4 * 0.2 = 0.08; USA 0.2; BEL, DEU 0
    assert _lt(nl) == {"CHN": 0.72, "JPN": 0.08, "USA": 0.2, "BEL": 0.0, "DEU": 0.0}
    row = _row(beyond["indirect_dependencies"], source="comext", importer="NLD", year=2023, product_code="850519")
    assert row["direct_hhi"] == pytest.approx(0.36)
    assert row["look_through_hhi"] == pytest.approx(0.72 ** 2 + 0.08 ** 2 + 0.2 ** 2)  # 0.5652
    assert row["top_direct_supplier"] == "DEU"  # BEL and DEU tie at 40: the highest code
    assert (row["top_ultimate_supplier"], row["top_ultimate_share"]) == ("CHN", pytest.approx(0.72))
    assert row["hidden_dependency"] is True


def test_hand_look_through_bloc_and_members_behind_it(beyond):
    # comtrade 2024 850440: CHE imports 100 (DEU 50, FRA 25, CHN 25), exports 80: pass_CHE = 100 / 100 = 1
    # EU27 (from DEU's Comtrade report): CHE 1.0 -> DEU + FRA are members: EU27 0.75, CHN 0.25, CHE 0
    eu = _shares_of(beyond, "comtrade", "EU27", 2024, "850440")
    assert _lt(eu) == {"EU27": 0.75, "CHN": 0.25, "CHE": 0.0}
    assert eu["CHE"]["direct_share"] == 1.0 and eu["EU27"]["direct_share"] == 0.0
    # CHE buys 75 of its 100 from DEU and FRA: it depends on the EU, so it is looked through in full (methodology
    # section 8). DEU reports importing 100 (all from CHE) and exporting none: pass_DEU = 1, so DEU's 0.5 is
    # CHE's own goods coming back; FRA and CHN report nothing: they keep 0.25 each
    assert _lt(_shares_of(beyond, "comtrade", "CHE", 2024, "850440")) == \
        {"CHE": 0.5, "DEU": 0.0, "FRA": 0.25, "CHN": 0.25}
    # DEU depends on neither NL nor the EU (CHE, its only supplier, is no member): not looked through
    assert _looked_through_importers(beyond) == {"NLD", "EU27", "CHE"}
    eu_che = _row(beyond["dependence_on_eu"], source="comtrade", importer="CHE", year=2024, product_code="850440")
    # the EU's look-through share is the members' sum: DEU 0 + FRA 0.25 (DEU's share is CHE's goods)
    assert eu_che["depends_on_eu"] is True and eu_che["lt_eu_share"] == pytest.approx(0.25, abs=1e-12)
    assert eu_che["hidden_dependence_on_eu"] is False


def test_hand_supplier_loss(beyond):
    loss = beyond["supplier_loss"]
    assert set(loss["source"].to_list()) == {"comtrade"} and set(loss["importer"].to_list()) == {"NLD", "EU27"}
    # world exports of 850760: CHN 500 + USA 30 + JPN 40 + DEU 10 + FRA (3 + 7) 10 = 590
    chn = _row(loss, importer="NLD", year=2024, product_code="850760", supplier="CHN")
    # if CHN stops: USA 30 - 20 + JPN 40 + DEU 10 - 5 + FRA 10 - 3 = 62 for 80 at risk
    assert (chn["value_at_risk"], chn["share_at_risk"], chn["supplier_rank"]) == (D("80.000"), pytest.approx(0.8), 1)
    assert chn["spare_capacity"] == D("62.000") and chn["coverage"] == pytest.approx(62 / 80)
    assert chn["supplier_world_export_share"] == pytest.approx(500 / 590) and chn["single_point_of_failure"] is True
    usa = _row(loss, importer="NLD", year=2024, product_code="850760", supplier="USA")
    # if the US stops: CHN 500 - 80 + 40 + 5 + 7 = 472 for 20
    assert (usa["value_at_risk"], usa["supplier_rank"], usa["spare_capacity"]) == (D("20.000"), 2, D("472.000"))
    assert usa["coverage"] == pytest.approx(23.6) and usa["supplier_world_export_share"] == pytest.approx(30 / 590)
    assert usa["single_point_of_failure"] is False
    # the bloc (Comtrade members NLD, DEU, FRA): members are no outside capacity and exports to any member are
    # the bloc's: CHN stops -> USA 30 - 20 + JPN 40 = 50; USA stops -> CHN 500 - 80 + JPN 40 = 460
    e_chn = _row(loss, importer="EU27", year=2024, product_code="850760", supplier="CHN")
    assert e_chn["spare_capacity"] == D("50.000") and e_chn["coverage"] == pytest.approx(0.625)
    assert _row(loss, importer="EU27", year=2024, product_code="850760", supplier="USA")["spare_capacity"] == D("460.000")
    # EU27 850440: CHE its only supplier, sole exporter (World 80): no spare, coverage 0, world share 1
    che = _row(loss, importer="EU27", year=2024, product_code="850440", supplier="CHE")
    assert (che["value_at_risk"], che["spare_capacity"], che["coverage"]) == (D("100.000"), D("0.000"), 0.0)
    assert che["supplier_world_export_share"] == 1.0 and che["single_point_of_failure"] is True
    # 850511: a 50/50 tie ranks the highest code first; nobody exports it: spare 0, coverage 0, world share
    # null (no exports reported) -> null OR true = true
    t_usa = _row(loss, importer="NLD", year=2024, product_code="850511", supplier="USA")
    t_chn = _row(loss, importer="NLD", year=2024, product_code="850511", supplier="CHN")
    assert (t_usa["supplier_rank"], t_chn["supplier_rank"]) == (1, 2)
    assert t_chn["spare_capacity"] == D("0.000") and t_chn["coverage"] == 0.0
    assert t_chn["supplier_world_export_share"] is None and t_chn["single_point_of_failure"] is True
    # NLD's comext imports are never in supplier_loss (Comtrade only)
    assert loss.filter(pl.col("product_code") == "850519").height == 0


def test_hand_supplier_loss_by_domain(beyond):
    by = beyond["supplier_loss_by_domain"]
    # NLD <- CHN: 850760 (energy_transition and batteries: 80, SPOF, rank 1) and 850511 (rare_earth_magnets:
    # 50, SPOF, rank 2); all_products counts each product once
    assert {(r["domain"], r["value_at_risk"], r["products_at_risk"], r["single_points_of_failure"],
             r["products_as_top_supplier"])
            for r in by.filter(pl.col("importer") == "NLD", pl.col("supplier") == "CHN").to_dicts()} == {
        ("energy_transition", D("80.000"), 1, 1, 1), ("batteries", D("80.000"), 1, 1, 1),
        ("rare_earth_magnets", D("50.000"), 1, 1, 0), ("all_products", D("130.000"), 2, 2, 1)}
    # NLD <- USA: 850760 (20, not SPOF, rank 2) and 850511 (50, SPOF, rank 1 by the tie)
    assert {(r["domain"], r["value_at_risk"], r["products_at_risk"], r["single_points_of_failure"],
             r["products_as_top_supplier"])
            for r in by.filter(pl.col("importer") == "NLD", pl.col("supplier") == "USA").to_dicts()} == {
        ("energy_transition", D("20.000"), 1, 0, 0), ("batteries", D("20.000"), 1, 0, 0),
        ("rare_earth_magnets", D("50.000"), 1, 1, 1), ("all_products", D("70.000"), 2, 1, 1)}
    # EU27 <- CHE: 850440 (energy_transition) only
    che = _row(by, importer="EU27", supplier="CHE", domain="all_products")
    assert (che["value_at_risk"], che["products_at_risk"], che["single_points_of_failure"],
            che["products_as_top_supplier"], che["year"], che["source"]) == (D("100.000"), 1, 1, 1, 2024, "comtrade")

def test_oracle_refuses_a_split_code():
    from oracle.oracle import _to_target_codes

    corr = pl.DataFrame({"from_edition": ["H5", "H5"], "from_code": ["111111", "111111"],
                         "to_edition": ["H6", "H6"], "to_code": ["111112", "111113"]})
    flows = pl.DataFrame({"hs_edition": ["H5"], "product_code": ["111111"]})
    with pytest.raises(ValueError, match="do not map 1:1"):
        _to_target_codes(flows, corr)
    one = pl.DataFrame({"from_edition": ["H5"], "from_code": ["111111"], "to_edition": ["H6"], "to_code": ["222222"]})
    assert _to_target_codes(flows, one)["target"].to_list() == ["222222"]


# --------------------------------------------------------------------------------------------- compare()

def test_compare_names_every_kind_of_difference():
    keys = ["k"]
    cols = ["d", "f", "b", "s"]
    base = pl.DataFrame({"k": [1, 2, 3], "d": [D("1.000"), D("2.000"), None], "f": [0.1, 0.2, 0.3],
                         "b": [True, False, None], "s": ["a", "b", "c"]},
                        schema={"k": pl.Int64, "d": pl.Decimal(38, 3), "f": pl.Float64, "b": pl.Boolean, "s": pl.String})
    assert compare(base, base, keys, "t", columns=cols).ok
    near = base.with_columns(f=pl.col("f") + 1e-12)
    assert compare(base, near, keys, "t", columns=cols).ok
    other = pl.DataFrame({"k": [1, 2, 4], "d": [D("1.001"), D("2.000"), None], "f": [0.1, 0.2000001, 0.3],
                          "b": [True, None, None], "s": ["a", "b", "x"]},
                         schema=base.schema)
    res = compare(base, other.drop("s"), keys, "t", columns=cols)
    assert not res.ok
    assert res.missing_rows == 1 and res.extra_rows == 1
    assert res.column_diffs == {"d": 1, "f": 1, "b": 1}
    assert "contract column(s) missing from the SQL output: ['s']" in res.report
    assert "k=1: oracle=Decimal('1.000') sql=Decimal('1.001')" in res.report


# --------------------------------------------------------------------------------------------- full runs

def _oracle_and_sql(runner: Runner) -> tuple[dict, dict]:
    with runner.warehouse() as con:
        oracle = compute_all(con)
        sql = {t: con.sql(f"SELECT * FROM monitor.{t}").pl() for t in TABLES}
    return oracle, sql


@pytest.fixture(scope="module")
def default_tables(default_world):
    """The embedded default as `geomon run` builds it (conftest.default_world, shared by the session)."""
    return _oracle_and_sql(default_world)


@pytest.fixture(scope="module")
def adversarial_world(adversarial_publication):
    """The adversarial world published once per session (conftest.adversarial_publication, read also by
    test_beyond_screens)."""
    return _oracle_and_sql(adversarial_publication)


def _check(world, table: str) -> None:
    oracle, sql = world
    assert set(CONTRACT_COLUMNS[table]) <= set(oracle[table].columns)
    res = compare(oracle[table], sql[table], KEYS[table], table)
    assert res.ok, "\n" + res.report


@pytest.mark.oracle
@pytest.mark.parametrize("table", TABLES)
def test_default_world_matches_oracle(default_tables, table):
    _check(default_tables, table)


@pytest.mark.pipeline
@pytest.mark.oracle
@pytest.mark.parametrize("table", TABLES)
def test_adversarial_world_matches_oracle(adversarial_world, table):
    _check(adversarial_world, table)


@pytest.mark.pipeline
@pytest.mark.oracle
def test_oracle_holds_the_planted_values(adversarial_world):
    """The oracle itself against the values tests/adversarial_world.py plants (written from the contract too)."""
    from adversarial_world import PLANTED

    oracle, _ = adversarial_world
    wrong, skipped = [], set()
    for edge, spec in PLANTED.items():
        for exp in spec["expect"]:
            table = exp["table"]
            df = oracle[table]
            source, who, year, code = exp["key"]
            cond = [pl.col("source") == source, pl.col(KEYS[table][1]) == who, pl.col("year") == year,
                    pl.col("product_code") == code]
            if table == "import_concentration":
                cond += [pl.col("product_level") == exp.get("level", "HS6"),
                         pl.col("partner_scope") == exp.get("scope", "all")]
            if table == "look_through_shares":
                cond += [pl.col("ultimate_supplier") == exp["supplier"]]
            hit = df.filter(*cond)
            if exp.get("absent"):
                if hit.height:
                    wrong.append(f"{edge}: {table} {exp['key']} should have no row")
                continue
            if hit.height != 1:
                wrong.append(f"{edge}: {table} {exp['key']} {exp.get('level', '')} {exp.get('scope', '')}: "
                             f"{hit.height} rows")
                continue
            row = hit.to_dicts()[0]
            for col, want in exp["values"].items():
                if col not in row:
                    skipped.add(f"{table}.{col}")
                    continue
                got = row[col]
                if want is None or got is None:
                    ok = want is None and got is None
                elif isinstance(want, float) or isinstance(got, float):
                    ok = abs(float(got) - float(want)) <= 1e-9
                elif isinstance(got, Decimal):
                    ok = got == Decimal(str(want))
                else:
                    ok = got == want
                if not ok:
                    wrong.append(f"{edge}: {table} {exp['key']} {col}: oracle {got!r}, planted {want!r}")
    # columns the contract does not ask of the oracle (e.g. nl_world_export_share) are not checked here
    assert not wrong, "\n".join(wrong) + f"\n(not checked: {sorted(skipped)})"
