"""Post a publication's summary to a webhook: short timeouts, a few retries, never an exception.

A receiver that is down must not undo or fail a publication that is already swapped in, so every
failure is returned as text for the caller to log. The request goes through the project's one HTTP
layer (pipeline/clients/http.py), which does the retrying.
"""

from __future__ import annotations

import time

from pipeline.clients.http import FetchError, FetchPolicy, Fetcher


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
    """(delivered, what happened). The sources' HTTP layer does the retrying (5xx, 429 with Retry-After,
    timeouts, connection errors; 1 s, 2 s, ... apart); a refusal (other 4xx) is not asked again."""
    policy = FetchPolicy(requests_per_second=0, timeout_s=timeout_s, max_attempts=retries + 1, backoff_base_s=1.0,
                         backoff_max_s=30.0, jitter=0.0, max_retry_after_s=30.0)
    try:
        with Fetcher(policy, sleep=sleep) as fetcher:
            answer = fetcher.post_json(url, body, name="publication webhook")
    except FetchError as exc:
        reason = f"HTTP {exc.status}" if exc.status else exc.detail
        return False, f"webhook not delivered after {exc.attempts} attempt(s): attempt {exc.attempts}: {reason}"
    return True, f"delivered (HTTP {answer.status}, attempt {answer.attempts})"
