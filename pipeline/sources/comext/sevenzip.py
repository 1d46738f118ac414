"""Comext ``.7z`` archives with py7zr: the one data file inside, its header line (unpacking only the first
block), a whole test pass (CRC, header, row count) and unpacking it whole into a folder. Shared by the bulk
reader and the download check. Every failure is an :class:`ArchiveError` naming the file and the reason
(a damaged packed stream surfaces from py7zr as an LZMA error or a CRC mismatch).
"""

from __future__ import annotations

import lzma
import shutil
import time
import zlib
from dataclasses import dataclass
from pathlib import Path


class ArchiveError(Exception):
    """An archive that cannot be opened or unpacked as a Comext bulk file; the message names it."""


def _unpack_errors() -> tuple[type[BaseException], ...]:
    """What py7zr lets through for a damaged archive: its own errors, the codecs' (LZMA, deflate), I/O."""
    import py7zr

    return (py7zr.exceptions.ArchiveError, lzma.LZMAError, zlib.error, OSError, EOFError, ValueError)


class _Enough(Exception):
    """Raised by the head writer to stop decompression once the first line is in."""


def _sink_factory(on_write):
    """A py7zr writer factory whose one sink hands every unpacked piece to ``on_write`` (which may raise
    :class:`_Enough` to stop) and stores nothing itself; ``factory.sink.bytes`` counts what went through."""
    from py7zr.io import Py7zIO, WriterFactory

    class Sink(Py7zIO):
        def __init__(self) -> None:
            self.bytes = 0

        def write(self, s) -> int:
            on_write(s)
            self.bytes += len(s)
            return len(s)

        def read(self, size=None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def flush(self) -> None:
            pass

        def size(self) -> int:
            return self.bytes

    class Factory(WriterFactory):
        def __init__(self) -> None:
            self.sink = Sink()

        def create(self, filename: str):
            return self.sink

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
    head = bytearray()

    def keep(piece) -> None:
        head.extend(piece)
        if b"\n" in head or len(head) >= limit:
            raise _Enough

    factory = _sink_factory(keep)
    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            archive.extract(targets=[member], factory=factory)
    except _Enough:
        pass
    except _unpack_errors() as exc:
        raise ArchiveError(f"{path}: cannot unpack {member} ({type(exc).__name__}: {exc})") from exc
    return bytes(head).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()


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
    except ArchiveError:
        raise
    except _unpack_errors() as exc:
        raise ArchiveError(f"{path}: cannot unpack {member} ({type(exc).__name__}: {exc})") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)



@dataclass
class ArchiveCheck:
    """What one test pass over an archive found: its member, header line, data rows and unpacked size."""

    member: str
    header: str
    rows: int
    unpacked_bytes: int
    seconds: float


def verify_archive(path: Path) -> ArchiveCheck:
    """Unpack the archive's data file once without writing it anywhere: py7zr checks its CRC; the header
    line and the data rows (line ends after the header; a last line without one counts) are read and the
    unpacked size is compared with the archive's. Raises :class:`ArchiveError` naming the file and why."""
    import py7zr

    started = time.perf_counter()
    member, expected = archive_member(path)
    # the first line kept, line ends counted (bytes.count: no loop over rows), nothing else stored
    seen = {"head": bytearray(), "lines": 0, "last": b""}

    def count(piece) -> None:
        head = seen["head"]
        if len(head) < 1 << 16 and b"\n" not in head:
            head += bytes(piece[: (1 << 16) - len(head)])
        seen["lines"] += piece.count(b"\n")
        if len(piece):
            seen["last"] = bytes(piece[-1:])

    factory = _sink_factory(count)
    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            archive.extract(targets=[member], factory=factory)
    except _unpack_errors() as exc:
        raise ArchiveError(f"{path}: cannot unpack {member} ({type(exc).__name__}: {exc})") from exc
    unpacked = factory.sink.bytes
    if unpacked != expected:
        raise ArchiveError(f"{path}: {member} unpacked to {unpacked} bytes, the archive states {expected}")
    header = bytes(seen["head"]).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()
    if not header:
        raise ArchiveError(f"{path}: {member} has no header line")
    lines = seen["lines"] + (1 if seen["last"] not in (b"\n", b"") else 0)
    return ArchiveCheck(member, header, max(0, lines - 1), unpacked, round(time.perf_counter() - started, 3))
