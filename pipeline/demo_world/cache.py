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
the other keeps its own files for its data folder and drops its copy. The entries' rules are
:mod:`pipeline.readers.checked_cache`'s, shared with the cached conversions of the world's Comtrade pages.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

from pipeline.readers.checked_cache import (MANIFEST, entry_key, install, link_files, listing_problem, problem,
                                            prune, read_manifest, unique, write_manifest)

__all__ = ["CACHE_DIR", "KEEP", "MANIFEST", "entry_key", "materialise", "problem", "read_manifest", "write_manifest"]

# Where the generated worlds are kept (git-ignored); None: no cache, every data folder generates its own.
CACHE_DIR: Path | None = Path(__file__).resolve().parents[2] / ".cache" / "demo_world"
# Worlds kept besides the one just used, the most recently used first: tests build several scales, and a default
# world is about 10 MB.
KEEP = 6


def materialise(out: Path, stamp: dict, generate: Callable[[Path], object], *, stamp_file: str,
                cache_dir: Path | None = None) -> tuple[dict, dict]:
    """Fill ``out`` (replacing it) with the world of ``stamp``: linked from a good cache entry, else generated
    (``generate(folder)`` writes the world into ``folder``) and kept in the cache; ``stamp`` is written to
    ``out/stamp_file`` (its own file, not a link). ``out`` appears whole or not at all (renamed into place).
    Returns (the world's planted.json, how: ``from_cache``, ``generated``, ``cache``: the entry or why none)."""
    out = Path(out)
    tmp = unique(out.parent, f".{out.name}.tmp-")
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
                    reason = listing_problem(entry, manifest)
                    if reason is None:
                        link_files(entry, tmp, manifest["files"])
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
                build = unique(entry.parent, ".build-")
                try:
                    generate(build)
                    manifest = write_manifest(build, stamp)
                    link_files(build, tmp, manifest["files"])
                    install(build, entry, stamp)
                finally:
                    shutil.rmtree(build, ignore_errors=True)
                if how["cache"] == "off":
                    how["cache"] = str(entry)
                prune(entry.parent, keep=entry, keep_others=KEEP)
        world = json.loads((tmp / "planted.json").read_text(encoding="utf-8"))
        (tmp / stamp_file).write_text(json.dumps(stamp), encoding="utf-8")
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return world, how
