"""The Comtrade API pages of one run are converted together: one DuckDB read over every new page, one Parquet file.

A run of the demo world brings 378 small pages; converting each on its own (four queries and a Parquet file per
page) cost more than reading them. The contract stays the file's: a bad page among good ones is quarantined
alone, with its own file, line (where it has one) and reason, and the good pages are kept; a changed page is
converted again and its old rows leave the view; an unchanged one costs nothing.

The expected rows come from the files themselves, read here with Python's json module, from the real recorded
API page (ropensci/comtradr), not with the reader under test.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from conftest import SAMPLE
from pipeline.sources.comtrade import reader as comtrade
from pipeline.sources.comtrade.reader.view import sync_comtrade_view
from pipeline.readers.inputs import discover

PAGE = SAMPLE / "comtrade" / "comtradr_get_C_A_HS_2010_CHN_ARG-DEU_TOTAL.json"
FIELDS = list(comtrade.COLUMNS)
# reporter, flow and file name of each page of the plan; half of them gzipped, as the client stores them
PLAN = [(156, "M", "p_156_M.json.gz"), (156, "X", "p_156_X.json"), (842, "M", "p_842_M.json.gz"),
        (842, "X", "p_842_X.json"), (528, "M", "p_528_M.json.gz")]


def _records(reporter: int, flow: str) -> list[dict]:
    base = json.loads(PAGE.read_text())["data"]
    return [{**r, "reporterCode": reporter, "flowCode": flow, "primaryValue": reporter * 10 + i}
            for i, r in enumerate(base)]


def _envelope(records: list[dict], count: int | None = None, error: str = "") -> str:
    return json.dumps({"elapsedTime": "0.1 secs", "count": len(records) if count is None else count,
                       "data": records, "error": error})


def _write(path: Path, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") and not data.startswith(b"\x1f\x8b") else data)


def _plan(folder: Path) -> dict[str, list[dict]]:
    """The plan's pages in ``folder``: {label: records}."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = {}
    for reporter, flow, name in PLAN:
        records = _records(reporter, flow)
        _write(folder / name, _envelope(records))
        pages[f"landing:{folder.name}/{name}"] = records
    return pages


def _sync(folder: Path, cache: Path, con=None):
    con = con or duckdb.connect()
    return con, sync_comtrade_view(con, discover([("landing", folder)], comtrade.detect), cache)


def _view(con) -> list[tuple]:
    cols = ", ".join(f'"{c}"' for c in FIELDS)
    return con.execute(f"SELECT _file, _line, {cols} FROM {comtrade.TABLE} ORDER BY _file, _line").fetchall()


def _expected(pages: dict[str, list[dict]]) -> list[tuple]:
    """What the view must hold: each page's records, numbered from 1 in its data array, every field as the
    JSON says."""
    return sorted((label, i, *(r.get(c) for c in FIELDS)) for label, records in pages.items()
                  for i, r in enumerate(records, start=1))


def test_the_pages_of_a_run_are_read_in_one_pass_into_one_parquet_file(tmp_path):
    folder, cache = tmp_path / "comtrade", tmp_path / "cache"
    pages = _plan(folder)
    con, report = _sync(folder, cache)
    assert report.quarantined == {} and sorted(report.added) == sorted(pages)
    assert _view(con) == _expected(pages)
    assert report.total_rows == 20 == sum(r for (r,) in con.execute("SELECT rows FROM raw.ingested_files").fetchall())
    # one Parquet file for the five pages, typed in the file itself
    parquets = list(cache.glob("*.parquet"))
    assert len(parquets) == 1, [p.name for p in parquets]
    types = dict(con.execute(f"SELECT name, type FROM parquet_schema('{parquets[0]}')").fetchall())
    assert types["primaryValue"] == "DOUBLE" and types["refYear"] == "INT32" and types["isLeaf"] == "BOOLEAN"
    # the ledger's years and the coverage are each page's own
    assert con.execute("SELECT DISTINCT years FROM raw.ingested_files").fetchall() == [([2010],)]
    assert con.execute("SELECT file, reporterCode, flowCode, rows FROM raw.comtrade_coverage ORDER BY file"
                       ).fetchall() == sorted((f"landing:comtrade/{n}", r, f, 4) for r, f, n in PLAN)
    # nothing new: nothing converted, nothing rewritten
    stamp = parquets[0].stat().st_mtime_ns
    _, again = _sync(folder, cache, con)
    assert again.added == [] and again.unchanged == 5 and parquets[0].stat().st_mtime_ns == stamp
    assert _view(con) == _expected(pages)


