"""Eurostat Comext client: the bulk file service and the SDMX 2.1 API, on the shared HTTP layer.

Every request goes through :class:`pipeline.clients.http.Fetcher` (throttle,
retries with backoff honouring Retry-After, failure classification); this
module adds only what is Comext's own (sources.md section 4):

Bulk files (``comext/COMEXT_DATA/PRODUCTS``)
    :meth:`ComextClient.list_files` reads the file service's CSV listing
    (name, size in bytes, last-modified date); :meth:`ComextClient.download`
    fetches one file in byte ranges into ``<name>.part``, resumes from what a
    previous attempt left there, checks the size against the listing and
    renames the file into place only when it is complete and opens as a 7z
    archive. :func:`changed_months` compares the listing with what is held:
    a changed last-modified date or size is a revision.

SDMX 2.1 (``DS-045409``, SDMX-CSV)
    :class:`SdmxQuery` builds the key in the dataset's order
    ``freq.reporter.partner.product.flow.indicators``. :meth:`ComextClient.fetch_sdmx`
    asks for gzip (``compressed=true``; gzip, zip and plain bodies are all
    accepted), splits a query the API refuses as too big (HTTP 413) by
    reporter and then by period, polls an asynchronous answer (an XML
    envelope with a request id instead of data) at a bounded interval, and
    fails with a message naming the query for anything else.

:class:`ComextRawStore` keeps what was fetched under ``<data dir>/raw/comext``
(``bulk/full_v2_YYYYMM.7z``, ``sdmx/<query>/<period>.csv.gz``) with a
``_release.json`` sidecar the readers understand, and moves a replaced
version to ``<data dir>/raw/comext_archive`` (outside the folder the readers
scan, so an archived month is never read twice).

Facts marked [3rd] in sources.md are used as documented there and checked
against the local fake only: the listing's date column name, the async
endpoints ``<base>/1.0/async/status|data/<id>``.
"""

from __future__ import annotations

import csv
import fcntl
import gzip
import hashlib
import io
import json
import re
import shutil
import tempfile
import time
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb

from pipeline.clients.http import (
    Fetcher,
    FetchError,
    PayloadProblem,
    RequestFailed,
    RetriesExhausted,
    atomic_write_bytes,
)
from pipeline.readers.comext import archive_member, extract_member  # noqa: F401 - 7z unpacking lives with the reader
from pipeline.readers.inputs import SIDECAR, InputError, sha256_of
from pipeline.readers.raw_store import sql_string

FILES_URL = "https://ec.europa.eu/eurostat/api/dissemination/files"
PRODUCTS_DIR = "comext/COMEXT_DATA/PRODUCTS"
SDMX_URL = "https://ec.europa.eu/eurostat/api/comext/dissemination/sdmx/2.1"
ASYNC_URL = "https://ec.europa.eu/eurostat/api/comext/dissemination/1.0/async"
DATASET = "DS-045409"
KEY_DIMENSIONS = ("freq", "reporter", "partner", "product", "flow", "indicators")
SDMX_COLUMNS = ("DATAFLOW", "LAST UPDATE", "freq", "reporter", "partner", "product", "flow", "indicators",
                "TIME_PERIOD", "OBS_VALUE")
MONTHLY_FILE = re.compile(r"^full_v2_(\d{4})(0[1-9]|1[0-2])\.7z$")
ANNUAL_FILE = re.compile(r"^full_v2_(\d{4})52\.7z$")


class ComextError(Exception):
    """A Comext answer or file that cannot be used; the message names the request or file and the reason."""


# --------------------------------------------------------------------------- file listing


@dataclass(frozen=True)
class ListedFile:
    name: str
    size: int | None
    last_modified: str | None
    type: str = ""

    @property
    def month(self) -> str | None:
        """``YYYY-MM`` for a monthly ``full_v2_YYYYMM.7z``, ``YYYY`` for the annual ``full_v2_YYYY52.7z``."""
        m = MONTHLY_FILE.match(self.name)
        if m:
            return f"{m.group(1)}-{m.group(2)}"
        a = ANNUAL_FILE.match(self.name)
        return a.group(1) if a else None


