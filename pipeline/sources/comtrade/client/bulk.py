"""UN Comtrade bulk files (premium key): list per reporter-year, download, verify, archive what they replace.

Files land in ``<data dir>/raw/comtrade/bulk/`` under the name comtradeapicall uses
(``COMTRADE-FINAL-CA528{year}{cl}[publication date].gz``), so the Comtrade reader reads them as bulk TSV
like any landing file. ``bulk/_bulk.json`` records, per reporter, period and classification, the listing
entry held (``publicationDate`` with ``fileUrl`` is the revision key, sources.md 1.7), its size and sha256.

Verification: the byte count against the listing's ``fileSize`` (a rounded "183.34 KB", so within the
rounding of its last digit), then the whole gzip stream is read, which checks its CRC-32 and length trailer,
its tab-separated header and counts its rows: a cut or corrupted download is refused, kept in
``raw/comtrade_quarantine/<stamp>-<name>`` with a ``.reason.json``, and nothing replaces the held file. A new publication moves the old
file to ``raw/comtrade_archive/<stamp>/`` before the new one is renamed into place.
"""

from __future__ import annotations

import glob
import gzip
import re
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.sources.comtrade.client.plan import PlanError
from pipeline.sources.comtrade.client.session import ComtradeSession
from pipeline.clients.http import FetchError, QuotaExhausted, utc_now
from pipeline.clients.secrets import speaker
from pipeline.clients.landing import archive_files, read_json, utc_stamp, write_json
from pipeline.clients.progress import current as current_progress
from pipeline.io import sha256_of

_UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}


