"""The shared HTTP layer: retries, waits, classification, redaction, raw files (offline, no real sleeping)."""

from __future__ import annotations

import gzip
import json
import logging
import random
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from pipeline.clients.http import (
    FetchPolicy,
    Fetcher,
    PayloadProblem,
    QuotaExhausted,
    RequestFailed,
    RetriesExhausted,
    Throttle,
    parse_retry_after,
)
from pipeline.clients.raw_files import read_raw_json, write_raw_json
from pipeline.clients.secrets import redact_url

KEY = "FAKE-KEY-0123456789abcdef"
URL = "https://api.test/data/v1/get/C/A/HS"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


class FakeTime:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self):
        self.t = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def now(self) -> datetime:
        return NOW + timedelta(seconds=self.t - 1000.0)


def scripted(*responses):
    """A MockTransport answering with the given responses (or raising given exceptions) in order."""
    queue = list(responses)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if not queue:
            raise AssertionError("more requests than scripted")
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.MockTransport(handler), seen


def fetcher(transport, fake: FakeTime, log=None, **policy) -> Fetcher:
    defaults = dict(requests_per_second=0, max_attempts=4, backoff_base_s=1.0, backoff_max_s=30.0, jitter=0.5)
    defaults.update(policy)
    return Fetcher(FetchPolicy(**defaults), headers={"Ocp-Apim-Subscription-Key": KEY}, secrets=[KEY],
                   transport=transport, sleep=fake.sleep, clock=fake.clock, now=fake.now,
                   rng=random.Random(7), log=log)


OK = {"elapsedTime": "0.1 secs", "count": 1, "data": [{"x": 1}], "error": ""}


def test_429_with_retry_after_seconds_waits_at_least_that_long():
    fake = FakeTime()
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=OK))
    with fetcher(transport, fake) as f:
        got = f.get(URL, name="NL 2023", params={"reporterCode": 528})
    assert got.json() == OK and got.attempts == 2 and len(seen) == 2
    assert len(fake.sleeps) == 1 and 7.0 <= fake.sleeps[0] <= 7.5
    assert f.stats.retries == {"rate_limited": 1}


def test_429_with_retry_after_http_date():
    fake = FakeTime()
    when = (NOW + timedelta(seconds=42)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    transport, _ = scripted(httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200, json=OK))
    with fetcher(transport, fake) as f:
        f.get(URL, name="dated")
    assert 42.0 <= fake.sleeps[0] <= 42.5


