"""The two remote sources as Dagster resources: where each service is and how politely to ask it.

Both share the fetch-policy fields (throttle, timeout, retries, waits) and turn them into one
:class:`~pipeline.clients.http.FetchPolicy`; the clients in ``pipeline/clients`` know nothing of Dagster.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.clients.comext.client import ComextClient
from pipeline.clients.comext.listing import FILES_URL, PRODUCTS_DIR
from pipeline.clients.comext.sdmx import ASYNC_URL, SDMX_URL
from pipeline.clients.comtrade.plan import MAX_URL
from pipeline.clients.comtrade.session import KEY_ENV, KEY_HEADER, PREVIEW_CAP, ComtradeSession, record_cap
from pipeline.clients.http import FetchPolicy, Fetcher, utc_now
from pipeline.clients.secrets import speaker
from pipeline.settings import environment


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


class ComextApi(FetchSettings):
    """Where Eurostat Comext is and how politely to ask it; the defaults are the real services."""

    files_url: str = Field(default=FILES_URL, description="Eurostat file service (bulk files and listing).")
    products_dir: str = Field(default=PRODUCTS_DIR, description="Folder of the monthly product files.")
    sdmx_url: str = Field(default=SDMX_URL, description="Comext SDMX 2.1 base URL.")
    async_url: str = Field(default=ASYNC_URL, description="Asynchronous-delivery base URL (status/<id>, data/<id>).")
    chunk_mb: float = Field(default=16.0, description="Bytes per range request of a bulk download, in MB.")
    async_poll_s: float = Field(default=15.0, description="Wait between polls of an asynchronous SDMX answer.")
    async_max_polls: int = Field(default=40, description="Polls before an asynchronous answer counts as failed.")
    track_from: str = Field(
        default="",
        description="YYYY-MM: the revision sensor also requests new monthly bulk files from this month on. "
        "Empty: it only watches months already fetched.",
    )

    @contextmanager
    def client(self, log=None) -> Iterator[ComextClient]:
        with Fetcher(self.fetch_policy(), log=log) as fetcher:
            yield ComextClient(
                fetcher, files_url=self.files_url, products_dir=self.products_dir, sdmx_url=self.sdmx_url,
                async_url=self.async_url, chunk_bytes=max(1, int(self.chunk_mb * (1 << 20))),
                async_poll_s=self.async_poll_s, async_max_polls=self.async_max_polls, log=log,
            )
