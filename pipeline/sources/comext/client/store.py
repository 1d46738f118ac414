"""``<data dir>/raw/comext`` as the fetch assets write it: ``bulk/full_v2_YYYYMM.7z`` and
``sdmx/<query>/<period>.csv.gz``, with a ``_release.json`` sidecar the readers understand; a replaced
version moves to ``<data dir>/raw/comext_archive`` (outside the folder the readers scan, so an archived
month is never read twice). Downloads in progress sit in ``raw/comext_incoming`` (same disk, so the final
rename is atomic).

A downloaded bulk file becomes current only after a test pass over it (7z CRC, header line, row count,
:func:`pipeline.sources.comext.sevenzip.verify_archive`). One that fails goes to ``raw/comext_quarantine`` as
``<UTC stamp>-<name>`` with ``<that name>.reason.json`` beside it (month, listing entry, reason); the held
copy stays current, ``_release.json`` is not touched, and the month is tried again by the next fetch.

An SDMX answer is cut into one file per period by DuckDB (in memory, never the working database): it
compares a period's content with what is stored without parsing rows in Python.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from pipeline.sources.comext.client import ComextError, DamagedFile
from pipeline.sources.comext.client.client import ComextClient
from pipeline.sources.comext.client.listing import ListedFile
from pipeline.sources.comext.client.sdmx import SdmxAnswer, SdmxQuery
from pipeline.clients.landing import archive_files, utc_stamp, write_json
from pipeline.io import sha256_of, sql_string
from pipeline.paths import SIDECAR
from pipeline.sources.comext.sevenzip import ArchiveCheck, ArchiveError, verify_archive

# columns both bulk layouts (full_v2 and the legacy one) carry; the readers check the rest
BULK_HEADER_NEEDS = ("PRODUCT_NC", "FLOW", "PERIOD")


@dataclass
class PeriodOutcome:
    period: str
    status: str  # new | revised | unchanged | absent
    rows: int = 0
    last_update: str | None = None
    path: str | None = None


@dataclass
class ComextRawStore:
    """``<data dir>/raw/comext`` as written by the fetch assets, with its sidecar and archive."""

    root: Path
    archive_root: Path
    incoming: Path
    synthetic: bool = False
    quarantine: Path | None = None  # default: beside ``incoming``

    def __post_init__(self) -> None:
        if self.quarantine is None:
            self.quarantine = Path(self.incoming).parent / "comext_quarantine"

    @classmethod
    def at(cls, data_root: Path) -> "ComextRawStore":
        """The store of a data directory; downloads in progress sit in ``raw/comext_incoming`` (same disk,
        so the final rename is atomic, and outside the folder the readers scan), refused downloads in
        ``raw/comext_quarantine``."""
        raw = Path(data_root) / "raw"
        return cls(raw / "comext", raw / "comext_archive", raw / "comext_incoming", quarantine=raw / "comext_quarantine")

    @property
    def sidecar(self) -> Path:
        return self.root / SIDECAR

    def read(self) -> dict:
        """The sidecar (no lock: a reader sees either the old or the new file, never half of one)."""
        if not self.sidecar.exists():
            return {}
        try:
            return json.loads(self.sidecar.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ComextError(f"{self.sidecar}: not valid JSON ({exc})") from exc

    @contextmanager
    def editing(self) -> Iterator[dict]:
        """Read-modify-write of the sidecar under an exclusive lock; written atomically on success."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                meta = self.read()
                meta.setdefault("synthetic", self.synthetic)
                meta.setdefault("release", "Eurostat Comext, fetched by geomonitor (release per file below)")
                meta.setdefault("files", {})
                meta.setdefault("bulk", {})
                meta.setdefault("sdmx", {})
                meta.setdefault("archived", [])
                yield meta
                write_json(self.sidecar, meta)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def archive(self, meta: dict, rel: str, reason: str) -> str | None:
        """Move ``root/rel`` to ``archive_root/<stamp>/rel`` and note it in ``meta``; returns the archive path
        relative to the archive root."""
        current = self.root / rel
        if not current.exists():
            return None
        folder = archive_files(self.archive_root, {rel: current})
        target_rel = f"{folder.name}/{rel}"
        meta["archived"].append({"file": rel, "archived_as": target_rel, "reason": reason,
                                 "release": meta["files"].get(rel)})
        return target_rel

    # -- bulk
    def bulk_rel(self, name: str) -> str:
        return f"bulk/{name}"

    def held_bulk(self) -> dict[str, dict]:
        return self.read().get("bulk", {})

    def fetch_bulk(self, client: ComextClient, listed: ListedFile, *, reason: str = "new",
                   test: Callable[[Path, str], ArchiveCheck] | None = None) -> dict:
        """Download ``listed``, test it whole, archive the version it replaces, record it; returns its sidecar
        entry. A file that fails the test is quarantined and :class:`DamagedFile` raised; nothing else moves.

        ``test(path, sha256)`` replaces the default test pass (:func:`verify_archive`): the fetch asset passes
        the Parquet conversion, which unpacks the file anyway, so a month is unpacked once; it raises
        ArchiveError for a file that fails and may leave ``header`` empty (it checked the header itself)."""
        rel = self.bulk_rel(listed.name)
        result = client.download(listed, self.incoming / listed.name)
        sha256 = sha256_of(result.path)
        try:
            check = test(result.path, sha256) if test is not None else verify_archive(result.path)
            columns = [h.strip().strip('"') for h in check.header.split(",")]
            missing = [c for c in BULK_HEADER_NEEDS if c not in columns] if check.header else []
            if missing:
                raise ArchiveError(f"{result.path}: line 1: header lacks {missing} ({check.header[:200]!r})")
            if check.rows == 0:
                raise ArchiveError(f"{result.path}: {check.member} holds a header and no data rows")
        except ArchiveError as exc:
            # the incoming folder says nothing; the file's name does
            reason = str(exc).replace(f"{result.path}: ", "").replace(str(result.path), result.path.name)
            kept = self.quarantine_file(result.path, listed, reason)
            raise DamagedFile(
                f"Comext month {listed.month}: {listed.name} (listed {listed.last_modified or 'without a date'}) failed "
                f"its test: {reason}. The held copy stays current; the download is kept as "
                f"{kept.parent.name}/{kept.name}; the next fetch tries the month again") from exc
        entry = {
            "file": rel, "month": listed.month, "last_modified": listed.last_modified, "size": result.size,
            "sha256": sha256, "url": client.file_url(listed.name),
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "requests": result.requests, "resumed_from": result.resumed_from, "seconds": result.seconds,
            "rows": check.rows, "unpacked_bytes": check.unpacked_bytes, "member": check.member,
        }
        with self.editing() as meta:
            archived = self.archive(meta, rel, reason) if (self.root / rel).exists() else None
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            result.path.replace(self.root / rel)
            entry["replaced"] = archived
            meta["bulk"][listed.name] = entry
            meta["files"][rel] = (f"Eurostat Comext bulk {listed.name} (file service last modified "
                                  f"{listed.last_modified or 'not stated'})")
        return entry

    def untested_or_damaged(self, name: str) -> bool:
        """For a held bulk file without a recorded test (fetched before downloads were tested): test it now;
        True if it fails (fetch it again), else its row count is recorded and it is not tested again."""
        entry = self.held_bulk().get(name)
        if entry is None or "rows" in entry:
            return False
        try:
            check = verify_archive(self.root / entry["file"])
        except ArchiveError:
            return True
        with self.editing() as meta:
            meta["bulk"][name].update(rows=check.rows, unpacked_bytes=check.unpacked_bytes, member=check.member)
        return False

    def quarantine_file(self, path: Path, listed: ListedFile, reason: str, keep: int = 3) -> Path:
        """Move a refused download to ``quarantine/<stamp>-<name>`` with ``.reason.json`` beside it; only the
        ``keep`` newest refused copies of a name stay (a month that keeps failing does not fill the disk)."""
        self.quarantine.mkdir(parents=True, exist_ok=True)
        target = self.quarantine / f"{utc_stamp()}-{listed.name}"
        shutil.move(str(path), str(target))
        write_json(target.with_name(target.name + ".reason.json"), {
            "file": listed.name, "month": listed.month, "last_modified": listed.last_modified, "size": listed.size,
            "reason": reason, "quarantined_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        for old in sorted(self.quarantine.glob(f"*-{listed.name}"))[:-keep]:
            old.unlink(missing_ok=True)
            old.with_name(old.name + ".reason.json").unlink(missing_ok=True)
        return target

    # -- SDMX
    def sdmx_rel(self, query: SdmxQuery, period: str) -> str:
        return f"sdmx/{query.query_id()}/{period}.csv.gz"

    def store_sdmx(self, query: SdmxQuery, answers: list[SdmxAnswer], periods: list[str]) -> list[PeriodOutcome]:
        """Write the answers of ``query`` as one gzip SDMX-CSV per period; only changed periods are replaced.

        A period's content is compared without DATAFLOW and LAST UPDATE: an
        answer that only restamps a month leaves the stored file alone.
        Periods asked for but absent from the answers are reported, and a
        stored file for them is kept (never deleted silently).
        """
        self.incoming.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="sdmx-", dir=self.incoming))
        try:
            files = []
            for i, answer in enumerate(answers):
                if answer.rows:
                    path = work / f"answer-{i}.csv"
                    path.write_bytes(answer.content)
                    files.append(str(path))
            con = duckdb.connect()
            try:
                return self._store_periods(con, query, files, periods, work, answers)
            finally:
                con.close()
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _store_periods(self, con, query, files, periods, work, answers) -> list[PeriodOutcome]:
        outcomes: dict[str, PeriodOutcome] = {}
        if files:
            listing = "[" + ", ".join(sql_string(f) for f in files) + "]"
            try:
                con.execute(f"CREATE TABLE answer AS SELECT * FROM read_csv({listing}, header=true, delim=',', "
                            "all_varchar=true, union_by_name=true)").fetchall()
            except duckdb.Error as exc:
                raise ComextError(f"{query.describe()}: SDMX-CSV answer unreadable: {exc}") from exc
            cols = [r[0] for r in con.execute("DESCRIBE answer").fetchall()]
            # content fingerprint without DATAFLOW and LAST UPDATE: md5 of the sorted rows (stable across
            # DuckDB versions, unlike hash())
            row = "concat_ws(',', " + ", ".join(
                f'coalesce("{c}", \'\')' for c in cols if c not in ("DATAFLOW", "LAST UPDATE")) + ")"
            try:
                summary = con.execute(
                    f"""SELECT "TIME_PERIOD", count(*), max(strptime("LAST UPDATE", '%d/%m/%y %H:%M:%S')),
                               count(*) || ':' || md5(string_agg({row}, chr(10) ORDER BY {row}))
                        FROM answer GROUP BY 1 ORDER BY 1"""
                ).fetchall()
            except duckdb.Error as exc:
                raise ComextError(f"{query.describe()}: LAST UPDATE not in dd/mm/yy HH:MM:SS form: {exc}") from exc
        else:
            summary = []
        stored_meta = self.read().get("sdmx", {}).get(query.query_id(), {}).get("periods", {})
        written: dict[str, tuple[Path, dict]] = {}
        for period, rows, last_update, fingerprint in summary:
            old = stored_meta.get(period)
            info = {"rows": rows, "last_update": last_update.isoformat(), "fingerprint": fingerprint,
                    "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            if old is not None and old.get("fingerprint") == fingerprint and (self.root / old["file"]).exists():
                outcomes[period] = PeriodOutcome(period, "unchanged", rows, old.get("last_update"), old["file"])
                continue
            out = work / f"{period}.csv.gz"
            con.execute(
                f"""COPY (SELECT * FROM answer WHERE "TIME_PERIOD" = ? ORDER BY ALL)
                    TO {sql_string(out)} (FORMAT csv, HEADER true, COMPRESSION gzip)""",
                [period],
            ).fetchall()
            written[period] = (out, info)
            outcomes[period] = PeriodOutcome(period, "revised" if old else "new", rows, info["last_update"],
                                             self.sdmx_rel(query, period))
        for period in periods:
            if period not in outcomes:
                old = stored_meta.get(period)
                outcomes[period] = PeriodOutcome(period, "absent", 0, old.get("last_update") if old else None,
                                                 old["file"] if old else None)
        with self.editing() as meta:
            entry = meta["sdmx"].setdefault(query.query_id(), {"query": {}, "periods": {}})
            entry["query"] = {**query.to_dict(), **_widest(entry.get("query"), query)}
            entry["urls"] = sorted({a.url for a in answers} | set(entry.get("urls", [])))[-50:]
            for period, (tmp, info) in written.items():
                rel = self.sdmx_rel(query, period)
                if (self.root / rel).exists():
                    self.archive(meta, rel, "revised")
                (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(tmp), str(self.root / rel))
                entry["periods"][period] = {**info, "file": rel}
                meta["files"][rel] = (f"Eurostat Comext {query.dataset} via SDMX API, last update "
                                      f"{info['last_update']}")
            for period, outcome in outcomes.items():
                if outcome.status == "unchanged":
                    entry["periods"][period]["checked_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            # this exact query is now held: the files its answer left, with their hashes (see held_answer)
            answers = entry.setdefault("answers", {})
            answers.pop(self.answer_key(query, periods), None)
            answers[self.answer_key(query, periods)] = {
                "query": query.to_dict(), "periods": list(periods),
                "answered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "files": {o.path: sha256_of(self.root / o.path) for o in outcomes.values()
                          if o.status != "absent" and o.path},
            }
            for stale in list(answers)[:-50]:  # insertion order: the oldest go first
                answers.pop(stale)
        return [outcomes[p] for p in sorted(outcomes)]

    @staticmethod
    def answer_key(query: SdmxQuery, periods: list[str]) -> str:
        """The full query (every dimension, span and the periods asked) as a short stable key."""
        spec = json.dumps({**query.to_dict(), "periods": sorted(periods)}, sort_keys=True)
        return hashlib.sha1(spec.encode()).hexdigest()[:16]

    def held_answer(self, query: SdmxQuery, periods: list[str]) -> dict | None:
        """The stored answer of exactly this query when every file it left is still there with the same
        sha256 (a file replaced by another query's answer, edited or removed makes it not held); else None."""
        entry = self.read().get("sdmx", {}).get(query.query_id(), {})
        held = entry.get("answers", {}).get(self.answer_key(query, periods))
        if held is None:
            return None
        for rel, digest in held["files"].items():
            path = self.root / rel
            if not path.is_file() or sha256_of(path) != digest:
                return None
        return held


def _widest(stored: dict | None, query: SdmxQuery) -> dict:
    """The stored query's period range widened to include ``query``'s (refreshes of a few months keep the span)."""
    if not stored or not stored.get("start_period") or not query.start_period:
        return {}
    return {"start_period": min(stored["start_period"], query.start_period),
            "end_period": max(stored["end_period"], query.end_period)}