def test_429_without_retry_after_backs_off_exponentially_or_follows_the_body_hint():
    fake = FakeTime()
    transport, seen = scripted(*[httpx.Response(429, text="slow down")] * 3, httpx.Response(200, json=OK))
    with fetcher(transport, fake) as f:
        f.get(URL, name="backoff")
    assert len(seen) == 4
    # base 1 s doubling, top half random: [0.5,1], [1,2], [2,4]
    for wait, (lo, hi) in zip(fake.sleeps, [(0.5, 1), (1, 2), (2, 4)]):
        assert lo <= wait <= hi
    fake = FakeTime()
    body = {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 9 seconds."}
    transport, _ = scripted(httpx.Response(429, json=body), httpx.Response(200, json=OK))
    with fetcher(transport, fake) as f:
        f.get(URL, name="hint")
    assert 9.0 <= fake.sleeps[0] <= 9.5


def test_server_error_then_success_and_persistent_server_errors():
    fake = FakeTime()
    transport, seen = scripted(httpx.Response(500, text="oops"), httpx.Response(200, json=OK))
    with fetcher(transport, fake) as f:
        assert f.get(URL, name="x").json()["count"] == 1
    assert len(seen) == 2
    transport, seen = scripted(*[httpx.Response(503, text="busy")] * 4)
    with fetcher(transport, FakeTime()) as f, pytest.raises(RetriesExhausted) as info:
        f.get(URL, name="NL 2023 imports")
    assert len(seen) == 4 and info.value.kind == "server_error" and info.value.status == 503
    assert "NL 2023 imports" in str(info.value) and info.value.attempts == 4


def test_timeouts_and_connection_errors_are_retried():
    fake = FakeTime()
    transport, seen = scripted(httpx.ReadTimeout("slow"), httpx.ConnectError("refused"),
                               httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
                               httpx.Response(200, json=OK))
    with fetcher(transport, fake) as f:
        f.get(URL, name="flaky")
    assert len(seen) == 4
    assert f.stats.retries == {"timeout": 1, "connection": 1, "truncated": 1}
    transport, _ = scripted(*[httpx.ReadTimeout("slow")] * 4)
    with fetcher(transport, FakeTime()) as f, pytest.raises(RetriesExhausted) as info:
        f.get(URL, name="always slow")
    assert info.value.kind == "timeout"


def test_html_502_page_is_named_in_the_error():
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    transport, seen = scripted(*[httpx.Response(502, html=page)] * 4)
    with fetcher(transport, FakeTime()) as f, pytest.raises(RetriesExhausted) as info:
        f.get(URL, name="IND 2022 exports", params={"period": 2022})
    assert "502 Bad Gateway" in info.value.detail and "IND 2022 exports" in str(info.value)
    assert "period=2022" in str(info.value) and len(seen) == 4


def test_html_or_empty_body_with_200_are_failures_not_data():
    transport, _ = scripted(httpx.Response(200, html="<html><title>Maintenance</title></html>"), httpx.Response(200, json=OK))
    with fetcher(transport, FakeTime()) as f:
        f.get(URL, name="x")
    assert f.stats.retries == {"html": 1}
    transport, seen = scripted(*[httpx.Response(200, content=b"")] * 4)
    with fetcher(transport, FakeTime()) as f, pytest.raises(RetriesExhausted) as info:
        f.get(URL, name="empty one")
    assert info.value.kind == "empty" and info.value.status == 200 and len(seen) == 4


def test_malformed_json_is_retried_then_reported():
    transport, _ = scripted(httpx.Response(200, content=b'{"count": 3, "data": [{"a":'), httpx.Response(200, json=OK))
    with fetcher(transport, FakeTime()) as f:
        assert f.get(URL, name="x").json() == OK
    assert f.stats.retries == {"malformed": 1}
    transport, _ = scripted(*[httpx.Response(200, content=b'{"count": 3, "da')] * 4)
    with fetcher(transport, FakeTime()) as f, pytest.raises(RetriesExhausted) as info:
        f.get(URL, name="broken")
    assert info.value.kind == "malformed"


@pytest.mark.parametrize("body", [
    {"elapsedTime": "0 secs", "count": 0, "data": [], "error": "Invalid reporterCode 9999"},
    {"errorObject": {"errorMessage": "Invalid reporterCode 9999"}},
])
def test_json_error_fields_fail_without_retry(body):
    transport, seen = scripted(httpx.Response(200, json=body))
    with fetcher(transport, FakeTime()) as f, pytest.raises(RequestFailed) as info:
        f.get(URL, name="bad reporter")
    assert len(seen) == 1 and info.value.kind == "api_error" and "Invalid reporterCode 9999" in str(info.value)


def test_client_errors_are_not_retried():
    transport, seen = scripted(httpx.Response(400, json={"errorObject": {"errorMessage": "period is required"}}))
    with fetcher(transport, FakeTime()) as f, pytest.raises(RequestFailed) as info:
        f.get(URL, name="no period")
    assert len(seen) == 1 and info.value.status == 400 and "period is required" in info.value.detail
    transport, _ = scripted(httpx.Response(413, text="EXTRACTION_TOO_BIG"))
    with fetcher(transport, FakeTime()) as f, pytest.raises(RequestFailed) as info:
        f.get(URL, name="too big")
    assert info.value.kind == "too_large"


def test_quota_messages_budget_and_long_waits_stop_cleanly():
    body = {"statusCode": 403, "message": "Out of call volume quota. Quota will be replenished in 02:11:09."}
    transport, seen = scripted(httpx.Response(403, json=body))
    with fetcher(transport, FakeTime()) as f, pytest.raises(QuotaExhausted) as info:
        f.get(URL, name="q")
    assert len(seen) == 1 and info.value.kind == "quota" and "replenished" in info.value.detail

    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "7200"}))
    with fetcher(transport, FakeTime(), max_retry_after_s=600) as f, pytest.raises(QuotaExhausted) as info:
        f.get(URL, name="wait long")
    assert len(seen) == 1 and "7200" in info.value.detail

    transport, seen = scripted(httpx.Response(200, json=OK), httpx.Response(500), httpx.Response(200, json=OK))
    with fetcher(transport, FakeTime(), call_budget=2) as f:
        f.get(URL, name="one")
        with pytest.raises(QuotaExhausted) as info:
            f.get(URL, name="two")
    assert len(seen) == 2 and info.value.kind == "call_budget" and f.stats.attempts == 2


