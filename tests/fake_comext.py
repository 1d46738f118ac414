"""Offline stand-ins for Eurostat Comext: generated bulk months and a local file service + SDMX endpoint.

* ``write_month(path, period, rows)`` writes a ``full_v2`` (or legacy) ``.dat``
  of realistic shape with DuckDB (no Python loop over rows): EU reporters,
  partners from the reference list including the pseudo-partners QP-QZ, CN8
  codes of HS 2022 with about 1 % confidential ``..XXXXXX`` codes, several
  statistical procedures. ``pack_7z`` wraps it the way Eurostat ships it.
* ``FakeComext`` serves, on 127.0.0.1 only, the file service's CSV listing,
  file downloads with HTTP range requests (Python's http.server has none, so
  they are implemented here), the SDMX 2.1 data endpoint on the real
  DS-045409 fixture rows, HTTP 413 for answers above ``max_rows``, the
  asynchronous pattern (an XML envelope, then status and data endpoints) and
  scripted faults. Every handler answers once and returns; the server runs in
  one thread that ``close()`` stops.

Run ``python tests/fake_comext.py bench --rows 6000000`` for the 7z -> Parquet figures.
"""

from __future__ import annotations

import csv
import gzip
import http.server
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "data" / "reference"
SDMX_FIXTURE = REPO / "data" / "sample" / "comext" / "DS-045409_M_EU27_CN39201081_2023-2025.csv"

FULL_V2_HEADER = ("REPORTER,PARTNER,TRADE_TYPE,PRODUCT_NC,PRODUCT_SITC,PRODUCT_CPA21,PRODUCT_CPA22,PRODUCT_BEC,"
                  "PRODUCT_BEC5,PRODUCT_SECTION,FLOW,STAT_PROCEDURE,SUPPL_UNIT,PERIOD,VALUE_EUR,VALUE_NAC,"
                  "QUANTITY_KG,QUANTITY_SUPPL_UNIT")
LEGACY_HEADER = ("DECLARANT,DECLARANT_ISO,PARTNER,PARTNER_ISO,TRADE_TYPE,PRODUCT_NC,PRODUCT_SITC,PRODUCT_cpa2002,"
                 "PRODUCT_cpa2008,PRODUCT_CPA2_1,PRODUCT_BEC,PRODUCT_SECTION,FLOW,STAT_REGIME,SUPP_UNIT,PERIOD,"
                 "VALUE_IN_EUROS,QUANTITY_IN_KG,SUP_QUANTITY")


