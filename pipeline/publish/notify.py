"""Post a publication's summary to a webhook: short timeouts, a few retries, never an exception.

A receiver that is down must not undo or fail a publication that is already swapped in, so every
failure is returned as text for the caller to log. The URL is the user's own endpoint; it is not
one of the data sources, so it does not go through the sources' HTTP layer (pipeline/clients/http.py).
"""

from __future__ import annotations

import time

import httpx


def summary(publication) -> dict:
    """The JSON body: what was published and what changed since the previous publication."""
    manifest = publication.manifest
    return {
        "event": "geomonitor.publication",
        "snapshot_id": publication.snapshot_id,
        "created_at": manifest["created_at"],
        "synthetic": manifest["synthetic"],
        "code_version": manifest["code_version"],
        "changes": publication.changes,
        "rows": {table: meta["rows"] for table, meta in manifest["tables"].items()},
    }


def post_summary(url: str, body: dict, *, timeout_s: float = 5.0, retries: int = 2,
                 sleep=time.sleep) -> tuple[bool, str]:
    """(delivered, what happened). Retries on connection errors and 5xx/429 answers, 1 s, 2 s, ... apart."""
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            sleep(float(attempt))
        try:
            response = httpx.post(url, json=body, timeout=timeout_s)
        except httpx.HTTPError as exc:
            last = f"attempt {attempt + 1}: {type(exc).__name__}"
            continue
        if response.status_code < 300:
            return True, f"delivered (HTTP {response.status_code}, attempt {attempt + 1})"
        last = f"attempt {attempt + 1}: HTTP {response.status_code}"
        if response.status_code < 500 and response.status_code != 429:
            break  # the receiver refuses this body: asking again will not help
    return False, f"webhook not delivered after {attempt + 1} attempt(s): {last}"
