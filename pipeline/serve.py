"""Serve the snapshots folder over HTTP with byte ranges and access classes, for `geomon serve`.

polars and DuckDB read remote Parquet with HTTP range requests (the footer
first, then only the row groups they need); Python's ``http.server`` ignores
``Range`` and sends whole files, which those readers reject. This handler
answers single ranges (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``) with 206,
unsatisfiable ones with 416, and serves only files inside the folder.

Access classes (pipeline/publish/access.py): a file a snapshot's manifest marks
``restricted`` (or a file in a snapshot folder the manifest does not list) is sent
only to a request carrying ``Authorization: Bearer <token>``, compared in constant
time with the token given to ``make_server`` (``geomon serve`` reads it from
``GEOMON_SERVE_TOKEN`` when it starts); anything else gets 401. Without a token
configured, restricted files are never sent. ``/latest/...`` is the snapshot LATEST
names. Every request is logged (client, method, path, status, bytes), never a
header. Meant for a laptop or an internal test; put nginx or caddy in front for a
real deployment (both serve ranges out of the box).
"""

from __future__ import annotations

import hmac
import os
import json
import logging
import re
import sys
from collections.abc import Mapping
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.publish.access import PUBLIC, RESTRICTED, file_classes
from pipeline.settings import SERVE_TOKEN_ENV as TOKEN_ENV  # noqa: F401 (geomon serve names it)
from pipeline.settings import environment, read_environment

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
LATEST_ALIAS = "latest"

log = logging.getLogger("geomon.serve")


def _ensure_logging() -> None:
    """Log to stderr unless the application configured logging (then its handlers get the lines)."""
    log.setLevel(logging.INFO)
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.propagate = False


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single byte ranges, access classes and /latest/; listings stay on."""

    token: bytes | None = None  # set per server by make_server

    # ---- paths: /latest/... and the class of a file
    def _rewrite_latest(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.split("/")
        if len(segments) > 1 and segments[1] == LATEST_ALIAS:
            pointer = Path(self.directory) / "LATEST"
            latest = pointer.read_text().strip() if pointer.is_file() else ""
            if latest and "/" not in latest and ".." not in latest:
                segments[1] = latest
                self.path = "/".join(segments) + (f"?{parts.query}" if parts.query else "")

    def _access_class(self, path: Path) -> str:
        """public or restricted: by the manifest of the snapshot folder the file is in."""
        root = Path(self.directory).resolve()
        try:
            relative = path.resolve().relative_to(root)
        except ValueError:
            return RESTRICTED
        if len(relative.parts) < 2 or not path.is_file():
            return PUBLIC  # LATEST, PINNED, folder listings
        snapshot, inner = relative.parts[0], Path(*relative.parts[1:]).as_posix()
        try:
            manifest = json.loads((root / snapshot / "manifest.json").read_text())
        except (OSError, json.JSONDecodeError):
            return RESTRICTED
        return file_classes(manifest).get(inner, RESTRICTED)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not self.token or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer "):].strip().encode(), self.token)

    # ---- responses
    def send_head(self):
        self._rewrite_latest()
        path = Path(self.translate_path(self.path))
        if path.is_file() and self._access_class(path) == RESTRICTED and not self._authorized():
            body = b"401 Unauthorized: restricted file; send Authorization: Bearer <token>\n"
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", 'Bearer realm="geomonitor"')
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
                self._sent += len(body)
            return None
        header = self.headers.get("Range")
        if header is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        match = _RANGE.match(header.strip())
        if match is None or (not match.group(1) and not match.group(2)):
            return super().send_head()  # multi-range or malformed: whole file, as RFC 7233 allows
        first, last = match.group(1), match.group(2)
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(size - int(last), 0), size - 1
        if start >= size or start > end:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        fh = path.open("rb")
        fh.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._remaining = end - start + 1
        return fh

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        while remaining is None or remaining > 0:
            chunk = source.read(1 << 16 if remaining is None else min(1 << 16, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            self._sent += len(chunk)
            if remaining is not None:
                remaining -= len(chunk)
        self._remaining = None

    def end_headers(self):
        if self.headers is not None and self.headers.get("Range") is None:
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    # ---- one log line per request: client, method, path, status, bytes (never a header, so never the token)
    def handle_one_request(self):
        self._status, self._sent, self._remaining = None, 0, None
        super().handle_one_request()
        if self._status is not None and os.environ.get("GEOMON_SERVE_QUIET") != "1":
            _ensure_logging()
            log.info("%s %s %s %s %d", self.client_address[0], self.command, self.path, self._status, self._sent)

    def send_response(self, code, message=None):
        self._status = int(code)
        super().send_response(code, message)

    def log_request(self, code="-", size="-"):
        pass  # logged once the response is sent, with its bytes (handle_one_request)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # errors are logged with their status in handle_one_request


def read_token(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The serve token from GEOMON_SERVE_TOKEN, as pipeline.settings read it when serve started (``environ``:
    another mapping, for tests); None when unset or empty."""
    env = environment() if environ is None else read_environment(environ)
    value = env.serve_token.get_secret_value()
    return value.encode() if value else None


def make_server(folder: Path, host: str = "127.0.0.1", port: int = 8765,
                token: str | bytes | None = None) -> ThreadingHTTPServer:
    secret = token.encode() if isinstance(token, str) else token
    handler_class = type("Handler", (RangeRequestHandler,), {"token": secret or None})
    handler = partial(handler_class, directory=str(folder))
    return ThreadingHTTPServer((host, port), handler)

