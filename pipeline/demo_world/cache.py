"""One generated demo world per stamp, kept between data folders and linked into each.

The demo world is a pure function of its stamp (scale, years, the generator's sha256), so a fresh data folder, a
second checkout's run or a pytest worker need not generate it again (3 s of ``geomon run`` on the default world):
the first generation is kept under ``<repo>/.cache/demo_world/<key>/`` (git-ignored, like the SQL loader's cache)
and every data folder gets hard links to its files (copies where the file system refuses links).

An entry is trusted only after checking, never by its name: its ``_cache_manifest.json`` lists every file with
its size and sha256, and the files linked into a data folder are checked against it *after* linking, so what was
checked is exactly what the data folder holds even if another process replaces the entry meanwhile. A damaged or
partial entry (a file missing, added, truncated or edited in place through one of its links) is never used: the
world is generated again and replaces it. Entries are built under a temporary name in the cache folder and renamed
into place, so concurrent runs never see half an entry; when two build the same world, the first rename wins and
the other keeps its own files for its data folder and drops its copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from pipeline.io import sha256_of

# Where the generated worlds are kept (git-ignored); None: no cache, every data folder generates its own.
CACHE_DIR: Path | None = Path(__file__).resolve().parents[2] / ".cache" / "demo_world"
MANIFEST = "_cache_manifest.json"
# Worlds kept besides the one just used, the most recently used first: tests build several scales, and a default
# world is about 10 MB.
KEEP = 6
# A build or trash folder older than this is a crashed run's leftover.
LEFTOVER_SECONDS = 3600


def entry_key(stamp: dict) -> str:
    """The entry's folder name: a hash of the stamp (the stamp itself is also in the manifest and compared)."""
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:24]


def _unique(folder: Path, prefix: str) -> Path:
    return folder / f"{prefix}{os.getpid()}-{time.monotonic_ns()}"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(root: Path, stamp: dict) -> dict:
    """List every file of a freshly generated world with its size and sha256."""
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


def _listing_problem(root: Path, manifest: dict) -> str | None:
    listed = manifest["files"]
    present = {p.relative_to(root).as_posix() for p in _files(root)}
    if present != set(listed):
        return (f"files differ from the manifest: missing {sorted(set(listed) - present)[:3]}, "
                f"extra {sorted(present - set(listed))[:3]}")
    return None


def problem(root: Path, manifest: dict) -> str | None:
    """Why the files under ``root`` are not the manifest's (first difference), or None when they all are."""
    try:
        listed = manifest["files"]
        if (listing := _listing_problem(root, manifest)) is not None:
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


def _link_tree(src: Path, dst: Path, manifest: dict) -> None:
    """Hard links to the manifest's files of ``src`` under ``dst``; a copy where a link fails (another device)."""
    for rel in manifest["files"]:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src / rel, target)
        except FileNotFoundError:
            raise  # the entry went away (replaced or pruned): a copy would fail the same way
        except OSError:
            shutil.copy2(src / rel, target)


def _discard(path: Path) -> None:
    """Remove a folder others may be reading: renamed away first (atomic), then deleted."""
    trash = _unique(path.parent, ".trash-")
    try:
        path.rename(trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _install(build: Path, entry: Path, stamp: dict) -> None:
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
        _discard(entry)
    shutil.rmtree(build, ignore_errors=True)


def _prune(cache_dir: Path, keep: Path) -> None:
    """Drop leftovers of crashed runs and all but the ``KEEP`` most recently used entries besides ``keep``."""
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
    for _, path in sorted(entries, reverse=True)[KEEP:]:
        _discard(path)


def materialise(out: Path, stamp: dict, generate: Callable[[Path], object], *, stamp_file: str,
                cache_dir: Path | None = None) -> tuple[dict, dict]:
    """Fill ``out`` (replacing it) with the world of ``stamp``: linked from a good cache entry, else generated
    (``generate(folder)`` writes the world into ``folder``) and kept in the cache; ``stamp`` is written to
    ``out/stamp_file`` (its own file, not a link). ``out`` appears whole or not at all (renamed into place).
    Returns (the world's planted.json, how: ``from_cache``, ``generated``, ``cache``: the entry or why none)."""
    out = Path(out)
    tmp = _unique(out.parent, f".{out.name}.tmp-")
    shutil.rmtree(tmp, ignore_errors=True)
    how = {"from_cache": False, "generated": False, "cache": "off"}
    entry = None
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            entry = cache_dir / entry_key(stamp)
        except OSError as exc:
            how["cache"] = f"unusable ({exc})"
    try:
        if entry is not None:
            manifest = read_manifest(entry, stamp)
            if manifest is not None:
                try:
                    # an entry with a file more or less than its manifest is damaged, even if the data folder
                    # would only get the listed ones
                    reason = _listing_problem(entry, manifest)
                    if reason is None:
                        _link_tree(entry, tmp, manifest)
                        reason = problem(tmp, manifest)  # what this data folder now holds, not the entry's name
                except (OSError, KeyError, TypeError) as exc:
                    reason = f"cannot link ({exc})"
                if reason is None:
                    os.utime(entry)  # most recently used: pruned last
                    how.update(from_cache=True, cache=str(entry))
                else:
                    shutil.rmtree(tmp, ignore_errors=True)
                    how["cache"] = f"entry refused: {reason}"
            elif entry.exists():
                how["cache"] = "entry refused: no manifest for this stamp"
        if not how["from_cache"]:
            how["generated"] = True
            if entry is None:
                generate(tmp)
            else:
                build = _unique(entry.parent, ".build-")
                try:
                    generate(build)
                    manifest = write_manifest(build, stamp)
                    _link_tree(build, tmp, manifest)
                    _install(build, entry, stamp)
                finally:
                    shutil.rmtree(build, ignore_errors=True)
                if how["cache"] == "off":
                    how["cache"] = str(entry)
                _prune(entry.parent, keep=entry)
        world = json.loads((tmp / "planted.json").read_text(encoding="utf-8"))
        (tmp / stamp_file).write_text(json.dumps(stamp), encoding="utf-8")
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return world, how
