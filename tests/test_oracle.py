"""The SQL models against an independent polars oracle (tests/oracle/), table by table and row by row.

- hand-made cases: the oracle on a tiny in-memory warehouse, against values computed by hand;
- compare(): it notices each kind of disagreement;
- the embedded default (``geomon run``'s default sources) and the adversarial world
  (tests/adversarial_world.py): the pipeline's monitor.* tables against the oracle's, computed
  from the same warehouse's staging.trade_flows and reference tables.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import REPO, Runner, failure_messages
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


def _hand_warehouse() -> duckdb.DuckDBPyConnection:
    rows = [
        (s, c, f, y, m, r, "country", p, KIND.get(p, "country"), fl, code, v)
        for s, c, f, y, m, r, p, fl, code, v in _rows()
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
    assert n["dependent"] is True and n["years_flagged"] == 1 and n["bloc_complete"] is None
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

def _build(root: Path, sources, prepare=None) -> tuple[dict, dict]:
    with pytest.MonkeyPatch.context() as mp:
        runner = Runner(root, mp)
        if prepare is not None:
            prepare(runner.paths.root)
        result = runner.run(sources=sources)
        assert result.success, "pipeline run failed:\n" + failure_messages(result)
        with runner.warehouse() as con:
            oracle = compute_all(con)
            sql = {t: con.sql(f"SELECT * FROM monitor.{t}").pl() for t in TABLES}
    return oracle, sql


@pytest.fixture(scope="module")
def default_world(tmp_path_factory):
    from pipeline.resources import MonitorSettings

    # the same default as `geomon run` (pipeline/cli.py SOURCES = MonitorSettings.sources): sample, demo,
    # landing, api; the temporary data folder has nothing in landing/ or raw/, so sample and demo it is
    sources = tuple(MonitorSettings().sources)
    return _build(tmp_path_factory.mktemp("oracle_default") / "data", sources)


@pytest.fixture(scope="module")
def adversarial_world(tmp_path_factory):
    try:
        from adversarial_world import write_adversarial_world
    except ImportError as exc:  # not skipped: the adversarial world is part of the check
        pytest.fail(f"tests/adversarial_world.py with write_adversarial_world(data_root) is missing: {exc}")
    return _build(tmp_path_factory.mktemp("oracle_adversarial") / "data", ("landing",), write_adversarial_world)


def _check(world, table: str) -> None:
    oracle, sql = world
    assert set(CONTRACT_COLUMNS[table]) <= set(oracle[table].columns)
    res = compare(oracle[table], sql[table], KEYS[table], table)
    assert res.ok, "\n" + res.report


@pytest.mark.parametrize("table", TABLES)
def test_default_world_matches_oracle(default_world, table):
    _check(default_world, table)


@pytest.mark.parametrize("table", TABLES)
def test_adversarial_world_matches_oracle(adversarial_world, table):
    _check(adversarial_world, table)


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
