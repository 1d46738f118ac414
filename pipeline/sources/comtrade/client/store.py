"""The page folder of a Comtrade plan (``pages`` = ``<data dir>/raw/comtrade``); one writer at a time::

    pages/<request id>.json.gz        one finished call: the API envelope + url, retrieved_at, count, request
    pages/_split_<request id>.json    a call that came back full: its true count and the calls replacing it
    pages/_pages.jsonl                index of the pages written (rebuilt from the pages when lines are lost)
    pages/_availability.json          last seen release per reporter:period (getDa)
    pages/_plan.json                  the last plan run (read by the revision sensor)
    pages/_calls.json                 calls made per UTC day (the daily budget)
    pages/_release.json               sidecar for the raw reader (not synthetic)
    ../comtrade_archive/<stamp>/      pages replaced by a revision or a changed plan, kept for comparison
    ../comtrade_reference/            cached reference files (HS.json, partnerAreas.json)

Files starting with ``_`` are ignored by the raw reader, so only pages become rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from pipeline.sources.comtrade.client.plan import DataRequest
from pipeline.sources.comtrade.client.session import ComtradeSession
from pipeline.sources.comtrade.client.split import Codes
from pipeline.clients.http import Fetched, utc_now
from pipeline.clients.raw_files import read_raw_json, write_raw_json
from pipeline.clients.landing import archive_files, read_json, write_json, write_sidecar
from pipeline.io import atomic_write_bytes

RELEASE_LABEL = "UN Comtrade v1 API pages retrieved by geomonitor"


class PageStore:
    """The page folder (see the module docstring); one writer at a time."""

    def __init__(self, pages: str | os.PathLike, archive: str | os.PathLike | None = None,
                 reference: str | os.PathLike | None = None):
        self.dir = Path(pages)
        self.archive_root = Path(archive) if archive else self.dir.parent / f"{self.dir.name}_archive"
        self.reference_dir = Path(reference) if reference else self.dir.parent / f"{self.dir.name}_reference"

    # pages and split markers
    def page_path(self, req: DataRequest) -> Path:
        return self.dir / f"{req.id}.json.gz"

    def split_path(self, req: DataRequest) -> Path:
        return self.dir / f"_split_{req.id}.json"

    def has_page(self, req: DataRequest) -> bool:
        return self.page_path(req).is_file()

    def write_page(self, req: DataRequest, payload: dict, fetched: Fetched, secrets: Iterable[str]) -> Path:
        count = len(payload["data"])
        path = write_raw_json(self.page_path(req), payload, url=fetched.url, retrieved_at=fetched.retrieved_at,
                              count=count, extra={"request": req.as_dict()}, secrets=secrets)
        self._append_index({"file": path.name, "count": count, "retrieved_at": fetched.retrieved_at,
                            "request": req.as_dict()})
        return path

    # the page index: one JSON line per written page, so no run has to reopen every page
    def _append_index(self, entry: dict) -> None:
        with open(self.dir / "_pages.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")  # no fsync: a lost line is rebuilt from the page

    def index(self) -> dict[str, dict]:
        """file name -> {"count", "request", ...} for every page on disk (pages missing from the index are read)."""
        entries: dict[str, dict] = {}
        lines = 0
        try:
            with open(self.dir / "_pages.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    lines += 1
                    try:
                        entry = json.loads(line)
                        entries[entry["file"]] = entry
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut by a crash
        except FileNotFoundError:
            pass
        present = {p.name for p in self.dir.glob("*.json.gz") if not p.name.startswith(".")} if self.dir.is_dir() else set()
        entries = {name: e for name, e in entries.items() if name in present}
        for name in sorted(present - set(entries)):
            try:
                page = read_raw_json(self.dir / name)
                entry = {"file": name, "count": int(page.get("count") or len(page.get("data") or [])),
                         "retrieved_at": page.get("retrieved_at"), "request": page["request"]}
            except (KeyError, ValueError, OSError, TypeError, EOFError):
                continue  # not one of ours (a hand-dropped page): left alone
            entries[name] = entry
            self._append_index(entry)
        if lines > 2 * len(entries) + 100:  # mostly stale lines (archived pages): rewrite
            atomic_write_bytes(self.dir / "_pages.jsonl", "".join(
                json.dumps(e, sort_keys=True) + "\n" for e in entries.values()).encode("utf-8"))
        return entries

    def page_count(self, req: DataRequest, index: dict[str, dict]) -> int:
        entry = index.get(self.page_path(req).name)
        if entry is None:
            return int(read_raw_json(self.page_path(req)).get("count") or 0)
        return int(entry["count"])

    def read_split(self, req: DataRequest) -> dict | None:
        marker = read_json(self.split_path(req), None)
        if marker is None:
            return None
        marker["children"] = [DataRequest.from_dict(c) for c in marker["children"]]
        return marker

    def write_split(self, req: DataRequest, children: list[DataRequest], total: int | None, full_count: int) -> None:
        write_json(self.split_path(req), {"request": req.as_dict(), "total": total, "full_page_count": full_count,
                                           "children": [c.as_dict() for c in children],
                                           "split_at": utc_now().isoformat(timespec="seconds")})

    def stored(self) -> dict[str, tuple[Path, DataRequest]]:
        """Every stored page and split marker: id -> (file, request)."""
        out: dict[str, tuple[Path, DataRequest]] = {}
        if not self.dir.is_dir():
            return out
        for name, entry in self.index().items():
            out[name] = (self.dir / name, DataRequest.from_dict(entry["request"]))
        for path in sorted(self.dir.glob("_split_*.json")):
            try:
                req = DataRequest.from_dict(read_json(path, {})["request"])
            except (KeyError, ValueError, TypeError):
                continue
            out[path.name] = (path, req)
        return out

    def archive(self, paths: list[Path], reason: dict) -> Path | None:
        """Move files to a new archive folder with a note of why; returns the folder."""
        return archive_files(self.archive_root, {p.name: p for p in paths}, reason)

    # small state files
    def load(self, name: str, default: Any) -> Any:
        return read_json(self.dir / name, default)

    def save(self, name: str, obj: Any) -> None:
        write_json(self.dir / name, obj)

    def calls_today(self, today: str) -> int:
        return int(self.load("_calls.json", {}).get(today, 0))

    def add_calls(self, today: str, n: int) -> None:
        if n:
            ledger = self.load("_calls.json", {})
            ledger = {k: v for k, v in ledger.items() if k >= today[:4]}  # keep this year's days only
            ledger[today] = int(ledger.get(today, 0)) + n
            self.save("_calls.json", ledger)

    def write_sidecar(self) -> None:
        write_sidecar(self.dir, {"synthetic": False, "release": RELEASE_LABEL})

    def call_budget(self, daily_limit: int, max_calls: int = 0, today: str | None = None) -> int | None:
        """Calls a run may make: what is left of ``daily_limit`` today (0 = no limit), at most ``max_calls``
        (0 = no cap of its own); None = unlimited."""
        today = today or utc_now().strftime("%Y-%m-%d")
        budget = None if daily_limit <= 0 else max(0, daily_limit - self.calls_today(today))
        if max_calls > 0:
            budget = max_calls if budget is None else min(budget, max_calls)
        return budget

    def codes(self, session: ComtradeSession) -> Codes:
        """HS and partner code lists from the cached reference files, fetched once when missing."""
        loaded = {}
        for name in ("HS", "partnerAreas"):
            cached = self.reference_dir / f"{name}.json.gz"
            if cached.is_file():
                loaded[name] = read_raw_json(cached)
            else:
                payload = session.reference(name)
                write_raw_json(cached, payload, url=f"{session.base}/files/v1/app/reference/{name}.json",
                               retrieved_at=utc_now().isoformat(timespec="seconds"), count=len(payload["results"]),
                               secrets=session.fetcher.secrets)
                loaded[name] = payload
        return Codes.from_reference(loaded["HS"], loaded["partnerAreas"])

