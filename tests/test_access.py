"""Access classes: restricted tables only with the bearer token, public ones to anyone (ranges too), every request
logged without the token; export --public holds no restricted file; the manifest marks every file's class."""

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from conftest import Runner, copy_data, sdmx_rows
from pipeline.publish import export_snapshot, verify_folder
from pipeline.catalog import access_class
from pipeline.publish.access import PUBLIC, RESTRICTED, file_classes
from pipeline.publish.snapshots import SnapshotError, snapshot_dir
from pipeline.serve import make_server, read_token

TOKEN = "t0ken-for-tests"


@pytest.fixture(scope="module")
def published(small_publication):
    """The session's small publication (conftest: one Comext file), read-only."""
    return small_publication


def _manifest(paths):
    return json.loads((snapshot_dir(paths, None) / "manifest.json").read_text())


def test_manifest_marks_every_file(published):
    manifest = _manifest(published.paths)
    for table, meta in manifest["tables"].items():
        assert meta["access"] == access_class(table), table  # as its SQL header declares
    assert manifest["tables"]["monitor.eu_dependencies"]["access"] == RESTRICTED
    assert manifest["tables"]["monitor.import_concentration"]["access"] == PUBLIC
    assert all("access" in meta for meta in manifest["files"].values())
    assert manifest["files"]["DICTIONARY.md"]["access"] == PUBLIC
    assert {"reference.countries", "reference.hs_products", "reference.domains"} <= set(manifest["tables"])


