"""Eurostat Comext as a Dagster resource: where its file service and SDMX API are and how politely to ask them."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from pydantic import Field

from pipeline.clients.http import Fetcher
from pipeline.resources.fetch import FetchSettings
from pipeline.sources.comext.client.client import ComextClient
from pipeline.sources.comext.client.listing import FILES_URL, PRODUCTS_DIR
from pipeline.sources.comext.client.sdmx import ASYNC_URL, SDMX_URL


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
