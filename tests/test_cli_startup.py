"""What a geomon command line imports before it does anything (issue 28): the commands that do not run the job start
without Dagster and the libraries of single steps, and only a line that says ``fetch`` loads the sources' fetch
commands (their clients bring httpx, rich and click: about a third of a second)."""

import json
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.pipeline  # each case starts a Python process: the imports of a fresh interpreter

PROBE = """
import json, sys
from pipeline.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""
# libraries that only the job, single steps or the fetch clients need
HEAVY = {"dagster", "polars", "pyarrow", "plotly", "xlsxwriter", "jinja2", "sqlglot", "httpx", "sqlalchemy"}


def _imported(tmp_path, *argv: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, "--data-dir", str(tmp_path / "data"), *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["snapshots", "--help"], ["status", "--help"]])
def test_help_imports_neither_dagster_nor_a_client(tmp_path, argv):
    modules = _imported(tmp_path, *argv)
    assert {m.split(".")[0] for m in modules} & HEAVY == set()
    assert not {m for m in modules if m.endswith(".fetch_cli")}


def test_only_a_fetch_line_loads_the_fetch_commands(tmp_path):
    assert not {m for m in _imported(tmp_path, "status") if m.endswith(".fetch_cli")}
    fetch = {m for m in _imported(tmp_path, "fetch", "comext", "--help") if m.endswith(".fetch_cli")}
    assert fetch == {"pipeline.sources.comtrade.fetch_cli", "pipeline.sources.comext.fetch_cli",
                     "pipeline.sources.baci.fetch_cli"}


IMPORT_PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _imported_by(module: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", IMPORT_PROBE.format(module=module)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {m.split(".")[0] for m in json.loads(proc.stderr.strip().splitlines()[-1])}


def test_the_definitions_import_no_publication_or_http_library():
    """`geomon run` imports the definitions before its first step: what only the publication (pyarrow, polars, the
    workbook and report libraries) or a fetch (httpx) uses is imported when that step runs (issue 28)."""
    assert _imported_by("pipeline.definitions") & {"pyarrow", "polars", "httpx", "plotly", "xlsxwriter",
                                                    "jinja2", "numpy"} == set()


@pytest.mark.parametrize("module", ["pipeline.publish", "pipeline.publish.snapshots", "pipeline.clients.http",
                                    "pipeline.publish.notify"])
def test_publication_and_client_modules_import_their_libraries_when_used(module):
    assert _imported_by(module) & {"pyarrow", "polars", "httpx", "sqlglot", "dagster"} == set()


@pytest.mark.parametrize("argv", [["status"], ["snapshots"]])
def test_listing_commands_import_neither_dagster_nor_the_publication_libraries(tmp_path, argv):
    """`geomon status` and `geomon snapshots` on a data folder read files: no Dagster, pyarrow, sqlglot or httpx."""
    modules = _imported(tmp_path, *argv)
    assert {m.split(".")[0] for m in modules} & HEAVY == set()
