"""New Comext CSV months read together (bulk_reader.read_months_together): one DuckDB pass for the new months of a
run, under the per-file contract of raw_store.sync_raw_table (a month whole or not at all, a bad month quarantined
alone with its file, line and reason, a changed month read again, archives still read)."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from fake_comext import month_archive, write_month
from pipeline.readers.inputs import discover
from pipeline.readers.raw_store import LEDGER, QUARANTINE, sync_raw_table
from pipeline.sources.comext import bulk_reader
from pipeline.sources.comext import reader as comext

PERIODS = [202401, 202402, 202403, 202404, 202405]
ROWS = 400


def _months(folder: Path, *, gz: int | None = 202403) -> dict[int, Path]:
    """Five generated months as Eurostat's plain .dat files, one of them gzipped."""
    paths = {}
    for i, period in enumerate(PERIODS):
        path = write_month(folder / f"full_v2_{period}.dat", period, ROWS, seed=i)
        if period == gz:
            gz_path = path.with_name(path.name + ".gz")
            gz_path.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
            path.unlink()
            path = gz_path
        paths[period] = path
    return paths


def _sync(con, folder: Path, cache: Path, *, together: bool = True):
    detect = lambda p: comext.detect(p) if comext.detect(p) in ("full_v2", "legacy") else None  # noqa: E731
    files = discover([("landing", folder)], detect)
    return sync_raw_table(con, comext.BULK_TABLE, comext.BULK_COLUMNS, files, bulk_reader.bulk_selector(cache),
                          comext.validate, comext.BULK_ROW_RULE, comext.BULK_YEAR_OF_ROW,
                          **({"read_together": bulk_reader.read_months_together} if together else {}))


def _edit(path: Path, line_no: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    cols = lines[0].split(",")
    cells = lines[line_no - 1].split(",")
    cells[cols.index(column)] = value
    lines[line_no - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def test_months_read_together_are_the_rows_of_each_month_read_alone(tmp_path):
    folder = tmp_path / "landing"
    paths = _months(folder)
    month_archive(folder, 202406, 300, seed=9)  # an archive beside them: still read through its conversion
    together, alone = duckdb.connect(str(tmp_path / "a.duckdb")), duckdb.connect(str(tmp_path / "b.duckdb"))
    report = _sync(together, folder, tmp_path / "cache_a")
    _sync(alone, folder, tmp_path / "cache_b", together=False)
    assert report.quarantined == {} and len(report.added) == 6 and report.rows_added == 5 * ROWS + 300
    alone.close()
    together.execute(f"ATTACH '{tmp_path / 'b.duckdb'}' AS one_by_one (READ_ONLY)")
    table = comext.BULK_TABLE
    for x, y in ((table, f"one_by_one.{table}"), (f"one_by_one.{table}", table)):
        assert together.execute(f"SELECT count(*) FROM (FROM {x} EXCEPT ALL FROM {y})").fetchall() == [(0,)]
    ledger = "SELECT file, format, sha256, rows, release, synthetic, years FROM {} WHERE table_name = 'raw.comext_bulk'"
    assert sorted(together.execute(ledger.format(LEDGER)).fetchall()) == \
        sorted(together.execute(ledger.format(f"one_by_one.{LEDGER}")).fetchall())
    # each month's lines are its own file's: 2 .. rows + 1, and line 7 of the gzipped month is that line's row
    spans = together.execute("SELECT _file, min(_line), max(_line), count(*) FROM raw.comext_bulk "
                             "GROUP BY _file ORDER BY _file").fetchall()
    assert [s[1:] for s in spans] == [(2, ROWS + 1, ROWS)] * 5 + [(2, 301, 300)]
    seventh = gzip.decompress(paths[202403].read_bytes()).decode().splitlines()[6].split(",")
    row = together.execute("SELECT reporter, partner, product_nc, value_eur FROM raw.comext_bulk "
                           "WHERE _file = 'landing:landing/full_v2_202403.dat.gz' AND _line = 7").fetchall()
    assert row == [(seventh[0], seventh[1], seventh[3], float(seventh[14]))]
    # the five CSV months went in in one transaction (one ledger time), the archive on its own
    times = together.execute(f"SELECT count(DISTINCT ingested_at) FILTER (WHERE format = 'full_v2' AND file NOT LIKE "
                             f"'%.7z'), count(*) FROM {LEDGER}").fetchall()
    assert times == [(1, 6)]


def _insert(path: Path, line_no: int, text: str) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[: line_no - 1] + [text] + lines[line_no - 1:]) + "\n")


