"""One product axis across years (issue 10): HS revisions H0..H6 and the yearly CN.

Three layers, each on hand-made cases with hand-computed expectations:

* the committed correlation table (real facts about real codes, and a fresh
  build gives the same bytes);
* the SQL models on an in-memory DuckDB with a small hand-made correlation
  table, one code per relationship type, so every expected value can be worked
  out on paper;
* the real Dagster job on mixed-edition data: a Comtrade reporter in H5 one year
  and H6 the next, and Comext CN2021 / CN2022, with the real HS 2017 -> HS 2022
  correlations (854140 -> 854142 / 854143).
"""

import csv
import filecmp
import json
import os
import random
import subprocess
import sys
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import duckdb
import pytest

from conftest import COMTRADE_CODES, failure_messages, sdmx_rows
from sql_harness import insert_rows

REPO = Path(__file__).resolve().parents[1]
CORRELATIONS = REPO / "data" / "reference" / "hs_correlations.csv"
SHARED = Path(os.environ.get("GEOMON_SHARED_DATA", REPO.parent / "shared" / "data"))
HEADER = ["from_edition", "from_code", "to_edition", "to_code", "relationship", "relationship_table"]


# --- the committed reference table -------------------------------------------


@pytest.fixture(scope="module")
def correlations() -> list[dict[str, str]]:
    with CORRELATIONS.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _targets(rows, edition, code):
    return {r["to_code"]: r["relationship"] for r in rows if r["from_edition"] == edition and r["from_code"] == code}


def test_correlation_file_shape(correlations):
    raw = CORRELATIONS.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    assert raw.split(b"\n")[0].decode() == ",".join(HEADER)
    steps = {(r["from_edition"], r["to_edition"]) for r in correlations}
    assert steps == {("H0", "H1"), ("H1", "H2"), ("H2", "H3"), ("H3", "H4"), ("H4", "H5"), ("H5", "H6")}
    # six digits everywhere: the source had lost leading zeros, and SITC rows are left out
    assert all(len(r["from_code"]) == 6 and r["from_code"].isdigit() for r in correlations)
    assert all(len(r["to_code"]) == 6 and r["to_code"].isdigit() for r in correlations)
    assert {r["relationship"] for r in correlations} == {"1:1", "n:1", "1:n", "n:n"}
    keys = [(r["from_edition"], r["from_code"], r["to_code"]) for r in correlations]
    assert len(keys) == len(set(keys)) and keys == sorted(keys)


def test_correlation_facts_and_direction(correlations):
    # HS 2022 split HS 2017's 854140 (photosensitive devices, PV cells, LEDs): 854141 LEDs,
    # 854142 PV cells not in modules, 854143 PV cells in modules, 854149 other; the e-waste
    # heading 8549 also draws from it (and from 1,000 other codes), hence n:n for those pairs.
    pv = _targets(correlations, "H5", "854140")
    assert {c: pv[c] for c in ("854141", "854142", "854143", "854149")} == dict.fromkeys(
        ("854141", "854142", "854143", "854149"), "1:n")
    assert pv["854921"] == "n:n" and len(pv) == 10
    assert _targets(correlations, "H6", "854142") == {}  # HS 2022 is the last edition: never a from-code
    # HS 2022 merged men's wool overcoats 6201.11 and anoraks 6201.91 into 6201.20: n:1 from:to
    assert _targets(correlations, "H5", "620111") == {"620120": "n:1"}
    assert _targets(correlations, "H5", "620191") == {"620120": "n:1"}
    # HS 2022 gave the HFCs of 2903.39 their own subheadings 2903.41 - 2903.69: a plain split
    hfc = _targets(correlations, "H5", "290339")
    assert "290341" in hfc and "290369" in hfc and set(hfc.values()) == {"1:n"}
    # leading zeros restored: live purebred horses, unchanged since HS 2012
    assert _targets(correlations, "H4", "010121") == {"010121": "1:1"}
    assert _targets(correlations, "H5", "030289") == {"030289": "1:1"}


