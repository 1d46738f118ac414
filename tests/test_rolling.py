"""monitor.ec_screen_rolling (methodology section 8, rolling 12 months) and its incremental build.

- hand-computed windows on the in-memory SQL harness: a window across a year boundary, a window short of
  months, the bloc, a window across an HS revision, Comext's own EU27 rows;
- the lookback of '-- partition: year, lookback 1' (pipeline/incremental.py) on a toy model, and on the
  pipeline: one new month rebuilds the windows of its year only and publishes what a full build publishes;
- the independent polars oracle (tests/oracle/rolling.py) row by row on a monthly world full of edges, the
  adversarial world and the embedded default;
- the report's rolling section.
"""

from __future__ import annotations

import shutil
from decimal import Decimal as D

import duckdb
import polars as pl
import pytest

from conftest import Runner, failure_messages, materializations
from oracle.compare import compare
from oracle.rolling import KEYS, ec_screen_rolling
from pipeline import demo_world
from pipeline.incremental import Incremental, narrowed_sql
from pipeline.sql_models import ModelError, load_models
from sql_harness import Harness

TABLE = "monitor.ec_screen_rolling"
IMP, EXP = 1, 2


def months(first: str, last: str) -> list[str]:
    """'YYYY-MM' from first to last, inclusive."""
    (y, m), (y2, m2) = (map(int, first.split("-")), map(int, last.split("-")))
    out = []
    while (y, m) <= (y2, m2):
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@pytest.fixture(scope="module")
def harness():
    return Harness()


def window(h: Harness, reporter: str, product: str, end: str) -> dict:
    found = h.rows(f"SELECT * FROM {TABLE} WHERE reporter = ? AND product_code = ? AND period_end = ?",
                   [reporter, product, end])
    assert len(found) == 1, found
    return found[0]


# ------------------------------------------------------------------------------------------ by hand

def test_a_window_across_a_year_boundary(harness):
    h = harness.reset()
    rows = [("NL", "DE", "97030000", IMP, m, 1) for m in months("2023-06", "2024-07")]  # NL reports every month
    rows += [
        ("NL", "CN", "85051100", IMP, "2023-06", 1000),   # the month before the window
        ("NL", "CN", "85051100", IMP, "2023-07", 60), ("NL", "US", "85051100", IMP, "2023-07", 20),
        ("NL", "CN", "85051100", IMP, "2023-12", 60),
        ("NL", "US", "85051100", IMP, "2024-01", 40), ("NL", "DE", "85051100", IMP, "2024-01", 30),
        ("NL", "NL", "85051100", IMP, "2024-01", 25),     # re-imports: neither M_extra nor M_intra
        ("NL", "QV", "85051100", IMP, "2024-01", 5),      # intra-EU not specified: M_intra
        ("NL", "QS", "85051100", IMP, "2024-01", 7),      # extra-EU not specified: unallocated, in neither
        ("NL", "WORLD", "85051100", IMP, "2024-01", 200),
        ("NL", "CN", "85051100", IMP, "2024-06", 30),
        ("NL", "US", "85051100", EXP, "2024-06", 50), ("NL", "FR", "85051100", EXP, "2024-06", 80),
        ("NL", "NL", "85051100", EXP, "2024-06", 9),
        ("NL", "CN", "85051100", IMP, "2024-07", 500),    # the month after
        ("NL", "CN", "85051100", IMP, "2024", 999),       # an annual row: no place in a window
    ]
    h.add_sdmx(rows)
    h.build(TABLE)
    w = window(h, "NLD", "850511", "2024-06")
    # 2023-07..2024-06: CN 60 + 60 + 30 = 150, US 20 + 40 = 60; DE 30 + QV 5 intra; exports to the US 50
    assert (w["period_start"], w["year"], w["months_in_window"], w["window_complete"]) == ("2023-07", 2024, 12, True)
    assert (w["m_extra"], w["m_intra"], w["x_extra"]) == (D("210.000"), D("35.000"), D("50.000"))
    assert w["hhi_extra"] == pytest.approx((150 ** 2 + 60 ** 2) / 210 ** 2, abs=1e-12)
    assert (w["n_suppliers_extra"], w["top_supplier"]) == (2, "CHN")
    assert w["top_supplier_share"] == pytest.approx(150 / 210) and w["top_supplier_value"] == D("150.000")
    assert w["extra_eu_import_share"] == pytest.approx(210 / 245) and w["import_export_ratio"] == pytest.approx(4.2)
    assert w["c1_concentration"] and w["c2_importance"] and w["c3_substitutability"] and w["dependent"] is True
    assert (w["c1_threshold"], w["c2_threshold"], w["c3_threshold"]) == (0.4, 0.5, 1.0)
    assert w["currency"] == "EUR" and w["caveat"].startswith("quasi-transit") and w["bloc_complete"] is None
    # one month on: 2023-07 leaves, 2024-07 comes in
    later = window(h, "NLD", "850511", "2024-07")
    assert (later["m_extra"], later["n_suppliers_extra"]) == (D("630.000"), 2)  # CN 590, US 40
    # the calendar year 2023: NL has data from June only, 7 months; C1-C3 hold (no exports: C3 passes) but a
    # window short of months is never flagged
    short = window(h, "NLD", "850511", "2023-12")
    assert (short["months_in_window"], short["window_complete"], short["m_extra"]) == (7, False, D("1140.000"))
    assert short["c1_concentration"] and short["c2_importance"] and short["c3_substitutability"]
    assert short["import_export_ratio"] is None and short["dependent"] is False
    # no window ends where NL has no data, and a month without this product still ends a window
    ends = [r["period_end"] for r in h.rows(f"SELECT period_end FROM {TABLE} WHERE reporter = 'NLD' "
                                            "AND product_code = '850511' ORDER BY 1")]
    assert ends == months("2023-06", "2024-07")
    # the bloc is NL alone here: the same sums, one member, never flagged
    eu = window(h, "EU27", "850511", "2024-06")
    assert (eu["m_extra"], eu["m_intra"], eu["x_extra"]) == (D("210.000"), D("35.000"), D("50.000"))
    assert (eu["bloc_members"], eu["bloc_months_min"], eu["months_in_window"], eu["bloc_complete"]) == (1, 12, 12, False)
    assert eu["dependent"] is False and eu["caveat"] is None
    # the works of art come only from a member state: a row, not screened
    art = window(h, "NLD", "970300", "2024-06")
    assert art["screened"] is False and art["c3_substitutability"] is None and art["hhi_extra"] is None


