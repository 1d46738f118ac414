"""A Comtrade bulk file is one reporter-year, and its conversion is cached like a Comext month's.

* A bulk file named as the bulk API names them (``COMTRADE-FINAL-CA1562010H3[2011-06-30].gz``:
  annual, reporter 156, year 2010) must hold that reporter-year only, as a Comext month file must
  hold its own month: a row of another reporter, year or frequency would be published under the
  wrong key and would make the file supersede API pages it does not cover. The file is refused
  whole, with the line of the first such row.
* Both sources' conversions go through one cache (``pipeline.readers.parquet_cache``): a report
  cut by a crash is converted again instead of failing the run.

The bulk files are written here from the real recorded API page (ropensci/comtradr), as in
tests/test_comtrade_parquet.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from conftest import SAMPLE
from fake_comext import month_archive
from fake_comtrade import bulk_file
from pipeline.io import sha256_of
from pipeline.sources.comtrade import reader as comtrade
from pipeline.sources.comext import bulk_reader as comext_bulk
from pipeline.sources.comtrade.reader.parquet import cached_conversion
from pipeline.sources.comtrade.reader.view import sync_comtrade_view
from pipeline.readers.inputs import InputFile, discover

PAGE = SAMPLE / "comtrade" / "comtradr_get_C_A_HS_2010_CHN_ARG-DEU_TOTAL.json"
FIELDS = list(comtrade.COLUMNS)
NAME = "COMTRADE-FINAL-CA1562010H3[2011-06-30].gz"  # annual, reporter 156 (CHN), 2010, HS 2007


def _records() -> list[dict]:
    records = json.loads(PAGE.read_text())["data"]
    assert {(r["reporterCode"], r["refYear"], r["freqCode"], r["period"]) for r in records} == {(156, 2010, "A", "2010")}
    return records


def _tsv(records: list[dict]) -> bytes:
    return bulk_file(records, FIELDS)


def _sync(folder: Path, cache: Path):
    con = duckdb.connect()
    return con, sync_comtrade_view(con, discover([("landing", folder)], comtrade.detect), cache)


@pytest.mark.parametrize("case, change, line, words", [
    ("another reporter", {"reporterCode": 842, "reporterISO": "USA"}, 3, ["reporterCode 842", "reporter 156"]),
    # period and refYear agree (the row rule passes): only the file name says 2010
    ("another year", {"refYear": 2011, "period": "2011", "refPeriodId": 20110101}, 4, ["period 2011", "2010"]),
    ("a monthly row", {"freqCode": "M", "period": "201003", "refMonth": 3}, 5, ["freqCode M", "freqCode A"]),
])
def test_a_bulk_file_holding_another_reporter_year_is_quarantined_with_its_line(tmp_path, case, change, line, words):
    records = _records()
    records[line - 2] = {**records[line - 2], **change}  # the header is line 1
    folder = tmp_path / "comtrade"
    folder.mkdir()
    (folder / NAME).write_bytes(_tsv(records))
    con, report = _sync(folder, tmp_path / "cache")
    label = f"landing:comtrade/{NAME}"
    assert list(report.quarantined) == [label]
    file, got_line, reason = con.execute("SELECT file, line, reason FROM raw.quarantine").fetchall()[0]
    assert (file, got_line) == (label, line), reason
    for word in words:
        assert word in reason, reason
    assert con.execute(f"SELECT count(*) FROM {comtrade.TABLE}").fetchall() == [(0,)]
    assert not list((tmp_path / "cache").glob("*.parquet"))


def test_the_named_reporter_year_is_read_and_unnamed_files_may_hold_several(tmp_path):
    records = _records()
    monthly = [{**r, "freqCode": "M", "period": "201003", "refMonth": 3, "refPeriodId": 20100301} for r in records]
    mixed = records[:2] + [{**r, "reporterCode": 842} for r in records[2:]]
    folder = tmp_path / "comtrade"
    folder.mkdir()
    (folder / NAME).write_bytes(_tsv(records))
    # a monthly bulk file, named as comtradeapicall names them: C M <reporter> <YYYYMM> <classification>
    (folder / "COMTRADE-FINAL-CM156201003H3[2011-06-30].gz").write_bytes(_tsv(monthly))
    # a landing TSV without the bulk API's name is not a reporter-year: it may hold several
    (folder / "landing_extract.tsv.gz").write_bytes(_tsv(mixed))
    con, report = _sync(folder, tmp_path / "cache")
    assert report.quarantined == {} and report.total_rows == 12
    assert con.execute(f"SELECT _file, reporterCode, freqCode, count(*) FROM {comtrade.TABLE} GROUP BY ALL "
                       "ORDER BY ALL").fetchall() == [
        ("landing:comtrade/COMTRADE-FINAL-CA1562010H3[2011-06-30].gz", 156, "A", 4),
        ("landing:comtrade/COMTRADE-FINAL-CM156201003H3[2011-06-30].gz", 156, "M", 4),
        ("landing:comtrade/landing_extract.tsv.gz", 156, "A", 2),
        ("landing:comtrade/landing_extract.tsv.gz", 842, "A", 2),
    ]


def _comtrade_conversion(tmp_path: Path, folder: Path):
    source = tmp_path / NAME
    if not source.exists():
        source.write_bytes(_tsv(_records()))
    f = InputFile(path=source, label=f"landing:comtrade/{NAME}", fmt="bulk_tsv", release="", synthetic=False,
                  sha256=sha256_of(source), size=source.stat().st_size)
    return cached_conversion(f, folder)


def _comext_conversion(tmp_path: Path, folder: Path):
    archive = tmp_path / "full_v2_202401.7z"
    if not archive.exists():
        month_archive(tmp_path, 202401, 300, seed=3)
    return comext_bulk.cached_bulk_parquet(archive, sha256_of(archive), folder)


@pytest.mark.parametrize("convert", [_comtrade_conversion, _comext_conversion], ids=["comtrade", "comext"])
def test_a_conversion_report_cut_by_a_crash_is_converted_again(tmp_path, convert):
    cache = tmp_path / "cache"
    first = convert(tmp_path, cache)
    assert not first.cached and first.rows > 0
    assert convert(tmp_path, cache).cached
    reports = list(cache.glob("*.json"))
    assert len(reports) == 1
    reports[0].write_text(reports[0].read_text()[:40])  # the process died while writing it
    again = convert(tmp_path, cache)
    assert not again.cached and again.rows == first.rows and Path(again.parquet).exists()
    assert json.loads(reports[0].read_text())["rows"] == first.rows
    assert convert(tmp_path, cache).cached
