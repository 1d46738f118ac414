"""Progress of a fetch: calls done of planned, records, bytes. The clients report to whatever ``current()``
returns; the default does nothing, so a Dagster run (UI, sensor, ``geomon run``) pays nothing for it.

``geomon fetch`` installs a reporter around the in-process materialization of the fetch asset
(``with reporting(bar): ...``): a rich progress bar on a terminal, plain log lines otherwise
(pipeline/cli/fetch.py). The asset code is the same either way; only the reporter differs.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class Progress:
    """The reporter interface (and the do-nothing default)."""

    def plan(self, total: int, *, what: str = "calls") -> None:
        """The number of units planned so far (may grow: a full Comtrade page is split into more calls)."""

    def grow(self, n: int) -> None:
        """``n`` more units planned."""

    def advance(self, n: int = 1, *, records: int = 0, nbytes: int = 0, skipped: bool = False) -> None:
        """``n`` units done (``skipped``: already on disk, no request), with the records and bytes they brought."""

    def note(self, message: str) -> None:
        """A line worth showing beside the bar (a split, a retry storm, a stop)."""


_NULL = Progress()
_lock = threading.Lock()
_current: Progress = _NULL


def current() -> Progress:
    return _current


@contextmanager
def reporting(progress: Progress) -> Iterator[Progress]:
    """Make ``progress`` the reporter of this process for the block."""
    global _current
    with _lock:
        previous, _current = _current, progress
    try:
        yield progress
    finally:
        with _lock:
            _current = previous