def test_a_window_across_an_hs_revision_adds_like_to_like(harness):
    h = harness.reset()
    # HS 2017 293131 is HS 2022 293141 (a 1:1 renumbering): CN8 29313100 in 2021 (CN2021, HS 2017), 29314100 in 2022
    h.add_sdmx([("NL", "CN", "29313100", IMP, "2021-09", 100), ("NL", "US", "29314100", IMP, "2022-03", 100)])
    h.build(TABLE)
    w = window(h, "NLD", "293141", "2022-03")
    assert (w["m_extra"], w["n_suppliers_extra"]) == (D("200.000"), 2)
    assert w["hhi_extra"] == pytest.approx(0.5) and w["converted_split"] is False
    assert h.rows(f"SELECT count(*) AS n FROM {TABLE} WHERE product_code = '293131'") == [{"n": 0}]


def test_the_bloc_takes_comexts_own_eu27_rows_for_a_month_and_the_members_otherwise(harness):
    h = harness.reset()
    h.add_sdmx([
        ("EU27_2020", "CN", "85076000", IMP, "2024-03", 100),
        ("DE", "CN", "85076000", IMP, "2024-03", 40), ("DE", "US", "85076000", IMP, "2024-03", 40),  # not both
        ("DE", "US", "85076000", IMP, "2024-04", 10),
        ("FR", "DE", "85076000", IMP, "2024-04", 70),
    ])
    h.build(TABLE)
    eu = window(h, "EU27", "850760", "2024-04")
    # March from the EU27_2020 rows (CN 100), April from the members (US 10; FR <- DE is intra-EU)
    assert (eu["m_extra"], eu["m_intra"]) == (D("110.000"), D("70.000"))
    assert eu["hhi_extra"] == pytest.approx((100 ** 2 + 10 ** 2) / 110 ** 2)
    # the EU27_2020 reporter's months decide the bloc's: 27 members, one month
    assert (eu["bloc_members"], eu["months_in_window"], eu["bloc_complete"]) == (27, 1, False)
    de = window(h, "DEU", "850760", "2024-04")
    assert de["m_extra"] == D("90.000") and de["months_in_window"] == 2