@pytest.mark.pipeline
@pytest.mark.skipif(not SHARED.is_dir(), reason="shared raw data not available")
def test_build_reproduces_the_committed_correlations(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "pipeline" / "reference_build.py"), "--shared", str(SHARED),
         "--out", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert filecmp.cmp(tmp_path / "hs_correlations.csv", CORRELATIONS, shallow=False)
    # the three dead ends of the source table are reported, not hidden
    assert "H5 300219 is a target of the previous revision but has no row in the next one" in result.stderr


def test_target_edition_setting():
    from pipeline.resources import Thresholds

    assert Thresholds().sql_variables()["hs_target_edition"] == 6
    assert Thresholds(hs_target_edition="h5").sql_variables()["hs_target_edition"] == 5
    with pytest.raises(ValueError, match="H0..H6"):
        Thresholds(hs_target_edition="H7").sql_variables()


# --- the SQL models on a hand-made correlation table --------------------------

# HS 2017 (H5) -> HS 2022 (H6), one code per relationship type, plus an H4 -> H5 step for chains.
HAND_MADE = [
    ("H5", "111111", "H6", "111111"),                                     # 1:1
    ("H5", "222221", "H6", "222220"), ("H5", "222222", "H6", "222220"),   # n:1 merge
    ("H5", "333330", "H6", "333331"), ("H5", "333330", "H6", "333332"),   # 1:n split
    ("H5", "444440", "H6", "444441"), ("H5", "444440", "H6", "444442"),   # n:n: 444440 splits,
    ("H5", "444450", "H6", "444442"),                                     # 444450 merges into 444442
    ("H5", "555550", "H6", "555551"), ("H5", "555550", "H6", "555552"), ("H5", "555550", "H6", "555553"),
    ("H5", "666660", "H6", "666661"), ("H5", "666660", "H6", "666662"),   # a split with a negligible part
    ("H5", "888880", "H6", "888881"), ("H5", "888880", "H6", "888882"),   # a split nobody reports after
    # H4 -> H5 -> H6: 777770 splits at the second step; 777780 splits and merges again
    ("H4", "777770", "H5", "777770"), ("H5", "777770", "H6", "777771"), ("H5", "777770", "H6", "777772"),
    ("H4", "777780", "H5", "777781"), ("H4", "777780", "H5", "777782"),
    ("H5", "777781", "H6", "777790"), ("H5", "777782", "H6", "777790"),
]


@lru_cache(maxsize=1)
def _reference_csvs() -> dict:
    """The committed reference tables but the correlations (Models brings its own), read as the reference
    assets type them, once per process as Arrow tables: read again for each of the module's dozen builds,
    they cost a sixth of its CPU."""
    from assets.reference import REFERENCE_TABLES
    from pipeline.io import sql_string
    from pipeline.paths import REFERENCE_DIR

    con, tables = duckdb.connect(), {}
    for name, (_, types) in REFERENCE_TABLES.items():
        if name != "hs_correlations":
            type_map = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
            tables[name] = con.sql(f"SELECT * FROM read_csv({sql_string(REFERENCE_DIR / f'{name}.csv')}, header=true, "
                                   f"all_varchar=true, types={type_map})").to_arrow_table()
    return tables


