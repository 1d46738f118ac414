"""Bad input fails the run with a message naming the file (and line), and publishes nothing.

Every case's message is checked where it is made: the real ingestion assets (readers, quarantine) and
the SQL models' checks on the in-memory harness (conftest.SqlRunner). A few cases, one per kind
(a Comext reader error, a Comtrade reader error, a failed model check), go through the whole refresh
job from a good publication and check that the publication stays byte for byte.
"""

import gzip
import hashlib
import json
import shutil

import pytest

from conftest import REPO, SMALL_COMEXT, Runner, failure_messages, sdmx_rows

GOOD = sdmx_rows(SMALL_COMEXT)  # FR imports 85051100 from CN (500) and US (100), 2024


def _digest(paths):
    files = [paths.published_db, paths.latest_pointer, *sorted(paths.snapshots.rglob("*"))]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


@pytest.fixture(scope="module")
def published_once(small_publication):
    """One good publication (the session's small one: GOOD as landing/comext/good.csv); each test starts from
    a copy of its data folder."""
    assert (small_publication.paths.root / "landing/comext/good.csv").read_text() == GOOD
    return small_publication.paths.root


def _copy(source, tmp_path, monkeypatch) -> Runner:
    runner = Runner(tmp_path / "data", monkeypatch)
    shutil.copytree(source, runner.paths.root)
    return runner


@pytest.fixture
def published(published_once, tmp_path, monkeypatch):
    runner = _copy(published_once, tmp_path, monkeypatch)
    return runner, _digest(runner.paths)


def _comtrade_page(records, count=None, error=""):
    base = {"typeCode": "C", "freqCode": "A", "refYear": 2024, "refMonth": 52, "period": "2024",
            "reporterCode": 528, "flowCode": "M", "partner2Code": 0, "classificationCode": "H6",
            "cmdCode": "850511", "aggrLevel": 6, "isLeaf": True, "customsCode": "C00", "mosCode": "0",
            "motCode": 0, "primaryValue": 10.0, "cifvalue": 10.0}
    data = [{**base, **r} for r in records]
    return json.dumps({"elapsedTime": "0.1 secs", "count": len(data) if count is None else count,
                       "data": data, "error": error})


def _comtrade_bulk(records) -> bytes:
    """A bulk file (gzip TSV under the 47 field names) holding the page's records."""
    from pipeline.sources.comtrade.reader import COLUMNS

    data = json.loads(_comtrade_page(records))["data"]
    rows = ["\t".join(COLUMNS)] + ["\t".join("" if r.get(c) is None else str(r[c]).lower() if isinstance(r[c], bool)
                                              else str(r[c]) for c in COLUMNS) for r in data]
    return gzip.compress(("\n".join(rows) + "\n").encode())


CASES = {
    "non_numeric_value": (
        "landing/comext/bad.csv",
        GOOD.replace("FR,US,85051100,1,VALUE_IN_EUROS,2024,100", "FR,US,85051100,1,VALUE_IN_EUROS,2024,12x"),
        ["bad.csv", "Line: 3", "12x"],
    ),
    "missing_column": (
        "landing/comext/full_v2_202401.csv",
        "REPORTER,PARTNER,TRADE_TYPE,PRODUCT_NC,FLOW,PERIOD\nFR,CN,E,85051100,1,202401\n",
        ["full_v2_202401.csv", "line 1", "STAT_PROCEDURE"],
    ),
    "truncated_page": (
        "landing/comtrade/page.json",
        _comtrade_page([{"partnerCode": 156}, {"partnerCode": 842}], count=3),
        ["page.json", "2 records but the API announced 3"],
    ),
    "api_error_field": (
        "landing/comtrade/page.json",
        _comtrade_page([], error="Request rate limit exceeded"),
        ["page.json", "the API reported an error: Request rate limit exceeded"],
    ),
    "html_error_page": (
        "landing/comtrade/page.json",
        "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        ["page.json", "not a Comtrade v1 JSON response"],
    ),
    "empty_download": ("landing/comtrade/page.json.gz", b"", ["page.json.gz", "empty file (0 bytes)"]),
    "truncated_gzip": (
        "landing/comtrade/page.json.gz",
        gzip.compress(_comtrade_page([{"partnerCode": 156}]).encode())[:40],
        ["page.json.gz"],
    ),
    "unknown_partner_code": (
        "landing/comext/bad.csv",
        sdmx_rows([("FR", "ZQ", "85051100", 1, "2024", 5)]),
        ["check known_codes failed"],
    ),
    "negative_value": (
        "landing/comext/bad.csv",
        sdmx_rows([("DE", "CN", "85051100", 1, "2024", -5)]),
        ["check non_negative_value failed"],
    ),
    "same_data_in_two_files": ("landing/comext/copy_of_good.csv", GOOD, ["check unique_grain failed"]),
}