def _get(url, token=None, byte_range=None):
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}),
               **({"Range": byte_range} if byte_range else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_serve_needs_the_token_for_restricted_files_only(published, caplog, monkeypatch):
    monkeypatch.delenv("GEOMON_SERVE_QUIET", raising=False)
    paths = published.paths
    snapshot = paths.latest_pointer.read_text().strip()
    server = make_server(paths.snapshots, "127.0.0.1", 0, token=read_token({"GEOMON_SERVE_TOKEN": TOKEN}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        restricted = f"{base}/{snapshot}/monitor.eu_dependencies.parquet"
        public = f"{base}/{snapshot}/monitor.import_concentration/year=2024.parquet"  # one file per year
        with caplog.at_level(logging.INFO, logger="geomon.serve"):
            assert _get(restricted)[0] == 401
            assert _get(restricted, token="wrong")[0] == 401
            assert _get(restricted, byte_range="bytes=-4")[0] == 401
            assert _get(restricted, token=TOKEN)[0] == 200
            assert _get(restricted, token=TOKEN, byte_range="bytes=-4") == (206, b"PAR1")
            assert _get(public)[0] == 200
            assert _get(public, byte_range="bytes=-4") == (206, b"PAR1")
            assert _get(public, token=TOKEN, byte_range="bytes=-4") == (206, b"PAR1")
            # /latest/ is the snapshot LATEST names; the workbook and the report are restricted
            latest_year = f"{base}/latest/monitor.import_concentration/year=2024.parquet"
            assert _get(latest_year, byte_range="bytes=-4")[0] == 206
            assert _get(f"{base}/latest/geomonitor_{snapshot}.xlsx")[0] == 401
            assert _get(f"{base}/latest/report/index.html")[0] == 401
            assert _get(f"{base}/latest/manifest.json")[0] == 200
            # the server logs a request once it has answered it, on its own thread: give the last one a moment
            deadline = time.monotonic() + 5
            while len([r for r in caplog.records if r.name == "geomon.serve"]) < 12 and time.monotonic() < deadline:
                time.sleep(0.02)
        lines = [r.getMessage() for r in caplog.records if r.name == "geomon.serve"]
        assert len(lines) == 12
        assert any("monitor.eu_dependencies.parquet 401" in line for line in lines)
        assert any("monitor.import_concentration/year=2024.parquet 206 4" in line for line in lines)
        assert not any(TOKEN in line or "wrong" in line for line in lines)
    finally:
        server.shutdown()
        server.server_close()


def test_without_a_configured_token_restricted_files_are_never_served(published):
    server = make_server(published.paths.snapshots, "127.0.0.1", 0, token=read_token({}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/latest/monitor.eu_dependencies.parquet"
        assert _get(url)[0] == 401 and _get(url, token="")[0] == 401 and _get(url, token="None")[0] == 401
    finally:
        server.shutdown()
        server.server_close()


def _sheet_names(xlsx: Path) -> list[str]:
    with zipfile.ZipFile(xlsx) as z:
        return re.findall(r'<sheet name="([^"]+)"', z.read("xl/workbook.xml").decode())


def test_public_export_holds_no_restricted_file(published, tmp_path):
    target = export_snapshot(published.paths, None, tmp_path / "public", public_only=True)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["access"]["public_only"] is True
    assert set(file_classes(manifest).values()) == {PUBLIC}
    present = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    # a table's file, or its folder of year files (monitor.import_concentration/year=2024.parquet)
    tables = [name.split("/")[0].removesuffix(".parquet") for name in present if name.endswith(".parquet")]
    assert "monitor.eu_dependencies" not in tables and all(access_class(t) == PUBLIC for t in tables)
    assert "monitor.import_concentration/year=2024.parquet" in present and "reference.countries.parquet" in present
    assert "monitor.eu_dependencies" not in (target / "DICTIONARY.md").read_text()
    assert verify_folder(target) == []


def test_public_export_ships_public_editions_of_the_workbook_and_the_report(published, tmp_path):
    source = json.loads((snapshot_dir(published.paths, None) / "manifest.json").read_text())
    target = export_snapshot(published.paths, None, tmp_path / "public", public_only=True)
    manifest = json.loads((target / "manifest.json").read_text())
    book = next(target.glob("*.xlsx"))
    files = manifest["files"]
    # both listed with their hashes (verify checks them), public, and saying what they leave out
    for name in ("report/index.html", book.name):
        assert files[name]["access"] == PUBLIC and files[name]["edition"] == "public", name
        assert files[name]["sha256"] != source["files"][name]["sha256"], name  # not the restricted file
    assert set(manifest["access"]["public_editions"]) == {"report/index.html", book.name}
    assert files[book.name]["left_out"] == ["EU27 dependencies", "NL dependencies", "Changes", "CRMA benchmark",
                                           "CRMA rolling 12 months"]
    sheets = _sheet_names(book)
    assert "Dependence on NL" in sheets and "Domain summary" in sheets
    assert not {"EU27 dependencies", "NL dependencies", "Changes", "CRMA benchmark", "CRMA rolling 12 months"} \
        & set(sheets)
    with zipfile.ZipFile(book) as z:
        strings = z.read("xl/sharedStrings.xml").decode()
    assert ("the restricted sheets EU27 dependencies, NL dependencies, Changes, CRMA benchmark, "
            "CRMA rolling 12 months") in strings
    html = (target / "report" / "index.html").read_text()
    assert 'id="public-edition"' in html and "Dependencies (the EU27 and NL screens)" in html
    for section in ("changes", "headline", "dependencies", "product", "rolling", "supplier-loss", "crma"):
        assert f'<section id="{section}">' not in html and f'href="#{section}"' not in html, section
    assert '<section id="depends-on">' in html and '<section id="methodology">' in html
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)[1])
    assert data["products"] == {} and not any(k.startswith(("headline-", "rolling-", "crma-")) for k in data["figures"])
    assert verify_folder(target) == []
    # a changed public report no longer verifies
    (target / "report" / "index.html").write_text(html.replace("Public edition", "Public  edition"))
    assert any("report/index.html" in p for p in verify_folder(target))


def test_public_export_without_the_snapshots_database_says_why_it_has_no_workbook_or_report(
        published, tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    runner = copy_data(published.paths.root, tmp_path / "data", monkeypatch)
    runner.paths.published_db.unlink()  # as for an older snapshot: its database was replaced
    assert main(["--data-dir", str(runner.paths.root), "export", "--public", "--dest", str(tmp_path / "out")]) == 0
    assert "no public workbook or report:" in capsys.readouterr().out
    target = next((tmp_path / "out").iterdir())
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["access"]["public_editions"].startswith("none: ")
    assert not list(target.rglob("*.xlsx")) and not list(target.rglob("*.html"))
    assert verify_folder(target) == []


@pytest.mark.pipeline
def test_restricted_tables_are_a_setting(tmp_path, monkeypatch):
    runner = Runner(tmp_path / "data", monkeypatch)
    runner.write("landing/comext/a.csv", sdmx_rows([("FR", "CN", "85051100", 1, "2024", 500)]))
    assert runner.run(restricted_tables=["monitor.import_concentration"]).success
    tables = _manifest(runner.paths)["tables"]
    assert tables["monitor.import_concentration"]["access"] == RESTRICTED
    assert tables["monitor.eu_dependencies"]["access"] == PUBLIC


def test_verify_accepts_an_unambiguous_prefix(published):
    paths = published.paths
    snapshot = paths.latest_pointer.read_text().strip()
    assert snapshot_dir(paths, snapshot[:10]).name == snapshot
    with pytest.raises(SnapshotError, match="no snapshot"):
        snapshot_dir(paths, "1999")
    with pytest.raises(SnapshotError):
        snapshot_dir(paths, "../" + snapshot)