class Models:
    """Every SQL model, run in dependency order on an in-memory DuckDB, as the assets run them."""

    def __init__(self, correlations=HAND_MADE, **settings):
        from assets.reference import REFERENCE_TABLES
        from pipeline.paths import SQL_DIR
        from pipeline.readers.raw_store import META_COLUMNS
        from pipeline.resources import Thresholds
        from pipeline.sql_macros import prepare_session
        from pipeline.sql_models import load_models
        from sql_harness import RAW

        self.con = con = duckdb.connect()
        for schema in ("raw", "reference", "staging", "monitor"):
            con.execute(f"CREATE SCHEMA {schema}")
        for name, data in _reference_csvs().items():
            con.register("_reference", data)
            con.execute(f"CREATE TABLE reference.{name} AS SELECT * FROM _reference")
            con.unregister("_reference")
        con.execute("CREATE TABLE reference.hs_correlations (from_edition VARCHAR, from_code VARCHAR, "
                    "to_edition VARCHAR, to_code VARCHAR, relationship VARCHAR, relationship_table VARCHAR)")
        insert_rows(con, "INSERT INTO reference.hs_correlations VALUES", "(?, ?, ?, ?, NULL, NULL)",
                    [list(r) for r in correlations])
        raw = RAW  # every registered source's raw tables, as the SQL harness creates them
        for table, columns in raw.items():
            con.execute(f"CREATE TABLE {table} ("
                        + ", ".join(f'"{c}" {t}' for c, t in {**columns, **META_COLUMNS}.items()) + ")")
        prepare_session(con, Thresholds(**settings).sql_variables())
        self.models = load_models(SQL_DIR, set(raw) | {f"reference.{n}" for n in REFERENCE_TABLES})

    def comext(self, rows):
        """(reporter, partner, CN8, flow, year, value) annual observations."""
        insert_rows(
            self.con, "INSERT INTO raw.comext_sdmx (dataflow, freq, reporter, partner, product, flow, indicators, "
            "time_period, obs_value, _file, _line, release, synthetic) VALUES",
            "('ESTAT:DS-045409(1.0)', 'A', ?, ?, ?, ?, 'VALUE_IN_EUROS', ?, ?, 'hand.csv', 1, 'test', false)",
            [[r, p, cn8, flow, str(year), value] for r, p, cn8, flow, year, value in rows])
        return self

    def build(self):
        for model in self.models:
            self.con.execute(f"CREATE OR REPLACE TABLE {model.table} AS {model.sql}")
            for check in model.checks:
                if check.blocking:
                    bad = self.con.execute(f"SELECT count(*) FROM ({check.failing_rows_sql(model.table)})").fetchall()
                    assert bad == [(0,)], f"{model.table}: check {check.name} failed"
        return self

    def rows(self, sql, params=()):
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def parts(self, reporter="FRA", year=2021, flow="import"):
        """{(native HS6, partner, target): (value, relationship, converted_split)} of one reporter-year;
        the relationship as staging.hs_conversion gives it, 'same_edition' for codes in the target edition."""
        return {(r["product_code"], r["partner"], r["product_code_target"]):
                (r["value"], r["relationship"], r["converted_split"])
                for r in self.rows(TRACE + " AND a.reporter = ? AND a.year = ? AND a.flow = ?",
                                   [reporter, year, flow])}


# how an analyst traces a staged row to its conversion
TRACE = """
SELECT a.*, coalesce(c.relationship, CASE WHEN a.hs_edition = 'H' || getvariable('hs_target_edition')
                                          THEN 'same_edition' END) AS relationship
FROM staging.annual_flows AS a
LEFT JOIN staging.hs_conversion AS c
    ON c.hs_edition = a.hs_edition AND c.product_code = a.product_code AND c.product_code_target = a.product_code_target
WHERE a.partner_role <> 'leftover'
"""


D = Decimal

# FR's imports: 2021 is CN2021 (HS 2017 = H5), 2022 is CN2022 (HS 2022 = H6)
FR_2021 = [
    ("FR", "CN", "11111100", 1, 2021, 100),
    ("FR", "CN", "22222100", 1, 2021, 30), ("FR", "CN", "22222200", 1, 2021, 70),
    ("FR", "CN", "33333000", 1, 2021, 1000), ("FR", "US", "33333000", 1, 2021, 500),
    ("FR", "CN", "44444000", 1, 2021, 600), ("FR", "CN", "44445000", 1, 2021, 50),
]
FR_2022 = [
    ("FR", "CN", "11111100", 1, 2022, 110), ("FR", "CN", "22222000", 1, 2022, 120),
    ("FR", "CN", "33333100", 1, 2022, 300), ("FR", "CN", "33333200", 1, 2022, 100),
    ("FR", "CN", "44444100", 1, 2022, 200), ("FR", "CN", "44444200", 1, 2022, 400),
]


