"""The demo world's Comtrade pages are converted once per checkout, not once per data folder.

A batch of synthetic pages (the demo world's: a pure function of the generator's stamp) converted whole is kept in
the checkout's cache (``reader.parquet.SHARED_DIR``); a fresh data folder with the same pages copies that Parquet
file and the pages' reports instead of reading the JSON again. The entry is checked after copying, file by file
against its manifest: a damaged entry is refused, the pages are read again and the entry replaced. A user's data
(pages without the synthetic sidecar) and a batch with a quarantined page are never kept there.

The expected rows come from the pages themselves, read here with Python's json module, not with the reader.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import SAMPLE
from pipeline.paths import SIDECAR
from pipeline.readers import checked_cache
from pipeline.readers.inputs import discover
from pipeline.sources.comtrade import reader as comtrade
from pipeline.sources.comtrade.reader import parquet as comtrade_parquet
from pipeline.sources.comtrade.reader.view import sync_comtrade_view

PAGE = SAMPLE / "comtrade" / "comtradr_get_C_A_HS_2010_CHN_ARG-DEU_TOTAL.json"
FIELDS = list(comtrade.COLUMNS)
PLAN = [(156, "M"), (156, "X"), (842, "M"), (842, "X"), (528, "M")]


def _records(reporter: int, flow: str) -> list[dict]:
    base = json.loads(PAGE.read_text())["data"]
    return [{**r, "reporterCode": reporter, "flowCode": flow, "primaryValue": reporter * 10 + i}
            for i, r in enumerate(base)]


def _envelope(records: list[dict], count: int | None = None) -> str:
    return json.dumps({"elapsedTime": "0.1 secs", "count": len(records) if count is None else count,
                       "data": records, "error": ""})


def _world(root: Path, synthetic: bool = True) -> dict[str, list[dict]]:
    """The plan's pages in ``root/comtrade`` with the demo world's sidecar: {label: records}."""
    folder = root / "comtrade"
    folder.mkdir(parents=True)
    (folder / SIDECAR).write_text(json.dumps({"synthetic": synthetic, "release": "test world"}))
    pages = {}
    for reporter, flow in PLAN:
        name = f"SYNTHETIC_p_{reporter}_{flow}.json"
        (folder / name).write_text(_envelope(_records(reporter, flow)))
        pages[f"demo:comtrade/{name}"] = _records(reporter, flow)
    return pages


def _sync(root: Path):
    con = duckdb.connect()
    files = discover([("demo", root / "comtrade")], comtrade.detect)
    return con, sync_comtrade_view(con, files, root / "work")


def _view(con) -> list[tuple]:
    cols = ", ".join(f'"{c}"' for c in FIELDS)
    return con.execute(f"SELECT _file, _line, synthetic, {cols} FROM {comtrade.TABLE} ORDER BY _file, _line").fetchall()


def _expected(pages: dict[str, list[dict]]) -> list[tuple]:
    return sorted((label, i, True, *(r.get(c) for c in FIELDS)) for label, records in pages.items()
                  for i, r in enumerate(records, start=1))


@pytest.fixture
def shared(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "shared"
    monkeypatch.setattr(comtrade_parquet, "SHARED_DIR", folder)
    return folder


def _entries(shared: Path) -> list[Path]:
    return sorted(p for p in shared.iterdir() if not p.name.startswith(".")) if shared.exists() else []


def test_a_second_data_folder_copies_the_checkouts_conversion_instead_of_reading_the_pages(tmp_path, shared,
                                                                                          monkeypatch):
    pages = _world(tmp_path / "one")
    con, first = _sync(tmp_path / "one")
    assert first.quarantined == {} and not any(c["cached"] for c in first.conversions)
    assert _view(con) == _expected(pages)
    (entry,) = _entries(shared)

    def no_reading(*args, **kwargs):
        raise AssertionError("the pages were read again")

    monkeypatch.setattr(comtrade_parquet, "_convert_together", no_reading)
    _world(tmp_path / "two")
    con, second = _sync(tmp_path / "two")
    assert second.quarantined == {} and sorted(second.added) == sorted(pages) and second.total_rows == 20
    assert len(second.conversions) == 5 and all(c["cached"] for c in second.conversions)
    # the same rows, each file and line its own, from a copy of the entry's file
    assert _view(con) == _expected(pages)
    (parquet,) = (tmp_path / "two" / "work").glob("*.parquet")
    assert parquet.read_bytes() == (entry / parquet.name).read_bytes()
    # a copy, not a link: the data folder's raw store edited in place leaves the entry every other folder uses
    assert parquet.stat().st_ino != (entry / parquet.name).stat().st_ino
    # the reports name this data folder's pages
    assert {c["source"] for c in second.conversions} == {str(p) for p in (tmp_path / "two" / "comtrade").glob("S*")}
    assert con.execute("SELECT DISTINCT years FROM raw.ingested_files").fetchall() == [([2010],)]
    con.close()
    _edit_in_place(parquet)
    manifest = checked_cache.read_manifest(entry, json.loads((entry / checked_cache.MANIFEST).read_text())["stamp"])
    assert checked_cache.problem(entry, manifest) is None


def _edit_in_place(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


DAMAGE = {
    "parquet edited": lambda entry: _edit_in_place(next(entry.glob("*.parquet"))),
    "report edited": lambda entry: _edit_in_place(sorted(entry.glob("SYNTHETIC_*.json"))[0]),
    "report missing": lambda entry: sorted(entry.glob("SYNTHETIC_*.json"))[0].unlink(),
    "extra file": lambda entry: (entry / "stray.parquet").write_bytes(b"PAR1"),
    "no manifest": lambda entry: (entry / checked_cache.MANIFEST).unlink(),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_entry_is_refused_and_the_pages_are_read_again(tmp_path, shared, damage):
    pages = _world(tmp_path / "one")
    _sync(tmp_path / "one")
    (entry,) = _entries(shared)
    DAMAGE[damage](entry)
    _world(tmp_path / "two")
    con, second = _sync(tmp_path / "two")
    assert second.quarantined == {} and not any(c["cached"] for c in second.conversions)
    assert _view(con) == _expected(pages)
    # the entry is good again: a third data folder links it
    (entry,) = _entries(shared)
    stamp = json.loads((entry / checked_cache.MANIFEST).read_text())["stamp"]
    assert checked_cache.problem(entry, checked_cache.read_manifest(entry, stamp)) is None
    _world(tmp_path / "three")
    con, third = _sync(tmp_path / "three")
    assert all(c["cached"] for c in third.conversions) and _view(con) == _expected(pages)


def test_pages_that_are_not_synthetic_stay_in_their_data_folder(tmp_path, shared):
    pages = _world(tmp_path / "one", synthetic=False)
    con, report = _sync(tmp_path / "one")
    assert report.quarantined == {} and len(report.added) == 5
    assert _entries(shared) == []
    assert [r[:2] for r in _view(con)] == [r[:2] for r in _expected(pages)]


def test_a_batch_with_a_quarantined_page_is_not_kept_and_is_judged_again(tmp_path, shared):
    bad = "demo:comtrade/SYNTHETIC_p_842_M.json"
    reason = "page holds 3 records but the API announced 4 (truncated page)"
    for root in (tmp_path / "one", tmp_path / "two"):
        pages = _world(root)
        (root / "comtrade" / "SYNTHETIC_p_842_M.json").write_text(_envelope(pages.pop(bad)[:3], count=4))
        con, report = _sync(root)
        assert report.quarantined == {bad: reason}
        assert con.execute("SELECT file, reason FROM raw.quarantine").fetchall() == [(bad, reason)]
        assert _view(con) == _expected(pages)
        assert _entries(shared) == []
    shutil.rmtree(tmp_path / "one")


def test_a_users_page_read_beside_the_demo_worlds_leaves_the_demo_batch_shared(tmp_path, shared):
    """The embedded default reads the demo world's pages and a real recorded page together: the real one goes to a
    batch of its own, so the demo world's batch is the same in every data folder."""
    for n, root in enumerate((tmp_path / "one", tmp_path / "two")):
        pages = _world(root)
        (root / "landing").mkdir()
        shutil.copy(PAGE, root / "landing" / PAGE.name)
        con = duckdb.connect()
        files = discover([("demo", root / "comtrade"), ("landing", root / "landing")], comtrade.detect)
        report = sync_comtrade_view(con, files, root / "work")
        assert report.quarantined == {} and report.total_rows == 24
        cached = {c["file"]: c["cached"] for c in report.conversions}
        # the second data folder links the demo world's batch; the user's page is converted in each
        assert cached == {**{label: n == 1 for label in pages}, f"landing:landing/{PAGE.name}": False}
        synthetic = dict(con.execute(f"SELECT _file, bool_and(synthetic) FROM {comtrade.TABLE} GROUP BY ALL").fetchall())
        assert synthetic == {**{label: True for label in pages}, f"landing:landing/{PAGE.name}": False}
    (entry,) = _entries(shared)
    assert not any("comtradr" in p.name for p in entry.iterdir())
