"""``raw/baci_files`` with no edition configured (every ``geomon run`` of the default settings) fetches nothing,
and so opens no HTTP client: creating one (httpx's import, its TLS context) was the first step's 0.13 CPU-s."""

from __future__ import annotations

import pytest
from dagster import materialize

from assets.baci.records import BaciFetchConfig, baci_files
from pipeline.clients import http
from pipeline.resources import DataFolder
from pipeline.sources.baci.resource import BaciApi

pytestmark = pytest.mark.pipeline  # each test runs a Dagster job


def _materialise(tmp_path, editions: list[str]):
    return materialize([baci_files], resources={"baci_api": BaciApi(base_url="http://127.0.0.1:9/baci", max_attempts=1,
                                                                backoff_base_s=0.01, requests_per_second=0),
                                                "data": DataFolder(root=str(tmp_path))},
                       run_config={"ops": {"raw__baci_files": {"config": {"editions": editions}}}},
                       raise_on_error=False)


def test_no_edition_opens_no_http_client_and_says_so(tmp_path, monkeypatch):
    def no_client(*args, **kwargs):
        raise AssertionError("an HTTP client was opened with nothing to fetch")

    monkeypatch.setattr(http.Fetcher, "__init__", no_client)
    result = _materialise(tmp_path, [])
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["editions"] == [] and metadata["failed"] == "no"
    assert metadata["http"] == http.FetchStats().as_dict() == {
        "attempts": 0, "succeeded": 0, "failed": 0, "retries": {}, "throttle_wait_s": 0.0, "backoff_wait_s": 0.0}
    assert not (tmp_path / "raw").exists()  # nothing written either


def test_an_edition_still_goes_to_the_service(tmp_path):
    # nothing listens on port 9: the fetch is tried and fails as a download that could not be made
    result = _materialise(tmp_path, ["HS17"])
    assert not result.success
    assert BaciFetchConfig(editions=["HS17"]).editions == ["HS17"]
