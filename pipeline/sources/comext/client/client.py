"""Comext's file service and SDMX API on one :class:`~pipeline.clients.http.Fetcher` (its throttle and
retries apply to all).

Bulk files: :meth:`ComextClient.download` fetches one file in byte ranges into ``<name>.part``, resumes
from what a previous attempt left there, checks the size against the listing and renames the file into
place only when it is complete and opens as a 7z archive. SDMX: :meth:`ComextClient.fetch_sdmx` asks for
gzip, splits a query the API refuses as too big (HTTP 413) by reporter and then by period, polls an
asynchronous answer at a bounded interval, and fails with a message naming the query for anything else.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pipeline.sources.comext.client import ComextError
from pipeline.sources.comext.client.listing import FILES_URL, PRODUCTS_DIR, ListedFile, parse_listing
from pipeline.sources.comext.client.sdmx import (
    ASYNC_URL,
    SDMX_URL,
    SdmxAnswer,
    SdmxQuery,
    async_url_for,
    check_sdmx_header,
    xml_value,
    classify_sdmx_body,
    decode_body,
)
from pipeline.clients.progress import current as current_progress
from pipeline.clients.http import Fetcher, PayloadProblem, RequestFailed, RetriesExhausted
from pipeline.clients.secrets import speaker
from pipeline.io import atomic_write_bytes
from pipeline.sources.comext.sevenzip import ArchiveError, archive_member


@dataclass
class DownloadResult:
    path: Path
    size: int
    resumed_from: int
    requests: int
    seconds: float
    whole_file_answer: bool = False


class ComextClient:
    """Comext's file service and SDMX API on one :class:`Fetcher` (its throttle and retries apply to all)."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        files_url: str = FILES_URL,
        products_dir: str = PRODUCTS_DIR,
        sdmx_url: str = SDMX_URL,
        async_url: str = ASYNC_URL,
        chunk_bytes: int = 16 << 20,
        async_poll_s: float = 15.0,
        async_max_polls: int = 40,
        sleep: Callable[[float], None] = time.sleep,
        log: Any = None,
    ):
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be >= 1")
        self.fetcher = fetcher
        self.files_url, self.products_dir = files_url.rstrip("/"), products_dir.strip("/")
        self.sdmx_url, self.async_url = sdmx_url.rstrip("/"), async_url.rstrip("/")
        if async_url == ASYNC_URL and self.sdmx_url != SDMX_URL:
            # an SDMX endpoint moved elsewhere (a mirror, a local fake) takes its asynchronous delivery along
            self.async_url = async_url_for(self.sdmx_url)
        self.chunk_bytes = chunk_bytes
        self.async_poll_s, self.async_max_polls = async_poll_s, async_max_polls
        self._sleep, self._say = sleep, speaker(log)
        self.sdmx_requests = 0
        self.splits = 0

    # -- bulk files
    def list_files(self, directory: str | None = None) -> list[ListedFile]:
        directory = (directory or self.products_dir).strip("/")
        fetched = self.fetcher.get(
            self.files_url, name=f"Comext file listing {directory}", expect="text",
            params={"dir": directory, "format": "csv", "hierarchy": "false", "sizeFormat": "NONE",
                    "dateFormat": "ISO"},
        )
        return parse_listing(fetched.text, source=f"Comext file listing {directory} ({fetched.url})")

    def file_url(self, name: str, directory: str | None = None) -> str:
        return f"{self.files_url}?file={(directory or self.products_dir).strip('/')}/{name}"

    def download(self, listed: ListedFile, dest: Path, directory: str | None = None) -> DownloadResult:
        """``listed`` into ``dest``: byte ranges appended to ``dest.part``, checked, then renamed.

        A ``.part`` left by an interrupted run is resumed only if it was started
        for the same listed version (last-modified and size, kept next to it in
        a small hidden JSON file); otherwise it is discarded.
        """
        directory = (directory or self.products_dir).strip("/")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        stamp = dest.with_name(f".{dest.name}.part.json")
        version = {"name": listed.name, "last_modified": listed.last_modified, "size": listed.size}
        if part.exists() and (not stamp.exists() or json.loads(stamp.read_text()) != version):
            part.unlink()
        if listed.size is not None and part.exists() and part.stat().st_size > listed.size:
            part.unlink()
        atomic_write_bytes(stamp, json.dumps(version).encode())
        started, requests, whole = time.perf_counter(), 0, False
        offset = part.stat().st_size if part.exists() else 0
        resumed_from = offset
        total = listed.size
        label = f"Comext bulk file {listed.name}"
        progress = current_progress()
        part.touch()
        while total is None or offset < total:
            end = offset + self.chunk_bytes - 1
            if total is not None:
                end = min(end, total - 1)
            # a range that ends early (cut, or a short 206 closed cleanly) is resumed by the HTTP layer from the
            # byte it reached, within the retry budget; what arrived stays in .part for a rerun
            answer = self.fetcher.get_range(
                self.files_url, part, name=f"{label} bytes {offset}-{end}", start=offset, end=end,
                params={"file": f"{directory}/{listed.name}"},
                on_bytes=lambda n: progress.advance(0, nbytes=n))
            requests += answer.attempts
            if answer.status == 200:  # the service ignored the range: the body is the whole file
                offset, whole = answer.end_pos, True
                break
            if total is None:
                total = answer.total
            elif answer.total is not None and answer.total != total:
                part.unlink(missing_ok=True)
                raise ComextError(f"{label}: the service now has {answer.total} bytes, the listing said {total}; "
                                  "the file changed during the download, fetch it again after the next listing")
            offset = answer.end_pos
            if total is None and answer.end_pos - answer.start < self.chunk_bytes:
                total = offset
        size = part.stat().st_size
        if listed.size is not None and size != listed.size:
            part.unlink(missing_ok=True)
            raise ComextError(f"{label}: downloaded {size} bytes, the listing states {listed.size}; discarded")
        try:
            archive_member(part)  # opens the 7z header: an HTML page or a cut file fails here
        except ArchiveError as exc:
            part.unlink(missing_ok=True)
            raise ComextError(f"{label}: {exc}") from exc
        part.replace(dest)
        stamp.unlink(missing_ok=True)
        return DownloadResult(dest, size, resumed_from, requests, round(time.perf_counter() - started, 3), whole)

    # -- SDMX
    def _check_sdmx(self, fetched) -> None:
        kind, code, message = classify_sdmx_body(decode_body(fetched.content))
        if kind == "fault":
            if str(code).strip() == "413" or "TOO_BIG" in (message or ""):
                raise PayloadProblem(f"HTTP 200 carrying fault 413: {message}", kind="too_large")
            raise PayloadProblem(f"fault {code}: {message}", kind="api_error")

    def fetch_sdmx(self, query: SdmxQuery, *, max_requests: int = 500) -> list[SdmxAnswer]:
        """All observations of ``query``, in as many answers as the API's size limit needs."""
        answers: list[SdmxAnswer] = []
        pending = [query]
        while pending:
            if self.sdmx_requests >= max_requests:
                raise ComextError(f"{query.describe()}: more than {max_requests} requests after splitting; "
                                  "narrow the query")
            q = pending.pop(0)
            try:
                answers.append(self._fetch_one(q))
            except RequestFailed as exc:
                if exc.kind != "too_large" and exc.status != 413:
                    raise ComextError(f"{q.describe()}: {exc}") from exc
                halves = q.split()
                if halves is None:
                    raise ComextError(
                        f"{q.describe()}: the API refuses it as too big (HTTP 413) and it cannot be split further "
                        "(one reporter, one period); restrict partner, product or indicators"
                    ) from exc
                self.splits += 1
                self._say("info", f"{q.describe()}: too big (413), split into {halves[0].describe()} and "
                                  f"{halves[1].describe()}")
                pending[:0] = list(halves)
        return answers

    def _fetch_one(self, query: SdmxQuery) -> SdmxAnswer:
        url = f"{self.sdmx_url}/data/{query.dataset}/{query.key()}"
        self.sdmx_requests += 1
        try:
            fetched = self.fetcher.get(url, name=query.describe(), params=query.params(), expect="bytes",
                                       check=self._check_sdmx)
        except RetriesExhausted as exc:
            if exc.kind == "empty":
                raise ComextError(
                    f"{query.describe()}: HTTP 200 without data on {exc.attempts} attempts; Eurostat may still be "
                    "preparing the extraction - run again later or narrow the query"
                ) from exc
            raise ComextError(f"{query.describe()}: {exc}") from exc
        body = decode_body(fetched.content)
        kind, request_id, status = classify_sdmx_body(body)
        asynchronous = kind == "async"
        if asynchronous:
            body = self._await_async(query, request_id, status)
        rows = check_sdmx_header(query, body)
        return SdmxAnswer(query, body, fetched.url, fetched.retrieved_at, rows, asynchronous)

    def _await_async(self, query: SdmxQuery, request_id: str, status: str) -> bytes:
        """Poll ``<async>/status/<id>`` (bounded) until AVAILABLE, then fetch ``<async>/data/<id>``."""
        self._say("info", f"{query.describe()}: delivered asynchronously (id {request_id}, {status}); polling")
        for poll in range(1, self.async_max_polls + 1):
            if status == "AVAILABLE":
                data = self.fetcher.get(f"{self.async_url}/data/{request_id}", expect="bytes",
                                        name=f"{query.describe()} async data {request_id}")
                body = decode_body(data.content)
                if classify_sdmx_body(body)[0] != "csv":
                    raise ComextError(f"{query.describe()}: async data {request_id} is not SDMX-CSV")
                return body
            if status in ("EXPIRED", "ERROR", "UNKNOWN_REQUEST", "FAILED"):
                raise ComextError(f"{query.describe()}: asynchronous request {request_id} ended with {status}; "
                                  "run again to submit it anew")
            self._sleep(self.async_poll_s)
            answer = self.fetcher.get(f"{self.async_url}/status/{request_id}", expect="text",
                                      name=f"{query.describe()} async status {request_id} (poll {poll})")
            status = (xml_value(answer.text, "status") or "").upper() or "UNKNOWN_REQUEST"
        raise ComextError(f"{query.describe()}: asynchronous request {request_id} not ready after "
                          f"{self.async_max_polls} polls ({status}); run again later")