def _date_column(columns: list[str]) -> str | None:
    for col in columns:
        if re.search(r"DATE|MODIF|UPDATE", col, re.IGNORECASE):
            return col
    return None


def parse_listing(text: str, *, source: str = "file listing") -> list[ListedFile]:
    """The file service's CSV listing (``format=csv&sizeFormat=NONE&dateFormat=ISO``).

    ``NAME`` is required; ``SIZE`` must be whole bytes; the last-modified
    column (its exact name is not documented: the first column naming DATE,
    MODIF or UPDATE) must exist, because revisions are found with it.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    upper = {c.upper(): c for c in columns}
    if "NAME" not in upper:
        raise ComextError(f"{source}: line 1: no NAME column (columns: {columns})")
    date_col = _date_column(columns)
    if date_col is None:
        raise ComextError(f"{source}: line 1: no last-modified column (columns: {columns}); "
                          "revisions cannot be detected without it")
    size_col, type_col = upper.get("SIZE"), upper.get("TYPE")
    out: list[ListedFile] = []
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        name = row.get(upper["NAME"], "")
        if not name:
            raise ComextError(f"{source}: line {line}: empty NAME")
        size_text = row.get(size_col, "") if size_col else ""
        if size_text and not size_text.isdigit():
            raise ComextError(f"{source}: line {line}: SIZE {size_text!r} of {name} is not a byte count")
        out.append(ListedFile(name=name.rsplit("/", 1)[-1], size=int(size_text) if size_text else None,
                              last_modified=row.get(date_col) or None, type=row.get(type_col, "") if type_col else ""))
    return out


def monthly_files(listing: list[ListedFile], *, annual: bool = False) -> dict[str, ListedFile]:
    """``{month: file}`` of the ``full_v2_YYYYMM.7z`` files (and ``full_v2_YYYY52.7z`` with ``annual``)."""
    return {f.month: f for f in listing
            if f.month and (MONTHLY_FILE.match(f.name) or (annual and ANNUAL_FILE.match(f.name)))}


def changed_months(listing: dict[str, ListedFile], held: dict[str, dict], *, track_from: str = "",
                   months: list[str] | None = None) -> dict[str, str]:
    """Months to (re)fetch, each with the reason: ``revised`` or ``new``.

    ``held`` maps file names to what was fetched (``last_modified``, ``size``).
    A held month whose listed date or size differs is revised; a month not held
    is new when it is in ``months`` or not before ``track_from`` (``YYYY-MM``;
    empty = only months asked for by name).
    """
    wanted = set(months or [])
    out: dict[str, str] = {}
    for month, listed in sorted(listing.items()):
        mine = held.get(listed.name)
        if mine is not None:
            if mine.get("last_modified") != listed.last_modified or (
                listed.size is not None and mine.get("size") not in (None, listed.size)
            ):
                out[month] = "revised"
        elif month in wanted or (track_from and len(month) == 7 and month >= track_from):
            out[month] = "new"
    return out


# --------------------------------------------------------------------------- SDMX queries


def _periods(freq: str, start: str, end: str) -> list[str]:
    if not start or not end:
        return []
    if freq == "A":
        return [str(y) for y in range(int(start[:4]), int(end[:4]) + 1)]
    if freq != "M":
        raise ComextError(f"frequency {freq!r}: only M and A are supported")
    y, m = int(start[:4]), int(start[5:7])
    ey, em = int(end[:4]), int(end[5:7])
    out = []
    while (y, m) <= (ey, em) and len(out) < 12 * 200:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


_PERIOD = {"M": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"), "A": re.compile(r"^\d{4}$")}


@dataclass(frozen=True)
class SdmxQuery:
    """One SDMX 2.1 data query on a Comext dataset; empty dimension = all codes."""

    reporter: tuple[str, ...] = ()
    partner: tuple[str, ...] = ()
    product: tuple[str, ...] = ()
    flow: tuple[str, ...] = ()
    indicators: tuple[str, ...] = ("VALUE_IN_EUROS", "QUANTITY_IN_100KG")
    start_period: str = ""
    end_period: str = ""
    freq: str = "M"
    dataset: str = DATASET

    def __post_init__(self) -> None:
        for dim in ("reporter", "partner", "product", "flow", "indicators"):
            codes = tuple(str(c).strip() for c in getattr(self, dim))
            bad = [c for c in codes if not re.fullmatch(r"[A-Za-z0-9_]+", c)]
            if bad:
                raise ComextError(f"SDMX query: {dim} codes {bad} are not valid SDMX codes")
            object.__setattr__(self, dim, codes)
        for p in (self.start_period, self.end_period):
            if p and not _PERIOD.get(self.freq, _PERIOD["M"]).match(p):
                raise ComextError(f"SDMX query: period {p!r} does not fit frequency {self.freq} (YYYY-MM or YYYY)")
        if bool(self.start_period) != bool(self.end_period):
            raise ComextError("SDMX query: give both start_period and end_period, or neither")
        if self.start_period and self.start_period > self.end_period:
            raise ComextError(f"SDMX query: start {self.start_period} is after end {self.end_period}")

    @classmethod
    def from_dict(cls, spec: dict) -> "SdmxQuery":
        fields = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in spec.items()}
        return cls(**fields)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def key(self) -> str:
        """``freq.reporter.partner.product.flow.indicators``, ``+`` between codes, empty = all."""
        values = {"freq": (self.freq,), "reporter": self.reporter, "partner": self.partner,
                  "product": self.product, "flow": self.flow, "indicators": self.indicators}
        return ".".join("+".join(values[d]) for d in KEY_DIMENSIONS)

    def query_id(self) -> str:
        """Stable name of the query without its periods: the folder its months are stored in."""
        digest = hashlib.sha1(self.key().encode()).hexdigest()[:10]
        return f"{self.dataset}_{self.freq}_{digest}"

    def periods(self) -> list[str]:
        return _periods(self.freq, self.start_period, self.end_period)

    def params(self) -> dict[str, str]:
        params = {"format": "SDMX-CSV", "compressed": "true"}
        if self.start_period:
            params.update(startPeriod=self.start_period, endPeriod=self.end_period)
        return params

    def describe(self) -> str:
        span = f" {self.start_period}..{self.end_period}" if self.start_period else " (all periods)"
        return f"Comext {self.dataset} {self.key()}{span}"

    def split(self) -> tuple["SdmxQuery", "SdmxQuery"] | None:
        """Two halves of the query: by reporter while it lists several, then by period; None if it cannot."""
        if len(self.reporter) > 1:
            half = len(self.reporter) // 2
            return replace(self, reporter=self.reporter[:half]), replace(self, reporter=self.reporter[half:])
        periods = self.periods()
        if len(periods) > 1:
            half = len(periods) // 2
            return (replace(self, start_period=periods[0], end_period=periods[half - 1]),
                    replace(self, start_period=periods[half], end_period=periods[-1]))
        return None

    def for_periods(self, first: str, last: str) -> "SdmxQuery":
        return replace(self, start_period=first, end_period=last)


def contiguous_runs(periods: list[str], freq: str) -> list[tuple[str, str]]:
    """``[(first, last), ...]`` covering ``periods`` with as few ranges as possible."""
    runs: list[tuple[str, str]] = []
    for p in sorted(set(periods)):
        if runs and _periods(freq, runs[-1][1], p)[1:2] == [p]:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    return runs


@dataclass
class SdmxAnswer:
    query: SdmxQuery
    content: bytes  # plain SDMX-CSV
    url: str
    retrieved_at: str
    rows: int
    asynchronous: bool = False


def decode_body(content: bytes) -> bytes:
    """Plain bytes of an answer that may be gzip (``compressed=true``), a one-member zip, or plain."""
    if content[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(content)
        except (OSError, EOFError) as exc:
            raise PayloadProblem(f"gzip body is truncated or corrupt ({exc})", kind="truncated", retryable=True) from None
    if content[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as z:
                names = [n for n in z.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise PayloadProblem(f"zip body holds {len(names)} files, expected one", kind="malformed")
                return z.read(names[0])
        except zipfile.BadZipFile as exc:
            raise PayloadProblem(f"zip body is corrupt ({exc})", kind="truncated", retryable=True) from None
    return content


_XML_TAG = r"<(?:[\w.-]+:)?{tag}\b[^>]*>\s*([^<\s][^<]*?)\s*</(?:[\w.-]+:)?{tag}>"


def _xml_value(text: str, *tags: str) -> str | None:
    for tag in tags:
        found = re.findall(_XML_TAG.format(tag=tag), text)
        if found:
            return found[-1]
    return None


def classify_sdmx_body(body: bytes) -> tuple[str, str | None, str | None]:
    """``("csv", None, None)``, ``("async", id, status)`` or ``("fault", code, message)`` for a decoded body.

    Raises PayloadProblem for a body that is none of these.
    """
    head = body[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    if first.startswith("DATAFLOW") or "OBS_VALUE" in first:
        return "csv", None, None
    if head.startswith(b"<"):
        text = body[:65536].decode("utf-8", errors="replace")
        fault = _xml_value(text, "faultcode")
        if fault:
            return "fault", fault, _xml_value(text, "faultstring") or ""
        request_id = _xml_value(text, "id", "key", "requestId", "uuid")
        status = _xml_value(text, "status")
        if request_id and status:
            return "async", request_id, status.upper()
    preview = re.sub(r"\s+", " ", body[:200].decode("utf-8", errors="replace"))
    raise PayloadProblem(f"not SDMX-CSV and not an asynchronous-delivery notice: {preview!r}",
                         kind="malformed", retryable=True)


def _check_header(query: SdmxQuery, body: bytes) -> int:
    lines = body.decode("utf-8-sig", errors="replace").splitlines()
    header = [c.strip() for c in lines[0].split(",")] if lines else []
    missing = [c for c in SDMX_COLUMNS if c not in header]
    if missing:
        raise ComextError(f"{query.describe()}: line 1: SDMX-CSV header lacks {missing}")
    return sum(1 for line in lines[1:] if line.strip())


# --------------------------------------------------------------------------- the client


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
        self.chunk_bytes = chunk_bytes
        self.async_poll_s, self.async_max_polls = async_poll_s, async_max_polls
        self._sleep, self._log = sleep, log
        self.sdmx_requests = 0
        self.splits = 0

    def _say(self, level: str, message: str) -> None:
        if self._log is not None:
            getattr(self._log, level)(message)

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
        while total is None or offset < total:
            end = offset + self.chunk_bytes - 1
            if total is not None:
                end = min(end, total - 1)
            requests += 1
            fetched = self.fetcher.get(
                self.files_url, name=f"{label} bytes {offset}-{end}", expect="bytes", allow_html=False,
                params={"file": f"{directory}/{listed.name}"},
                headers={"Range": f"bytes={offset}-{end}", "Accept-Encoding": "identity"},
            )
            if fetched.status == 200:
                # the service ignored the range: the body is the whole file
                atomic_write_bytes(part, fetched.content)
                offset, whole = len(fetched.content), True
                break
            if fetched.status != 206:
                raise ComextError(f"{label}: HTTP {fetched.status} to a range request ({fetched.url})")
            m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", fetched.headers.get("content-range", "").strip())
            if not m or int(m.group(1)) != offset or int(m.group(2)) - offset + 1 != len(fetched.content):
                raise ComextError(f"{label}: answer to bytes={offset}-{end} has Content-Range "
                                  f"{fetched.headers.get('content-range')!r} and {len(fetched.content)} bytes")
            served_total = int(m.group(3)) if m.group(3) != "*" else None
            if total is None:
                total = served_total
            elif served_total is not None and served_total != total:
                part.unlink(missing_ok=True)
                raise ComextError(f"{label}: the service now has {served_total} bytes, the listing said {total}; "
                                  "the file changed during the download, fetch it again after the next listing")
            with part.open("ab") as fh:
                fh.write(fetched.content)
            offset += len(fetched.content)
            if total is None and len(fetched.content) < self.chunk_bytes:
                total = offset
        size = part.stat().st_size
        if listed.size is not None and size != listed.size:
            part.unlink(missing_ok=True)
            raise ComextError(f"{label}: downloaded {size} bytes, the listing states {listed.size}; discarded")
        try:
            archive_member(part)  # opens the 7z header: an HTML page or a cut file fails here
        except InputError as exc:
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
        rows = _check_header(query, body)
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
            status = (_xml_value(answer.text, "status") or "").upper() or "UNKNOWN_REQUEST"
        raise ComextError(f"{query.describe()}: asynchronous request {request_id} not ready after "
                          f"{self.async_max_polls} polls ({status}); run again later")


# --------------------------------------------------------------------------- revisions of SDMX months


def parse_last_update(value: str) -> datetime:
    """SDMX-CSV ``LAST UPDATE`` (``dd/mm/yy HH:MM:SS``) as a naive datetime."""
    return datetime.strptime(value.strip(), "%d/%m/%y %H:%M:%S")


def parse_listed_date(value: str) -> datetime:
    """The listing's ISO date as a naive datetime in its own clock (the offset is dropped, not applied)."""
    return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).replace(tzinfo=None)