def test_check_callback_can_reject_a_body():
    def needs_data(fetched):
        if not fetched.json()["data"]:
            raise PayloadProblem("no records where records were expected", kind="empty", retryable=True)

    empty = {"elapsedTime": "0 secs", "count": 0, "data": [], "error": ""}
    transport, seen = scripted(httpx.Response(200, json=empty), httpx.Response(200, json=OK))
    with fetcher(transport, FakeTime()) as f:
        assert f.get(URL, name="x", check=needs_data).json() == OK
    assert len(seen) == 2

    def never(fetched):
        raise PayloadProblem("announced 5 records, holds 1", kind="count_mismatch")

    transport, seen = scripted(httpx.Response(200, json=OK))
    with fetcher(transport, FakeTime()) as f, pytest.raises(RequestFailed) as info:
        f.get(URL, name="x", check=never)
    assert info.value.kind == "count_mismatch" and len(seen) == 1


def test_throttle_spaces_call_starts():
    fake = FakeTime()
    throttle = Throttle(4.0, clock=fake.clock, sleep=fake.sleep)
    starts = []
    for _ in range(5):
        throttle.wait()
        starts.append(fake.t)
    assert [round(b - a, 6) for a, b in zip(starts, starts[1:])] == [0.25] * 4
    fake.sleep(10)  # idle time is not banked: the next call goes at once, the one after waits again
    assert throttle.wait() == 0 and throttle.wait() == pytest.approx(0.25)

    transport, _ = scripted(*[httpx.Response(200, json=OK)] * 3)
    with fetcher(transport, fake, requests_per_second=2) as f:
        t0 = fake.t
        for _ in range(3):
            f.get(URL, name="x")
    assert fake.t - t0 == pytest.approx(1.0)  # 3 starts at 0, 0.5, 1.0 s


def test_retry_after_parsing():
    assert parse_retry_after("12") == 12 and parse_retry_after(" 0 ") == 0
    assert parse_retry_after("Sun, 01 Mar 2026 12:01:00 GMT", NOW) == 60
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", NOW) == 0  # in the past: go now
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_the_key_never_leaves_the_process(caplog):
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("test_http")
    fake = FakeTime()
    # the key echoed back in an error body and present in the URL as a query parameter
    transport, seen = scripted(httpx.Response(500, text=f"bad key {KEY}"),
                               httpx.Response(400, json={"error": f"subscription {KEY} refused"}))
    with fetcher(transport, fake, log=log) as f, pytest.raises(RequestFailed) as info:
        f.get(URL, name="leaky", params={"subscription-key": KEY, "period": 2023})
    chain = [info.value, info.value.__cause__, info.value.__context__]
    assert all(KEY not in str(e) for e in chain if e is not None)
    assert KEY not in caplog.text and "bad key ***" in caplog.text
    assert seen[0].headers["Ocp-Apim-Subscription-Key"] == KEY  # it is sent, only never shown
    assert redact_url(f"{URL}?period=2023&subscription-key={KEY}", [KEY]) == f"{URL}?period=2023"


def test_redirects_keep_the_key_on_the_same_host_only():
    transport, seen = scripted(
        httpx.Response(302, headers={"Location": "/bulk/v1/file/32/abc"}),
        httpx.Response(302, headers={"Location": "https://blob.example.net/f.gz?sig=1"}),
        httpx.Response(200, content=b"\x1f\x8bdata"),
    )
    with fetcher(transport, FakeTime()) as f:
        got = f.get("https://api.test/bulk/v1/file/32/abc", name="bulk", expect="bytes")
    assert got.content == b"\x1f\x8bdata"
    assert seen[1].headers.get("Ocp-Apim-Subscription-Key") == KEY
    assert "Ocp-Apim-Subscription-Key" not in seen[2].headers and seen[2].url.host == "blob.example.net"