def test_each_relationship_type_by_hand():
    m = Models().comext(FR_2021 + FR_2022).build()
    parts = m.parts()
    assert parts == {
        # 1:1 and n:1 map whole
        ("111111", "CHN", "111111"): (D("100.000"), "1:1", False),
        ("222221", "CHN", "222220"): (D("30.000"), "n:1", False),
        ("222222", "CHN", "222220"): (D("70.000"), "n:1", False),
        # 1:n by FR's own 2022 values 300 : 100, the same weights for every partner
        ("333330", "CHN", "333331"): (D("750.000"), "1:n", True),
        ("333330", "CHN", "333332"): (D("250.000"), "1:n", True),
        ("333330", "USA", "333331"): (D("375.000"), "1:n", True),
        ("333330", "USA", "333332"): (D("125.000"), "1:n", True),
        # n:n: 444442 (400 in 2022) draws from two codes, so it counts 400 / 2 = 200 against
        # 444441's 200: an even split; 444450 only goes to 444442, whole. The relationship is the
        # pair's: 444441 comes from 444440 alone (1:n), 444442 from two codes (n:n)
        ("444440", "CHN", "444441"): (D("300.000"), "1:n", True),
        ("444440", "CHN", "444442"): (D("300.000"), "n:n", True),
        ("444450", "CHN", "444442"): (D("50.000"), "n:1", False),
    }
    # nothing lost, nothing invented
    assert sum(v for v, _, _ in parts.values()) == D(2350)
    # 2022 is already in the target edition
    assert {rel for _, rel, _ in m.parts(year=2022).values()} == {"same_edition"}
    weights = m.rows("SELECT * FROM staging.hs_split_weights WHERE product_code = '333330'")
    assert [(w["product_code_target"], w["weight"], w["split_basis"], w["basis_year"]) for w in
            sorted(weights, key=lambda w: w["product_code_target"])] == [
        ("333331", 0.75, "series", 2022), ("333332", 0.25, "series", 2022)]

    # the marts see one product through both years: 333331 from CN and US with 750 : 375 in 2021
    conc = {(r["year"], r["product_code"]): r for r in m.rows(
        "SELECT * FROM monitor.import_concentration WHERE reporter = 'FRA' AND product_level = 'HS6' "
        "AND partner_scope = 'all'")}
    assert (2021, "333330") not in conc and (2022, "333331") in conc
    split = conc[(2021, "333331")]
    assert split["allocated_value"] == D("1125.000") and split["hhi"] == pytest.approx(5 / 9, abs=1e-12)
    assert split["converted_split"] is True and split["value_share_from_split"] == 1.0
    merged = conc[(2021, "222220")]
    assert merged["allocated_value"] == D("100.000") and merged["converted_split"] is False
    assert merged["value_share_from_split"] == 0.0
    # 444442 in 2021: 300 split from 444440 and 50 whole from 444450
    assert conc[(2021, "444442")]["value_share_from_split"] == pytest.approx(300 / 350, abs=1e-12)
    assert conc[(2022, "333331")]["converted_split"] is False


def test_weight_options():
    plain = Models(hs_split_per_source=False).comext(FR_2021 + FR_2022).build().parts()
    # plain value shares: 444441 200 : 444442 400
    assert plain[("444440", "CHN", "444441")][0] == D("200.000")
    assert plain[("444440", "CHN", "444442")][0] == D("400.000")
    equal = Models(hs_split_by_value=False).comext(FR_2021 + FR_2022).build()
    assert equal.parts()[("333330", "CHN", "333331")][0] == D("500.000")
    assert {r["split_basis"] for r in equal.rows("SELECT split_basis FROM staging.hs_split_weights")} == {"equal"}