# ------------------------------------------------------------------------------------------ the lookback

def _write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# the columns a December window shares with its calendar year's ec_screen row (issue 26)
SAME_AS_ANNUAL = ["m_extra", "m_intra", "x_extra", "extra_eu_import_share", "import_export_ratio", "hhi_extra",
                  "n_suppliers_extra", "top_supplier", "top_supplier_share", "top_supplier_value", "c1_concentration",
                  "c2_importance", "c3_substitutability", "screened", "dependent", "bloc_members",
                  "bloc_months_min", "bloc_complete", "caveat", "currency", "synthetic"]


def _december_against_annual(con, where: str = "TRUE") -> list[tuple]:
    """Every December window beside its annual ec_screen row: (key, column, window, annual) where they differ,
    months_in_window against months_covered and window_complete against year_complete included."""
    cols = ", ".join(f"w.{c} AS w_{c}, a.{c} AS a_{c}" for c in SAME_AS_ANNUAL)
    rows = con.sql(f"""
        SELECT w.reporter, w.year, w.product_code, a.reporter IS NOT NULL AS has_annual,
               w.months_in_window, a.months_covered, w.window_complete, a.year_complete, {cols}
        FROM monitor.ec_screen_rolling AS w
        LEFT JOIN monitor.ec_screen AS a
          ON a.source = w.source AND a.reporter = w.reporter AND a.year = w.year AND a.product_code = w.product_code
        WHERE right(w.period_end, 2) = '12' AND ({where})""").pl().to_dicts()
    bad = []
    for r in rows:
        key = (r["reporter"], r["year"], r["product_code"])
        if not r["has_annual"]:
            bad.append((key, "annual row", None, None))
            continue
        pairs = [("months", r["months_in_window"], r["months_covered"]),
                 ("complete", r["window_complete"], r["year_complete"])]
        pairs += [(c, r[f"w_{c}"], r[f"a_{c}"]) for c in SAME_AS_ANNUAL]
        for c, w, a in pairs:
            same = (w is None and a is None) or (
                w is not None and a is not None and (abs(w - a) <= 1e-12 if isinstance(w, float) else w == a))
            if not same:
                bad.append((key, c, w, a))
    return rows, bad


def test_every_december_window_is_its_calendar_year(harness):
    """Issue 26: the December window and the annual row agree, an 11-month year included (neither dependent)."""
    h = harness.reset()
    rows = []
    # LUX reports February to December 2025 (11 months): 392010 from CN only, C1-C3 hold
    rows += [("LU", "CN", "39201010", IMP, m, 10) for m in months("2025-02", "2025-12")]
    # MLT all twelve months: CN and US, exports to the US
    rows += [("MT", "CN", "39201010", IMP, m, 30) for m in months("2025-01", "2025-12")]
    rows += [("MT", "US", "39201010", IMP, "2025-03", 40), ("MT", "US", "39201010", EXP, "2025-07", 25),
             ("MT", "DE", "39201010", IMP, "2025-05", 15)]
    # CYP January to November: no December window, and its annual row is never dependent either
    rows += [("CY", "CN", "39201010", IMP, m, 10) for m in months("2025-01", "2025-11")]
    h.add_sdmx(rows)
    h.build(TABLE)
    h.build("monitor.ec_screen")
    found, bad = _december_against_annual(h.con)
    assert not bad, bad
    got = {(r["reporter"], r["product_code"]): (r["months_in_window"], r["window_complete"], r["w_dependent"])
           for r in found}
    # LUX: 11 months, C1-C3 hold, not dependent either way; MLT: complete and dependent (CN 360 of 400)
    assert got[("LUX", "392010")] == (11, False, False) and got[("MLT", "392010")] == (12, True, True)
    # the bloc (3 members, the fewest months 11) is in it too; CYP has no December window
    assert ("EU27", "392010") in got and ("CYP", "392010") not in got
    cyp = h.rows("SELECT * FROM monitor.ec_screen WHERE reporter = 'CYP'")[0]
    assert cyp["c1_concentration"] and cyp["c3_substitutability"] and cyp["dependent"] is False
    assert (cyp["months_covered"], cyp["year_complete"]) == (11, False)


