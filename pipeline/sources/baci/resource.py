"""Where CEPII's BACI download is and how politely to ask it: a Dagster resource on the shared fetch policy."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from pydantic import Field

from pipeline.clients.http import Fetcher
from pipeline.resources.fetch import FetchSettings
from pipeline.sources.baci.client import BASE_URL


class BaciApi(FetchSettings):
    """CEPII's download folder of BACI zips; the default is the real one."""

    base_url: str = Field(default=BASE_URL, description="Folder URL holding BACI_<edition>_<release>.zip.")
    chunk_mb: float = Field(default=16.0, description="Bytes per range request of a download, in MB.")

    @contextmanager
    def fetcher(self, log=None) -> Iterator[Fetcher]:
        with Fetcher(self.fetch_policy(), log=log) as fetcher:
            yield fetcher

    @property
    def chunk_bytes(self) -> int:
        return max(1, int(self.chunk_mb * (1 << 20)))