def test_fallbacks_and_negligible_parts():
    rows = FR_2021 + FR_2022 + [
        ("DE", "CN", "33333000", 1, 2021, 80),     # DE never reports 333331/2: FR's shares
        ("DE", "CN", "88888000", 1, 2021, 90),     # nobody reports 888881/2: equal parts
        ("FR", "CN", "66666000", 1, 2021, 400),    # 2022: 995 : 5, the small part is below 0.01
        ("FR", "CN", "66666100", 1, 2022, 995), ("FR", "CN", "66666200", 1, 2022, 5),
    ]
    m = Models().comext(rows).build()
    de = m.parts(reporter="DEU")
    assert de[("333330", "CHN", "333331")] == (D("60.000"), "1:n", True)
    assert de[("333330", "CHN", "333332")] == (D("20.000"), "1:n", True)
    assert de[("888880", "CHN", "888881")] == (D("45.000"), "1:n", True)
    basis = {(w["product_code"], w["product_code_target"]): (w["split_basis"], w["basis_year"]) for w in m.rows(
        "SELECT * FROM staging.hs_split_weights WHERE reporter = 'DEU'")}
    assert basis[("333330", "333331")] == ("source", 2022) and basis[("888880", "888882")] == ("equal", None)
    # the negligible part is not made: the whole value goes to 666661, exact, not flagged
    fr = m.parts()
    assert fr[("666660", "CHN", "666661")] == (D("400.000"), "1:n", False)
    assert ("666660", "CHN", "666662") not in fr
    # ... unless every part is wanted
    keep_all = Models(hs_split_min_weight=0).comext(rows).build().parts()
    assert keep_all[("666660", "CHN", "666661")] == (D("398.000"), "1:n", True)
    assert keep_all[("666660", "CHN", "666662")] == (D("2.000"), "1:n", True)


def test_parts_are_rounded_so_they_add_up_exactly():
    # three equal parts of 100: cut at 1/3 -> 33.333 and 2/3 -> 66.667, so 33.333 + 33.334 + 33.333
    m = Models(hs_split_by_value=False).comext([("FR", "CN", "55555000", 1, 2021, 100)]).build()
    parts = m.parts()
    assert [parts[("555550", "CHN", t)][0] for t in ("555551", "555552", "555553")] == [
        D("33.333"), D("33.334"), D("33.333")]

    # awkward value weights (7 : 11 : 13) on awkward values, over many rows: every row's parts add
    # up to the row exactly, and the result is the same on a second run
    rng = random.Random(10)
    partners = ["CN", "US", "JP", "KR", "IN", "BR", "TR", "VN", "CH", "NO", "CA", "AU", "MX", "ZA", "SG"]
    rows = [("FR", p, "55555000", 1, year, round(rng.uniform(0.001, 9e11), 3))
            for p in partners for year in (2017, 2018, 2019, 2020, 2021)]
    rows += [("FR", "CN", "55555100", 1, 2022, 7), ("FR", "CN", "55555200", 1, 2022, 11),
             ("FR", "CN", "55555300", 1, 2022, 13)]
    runs = []
    for _ in range(2):
        m = Models().comext(rows).build()
        runs.append(m.rows("SELECT year, partner, product_code_target, value FROM staging.annual_flows "
                           "WHERE product_code = '555550' AND reporter = 'FRA' AND partner_role <> 'leftover' ORDER BY ALL"))
    assert runs[0] == runs[1]
    iso3 = dict(zip(partners, ["CHN", "USA", "JPN", "KOR", "IND", "BRA", "TUR", "VNM", "CHE", "NOR", "CAN", "AUS",
                               "MEX", "ZAF", "SGP"]))
    totals = {}
    for r in runs[0]:
        totals[(r["year"], r["partner"])] = totals.get((r["year"], r["partner"]), D(0)) + r["value"]
    assert totals == {(year, iso3[p]): D(str(v)).quantize(D("0.001")) for _, p, _, _, year, v in rows[:-3]}
    # and each part is within a rounding step of value * weight
    weights = {r["product_code_target"]: r["weight"] for r in m.rows(
        "SELECT * FROM staging.hs_split_weights WHERE product_code = '555550'")}
    assert weights == pytest.approx({"555551": 7 / 31, "555552": 11 / 31, "555553": 13 / 31}, abs=1e-15)
    for r in runs[0]:
        whole = totals[(r["year"], r["partner"])]
        assert abs(float(r["value"]) - float(whole) * weights[r["product_code_target"]]) <= 0.0011 + 1e-9 * float(whole)


