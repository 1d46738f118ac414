"""The rules :mod:`pipeline.clients.http` applies to what it sends and gets: the throttle, Retry-After, quota
answers, HTML error pages and JSON error fields. Pure functions and one small class; re-exported by ``http``."""

from __future__ import annotations

import email.utils
import re
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:  # annotations only: these rules read responses the Fetcher got (httpx imported there)
    import httpx


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- throttle, Retry-After


class Throttle:
    """Keeps at least ``1 / rate`` seconds between the starts of calls, across threads. ``rate`` 0 disables it.

    The gap is measured from the moment the previous call was actually let go (after any oversleep), so no
    window of one second ever holds more than ``rate`` starts; idle time is not banked for bursts."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = None  # type: float | None
        self._lock = threading.Lock()
        self.releases: list[float] | None = None  # set to a list to note every release time (benchmarks)

    def wait(self) -> float:
        """Block until the next call may start; returns the seconds waited."""
        if not self.interval:
            return 0.0
        with self._lock:  # held while sleeping: callers go one by one
            now = self._clock()
            waited = 0.0 if self._next is None else max(0.0, self._next - now)
            if waited > 0:
                self._sleep(waited)
            released = self._clock()
            self._next = released + self.interval
            if self.releases is not None:
                self.releases.append(released)
        return waited


_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?) ?(?:s\b|sec)", re.IGNORECASE)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date; None if absent or unreadable."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or _utc_now())).total_seconds())


def default_quota_detector(response: httpx.Response) -> str | None:
    """A message if the response says a call quota is used up (Azure API Management: 403/429 "Out of call
    volume quota. Quota will be replenished in hh:mm:ss."), else None."""
    if response.status_code not in (403, 429):
        return None
    text = _body_text(response.content, 400)
    return text if re.search(r"quota", text, re.IGNORECASE) else None


def _body_text(content: bytes, limit: int = 300) -> str:
    text = content[: limit * 4].decode("utf-8", errors="replace")
    return re.sub(r"\s+", " ", text).strip()[:limit]


def _looks_html(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "").lower()
    head = response.content[:512].lstrip().lower()
    return "text/html" in ctype or head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def _looks_html_start(response: httpx.Response, first: bytes) -> bool:
    head = first[:512].lstrip().lower()
    return "text/html" in response.headers.get("content-type", "").lower() or head.startswith(
        (b"<!doctype html", b"<html", b"<head", b"<body"))


def _chain(first: bytes, rest: Iterable[bytes]) -> Iterable[bytes]:
    if first:
        yield first
    yield from rest


def _html_summary(content: bytes) -> str:
    text = content[:20000].decode("utf-8", errors="replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.IGNORECASE | re.DOTALL)
    found = (title or heading)
    words = re.sub(r"<[^>]+>", " ", found.group(1)) if found else re.sub(r"<[^>]+>", " ", text)
    return "HTML page: " + re.sub(r"\s+", " ", words).strip()[:200]


def json_error_message(payload: Any) -> str | None:
    """The error a JSON body reports in one of the usual fields, or None if it reports none."""
    if not isinstance(payload, dict):
        return None
    err = payload.get("error")
    if isinstance(err, str) and err.strip():
        return err.strip()
    if isinstance(err, dict) and err:
        return str(err.get("message") or err.get("label") or err.get("errorMessage") or err)[:300]
    obj = payload.get("errorObject")
    if isinstance(obj, dict) and (obj.get("errorMessage") or obj.get("message")):
        return str(obj.get("errorMessage") or obj.get("message"))[:300]
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        return str(errors[0])[:300]
    status = payload.get("statusCode")
    if isinstance(status, int) and status >= 400:
        return f"statusCode {status}: {payload.get('message', '')}"[:300]
    return None


