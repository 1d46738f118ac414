"""A local fake of the UN Comtrade v1 API on 127.0.0.1, with injectable faults, and the fault drill.

The fake serves what the client uses, in the real formats (sources.md section 1):
``data/v1/get`` (key in the Ocp-Apim-Subscription-Key header), ``public/v1/preview``
(no key, 500 records), ``{data,public}/v1/getDa``, ``files/v1/app/reference/{HS,partnerAreas}.json``,
``bulk/v1/get`` and ``bulk/v1/file``. Records hold the 47 fields of the real record
in ``data/sample/comtrade`` with generated keys and values.

Faults: ``fake.script(kind, ...)`` queues faults for the next requests;
``fault_rate`` draws random faults (seeded) from ``fault_kinds``. Kinds:
``429`` (Retry-After header), ``429_body`` (wait only in the body), ``429_date``
(Retry-After as HTTP date), ``500``, ``502_html``, ``503``, ``timeout`` (no answer
for ``timeout_sleep`` s, then the connection closes), ``truncated`` (Content-Length
larger than the body sent), ``truncated_json`` (cut JSON, consistent length),
``reset`` (connection closed without an answer), ``empty200`` (no body), ``no_data`` (a valid envelope with no
records), ``json_error`` (the envelope's error field set), ``echo_key`` (a 400 whose body repeats the key sent),
``quota`` (the APIM daily quota 403).
After ``quota_limit`` keyed calls every keyed call gets the APIM quota 403.
After ``max_requests`` requests everything gets 410, so a runaway client ends.
"""

from __future__ import annotations

import csv
import email.utils
import gzip
import io
import json
import random
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

REPO = Path(__file__).resolve().parents[1]
TEMPLATE_FILE = REPO / "data" / "sample" / "comtrade" / "comtradr_get_C_A_HS_2010_CHN_ARG-DEU_TOTAL.json"
DRILL_FAULTS = ("429", "500", "502_html", "503", "timeout", "truncated", "truncated_json", "reset")


def template_record() -> dict:
    """The first real record of the recorded comtradr response (China imports from Argentina, 2010)."""
    return dict(json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))["data"][0])


def hs_codes(level: int) -> list[str]:
    """HS 2022 codes of one level from the repo's reference table."""
    with open(REPO / "data" / "reference" / "hs_products.csv", encoding="utf-8") as fh:
        return [row["code"] for row in csv.DictReader(fh) if int(row["level"]) == level]


def partner_codes() -> list[int]:
    with open(REPO / "data" / "reference" / "area_codes.csv", encoding="utf-8") as fh:
        return sorted({int(row["code"]) for row in csv.DictReader(fh) if row["source"] == "comtrade"})