def test_chains_across_several_revisions():
    m = Models().comext([
        ("FR", "CN", "77777000", 1, 2016, 90),    # CN2016: HS 2012 (H4)
        ("FR", "CN", "77778000", 1, 2016, 40),
        ("FR", "CN", "77777100", 1, 2022, 20), ("FR", "CN", "77777200", 1, 2022, 10),
    ]).build()
    conv = {(r["hs_edition"], r["product_code"], r["product_code_target"]): r["relationship"]
            for r in m.rows("SELECT * FROM staging.hs_conversion")}
    assert conv[("H4", "777770", "777771")] == "1:n" and conv[("H4", "777770", "777772")] == "1:n"
    # split at one revision and merged again at the next: exact over the chain
    assert conv[("H4", "777780", "777790")] == "1:1"
    assert conv[("H5", "777781", "777790")] == "n:1"
    parts = m.parts(year=2016)
    assert parts[("777770", "CHN", "777771")] == (D("60.000"), "1:n", True)
    assert parts[("777770", "CHN", "777772")] == (D("30.000"), "1:n", True)
    assert parts[("777780", "CHN", "777790")] == (D("40.000"), "1:1", False)


def test_back_to_an_older_edition():
    m = Models(hs_target_edition="H5").comext(FR_2021 + FR_2022).build()
    parts = m.parts(year=2022)
    assert parts[("333331", "CHN", "333330")] == (D("300.000"), "n:1", False)
    assert parts[("111111", "CHN", "111111")] == (D("110.000"), "1:1", False)
    # 444442 goes back to 444440 (which 444441 also goes back to: n:n) and 444450 (from 444442
    # alone: 1:n); weights from the last H5 year, 2021: 600 / 2 against 50 / 1, 6/7 and 1/7 of 400
    assert parts[("444442", "CHN", "444440")] == (D("342.857"), "n:n", True)
    assert parts[("444442", "CHN", "444450")] == (D("57.143"), "1:n", True)
    assert {rel for _, rel, _ in m.parts(year=2021).values()} == {"same_edition"}


# --- the real job on mixed editions --------------------------------------------


def _comtrade_page(records) -> str:
    """A v1 API page of (reporter, flow, partner, hs6, year, value, classification) records."""
    data = [
        {"typeCode": "C", "freqCode": "A", "refPeriodId": year * 10000 + 101, "refYear": year, "refMonth": 52,
         "period": str(year), "reporterCode": COMTRADE_CODES[reporter], "flowCode": flow,
         "partnerCode": COMTRADE_CODES[partner], "partner2Code": 0, "classificationCode": classification,
         "cmdCode": hs6, "aggrLevel": 6, "isLeaf": True, "customsCode": "C00", "mosCode": "0", "motCode": 0,
         "primaryValue": float(value), "cifvalue": float(value) if flow == "M" else None,
         "fobvalue": float(value) if flow == "X" else None}
        for reporter, flow, partner, hs6, year, value, classification in records
    ]
    return json.dumps({"elapsedTime": "0.0 secs", "count": len(data), "data": data, "error": ""})


# The USA reports in HS 2017 (H5) for 2021 and in HS 2022 (H6) for 2022, and so does China.
COMTRADE = [
    ("USA", "M", "CHN", "854140", 2021, 800, "H5"), ("USA", "M", "KOR", "854140", 2021, 200, "H5"),
    ("USA", "M", "CHN", "854142", 2022, 450, "H6"), ("USA", "M", "KOR", "854142", 2022, 150, "H6"),
    ("USA", "M", "CHN", "854143", 2022, 200, "H6"), ("USA", "M", "KOR", "854143", 2022, 200, "H6"),
    ("CHN", "X", "WORLD", "854140", 2021, 1000, "H5"),
    ("CHN", "X", "WORLD", "854142", 2022, 700, "H6"), ("CHN", "X", "WORLD", "854143", 2022, 300, "H6"),
]
# France in Comext: CN2021 8541 40 90 (HS 2017), CN2022 8541 42 00 / 8541 43 00 (HS 2022)
COMEXT = [
    ("FR", "CN", "85414090", 1, "2021", 900), ("FR", "DE", "85414090", 1, "2021", 100),
    ("FR", "CN", "85414200", 1, "2022", 300),
    ("FR", "CN", "85414300", 1, "2022", 650), ("FR", "DE", "85414300", 1, "2022", 50),
]


