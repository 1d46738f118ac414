"""Finding input files and what release each one stands for.

An input folder may hold a ``_release.json`` sidecar::

    {"synthetic": false, "release": "default label", "files": {"name.csv": "label"}}

The demo-world generator writes one with ``"synthetic": true``; that flag is
what marks every row read from the folder as synthetic downstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.io import sha256_of
from pipeline.paths import SIDECAR


class InputError(Exception):
    """A source file that cannot be read as what it claims to be."""


@dataclass(frozen=True)
class InputFile:
    path: Path
    label: str  # stable name used in raw tables, e.g. "landing:comext/full_v2_202401.csv"
    fmt: str
    release: str
    synthetic: bool
    sha256: str
    size: int


def _sidecar(folder: Path) -> dict:
    sidecar = folder / SIDECAR
    if not sidecar.exists():
        return {}
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{sidecar}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise InputError(f"{sidecar}: expected a JSON object")
    return meta


def discover(folders: list[tuple[str, Path]], detect) -> list[InputFile]:
    """All readable files under the given (kind, folder) pairs.

    ``detect(path)`` returns a format name, or None for files that are not
    data (sidecars, READMEs). Hidden and temporary files are ignored so that a
    half-written download (``.part``) is never read.
    """
    found: list[InputFile] = []
    for kind, folder in folders:
        if not folder.is_dir():
            continue
        meta = _sidecar(folder)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.name
            if name.startswith((".", "_")) or name.endswith((".part", ".tmp")):
                continue
            fmt = detect(path)
            if fmt is None:
                continue
            rel = path.relative_to(folder).as_posix()
            release = meta.get("files", {}).get(rel) or meta.get("release") or f"{rel} (release not stated)"
            found.append(
                InputFile(
                    path=path,
                    label=f"{kind}:{folder.name}/{rel}",
                    fmt=fmt,
                    release=release,
                    synthetic=bool(meta.get("synthetic", False)),
                    sha256=sha256_of(path),
                    size=path.stat().st_size,
                )
            )
    return found


def first_line(path: Path) -> str:
    """The header line of a text file, gzip-aware; used only to tell layouts apart."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:
            return fh.readline().strip()
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read the first line ({exc})") from exc
