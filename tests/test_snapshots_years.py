"""Per-year Parquet snapshots: a year-partitioned table is one file per year, an unchanged year a hard link to
the previous snapshot's file, and verify, export, serve and retention keep working on them."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from conftest import Runner, failure_messages, sdmx_rows
from pipeline.publish import apply_retention, export_snapshot, list_snapshots, verify_folder
from pipeline.serve import make_server

TABLE = "monitor.import_concentration"  # year-partitioned, public
OTHER = "monitor.supplier_dependence"  # year-partitioned, public
SECRET = "monitor.ec_screen_rolling"  # year-partitioned, restricted (no rows in this world: one empty file)
ROWS_2023 = [("FR", "CN", "85051100", 1, "2023", 400), ("FR", "US", "85051100", 1, "2023", 300)]
ROWS_2024 = [("FR", "CN", "85051100", 1, "2024", 500), ("FR", "US", "85051100", 1, "2024", 100)]
REVISED_2024 = [("FR", "CN", "85051100", 1, "2024", 50), ("FR", "US", "85051100", 1, "2024", 900)]


def _manifest(paths, snapshot_id: str) -> dict:
    return json.loads((paths.snapshots / snapshot_id / "manifest.json").read_text())


def _files(manifest: dict, table: str) -> dict[int, dict]:
    return {f["year"]: f for f in manifest["tables"][table]["files"]}


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """Three publications in one data folder: two years; the same inputs again; the 2024 file revised."""
    mp = pytest.MonkeyPatch()
    runner = Runner(tmp_path_factory.mktemp("years") / "data", mp)
    runner.write("landing/comext/y2023.csv", sdmx_rows(ROWS_2023))
    runner.write("landing/comext/y2024.csv", sdmx_rows(ROWS_2024))
    ids = []
    for revise in (False, False, True):
        if revise:
            runner.write("landing/comext/y2024.csv", sdmx_rows(REVISED_2024))
        result = runner.run()
        assert result.success, failure_messages(result)
        ids.append(runner.paths.latest_pointer.read_text().strip())
    yield runner, ids
    mp.undo()


@pytest.mark.pipeline
def test_a_year_partitioned_table_is_one_file_per_year_that_readers_see_as_one_table(three):
    runner, (first, _, last) = three
    assert all(f["linked"] is False for f in _manifest(runner.paths, first)["tables"][TABLE]["files"])
    # the latest snapshot, which the analysts' file holds too
    manifest = _manifest(runner.paths, last)
    assert manifest["format_version"] == 2
    meta = manifest["tables"][TABLE]
    assert meta["partitioning"] == "year" and meta["file"] == f"{TABLE}/*.parquet"
    assert sorted(f["file"] for f in meta["files"]) == [f"{TABLE}/year=2023.parquet", f"{TABLE}/year=2024.parquet"]
    assert sum(f["rows"] for f in meta["files"]) == meta["rows"] > 0
    assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in meta["files"])
    folder = runner.paths.snapshots / last
    glob = str(folder / meta["file"])
    with runner.published() as con:
        published = con.execute(f"DESCRIBE {TABLE}").fetchall()
        con.execute(f"CREATE TEMP VIEW snap AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")
        # the year column keeps its type and values: the files hold it, the file names only repeat it
        assert [r[:2] for r in con.execute("DESCRIBE snap").fetchall()] == [r[:2] for r in published]
        assert con.execute(f"SELECT count(*) FROM (SELECT * FROM snap EXCEPT ALL SELECT * FROM {TABLE})").fetchall() \
            == con.execute(f"SELECT count(*) FROM (SELECT * FROM {TABLE} EXCEPT ALL SELECT * FROM snap)").fetchall() \
            == [(0,)]
        years = sorted(y for (y,) in con.execute(f"SELECT DISTINCT year FROM {TABLE}").fetchall())
    table = ds.dataset(folder / TABLE, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == meta["rows"] and table.schema.field("year").type == pa.int32()
    assert sorted(set(table.column("year").to_pylist())) == years == [2023, 2024]


@pytest.mark.pipeline
def test_unchanged_years_are_hard_links_and_a_changed_year_is_written(three):
    runner, (first, second, third) = three
    paths = runner.paths
    for table in (TABLE, OTHER):
        before, same, revised = (_files(_manifest(paths, s), table) for s in (first, second, third))
        # the same inputs again: every year the same inode as the first snapshot's file
        for year, entry in same.items():
            assert entry["linked"] is True and entry["reused_from"] == first, (table, year)
            assert entry["sha256"] == before[year]["sha256"], (table, year)
            assert os.stat(paths.snapshots / second / entry["file"]).st_ino == \
                os.stat(paths.snapshots / first / before[year]["file"]).st_ino
        # 2024 revised: written again (other bytes), 2023 still linked
        assert revised[2023]["linked"] is True and revised[2024]["linked"] is False, table
        assert revised[2024]["sha256"] != before[2024]["sha256"], table
        assert os.stat(paths.snapshots / third / revised[2024]["file"]).st_ino != \
            os.stat(paths.snapshots / first / before[2024]["file"]).st_ino
    for snapshot in (first, second, third):
        assert verify_folder(paths.snapshots / snapshot) == [], snapshot
    # the listing says how much of each snapshot is shared with the one before: none of the first, every
    # year file of the second, the 2023 files of the third
    listed = {s["snapshot_id"]: s["linked_bytes"] for s in list_snapshots(paths)}
    year_files = {s: [f for m in _manifest(paths, s)["tables"].values() for f in m.get("files", [])]
                  for s in (second, third)}
    assert listed[first] == 0
    assert listed[second] == sum(f["bytes"] for f in year_files[second] if f["year"] is not None) > 0
    assert listed[third] == sum(f["bytes"] for f in year_files[third] if f["year"] == 2023) > 0


@pytest.mark.pipeline
def test_export_and_serve_per_year_files_with_their_access_class(three, tmp_path):
    runner, (*_, third) = three
    public = export_snapshot(runner.paths, None, tmp_path / "public", public_only=True)
    assert (public / TABLE / "year=2024.parquet").is_file() and not (public / SECRET).exists()
    assert verify_folder(public) == []
    whole = export_snapshot(runner.paths, None, tmp_path / "whole")
    assert (whole / SECRET / "empty.parquet").is_file() and verify_folder(whole) == []
    server = make_server(runner.paths.snapshots, "127.0.0.1", 0, token=b"t0ken")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/latest"
        request = urllib.request.Request(f"{base}/{TABLE}/year=2024.parquet", headers={"Range": "bytes=-4"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 206 and response.read() == b"PAR1"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/{SECRET}/empty.parquet", timeout=5)
        assert refused.value.code == 401
        # polars reads a served year straight from its URL
        assert pl.read_parquet(f"{base}/{TABLE}/year=2023.parquet").height == \
            _files(_manifest(runner.paths, third), TABLE)[2023]["rows"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.pipeline
def test_deleting_the_snapshot_a_file_was_linked_from_leaves_the_kept_one_whole(three):
    runner, (first, second, third) = three
    linked = runner.paths.snapshots / third / _files(_manifest(runner.paths, third), TABLE)[2023]["file"]
    assert os.stat(linked).st_nlink == 3  # the first snapshot's file, linked by the second and the third
    assert sorted(apply_retention(runner.paths, 1)) == [first, second]
    assert os.stat(linked).st_nlink == 1 and verify_folder(runner.paths.snapshots / third) == []


@pytest.mark.pipeline
def test_where_the_filesystem_refuses_links_an_unchanged_year_is_copied(three, monkeypatch):
    runner, (*_, third) = three

    def refuse(*_args, **_kwargs):
        raise PermissionError("hard links not permitted here")

    monkeypatch.setattr("pipeline.publish.parquet.os.link", refuse)
    result = runner.run()
    assert result.success, failure_messages(result)
    fourth = runner.paths.latest_pointer.read_text().strip()
    before, after = _files(_manifest(runner.paths, third), TABLE), _files(_manifest(runner.paths, fourth), TABLE)
    for year, entry in after.items():
        assert entry["linked"] is False and entry["reused_from"] == third and entry["sha256"] == before[year]["sha256"]
        assert os.stat(runner.paths.snapshots / fourth / entry["file"]).st_ino != \
            os.stat(runner.paths.snapshots / third / entry["file"]).st_ino
    assert verify_folder(runner.paths.snapshots / fourth) == []