def test_mixed_editions_give_continuous_series(sql_runner):
    runner = sql_runner  # the SQL's semantics: real readers, models on the in-memory harness
    runner.write("landing/comtrade/page.json", _comtrade_page(COMTRADE))
    runner.write("landing/comext/a.csv", sdmx_rows(COMEXT))
    result = runner.run(min_world_reporters=1)
    assert result.success, failure_messages(result)

    with runner.warehouse() as wh:
        # value is conserved: each reporter-year adds up to what it reported
        totals = dict(((s, r, y), v) for s, r, y, v in wh.execute(
            "SELECT source, reporter, year, sum(value) FROM staging.annual_flows WHERE flow = 'import' "
            "AND reporter IN ('USA', 'FRA') GROUP BY ALL").fetchall())
        assert totals == {("comtrade", "USA", 2021): 1000, ("comtrade", "USA", 2022): 1000,
                          ("comext", "FRA", 2021): 1000, ("comext", "FRA", 2022): 1000}
        # USA's 2021 PV imports cut by its own 2022 shares, 600 : 400; the other targets of
        # 854140 (LEDs 854141, 854149, e-waste 8549xx) had no 2022 imports and get no part
        usa = wh.execute("SELECT a.partner, a.product_code_target, a.value, c.relationship, a.converted_split "
                         "FROM staging.annual_flows AS a JOIN staging.hs_conversion AS c USING (hs_edition, "
                         "product_code, product_code_target) WHERE a.reporter = 'USA' AND a.year = 2021 AND a.partner_role <> 'leftover' "
                         "ORDER BY ALL").fetchall()
        assert usa == [("CHN", "854142", 480, "1:n", True), ("CHN", "854143", 320, "1:n", True),
                       ("KOR", "854142", 120, "1:n", True), ("KOR", "854143", 80, "1:n", True)]

    con = runner.published()
    conc = {(r[0], r[1], r[2]): r[3:] for r in con.execute(
        "SELECT reporter, year, product_code, hhi, converted_split, value_share_from_split "
        "FROM monitor.import_concentration WHERE product_level = 'HS6' AND reporter = 'USA'").fetchall()}
    assert set(conc) == {("USA", y, p) for y in (2021, 2022) for p in ("854142", "854143")}
    assert conc[("USA", 2021, "854142")] == (pytest.approx(0.8**2 + 0.2**2), True, 1.0)
    assert conc[("USA", 2022, "854142")] == (pytest.approx(0.75**2 + 0.25**2), False, 0.0)

    # the world screen compares 854142 with itself: flagged in both years, so persistent in 2022,
    # and split-dependent because 2021 rests on the split
    world = {r[0]: r[1:] for r in con.execute(
        "SELECT year, flagged, persistent, converted_split, split_dependent, hhi_world_exports "
        "FROM monitor.world_supply_screen WHERE importer = 'USA' AND product_code = '854142'").fetchall()}
    assert world == {2021: (True, False, True, True, 1.0), 2022: (True, True, False, True, 1.0)}

    # Comext: France keeps its PV dependencies across the revision; the EU27 bloc (France alone
    # here: 1 of 27 members) shows the same criteria but is never flagged (methodology section 5)
    trends = {(r[0], r[1]): r[2:] for r in con.execute(
        "SELECT reporter, product_code, dependency_status, converted_split, split_dependent FROM monitor.trends "
        "WHERE source = 'comext' AND year = 2022").fetchall()}
    assert trends[("FRA", "854142")] == ("continuing", True, True)
    assert trends[("FRA", "854143")] == ("continuing", True, True)
    assert trends[("EU27", "854142")] == ("none", True, False)
    assert not any(p == "854140" for _, p in trends)
    # 2021: 900 from CN and 100 from DE cut 300 : 700 by FR's 2022 imports
    eu = {(r[0], r[1]): r[2:] for r in con.execute(
        "SELECT year, product_code, m_extra, m_intra, c1_concentration AND c2_importance AND c3_substitutability, "
        "bloc_complete, converted_split, value_share_from_split FROM monitor.eu_dependencies "
        "WHERE source = 'comext'").fetchall()}
    assert eu[(2021, "854143")] == (630, 70, True, False, True, 1.0)
    assert eu[(2022, "854143")] == (650, 50, True, False, False, 0.0)
    # the supplier charts and the domain summary count flagged bloc products only: none here
    assert con.execute("SELECT count(*) FROM monitor.supplier_shares WHERE reporter = 'EU27'").fetchall() == [(0,)]
    summary = dict(con.execute(
        "SELECT year, eu_split_dependent_products FROM monitor.domain_summary "
        "WHERE source = 'comext' AND domain = 'energy_transition'").fetchall())
    assert summary == {2021: 0, 2022: 0}

    # the report's count of split-dependent results runs on the publication
    counts = {(r[0], r[1], r[2]): r[3] for r in con.execute(REPORT_QUERY).fetchall()}
    assert counts[("world_supply_screen", "comtrade", 2022)] == 2  # USA: 854142 and 854143
    assert counts[("ec_screen", "comext", 2021)] == 2  # FRA: 854142 and 854143 (the 1-member bloc is never flagged)
    assert ("ec_screen", "comext", 2022) not in counts
    assert counts[("trends", "comext", 2022)] == 2  # FRA: "continuing" on a 2021 that was split


