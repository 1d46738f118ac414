"""Where things live on disk.

Two kinds of location:

* shipped with the code (read-only): reference data, the embedded real sample,
  the SQL models. They sit next to the package, so they are found from
  ``__file__`` and never depend on the environment.
* generated (writable): everything below the data directory. It defaults to
  ``<repo>/data`` and is moved as a whole by ``GEOMON_DATA_DIR`` (or the CLI's
  ``--data-dir``). Runs get it from the ``data`` resource (``DataFolder``,
  ``EnvVar("GEOMON_DATA_DIR")`` in the definitions); otherwise the variable is
  the one pipeline/settings.py read, never at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# the variable moving the data folder and the input folders are settings, declared there; importable from
# here too, beside the folders they name
from pipeline.settings import DATA_DIR_ENV, INPUT_FOLDERS, environment  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT / "data" / "reference"
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
SQL_DIR = REPO_ROOT / "dbt_like_sql"

# An input folder's release sidecar (pipeline/readers/inputs.py); the fetch stores write one.
SIDECAR = "_release.json"
# The HTML report, inside a snapshot folder (listed under the manifest's "files") and inside the data folder.
REPORT_FILE = "report/index.html"


@dataclass(frozen=True)
class DataPaths:
    """Every generated location, derived from one root."""

    root: Path

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike | None = None) -> "DataPaths":
        """Explicit argument, else ``$GEOMON_DATA_DIR`` (as pipeline.settings read it), else ``<repo>/data``."""
        chosen = data_dir or environment().data_dir or (REPO_ROOT / "data")
        return cls(Path(chosen).expanduser().resolve())

    # inputs a user drops in
    @property
    def landing(self) -> Path:
        return self.root / "landing"

    # what the API clients fetched (pages, bulk files), kept raw so reruns resume
    @property
    def raw_downloads(self) -> Path:
        return self.root / "raw"

    def api_dir(self, source: str) -> Path:
        """Where a source's fetch assets keep what they downloaded: its 'api' input folder."""
        return self.raw_downloads / source

    # synthetic demo-world files, regenerated deterministically
    @property
    def demo(self) -> Path:
        return self.root / "demo"

    # private working state: only the pipeline opens these
    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def warehouse(self) -> Path:
        return self.work / "warehouse.duckdb"

    @property
    def duckdb_temp(self) -> Path:
        return self.work / "duckdb_tmp"

    # what users read; only the publisher writes here
    @property
    def published_db(self) -> Path:
        # Not "monitor.duckdb": DuckDB names the catalog after the file, and a
        # catalog called like the `monitor` schema makes `monitor.x` ambiguous.
        return self.root / "geomonitor.duckdb"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def latest_pointer(self) -> Path:
        return self.snapshots / "LATEST"

    def source_dirs(self, source: str, sources: list[str]) -> list[tuple[str, Path]]:
        """(kind, folder) pairs holding one registered source's files, in reading order."""
        folders = {"sample": SAMPLE_DIR, "demo": self.demo, "landing": self.landing, "api": self.raw_downloads}
        return [(kind, folders[kind] / source) for kind in INPUT_FOLDERS if kind in sources]
