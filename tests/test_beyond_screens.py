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
def adversarial_tables(tmp_path_factory):
    from adversarial_world import write_adversarial_world
    from conftest import Runner, failure_messages

    root = tmp_path_factory.mktemp("beyond_adversarial") / "data"
    with pytest.MonkeyPatch.context() as mp:
        runner = Runner(root, mp)
        write_adversarial_world(runner.paths.root)
        result = runner.run(sources=("landing",))
        assert result.success, "pipeline run failed:\n" + failure_messages(result)
        return _oracle_and_sql(runner)


def _check(world, table: str) -> None:
    from oracle.beyond import CONTRACT_COLUMNS, KEYS
    from oracle.compare import compare

    oracle, sql = world
    assert oracle[table].height > 0, f"{table}: the oracle has no row, nothing is compared"
    res = compare(oracle[table], sql[table], KEYS[table], table, columns=CONTRACT_COLUMNS[table])
    assert res.ok, "\n" + res.report


BEYOND_TABLES = ["supplier_headroom", "supplier_headroom_by_year"]


@pytest.mark.parametrize("table", BEYOND_TABLES)
def test_default_world_matches_oracle(default_tables, table):
    _check(default_tables, table)


@pytest.mark.parametrize("table", BEYOND_TABLES)
def test_adversarial_world_matches_oracle(adversarial_tables, table):
    _check(adversarial_tables, table)


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