def test_partition_directive_forms(tmp_path):
    _write(tmp_path, "monitor/m.sql", "-- m\n-- partition: year, lookback 2\nSELECT 1 AS year")
    (model,) = load_models(tmp_path, set(), variables=set())
    assert (model.partition, model.lookback) == ("year", 2)
    for bad in ("-- partition: year, lookback", "-- partition: year, lookback 0", "-- partition: month"):
        _write(tmp_path, "monitor/m.sql", f"-- m\n{bad}\nSELECT 1 AS year")
        with pytest.raises(ModelError, match=r"m\.sql:2: only '-- partition: year' or '-- partition: year, lookback N'"):
            load_models(tmp_path, set(), variables=set())


# a toy model over a year-partitioned table: the running sum of the last two years' values
TOY = """-- two-year sums
-- partition: year, lookback 1
SELECT year, sum(v) OVER (ORDER BY year RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS two_years
FROM (SELECT year, sum(value) AS v FROM staging.src GROUP BY year)
"""


def _toy(tmp_path):
    _write(tmp_path, "monitor/toy.sql", TOY)
    (model,) = load_models(tmp_path, {"staging.src"}, variables=set())
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA monitor")
    con.execute("CREATE TABLE staging.src AS SELECT * FROM (VALUES (2022, 1), (2023, 10), (2024, 100)) AS t(year, value)")
    builds = Incremental(con, {"staging.src", model.table}, {})

    def upstream(year, fingerprint):
        """What the upstream build of one year would record."""
        con.execute("DELETE FROM meta.model_builds WHERE table_name = 'staging.src' AND year = ?", [year])
        con.execute("INSERT INTO meta.model_builds VALUES ('staging.src', ?, 'v', ?, ?, now()::TIMESTAMP)",
                    [year, fingerprint, fingerprint])

    for y in (2022, 2023, 2024):
        upstream(y, f"fp{y}")
    return model, con, builds, upstream


def test_a_years_build_reads_and_fingerprints_the_year_before(tmp_path):
    model, con, builds, upstream = _toy(tmp_path)
    assert "year BETWEEN 2023 AND 2024" in narrowed_sql(model, {"staging.src"}, 2024)
    assert narrowed_sql(model, {"staging.src"}, 2024).endswith("WHERE year = 2024")

    def build():
        outcome = builds.build(model)
        builds.record(model, outcome)
        return outcome.summary(), con.execute("SELECT year, two_years FROM monitor.toy ORDER BY 1").fetchall()

    assert build() == ("every year rebuilt: [2022, 2023, 2024]", [(2022, 1), (2023, 11), (2024, 110)])
    assert build()[0] == "unchanged inputs: nothing rebuilt"
    # new data in 2024 rebuild 2024 only; a revision of 2023 rebuilds 2023 and 2024, which reads it
    con.execute("UPDATE staging.src SET value = 200 WHERE year = 2024")
    upstream(2024, "fp2024b")
    assert build() == ("changed years rebuilt: [2024]", [(2022, 1), (2023, 11), (2024, 210)])
    con.execute("UPDATE staging.src SET value = 20 WHERE year = 2023")
    upstream(2023, "fp2023b")
    assert build() == ("changed years rebuilt: [2023, 2024]", [(2022, 1), (2023, 21), (2024, 220)])
    # a year whose input is gone is dropped, and the year after it, which read it, rebuilt
    con.execute("DELETE FROM staging.src WHERE year = 2022")
    con.execute("DELETE FROM meta.model_builds WHERE table_name = 'staging.src' AND year = 2022")
    assert build() == ("changed years rebuilt: [2023]; years dropped: [2022]", [(2023, 20), (2024, 220)])


# ------------------------------------------------------------------------------------------ the oracle

MEMBERS = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
           "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]


