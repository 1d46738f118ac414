"""Snapshots for people who download: serve with ranges, export, retention, pins."""

import threading
import urllib.request

import polars as pl
import pytest

from conftest import copy_data
from pipeline.publish import SnapshotError, apply_retention, export_snapshot, list_snapshots, set_pinned
from pipeline.serve import make_server


@pytest.fixture(scope="module")
def published(small_publication):
    """The session's small publication (conftest), read here; the retention test runs the job on a copy."""
    return small_publication


def test_polars_reads_a_table_straight_from_the_served_url(published):
    paths = published.paths
    snapshot = paths.latest_pointer.read_text().strip()
    server = make_server(paths.snapshots, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        # a year-partitioned table is one file per year (pipeline/publish/parquet.py)
        name = "monitor.import_concentration/year=2024.parquet"
        url = f"http://127.0.0.1:{port}/{snapshot}/{name}"
        frame = pl.read_parquet(url)
        local = pl.read_parquet(paths.snapshots / snapshot / name)
        assert frame.equals(local) and frame.height > 0
        # a suffix range returns exactly the Parquet footer magic
        request = urllib.request.Request(url, headers={"Range": "bytes=-4"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 206 and response.read() == b"PAR1"
            assert response.headers["Content-Range"].endswith(f"/{(paths.snapshots / snapshot / name).stat().st_size}")
        bad = urllib.request.Request(url, headers={"Range": "bytes=999999999-"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=5)
        assert err.value.code == 416
    finally:
        server.shutdown()
        server.server_close()


def test_export_copies_and_verifies(published, tmp_path):
    target = export_snapshot(published.paths, None, tmp_path / "downloads")
    assert (target / "manifest.json").exists()
    with pytest.raises(SnapshotError, match="already exists"):
        export_snapshot(published.paths, None, tmp_path / "downloads")


def test_retention_keeps_the_newest_and_the_pinned(published, tmp_path, monkeypatch):
    published = copy_data(published.paths.root, tmp_path / "data", monkeypatch)
    paths = published.paths
    first = paths.latest_pointer.read_text().strip()
    set_pinned(paths, first, True)
    for _ in range(3):
        assert published.run(keep_snapshots=2).success
    ids = [s["snapshot_id"] for s in list_snapshots(paths)]
    assert len(ids) == 3 and first in ids  # two newest + the pinned first one
    assert ids[0] == paths.latest_pointer.read_text().strip()
    set_pinned(paths, first, False)
    assert apply_retention(paths, 2) == [first]
    with pytest.raises(SnapshotError):
        set_pinned(paths, "../../etc", True)
