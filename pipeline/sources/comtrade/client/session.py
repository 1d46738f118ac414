"""The endpoints of the Comtrade v1 API over one shared :class:`~pipeline.clients.http.Fetcher`: final data
(``data/v1/get``), the keyless preview (``public/v1/preview``), data availability (``getDa``), reference files
and the premium bulk files."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

from pipeline.sources.comtrade.client.plan import MAX_URL, DataRequest, PlanError, _codes, url_for
from pipeline.clients.http import FetchError, Fetched, Fetcher, PayloadProblem
from pipeline.io import atomic_write_bytes

KEY_HEADER = "Ocp-Apim-Subscription-Key"
KEY_ENV = "COMTRADE_API_KEY"
PREVIEW_CAP = 500
KEYED_CAP = 100_000
SERVER_CAPS = {PREVIEW_CAP, KEYED_CAP, 250_000}  # preview, free key, premium getFinalData


def record_cap(keyed: bool, max_records_per_call: int) -> int:
    """Records per call: the configured cap (0 = the tier's), never above what the endpoint serves (500 without a key)."""
    if not keyed:
        return min(max_records_per_call or PREVIEW_CAP, PREVIEW_CAP)
    return max_records_per_call if max_records_per_call > 0 else KEYED_CAP


class ComtradeSession:
    """The endpoints of the v1 API over one :class:`Fetcher`."""

    def __init__(self, fetcher: Fetcher, *, base_url: str, keyed: bool, max_records_per_call: int = 0,
                 max_url_length: int = MAX_URL, verify_split_counts: bool = True):
        self.fetcher, self.keyed = fetcher, keyed
        self.base = base_url.rstrip("/")
        self.cap = record_cap(keyed, max_records_per_call)
        self.max_url_length = max_url_length
        # on a full page, ask the true count (countOnly) and check the calls replacing it return that many
        self.verify_split_counts = verify_split_counts

    def __enter__(self) -> "ComtradeSession":
        return self

    def __exit__(self, *exc) -> None:
        self.fetcher.close()

    def _path(self, kind: str, type_code: str, freq: str, cl: str) -> str:
        for value in (type_code, freq, cl):
            if not re.fullmatch(r"[A-Za-z0-9]{1,6}", value):
                raise PlanError(f"invalid path parameter {value!r}")
        return f"{self.base}/{kind}/{type_code}/{freq}/{cl}"

    def data_base(self, type_code: str, freq: str, cl: str) -> str:
        kind = "data/v1/get" if self.keyed else "public/v1/preview"
        return self._path(kind, type_code, freq, cl)

    def data_url(self, req: DataRequest) -> str:
        return self.data_base(req.type_code, req.freq, req.cl)

    def fetch_data(self, req: DataRequest, *, expect_data: bool = False) -> tuple[dict, Fetched]:
        """One page of final data, checked: a ``data`` list whose length matches ``count``, and records where
        ``expect_data`` says there must be some."""

        def check(fetched: Fetched) -> None:
            payload = fetched.json()
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
                raise PayloadProblem("the body has no 'data' list", kind="malformed", retryable=True)
            count, n = payload.get("count"), len(payload["data"])
            if isinstance(count, int) and count != n:
                raise PayloadProblem(f"the body announces {count} records but holds {n}", kind="truncated",
                                     retryable=True)
            if expect_data and n == 0:
                raise PayloadProblem("no records, but the data availability lists this reporter and year",
                                     kind="empty", retryable=True)

        fetched = self.fetcher.get(url_for(self.data_url(req), req.params(self.cap)), name=req.label(), check=check)
        return fetched.json(), fetched

    def count(self, req: DataRequest) -> int:
        """The true number of records of ``req`` (countOnly), whatever the cap."""

        def check(fetched: Fetched) -> None:
            if _count_of(fetched.json()) is None:
                raise PayloadProblem("countOnly answer has no count", kind="malformed", retryable=True)

        fetched = self.fetcher.get(url_for(self.data_url(req), req.params(self.cap, count_only=True)),
                                   name=f"count of {req.label()}", check=check)
        return int(_count_of(fetched.json()))

    def availability(self, reporters: Iterable[int], years: Iterable[int], *, type_code: str = "C",
                     freq: str = "A", cl: str = "HS") -> list[dict]:
        """``getDa`` rows (reporterCode, period, lastReleased, datasetChecksum, totalRecords, ...)."""
        kind = "data/v1/getDa" if self.keyed else "public/v1/getDa"
        base = self._path(kind, type_code, freq, cl)
        reps, periods = sorted(set(reporters)), sorted({str(y) for y in years})
        rows: list[dict] = []
        step = 50
        for i in range(0, len(reps), step):
            chunk = reps[i:i + step]
            params = {"reporterCode": ",".join(map(str, chunk)), "period": ",".join(periods)}
            fetched = self.fetcher.get(url_for(base, params), name=f"data availability of reporters "
                                       f"{chunk[0]}..{chunk[-1]} for {periods[0]}..{periods[-1]}",
                                       check=_needs_data_list)
            rows.extend(fetched.json()["data"])
        return rows

    def reference(self, name: str) -> dict:
        """A reference file, e.g. ``HS``, ``partnerAreas``, ``Reporters``, ``ListofReferences``."""
        if not re.fullmatch(r"[A-Za-z0-9_]{1,40}", name):
            raise PlanError(f"invalid reference file name {name!r}")
        fetched = self.fetcher.get(f"{self.base}/files/v1/app/reference/{name}.json", name=f"reference {name}")
        payload = fetched.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list) or not payload["results"]:
            raise FetchError(f"reference {name}", fetched.url, "empty", "no 'results' list", fetched.status, fetched.attempts)
        return payload

    def bulk_files(self, *, reporter: int | None = None, period: str | int | None = None, type_code: str = "C",
                   freq: str = "A", cl: str = "HS", published_from: str | None = None,
                   published_to: str | None = None) -> list[dict]:
        """Bulk file availability (premium key): rows with ``fileUrl``, ``publicationDate``, ``reporterCode``..."""
        self._need_key("bulk file listing")
        params = {"reporterCode": reporter, "period": period, "publishedDateFrom": published_from,
                  "publishedDateTo": published_to}
        problems: list[str] = []
        if reporter is not None:
            _codes([reporter], "reporter", problems, allow_zero=False)
        if period is not None and not re.fullmatch(r"\d{4}(\d{2})?", str(period)):
            problems.append(f"period {period!r} is not YYYY or YYYYMM")
        for d in (published_from, published_to):
            if d is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(d)):
                problems.append(f"date {d!r} is not YYYY-MM-DD")
        if problems:
            raise PlanError("; ".join(problems))
        query = {k: str(v) for k, v in params.items() if v is not None}
        url = self._path("bulk/v1/get", type_code, freq, cl)
        fetched = self.fetcher.get(url_for(url, query) if query else url, name="bulk file listing",
                                   check=_needs_data_list)
        return fetched.json()["data"]

    def download_bulk(self, entry: dict, dest_dir: str | os.PathLike) -> Path:
        """Download one listed bulk file (gzip) into ``dest_dir``, atomically; returns its path."""
        self._need_key("bulk file download")
        file_url = str(entry.get("fileUrl", ""))
        reporter = entry.get("reporterCode")
        if file_url.startswith(("http://", "https://")):
            url = file_url
        elif re.fullmatch(r"[0-9a-fA-F]{16,128}", file_url) and str(reporter).isdigit():
            url = f"{self.base}/bulk/v1/file/{int(reporter)}/{file_url}"
        else:
            raise PlanError("bulk entry needs a fileUrl (URL or hash) and a numeric reporterCode")
        published = str(entry.get("publicationDate", ""))[:10]
        name = (f"COMTRADE-FINAL-{entry.get('typeCode', 'C')}{entry.get('freqCode', 'A')}{int(reporter):03d}"
                f"{entry.get('period', '')}{entry.get('classificationCode', '')}[{published}].gz")
        fetched = self.fetcher.get(url, name=f"bulk file {name}", expect="bytes")
        return atomic_write_bytes(Path(dest_dir) / re.sub(r"[^A-Za-z0-9_.\[\]-]", "_", name), fetched.content)

    def _need_key(self, what: str) -> None:
        if not self.keyed:
            raise PlanError(f"{what} needs a (premium) {KEY_ENV}; none is set")


def _needs_data_list(fetched: Fetched) -> None:
    payload = fetched.json()
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise PayloadProblem("the body has no 'data' list", kind="malformed", retryable=True)


def _count_of(payload: Any) -> int | None:
    if isinstance(payload, dict):
        if isinstance(payload.get("count"), int) and not payload.get("data"):
            return payload["count"]
        data = payload.get("data")
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict) and isinstance(data[0].get("count"), int):
            return data[0]["count"]
        if isinstance(payload.get("count"), int):
            return payload["count"]
    return None

