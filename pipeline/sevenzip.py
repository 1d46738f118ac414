"""Comext ``.7z`` archives with py7zr: the one data file inside, its header line (unpacking only the first
block), and unpacking it whole into a folder. Shared by the bulk reader and the download check.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path


class ArchiveError(Exception):
    """An archive that cannot be opened or unpacked as a Comext bulk file; the message names it."""


class _Enough(Exception):
    """Raised by the head writer to stop decompression once the first line is in."""


def _head_factory(limit: int):
    from py7zr.io import Py7zIO, WriterFactory

    class Head(Py7zIO):
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, s) -> int:
            self.data += s
            if b"\n" in self.data or len(self.data) >= limit:
                raise _Enough
            return len(s)

        def read(self, size=None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def flush(self) -> None:
            pass

        def size(self) -> int:
            return len(self.data)

    class Factory(WriterFactory):
        def __init__(self) -> None:
            self.head = Head()

        def create(self, filename: str):
            return self.head

    return Factory()


def archive_member(path: Path) -> tuple[str, int]:
    """Name and unpacked size of the one data file in a Comext ``.7z``."""
    import py7zr

    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            members = [m for m in archive.list() if not m.is_directory]
    except (py7zr.exceptions.ArchiveError, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"{path}: not a readable 7z archive ({type(exc).__name__}: {exc})") from exc
    if len(members) != 1:
        names = [m.filename for m in members]
        raise ArchiveError(f"{path}: a Comext archive holds exactly one data file; found {len(members)} {names}")
    return members[0].filename, int(members[0].uncompressed)


def archive_first_line(path: Path, limit: int = 1 << 16) -> str:
    """The header line of the archive's data file, unpacking only its first block."""
    import py7zr

    member, _ = archive_member(path)
    factory = _head_factory(limit)
    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            archive.extract(targets=[member], factory=factory)
    except _Enough:
        pass
    except (py7zr.exceptions.ArchiveError, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"{path}: cannot unpack {member} ({type(exc).__name__}: {exc})") from exc
    return bytes(factory.head.data).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()


def extract_member(path: Path, dest_dir: Path) -> Path:
    """Unpack the archive's data file into ``dest_dir`` (CRC checked by py7zr); returns its path.

    The file is unpacked under a temporary folder and renamed into place, so a
    crash never leaves a half-written ``.dat`` that looks complete.
    """
    import py7zr

    member, expected = archive_member(path)
    dest_dir.mkdir(parents=True, exist_ok=True)
    staging = dest_dir / f".unpack-{path.name}-{time.monotonic_ns()}"
    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            archive.extract(path=staging, targets=[member])
        unpacked = staging / member
        if not unpacked.is_file():
            raise ArchiveError(f"{path}: {member} was not unpacked")
        if unpacked.stat().st_size != expected:
            raise ArchiveError(
                f"{path}: {member} unpacked to {unpacked.stat().st_size} bytes, the archive states {expected}"
            )
        target = dest_dir / Path(member).name
        unpacked.replace(target)
        return target
    except (py7zr.exceptions.ArchiveError, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"{path}: cannot unpack {member} ({type(exc).__name__}: {exc})") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)