def make_records(reporters, years, flows, codes, partners, *, sizes, seed: int = 1) -> list[dict]:
    """Records for every reporter x year x flow; ``sizes(rng)`` draws how many (distinct code x partner pairs)."""
    rng = random.Random(seed)
    base = template_record()
    out = []
    pairs = len(codes) * len(partners)
    for r in reporters:
        for y in years:
            for f in flows:
                n = min(pairs, sizes(rng))
                for i in sorted(rng.sample(range(pairs), n)):
                    code, partner = codes[i // len(partners)], partners[i % len(partners)]
                    value = round(rng.uniform(1e3, 1e9), 2)
                    rec = dict(base)
                    rec.update({
                        "refPeriodId": int(f"{y}0101"), "refYear": y, "period": str(y), "reporterCode": r,
                        "reporterISO": None, "reporterDesc": None, "flowCode": f,
                        "flowDesc": {"M": "Import", "X": "Export"}.get(f, f), "partnerCode": partner,
                        "partnerISO": None, "partnerDesc": None, "cmdCode": code, "cmdDesc": f"HS {code}",
                        "aggrLevel": 0 if code == "TOTAL" else len(code), "isLeaf": len(code) == 6,
                        "cifvalue": value if f == "M" else None, "fobvalue": value if f == "X" else None,
                        "primaryValue": value,
                    })
                    out.append(rec)
    return out


def bulk_file(records: list[dict], fields: list[str]) -> bytes:
    """A UN Comtrade bulk file of ``records``: the ``fields`` tab-separated under their header, gzip, empty for
    null and booleans lower-case, as the bulk API serves them."""
    out = io.StringIO()
    out.write("\t".join(fields) + "\n")
    for r in records:
        out.write("\t".join("" if r.get(c) is None else str(r[c]).lower() if isinstance(r[c], bool) else str(r[c])
                            for c in fields) + "\n")
    return gzip.compress(out.getvalue().encode())


def record_key(rec: dict) -> tuple:
    return (rec["reporterCode"], rec["period"], rec["flowCode"], rec["cmdCode"], rec["partnerCode"])


class FakeComtrade:
    def __init__(self, records: list[dict], *, key: str | None = None, keyed_cap: int = 100_000,
                 preview_cap: int = 500, fault_rate: float = 0.0, fault_kinds=DRILL_FAULTS, seed: int = 0,
                 retry_after: str = "1", timeout_sleep: float = 0.5, quota_limit: int | None = None,
                 max_requests: int = 20_000, hs: dict[int, list[str]] | None = None,
                 partners: list[int] | None = None, faults_on=("data", "count", "getDa", "reference", "bulk")):
        self.key, self.keyed_cap, self.preview_cap = key, keyed_cap, preview_cap
        self.fault_rate, self.fault_kinds, self.rng = fault_rate, tuple(fault_kinds), random.Random(seed)
        self.retry_after, self.timeout_sleep = retry_after, timeout_sleep
        self.quota_limit, self.max_requests, self.faults_on = quota_limit, max_requests, set(faults_on)
        self.hs = hs if hs is not None else {2: hs_codes(2), 4: hs_codes(4), 6: hs_codes(6)}
        self.partners = partners if partners is not None else partner_codes()
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.faults = Counter()
        self._script: list[str | None] = []
        self.keyed_calls = 0
        self.releases: dict[tuple[int, str], str] = {}
        self.set_records(records)
        self.bulk_entries: list[dict] = []
        self.bulk_blobs: dict[str, bytes] = {}
        self._server: ThreadingHTTPServer | None = None

    # -- data
    def set_records(self, records: list[dict]) -> None:
        with self.lock:
            self.records = list(records)
            self.by_combo: dict[tuple, list[dict]] = {}
            for rec in sorted(self.records, key=lambda r: (r["cmdCode"], r["partnerCode"])):
                self.by_combo.setdefault((rec["reporterCode"], rec["period"], rec["flowCode"]), []).append(rec)
            for (r, p, _f) in self.by_combo:
                self.releases.setdefault((r, p), "2024-06-01T00:00:00")

    def revise(self, reporter: int, year: int, released: str, change=None) -> None:
        """A new release of one reporter-year: ``change(records)`` edits that reporter-year's records."""
        period = str(year)
        mine = [r for r in self.records if r["reporterCode"] == reporter and r["period"] == period]
        rest = [r for r in self.records if not (r["reporterCode"] == reporter and r["period"] == period)]
        if change is not None:
            mine = change([dict(r) for r in mine])
        self.set_records(rest + mine)
        self.releases[(reporter, period)] = released

    def script(self, *kinds: str | None) -> None:
        with self.lock:
            self._script.extend(kinds)

    # -- lifecycle
    def start(self) -> str:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeComtrade":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what was asked
    def calls(self, endpoint: str | None = None) -> list[dict]:
        return [c for c in self.log if endpoint is None or c["endpoint"] == endpoint]

    def next_fault(self, endpoint: str) -> str | None:
        with self.lock:
            if self._script:
                return self._script.pop(0)
            if endpoint in self.faults_on and self.fault_rate and self.rng.random() < self.fault_rate:
                return self.rng.choice(self.fault_kinds)
        return None

    # -- the API
    def query(self, params: dict, cap: int) -> tuple[list[dict], int]:
        reporters = [int(x) for x in params["reporterCode"].split(",")]
        periods = params["period"].split(",")
        flows = params.get("flowCode", "M,X").split(",")
        cmd = params["cmdCode"].split(",")
        partners = None if "partnerCode" not in params else {int(x) for x in params["partnerCode"].split(",")}
        levels = {int(c[2:]) for c in cmd if c.upper().startswith("AG")}
        explicit = {c for c in cmd if not c.upper().startswith("AG")}
        hits = []
        with self.lock:
            for r in reporters:
                for p in periods:
                    for f in flows:
                        for rec in self.by_combo.get((r, p, f), []):
                            code = rec["cmdCode"]
                            if (code in explicit or (code != "TOTAL" and len(code) in levels)) and \
                                    (partners is None or rec["partnerCode"] in partners):
                                hits.append(rec)
        return hits[:cap], len(hits)


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; no 40 ms delayed-ACK stalls
    wbufsize = 1 << 16
    fake: FakeComtrade

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json", headers: dict | None = None,
              length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _json(self, status: int, obj, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers=headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802
        fake = self.fake
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path.strip("/").split("/")
        key = self.headers.get("Ocp-Apim-Subscription-Key")
        endpoint = _endpoint(path, params)
        entry = {"t": time.monotonic(), "endpoint": endpoint, "path": parts.path, "params": params,
                 "key_header": key, "key_in_url": "subscription-key" in {k.lower() for k in params},
                 "url_length": len(self.path), "status": None, "fault": None}
        with fake.lock:
            fake.log.append(entry)
            n = len(fake.log)
        try:
            self._answer(fake, path, params, key, endpoint, entry, n)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _answer(self, fake, path, params, key, endpoint, entry, n) -> None:
        if n > fake.max_requests:
            entry["status"] = 410
            return self._json(410, {"statusCode": 410, "message": "fake: request limit reached"})
        if len(self.path) > 4096:
            entry["status"] = 414
            return self._send(414, b"Request URL Too Long", "text/plain")
        keyed = path[0] in ("data", "bulk")
        if keyed:
            if fake.key is None or key != fake.key:
                entry["status"] = 401
                return self._json(401, {"statusCode": 401, "message": "Access denied due to invalid subscription key."})
            with fake.lock:
                fake.keyed_calls += 1
                over = fake.quota_limit is not None and fake.keyed_calls > fake.quota_limit
            if over:
                entry["status"], entry["fault"] = 403, "quota"
                return self._json(403, {"statusCode": 403, "message": "Out of call volume quota. "
                                        "Quota will be replenished in 23:59:59."})
        fault = fake.next_fault(endpoint)
        if fault:
            entry["fault"] = fault
            with fake.lock:
                fake.faults[fault] += 1
            if self._fault(fault, entry):
                return
        status, body, ctype = self._route(fake, path, params, keyed)
        entry["status"] = status
        if fault == "truncated":  # announce the whole body, send half, hang up
            self._send(200, body[: len(body) // 2], ctype, length=len(body))
            return self._drop()
        if fault == "truncated_json":
            return self._send(200, body[: max(1, len(body) // 2)], ctype)
        self._send(status, body, ctype)

    def _fault(self, fault: str, entry: dict) -> bool:
        """Answer with the fault; False for faults that mangle the real answer (truncation)."""
        entry["status"] = {"429": 429, "429_body": 429, "429_date": 429, "500": 500, "502_html": 502, "503": 503,
                           "empty200": 200, "json_error": 200, "quota": 403,
                           "no_data": 200, "echo_key": 400}.get(fault)
        fake = self.fake
        if fault == "429":
            self._json(429, {"statusCode": 429, "message": "Rate limit is exceeded."}, {"Retry-After": fake.retry_after})
        elif fault == "429_body":
            self._json(429, {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {fake.retry_after} seconds."})
        elif fault == "429_date":
            self._json(429, {"statusCode": 429, "message": "Rate limit is exceeded."},
                       {"Retry-After": _http_date(float(fake.retry_after))})
        elif fault == "500":
            self._json(500, {"statusCode": 500, "message": "Internal server error"})
        elif fault == "502_html":
            self._send(502, b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
                            b"<body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>", "text/html")
        elif fault == "503":
            self._send(503, b"Service Unavailable", "text/plain")
        elif fault == "timeout":
            time.sleep(fake.timeout_sleep)
            self._drop()
        elif fault == "reset":
            self._drop()
        elif fault == "empty200":
            self._send(200, b"")
        elif fault == "json_error":
            self._json(200, {"elapsedTime": "0.01 secs", "count": 0, "data": [], "error": "fake: injected API error"})
        elif fault == "no_data":
            self._json(200, {"elapsedTime": "0.01 secs", "count": 0, "data": [], "error": ""})
        elif fault == "echo_key":  # a badly behaved error page that repeats the key it was sent
            self._json(400, {"error": f"subscription key {self.headers.get('Ocp-Apim-Subscription-Key')} "
                             "is not valid for this product"})
        elif fault == "quota":
            self._json(403, {"statusCode": 403, "message": "Out of call volume quota. Quota will be replenished in 01:00:00."})
        else:
            return False
        return True

    def _route(self, fake, path, params, keyed) -> tuple[int, bytes, str]:
        ok = lambda obj: (200, json.dumps(obj).encode(), "application/json")  # noqa: E731
        if path[:3] in (["data", "v1", "get"], ["public", "v1", "preview"]):
            missing = [p for p in ("reporterCode", "period", "cmdCode") if not params.get(p)]
            if missing:
                return 400, json.dumps({"errorObject": {"errorMessage": f"missing {missing}"}}).encode(), "application/json"
            cap = fake.keyed_cap if keyed else fake.preview_cap
            cap = min(cap, int(params.get("maxRecords") or cap))
            data, total = fake.query(params, cap)
            if params.get("countOnly", "").lower() == "true":
                return ok({"elapsedTime": "0.01 secs", "count": total, "data": [], "error": ""})
            return ok({"elapsedTime": "0.05 secs", "count": len(data), "data": data, "error": ""})
        if path[:3] in (["data", "v1", "getDa"], ["public", "v1", "getDa"]):
            reps = {int(x) for x in params.get("reporterCode", "").split(",") if x}
            periods = set(params.get("period", "").split(","))
            rows = []
            for (r, p), released in sorted(fake.releases.items()):
                if r in reps and p in periods:
                    n = sum(len(fake.by_combo.get((r, p, f), [])) for f in ("M", "X", "RM", "RX"))
                    rows.append({"datasetCode": int(f"{r}{p}"), "typeCode": "C", "freqCode": "A", "period": p,
                                 "reporterCode": r, "reporterISO": None, "reporterDesc": None,
                                 "classificationCode": "H6", "classificationSearchCode": "HS",
                                 "isOriginalClassification": True, "totalRecords": n,
                                 "datasetChecksum": abs(hash(released)) % 10**9, "firstReleased": "2024-06-01T00:00:00",
                                 "lastReleased": released})
            return ok({"elapsedTime": "0.01 secs", "count": len(rows), "data": rows, "error": ""})
        if path[:4] == ["files", "v1", "app", "reference"]:
            name = path[4] if len(path) > 4 else ""
            if name == "HS.json":
                results = [{"id": "TOTAL", "text": "TOTAL - Total of all HS commodities", "parent": "-1",
                            "isLeaf": 0, "aggrLevel": 0}]
                for level, codes in fake.hs.items():
                    results += [{"id": c, "text": f"{c} - product", "parent": c[:-2] if level > 2 else "TOTAL",
                                 "isLeaf": int(level == 6), "aggrLevel": level} for c in codes]
                return ok({"more": False, "classCode": "HS", "className": "Combined HS", "results": results})
            if name == "partnerAreas.json":
                return ok({"more": False, "results": [
                    {"id": str(p), "text": f"area {p}", "PartnerCode": p, "PartnerDesc": f"area {p}",
                     "partnerNote": None, "PartnerCodeIsoAlpha2": None, "PartnerCodeIsoAlpha3": None,
                     "isGroup": False} for p in fake.partners]})
            return 404, b'{"statusCode": 404, "message": "Resource not found"}', "application/json"
        if path[:3] == ["bulk", "v1", "get"]:
            return ok({"elapsedTime": "0.01 secs", "count": len(fake.bulk_entries), "data": fake.bulk_entries, "error": ""})
        if path[:3] == ["bulk", "v1", "file"] and len(path) == 5 and path[4] in fake.bulk_blobs:
            return 200, fake.bulk_blobs[path[4]], "application/octet-stream"
        return 404, b'{"statusCode": 404, "message": "Resource not found"}', "application/json"


def _endpoint(path: list[str], params: dict) -> str:
    if path[:3] in (["data", "v1", "get"], ["public", "v1", "preview"]):
        return "count" if params.get("countOnly", "").lower() == "true" else "data"
    if len(path) > 2 and path[2] == "getDa":
        return "getDa"
    if path[:2] == ["files", "v1"]:
        return "reference"
    if path[:1] == ["bulk"]:
        return "bulk"
    return "other"


# --------------------------------------------------------------------------- the drill


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most requests that started within any ``window`` seconds (a half-open window (t - window, t])."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def run_drill(workdir: Path, *, rate: float = 200.0, fault_rate: float = 0.10, seed: int = 20260301,
              reporters: int = 60, years=(2019, 2020, 2021, 2022, 2023), flows=("M", "X"), cap: int = 100,
              big_share: float = 0.10, retry_after: str = "0", timeout_s: float = 0.15,
              key: str = "DRILL-FAKE-KEY-7f3a9c") -> dict:
    """A plan of reporters x years x flows calls (AG2, all partners) against the fake with random faults, run
    twice; returns the figures. ``big_share`` of the reporter-year-flows hold more than one page (split by chapter).

    Imports the pipeline lazily so that this module stays importable without it.
    """
    import duckdb

    from pipeline.sources.comtrade.client.plan import PlanSpec
    from pipeline.sources.comtrade.client.store import PageStore
    from pipeline.sources.comtrade.client.sync import sync_plan
    from pipeline.sources.comtrade.resource import ComtradeClient, ComtradeKey
    from pipeline.sources.comtrade import reader

    reps = [c for c in partner_codes() if c != 0][:reporters]
    chapters = hs_codes(2)
    sizes = lambda rng: rng.randint(cap + 40, 4 * cap) if rng.random() < big_share else rng.randint(1, cap - 5)  # noqa: E731
    records = make_records(reps, list(years), list(flows), chapters, partner_codes()[:40], sizes=sizes, seed=seed)
    fake = FakeComtrade(records, key=key, fault_rate=fault_rate, seed=seed, retry_after=retry_after,
                        timeout_sleep=timeout_s * 3, faults_on=("data", "count", "getDa", "reference"))
    store = PageStore(workdir / "raw" / "comtrade")
    spec = PlanSpec.build(reporters=reps, years=list(years), flows=list(flows), level="AG2")
    import httpx

    sent: list[float] = []

    class Recording(httpx.HTTPTransport):
        """Notes when each request actually leaves the client (after the throttle)."""

        def handle_request(self, request):
            sent.append(time.monotonic())
            return super().handle_request(request)

    with fake:
        client = ComtradeClient(base_url=fake.url, key=ComtradeKey(value=key), requests_per_second=rate, timeout_s=timeout_s,
                                max_attempts=10, backoff_base_s=0.01, backoff_max_s=0.2, max_records_per_call=cap,
                                daily_call_limit=0)
        started = time.perf_counter()
        with client.open_session(transport=Recording()) as api:
            api.fetcher.throttle.releases = released = []
            first = sync_plan(api, spec, store, check_revisions=True)
        wall = time.perf_counter() - started
        first_requests = len(fake.log)
        times = [c["t"] for c in fake.log]
        with client.open_session() as api:
            second = sync_plan(api, spec, store, check_revisions=False)
        second_requests = len(fake.log) - first_requests
        key_seen_in_url = any(c["key_in_url"] for c in fake.log)

    # every stored page at once, with the raw reader's own envelope types
    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE pages AS SELECT unnest(data, recursive := true) FROM read_json("
                 f"'{store.dir}/*.json.gz', columns={reader._ENVELOPE}, format='auto')")
    rows, distinct = conn.execute(
        "SELECT count(*), count(DISTINCT (reporterCode, period, flowCode, cmdCode, partnerCode)) FROM pages"
    ).fetchall()[0]
    stored_keys = set(conn.execute("SELECT reporterCode, period, flowCode, cmdCode, partnerCode FROM pages").fetchall())
    conn.close()
    truth = {record_key(r) for r in records}
    span = max(times) - min(times) if len(times) > 1 else 0.0
    return {
        "configured_rate_per_s": rate,
        "plan_calls": first.planned,
        "http_requests": first_requests,
        "pages_stored": first.pages_stored,
        "splits": first.splits,
        "faults_injected": sum(fake.faults.values()),
        "faults_by_kind": dict(sorted(fake.faults.items())),
        "fault_share": round(sum(fake.faults.values()) / max(1, first_requests), 4),
        "retries_by_kind": first.retries,
        "records_in_fake": len(records),
        "records_stored": rows,
        "distinct_records_stored": distinct,
        "duplicates": rows - distinct,
        "missing": len(truth - stored_keys),
        "unexpected": len(stored_keys - truth),
        "complete": first.complete,
        "failures": first.failures,
        "achieved_rate_per_s": round((first_requests - 1) / span, 2) if span else None,
        # starts let go by the throttle (what the client controls), requests handed to the socket (the fake runs
        # in the same process, so thread scheduling adds jitter), and arrivals at the fake
        "max_released_in_any_1s": max_in_window(released),
        "min_gap_between_releases_ms": round(1000 * min(b - a for a, b in zip(released, released[1:])), 3),
        "max_requests_in_any_1s": max_in_window(sent),
        "max_arrivals_in_any_1s": max_in_window(times),
        "wall_time_s": round(wall, 2),
        "second_run_http_calls": second_requests,
        "second_run_complete": second.complete,
        "key_in_url": key_seen_in_url,
    }
