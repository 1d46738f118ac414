"""The snapshot's workbook, written in a Python process of its own (issue 28).

xlsxwriter writes every cell in Python (86,570 cells on the embedded default, about 1 CPU-s) and the report
renders in Python too: in two threads of one process they took turns on the GIL. The worker is started when
the publication starts, imports polars and xlsxwriter while the analysts' file is written, and writes the
workbook as soon as that file is described, beside the report. It is a fresh interpreter (``python -m``, not
a fork): it holds none of the publisher's DuckDB connections, and opens the new file read-only, as the report
does. A failing worker fails the publication, which then publishes nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline import catalog, sql_models
from pipeline.io import sha256_of
from pipeline.paths import REPO_ROOT
from pipeline.publish.access import PUBLIC, strictest

RESULT = "workbook-result: "  # the line of the worker's output that carries its manifest entry


class WorkbookError(RuntimeError):
    """The workbook worker failed; its message is the worker's last line of errors."""


def worker_command() -> list[str]:
    """The worker: this interpreter, running this module (imports first, then waits for its job on stdin)."""
    return [sys.executable, "-m", __name__]


class WorkbookProcess:
    """A started worker: ``write(...)`` hands it the job and waits for the entry; ``close()`` ends it if it
    still runs (a publication that failed before the job was sent)."""

    def __init__(self) -> None:
        # cwd: the checkout this code is in, so that `-m` imports this very package whatever the caller's cwd
        self._process = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, cwd=REPO_ROOT, text=True)

    def write(self, database: Path, folder: Path, manifest: dict, access: dict[str, str]) -> dict:
        # the model folders beside dbt_like_sql the publisher read: the worker's sheets and column meanings must
        # come from the same table declarations, not from what a fresh interpreter finds by default
        job = {"database": str(Path(database).resolve()), "folder": str(Path(folder).resolve()),
               "manifest": manifest, "access": access,
               "model_dirs": [str(Path(d).resolve()) for d in sql_models.EXTRA_MODEL_DIRS]}
        out, err = self._process.communicate(json.dumps(job))
        lines = [line for line in out.splitlines() if line.startswith(RESULT)]
        if self._process.returncode != 0 or not lines:
            last = (err.strip().splitlines() or [f"exit status {self._process.returncode}"])[-1]
            raise WorkbookError(f"the workbook writer failed: {last}")
        return json.loads(lines[-1][len(RESULT):])

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()


def workbook_file(database: Path, folder: Path, manifest: dict, access: dict[str, str]) -> dict:
    """The workbook of the sheets' tables, in the strictest class of those tables, and its manifest entry."""
    # polars and xlsxwriter are imported when a workbook is written, not by every `geomon` command
    from pipeline.publish.excel import workbook_name, write_workbook

    shown = [access[t] for t, _ in catalog.sheets().values() if t in access]
    shown_class = strictest(shown) if shown else PUBLIC
    path = folder / workbook_name(manifest["snapshot_id"])
    written = write_workbook(database, path, manifest, shown_class)
    return {path.name: {"bytes": path.stat().st_size, "sha256": sha256_of(path), "access": shown_class,
                        "sheets": written["sheets"], "seconds": written["seconds"]}}


def main() -> None:
    import gc

    import pipeline.publish.excel  # noqa: F401  (the imports, while the publisher writes the analysts' file)

    catalog.sheets()
    gc.freeze()  # the modules just imported live as long as the worker: the collections while it writes skip them
    job = json.loads(sys.stdin.read())
    sql_models.EXTRA_MODEL_DIRS = tuple(Path(d) for d in job["model_dirs"])
    entry = workbook_file(Path(job["database"]), Path(job["folder"]), job["manifest"], job["access"])
    print(RESULT + json.dumps(entry), flush=True)
    gc.freeze()  # the publisher waits for the exit: the interpreter's last collection skips what is frozen


if __name__ == "__main__":
    main()
