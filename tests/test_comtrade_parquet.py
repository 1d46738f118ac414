"""UN Comtrade files -> typed Parquet per file -> the raw.comtrade_records view.

The expected rows come from the files themselves, read here with Python's json and csv modules
(not with the reader under test): the real recorded API page (ropensci/comtradr) and a bulk TSV
of the same 47 fields written from it, as the bulk API ships reporter-years.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import SAMPLE, failure_messages
from fake_comtrade import bulk_file
from pipeline.sources.comtrade import reader as comtrade
from pipeline.sources.comtrade.reader.view import COVERAGE, sync_comtrade_view
from pipeline.readers.inputs import discover

PAGE = SAMPLE / "comtrade" / "comtradr_get_C_A_HS_2010_CHN_ARG-DEU_TOTAL.json"
FIELDS = list(comtrade.COLUMNS)


def _records() -> list[dict]:
    return json.loads(PAGE.read_text())["data"]


def _tsv(records: list[dict]) -> bytes:
    return bulk_file(records, FIELDS)


def _page(records: list[dict]) -> str:
    return json.dumps({"elapsedTime": "0.1 secs", "count": len(records), "data": records, "error": ""})


def _sync(folder: Path, cache: Path, con=None):
    con = con or duckdb.connect()
    files = discover([("landing", folder)], comtrade.detect)
    return con, sync_comtrade_view(con, files, cache)


def _rows(con, where: str = "true") -> list[tuple]:
    return con.execute(f"SELECT {', '.join(chr(34) + c + chr(34) for c in FIELDS)}, _file, _line FROM "
                       f"{comtrade.TABLE} WHERE {where} ORDER BY _file, _line").fetchall()


@pytest.mark.parametrize("name", [PAGE.name, "COMTRADE-FINAL-CA1562010H3[2011-06-30].gz"])
def test_page_and_bulk_file_give_the_records_typed_as_the_source_says(tmp_path, name):
    records = _records()
    folder = tmp_path / "comtrade"
    folder.mkdir()
    if name == PAGE.name:
        shutil.copy(PAGE, folder / name)
    else:
        (folder / name).write_bytes(_tsv(records))
    con, report = _sync(folder, tmp_path / "cache")
    assert report.quarantined == {} and report.total_rows == 4
    got = _rows(con)
    # a page's records are numbered from 1 in its data array; a bulk file's lines from 2 (line 1 is the header)
    first_line = 1 if name == PAGE.name else 2
    assert [r[-2:] for r in got] == [(f"landing:comtrade/{name}", n) for n in range(first_line, first_line + 4)]
    for row, record in zip(got, records):
        # every field as the JSON says (values typed: numbers, booleans, nulls)
        assert dict(zip(FIELDS, row)) == {c: record.get(c) for c in FIELDS}
    assert con.execute(f"SELECT DISTINCT synthetic FROM {comtrade.TABLE}").fetchall() == [(False,)]
    # one Parquet file per input file, typed in the file itself
    parquets = list((tmp_path / "cache").glob("*.parquet"))
    assert len(parquets) == 1
    types = dict(con.execute(f"SELECT name, type FROM parquet_schema('{parquets[0]}')").fetchall())
    assert types["primaryValue"] == "DOUBLE" and types["refYear"] == "INT32" and types["isLeaf"] == "BOOLEAN"


@pytest.mark.parametrize("case, edit, where", [
    ("value not a number", lambda lines: "\t".join(
        "7425x" if c == "primaryValue" else v for c, v in zip(FIELDS, lines[3].split("\t"))), "line 4"),
    ("short row", lambda lines: "\t".join(lines[2].split("\t")[:30]), "line 3"),
    ("period of another year", lambda lines: "\t".join(
        "2011" if c == "period" else v for c, v in zip(FIELDS, lines[2].split("\t"))), "line 3"),
])
def test_a_bad_row_quarantines_the_file_with_its_line(tmp_path, case, edit, where):
    lines = gzip.decompress(_tsv(_records())).decode().splitlines()
    index = int(where.split()[1]) - 1
    lines[index] = edit(lines)
    folder = tmp_path / "comtrade"
    folder.mkdir()
    (folder / "bad.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    (folder / "good.json").write_text(_page(_records()))
    con, report = _sync(folder, tmp_path / "cache")
    assert list(report.quarantined) == ["landing:comtrade/bad.gz"]
    file, line, reason = con.execute("SELECT file, line, reason FROM raw.quarantine").fetchall()[0]
    assert (file, f"line {line}") == ("landing:comtrade/bad.gz", where), reason
    if case == "value not a number":
        assert "7425x" in reason
    if case == "period of another year":
        assert "period 2011 is not YYYY or YYYYMM of refYear 2010" in reason
    # nothing of the bad file is in the view, and no half-written Parquet is left
    assert con.execute(f"SELECT DISTINCT _file FROM {comtrade.TABLE}").fetchall() == [("landing:comtrade/good.json",)]
    assert len(list((tmp_path / "cache").glob("*.parquet"))) == 1


def test_schema_drift_is_refused_on_line_1(tmp_path):
    # a 48th column, as a new API version might add
    data = "".join(line + ("\tisAggregateNew\n" if i == 0 else "\tfalse\n") for i, line in
                   enumerate(gzip.decompress(_tsv(_records())).decode().splitlines()))
    folder = tmp_path / "comtrade"
    folder.mkdir()
    (folder / "drift.gz").write_bytes(gzip.compress(data.encode()))
    con, report = _sync(folder, tmp_path / "cache")
    reason = report.quarantined["landing:comtrade/drift.gz"]
    assert "line 1" in reason and "isAggregateNew" in reason and "schema drift" in reason


def test_an_unchanged_file_is_not_converted_again_and_a_changed_one_is(tmp_path):
    folder, cache = tmp_path / "comtrade", tmp_path / "cache"
    folder.mkdir()
    bulk = folder / "COMTRADE-FINAL-CA1562010H3[2011-06-30].gz"
    bulk.write_bytes(_tsv(_records()))
    (folder / "page.json").write_text(_page(_records()[:2]))
    con, first = _sync(folder, cache)
    assert sorted(first.added) == ["landing:comtrade/COMTRADE-FINAL-CA1562010H3[2011-06-30].gz",
                                   "landing:comtrade/page.json"]
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.parquet")}
    _, second = _sync(folder, cache, con)
    assert second.added == [] and second.unchanged == 2
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("*.parquet")} == stamps
    # a new content of the bulk file: converted again, its old conversion deleted
    changed = _records()[:3]
    bulk.write_bytes(_tsv(changed))
    _, third = _sync(folder, cache, con)
    assert third.added == ["landing:comtrade/COMTRADE-FINAL-CA1562010H3[2011-06-30].gz"] and third.unchanged == 1
    assert len(list(cache.glob("*.parquet"))) == 2 and len(set(p.name for p in cache.glob("*.parquet")) - set(stamps)) == 1
    # a file that disappears takes its rows with it
    (folder / "page.json").unlink()
    _, fourth = _sync(folder, cache, con)
    assert fourth.removed == ["landing:comtrade/page.json"]
    assert con.execute(f"SELECT count(*) FROM {comtrade.TABLE}").fetchall() == [(3,)]
    assert len(list(cache.glob("*.parquet"))) == 1
    # a lost cache is rebuilt from the inputs
    shutil.rmtree(cache)
    _, fifth = _sync(folder, cache, con)
    assert fifth.added == ["landing:comtrade/COMTRADE-FINAL-CA1562010H3[2011-06-30].gz"]
    assert con.execute(f"SELECT count(*) FROM {comtrade.TABLE}").fetchall() == [(3,)]


def _flow_records(flow: str, value: float, reporter: int = 156) -> list[dict]:
    return [{**r, "reporterCode": reporter, "flowCode": flow, "primaryValue": value + i}
            for i, r in enumerate(_records()[:2])]


def test_a_bulk_file_supersedes_api_pages_for_its_reporter_year_and_flow(tmp_path):
    folder, cache = tmp_path / "comtrade", tmp_path / "cache"
    folder.mkdir()
    # pages of a plan: CHN 2010 imports and exports, and USA 2010 imports
    (folder / "pages_m_x.json").write_text(_page(_flow_records("M", 100.0) + _flow_records("X", 200.0)))
    (folder / "page_usa.json").write_text(_page(_flow_records("M", 300.0, reporter=842)))
    con, before = _sync(folder, cache)
    assert before.total_rows == 6 and before.superseded == {}
    # the bulk file of CHN 2010 as published holds its imports only
    bulk = folder / "COMTRADE-FINAL-CA1562010H3[2011-06-30].gz"
    bulk.write_bytes(_tsv(_flow_records("M", 1000.0)))
    _, report = _sync(folder, cache, con)
    got = con.execute(f"SELECT reporterCode, flowCode, primaryValue, _file FROM {comtrade.TABLE} "
                      "ORDER BY ALL").fetchall()
    assert got == [
        (156, "M", 1000.0, f"landing:comtrade/{bulk.name}"), (156, "M", 1001.0, f"landing:comtrade/{bulk.name}"),
        (156, "X", 200.0, "landing:comtrade/pages_m_x.json"), (156, "X", 201.0, "landing:comtrade/pages_m_x.json"),
        (842, "M", 300.0, "landing:comtrade/page_usa.json"), (842, "M", 301.0, "landing:comtrade/page_usa.json"),
    ]
    assert report.superseded == {"landing:comtrade/pages_m_x.json": 2}
    assert con.execute(f"SELECT file, reporterCode, flowCode, superseded_by FROM {COVERAGE} "
                       "WHERE superseded_by IS NOT NULL").fetchall() == [
        ("landing:comtrade/pages_m_x.json", 156, "M", f"landing:comtrade/{bulk.name}")]
    # the ledger counts what each file contributes: its rows add up to the view's
    ledger = dict(con.execute("SELECT file, rows FROM raw.ingested_files").fetchall())
    assert ledger == {"landing:comtrade/pages_m_x.json": 2, "landing:comtrade/page_usa.json": 2,
                      f"landing:comtrade/{bulk.name}": 2}
    assert report.total_rows == 6
    # without the bulk file, the pages' imports come back
    bulk.unlink()
    _, after = _sync(folder, cache, con)
    assert after.superseded == {}
    assert con.execute(f"SELECT count(*), sum(primaryValue) FROM {comtrade.TABLE}").fetchall() == [(6, 1203.0)]


def test_bulk_and_pages_for_the_same_reporter_year_publish_the_bulk_figures(runner):
    """Through the whole refresh job: no duplicate grain, and the figures are the bulk file's."""
    def records(value: float) -> list[dict]:
        base = {"typeCode": "C", "freqCode": "A", "refYear": 2023, "refMonth": 52, "period": "2023",
                "reporterCode": 528, "flowCode": "M", "partner2Code": 0, "classificationCode": "H6",
                "cmdCode": "850511", "aggrLevel": 6, "isLeaf": True, "customsCode": "C00", "mosCode": "0",
                "motCode": 0}
        return [{**base, "partnerCode": 156, "primaryValue": value}, {**base, "partnerCode": 842, "primaryValue": value}]

    runner.write("landing/comtrade/page.json", _page(records(10.0)))
    runner.write("landing/comtrade/COMTRADE-FINAL-CA5282023H6[2024-06-30].gz", _tsv(records(30.0)))
    result = runner.run()
    assert result.success, failure_messages(result)
    with runner.published() as con:
        assert con.execute(
            "SELECT hhi, allocated_value::DOUBLE FROM monitor.import_concentration WHERE reporter = 'NLD' "
            "AND product_level = 'HS6' AND partner_scope = 'all'").fetchall() == [(0.5, 60.0)]


