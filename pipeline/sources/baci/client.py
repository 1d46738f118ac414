"""Downloading CEPII BACI: one zip per HS edition and release (``BACI_HS17_V202301.zip``), on the project's
:class:`~pipeline.clients.http.Fetcher` (throttle, retries honouring Retry-After, failure classification).

The download goes in byte ranges to ``raw/baci_incoming/<name>.part`` and resumes from what an interrupted
attempt left there, as long as the service still states the same size (kept beside the part in a small
hidden JSON file); a different size restarts it. The finished file is tested whole (every member's CRC, at
least one yearly CSV of the asked edition and release, each with the header ``t,i,j,k,v,q``) before it
becomes current in ``raw/baci/`` (the folder the reader scans as the 'api' input of source 'baci'). A file
that fails goes to ``raw/baci_quarantine/<stamp>-<name>`` with a ``.reason.json`` and the held copy stays
current. A replaced copy is moved to ``raw/baci_archive/<stamp>/``. Knows nothing of Dagster.
"""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipeline.clients.http import Fetcher
from pipeline.clients.landing import archive_files, read_json, utc_stamp, write_json, write_sidecar
from pipeline.clients.progress import current as current_progress
from pipeline.io import atomic_write_bytes, sha256_of
from pipeline.readers.inputs import InputError
from pipeline.sources.baci.files import EDITIONS, HEADER, YEAR_FILE, year_members

BASE_URL = "http://www.cepii.fr/DATA_DOWNLOAD/baci/data"  # sources.md 3: the direct link seen
DEFAULT_RELEASE = "V202301"
STATE = "_fetched.json"  # leading underscore: the reader skips it


class BaciError(Exception):
    """A download that cannot become current (damaged, wrong content, changed during the download)."""


def zip_name(edition: str, release: str) -> str:
    edition, release = edition.upper(), release.upper()
    if edition not in EDITIONS:
        raise BaciError(f"HS edition {edition!r} is none of BACI's ({', '.join(EDITIONS)})")
    return f"BACI_{edition}_{release}.zip"


@dataclass
class Folders:
    """Where BACI downloads live under the data folder's ``raw/``."""

    raw: Path

    @property
    def current(self) -> Path:
        return self.raw / "baci"

    @property
    def incoming(self) -> Path:
        return self.raw / "baci_incoming"

    @property
    def quarantine(self) -> Path:
        return self.raw / "baci_quarantine"

    @property
    def archive(self) -> Path:
        return self.raw / "baci_archive"

    def held(self) -> dict[str, dict]:
        """name -> what was recorded when it became current."""
        return read_json(self.current / STATE, {})


def verify_zip(path: Path, edition: str, release: str) -> list[str]:
    """The yearly CSVs of a downloaded zip, after checking it whole; BaciError naming the reason otherwise."""
    try:
        members = year_members(path)
    except InputError as exc:
        raise BaciError(str(exc).replace(f"{path}: ", "")) from None
    wrong = [m for m in members if (YEAR_FILE.fullmatch(Path(m).name)["edition"].upper(),
                                    YEAR_FILE.fullmatch(Path(m).name)["release"].upper()) != (edition, release)]
    if wrong:
        raise BaciError(f"member {wrong[0]} is not of edition {edition} release {release}")
    with zipfile.ZipFile(path) as archive:
        for name in members:
            with archive.open(name) as member:
                header = [c.strip().strip('"') for c in member.readline().decode("utf-8-sig", "replace").split(",")]
            if header != HEADER:
                raise BaciError(f"{name}: line 1: header {','.join(header)[:80]!r} is not t,i,j,k,v,q")
    return members