MORE_CASES = {
    "non_utf8_bytes": ("landing/comext/bad.csv", GOOD.encode().replace(b"2024,100", b"2024,1\xe90"),
                       ["bad.csv", "Line: 3", "not utf-8"]),
    "extra_column": ("landing/comext/bad.csv", GOOD.replace("OBS_VALUE\n", "OBS_VALUE,SURPRISE\n", 1),
                     ["bad.csv", "line 1", "SURPRISE", "schema drift"]),
    "period_wrong_format": ("landing/comext/bad.csv", GOOD.replace("VALUE_IN_EUROS,2024,100", "VALUE_IN_EUROS,2024M01,100"),
                            ["bad.csv", "line 3", "TIME_PERIOD 2024M01"]),
    "bulk_period_wrong": ("landing/comext/full_v2_x.csv",
                          (SAMPLE_BULK := (REPO / "data/sample/comext/full_v2_202402_sample_AT_AD.csv").read_text())
                          .replace(",202402,", ",202413,", 1), ["full_v2_x.csv", "line 2", "202413"]),
    "comtrade_period_not_refyear": ("landing/comtrade/page.json",
                                    _comtrade_page([{"partnerCode": 156, "period": "2023"}]),
                                    ["page.json", "line 1", "period 2023 is not"]),
}
MORE_CASES["comtrade_bulk_other_reporter"] = (
    # the bulk API's name says NLD (528) 2024; line 3 is a US row
    "landing/comtrade/COMTRADE-FINAL-CA5282024H6[2025-06-30].gz",
    _comtrade_bulk([{"partnerCode": 156}, {"partnerCode": 156, "reporterCode": 842}]),
    ["COMTRADE-FINAL-CA5282024H6[2025-06-30].gz", "line 3", "reporterCode 842",
     "in a file named for freqCode A, reporter 528, period 2024"],
)
CASES.update(MORE_CASES)


# Every case, where its message is made: readers and quarantine (a Dagster run of the raw assets), or the
# models' checks on the in-memory harness; the good file is there too, as in a refresh after a good one.
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_with_a_message_naming_the_file(sql_runner, case):
    relative, content, expected = CASES[case]
    sql_runner.write("landing/comext/good.csv", GOOD)
    sql_runner.write(relative, content)
    result = sql_runner.run()
    assert not result.success
    message = failure_messages(result)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


# One case of each kind through the whole refresh job: the run fails with the same message and the
# publication stays byte for byte.
END_TO_END_CASES = ["non_numeric_value", "html_error_page", "negative_value"]


@pytest.fixture(scope="module")
def after_bad_comext(published_once, tmp_path_factory):
    """The good publication, then a refresh with a Comext file whose line 3 is not a number."""
    mp = pytest.MonkeyPatch()
    runner = Runner(tmp_path_factory.mktemp("bad") / "data", mp)
    shutil.copytree(published_once, runner.paths.root)
    before = _digest(runner.paths)
    relative, content, _ = CASES["non_numeric_value"]
    runner.write(relative, content)
    result = runner.run()
    yield runner, before, result
    mp.undo()


@pytest.mark.parametrize("case", END_TO_END_CASES)
def test_bad_input_fails_the_refresh_and_keeps_the_publication(published, after_bad_comext, case):
    if case == "non_numeric_value":
        runner, before, result = after_bad_comext
    else:
        runner, before = published
        relative, content, _ = CASES[case]
        runner.write(relative, content)
        result = runner.run()
    assert not result.success
    message = failure_messages(result)
    for fragment in CASES[case][2]:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert _digest(runner.paths) == before


