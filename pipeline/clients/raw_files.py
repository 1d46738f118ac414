"""The raw cache of API answers: one gzip JSON file per response, with where and when it came from.

``write_raw_json`` stores ``{**payload, "url": <url without key>, "retrieved_at": ..., "count": ...}``
(a non-dict payload goes under ``"data"``) atomically, and refuses to write a file a secret would end
up in; ``read_raw_json`` reads it back (gzip or plain).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from pipeline.clients.secrets import redact_url
from pipeline.io import atomic_write_bytes

def write_raw_json(
    path: str | os.PathLike,
    payload: Any,
    *,
    url: str,
    retrieved_at: str,
    count: int | None,
    extra: Mapping[str, Any] | None = None,
    secrets: Iterable[str] = (),
) -> Path:
    """Store one response as gzip JSON with where and when it came from ."""
    secrets = tuple(s for s in secrets if s)
    record = dict(payload) if isinstance(payload, dict) else {"data": payload}
    record.update(extra or {})
    record.update({"url": redact_url(url, secrets), "retrieved_at": retrieved_at, "count": count})
    raw = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    for secret in secrets:
        if secret.encode("utf-8") in raw:
            raise ValueError(f"refusing to write {Path(path).name}: the payload contains a secret")
    return atomic_write_bytes(path, gzip.compress(raw, compresslevel=6, mtime=0))


def read_raw_json(path: str | os.PathLike) -> Any:
    """A stored response (gzip or plain JSON)."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return json.loads(data)