# The query handed to the report: results that rest partly on split conversions, per screen,
# source and year, beside the number of positive results.
REPORT_QUERY = """
SELECT screen, source, year, count(*) FILTER (WHERE split_dependent) AS split_dependent_results,
       count(*) AS positive_results
FROM (
    SELECT 'ec_screen' AS screen, source, year, split_dependent FROM monitor.ec_screen WHERE dependent
    UNION ALL
    SELECT 'world_supply_screen', 'comtrade', year, split_dependent FROM monitor.world_supply_screen
    WHERE flagged OR persistent
    UNION ALL
    SELECT 'supplier_dependence', source, year, split_dependent FROM monitor.supplier_dependence WHERE depends
    UNION ALL
    SELECT 'trends', source, year, split_dependent FROM monitor.trends
    WHERE dependency_status IN ('new', 'dropped', 'continuing')
)
GROUP BY ALL
HAVING count(*) FILTER (WHERE split_dependent) > 0
ORDER BY ALL
"""


def test_codes_off_the_axis_are_kept_and_warned():
    # a code the correlations do not know, and a split with no part reaching the minimum weight
    # (three equal parts of 1/3 against a minimum of 0.4)
    m = Models(hs_split_by_value=False, hs_split_min_weight=0.4).comext(
        FR_2021 + [("FR", "CN", "12345600", 1, 2021, 70), ("FR", "CN", "55555000", 1, 2021, 90)]).build()
    assert m.parts()[("555550", "CHN", "555550")] == (D("90.000"), None, False)
    # two equal parts of 1/2 do reach it
    assert m.parts()[("333330", "CHN", "333331")] == (D("500.000"), "1:n", True)
    assert m.parts()[("123456", "CHN", "123456")] == (D("70.000"), None, False)
    warn = next(c for model in m.models if model.table == "staging.annual_flows" for c in model.checks
                if c.name == "on_target_axis")
    assert not warn.blocking
    flagged = m.rows(warn.failing_rows_sql("staging.annual_flows"))
    # France's rows and the bloc's (France is its only member here)
    assert sorted((r["reporter"], r["product_code"]) for r in flagged) == [
        ("EU27", "123456"), ("EU27", "555550"), ("FRA", "123456"), ("FRA", "555550")]
