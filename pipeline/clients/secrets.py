"""Keeping secrets (the Comtrade key) out of everything the HTTP layer and its callers say.

``redact`` masks a secret and its URL-encoded form, ``redact_url`` also drops credential query
parameters and user info, ``speaker`` logs through a Dagster or Python logger with secrets masked,
and ``SecretFilter`` masks them in httpx's own log records (httpx logs every request URL at INFO).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:  # httpx is imported where a URL is encoded: importing the clients sends nothing (issue 28)
    import httpx


# Query parameters that carry credentials somewhere (Comtrade's client sends ``subscription-key``).
SECRET_PARAMS = {"subscription-key", "subscription_key", "key", "apikey", "api_key", "token", "access_token"}
MASK = "***"

def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and its URL-encoded form) replaced by ``***``."""
    out = str(text)
    for secret in secrets:
        if secret:
            import httpx  # the encoding httpx sends; imported here so a line without secrets needs no httpx

            for form in {secret, httpx.URL("", params={"k": secret}).query.decode()[2:]}:
                if form:
                    out = out.replace(form, MASK)
    return out


def redact_url(url: str | httpx.URL, secrets: Iterable[str] = ()) -> str:
    """The URL without credential query parameters (``subscription-key`` etc.) and with secrets masked."""
    parts = urlsplit(str(url))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in SECRET_PARAMS]
    clean = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, urlencode(query, safe=",*:"), ""))
    return redact(clean, secrets)


def speaker(log: Any, secrets: Iterable[str] = ()) -> Callable[[str, str], None]:
    """``say(level, message)``: to ``log`` (a Dagster ``context.log`` or a ``logging.Logger``) with the
    secrets masked; does nothing without a log, so callers never test for one."""
    if log is None:
        return lambda level, message: None
    secrets = tuple(secrets)
    return lambda level, message: getattr(log, level)(redact(message, secrets))


class SecretFilter(logging.Filter):
    """Masks registered secrets in records of httpx's own loggers (httpx logs every request URL at INFO)."""

    secrets: set[str] = set()
    _lock = threading.Lock()
    _installed = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            masked = redact(message, tuple(self.secrets))
            if masked != message:
                record.msg, record.args = masked, ()
        return True

    @classmethod
    def register(cls, secrets: Iterable[str]) -> None:
        with cls._lock:
            cls.secrets.update(s for s in secrets if s)
            if not cls._installed:
                instance = cls()
                for name in ("httpx", "httpcore"):
                    logging.getLogger(name).addFilter(instance)
                cls._installed = True