def monthly_edges() -> list[tuple]:
    """A monthly Comext world of edges for the rolling screen (reporter, partner, CN8, flow, period, value)."""
    span = months("2023-01", "2024-12")
    # every member reports something every month (a complete bloc), but GR misses 2023-05 and MT starts in 2023-03
    rows = [(r, "FR" if r == "DE" else "DE", "97030000", IMP, m, 1) for r in MEMBERS for m in span
            if not (r == "GR" and m == "2023-05") and not (r == "MT" and m < "2023-03")]
    for i, m in enumerate(span):
        # NL 850511: a supplier mix that moves month by month, and every kind of partner
        rows += [("NL", "CN", "85051100", IMP, m, 100 + 40 * (i % 5)), ("NL", "US", "85051100", IMP, m, 30 + 7 * i),
                 ("NL", "NL", "85051100", IMP, m, 11), ("NL", "DE", "85051100", IMP, m, 20 + i),
                 ("NL", "WORLD", "85051100", IMP, m, 900), ("NL", "EU27_2020_EXTRA", "85051100", IMP, m, 500),
                 ("NL", "US", "85051100", EXP, m, 60), ("NL", "FR", "85051100", EXP, m, 40),
                 ("NL", "NL", "85051100", EXP, m, 5), ("NL", "QS", "85051100", EXP, m, 3)]
        rows += [("NL", code, "85051100", IMP, m, 1 + j) for j, code in enumerate(
            ["QR", "QV", "QY", "QS", "QW", "QZ", "QU", "QX", "QP", "QQ"]) if (i + j) % 3 == 0]
        # DE 850511: the same product from another member, exporting more than it imports in 2024
        rows += [("DE", "CN", "85051100", IMP, m, 300), ("DE", "JP", "85051100", IMP, m, 50 if i < 12 else 400),
                 ("DE", "US", "85051100", EXP, m, 100 if i < 12 else 900)]
        # IE 100590: GB's two parts are one supplier; IL and IN tie in some windows
        rows += [("IE", "XI", "10059000", IMP, m, 30), ("IE", "XU", "10059000", IMP, m, 20),
                 ("IE", "IL" if i % 2 else "IN", "10059000", IMP, m, 120)]
        # IT: a confidential product code reaches no HS6 product
        rows += [("IT", "CN", "39XXXXXX", IMP, m, 70), ("IT", "CN", "39011000", IMP, m, 10 * (1 + i % 4))]
    rows += [
        # EU27_2020's own rows for 854231 in three months, beside DE's rows of those months and others: their
        # months are the bloc's in every window that holds them
        *[("EU27_2020", "TW", "85423100", IMP, m, 500) for m in ("2023-02", "2023-03", "2023-04")],
        *[("DE", "KR", "85423100", IMP, m, 80) for m in months("2023-01", "2023-06")],
        # a product imported only as a World total, and one only exported (no row)
        *[("SK", "WORLD", "28041000", IMP, m, 500) for m in ("2023-04", "2024-04")],
        ("SK", "US", "28041000", EXP, "2024-04", 60), ("PT", "US", "29303000", EXP, "2024-02", 10),
        # annual rows have no place in a window, whatever else the key has
        ("FR", "CN", "85076000", IMP, "2024", 5000), ("FR", "US", "85076000", IMP, "2024-05", 50),
        # a product that appears in a gap of months and one quiet month long before
        ("PL", "CN", "81129200", IMP, "2023-02", 10), ("PL", "CN", "81129200", IMP, "2024-09", 10),
        ("PL", "VN", "81129200", IMP, "2024-10", 30), ("PL", "VN", "81129200", EXP, "2024-10", 5),
    ]
    # ES across HS 2017 -> HS 2022 (293131 became 293141), months of its own for the windows to end in
    rows += [("ES", "CN", "29313100", IMP, m, 100) for m in months("2021-10", "2021-12")]
    rows += [("ES", "US", "29314100", IMP, m, 40) for m in months("2022-01", "2022-03")]
    return rows


def _compare(con) -> tuple[int, int]:
    from assets.models import run_checks
    from pipeline.incremental import BuildOutcome
    from sql_harness import project_models

    model = next(m for m in project_models() if m.table == TABLE)
    failed = [c.check_name for c in run_checks(con, model, BuildOutcome(True, None, [], True, [])) if not c.passed]
    assert failed == []
    sql = con.sql(f"SELECT * FROM {TABLE}").pl()
    res = compare(ec_screen_rolling(con), sql, KEYS, "ec_screen_rolling")
    assert res.ok, "\n" + res.report
    return sql.height, sql.filter(pl.col("dependent")).height