def download(fetcher: Fetcher, url: str, part: Path, *, chunk_bytes: int, label: str) -> tuple[int, int]:
    """``url`` appended to ``part`` in byte ranges, resumed from what ``part`` holds; (size, resumed from)."""
    stamp = part.with_name(f".{part.name}.json")
    known = read_json(stamp, {}) if part.exists() else {}
    if part.exists() and known.get("url") != url:
        part.unlink()
    part.parent.mkdir(parents=True, exist_ok=True)
    part.touch()
    offset = resumed_from = part.stat().st_size
    total = known.get("total") if resumed_from else None
    # written before the first byte arrives: a part cut by the very first request is resumed too
    atomic_write_bytes(stamp, json.dumps({"url": url, "total": total}).encode())
    progress = current_progress()
    while total is None or offset < total:
        end = offset + chunk_bytes - 1 if total is None else min(offset + chunk_bytes, total) - 1
        answer = fetcher.get_range(url, part, name=f"{label} bytes {offset}-{end}", start=offset, end=end,
                                   on_bytes=lambda n: progress.advance(0, nbytes=n))
        if answer.status == 200:  # the service ignored the range: the body is the whole file
            offset = total = answer.end_pos
            break
        if total is not None and answer.total is not None and answer.total != total:
            part.unlink(missing_ok=True)
            stamp.unlink(missing_ok=True)
            raise BaciError(f"{label}: the service now states {answer.total} bytes where the interrupted download "
                            f"had {total}: the file changed; the part is discarded, fetch again")
        total = answer.total if answer.total is not None else total
        atomic_write_bytes(stamp, json.dumps({"url": url, "total": total}).encode())
        offset = answer.end_pos
        if total is None and answer.end_pos - answer.start < chunk_bytes:
            total = offset
    stamp.unlink(missing_ok=True)
    return part.stat().st_size, resumed_from


def fetch_edition(fetcher: Fetcher, folders: Folders, *, base_url: str, edition: str, release: str,
                  chunk_bytes: int = 16 << 20, force: bool = False) -> dict:
    """Download one edition's zip, test it, make it current; returns what was recorded (``action`` says what
    happened: 'held' when a current copy exists and ``force`` is off)."""
    edition, release = edition.upper(), release.upper()
    name = zip_name(edition, release)
    held = folders.held()
    if name in held and (folders.current / name).is_file() and not force:
        return {**held[name], "action": "held"}
    url = f"{base_url.rstrip('/')}/{name}"
    part = folders.incoming / f"{name}.part"
    started = time.perf_counter()
    size, resumed_from = download(fetcher, url, part, chunk_bytes=chunk_bytes, label=f"BACI {name}")
    try:
        members = verify_zip(part, edition, release)
    except BaciError as exc:
        folders.quarantine.mkdir(parents=True, exist_ok=True)
        target = folders.quarantine / f"{utc_stamp()}-{name}"
        shutil.move(str(part), str(target))
        write_json(target.with_name(target.name + ".reason.json"), {
            "file": name, "url": url, "size": size, "reason": str(exc),
            "quarantined_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        kept = "the held copy stays current" if name in held else "nothing is current for it"
        raise BaciError(f"BACI {name} from {url} failed its test: {exc}. It is kept as "
                        f"{folders.quarantine.name}/{target.name}; {kept}; the next fetch tries again") from None
    entry = {"file": name, "edition": edition, "release": release, "url": url, "size": size,
             "sha256": sha256_of(part), "members": [Path(m).name for m in members], "resumed_from": resumed_from,
             "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "seconds": round(time.perf_counter() - started, 3)}
    folders.current.mkdir(parents=True, exist_ok=True)
    current = folders.current / name
    entry["replaced"] = None
    if current.exists():
        moved = archive_files(folders.archive, {name: current}, {"reason": "replaced by a new download"})
        entry["replaced"] = f"{folders.archive.name}/{moved.name}/{name}"
    part.replace(current)
    held[name] = entry
    write_json(folders.current / STATE, held)
    sidecar = read_json(folders.current / "_release.json", {}) or {}
    files = {**sidecar.get("files", {}), name: f"CEPII BACI {release} {edition} (downloaded {entry['fetched_at'][:10]})"}
    write_sidecar(folders.current, {"synthetic": False, "files": files})
    return {**entry, "action": "downloaded"}
