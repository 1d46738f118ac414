"""The demo files on disk: deterministic gzip, a background writer, and finding a year's files."""

from __future__ import annotations

import gzip
import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

# Fast compression: at scale 1.0, level 6 spent 40% of the run in zlib for
# ~25% smaller files. Any level is deterministic with mtime=0.
GZIP_LEVEL = 1


def _gzip_bytes(data: bytes) -> bytes:
    # mtime=0 and no file name in the header: identical inputs, identical bytes.
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


class FileSink:
    """Compresses and writes files on background threads, so zlib and disk
    overlap with building the next frame (zlib releases the GIL). The bytes
    written do not depend on timing; ``close`` re-raises any write error.

    Two threads, and writers of several sources may put files at the same time."""

    WORKERS = 2

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.WORKERS)
        self._jobs: list[Future] = []
        self._lock = threading.Lock()

    def put(self, path: Path, data: bytes, *, compress: bool) -> Path:
        with self._lock:
            self._jobs.append(self._pool.submit(self._write, path, data, compress))
            oldest = self._jobs.pop(0) if len(self._jobs) > 4 * self.WORKERS else None
        if oldest is not None:  # bound the memory held by pending files
            oldest.result()
        return path

    @staticmethod
    def _write(path: Path, data: bytes, compress: bool) -> None:
        path.write_bytes(_gzip_bytes(data) if compress else data)

    def close(self) -> None:
        try:
            for job in self._jobs:
                job.result()
        finally:
            self._pool.shutdown(wait=True)



def files_of_year(landing: Path, year: int) -> list[Path]:
    """The demo world's data files of one year under ``landing``: in each registered source's folder, the files
    its demo-world writer says are of that year (the writer names its files, so it reads their year back)."""
    from pipeline.sources import load
    from pipeline.sources.registry import SOURCES

    found = []
    for source in SOURCES:
        if source.demo_writer:
            year_of_file = load(source.demo_writer).year_of_file
            found += [p for p in Path(landing, source.name).glob("SYNTHETIC_*") if year_of_file(p.name) == year]
    return sorted(found)


def clean_generated(folder: Path) -> None:
    """Remove what an earlier run of this generator wrote (and nothing else)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.is_file() and (path.name.startswith("SYNTHETIC_") or path.name == "_release.json"):
            path.unlink()


def json_text(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"

