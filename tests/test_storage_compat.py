"""The published geomonitor.duckdb opens in older DuckDB versions: the DuckDB CLI 1.5.6 from PyPI (which refuses
DuckDB 2.0's own storage format) gives the same answer as the project's DuckDB, views included."""

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import Runner, failure_messages, sdmx_rows
from pipeline.publish.database import STORAGE_VERSION, expected_storage_format, storage_format

# every test reads a folder the refresh job published (tests/conftest.py: the tiers)
pytestmark = pytest.mark.pipeline

CLI = Path(sys.executable).parent / "duckdb"  # the duckdb-cli package's binary, a project dependency
QUERY = ("SELECT source, year, product_code, top_supplier, top_supplier_name, round(hhi_extra, 9) AS hhi "
         "FROM views.ec_screen ORDER BY ALL")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    runner = Runner(tmp_path_factory.mktemp("compat") / "data", mp)
    runner.write("landing/comext/a.csv", sdmx_rows([("FR", "CN", "85051100", 1, "2024", 500),
                                                    ("FR", "US", "85051100", 1, "2024", 100),
                                                    ("NL", "CN", "85051100", 1, "2024", 300)]))
    result = runner.run()
    assert result.success, failure_messages(result)
    yield runner
    mp.undo()


def _cli(*args: str) -> subprocess.CompletedProcess:
    assert CLI.is_file(), f"no DuckDB CLI at {CLI}: install duckdb-cli (a project dependency)"
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60)


def test_the_cli_is_the_old_one():
    out = _cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("v1.5."), out.stdout + out.stderr


def test_published_file_is_written_in_the_old_storage_format(published):
    db = published.paths.published_db
    assert storage_format(db) == expected_storage_format(STORAGE_VERSION) == 64  # v1.0/v1.1 format


def test_cli_1_5_opens_the_file_and_agrees_with_our_duckdb(published):
    db = published.paths.published_db
    out = _cli("-readonly", "-csv", "-noheader", str(db), "-c", QUERY)
    assert out.returncode == 0, out.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        ours = con.execute(QUERY).fetchall()
    theirs = [line.split(",") for line in out.stdout.strip().splitlines()]
    assert ours and len(theirs) == len(ours)
    assert [[str(v) for v in row] for row in ours] == theirs
    # every view resolves in the old CLI too, and the README's analyst command works as written
    views = _cli("-readonly", str(db), "-csv", "-noheader", "-c",
                 "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'views'")
    assert views.returncode == 0 and int(views.stdout.strip()) >= 10, views.stderr
    count = _cli("-readonly", str(db), "-c", "select count(*) from views.eu_dependencies")
    assert count.returncode == 0, count.stderr


def test_a_rerun_keeps_the_old_format(published):
    assert published.run().success
    assert storage_format(published.paths.published_db) == 64
    assert _cli("-readonly", str(published.paths.published_db), "-c", "SELECT * FROM meta.publication").returncode == 0
