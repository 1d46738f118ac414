"""One HTTP layer for every source: throttle, retries, failure classification, raw files.

Source clients (Comtrade, Comext) stay thin on top of it. Nothing happens at
import time; a :class:`Fetcher` opens its ``httpx.Client`` when constructed and
closes it on ``close()`` / leaving its ``with`` block.

Small API
---------
``FetchPolicy(requests_per_second=1.0, timeout_s=60, max_attempts=6, backoff_base_s=1, backoff_max_s=120,
jitter=0.5, max_retry_after_s=900, call_budget=None)``
    How politely and how stubbornly to fetch. ``requests_per_second`` spaces the
    *start* of every HTTP attempt (retries included); ``call_budget`` caps the
    attempts of one Fetcher (e.g. a daily quota) and ends with QuotaExhausted.

``Fetcher(policy, *, headers=None, secrets=(), log=None, transport=None, sleep=time.sleep,
clock=time.monotonic, now=utc_now, rng=None, quota_detector=default_quota_detector)``
    ``secrets`` are strings (API keys) that must never leave the process: they
    are scrubbed from every log line, error message and URL this layer
    produces, and headers carrying them are dropped on a redirect to another
    host. ``transport`` (e.g. ``httpx.MockTransport``), ``sleep``, ``clock``,
    ``now`` and ``rng`` are for tests. ``log`` is anything with
    ``.debug/.info/.warning`` (a Dagster ``context.log`` or a ``logging.Logger``).

``fetcher.get(url, *, name, params=None, expect="json", check=None, headers=None) -> Fetched``
    One logical request, retried until it succeeds or is classified as a
    failure. ``name`` says in words what is fetched ("NL 2023 imports, HS6")
    and appears in every error. ``expect``: ``"json"`` (body must parse as JSON
    and carry no error field), ``"text"`` or ``"bytes"`` (body must be
    non-empty and, unless ``allow_html=True``, not an HTML page). ``check(fetched)`` may
    raise :class:`PayloadProblem` to reject a body the transport accepted (an
    empty result where data was expected, fewer records than announced);
    ``retryable=True`` problems are retried like a 5xx.
    ``Fetched`` has ``name, url`` (redacted), ``status, content, headers,
    attempts, retrieved_at`` (UTC ISO-8601), ``elapsed_s``, ``.json()``, ``.text``.
    ``fetcher.stats`` counts attempts, retries per kind and time spent waiting.

``fetcher.get_range(url, path, *, name, start, end, params=None, headers=None, on_bytes=None) -> RangeFetched``
    A resumable ranged download: bytes ``start..end`` streamed onto the end of ``path``. A body that ends
    early - cut, timed out, or a 206 shorter than its Content-Range on a cleanly closed stream - is retried
    from the first byte not received (``Range: bytes=<that byte>-end``) within ``max_attempts``; what
    arrived stays in ``path``. ``RangeFetched`` has ``status`` (206, or 200 when the range was ignored and
    the whole file sent), ``end_pos`` (the file's size after it), ``total``, ``attempts``, ``resumed``.

Secrets are masked by ``pipeline.clients.secrets``; responses are stored by
``pipeline.clients.raw_files``.

Errors (all :class:`FetchError`, message = request name, failure kind, HTTP
status, attempts and the redacted URL; attributes ``name, url, kind, status,
attempts, detail, retryable``):

* :class:`RequestFailed` - not worth retrying: 4xx, a JSON error field, an
  unretryable :class:`PayloadProblem` (``kind`` says which: ``client_error``,
  ``auth``, ``too_large``, ``api_error``, ...);
* :class:`RetriesExhausted` - a transient failure (``rate_limited``,
  ``server_error``, ``timeout``, ``connection``, ``truncated`` (a cut or short body), ``malformed``,
  ``html``, ``empty``) persisted through ``max_attempts``;
* :class:`QuotaExhausted` - the service (or ``call_budget``) says stop for
  today, or asks to wait longer than ``max_retry_after_s``. Callers catch it,
  keep what is stored and stop cleanly; a rerun resumes.

Retry policy: 429, 408 and 5xx responses, timeouts, connection errors,
truncated or unparsable bodies, HTML pages and empty bodies where content was
expected are retried with exponential backoff and jitter. A ``Retry-After``
header (seconds or HTTP date) - or a body saying "try again in N seconds" - is
honoured: the wait is never shorter than asked.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from pipeline.clients.http_rules import (  # noqa: F401 - part of this module's API
    _TRY_AGAIN,
    Throttle,
    _body_text,
    _chain,
    _html_summary,
    _looks_html,
    _looks_html_start,
    default_quota_detector,
    json_error_message,
    parse_retry_after,
)
from pipeline.clients.secrets import SecretFilter, redact, redact_url, speaker

if TYPE_CHECKING:  # httpx (about 0.2 s) is imported by the methods that send: `geomon run` and the
    import httpx   # asset definitions import this module without making a request (issue 28)

__all__ = [
    "FetchPolicy", "Fetcher", "Fetched", "RangeFetched", "FetchStats", "Throttle",
    "FetchError", "RequestFailed", "RetriesExhausted", "QuotaExhausted", "PayloadProblem",
    "parse_retry_after", "default_quota_detector", "utc_now",
]



def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- policy, errors


@dataclass(frozen=True)
class FetchPolicy:
    requests_per_second: float = 1.0
    timeout_s: float = 60.0
    max_attempts: int = 6
    backoff_base_s: float = 1.0
    backoff_max_s: float = 120.0
    jitter: float = 0.5
    max_retry_after_s: float = 900.0
    call_budget: int | None = None

    def __post_init__(self) -> None:
        if self.requests_per_second < 0:
            raise ValueError("requests_per_second must be >= 0 (0 = no throttle)")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.backoff_base_s < 0 or self.backoff_max_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("backoff and wait limits must be >= 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        if self.call_budget is not None and self.call_budget < 0:
            raise ValueError("call_budget must be >= 0")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait before retry number ``attempt`` (1 = first retry): capped doubling, the top ``jitter`` share random."""
        delay = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return delay * (1 - self.jitter) + rng.uniform(0, delay * self.jitter)


