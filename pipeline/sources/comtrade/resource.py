"""UN Comtrade as Dagster resources: where the v1 API is, how politely to ask it, and the subscription key."""

from __future__ import annotations

import time
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.clients.http import Fetcher, utc_now
from pipeline.clients.secrets import speaker
from pipeline.resources.fetch import FetchSettings
from pipeline.settings import environment
from pipeline.sources.comtrade.client.plan import MAX_URL
from pipeline.sources.comtrade.client.session import KEY_ENV, KEY_HEADER, PREVIEW_CAP, ComtradeSession, record_cap


class ComtradeKey(ConfigurableResource):
    """The UN Comtrade subscription key: the environment's COMTRADE_API_KEY, as pipeline.settings read it (when
    the geomon command started, or when a session opens in a run launched from the UI); empty = the keyless
    preview. It is no configuration, so no run config, stored job snapshot or log holds it.

    A resource of its own inside ``ComtradeClient``: run config that reconfigures the client (another base
    URL) replaces the client's fields, and the key must stay the environment's then."""

    value: str | None = Field(default=None, description="None: COMTRADE_API_KEY from the environment. A key given "
                              "here (tests; '' = keyless) is stored with the run's config: never a real one.")

    def secret(self) -> str:
        """The key, stripped; empty when there is none."""
        if self.value is not None:
            return self.value.strip()
        return environment().comtrade_key.get_secret_value()


class ComtradeClient(FetchSettings):
    """UN Comtrade v1 API settings; ``open_session`` gives a :class:`ComtradeSession` speaking to it."""

    key: ComtradeKey
    base_url: str = Field(default="https://comtradeapi.un.org", description="API host, no trailing slash.")
    requests_per_second: float = Field(default=0.2, description="Throttle: starts of calls per second (retries "
                                       "count); comtradr uses 1 per 6 s, 429s are retried after their Retry-After.")
    timeout_s: float = Field(default=120.0, description="Per-request timeout (connect/read/write/pool), seconds.")
    max_attempts: int = Field(default=6, description="Attempts per call before it is reported as failed.")
    max_records_per_call: int = Field(default=0, description="Record cap per call; 0 = 100,000 with a key, 500 without.")
    daily_call_limit: int = Field(default=500, description="Calls per UTC day (all runs together); 0 = no limit.")
    max_url_length: int = Field(default=MAX_URL, description="Longest URL sent.")
    verify_split_counts: bool = Field(default=True, description="On a full page, ask the true count (countOnly) and "
                                      "check that the calls replacing it return exactly that many records.")

    @property
    def has_key(self) -> bool:
        return bool(self.key.secret())

    def record_cap(self) -> int:
        """Records per call: the configured cap, never above what the endpoint serves (500 without a key)."""
        return record_cap(self.has_key, self.max_records_per_call)

    def open_session(self, *, log: Any = None, call_budget: int | None = None, transport=None, sleep=time.sleep,
                     clock=time.monotonic, now=utc_now, rng=None) -> ComtradeSession:
        """A live session (an httpx client); use it in a ``with`` block. Test hooks: transport, sleep, clock."""
        key = self.key.secret()
        fetcher = Fetcher(self.fetch_policy(call_budget), headers={KEY_HEADER: key} if key else None,
                          secrets=[key] if key else [], log=log, transport=transport, sleep=sleep, clock=clock,
                          now=now, rng=rng)
        if not key:
            speaker(log)("info", f"no {KEY_ENV} set: using the keyless public preview endpoints "
                                 f"({PREVIEW_CAP} records per call; bulk files unavailable)")
        return ComtradeSession(fetcher, base_url=self.base_url, keyed=bool(key),
                               max_records_per_call=self.max_records_per_call, max_url_length=self.max_url_length,
                               verify_split_counts=self.verify_split_counts)
