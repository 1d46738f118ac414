"""The publication's own cost (issue 28): the report is rendered once per run, and the writers that run side by
side publish what one after the other published, and still nothing when one of them fails."""

import hashlib
import json
import os
import sys

import pytest

from conftest import copy_data, failure_messages, materializations, sdmx_rows

pytestmark = pytest.mark.pipeline


def _digest(root) -> dict[str, str]:
    """Every published byte: the analysts' file, the snapshots, LATEST and the data folder's report."""
    files = [root / "geomonitor.duckdb", *sorted((root / "snapshots").rglob("*")), *sorted((root / "report").rglob("*"))]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


MORE = sdmx_rows([("DE", "US", "85051100", 1, "2024", 300)])


@pytest.fixture(scope="module")
def watched_run(small_publication, tmp_path_factory):
    """One run on a copy of the session's small publication with one more file, watched two ways at once: every
    report render counted, and the workbook worker started through a command that records its pid (two tests
    read it; each ran the same job for itself before). The spies are undone before the tests read it."""
    import pipeline.publish.workbook_process
    import pipeline.report

    folder = tmp_path_factory.mktemp("watched")
    rendered, pid_file = [], folder / "worker.pid"
    write_report = pipeline.report.write_report

    def counting(database, target, **kwargs):
        rendered.append(target)
        return write_report(database, target, **kwargs)

    recording = [sys.executable, "-c", f"import os, runpy; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
                 "runpy.run_module('pipeline.publish.workbook_process', run_name='__main__')"]
    with pytest.MonkeyPatch.context() as mp:
        runner = copy_data(small_publication.paths.root, folder / "data", mp)
        runner.write("landing/comext/more.csv", MORE)
        mp.setattr(pipeline.report, "write_report", counting)
        mp.setattr(pipeline.publish.workbook_process, "worker_command", lambda: recording)
        result = runner.run()
    return runner, result, rendered, pid_file


def test_a_run_renders_the_report_once_and_the_data_folder_gets_the_snapshots_bytes(watched_run, tmp_path):
    from pipeline.report import write_report

    runner, result, rendered, _ = watched_run
    assert result.success, failure_messages(result)
    # the publisher renders into the snapshot; the monitor_report step copies those bytes, checked against
    # the manifest, instead of rendering the same database a second time
    assert len(rendered) == 1, rendered
    latest = runner.paths.latest_pointer.read_text().strip()
    snapshot = runner.paths.snapshots / latest
    assert rendered[0].parent.parent.name == f".tmp-{latest}"
    listed = json.loads((snapshot / "manifest.json").read_text())["files"]["report/index.html"]
    data_copy = runner.paths.root / "report" / "index.html"
    assert hashlib.sha256(data_copy.read_bytes()).hexdigest() == listed["sha256"]
    assert data_copy.read_bytes() == (snapshot / "report" / "index.html").read_bytes()
    meta = materializations(result)["publish/monitor_report"]
    assert meta["snapshot_id"] == latest and meta["matches_snapshot_copy"] is True and meta["sha256"] == listed["sha256"]
    assert meta["written"] == "copied from the snapshot"
    # the figures the step reports are those of the page: a render of the published file gives the same
    page = write_report(runner.paths.published_db, tmp_path / "again.html")
    assert page.sha256 == listed["sha256"]
    assert meta["dependency_table_rows"] == page.table_rows and meta["synthetic"] == page.synthetic
    assert meta["products_with_supplier_chart"] == page.products_charted
    assert meta["supplier_share_mismatches"] == len(page.share_mismatches)


def test_the_snapshots_page_is_copied_only_when_it_is_the_manifests_and_of_the_published_file(
        small_publication, tmp_path, monkeypatch):
    """The copy is taken only when the snapshot's page has the manifest's checksum, the render it comes with is
    of that snapshot and the published file holds it; otherwise the step renders the published file as before."""
    from pipeline.publish.report_files import copy_latest_report, report_summary
    from pipeline.report import write_report

    runner = copy_data(small_publication.paths.root, tmp_path / "data", monkeypatch)
    paths = runner.paths
    page = paths.snapshots / paths.latest_pointer.read_text().strip() / "report" / "index.html"
    summary = report_summary(write_report(paths.published_db, tmp_path / "render.html"))
    assert copy_latest_report(paths, None) is None
    assert copy_latest_report(paths, {**summary, "snapshot_id": "20200101T000000Z"}) is None
    copied = copy_latest_report(paths, summary)
    assert copied is not None and copied.copied and copied.matches_snapshot
    assert (paths.root / "report" / "index.html").read_bytes() == page.read_bytes()
    assert copied.result.table_rows == summary["table_rows"] and copied.result.sha256 == summary["sha256"]
    assert copied.result.dependent_by_domain == write_report(paths.published_db, tmp_path / "b.html").dependent_by_domain
    (paths.root / "report" / "index.html").unlink()
    page.write_bytes(page.read_bytes().replace(b"</html>", b"<!-- changed --></html>"))
    assert copy_latest_report(paths, summary) is None and not (paths.root / "report" / "index.html").exists()


def test_a_writer_failing_beside_the_others_publishes_nothing(small_publication, tmp_path, monkeypatch):
    """The workbook (in its own process), the report and the Parquet files are written side by side: one failing
    leaves every published byte as it was and no temporary behind, and the next run publishes."""
    import pipeline.publish.workbook_process

    runner = copy_data(small_publication.paths.root, tmp_path / "data", monkeypatch)
    runner.write("landing/comext/more.csv", MORE)
    before = _digest(runner.paths.root)
    broken = [sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit('disk full while writing the workbook')"]

    with monkeypatch.context() as patch:
        patch.setattr(pipeline.publish.workbook_process, "worker_command", lambda: broken)
        failed = runner.run()
    assert not failed.success and "disk full while writing the workbook" in failure_messages(failed)
    assert _digest(runner.paths.root) == before
    assert list(runner.paths.root.glob(".geomonitor.duckdb.tmp-*")) == []
    assert list(runner.paths.snapshots.glob(".tmp-*")) == []
    again = runner.run()
    assert again.success, failure_messages(again)
    assert _digest(runner.paths.root) != before


def test_the_workbook_is_written_by_a_process_of_its_own(watched_run):
    """The workbook's cells are written in another Python process (xlsxwriter is Python, and beside the report
    in one process they took turns on the GIL), started as the publication starts; the entry it hands back is
    the manifest's."""
    import openpyxl

    runner, result, _, pid_file = watched_run
    assert result.success, failure_messages(result)
    assert int(pid_file.read_text()) != os.getpid()
    latest = runner.paths.latest_pointer.read_text().strip()
    manifest = json.loads((runner.paths.snapshots / latest / "manifest.json").read_text())
    name = f"geomonitor_{latest}.xlsx"
    entry, book = manifest["files"][name], runner.paths.snapshots / latest / name
    assert entry["sha256"] == hashlib.sha256(book.read_bytes()).hexdigest() and entry["bytes"] == book.stat().st_size
    sheets = openpyxl.load_workbook(book, read_only=True).sheetnames
    assert sheets[:2] == ["README", "Columns"] and set(entry["sheets"]) <= set(sheets)