class FetchError(Exception):
    """A request that did not yield a usable body; the message names it and never holds a secret."""

    retryable = False

    def __init__(self, name: str, url: str, kind: str, detail: str, status: int | None = None, attempts: int = 1):
        self.name, self.url, self.kind, self.detail, self.status, self.attempts = name, url, kind, detail, status, attempts
        http = f" [HTTP {status}]" if status is not None else ""
        super().__init__(f"{name}: {kind}{http}: {detail} (after {attempts} attempt(s); GET {url})")


class RequestFailed(FetchError):
    """Not worth retrying: the request itself is wrong, or the service refused it for good."""


class RetriesExhausted(FetchError):
    """A transient failure that persisted through every attempt."""


class QuotaExhausted(FetchError):
    """The service (or our own call budget) says stop for now; keep what is done and resume later."""


class PayloadProblem(Exception):
    """Raised by a ``check`` callback: the body arrived but is not what the request should yield."""

    def __init__(self, detail: str, *, kind: str = "bad_payload", retryable: bool = False):
        super().__init__(detail)
        self.detail, self.kind, self.retryable = detail, kind, retryable


class _Transient(Exception):
    def __init__(self, kind: str, detail: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(detail)
        self.kind, self.detail, self.status, self.retry_after = kind, detail, status, retry_after


# --------------------------------------------------------------------------- fetcher


@dataclass
class Fetched:
    name: str
    url: str  # redacted
    status: int
    content: bytes
    headers: httpx.Headers
    attempts: int
    retrieved_at: str
    elapsed_s: float
    _json: Any = field(default=None, repr=False)
    _parsed: bool = field(default=False, repr=False)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        if not self._parsed:
            self._json, self._parsed = json.loads(self.content), True
        return self._json


@dataclass
class RangeFetched:
    """What :meth:`Fetcher.get_range` appended: ``end_pos`` is the file's size after it (next byte to ask)."""

    name: str
    url: str  # redacted
    status: int  # 206, or 200 when the service ignored the range and sent the whole file
    start: int
    end_pos: int
    total: int | None  # the file's size from Content-Range (or a 200's Content-Length); None if not stated
    attempts: int
    resumed: int  # attempts that continued from a byte an earlier attempt of this range reached
    retrieved_at: str
    elapsed_s: float


@dataclass
class FetchStats:
    attempts: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: Counter = field(default_factory=Counter)
    throttle_wait_s: float = 0.0
    backoff_wait_s: float = 0.0

    def as_dict(self) -> dict:
        return {"attempts": self.attempts, "succeeded": self.succeeded, "failed": self.failed,
                "retries": dict(self.retries), "throttle_wait_s": round(self.throttle_wait_s, 3),
                "backoff_wait_s": round(self.backoff_wait_s, 3)}


class Fetcher:
    """An httpx client with the project's throttle, retry and classification rules (see module docstring)."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        log: Any = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        quota_detector: Callable[[httpx.Response], str | None] = default_quota_detector,
        user_agent: str = "geomonitor (+https://github.com/; httpx)",
    ):
        self.policy = policy or FetchPolicy()
        self.secrets = tuple(s for s in secrets if s)
        if self.secrets:
            SecretFilter.register(self.secrets)
        self._secret_headers = {k.lower() for k, v in (headers or {}).items() if v and v in self.secrets}
        self._say = speaker(log, self.secrets)
        self._sleep, self._clock, self._now = sleep, clock, now
        self._rng = rng or random.Random()
        self._quota_detector = quota_detector
        self.throttle = Throttle(self.policy.requests_per_second, clock=clock, sleep=sleep)
        self.stats = FetchStats()
        self._lock = threading.Lock()
        import httpx

        self._client = httpx.Client(
            headers={"User-Agent": user_agent, **(headers or {})},
            timeout=httpx.Timeout(self.policy.timeout_s),
            transport=transport,
            follow_redirects=False,  # redirects are followed by hand, without secret headers across hosts
            # the throttle runs as the last step before the request leaves, for every attempt and redirect hop
            event_hooks={"request": [self._throttle_hook]},
        )

    def _throttle_hook(self, request: httpx.Request) -> None:
        self._count(throttle_wait_s=self.throttle.wait())

    # -- lifecycle
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- helpers
    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def _count(self, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self.stats, key, getattr(self.stats, key) + value)

    # -- the one public call
    def get(
        self,
        url: str,
        *,
        name: str,
        params: Mapping[str, Any] | None = None,
        expect: str = "json",
        check: Callable[[Fetched], None] | None = None,
        headers: Mapping[str, str] | None = None,
        allow_html: bool = False,
    ) -> Fetched:
        return self._request("GET", url, name=name, params=params, expect=expect, check=check, headers=headers,
                             allow_html=allow_html)

    def post_json(self, url: str, body: Any, *, name: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """POST ``body`` as JSON under the same throttle, retries and classification; any 2xx answer, empty or
        not, is success (``expect="status"``). For notifications such as the publication webhook."""
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return self._request("POST", url, name=name, expect="status", content=content,
                             headers={"Content-Type": "application/json", **(headers or {})})

    def get_range(self, url: str, path: Path, *, name: str, start: int, end: int | None,
                  params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                  on_bytes: Callable[[int], None] | None = None) -> RangeFetched:
        """Bytes ``start..end`` (inclusive; ``end`` None = to the end) of ``url`` appended to ``path``, which
        holds bytes ``0..start-1``; the body is streamed to the file as it arrives (``on_bytes(n)`` per piece).

        An answer that stops early - a cut connection, a timeout mid-body, or a 206 whose body is shorter
        than its Content-Range although the stream closed cleanly - is a transient ``truncated`` failure: the
        retry asks ``Range: bytes=<first byte not received>-end``, so nothing received is fetched twice, and
        after ``max_attempts`` it is RetriesExhausted with what arrived kept in ``path`` for a later resume.
        A 200 (the service ignored the range) rewrites ``path`` with the whole body. Statuses, throttle,
        quota and HTML pages are handled as in :meth:`get`; a Content-Range total that changes between
        attempts (the file was replaced) is a RequestFailed ``changed``."""
        import httpx

        request_url = httpx.URL(url)
        extra_params = {k: v for k, v in (params or {}).items() if v is not None}
        if extra_params:
            request_url = request_url.copy_merge_params(extra_params)
        shown = redact_url(request_url, self.secrets)
        state = {"pos": start, "total": None, "status": 0, "resumed": 0, "attempts": 0}
        began = self._clock()

        def once(attempt: int) -> None:
            pos, state["attempts"] = state["pos"], attempt
            state["resumed"] += pos > start
            self._begin("GET", shown, name, attempt)
            asked = f"bytes={pos}-{'' if end is None else end}"
            try:
                response = self._send("GET", request_url, {**(headers or {}), "Range": asked,
                                                           "Accept-Encoding": "identity"}, stream=True)
            except httpx.TransportError as exc:
                raise self._transport_problem(exc) from None
            try:
                self._stream_range(response, path, state, name, shown, attempt, asked, on_bytes)
            finally:
                response.close()

        self._retrying(name, shown, once)
        return RangeFetched(name, shown, state["status"], start, state["pos"], state["total"], state["attempts"],
                            state["resumed"], self._now().astimezone(timezone.utc).isoformat(timespec="seconds"),
                            self._clock() - began)

    def _stream_range(self, response, path, state, name, shown, attempt, asked, on_bytes) -> None:
        import httpx

        status, pos = response.status_code, state["pos"]
        if status not in (200, 206):
            try:
                response.read()
            except httpx.TransportError as exc:
                raise self._transport_problem(exc) from None
            fetched = Fetched(name, shown, status, response.content, response.headers, attempt, "", 0.0)
            self._classify(response, fetched, "bytes", False)  # raises for every error status
            self._count(failed=1)
            raise RequestFailed(name, shown, "client_error", f"HTTP {status} to Range {asked}", status, attempt)
        expected = None
        if status == 206:
            m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("content-range", "").strip())
            if not m or int(m.group(1)) != pos:
                self._count(failed=1)
                raise RequestFailed(name, shown, "bad_range", f"answer to {asked} has Content-Range "
                                    f"{response.headers.get('content-range')!r}", status, attempt)
            total = int(m.group(3)) if m.group(3) != "*" else None
            if state["total"] is not None and total is not None and total != state["total"]:
                self._count(failed=1)
                raise RequestFailed(name, shown, "changed", f"the file is {total} bytes now, {state['total']} at the "
                                    "start of this download: it was replaced meanwhile", status, attempt)
            state["total"] = total if total is not None else state["total"]
            expected, mode = int(m.group(2)) - pos + 1, "ab"
        else:  # the whole file from byte 0
            length = response.headers.get("content-length", "")
            expected, mode, pos = (int(length) if length.isdigit() else None), "wb", 0
            state["total"] = expected
        state["status"], got = status, 0
        pieces = response.iter_bytes()  # identity was asked: the bytes as sent
        try:
            first = next(pieces, b"")
            if pos == 0 and _looks_html_start(response, first):
                raise _Transient("html", _html_summary(first + b"".join(pieces)), status)
            with open(path, mode) as fh:
                for piece in _chain(first, pieces):
                    fh.write(piece)
                    got += len(piece)
                    if on_bytes is not None:
                        on_bytes(len(piece))
        except httpx.TransportError as exc:
            problem = self._transport_problem(exc)
            kind = "timeout" if problem.kind == "timeout" else "truncated"
            raise _Transient(kind, f"{problem.detail}; {got:,} of {expected or '?'} bytes arrived, the retry resumes "
                             f"at byte {pos + got:,}", status) from None
        finally:
            state["pos"] = pos + got
        if not got:
            raise _Transient("empty", f"empty body to {asked}", status)
        if expected is not None and got < expected:
            raise _Transient("truncated", f"HTTP {status} body ended cleanly after {got:,} of {expected:,} bytes; the "
                             f"retry resumes at byte {pos + got:,}", status)
        if expected is not None and got > expected:
            self._count(failed=1)
            raise RequestFailed(name, shown, "bad_range", f"{got:,} bytes in answer to {asked}, {expected:,} announced",
                                status, attempt)

    def _request(self, method: str, url: str, *, name: str, params: Mapping[str, Any] | None = None,
                 expect: str = "json", check: Callable[[Fetched], None] | None = None,
                 headers: Mapping[str, str] | None = None, allow_html: bool = False,
                 content: bytes | None = None) -> Fetched:
        if expect not in ("json", "text", "bytes", "status"):
            raise ValueError(f"expect must be json, text, bytes or status (got {expect!r})")
        import httpx

        request_url = httpx.URL(url)
        extra_params = {k: v for k, v in (params or {}).items() if v is not None}
        if extra_params:
            request_url = request_url.copy_merge_params(extra_params)
        shown = redact_url(request_url, self.secrets)
        return self._retrying(name, shown, lambda attempt: self._attempt(
            method, request_url, shown, name, attempt, expect, check, headers, allow_html, content))

    def _retrying(self, name: str, shown: str, attempt_once: Callable[[int], Any]) -> Any:
        """``attempt_once(attempt)`` until it returns, retrying what it raises as transient (backoff, Retry-After)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                done = attempt_once(attempt)
                self._count(succeeded=1)
                return done
            except _Transient as problem:
                with self._lock:
                    self.stats.retries[problem.kind] += 1
                if attempt >= self.policy.max_attempts:
                    self._count(failed=1)
                    raise RetriesExhausted(name, shown, problem.kind, self.redact(problem.detail), problem.status, attempt) from None
                wait = self.policy.backoff(attempt, self._rng)
                if problem.retry_after is not None:
                    if problem.retry_after > self.policy.max_retry_after_s:
                        self._count(failed=1)
                        raise QuotaExhausted(
                            name, shown, "rate_limited",
                            f"the service asks to wait {problem.retry_after:.0f} s, more than max_retry_after_s="
                            f"{self.policy.max_retry_after_s:.0f}; stopping so a later run can resume",
                            problem.status, attempt) from None
                    # never sooner than asked; a little jitter on top spreads parallel clients
                    wait = problem.retry_after + self._rng.uniform(0, self.policy.jitter * self.policy.backoff_base_s)
                self._say("warning", f"{name}: {problem.kind} ({problem.detail}); retry {attempt}/"
                          f"{self.policy.max_attempts - 1} in {wait:.2f} s")
                self._count(backoff_wait_s=wait)
                if wait > 0:
                    self._sleep(wait)

    def _begin(self, method: str, shown: str, name: str, attempt: int) -> float:
        """Count one attempt against the call budget (QuotaExhausted past it); the clock at its start."""
        budget = self.policy.call_budget
        with self._lock:
            if budget is not None and self.stats.attempts >= budget:
                over = True
            else:
                over = False
                self.stats.attempts += 1
        if over:
            self._count(failed=1)
            raise QuotaExhausted(name, shown, "call_budget", f"the call budget of {budget} is used up", None, attempt - 1)
        self._say("debug", f"{method} {shown} ({name}, attempt {attempt})")
        return self._clock()

    def _transport_problem(self, exc: httpx.TransportError) -> _Transient:
        """A timeout, a cut connection or a body that ended before its announced length, as a transient failure."""
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return _Transient("timeout", f"{type(exc).__name__} after {self.policy.timeout_s:g} s")
        if isinstance(exc, httpx.RemoteProtocolError):
            kind = "truncated" if "incomplete" in str(exc).lower() or "closed" in str(exc).lower() else "connection"
            return _Transient(kind, f"{type(exc).__name__}: {self.redact(str(exc))[:200]}")
        return _Transient("connection", f"{type(exc).__name__}: {self.redact(str(exc))[:200]}")

    def _attempt(self, method, url, shown, name, attempt, expect, check, headers, allow_html, content) -> Fetched:
        import httpx

        started = self._begin(method, shown, name, attempt)
        try:
            response = self._send(method, url, headers, content)
        except httpx.TransportError as exc:
            raise self._transport_problem(exc) from None
        try:
            elapsed = response.elapsed.total_seconds()  # the exchange itself, throttle wait excluded
        except RuntimeError:
            elapsed = self._clock() - started
        fetched = Fetched(name=name, url=shown, status=response.status_code, content=response.content,
                          headers=response.headers, attempts=attempt,
                          retrieved_at=self._now().astimezone(timezone.utc).isoformat(timespec="seconds"),
                          elapsed_s=elapsed)
        self._classify(response, fetched, expect, allow_html)
        if check is not None:
            try:
                check(fetched)
            except PayloadProblem as problem:
                if problem.retryable:
                    raise _Transient(problem.kind, problem.detail, response.status_code) from None
                self._count(failed=1)
                raise RequestFailed(name, shown, problem.kind, self.redact(problem.detail), response.status_code, attempt) from None
        return fetched

    def _send(self, method: str, url: httpx.URL, headers: Mapping[str, str] | None,
              content: bytes | None = None, *, stream: bool = False) -> httpx.Response:
        """One request, following up to 5 redirects; secret headers are not sent to another host. With
        ``stream`` the final response's body is left unread (the caller reads and closes it)."""
        extra = dict(headers or {})
        origin = url.host
        for _ in range(6):
            request = self._client.build_request(method, url, headers=extra, content=content)
            if url.host != origin:
                for key in self._secret_headers:
                    request.headers.pop(key, None)
            response = self._client.send(request, stream=stream)
            if response.is_redirect and "location" in response.headers:
                response.close()
                url = url.join(response.headers["location"])
                continue
            if not stream:
                response.read()
            return response
        raise _Transient("connection", "too many redirects")

    def _classify(self, response: httpx.Response, fetched: Fetched, expect: str, allow_html: bool) -> None:
        status = response.status_code
        name, shown, attempt = fetched.name, fetched.url, fetched.attempts
        quota = self._quota_detector(response)
        if quota:
            self._count(failed=1)
            raise QuotaExhausted(name, shown, "quota", self.redact(quota), status, attempt)
        if status == 429 or status == 408 or status >= 500:
            if _looks_html(response):
                detail = _html_summary(response.content)
            else:
                detail = _body_text(response.content) or response.reason_phrase
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._now())
            if retry_after is None and status == 429:
                hint = _TRY_AGAIN.search(_body_text(response.content, 500))
                retry_after = float(hint.group(1)) if hint else None
            kind = "rate_limited" if status == 429 else ("timeout" if status == 408 else "server_error")
            raise _Transient(kind, self.redact(detail), status, retry_after)
        if status >= 400:
            self._count(failed=1)
            if _looks_html(response):
                detail = _html_summary(response.content)
            else:
                detail = _body_text(response.content) or response.reason_phrase
                try:
                    detail = json_error_message(json.loads(response.content)) or detail
                except (ValueError, UnicodeDecodeError):
                    pass
            kind = {401: "auth", 403: "auth", 404: "not_found", 413: "too_large", 414: "url_too_long"}.get(status, "client_error")
            raise RequestFailed(name, shown, kind, self.redact(detail), status, attempt)
        if status >= 300:
            self._count(failed=1)
            raise RequestFailed(name, shown, "redirect", f"unfollowed redirect {status}", status, attempt)
        if expect == "status":
            return
        if not response.content.strip():
            raise _Transient("empty", "empty body with a success status", status)
        if not allow_html and _looks_html(response):
            raise _Transient("html", _html_summary(response.content), status)
        if expect == "json":
            try:
                payload = fetched.json()
            except (ValueError, UnicodeDecodeError) as exc:
                raise _Transient("malformed", f"body is not valid JSON ({str(exc)[:120]}; "
                                 f"{len(response.content)} bytes, ends {response.content[-40:]!r})", status) from None
            message = json_error_message(payload)
            if message:
                self._count(failed=1)
                raise RequestFailed(name, shown, "api_error", self.redact(message), status, attempt)