def test_monthly_edges_match_the_oracle(harness):
    h = harness.reset()
    h.add_sdmx(monthly_edges())
    h.build(TABLE)
    rows, dependent = _compare(h.con)
    assert rows > 900 and dependent > 0
    # the edges are there: the bloc is complete only on windows without GR's missing month or EU27_2020's
    # three months, and with MT's months
    bloc = {r["period_end"]: r for r in h.rows(f"SELECT DISTINCT period_end, bloc_members, months_in_window, "
                                               f"bloc_complete FROM {TABLE} WHERE reporter = 'EU27'")}
    assert {e for e, r in bloc.items() if r["bloc_complete"]} == set(months("2024-05", "2024-12"))
    # EU27_2020's own months where its rows are in the window, else the members' fewest (GR's 11)
    assert [(bloc[e]["bloc_members"], bloc[e]["months_in_window"]) for e in ("2023-02", "2023-12", "2024-04")] == \
        [(27, 1), (27, 3), (27, 11)]
    tie = window(h, "IRL", "100590", "2024-12")
    assert tie["top_supplier"] == "ISR" and tie["n_suppliers_extra"] == 3  # IND = ISR 720 (the higher code), GBR 600
    assert tie["top_supplier_value"] == D("720.000")


@pytest.mark.oracle
def test_adversarial_world_matches_the_oracle(adversarial_publication):
    # the real readers' rows of the adversarial world (the raw tables of its publication, shared by the
    # session: conftest.adversarial_publication), the rolling screen built on the harness
    h = Harness()
    h.copy_raw(adversarial_publication.paths.warehouse)
    h.build(TABLE)
    rows, _ = _compare(h.con)
    # its monthly reporters: GRC (2 months of 2023), ITA (2023) and AUT (2024), and the bloc of them
    assert {r["reporter"] for r in h.rows(f"SELECT DISTINCT reporter FROM {TABLE}")} == {"AUT", "GRC", "ITA", "EU27"}
    assert rows > 0


@pytest.mark.oracle
def test_default_world_matches_the_oracle(default_world):
    """The embedded default as `geomon run` builds it (year by year, conftest.default_world) against the oracle."""
    with default_world.warehouse() as con:
        rows, dependent = _compare(con)
    assert rows > 50_000 and dependent > 100


def test_default_world_december_windows_are_their_calendar_years(default_world):
    """Issue 26 on the embedded default: every December window of a member state's (or the bloc's) year built
    from monthly rows alone equals its annual ec_screen row."""
    with default_world.warehouse() as con:
        monthly_only = """(w.reporter, w.year) IN (
            SELECT CASE WHEN reporter = 'EU27_2020' THEN 'EU27' ELSE reporter END, year FROM staging.trade_flows
            WHERE source = 'comext' GROUP BY ALL HAVING bool_and(freq = 'M'))
            AND (w.reporter <> 'EU27' OR w.year NOT IN (
                SELECT year FROM staging.trade_flows WHERE source = 'comext' AND freq = 'A'))"""
        found, bad = _december_against_annual(con, monthly_only)
    assert len(found) > 1_000
    assert not bad, bad[:20]


# ------------------------------------------------------------------------------------------ one new month

SCALE = 0.003
NEW_MONTH = "202407"


def _by_year(con) -> dict[int, tuple]:
    """Per year: rows, content hash and the build record of the rolling table."""
    content = dict((y, (n, h)) for y, n, h in con.execute(
        f"SELECT year, count(*), sum(hash(t))::VARCHAR FROM {TABLE} AS t GROUP BY year").fetchall())
    built = dict((y, (fp, at)) for y, fp, at in con.execute(
        "SELECT year, input_fp, built_at FROM meta.model_builds WHERE table_name = ?", [TABLE]).fetchall())
    return {y: (content.get(y), built[y]) for y in built}