def stale_sdmx_periods(stored: dict[str, dict], listing: dict[str, ListedFile], periods: list[str]) -> list[str]:
    """Periods of a stored SDMX query to fetch again.

    A period is stale when it is not stored, or when the file service shows
    its bulk file modified after the ``LAST UPDATE`` of the stored answer (the
    API states one LAST UPDATE per answer; the listing dates each month).
    """
    out = []
    for p in periods:
        mine = stored.get(p)
        if mine is None:
            out.append(p)
            continue
        listed = listing.get(p)
        if listed is None or not listed.last_modified or not mine.get("last_update"):
            continue
        if parse_listed_date(listed.last_modified) > datetime.fromisoformat(mine["last_update"]):
            out.append(p)
    return out


# --------------------------------------------------------------------------- raw store


def utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


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

    @classmethod
    def at(cls, data_root: Path) -> "ComextRawStore":
        """The store of a data directory; downloads in progress sit in ``raw/comext_incoming`` (same disk,
        so the final rename is atomic, and outside the folder the readers scan)."""
        raw = Path(data_root) / "raw"
        return cls(raw / "comext", raw / "comext_archive", raw / "comext_incoming")

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
                atomic_write_bytes(self.sidecar, json.dumps(meta, indent=1, sort_keys=True).encode())
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def archive(self, meta: dict, rel: str, reason: str) -> str | None:
        """Move ``root/rel`` to ``archive_root/<stamp>/rel``; returns the archive path relative to the archive root."""
        current = self.root / rel
        if not current.exists():
            return None
        target_rel = f"{utc_stamp()}/{rel}"
        target = self.archive_root / target_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(current), str(target))
        meta["archived"].append({"file": rel, "archived_as": target_rel, "reason": reason,
                                 "release": meta["files"].get(rel)})
        return target_rel

    # -- bulk
    def bulk_rel(self, name: str) -> str:
        return f"bulk/{name}"

    def held_bulk(self) -> dict[str, dict]:
        return self.read().get("bulk", {})

    def fetch_bulk(self, client: ComextClient, listed: ListedFile, *, reason: str = "new") -> dict:
        """Download ``listed``, archive the version it replaces, record it; returns its sidecar entry."""
        rel = self.bulk_rel(listed.name)
        result = client.download(listed, self.incoming / listed.name)
        entry = {
            "file": rel, "month": listed.month, "last_modified": listed.last_modified, "size": result.size,
            "sha256": sha256_of(result.path), "url": client.file_url(listed.name),
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "requests": result.requests, "resumed_from": result.resumed_from, "seconds": result.seconds,
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
        return [outcomes[p] for p in sorted(outcomes)]


def _widest(stored: dict | None, query: SdmxQuery) -> dict:
    """The stored query's period range widened to include ``query``'s (refreshes of a few months keep the span)."""
    if not stored or not stored.get("start_period") or not query.start_period:
        return {}
    return {"start_period": min(stored["start_period"], query.start_period),
            "end_period": max(stored["end_period"], query.end_period)}


__all__ = [
    "ASYNC_URL", "DATASET", "FILES_URL", "PRODUCTS_DIR", "SDMX_URL", "ComextClient", "ComextError",
    "ComextRawStore", "DownloadResult", "ListedFile", "PeriodOutcome", "SdmxAnswer", "SdmxQuery",
    "archive_member", "changed_months", "classify_sdmx_body", "contiguous_runs", "decode_body",
    "extract_member", "monthly_files", "parse_last_update", "parse_listed_date", "parse_listing",
    "stale_sdmx_periods", "FetchError",
]
