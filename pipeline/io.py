"""Small file and SQL helpers every layer shares: atomic writes, file digests and SQL string literals.

A file another process may read (a raw page, a Parquet cache, the report, a pointer) is
written next to its final name and renamed over it, so a reader sees the old file or the
new one, never half of one, and a crash leaves only a hidden ``.tmp`` behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def _publishable_mode(path: Path) -> int:
    """The mode the file should end with: the replaced file's, else what open() would give (0o666 less umask).

    mkstemp creates 0600 files; published files must stay readable by the analysts' accounts.
    """
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A hidden temporary path beside ``path``; renamed over it when the block succeeds, removed if not.

    For writers that want a file name rather than bytes (DuckDB COPY, pyarrow, py7zr).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _publishable_mode(path))
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a hidden temp file in the same folder, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _publishable_mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """``atomic_write_bytes`` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def sql_string(value: str | os.PathLike) -> str:
    """A SQL string literal; file paths cannot be bound as parameters in DuckDB's table functions."""
    return "'" + str(value).replace("'", "''") + "'"


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MB blocks (bulk files are hundreds of MB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packed(items: Iterable[T], size: Callable[[T], int], budget: int) -> list[list[T]]:
    """``items`` in their order, in consecutive groups whose sizes add up to at most ``budget`` (an item larger
    than the budget alone makes a group of its own); no empty group."""
    groups: list[list[T]] = [[]]
    total = 0
    for item in items:
        n = size(item)
        if groups[-1] and total + n > budget:
            groups.append([])
            total = 0
        groups[-1].append(item)
        total += n
    return [g for g in groups if g]
