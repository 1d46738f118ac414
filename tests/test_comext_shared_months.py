"""The demo world's Comext months are parsed once per checkout, not once per data folder.

A pass over synthetic CSV months (the demo world's: a pure function of the generator's stamp) that took every month
is kept in the checkout's cache (``bulk_reader.SHARED_DIR``) as the rows it inserted; a fresh data folder with the
same months inserts those rows instead of parsing the CSV again, under the same checks and ledger. The entry is
checked against its manifest after linking: a damaged one is refused, the months are read from their files and the
entry is made again. A user's months (no synthetic sidecar) and a pass with a quarantined month are never kept.

The expected rows are those of each month read alone, one file per transaction (raw_store's reader without the
shared pass), which tests/test_comext_months_together.py checks against the files themselves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from fake_comext import write_month
from pipeline.paths import SIDECAR
from pipeline.readers import checked_cache
from pipeline.readers.inputs import discover
from pipeline.readers.raw_store import LEDGER, sync_raw_table
from pipeline.sources.comext import bulk_reader
from pipeline.sources.comext import reader as comext

PERIODS = [202401, 202402, 202403, 202404]
ROWS = 300
TABLE = comext.BULK_TABLE


def _world(root: Path, synthetic: bool = True) -> Path:
    folder = root / "comext"
    for i, period in enumerate(PERIODS):
        write_month(folder / f"SYNTHETIC_full_v2_{period}.csv", period, ROWS, seed=i)
    (folder / SIDECAR).write_text(json.dumps({"synthetic": synthetic, "release": "test world"}))
    return folder


def _sync(root: Path, *, together: bool = True):
    con = duckdb.connect(str(root / "w.duckdb"))
    detect = lambda p: comext.detect(p) if comext.detect(p) in ("full_v2", "legacy") else None  # noqa: E731
    files = discover([("demo", root / "comext")], detect)
    report = sync_raw_table(con, TABLE, comext.BULK_COLUMNS, files, bulk_reader.bulk_selector(root / "cache"),
                            comext.validate, comext.BULK_ROW_RULE, comext.BULK_YEAR_OF_ROW,
                            **({"read_together": bulk_reader.read_months_together} if together else {}))
    return con, report


def _same_as_read_alone(con, root: Path, tmp_path: Path) -> None:
    """``con``'s raw table and ledger are those of ``root``'s months read one by one."""
    alone = tmp_path / "alone"
    shutil.rmtree(alone, ignore_errors=True)
    shutil.copytree(root / "comext", alone / "comext")
    one, _ = _sync(alone, together=False)
    one.close()
    con.execute(f"ATTACH '{alone / 'w.duckdb'}' AS alone (READ_ONLY)")
    try:
        for x, y in ((TABLE, f"alone.{TABLE}"), (f"alone.{TABLE}", TABLE)):
            assert con.execute(f"SELECT count(*) FROM (FROM {x} EXCEPT ALL FROM {y})").fetchall() == [(0,)]
        assert con.execute(f"SELECT count(*) FROM {TABLE}").fetchall() == [(len(PERIODS) * ROWS,)]
        ledger = f"SELECT file, format, sha256, rows, release, synthetic, years FROM {{}} WHERE table_name = '{TABLE}'"
        assert sorted(con.execute(ledger.format(LEDGER)).fetchall()) == \
            sorted(con.execute(ledger.format(f"alone.{LEDGER}")).fetchall())
    finally:
        con.execute("DETACH alone")


@pytest.fixture
def shared(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "shared"
    monkeypatch.setattr(bulk_reader, "SHARED_DIR", folder)
    return folder


def _entries(shared: Path) -> list[Path]:
    return sorted(p for p in shared.iterdir() if not p.name.startswith(".")) if shared.exists() else []


def _count_csv_reads(monkeypatch) -> list:
    calls = []
    real = bulk_reader.bulk_csv_read

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk_reader, "bulk_csv_read", counting)
    return calls


def test_a_second_data_folder_inserts_the_checkouts_rows_instead_of_parsing_the_months(tmp_path, shared,
                                                                                       monkeypatch):
    _world(tmp_path / "one")
    con, first = _sync(tmp_path / "one")
    assert first.quarantined == {} and len(first.added) == len(PERIODS)
    _same_as_read_alone(con, tmp_path / "one", tmp_path)
    (entry,) = _entries(shared)

    reads = _count_csv_reads(monkeypatch)
    shutil.copytree(tmp_path / "one" / "comext", tmp_path / "two" / "comext")
    con, second = _sync(tmp_path / "two")
    assert reads == []  # no month parsed
    assert second.quarantined == {} and sorted(second.added) == sorted(first.added)
    assert second.rows_added == len(PERIODS) * ROWS
    _same_as_read_alone(con, tmp_path / "two", tmp_path)
    # the entry is still good and was not rewritten
    assert checked_cache.problem(entry, json.loads((entry / checked_cache.MANIFEST).read_text())) is None


def _edit_in_place(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


DAMAGE = {
    "rows edited": lambda entry: _edit_in_place(entry / "rows.parquet"),
    "rows missing": lambda entry: (entry / "rows.parquet").unlink(),
    "extra file": lambda entry: (entry / "stray.parquet").write_bytes(b"PAR1"),
    "no manifest": lambda entry: (entry / checked_cache.MANIFEST).unlink(),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_entry_is_refused_and_the_months_are_read_from_their_files(tmp_path, shared, monkeypatch, damage):
    _world(tmp_path / "one")
    _sync(tmp_path / "one")[0].close()
    (entry,) = _entries(shared)
    DAMAGE[damage](entry)
    reads = _count_csv_reads(monkeypatch)
    shutil.copytree(tmp_path / "one" / "comext", tmp_path / "two" / "comext")
    con, second = _sync(tmp_path / "two")
    assert len(reads) == len(PERIODS)  # every month parsed from its file
    assert second.quarantined == {}
    _same_as_read_alone(con, tmp_path / "two", tmp_path)
    (entry,) = _entries(shared)  # made again, good
    assert checked_cache.problem(entry, json.loads((entry / checked_cache.MANIFEST).read_text())) is None


def test_months_that_are_not_synthetic_stay_in_their_data_folder(tmp_path, shared):
    _world(tmp_path / "one", synthetic=False)
    con, report = _sync(tmp_path / "one")
    assert report.quarantined == {} and len(report.added) == len(PERIODS)
    assert _entries(shared) == []


def test_a_pass_with_a_quarantined_month_is_not_kept_and_is_judged_again(tmp_path, shared):
    bad = "demo:comext/SYNTHETIC_full_v2_202403.csv"
    for root in (tmp_path / "one", tmp_path / "two"):
        folder = _world(root)
        path = folder / "SYNTHETIC_full_v2_202403.csv"
        lines = path.read_text().splitlines()
        cols = lines[0].split(",")
        cells = lines[4].split(",")
        cells[cols.index("PERIOD")] = "202413"
        lines[4] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")
        con, report = _sync(root)
        assert report.quarantined == {bad: "line 5: PERIOD 202413 is not YYYYMM (or YYYY52)"}
        assert con.execute(f"SELECT count(*) FROM {TABLE} WHERE _file = ?", [bad]).fetchall() == [(0,)]
        assert con.execute(f"SELECT count(*) FROM {TABLE}").fetchall() == [((len(PERIODS) - 1) * ROWS,)]
        assert _entries(shared) == []