def test_write_raw_json_is_atomic_and_key_free(tmp_path):
    target = tmp_path / "pages" / "p1.json.gz"
    write_raw_json(target, OK, url=f"{URL}?period=2023&subscription-key={KEY}", retrieved_at="2026-03-01T12:00:00+00:00",
                   count=1, secrets=[KEY])
    stored = json.loads(gzip.decompress(target.read_bytes()))
    assert stored["data"] == OK["data"] and stored["count"] == 1 and stored["error"] == ""
    assert stored["url"] == f"{URL}?period=2023" and stored["retrieved_at"].startswith("2026-03-01")
    assert read_raw_json(target) == stored
    assert sorted(p.name for p in target.parent.iterdir()) == ["p1.json.gz"]  # no temp file left
    with pytest.raises(ValueError, match="secret"):
        write_raw_json(tmp_path / "p2.json.gz", {"data": [KEY]}, url=URL, retrieved_at="x", count=1, secrets=[KEY])
    assert not (tmp_path / "p2.json.gz").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["pages"]


def test_post_json_retries_like_a_get_and_takes_an_empty_2xx():
    fake = FakeTime()
    transport, seen = scripted(httpx.Response(503), httpx.Response(204))
    f = fetcher(transport, fake)
    answer = f.post_json(URL, {"snapshot_id": "x"}, name="webhook")
    assert answer.status == 204 and answer.attempts == 2
    assert [r.method for r in seen] == ["POST", "POST"]
    assert json.loads(seen[1].content) == {"snapshot_id": "x"}
    assert seen[1].headers["content-type"] == "application/json"
    # a refusal is not asked again
    transport, seen = scripted(httpx.Response(400))
    with pytest.raises(RequestFailed):
        fetcher(transport, fake).post_json(URL, {}, name="webhook")
    assert len(seen) == 1


# --------------------------------------------------------------------------- ranged downloads

BLOB = bytes(range(256)) * 40  # 10,240 bytes


def _part(status, first, last, body, total=len(BLOB), **headers):
    return httpx.Response(status, content=body, headers={"Content-Range": f"bytes {first}-{last}/{total}", **headers})


def test_a_short_206_is_resumed_from_the_byte_it_reached_within_the_budget(tmp_path):
    fake = FakeTime()
    path = tmp_path / "blob.part"
    path.write_bytes(BLOB[:1000])
    transport, seen = scripted(
        _part(206, 1000, 5999, BLOB[1000:2500]),      # 1,500 of 5,000 bytes, stream closed cleanly
        httpx.Response(503, text="busy"),
        _part(206, 2500, 5999, BLOB[2500:6000]),
    )
    with fetcher(transport, fake) as f:
        got = f.get_range(URL, path, name="blob bytes 1000-5999", start=1000, end=5999)
    assert path.read_bytes() == BLOB[:6000]
    assert [r.headers["Range"] for r in seen] == ["bytes=1000-5999", "bytes=2500-5999", "bytes=2500-5999"]
    assert (got.status, got.end_pos, got.total, got.attempts, got.resumed) == (206, 6000, len(BLOB), 3, 2)
    assert f.stats.retries == {"truncated": 1, "server_error": 1}


def test_short_206_answers_past_the_budget_fail_and_keep_what_arrived(tmp_path):
    fake = FakeTime()
    path = tmp_path / "blob.part"
    path.write_bytes(b"")
    transport, _ = scripted(_part(206, 0, 999, BLOB[:100]), _part(206, 100, 999, BLOB[100:300]))
    with fetcher(transport, fake, max_attempts=2) as f, pytest.raises(RetriesExhausted, match=(
            r"blob: truncated \[HTTP 206\]: HTTP 206 body ended cleanly after 200 of 900 bytes; the retry resumes at "
            r"byte 300 \(after 2 attempt")):
        f.get_range(URL, path, name="blob", start=0, end=999)
    assert path.read_bytes() == BLOB[:300]


def test_a_range_answered_with_the_whole_file_or_a_changed_total(tmp_path):
    fake = FakeTime()
    path = tmp_path / "blob.part"
    path.write_bytes(b"stale bytes")
    transport, _ = scripted(httpx.Response(200, content=BLOB))
    with fetcher(transport, fake) as f:
        got = f.get_range(URL, path, name="blob", start=11, end=None)
    assert (got.status, got.end_pos) == (200, len(BLOB)) and path.read_bytes() == BLOB
    path.write_bytes(b"")
    transport, _ = scripted(_part(206, 0, 999, BLOB[:10]), _part(206, 10, 999, BLOB[10:1000], total=99999))
    with fetcher(transport, fake) as f, pytest.raises(RequestFailed, match="it was replaced meanwhile"):
        f.get_range(URL, path, name="blob", start=0, end=999)