def test_a_new_converter_version_converts_held_files_again(tmp_path, monkeypatch):
    """PARQUET_VERSION is bumped when the conversion changes (columns or checks): files the warehouse already
    holds are converted again, so none is served from a conversion the current reader would not make."""
    from pipeline.sources.comtrade.reader import parquet as comtrade_parquet

    folder, cache = tmp_path / "comtrade", tmp_path / "cache"
    folder.mkdir()
    name = "COMTRADE-FINAL-CA1562010H3[2011-06-30].gz"
    (folder / name).write_bytes(_tsv(_records()))
    (folder / "page.json").write_text(_page(_records()[:2]))
    con, first = _sync(folder, cache)
    rows = _rows(con)
    assert len(rows) == 4 and len(first.added) == 2 and {p.name.rsplit(".", 2)[1] for p in cache.glob("*.parquet")} == {f"v{comtrade_parquet.PARQUET_VERSION}"}
    monkeypatch.setattr(comtrade_parquet, "PARQUET_VERSION", 99)
    _, again = _sync(folder, cache, con)
    assert sorted(again.added) == [f"landing:comtrade/{name}", "landing:comtrade/page.json"]
    # same content: nothing was removed, and the older conversions are gone
    assert again.removed == [] and again.unchanged == 0
    assert {p.name.rsplit(".", 2)[1] for p in cache.glob("*.parquet")} == {"v99"}
    assert _rows(con) == rows
    _, third = _sync(folder, cache, con)
    assert third.added == [] and third.unchanged == 2