BAD_MONTH = {
    # a row the row rule refuses: found after the pass, the month's rows taken out again
    "period_not_a_month": (lambda p: _edit(p, 9, "PERIOD", "202413"), 9, "PERIOD 202413 is not YYYYMM"),
    # a value DuckDB cannot read: the pass stops, names the month, which is then read alone
    "non_numeric_value": (lambda p: _edit(p, 7, "VALUE_EUR", "12x"), 7, "12x"),
    "short_row": (lambda p: _insert(p, 6, "AT,CN,E"), 6, "Expected Number of Columns"),
    "missing_column": (lambda p: p.write_text(p.read_text().replace("STAT_PROCEDURE", "STAT_PROC", 1)), 1,
                       "header lacks ['STAT_PROCEDURE']"),
}


@pytest.mark.parametrize("together", [True, False], ids=["together", "one_by_one"])
@pytest.mark.parametrize("case", sorted(BAD_MONTH))
def test_one_bad_month_among_good_ones_is_quarantined_alone(tmp_path, case, together):
    """The same quarantine (file, line, reason) and the same good months as the months read one by one."""
    folder = tmp_path / "landing"
    paths = _months(folder)
    edit, line, reason = BAD_MONTH[case]
    edit(paths[202404])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = _sync(con, folder, tmp_path / "cache", together=together)
    bad = "landing:landing/full_v2_202404.dat"
    assert list(report.quarantined) == [bad] and len(report.added) == 4
    ((file, q_line, q_reason),) = con.execute(f"SELECT file, line, reason FROM {QUARANTINE}").fetchall()
    assert (file, q_line) == (bad, line) and reason in q_reason, q_reason
    # the good months whole, nothing of the bad one
    assert con.execute("SELECT _file, count(*) FROM raw.comext_bulk GROUP BY ALL ORDER BY 1").fetchall() == \
        [(f"landing:landing/full_v2_{p}.dat{'.gz' if p == 202403 else ''}", ROWS) for p in PERIODS if p != 202404]
    assert bad not in {f for (f,) in con.execute(f"SELECT file FROM {LEDGER}").fetchall()}

    # fixed: read on the next run (its sha256 changed), the others untouched, the quarantine empty
    write_month(paths[202404], 202404, ROWS, seed=3)
    report = _sync(con, folder, tmp_path / "cache", together=together)
    assert report.added == [bad] and report.unchanged == 4 and report.quarantined == {}
    assert con.execute(f"SELECT count(*) FROM {QUARANTINE}").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM raw.comext_bulk").fetchall() == [(5 * ROWS,)]


def test_a_revised_month_is_read_again_alone(tmp_path):
    folder = tmp_path / "landing"
    paths = _months(folder, gz=None)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _sync(con, folder, tmp_path / "cache")
    before = con.execute("SELECT sum(value_eur) FROM raw.comext_bulk WHERE period = 202402").fetchall()[0][0]
    write_month(paths[202402], 202402, ROWS, seed=1, revision=1)  # ~2 % of its values move by 7 EUR
    report = _sync(con, folder, tmp_path / "cache")
    assert report.added == ["landing:landing/full_v2_202402.dat"] and report.unchanged == 4
    assert report.removed == ["landing:landing/full_v2_202402.dat"]
    after = con.execute("SELECT sum(value_eur), count(*) FROM raw.comext_bulk WHERE period = 202402").fetchall()[0]
    assert after == (before + 7 * len(range(0, ROWS, 50)), ROWS)
    assert con.execute("SELECT count(*) FROM raw.comext_bulk").fetchall() == [(5 * ROWS,)]


def test_a_month_that_stops_the_pass_unnamed_is_found_by_halving(tmp_path, monkeypatch):
    folder = tmp_path / "landing"
    paths = _months(folder)
    _edit(paths[202402], 7, "VALUE_EUR", "12x")
    monkeypatch.setattr(bulk_reader, "_named_file", lambda message, batch: None)  # as if DuckDB named no file
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = _sync(con, folder, tmp_path / "cache")
    assert list(report.quarantined) == ["landing:landing/full_v2_202402.dat"] and len(report.added) == 4
    assert con.execute(f"SELECT line FROM {QUARANTINE}").fetchall() == [(7,)]
    assert con.execute("SELECT count(*) FROM raw.comext_bulk").fetchall() == [(4 * ROWS,)]
