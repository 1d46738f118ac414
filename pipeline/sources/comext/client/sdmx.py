"""SDMX 2.1 on DS-045409 (SDMX-CSV): queries with the key in the dataset's order
``freq.reporter.partner.product.flow.indicators``, their halves (for HTTP 413), answers (gzip, zip or plain;
CSV, an asynchronous-delivery notice or a fault), and which stored periods the listing shows as revised."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import zipfile
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from pipeline.sources.comext.client import ComextError
from pipeline.sources.comext.client.listing import ListedFile, parse_listed_date
from pipeline.clients.http import PayloadProblem

SDMX_URL = "https://ec.europa.eu/eurostat/api/comext/dissemination/sdmx/2.1"
ASYNC_URL = "https://ec.europa.eu/eurostat/api/comext/dissemination/1.0/async"
DATASET = "DS-045409"


def async_url_for(sdmx_url: str) -> str:
    """The asynchronous-delivery base beside an SDMX 2.1 base: Eurostat serves ``<root>/sdmx/2.1`` and
    ``<root>/1.0/async``, so ``<sdmx_url>/../../1.0/async`` (the default SDMX_URL gives ASYNC_URL)."""
    import httpx

    return str(httpx.URL(sdmx_url.rstrip("/") + "/").join("../../1.0/async"))
KEY_DIMENSIONS = ("freq", "reporter", "partner", "product", "flow", "indicators")
SDMX_COLUMNS = ("DATAFLOW", "LAST UPDATE", "freq", "reporter", "partner", "product", "flow", "indicators",
                "TIME_PERIOD", "OBS_VALUE")


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


def xml_value(text: str, *tags: str) -> str | None:
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
        fault = xml_value(text, "faultcode")
        if fault:
            return "fault", fault, xml_value(text, "faultstring") or ""
        request_id = xml_value(text, "id", "key", "requestId", "uuid")
        status = xml_value(text, "status")
        if request_id and status:
            return "async", request_id, status.upper()
    preview = re.sub(r"\s+", " ", body[:200].decode("utf-8", errors="replace"))
    raise PayloadProblem(f"not SDMX-CSV and not an asynchronous-delivery notice: {preview!r}",
                         kind="malformed", retryable=True)


def check_sdmx_header(query: SdmxQuery, body: bytes) -> int:
    lines = body.decode("utf-8-sig", errors="replace").splitlines()
    header = [c.strip() for c in lines[0].split(",")] if lines else []
    missing = [c for c in SDMX_COLUMNS if c not in header]
    if missing:
        raise ComextError(f"{query.describe()}: line 1: SDMX-CSV header lacks {missing}")
    return sum(1 for line in lines[1:] if line.strip())



def parse_last_update(value: str) -> datetime:
    """SDMX-CSV ``LAST UPDATE`` (``dd/mm/yy HH:MM:SS``) as a naive datetime."""
    return datetime.strptime(value.strip(), "%d/%m/%y %H:%M:%S")



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

