"""What sqlglot read from the SQL models, kept on disk between processes (used by pipeline/sql_models.py: load_models).

Parsing every model with sqlglot cost each process that imports pipeline.definitions (every ``geomon`` command, every
pytest worker) about half a CPU-second. What the loader derives from a parse (a model's tables, the functions it
calls, the columns it produces given its upstream tables' columns, the columns a changes screen's filter names) is a
pure function of text, so it is stored under the sha256 of that text, in one JSON file stamped with a version: the
sqlglot version and the loader's own code. Either changing starts an empty cache.

Only facts are stored, never a verdict: every check (unknown tables, cycles, grain columns, contracts) runs on every
load, and the loader saves only after a load that raised nothing. Any problem with the file (missing, unreadable, not
JSON, a fact of the wrong shape, a folder that cannot be written) only costs the parse. A save writes a temporary
file in the same folder and renames it over the old one, so parallel processes (pytest workers) never read half a
file; the last writer wins, which only costs the loser's new facts.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

FILE = "facts.json"
# Facts kept besides the ones the last load used, newest last: tests load toy model folders too, and those must not
# push the project's models out; a bound keeps the file small (2000 facts is about 300 kB, read in a few ms).
MAX_FACTS = 2000


class FactCache:
    """Facts by the text they were derived from, read once from ``folder`` and saved when a load added some."""

    def __init__(self, folder: Path | None, version: str):
        self.folder = folder
        self.version = version
        self._stored: dict[str, dict] | None = None
        self._used: dict[str, dict] = {}
        self._added = False

    def _read(self) -> dict[str, dict]:
        if self.folder is None:
            return {}
        try:
            data = json.loads((self.folder / FILE).read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != self.version or not isinstance(data.get("facts"), dict):
            return {}
        return data["facts"]

    def get(self, text: str, compute: Callable[[], dict], valid: Callable[[object], bool]) -> dict:
        """The fact stored for ``text`` if it has the right shape (``valid``), else ``compute()``'s, kept for saving.
        An exception from ``compute`` passes through and nothing is kept."""
        if self._stored is None:
            self._stored = self._read()
        key = hashlib.sha256(text.encode()).hexdigest()
        fact = self._used[key] if key in self._used else self._stored.get(key)
        if not valid(fact):
            fact = compute()
            self._added = True
        self._used[key] = fact
        return fact

    def save(self) -> None:
        """Write the facts used since the cache was read, over the file's others, if any fact was new."""
        if self.folder is None or not self._added:
            return
        others = {k: v for k, v in self._read().items() if k not in self._used}  # what other processes added since
        facts = {**others, **self._used}
        facts = dict(list(facts.items())[-MAX_FACTS:])
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=self.folder, prefix=".facts-", suffix=".tmp")
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from the checkout's other users
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"version": self.version, "facts": facts}, out)
            os.replace(tmp, self.folder / FILE)
        except OSError:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self._added = False