@pytest.fixture(scope="module")
def new_month(tmp_path_factory):
    """The demo world's 2023 and 2024 up to June published, then July 2024 added and published again."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("rolling_month")
    generated = root / "generated"
    demo_world.generate(generated, scale=SCALE, years=(2023, 2024), comtrade_format="bulk")
    runner = Runner(root / "data", mp)
    landing = runner.paths.root / "landing"
    later = {f"SYNTHETIC_full_v2_{2024}{m:02d}.csv" for m in range(7, 13)}
    for path in generated.glob("*/*"):
        if path.name not in later:
            (landing / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, landing / path.parent.name / path.name)
    first = runner.run()
    assert first.success, failure_messages(first)
    with runner.warehouse() as con:
        before = _by_year(con)
    shutil.copy2(generated / "comext" / f"SYNTHETIC_full_v2_{NEW_MONTH}.csv", landing / "comext")
    second = runner.run()
    assert second.success, failure_messages(second)
    yield runner, before, materializations(second)
    mp.undo()


@pytest.mark.pipeline
def test_a_new_month_rebuilds_the_windows_of_its_year_only(new_month):
    runner, before, builds = new_month
    assert builds["monitor/ec_screen_rolling"]["build"] == "changed years rebuilt: [2024]"
    with runner.warehouse() as con:
        after = _by_year(con)
        ends = [e for (e,) in con.execute(f"SELECT DISTINCT period_end FROM {TABLE} WHERE reporter = 'EU27' "
                                          "ORDER BY 1").fetchall()]
    # 2023's windows were neither rebuilt nor changed; 2024 gained the window ending in July
    assert after[2023] == before[2023]
    assert after[2024][1][0] != before[2024][1][0] and after[2024][0][0] > before[2024][0][0]
    assert ends == months("2023-01", "2024-07")
    # the publication wrote the rolling table's 2024 again and kept 2023 as it was
    assert builds["publish/publication"]["database_writes"][TABLE] == "years written: [2024], kept: 1"


@pytest.mark.pipeline
def test_the_incremental_table_is_the_full_builds(new_month):
    """The table built year by year over two runs is what the model's SQL gives on all the data at once, and the
    published copy is the same."""
    from pipeline.resources import Thresholds
    from pipeline.sql_macros import prepare_session
    from sql_harness import project_models

    runner, _, _ = new_month
    model = next(m for m in project_models() if m.table == TABLE)
    content = "SELECT count(*), sum(hash(t))::VARCHAR, count(*) FILTER (WHERE dependent) FROM {} AS t"
    with runner.warehouse() as con:
        prepare_session(con, Thresholds().sql_variables())
        full = con.execute(content.format(f"({model.sql})")).fetchall()
        incremental = con.execute(content.format(TABLE)).fetchall()
        columns = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE ({model.sql}))").fetchall()
        assert columns == con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {TABLE})").fetchall()
    with runner.published() as con:
        published = con.execute(content.format(TABLE)).fetchall()
    assert incremental == full == published and full[0][0] > 10_000 and full[0][2] > 0


# ------------------------------------------------------------------------------------------ the report

def _payload(html: str) -> dict:
    import json
    import re

    return json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1))


@pytest.mark.pipeline
def test_the_report_draws_the_rolling_hhi_beside_the_annual_points(new_month, tmp_path):
    from pipeline.report import write_report

    runner, _, _ = new_month
    html = write_report(runner.paths.published_db, tmp_path / "index.html").path.read_text(encoding="utf-8")
    payload = _payload(html)
    rolling = payload["rolling"]
    with runner.published() as con:
        offered = {f"{r}|{p}" for r, p in con.execute(
            f"SELECT reporter, product_code FROM {TABLE} WHERE reporter IN ('EU27', 'NLD') AND dependent UNION "
            "SELECT reporter, product_code FROM monitor.ec_screen WHERE source = 'comext' "
            "AND reporter IN ('EU27', 'NLD') AND dependent").fetchall()}
        only_windows = con.execute(
            f"SELECT DISTINCT reporter, product_code FROM {TABLE} AS r WHERE reporter IN ('EU27', 'NLD') AND dependent "
            "AND NOT EXISTS (SELECT 1 FROM monitor.ec_screen AS e WHERE e.source = 'comext' AND e.dependent "
            "AND e.reporter = r.reporter AND e.product_code = r.product_code)").fetchall()
        reporter, product = rolling["initial"].split("|")
        windows = con.execute(f"SELECT period_end, hhi_extra, dependent FROM {TABLE} WHERE reporter = ? "
                              "AND product_code = ? AND hhi_extra IS NOT NULL ORDER BY 1", [reporter, product]).fetchall()
        years = con.execute("SELECT year, hhi_extra FROM monitor.ec_screen WHERE source = 'comext' AND reporter = ? "
                            "AND product_code = ? AND hhi_extra IS NOT NULL ORDER BY 1", [reporter, product]).fetchall()
    assert set(rolling["products"]) == offered and len(offered) > 3
    section = html[html.index('<section id="rolling">'):html.index('<section id="depends-on">')]
    assert section.count("<option") == len(offered) and f'value="{rolling["initial"]}" selected' in section
    for r, p in only_windows:
        assert f"<code>{p}</code>" in section
    # the first product drawn: the line is its windows' HHI, the diamonds its calendar years' at their December
    figure = payload["figures"]["rolling-comext"]
    assert "Eurostat Comext (EUR)" in figure["layout"]["title"]["text"]
    threshold, line, annual = figure["data"]
    assert line["x"] == [e for e, _, _ in windows] and line["y"] == pytest.approx([h for _, h, _ in windows], abs=1e-5)
    assert line["marker"]["color"].count("#b3261e") == sum(1 for *_, d in windows if d)
    assert annual["x"] == [f"{y}-12" for y, _ in years] and annual["y"] == pytest.approx([h for _, h in years], abs=1e-5)
    assert threshold["y"] == [0.4, 0.4]
    # where the year is all months, its December window is the calendar year: the diamond sits on the line
    december = {e: h for e, h, _ in windows if e.endswith("-12")}
    assert december and all(december[f"{y}-12"] == pytest.approx(h, abs=1e-12) for y, h in years if f"{y}-12" in december)


@pytest.mark.pipeline
@pytest.mark.browser
def test_the_browser_draws_the_rolling_chart_and_redraws_it_for_another_product(new_month, tmp_path):
    from test_report import BROWSER_FLAGS, CHROMIUM, NO_CHROMIUM, DevTools

    if not CHROMIUM:
        pytest.skip(NO_CHROMIUM)
    runner, _, _ = new_month
    page = runner.paths.root / "report" / "index.html"
    payload = _payload(page.read_text(encoding="utf-8"))
    url = page.resolve().as_uri()
    tools = DevTools(CHROMIUM, tmp_path / "profile", BROWSER_FLAGS, tmp_path / "chromium.log")
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        problems, requests = [], []

        def watch(event):
            if event.get("sessionId") != session:
                return
            method, params = event["method"], event.get("params", {})
            if method == "Network.requestWillBeSent":
                requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert", "warning"):
                problems.append(f"console.{params['type']}: {params['args']}")
            elif method == "Runtime.exceptionThrown":
                problems.append(f"exception: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                problems.append(f"log: {params['entry']['text']}")

        tools.on_event(watch)
        for domain in ("Runtime", "Log", "Network", "Page"):
            tools.send(f"{domain}.enable", {}, session)
        tools.send("Page.navigate", {"url": url}, session)

        def evaluate(expression):
            result = tools.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                     "awaitPromise": True}, session)
            assert "exceptionDetails" not in result, result["exceptionDetails"]
            return result["result"].get("value")

        def wait_for(expression, timeout=30.0):
            import time

            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if evaluate(expression):
                    return
                time.sleep(0.2)
            raise AssertionError(f"timed out waiting for {expression}")

        wait_for("['true', 'error'].includes(document.documentElement && document.documentElement.dataset.reportReady)")
        drawn = """JSON.stringify({ready: document.documentElement.dataset.reportReady,
            title: (document.querySelector('#rolling-comext .gtitle') || {}).textContent || '',
            points: document.querySelectorAll('#rolling-comext .scatterlayer .point').length})"""
        import json

        first = json.loads(evaluate(drawn))
        initial = payload["rolling"]["products"][payload["rolling"]["initial"]]
        points = lambda p: len(p["data"][1]["x"]) + len(p["data"][2]["x"])  # noqa: E731 - line and diamonds
        assert first["ready"] == "true" and first["title"] == initial["title"] and first["points"] == points(initial)
        other = sorted(k for k in payload["rolling"]["products"] if k != payload["rolling"]["initial"])[-1]
        evaluate(f"""(() => {{ const s = document.getElementById('rolling-select'); s.value = '{other}';
            s.dispatchEvent(new Event('change')); return true; }})()""")
        wanted = payload["rolling"]["products"][other]
        wait_for(f"(document.querySelector('#rolling-comext .gtitle') || {{}}).textContent === {json.dumps(wanted['title'])}")
        assert json.loads(evaluate(drawn))["points"] == points(wanted)
        assert [u for u in requests if u != url and not u.startswith(("data:", "blob:"))] == []
        assert problems == [], problems
    finally:
        tools.close()