def test_a_failed_file_leaves_the_raw_table_as_it_was(after_bad_comext):
    runner, _, result = after_bad_comext
    assert not result.success
    con = runner.warehouse()
    files = [f for (f,) in con.execute("SELECT DISTINCT _file FROM raw.comext_sdmx").fetchall()]
    assert files == ["landing:comext/good.csv"]


def test_quarantine_names_file_line_and_reason(after_bad_comext):
    runner, _, result = after_bad_comext
    assert not result.success
    rows = runner.warehouse().execute("SELECT table_name, file, line, reason FROM raw.quarantine").fetchall()
    assert len(rows) == 1
    table, file, line, reason = rows[0]
    assert (table, file, line) == ("raw.comext_sdmx", "landing:comext/bad.csv", 3) and "12x" in reason


def test_accepting_quarantine_publishes_without_the_file_and_says_so(published):
    runner, _ = published
    runner.write("landing/comext/bad.csv", CASES["non_numeric_value"][1])
    result = runner.run(accept_quarantined_input=True)
    assert result.success, failure_messages(result)
    con = runner.published()
    assert con.execute("SELECT file, line FROM meta.quarantine").fetchall() == [("landing:comext/bad.csv", 3)]
    # nothing of the bad file is counted: France's value is the good file's alone
    assert con.execute("SELECT allocated_value::DOUBLE FROM monitor.import_concentration WHERE reporter = 'FRA' "
                       "AND product_level = 'HS6' AND partner_scope = 'all'").fetchall() == [(600.0,)]
    manifest = json.loads((runner.paths.snapshots / runner.paths.latest_pointer.read_text().strip()
                           / "manifest.json").read_text())
    assert manifest["quarantine"][0]["file"] == "landing:comext/bad.csv"


def test_a_fixed_file_leaves_quarantine_on_the_next_run(after_bad_comext, tmp_path, monkeypatch):
    failed, _, result = after_bad_comext
    assert not result.success
    runner = _copy(failed.paths.root, tmp_path, monkeypatch)  # the folder as the failed run left it
    runner.write("landing/comext/bad.csv", sdmx_rows([("DE", "CN", "85051100", 1, "2024", 7)]))
    result = runner.run(warehouse_only=True)  # the quarantine is the warehouse's: the models alone, no publication
    assert result.success, failure_messages(result)
    assert runner.warehouse().execute("SELECT count(*) FROM raw.quarantine").fetchall() == [(0,)]


def test_aggregate_rows_beside_detail_rows_are_not_added(sql_runner):
    runner = sql_runner  # what the SQL adds up: the real reader, then the models on the in-memory harness
    # DEU imports 850511 from CHN (60) and USA (40), and reports the HS2 total (100) and TOTAL (100) beside them
    page = _comtrade_page([
        {"reporterCode": 276, "partnerCode": 156, "cmdCode": "850511", "primaryValue": 60.0},
        {"reporterCode": 276, "partnerCode": 842, "cmdCode": "850511", "primaryValue": 40.0},
        {"reporterCode": 276, "partnerCode": 156, "cmdCode": "85", "aggrLevel": 2, "isLeaf": False, "primaryValue": 60.0},
        {"reporterCode": 276, "partnerCode": 842, "cmdCode": "85", "aggrLevel": 2, "isLeaf": False, "primaryValue": 40.0},
        {"reporterCode": 276, "partnerCode": 156, "cmdCode": "TOTAL", "aggrLevel": 0, "isLeaf": False, "primaryValue": 60.0},
    ])
    runner.write("landing/comtrade/page.json", page)
    result = runner.run()
    assert result.success, failure_messages(result)
    rows = dict(runner.published().execute(
        "SELECT product_level, allocated_value::DOUBLE FROM monitor.import_concentration WHERE reporter = 'DEU' "
        "AND partner_scope = 'all'").fetchall())
    assert rows["HS6"] == rows["HS4"] == rows["HS2"] == 100.0
