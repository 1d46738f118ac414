"""``geomon fetch``'s progress on a terminal: a rich bar (calls done / planned, records, bytes, ETA), or a
plain line every 2 s when stderr is not a terminal. It is the reporter the fetch code advances
(pipeline/clients/progress.py)."""

from __future__ import annotations

import sys
import time


class TerminalProgress:
    """A rich progress bar (calls done / planned, records, bytes, ETA) on a TTY; plain lines otherwise."""

    def __init__(self, label: str, tty: bool, stream=None):
        self.label, self.tty = label, tty
        self.stream = stream or sys.stderr
        self.total = 0
        self.done = self.skipped = self.records = self.nbytes = 0
        self.what = "calls"
        self.locked = False
        self._bar = self._task = None
        self._last_line = 0.0
        self._started = time.monotonic()

    # context
    def __enter__(self):
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} {task.fields[what]}"),
                TextColumn("{task.fields[records]:,} records"), TextColumn("{task.fields[mb]}"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=False, refresh_per_second=4,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=max(self.total, 1), what=self.what, records=0, mb="0 B")
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._refresh()
            self._bar.stop()
        else:
            self._line(force=True)

    # the reporter interface; ``locked``: the command planned the total of all its partitions up front, so
    # each partition's own plan() is ignored, while the calls a run adds on the way (splits, listed files) count
    def plan(self, total: int, *, what: str = "calls") -> None:
        if self.locked:
            return
        self.total, self.what = total, what
        self._refresh()

    def grow(self, n: int) -> None:
        self.total += n
        self._refresh()

    def advance(self, n: int = 1, *, records: int = 0, nbytes: int = 0, skipped: bool = False) -> None:
        self.done += n
        self.skipped += n if skipped else 0
        self.records += records
        self.nbytes += nbytes
        self._refresh()

    def note(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(f"  {message}", markup=False, highlight=False)
        else:
            print(f"{self.label}: {message}", file=self.stream, flush=True)

    # drawing
    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=max(self.total, self.done, 1), completed=self.done, what=self.what,
                             records=self.records, mb=_size(self.nbytes))
        else:
            self._line()

    def _line(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_line < 2.0 and self.done < self.total:
            return
        self._last_line = now
        rate = (self.done - self.skipped) / max(now - self._started, 1e-9)
        left = max(self.total - self.done, 0)
        eta = f"{left / rate:.0f} s" if rate > 0 and left else ("0 s" if not left else "?")
        print(f"{self.label}: {self.done:,}/{self.total:,} {self.what} ({self.skipped:,} already on disk), "
              f"{self.records:,} records, {_size(self.nbytes)}, ETA {eta}", file=self.stream, flush=True)


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