def parse_file_size(text: Any) -> tuple[int, int] | None:
    """``"183.34 KB"`` -> (bytes, tolerance in bytes from the rounding of the stated figure); None if unreadable."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return int(text), 0
    m = re.fullmatch(r"\s*(\d+(?:\.(\d+))?)\s*([KMG]?B)\s*", str(text or ""), re.IGNORECASE)
    if not m:
        return None
    unit = _UNITS[m.group(3).upper()]
    decimals = len(m.group(2) or "")
    return int(float(m.group(1)) * unit), int(unit * 0.5 * 10 ** -decimals) + 1


@dataclass
class GzipCheck:
    unpacked_bytes: int
    header: str
    rows: int  # lines after the header (a last line without a line end counts)


def verify_gzip(path: Path) -> GzipCheck:
    """Read the whole gzip stream (CRC-32 and length checked by the gzip module): its unpacked size, header
    line (tab-separated, as the bulk files are) and data rows, counted with ``bytes.count`` per block."""
    total, lines, head, last = 0, 0, b"", b""
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                if not total:
                    head = chunk[:1 << 16]
                total += len(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except (OSError, EOFError, zlib.error) as exc:
        raise PlanError(f"{path.name}: not a complete gzip file ({exc})") from None
    header = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()
    if "\t" not in header:
        raise PlanError(f"{path.name}: line 1 is not a tab-separated header ({header[:120]!r})")
    rows = lines + (1 if last not in (b"", b"\n") else 0) - 1
    return GzipCheck(total, header, max(rows, 0))


@dataclass
class BulkResult:
    planned: int = 0                 # reporter-years asked for
    listed: int = 0                  # files the listing offered for them
    downloaded: list[dict] = field(default_factory=list)
    up_to_date: int = 0
    archived: int = 0
    missing: list[str] = field(default_factory=list)   # reporter-years with no file listed
    failures: list[str] = field(default_factory=list)
    stopped: str = ""
    bytes: int = 0

    @property
    def complete(self) -> bool:
        return not self.failures and not self.stopped


class BulkStore:
    """``<pages>/bulk`` and its ``_bulk.json`` state; archive beside the page archive."""

    def __init__(self, pages_dir: Path):
        self.dir = Path(pages_dir) / "bulk"
        self.archive_root = Path(pages_dir).parent / f"{Path(pages_dir).name}_archive"
        self.state_file = self.dir / "_bulk.json"
        # downloads in progress: same disk (atomic rename), outside the folder the reader scans
        self.incoming = Path(pages_dir).parent / f"{Path(pages_dir).name}_incoming"
        # downloads that failed their test, each with a .reason.json; never read
        self.quarantine = Path(pages_dir).parent / f"{Path(pages_dir).name}_quarantine"

    def held(self) -> dict[str, dict]:
        return read_json(self.state_file, {})

    @staticmethod
    def key(entry: dict) -> str:
        return f"{int(entry['reporterCode'])}:{str(entry['period'])}:{entry.get('classificationCode', '')}"

    @staticmethod
    def file_name(entry: dict) -> str:
        published = str(entry.get("publicationDate", ""))[:10]
        name = (f"COMTRADE-FINAL-{entry.get('typeCode', 'C')}{entry.get('freqCode', 'A')}"
                f"{int(entry['reporterCode']):03d}{entry.get('period', '')}{entry.get('classificationCode', '')}"
                f"[{published}].gz")
        return re.sub(r"[^A-Za-z0-9_.\[\]-]", "_", name)

    def is_current(self, entry: dict) -> bool:
        mine = self.held().get(self.key(entry))
        return bool(mine and mine.get("publicationDate") == entry.get("publicationDate")
                    and mine.get("fileUrl") == entry.get("fileUrl") and (self.dir / mine["file"]).is_file())

    def quarantine_file(self, path: Path, entry: dict, reason: str, keep: int = 3) -> Path:
        """Move a refused download to ``quarantine/<stamp>-<name>`` with ``.reason.json`` beside it; the
        ``keep`` newest refused copies of a name stay."""
        self.quarantine.mkdir(parents=True, exist_ok=True)
        name = self.file_name(entry)
        target = self.quarantine / f"{utc_stamp()}-{name}"
        shutil.move(str(path), str(target))
        write_json(target.with_name(target.name + ".reason.json"), {
            **{k: entry.get(k) for k in ("reporterCode", "period", "classificationCode", "publicationDate",
                                         "fileUrl", "fileSize")},
            "file": name, "reason": reason, "quarantined_at": utc_now().isoformat(timespec="seconds")})
        for old in sorted(self.quarantine.glob(f"*-{glob.escape(name)}"))[:-keep]:
            old.unlink(missing_ok=True)
            old.with_name(old.name + ".reason.json").unlink(missing_ok=True)
        return target

    def record(self, entry: dict, path: Path, size: int, check: GzipCheck) -> str | None:
        """Make ``path`` the held file of its key; the file it replaces goes to the archive. Returns the
        archive folder when something was archived."""
        state = self.held()
        key = self.key(entry)
        old = state.get(key)
        archived = None
        if old and (self.dir / old["file"]).is_file() and old["file"] != path.name:
            folder = archive_files(self.archive_root, {f"bulk/{old['file']}": self.dir / old["file"]},
                                   {"reason": "new bulk publication", "key": key, "previous": old,
                                    "current": {k: entry.get(k) for k in ("publicationDate", "fileUrl")}})
            archived = str(folder)
        state[key] = {"file": path.name, "reporterCode": int(entry["reporterCode"]), "period": str(entry["period"]),
                      "classificationCode": entry.get("classificationCode"),
                      "publicationDate": entry.get("publicationDate"), "fileUrl": entry.get("fileUrl"),
                      "fileSize": entry.get("fileSize"), "bytes": size, "unpacked_bytes": check.unpacked_bytes,
                      "rows": check.rows,
                      "sha256": sha256_of(path), "fetched_at": utc_now().isoformat(timespec="seconds")}
        write_json(self.state_file, state)
        return archived


def sync_bulk(session: ComtradeSession, store: BulkStore, reporters: list[int], years: list[int], *,
              log: Any = None) -> BulkResult:
    """List the bulk files of every reporter x year, download those not held at their listed publication,
    verify them, archive what they replace. Resumable: a held current file is never downloaded again."""
    say = speaker(log, session.fetcher.secrets)
    progress = current_progress()
    result = BulkResult(planned=len(reporters) * len(years))
    store.dir.mkdir(parents=True, exist_ok=True)
    progress.plan(result.planned, what="reporter-years")
    try:
        for reporter in reporters:
            for year in years:
                try:
                    rows = session.bulk_files(reporter=reporter, period=year)
                except QuotaExhausted:
                    raise
                except (FetchError, PlanError) as exc:
                    result.failures.append(session.fetcher.redact(str(exc)))
                    progress.advance()
                    continue
                # the listing may answer more than asked (filters ignored): keep this reporter-year only
                rows = [r for r in rows if str(r.get("reporterCode")) == str(reporter)
                        and str(r.get("period"))[:4] == str(year)]
                if not rows:
                    result.missing.append(f"{reporter}:{year}")
                result.listed += len(rows)
                progress.grow(len(rows))
                progress.advance()
                for entry in rows:
                    _one(session, store, entry, result, say, progress)
    except QuotaExhausted as exc:
        result.stopped = f"{exc.kind}: {session.fetcher.redact(str(exc))}"
        say("warning", f"stopping cleanly: {exc}; files stored so far are kept and a rerun resumes")
    return result


def _one(session, store: BulkStore, entry: dict, result: BulkResult, say, progress) -> None:
    if store.is_current(entry):
        result.up_to_date += 1
        progress.advance(skipped=True)
        return
    name = store.file_name(entry)
    try:
        tmp = session.download_bulk(entry, store.incoming)
        size = tmp.stat().st_size
        stated = parse_file_size(entry.get("fileSize"))
        try:
            if stated is not None and abs(size - stated[0]) > stated[1]:
                raise PlanError(f"{name}: downloaded {size:,} bytes, the listing states {entry.get('fileSize')}")
            check = verify_gzip(tmp)
        except PlanError as exc:
            # never made current: the held file and _bulk.json stay as they are, the next run tries again
            kept = store.quarantine_file(tmp, entry, str(exc))
            raise PlanError(f"reporter {entry.get('reporterCode')} {entry.get('period')}: {exc}; the held file (if any) "
                            f"stays current, this download is kept as {kept} and the next fetch tries again") from None
        final = store.dir / name
        tmp.replace(final)
        archived = store.record(entry, final, size, check)
        if archived:
            result.archived += 1
        result.downloaded.append({"file": name, "bytes": size, "publicationDate": entry.get("publicationDate"),
                                  "replaced": bool(archived)})
        result.bytes += size
        progress.advance(nbytes=size)
        say("info", f"{name}: {size:,} bytes, gzip verified ({check.unpacked_bytes:,} bytes unpacked, "
            f"{check.rows:,} rows)"
            + ("; previous publication archived" if archived else ""))
    except QuotaExhausted:
        raise
    except (FetchError, PlanError, OSError) as exc:
        result.failures.append(session.fetcher.redact(str(exc)))
        progress.note(session.fetcher.redact(str(exc))[:200])
        progress.advance()
        say("error", f"{name}: {exc}")