BAD_PAGES = {
    # record 3 says 2011 in a 2010 page: the row rule, on the batch's rows
    "period of another year": (lambda recs: _envelope([*recs[:2], {**recs[2], "period": "2011"}, recs[3]]),
                               3, ["period 2011 is not YYYY or YYYYMM of refYear 2010"]),
    "truncated page": (lambda recs: _envelope(recs[:3], count=4), None,
                       ["page holds 3 records but the API announced 4 (truncated page)"]),
    "api error": (lambda recs: _envelope([], error="Request rate limit exceeded"), None,
                  ["the API reported an error: Request rate limit exceeded"]),
    # a value that does not parse stops DuckDB's read of the whole batch: the page is found and read alone
    "value not a number": (lambda recs: _envelope([recs[0], {**recs[1], "primaryValue": "12x"}, *recs[2:]]),
                           None, ["not a Comtrade v1 JSON response", "12x"]),
    "html error page": (lambda recs: "<html><head><title>502 Bad Gateway</title></head></html>", None,
                        ["not a Comtrade v1 JSON response"]),
    "truncated gzip": (lambda recs: gzip.compress(_envelope(recs).encode())[:60], None,
                       ["not a Comtrade v1 JSON response"]),
}


@pytest.mark.parametrize("case", sorted(BAD_PAGES))
def test_one_bad_page_among_good_ones_is_quarantined_alone_with_its_file_and_line(tmp_path, case):
    make, line, words = BAD_PAGES[case]
    folder, cache = tmp_path / "comtrade", tmp_path / "cache"
    pages = _plan(folder)
    bad = "landing:comtrade/p_842_M.json.gz"
    _write(folder / "p_842_M.json.gz", make(pages.pop(bad)))
    con, report = _sync(folder, cache)
    assert list(report.quarantined) == [bad]
    file, got_line, reason = con.execute("SELECT file, line, reason FROM raw.quarantine").fetchall()[0]
    assert (file, got_line) == (bad, line), reason
    assert all(w in reason for w in words), reason
    # the four good pages are all there, row for row, in one Parquet file; nothing of the bad one
    assert _view(con) == _expected(pages)
    assert sorted(report.added) == sorted(pages)
    assert len(list(cache.glob("*.parquet"))) == 1
    # fixed, the page is read on the next run, alone; the others are not converted again
    _write(folder / "p_842_M.json.gz", _envelope(_records(842, "M")))
    _, fixed = _sync(folder, cache, con)
    assert fixed.added == [bad] and fixed.quarantined == {} and fixed.unchanged == 4
    assert _view(con) == _expected({**pages, bad: _records(842, "M")})
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchall() == [(0,)]


def test_a_changed_page_is_converted_again_and_its_old_rows_leave_the_view(tmp_path):
    folder, cache = tmp_path / "comtrade", tmp_path / "cache"
    pages = _plan(folder)
    con, _ = _sync(folder, cache)
    first = set(cache.glob("*.parquet"))
    # a revised page: other values, one record fewer
    label = "landing:comtrade/p_156_X.json"
    revised = [{**r, "primaryValue": r["primaryValue"] + 0.5} for r in _records(156, "X")[:3]]
    _write(folder / "p_156_X.json", _envelope(revised))
    _, report = _sync(folder, cache, con)
    assert report.added == [label] and report.removed == [label] and report.unchanged == 4
    pages[label] = revised
    # the first batch's file still holds the page's old rows for the other pages' sake: the view leaves them out
    assert first < set(cache.glob("*.parquet"))
    assert _view(con) == _expected(pages)
    assert report.total_rows == 19
    # once no page of the first batch is left, its file goes
    for _, _, name in PLAN:
        if name != "p_156_X.json":
            (folder / name).unlink()
    _, last = _sync(folder, cache, con)
    assert _view(con) == _expected({label: revised})
    assert not first & set(cache.glob("*.parquet"))


def test_the_same_page_in_two_folders_gives_its_rows_once_per_file(tmp_path):
    landing, demo, cache = tmp_path / "landing" / "comtrade", tmp_path / "demo" / "comtrade", tmp_path / "cache"
    records = _records(156, "M")
    for folder in (landing, demo):
        folder.mkdir(parents=True)
        _write(folder / "page.json", _envelope(records))
    con = duckdb.connect()
    files = discover([("landing", landing), ("demo", demo)], comtrade.detect)
    report = sync_comtrade_view(con, files, cache)
    assert report.quarantined == {} and report.total_rows == 8
    assert con.execute(f"SELECT _file, count(*) FROM {comtrade.TABLE} GROUP BY ALL ORDER BY ALL").fetchall() == [
        ("demo:comtrade/page.json", 4), ("landing:comtrade/page.json", 4)]
