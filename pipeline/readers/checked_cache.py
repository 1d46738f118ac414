"""Entries of the checkout's cache (``<repo>/.cache/``): folders of files kept between data folders, each listed
with its size and sha256 in the entry's manifest, and trusted only after checking, never by their name.

Three users: the generated demo worlds (:mod:`pipeline.demo_world.cache`), the typed Parquet conversions of the
demo world's Comtrade pages (:mod:`pipeline.sources.comtrade.reader.parquet`) and the parsed rows of its Comext
months (:mod:`pipeline.sources.comext.bulk_reader`). An entry is a pure function of its stamp (what it was made
from, and by which code), built under a temporary name beside the entries and renamed into place, so concurrent
runs never see half an entry; when two build the same entry, the first rename wins. Files are hard-linked into a
data folder (copied where the file system refuses links, and always where the data folder keeps them as its own
raw store) and checked against the manifest *after* linking, so what was checked is what the data folder holds
even if another process replaces the entry meanwhile; a damaged entry (a file missing, added, truncated or edited
in place through one of its links) is refused, and the caller builds it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from pipeline.io import sha256_of

MANIFEST = "_cache_manifest.json"
# A build or trash folder older than this is a crashed run's leftover.
LEFTOVER_SECONDS = 3600


def entry_key(stamp: dict) -> str:
    """The entry's folder name: a hash of the stamp (the stamp itself is also in the manifest and compared)."""
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:24]


def unique(folder: Path, prefix: str) -> Path:
    """A name in ``folder`` no other process or thread uses."""
    return folder / f"{prefix}{os.getpid()}-{time.monotonic_ns()}"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(root: Path, stamp: dict) -> dict:
    """List every file under ``root`` (a freshly built entry) with its size and sha256."""
    files = {p.relative_to(root).as_posix(): {"size": p.stat().st_size, "sha256": sha256_of(p)} for p in _files(root)}
    manifest = {"stamp": stamp, "files": files}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    return manifest


def read_manifest(entry: Path, stamp: dict) -> dict | None:
    """The entry's manifest if it is one for ``stamp``; None when missing, unreadable or for another stamp."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("stamp") != stamp or not isinstance(manifest.get("files"), dict):
        return None
    return manifest


def listing_problem(root: Path, manifest: dict) -> str | None:
    """Why the files under ``root`` are not exactly the manifest's list (a file missing or added), or None."""
    listed = manifest["files"]
    present = {p.relative_to(root).as_posix() for p in _files(root)}
    if present != set(listed):
        return (f"files differ from the manifest: missing {sorted(set(listed) - present)[:3]}, "
                f"extra {sorted(present - set(listed))[:3]}")
    return None


def problem(root: Path, manifest: dict, *, exact: bool = True) -> str | None:
    """Why the manifest's files under ``root`` are not the manifest's (first difference), or None when they all
    are. ``exact``: ``root`` holds no other file either (an entry); else other files are allowed (a data
    folder's cache, where the entry's files were linked among others)."""
    try:
        listed = manifest["files"]
        if exact and (listing := listing_problem(root, manifest)) is not None:
            return listing
        for rel, want in sorted(listed.items()):  # sizes first: cheap, and catch truncation
            if (root / rel).stat().st_size != want["size"]:
                return f"{rel}: size differs from the manifest"
        for rel, want in sorted(listed.items()):
            if sha256_of(root / rel) != want["sha256"]:
                return f"{rel}: sha256 differs from the manifest"
    except (OSError, KeyError, TypeError) as exc:
        return f"unreadable entry ({exc})"
    return None


def link_files(src: Path, dst: Path, names, *, copy: bool = False) -> None:
    """Hard links to ``src``'s files ``names`` (relative paths) under ``dst``, replacing files of the same name; a
    copy where a link fails (another device), or always with ``copy`` (files a data folder keeps and may have
    rewritten in place, which through a link would change the entry under every other folder linked to it)."""
    for rel in names:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        if copy:
            shutil.copyfile(src / rel, target)
            continue
        try:
            os.link(src / rel, target)
        except FileNotFoundError:
            raise  # the entry went away (replaced or pruned): a copy would fail the same way
        except OSError:
            shutil.copy2(src / rel, target)


def discard(path: Path) -> None:
    """Remove a folder others may be reading: renamed away first (atomic), then deleted."""
    trash = unique(path.parent, ".trash-")
    try:
        path.rename(trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def install(build: Path, entry: Path, stamp: dict) -> None:
    """Rename the checked ``build`` to ``entry``; an existing good entry (a concurrent build) wins, a bad one is
    replaced. ``build`` is gone afterwards either way."""
    for _ in range(3):
        try:
            build.rename(entry)
            return
        except OSError:
            if not entry.exists():
                continue
        manifest = read_manifest(entry, stamp)
        if manifest is not None and problem(entry, manifest) is None:
            break  # another run's entry arrived first and is good: keep it, drop ours
        discard(entry)
    shutil.rmtree(build, ignore_errors=True)


def prune(cache_dir: Path, keep: Path, keep_others: int) -> None:
    """Drop leftovers of crashed runs and all but the ``keep_others`` most recently used entries besides
    ``keep``."""
    now = time.time()
    entries = []
    for path in cache_dir.iterdir():
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        if path.name.startswith((".build-", ".trash-")):
            if now - mtime > LEFTOVER_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and path != keep:
            entries.append((mtime, path))
    for _, path in sorted(entries, reverse=True)[keep_others:]:
        discard(path)
