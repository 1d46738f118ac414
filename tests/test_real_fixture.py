"""The real Comext SDMX extract (CN 39201081, 27 EU reporters, 2023-2025) against a hand computation.

The expected figures are computed here in plain Python from the CSV, independently
of the pipeline's SQL, following methodology sections 3-5.
"""

import csv
from collections import defaultdict

import pytest

from conftest import SAMPLE

FIXTURE = SAMPLE / "comext" / "DS-045409_M_EU27_CN39201081_2023-2025.csv"
EU = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
      "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}


def _hand_computed():
    """{(reporter, year): (hhi, allocated, unallocated)} for imports, and the same for the EU bloc."""
    values = defaultdict(float)  # (reporter, partner, year) -> EUR
    with FIXTURE.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["flow"] == "1" and row["indicators"] == "VALUE_IN_EUROS" and row["OBS_VALUE"]:
                values[(row["reporter"], row["partner"], int(row["TIME_PERIOD"][:4]))] += float(row["OBS_VALUE"])
    by_reporter = defaultdict(dict)
    for (reporter, partner, year), v in values.items():
        by_reporter[(reporter, year)][partner] = v
    expected = {}
    bloc = defaultdict(lambda: {"suppliers": defaultdict(float), "unallocated": 0.0})
    for (reporter, year), partners in by_reporter.items():
        world = partners.get("WORLD", 0.0)
        suppliers = {p: v for p, v in partners.items() if p not in ("WORLD", reporter) and v > 0}
        allocated = sum(suppliers.values())
        accounted = sum(v for p, v in partners.items() if p != "WORLD")
        hhi = sum((v / allocated) ** 2 for v in suppliers.values()) if allocated else None
        expected[(reporter, year)] = (hhi, allocated, max(world - accounted, 0.0))
        b = bloc[year]
        # methodology section 4: the leftover is floored per member state, then summed
        b["unallocated"] += max(world - accounted, 0.0)
        for p, v in suppliers.items():
            if p not in EU:
                b["suppliers"][p] += v
    for year, b in bloc.items():
        allocated = sum(b["suppliers"].values())
        hhi = sum((v / allocated) ** 2 for v in b["suppliers"].values())
        expected[("EU27", year)] = (hhi, allocated, b["unallocated"])
    return expected


def test_comext_fixture_hhi_matches_hand_computation(sample_publication):
    runner = sample_publication  # the job run on data/sample alone (conftest), shared read-only
    got = {
        (r, y): (h, a, u)
        for r, y, h, a, u in runner.published().execute(
            "SELECT c.reporter, c.year, c.hhi, c.allocated_value, c.unallocated_value "
            "FROM monitor.import_concentration AS c WHERE source = 'comext' AND product_level = 'HS6' "
            "AND product_code = '392010' AND partner_scope = CASE WHEN reporter = 'EU27' THEN 'extra_eu' ELSE 'all' END"
        ).fetchall()
    }
    expected = _hand_computed()
    iso2 = {"AUT": "AT", "BEL": "BE", "BGR": "BG", "CYP": "CY", "CZE": "CZ", "DEU": "DE", "DNK": "DK", "EST": "EE",
            "ESP": "ES", "FIN": "FI", "FRA": "FR", "GRC": "GR", "HRV": "HR", "HUN": "HU", "IRL": "IE", "ITA": "IT",
            "LTU": "LT", "LUX": "LU", "LVA": "LV", "MLT": "MT", "NLD": "NL", "POL": "PL", "PRT": "PT", "ROU": "RO",
            "SWE": "SE", "SVN": "SI", "SVK": "SK", "EU27": "EU27"}
    assert len(got) == len(expected) == 28 * 3
    for (reporter, year), (hhi, allocated, unallocated) in got.items():
        want = expected[(iso2[reporter], year)]
        assert hhi == pytest.approx(want[0], rel=1e-12), (reporter, year)
        assert allocated == pytest.approx(want[1], rel=1e-12), (reporter, year)
        assert float(unallocated) == pytest.approx(want[2], rel=1e-9, abs=1e-6), (reporter, year)
    # the only extra-EU partner in the extract is China, so the bloc's HHI is exactly 1
    assert {y: round(h, 12) for (r, y), (h, _, _) in got.items() if r == "EU27"} == {2023: 1.0, 2024: 1.0, 2025: 1.0}


def test_real_files_are_read_completely(sample_publication):
    runner = sample_publication  # the job run on data/sample alone (conftest), shared read-only
    con = runner.warehouse()
    assert con.execute("SELECT count(*) FROM raw.comext_sdmx").fetchall()[0][0] == 10_950
    bulk = con.execute("SELECT product_nc, value_eur FROM raw.comext_bulk ORDER BY _line").fetchall()
    assert len(bulk) == 13 and ("39XXXXXX", 89.0) in bulk
    # the confidential code reaches HS2 39 only, never HS6
    flows = con.execute("SELECT product_code, hs4, hs2 FROM staging.trade_flows WHERE product_code_native = '39XXXXXX'")
    assert flows.fetchall() == [(None, None, "39")]
    records = con.execute(
        "SELECT reporterCode, partnerCode, flowCode, primaryValue FROM raw.comtrade_records ORDER BY ALL").fetchall()
    assert (156, 276, "M", 74251272075.0) in records and (699, 842, "X", 80230193279.727) in records
    assert len(records) == 5
    mapped = con.execute(
        "SELECT DISTINCT reporter, partner FROM staging.trade_flows WHERE source = 'comtrade' ORDER BY ALL").fetchall()
    assert mapped == [("CHN", "ARG"), ("CHN", "DEU"), ("IND", "USA")]
