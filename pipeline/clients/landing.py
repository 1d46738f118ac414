"""What the two fetch stores (Comtrade pages, Comext files) share: small JSON state files, the release
sidecar the readers understand, and moving replaced files to an archive folder.

Archived files go to ``<archive root>/<UTC stamp>/<relative path>``, outside the folder the readers scan, so
a replaced version is never read twice and stays available for comparison.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from pipeline.io import atomic_write_bytes
from pipeline.paths import SIDECAR


def utc_stamp() -> str:
    """A folder name that sorts by time and does not repeat within a process (microseconds)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def write_json(path: Path, obj: Any) -> None:
    # sorted and indented: state files are read by people comparing runs
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True).encode("utf-8"))


def write_sidecar(folder: Path, meta: dict) -> None:
    """``folder/_release.json`` = ``meta``; left alone when it already says that (its mtime stays)."""
    path = Path(folder) / SIDECAR
    if read_json(path, None) != meta:
        write_json(path, meta)


def archive_files(archive_root: Path, files: Mapping[str, Path], note: dict | None = None) -> Path | None:
    """Move ``{relative path: file}`` into a new ``archive_root/<stamp>/`` folder, with ``note`` (why) as
    ``_reason.json`` beside them; returns the folder, None when there is nothing to move."""
    if not files:
        return None
    target = Path(archive_root) / utc_stamp()
    target.mkdir(parents=True, exist_ok=True)
    if note is not None:
        write_json(target / "_reason.json", {**note, "files": sorted(Path(rel).name for rel in files)})
    for rel, path in files.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), str(target / rel))
    return target
