"""Serve the snapshots folder over HTTP with byte ranges, for `geomon serve`.

polars and DuckDB read remote Parquet with HTTP range requests (the footer
first, then only the row groups they need); Python's ``http.server`` ignores
``Range`` and sends whole files, which those readers reject. This handler
answers single ranges (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``) with 206,
unsatisfiable ones with 416, and serves only files inside the folder. It is
meant for a laptop or an internal test; put nginx or caddy in front for a
real deployment (both serve ranges out of the box).
"""

from __future__ import annotations

import os
import re
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single byte ranges; directory listings stay on."""

    def send_head(self):
        header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
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
        if remaining is None:
            return super().copyfile(source, outputfile)
        while remaining > 0:
            chunk = source.read(min(1 << 16, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)
        self._remaining = None

    def end_headers(self):
        if self.headers.get("Range") is None:
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if os.environ.get("GEOMON_SERVE_QUIET") != "1":
            super().log_message(format, *args)


def make_server(folder: Path, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    handler = partial(RangeRequestHandler, directory=str(folder))
    return ThreadingHTTPServer((host, port), handler)