def _s(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


# --------------------------------------------------------------------------- generated bulk months


def write_month(path: Path, period: int, rows: int, *, seed: int = 0, revision: int = 0,
                layout: str = "full_v2") -> Path:
    """A bulk ``.dat`` for ``period`` (YYYYMM) with ``rows`` lines after the header.

    ``revision`` > 0 changes the values of about 2 % of the rows, as a silent
    Eurostat revision of a past month would.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        areas = _s(REFERENCE / "area_codes.csv")
        members = _s(REFERENCE / "eu_members.csv")
        products = _s(REFERENCE / "hs_products.csv")
        con.execute(f"""CREATE TEMP TABLE rep AS SELECT row_number() OVER (ORDER BY comext_code) - 1 AS idx,
                        comext_code AS code FROM read_csv({members}, all_varchar=true) WHERE in_eu27_2020 = 'true'""").fetchall()
        con.execute(f"""CREATE TEMP TABLE par AS SELECT row_number() OVER (ORDER BY a.code) - 1 AS idx, a.code,
                        e.comext_code IS NOT NULL AS eu
                        FROM read_csv({areas}, all_varchar=true) a
                        LEFT JOIN (SELECT comext_code FROM read_csv({members}, all_varchar=true)
                                   WHERE in_eu27_2020 = 'true') e ON e.comext_code = a.code
                        WHERE a.source = 'comext' AND a.kind <> 'aggregate'""").fetchall()
        con.execute(f"""CREATE TEMP TABLE prod AS SELECT row_number() OVER (ORDER BY code, s) - 1 AS idx,
                        code || s AS cn8, section FROM read_csv({products}, all_varchar=true),
                        (VALUES ('10'), ('90')) v(s) WHERE level = '6'""").fetchall()
        n_rep, n_par, n_prod = (con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("rep", "par", "prod"))
        u = "((hash(i, {k}, {seed}) % 1000003) / 1000003.0)"
        uu = {k: u.format(k=k, seed=seed) for k in range(1, 10)}
        value = f"round(exp(2 + 10 * {uu[5]}))::BIGINT + CASE WHEN {revision} > 0 AND i % 50 = 0 THEN {revision} * 7 ELSE 0 END"
        base = f"""
            SELECT i, rep.code AS reporter, par.code AS partner, CASE WHEN par.eu THEN 'I' ELSE 'E' END AS trade_type,
                CASE WHEN hash(i, 4, {seed}) % 100 = 0 THEN left(prod.cn8, 2) || 'XXXXXX' ELSE prod.cn8 END AS product,
                lpad((hash(i, 6) % 99999)::VARCHAR, 5, '0') AS sitc, lpad((hash(i, 7) % 9999)::VARCHAR, 4, '0') AS cpa,
                (100 + hash(i, 8) % 700)::VARCHAR AS bec, lpad((hash(i, 9) % 999999)::VARCHAR, 6, '0') AS bec5,
                lpad((hash(prod.section) % 21 + 1)::VARCHAR, 2, '0') AS section,
                1 + hash(i, 3, {seed}) % 2 AS flow,
                CASE WHEN {uu[6]} < 0.85 THEN '1' WHEN {uu[6]} < 0.93 THEN '2' WHEN {uu[6]} < 0.97 THEN '3' ELSE '9' END AS stat,
                CASE WHEN {uu[7]} < 0.7 THEN 'NO_SU' WHEN {uu[7]} < 0.85 THEN 'PST' ELSE 'L' END AS su,
                {value} AS value_eur,
                round(({value}) / (1 + 20 * {uu[8]}))::BIGINT AS kg,
                CASE WHEN {uu[7]} < 0.7 THEN 0 ELSE round(({value}) / (1 + 50 * {uu[9]}))::BIGINT END AS suq
            FROM range({int(rows)}) t(i)
            JOIN rep ON rep.idx = hash(i, 1, {seed}) % {n_rep}
            JOIN par ON par.idx = floor({uu[2]} * {uu[2]} * {n_par})::BIGINT
            JOIN prod ON prod.idx = hash(i, 2, {seed}) % {n_prod}"""
        if layout == "full_v2":
            select = f"""SELECT reporter AS REPORTER, partner AS PARTNER, trade_type AS TRADE_TYPE, product AS PRODUCT_NC,
                sitc AS PRODUCT_SITC, cpa AS PRODUCT_CPA21, cpa AS PRODUCT_CPA22, bec AS PRODUCT_BEC, bec5 AS PRODUCT_BEC5,
                section AS PRODUCT_SECTION, flow AS FLOW, stat AS STAT_PROCEDURE, su AS SUPPL_UNIT, {period} AS PERIOD,
                value_eur AS VALUE_EUR, value_eur AS VALUE_NAC, kg AS QUANTITY_KG, suq AS QUANTITY_SUPPL_UNIT
                FROM ({base}) ORDER BY i"""
        else:
            select = f"""SELECT lpad((hash(reporter) % 999)::VARCHAR, 3, '0') AS DECLARANT, reporter AS DECLARANT_ISO,
                lpad((hash(partner) % 9999)::VARCHAR, 4, '0') AS PARTNER, partner AS PARTNER_ISO, trade_type AS TRADE_TYPE,
                product AS PRODUCT_NC, sitc AS PRODUCT_SITC, cpa AS PRODUCT_cpa2002, cpa AS PRODUCT_cpa2008,
                cpa AS PRODUCT_CPA2_1, bec AS PRODUCT_BEC, section AS PRODUCT_SECTION, flow AS FLOW, stat AS STAT_REGIME,
                su AS SUPP_UNIT, {period} AS PERIOD, value_eur AS VALUE_IN_EUROS, kg AS QUANTITY_IN_KG,
                suq AS SUP_QUANTITY FROM ({base}) ORDER BY i"""
        con.execute(f"COPY ({select}) TO {_s(path)} (FORMAT csv, HEADER true, QUOTE '')").fetchall()
    finally:
        con.close()
    return path


def pack_7z(member: Path, archive: Path, *, preset: int = 5, arcname: str | None = None) -> Path:
    """``archive`` holding ``member`` compressed with LZMA2 (7-Zip's method for the Comext files)."""
    import py7zr

    archive.parent.mkdir(parents=True, exist_ok=True)
    filters = [{"id": py7zr.FILTER_LZMA2, "preset": preset}]
    with py7zr.SevenZipFile(archive, "w", filters=filters) as z:
        z.write(member, arcname or member.name)
    return archive


def month_archive(folder: Path, period: int, rows: int, *, seed: int = 0, revision: int = 0,
                  layout: str = "full_v2", name: str | None = None) -> Path:
    """``full_v2_YYYYMM.7z`` (or ``name``) in ``folder``, generated and packed; the .dat is removed."""
    name = name or f"full_v2_{period}.7z"
    dat = folder / f".gen-{period}-{seed}-{revision}" / f"{name[:-3]}.dat"
    write_month(dat, period, rows, seed=seed, revision=revision, layout=layout)
    archive = pack_7z(dat, folder / name, preset=1)
    dat.unlink()
    dat.parent.rmdir()
    return archive


def corrupt_at(data: bytes) -> int:
    """The byte :func:`corrupt_7z` damages: the middle of the packed stream (after the 32-byte signature header,
    before the end header whose offset that header states)."""
    next_header_offset = int.from_bytes(data[12:20], "little")
    return 32 + max(1, next_header_offset // 2)


def corrupt_7z(data: bytes) -> bytes:
    """``data`` (a 7z archive) with its packed stream damaged and its headers intact: the archive opens and
    lists its member, unpacking it fails (LZMA error or CRC mismatch). Same size, so the listing still fits."""
    at = corrupt_at(data)
    damaged = bytearray(data)
    for i in range(at, min(at + 64, 32 + int.from_bytes(data[12:20], "little"))):
        damaged[i] ^= 0x5A
    return bytes(damaged)


# --------------------------------------------------------------------------- the fake service


@dataclass
class ServedFile:
    data: bytes
    last_modified: str  # ISO, as the listing with dateFormat=ISO shows it


@dataclass
class Faults:
    """Scripted misbehaviour; each counter is consumed by the requests it affects."""

    drop_after_bytes: int | None = None  # first download answer stops after this many bytes (connection cut)
    short_206: list[str] = field(default_factory=list)  # next ranged answers end early, cleanly: "length" sends a
    # Content-Length that matches the short body, "close" sends none and closes the connection after it
    short_206_fraction: float = 0.3  # share of the asked range a short answer carries
    stall_first: int = 0  # download answers that stall longer than any client timeout before the headers
    stall_s: float = 1.0
    corrupt: dict = field(default_factory=dict)  # file name -> times its packed stream is served damaged
    fail_downloads_after: int | None = None  # after this many download answers, every further one is a 503
    ignore_range: bool = False  # answer 200 with the whole file even when a range is asked
    status_first: list[int] = field(default_factory=list)  # statuses to answer before the real ones
    retry_after: str | None = None  # Retry-After header sent with those statuses
    listing_size_delta: int = 0  # the listing states sizes off by this many bytes
    sdmx_empty_first: int = 0  # SDMX data requests answered 200 with an empty body
    sdmx_async: bool = False  # SDMX data requests answered with an async envelope
    async_polls_before_ready: int = 1
    async_final_status: str = "AVAILABLE"


# what the fault drill injects into the file service's downloads, in turn (see FakeComext.fault_every)
DRILL_FAULTS = ("429", "short_length", "503", "cut", "500", "timeout", "short_close", "502")


class FakeComext:
    """A local Eurostat file service + Comext SDMX endpoint; use as a context manager.

    ``fault_every=n`` gives every n-th download request the next fault of ``fault_kinds`` (429 with
    Retry-After 0, 500/502/503, a stall past the client's timeout, a cut connection, a 206 that ends early
    with a matching Content-Length or on a close-delimited body); ``faults_injected`` counts them by kind."""

    def __init__(self, *, sdmx_rows: list[dict] | None = None, max_rows: int = 1_000_000,
                 last_update: str = "13/02/26 11:00:00", fault_every: int = 0,
                 fault_kinds: tuple[str, ...] = DRILL_FAULTS):
        self.files: dict[str, ServedFile] = {}
        self.faults = Faults()
        self.fault_every, self.fault_kinds = fault_every, fault_kinds
        self.faults_injected: dict[str, int] = {}
        self._download_requests = 0
        self.max_rows = max_rows
        self.sdmx_rows = sdmx_rows if sdmx_rows is not None else load_sdmx_fixture()
        self.last_update = last_update
        self.log: list[dict] = []
        self._jobs: dict[str, dict] = {}
        self._downloads_served = 0
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle
    def __enter__(self) -> "FakeComext":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def api_settings(self) -> dict:
        """Settings pointing the Comext client at this fake, without throttle or real waiting."""
        return {"files_url": f"{self.base}/files", "sdmx_url": f"{self.base}/sdmx/2.1",
                "async_url": f"{self.base}/1.0/async", "requests_per_second": 0.0, "backoff_base_s": 0.01,
                "max_attempts": 3, "async_poll_s": 0.0, "async_max_polls": 5}

    # -- content
    def put(self, name: str, data: bytes, last_modified: str) -> None:
        with self._lock:
            self.files[name] = ServedFile(data, last_modified)

    def requests(self, kind: str | None = None) -> list[dict]:
        with self._lock:
            return [r for r in self.log if kind is None or r["kind"] == kind]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def _record(self, **entry) -> None:
        with self._lock:
            self.log.append(entry)

    # -- SDMX
    def select(self, key: str, start: str | None, end: str | None) -> list[dict]:
        dims = ["freq", "reporter", "partner", "product", "flow", "indicators"]
        parts = key.split(".")
        if len(parts) != len(dims):
            raise ValueError(f"key {key!r} has {len(parts)} parts, DS-045409 has {len(dims)}")
        wanted = {d: set(p.split("+")) for d, p in zip(dims, parts) if p}
        return [r for r in self.sdmx_rows
                if all(r[d] in codes for d, codes in wanted.items())
                and (not start or r["TIME_PERIOD"] >= start) and (not end or r["TIME_PERIOD"] <= end)]

    def sdmx_csv(self, rows: list[dict]) -> bytes:
        cols = ["DATAFLOW", "LAST UPDATE", "freq", "reporter", "partner", "product", "flow", "indicators",
                "TIME_PERIOD", "OBS_VALUE"]
        lines = [",".join(cols)] + [
            ",".join([r["DATAFLOW"], r.get("LAST UPDATE_OVERRIDE") or self.last_update] + [r[c] for c in cols[2:]])
            for r in rows
        ]
        return ("\n".join(lines) + "\n").encode()

    def revise(self, period: str, factor: float, last_update: str) -> int:
        """Change the values of one period in place and stamp it with ``last_update``; returns rows touched."""
        touched = 0
        for r in self.sdmx_rows:
            if r["TIME_PERIOD"] == period and r["indicators"] == "VALUE_IN_EUROS":
                r["OBS_VALUE"] = repr(float(r["OBS_VALUE"]) * factor)
                touched += 1
        self.last_update = last_update
        return touched


def load_sdmx_fixture(path: Path = SDMX_FIXTURE) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _handler(fake: FakeComext):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: bytes, ctype: str = "text/plain", headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _scripted_status(self) -> bool:
            with fake._lock:
                status = fake.faults.status_first.pop(0) if fake.faults.status_first else None
            if status is None:
                return False
            headers = {"Retry-After": fake.faults.retry_after} if fake.faults.retry_after else {}
            self._send(status, f"scripted {status}".encode(), headers=headers)
            return True

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            path = unquote(parts.path)
            if path.rstrip("/") == "/files":
                if "dir" in query:
                    fake._record(kind="listing", path=path, query=query)
                    return self._listing(query)
                if "file" in query:
                    return self._file(query)
            if path.startswith("/sdmx/2.1/data/"):
                return self._sdmx(path, query)
            # the real layout: <root>/sdmx/2.1 and <root>/1.0/async
            if path.startswith("/1.0/async/status/"):
                return self._async_status(path.rsplit("/", 1)[-1])
            if path.startswith("/1.0/async/data/"):
                return self._async_data(path.rsplit("/", 1)[-1])
            self._send(404, b"not found")

        # file service
        def _listing(self, query: dict) -> None:
            if self._scripted_status():
                return
            if query.get("format") != "csv":
                return self._send(400, b"this fake serves the CSV listing only")
            lines = ["NAME,TYPE,SIZE,LAST MODIFIED"]
            with fake._lock:
                items = sorted(fake.files.items())
                delta = fake.faults.listing_size_delta
            for name, served in items:
                lines.append(f"{name},7z,{len(served.data) + delta},{served.last_modified}")
            self._send(200, ("\n".join(lines) + "\n").encode(), "text/csv")

        def _drill_fault(self) -> str | None:
            with fake._lock:
                fake._download_requests += 1
                if not fake.fault_every or fake._download_requests % fake.fault_every:
                    return None
                n = sum(fake.faults_injected.values())
                kind = fake.fault_kinds[n % len(fake.fault_kinds)]
                fake.faults_injected[kind] = fake.faults_injected.get(kind, 0) + 1
                if kind == "cut":
                    fake.faults.drop_after_bytes = 1 + n * 97  # somewhere inside the range
                elif kind.startswith("short_"):
                    fake.faults.short_206.insert(0, kind[len("short_"):])
                elif kind == "timeout":
                    fake.faults.stall_first += 1
            return kind

        def _file(self, query: dict) -> None:
            name = query["file"].rsplit("/", 1)[-1]
            range_header = self.headers.get("Range")
            kind = self._drill_fault()
            fake._record(kind="download", name=name, range=range_header, query=query, fault=kind)
            if kind in ("429", "500", "502", "503"):
                headers = {"Retry-After": "0"} if kind == "429" else {}
                return self._send(int(kind), f"scripted {kind}".encode(), headers=headers)
            if self._scripted_status():
                return
            with fake._lock:
                failing = (fake.faults.fail_downloads_after is not None
                           and fake._downloads_served >= fake.faults.fail_downloads_after)
                fake._downloads_served += 0 if failing else 1
            if failing:
                return self._send(503, b"service unavailable (scripted)")
            with fake._lock:
                stall = fake.faults.stall_first > 0
                fake.faults.stall_first -= 1 if stall else 0
            if stall:  # the client has given up by now: close without an answer
                time.sleep(fake.faults.stall_s)
                self.close_connection = True
                return
            with fake._lock:
                served = fake.files.get(name)
                drop = fake.faults.drop_after_bytes
                fake.faults.drop_after_bytes = None
                ignore_range = fake.faults.ignore_range
                corrupt = fake.faults.corrupt.get(name, 0) > 0
            if served is None:
                return self._send(404, b"no such file")
            data, total = served.data, len(served.data)
            if corrupt:
                data = corrupt_7z(data)
            start, end, status = 0, total - 1, 200
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
            if match and not ignore_range:
                start = int(match.group(1))
                end = min(int(match.group(2)) if match.group(2) else total - 1, total - 1)
                if start >= total:
                    return self._send(416, b"range not satisfiable", headers={"Content-Range": f"bytes */{total}"})
                status = 206
            body = data[start:end + 1]
            with fake._lock:
                short = fake.faults.short_206.pop(0) if status == 206 and fake.faults.short_206 else None
            if short is not None:
                body = body[:max(1, int(len(body) * fake.faults.short_206_fraction))]
            sent = min(len(body), drop) if drop is not None else len(body)
            if corrupt and start <= corrupt_at(served.data) < start + sent:
                with fake._lock:  # one damaged pass: the damaged byte went out
                    fake.faults.corrupt[name] -= 1
            self.send_response(status)
            self.send_header("Content-Type", "application/x-7z-compressed")
            if short == "close":
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
            self.end_headers()
            if drop is not None and drop < len(body):
                self.wfile.write(body[:drop])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        # SDMX
        def _sdmx(self, path: str, query: dict) -> None:
            dataset, _, key = path.split("/data/", 1)[1].partition("/")
            start, end = query.get("startPeriod"), query.get("endPeriod")
            fake._record(kind="sdmx", key=key, start=start, end=end, query=query)
            if self._scripted_status():
                return
            with fake._lock:
                empty = fake.faults.sdmx_empty_first > 0
                if empty:
                    fake.faults.sdmx_empty_first -= 1
                asynchronous = fake.faults.sdmx_async
            if empty:
                return self._send(200, b"", "text/csv")
            try:
                rows = fake.select(key, start, end)
            except ValueError as exc:
                return self._send(400, str(exc).encode())
            if len(rows) > fake.max_rows:
                fault = ('<S:Fault xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><faultcode>413</faultcode>'
                         f"<faultstring>EXTRACTION_TOO_BIG: The requested extraction is too big, estimated {len(rows)} "
                         f"rows, max authorised is {fake.max_rows}, please change your filters to reduce the "
                         "extraction size</faultstring></S:Fault>")
                return self._send(413, fault.encode(), "application/xml")
            body = fake.sdmx_csv(rows)
            if asynchronous:
                job = f"job-{len(fake._jobs) + 1}"
                with fake._lock:
                    fake._jobs[job] = {"body": body, "polls": 0}
                envelope = ('<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
                            f"<ns0:queued xmlns:ns0=\"http://estat.ec.europa.eu/\"><id>{job}</id><status>SUBMITTED"
                            "</status></ns0:queued></env:Body></env:Envelope>")
                return self._send(200, envelope.encode(), "application/xml")
            if query.get("compressed") == "true":
                return self._send(200, gzip.compress(body, mtime=0), "application/octet-stream")
            self._send(200, body, "text/csv")

        def _async_status(self, job: str) -> None:
            fake._record(kind="async_status", job=job)
            with fake._lock:
                state = fake._jobs.get(job)
                if state is not None:
                    state["polls"] += 1
                    ready = state["polls"] > fake.faults.async_polls_before_ready
                    status = fake.faults.async_final_status if ready else "PROCESSING"
                else:
                    status = "UNKNOWN_REQUEST"
            body = (f'<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><status>'
                    f"<key>{job}</key><status>{status}</status></status></env:Body></env:Envelope>")
            self._send(200, body.encode(), "application/xml")

        def _async_data(self, job: str) -> None:
            fake._record(kind="async_data", job=job)
            with fake._lock:
                state = fake._jobs.get(job)
            if state is None:
                return self._send(404, b"unknown request")
            self._send(200, gzip.compress(state["body"], mtime=0), "application/octet-stream")

    return Handler


# --------------------------------------------------------------------------- benchmark


def bench(rows: int, folder: Path, preset: int) -> dict:
    """Generate one month of ``rows`` rows, pack it, convert it through the reader; returns the figures."""
    import sys

    sys.path.insert(0, str(REPO))
    from pipeline.io import sha256_of
    from pipeline.sources.comext.bulk_reader import cached_bulk_parquet

    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    dat = write_month(folder / "full_v2_202401.dat", 202401, rows, seed=1)
    t1 = time.perf_counter()
    archive = pack_7z(dat, folder / "full_v2_202401.7z", preset=preset)
    t2 = time.perf_counter()
    dat_bytes = dat.stat().st_size
    dat.unlink()
    report = cached_bulk_parquet(archive, sha256_of(archive), folder / "cache")
    return {
        "rows": report.rows, "dat_mb": round(dat_bytes / 1e6, 1), "7z_mb": round(archive.stat().st_size / 1e6, 1),
        "parquet_mb": round(report.parquet_bytes / 1e6, 1), "lzma2_preset": preset,
        "generate_s": round(t1 - t0, 1), "pack_s": round(t2 - t1, 1),
        "unpack_s": report.seconds_unpack, "convert_s": report.seconds_convert,
        "total_7z_to_parquet_s": round(report.seconds, 2), "rows_per_s": round(report.rows_per_second),
        "product_kinds": report.product_kinds, "partner_kinds": report.partner_kinds,
    }


if __name__ == "__main__":
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["bench"])
    parser.add_argument("--rows", type=int, default=6_000_000)
    parser.add_argument("--preset", type=int, default=5, help="LZMA2 preset used to pack the generated month")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(bench(args.rows, args.dir or Path(tmp), args.preset), indent=1))
