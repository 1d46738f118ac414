"""The fetch policy every remote source's resource shares: how politely and how stubbornly to ask a service.

Each source's own resource (``pipeline/sources/<name>/resource.py``: where its service is) adds its fields to
these and turns them into one :class:`~pipeline.clients.http.FetchPolicy`; the clients know nothing of Dagster.
"""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.clients.http import FetchPolicy


class FetchSettings(ConfigurableResource):
    """How politely and how stubbornly to fetch (see pipeline/clients/http.py)."""

    requests_per_second: float = Field(default=0.5, description="Throttle on the start of every request, retries "
                                       "included; 0 = none.")
    timeout_s: float = Field(default=300.0, description="Per-request timeout (connect/read/write/pool), seconds.")
    max_attempts: int = Field(default=5, description="Attempts per request before it is reported as failed.")
    backoff_base_s: float = Field(default=2.0, description="First retry wait; doubles each retry, with jitter.")
    backoff_max_s: float = Field(default=120.0, description="Longest retry wait without a Retry-After.")
    max_retry_after_s: float = Field(default=900.0, description="Longer Retry-After waits stop the run (resumable).")

    def fetch_policy(self, call_budget: int | None = None) -> FetchPolicy:
        return FetchPolicy(requests_per_second=self.requests_per_second, timeout_s=self.timeout_s,
                           max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_s,
                           backoff_max_s=self.backoff_max_s, max_retry_after_s=self.max_retry_after_s,
                           call_budget=call_budget)
