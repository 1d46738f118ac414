"""The Comext client against a local fake of Eurostat (127.0.0.1 only): listing, resumable downloads,
SDMX queries with 413 splits, asynchronous and empty answers, and the per-period raw store."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

import pytest

from fake_comext import FakeComext, month_archive
from pipeline.sources.comext.client import ComextError
from pipeline.sources.comext.client.client import ComextClient
from pipeline.sources.comext.client.listing import ListedFile, changed_months, monthly_files, parse_listing
from pipeline.sources.comext.client.sdmx import SdmxQuery, contiguous_runs, decode_body, stale_sdmx_periods
from pipeline.sources.comext.client.store import ComextRawStore
from pipeline.clients.http import FetchError, FetchPolicy, Fetcher

EU27 = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
        "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK")
FIXTURE_QUERY = SdmxQuery(reporter=EU27, product=("39201081",), flow=("1", "2"), start_period="2023-01",
                          end_period="2025-12")

LISTING = """NAME,TYPE,SIZE,LAST MODIFIED
full_v2_202401.7z,7z,48113514,2024-03-15T11:00:00
full_v2_202402.7z,7z,47001234,2024-04-15T11:00:00
full_v2_202452.7z,7z,92290000,2025-03-20T11:00:00
full_partxixu_v2_202401.7z,7z,1200,2024-03-15T11:00:00
tariff202401.7z,7z,900,2024-03-15T11:00:00
"""


class Sleeps:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake():
    with FakeComext() as server:
        yield server


def client_for(fake: FakeComext, *, chunk_bytes: int = 1 << 20, max_attempts: int = 3, sleep=None) -> ComextClient:
    sleep = sleep or Sleeps()
    fetcher = Fetcher(FetchPolicy(requests_per_second=0, max_attempts=max_attempts, backoff_base_s=0.01, jitter=0),
                      sleep=sleep)
    return ComextClient(fetcher, files_url=f"{fake.base}/files", sdmx_url=f"{fake.base}/sdmx/2.1",
                        async_url=f"{fake.base}/1.0/async", chunk_bytes=chunk_bytes, async_poll_s=0.5,
                        async_max_polls=4, sleep=sleep)


@pytest.fixture(scope="module")
def archive_bytes(tmp_path_factory) -> bytes:
    """A real 7z of a generated month, large enough for several 32 KB ranges."""
    return month_archive(tmp_path_factory.mktemp("gen"), 202401, 4000, seed=3).read_bytes()


# --------------------------------------------------------------------------- listing and revisions


def test_listing_keeps_monthly_full_v2_files_with_size_and_date():
    files = parse_listing(LISTING)
    monthly = monthly_files(files)
    assert sorted(monthly) == ["2024-01", "2024-02"]
    assert monthly["2024-01"] == ListedFile("full_v2_202401.7z", 48113514, "2024-03-15T11:00:00", "7z")
    assert sorted(monthly_files(files, annual=True)) == ["2024", "2024-01", "2024-02"]


def test_listing_problems_name_the_line():
    with pytest.raises(ComextError, match=r"line 3: SIZE '47 MB' of full_v2_202402.7z"):
        parse_listing(LISTING.replace("47001234", "47 MB"))
    with pytest.raises(ComextError, match="no last-modified column"):
        parse_listing("NAME,TYPE,SIZE\nfull_v2_202401.7z,7z,10\n")
    with pytest.raises(ComextError, match="no NAME column"):
        parse_listing("FILE,SIZE,DATE\nx,1,2024-01-01\n")


def test_a_changed_date_or_size_is_a_revision_and_track_from_adds_new_months():
    listing = monthly_files(parse_listing(LISTING))
    held = {"full_v2_202401.7z": {"last_modified": "2024-03-15T11:00:00", "size": 48113514}}
    assert changed_months(listing, held) == {}
    assert changed_months(listing, held, track_from="2024-01") == {"2024-02": "new"}
    moved = {"full_v2_202401.7z": {"last_modified": "2024-02-01T11:00:00", "size": 48113514}}
    assert changed_months(listing, moved) == {"2024-01": "revised"}
    resized = {"full_v2_202401.7z": {"last_modified": "2024-03-15T11:00:00", "size": 1}}
    assert changed_months(listing, resized) == {"2024-01": "revised"}


def test_sdmx_periods_are_stale_when_the_listing_is_newer_than_their_last_update():
    listing = monthly_files(parse_listing(LISTING))
    stored = {"2024-01": {"last_update": "2024-03-20T11:00:00"}, "2024-02": {"last_update": "2024-03-20T11:00:00"}}
    # 2024-01 listed 2024-03-15 (older than the stored answer), 2024-02 listed 2024-04-15 (newer), 2024-03 not stored
    assert stale_sdmx_periods(stored, listing, ["2024-01", "2024-02", "2024-03"]) == ["2024-02", "2024-03"]


# --------------------------------------------------------------------------- SDMX query building


def test_key_follows_the_dataset_dimension_order_and_ids_ignore_periods():
    q = SdmxQuery(reporter=("AT", "NL"), partner=("CN",), product=("39201081",), flow=("1", "2"),
                  indicators=("VALUE_IN_EUROS",), start_period="2023-01", end_period="2023-12")
    assert q.key() == "M.AT+NL.CN.39201081.1+2.VALUE_IN_EUROS"
    assert q.params() == {"format": "SDMX-CSV", "compressed": "true", "startPeriod": "2023-01", "endPeriod": "2023-12"}
    assert SdmxQuery(freq="A", product=("TOTAL",), indicators=()).key() == "A...TOTAL.."
    assert q.query_id() == q.for_periods("2024-01", "2024-02").query_id() != SdmxQuery().query_id()
    assert SdmxQuery.from_dict(q.to_dict()) == q
    with pytest.raises(ComextError, match="not valid SDMX codes"):
        SdmxQuery(reporter=("NL+DE",))
    with pytest.raises(ComextError, match="does not fit frequency M"):
        SdmxQuery(start_period="2023", end_period="2024")


def test_split_halves_reporters_first_then_periods():
    q = SdmxQuery(reporter=("AT", "BE", "NL"), start_period="2023-01", end_period="2023-04")
    first, second = q.split()
    assert (first.reporter, second.reporter) == (("AT",), ("BE", "NL"))
    a, b = first.split()
    assert (a.start_period, a.end_period, b.start_period, b.end_period) == ("2023-01", "2023-02", "2023-03", "2023-04")
    assert SdmxQuery(reporter=("AT",), start_period="2023-01", end_period="2023-01").split() is None
    assert contiguous_runs(["2024-03", "2023-12", "2024-01", "2024-05"], "M") == [
        ("2023-12", "2024-01"), ("2024-03", "2024-03"), ("2024-05", "2024-05")]


def test_bodies_may_come_gzip_zip_or_plain():
    body = b"DATAFLOW,LAST UPDATE\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", body)
    assert decode_body(gzip.compress(body)) == decode_body(buf.getvalue()) == decode_body(body) == body


# --------------------------------------------------------------------------- downloads


@pytest.mark.service
def test_download_resumes_from_the_part_file_of_an_interrupted_run(fake, archive_bytes, tmp_path):
    fake.put("full_v2_202401.7z", archive_bytes, "2024-03-15T11:00:00")
    listed = monthly_files(client_for(fake).list_files())["2024-01"]
    assert listed.size == len(archive_bytes)
    dest = tmp_path / "full_v2_202401.7z"
    fake.faults.fail_downloads_after = 1  # first 32 KB range answered, then the service fails
    with pytest.raises(FetchError, match="server_error"):
        client_for(fake, chunk_bytes=32768, max_attempts=2).download(listed, dest)
    assert not dest.exists() and (tmp_path / "full_v2_202401.7z.part").stat().st_size == 32768

    fake.faults.fail_downloads_after = None
    fake.clear_log()
    result = client_for(fake, chunk_bytes=32768).download(listed, dest)
    assert dest.read_bytes() == archive_bytes
    assert result.resumed_from == 32768
    assert fake.requests("download")[0]["range"] == "bytes=32768-65535"
    assert not (tmp_path / "full_v2_202401.7z.part").exists()


@pytest.mark.service
def test_a_connection_cut_mid_range_and_a_503_with_retry_after_are_retried(fake, archive_bytes, tmp_path):
    fake.put("full_v2_202401.7z", archive_bytes, "2024-03-15T11:00:00")
    listed = ListedFile("full_v2_202401.7z", len(archive_bytes), "2024-03-15T11:00:00")
    fake.faults.drop_after_bytes = 1000
    fake.faults.status_first = [503]
    fake.faults.retry_after = "7"
    sleeps = Sleeps()
    client_for(fake, chunk_bytes=1 << 20, max_attempts=4, sleep=sleeps).download(listed, tmp_path / listed.name)
    assert (tmp_path / listed.name).read_bytes() == archive_bytes
    assert any(s >= 7 for s in sleeps.calls), sleeps.calls  # the wait is never shorter than asked
    assert len(fake.requests("download")) == 3


@pytest.mark.service
def test_a_service_that_ignores_ranges_still_gives_the_whole_file(fake, archive_bytes, tmp_path):
    fake.put("full_v2_202401.7z", archive_bytes, "2024-03-15T11:00:00")
    fake.faults.ignore_range = True
    listed = ListedFile("full_v2_202401.7z", len(archive_bytes), "2024-03-15T11:00:00")
    result = client_for(fake, chunk_bytes=32768).download(listed, tmp_path / listed.name)
    assert result.whole_file_answer and (tmp_path / listed.name).read_bytes() == archive_bytes


@pytest.mark.service
def test_a_size_other_than_the_listing_is_refused_and_nothing_is_kept(fake, archive_bytes, tmp_path):
    fake.put("full_v2_202401.7z", archive_bytes, "2024-03-15T11:00:00")
    fake.faults.listing_size_delta = 10
    listed = monthly_files(client_for(fake).list_files())["2024-01"]
    with pytest.raises(ComextError, match=f"now has {len(archive_bytes)} bytes, the listing said {len(archive_bytes) + 10}"):
        client_for(fake, chunk_bytes=32768).download(listed, tmp_path / listed.name)
    assert list(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []


@pytest.mark.service
def test_a_part_file_of_another_version_is_discarded(fake, archive_bytes, tmp_path):
    fake.put("full_v2_202401.7z", archive_bytes, "2024-05-01T11:00:00")
    (tmp_path / "full_v2_202401.7z.part").write_bytes(b"x" * 5000)
    (tmp_path / ".full_v2_202401.7z.part.json").write_text(json.dumps(
        {"name": "full_v2_202401.7z", "last_modified": "2024-03-15T11:00:00", "size": len(archive_bytes)}))
    listed = ListedFile("full_v2_202401.7z", len(archive_bytes), "2024-05-01T11:00:00")
    result = client_for(fake).download(listed, tmp_path / listed.name)
    assert result.resumed_from == 0 and (tmp_path / listed.name).read_bytes() == archive_bytes


@pytest.mark.service
def test_an_html_page_instead_of_an_archive_is_refused(fake, tmp_path):
    page = b"<html><head><title>Maintenance</title></head><body>back soon</body></html>"
    fake.put("full_v2_202401.7z", page, "2024-03-15T11:00:00")
    with pytest.raises(FetchError, match="HTML page: Maintenance"):
        client_for(fake, max_attempts=2).download(ListedFile("full_v2_202401.7z", len(page), "x"), tmp_path / "f.7z")
    assert not (tmp_path / "f.7z").exists()


@pytest.mark.service
@pytest.mark.parametrize("mode", ["length", "close"])
def test_a_206_that_ends_early_and_closes_cleanly_is_resumed_from_the_byte_it_reached(fake, archive_bytes, tmp_path,
                                                                                       mode):
    fake.put("full_v2_202401.7z", archive_bytes, "2024-03-15T11:00:00")
    listed = ListedFile("full_v2_202401.7z", len(archive_bytes), "2024-03-15T11:00:00")
    fake.faults.short_206 = [mode, mode]  # the first two ranged answers carry 30 % of their range, then close
    client_for(fake, chunk_bytes=32768, max_attempts=4).download(listed, tmp_path / listed.name)
    assert (tmp_path / listed.name).read_bytes() == archive_bytes
    ranges = [r["range"] for r in fake.requests("download")]
    short = int(32768 * 0.3)
    # the retry asks from the byte the short answer reached, to the end of the same range
    assert ranges[:3] == ["bytes=0-32767", f"bytes={short}-32767", f"bytes={short + int((32768 - short) * 0.3)}-32767"]
    assert ranges[3] == "bytes=32768-65535"


@pytest.mark.service
def test_a_cut_connection_resumes_from_the_bytes_received_not_from_the_range_start(fake, archive_bytes, tmp_path):
    fake.put("full_v2_202401.7z", archive_bytes, "2024-03-15T11:00:00")
    listed = ListedFile("full_v2_202401.7z", len(archive_bytes), "2024-03-15T11:00:00")
    fake.faults.drop_after_bytes = 20_000
    client_for(fake, chunk_bytes=1 << 20).download(listed, tmp_path / listed.name)
    assert (tmp_path / listed.name).read_bytes() == archive_bytes
    assert [r["range"] for r in fake.requests("download")] == [f"bytes=0-{len(archive_bytes) - 1}",
                                                              f"bytes=20000-{len(archive_bytes) - 1}"]


@pytest.mark.service
def test_short_answers_past_the_retry_budget_fail_the_download_and_keep_the_bytes_for_a_rerun(fake, archive_bytes,
                                                                                             tmp_path):
    fake.put("full_v2_202401.7z", archive_bytes, "2024-03-15T11:00:00")
    listed = ListedFile("full_v2_202401.7z", len(archive_bytes), "2024-03-15T11:00:00")
    fake.faults.short_206 = ["length"] * 3
    with pytest.raises(FetchError, match=r"full_v2_202401.7z bytes 0-32767: truncated"):
        client_for(fake, chunk_bytes=32768, max_attempts=3).download(listed, tmp_path / listed.name)
    kept = (tmp_path / "full_v2_202401.7z.part").stat().st_size
    assert 0 < kept < 32768
    fake.clear_log()
    client_for(fake, chunk_bytes=32768).download(listed, tmp_path / listed.name)
    assert (tmp_path / listed.name).read_bytes() == archive_bytes
    assert fake.requests("download")[0]["range"] == f"bytes={kept}-{kept + 32767}"


@pytest.mark.service
def test_a_damaged_archive_never_replaces_the_held_copy_and_is_tried_again(fake, archive_bytes, tmp_path):
    from assets.comext.api import fetch_months
    from fake_comext import corrupt_7z
    from pipeline.resources import DataFolder

    store = ComextRawStore.at(tmp_path)
    data = DataFolder(root=str(tmp_path))
    fake.put("full_v2_202401.7z", archive_bytes, "2024-03-15T11:00:00")
    client = client_for(fake, chunk_bytes=1 << 20)
    listing = monthly_files(client.list_files())
    assert fetch_months(client, store, listing, ["2024-01"], data, convert=False).errors == []
    held = (store.root / "bulk" / "full_v2_202401.7z").read_bytes()
    sidecar = store.sidecar.read_bytes()

    # Eurostat publishes a new version; what arrives has intact headers and a damaged packed stream
    fake.put("full_v2_202401.7z", archive_bytes, "2024-05-15T11:00:00")
    fake.faults.corrupt = {"full_v2_202401.7z": 2}
    for attempt in (1, 2):  # the second fetch tries the month again (it is not "already on disk")
        fake.clear_log()
        listing = monthly_files(client.list_files())
        outcome = fetch_months(client, store, listing, ["2024-01"], data, convert=False)
        assert fake.requests("download"), f"fetch {attempt} made no download"
        [error] = outcome.errors
        assert "month 2024-01" in error and "full_v2_202401.7z" in error and ("CRC" in error or "LZMA" in error), error
        assert (store.root / "bulk" / "full_v2_202401.7z").read_bytes() == held
        assert store.sidecar.read_bytes() == sidecar
    quarantined = sorted(store.quarantine.glob("*full_v2_202401.7z"))
    assert len(quarantined) == 2 and quarantined[0].read_bytes() == corrupt_7z(archive_bytes)
    reason = json.loads(quarantined[0].with_name(quarantined[0].name + ".reason.json").read_text())
    assert reason["month"] == "2024-01" and reason["last_modified"] == "2024-05-15T11:00:00" and reason["reason"]

    # the service heals: the next fetch replaces the held copy with the new version
    outcome = fetch_months(client, store, monthly_files(client.list_files()), ["2024-01"], data, convert=False)
    assert outcome.errors == [] and outcome.fetched[0]["reason"] == "revised"
    assert store.held_bulk()["full_v2_202401.7z"]["last_modified"] == "2024-05-15T11:00:00"
    assert store.held_bulk()["full_v2_202401.7z"]["rows"] == 4000


@pytest.mark.service
def test_a_damaged_copy_made_current_by_an_older_version_is_fetched_again(fake, archive_bytes, tmp_path):
    """What ca99318 left behind: a damaged archive recorded as current, with the listing unchanged."""
    from assets.comext.api import fetch_months
    from fake_comext import corrupt_7z
    from pipeline.resources import DataFolder

    store = ComextRawStore.at(tmp_path)
    fake.put("full_v2_202401.7z", archive_bytes, "2024-03-15T11:00:00")
    fake.put("full_v2_202402.7z", archive_bytes, "2024-04-15T11:00:00")
    client = client_for(fake)
    listing = monthly_files(client.list_files())
    months = ["2024-01", "2024-02"]
    assert fetch_months(client, store, listing, months, DataFolder(root=str(tmp_path)), convert=False).errors == []
    with store.editing() as meta:  # as the old fetch recorded them: no test, no row count
        for entry in meta["bulk"].values():
            for key in ("rows", "unpacked_bytes", "member"):
                entry.pop(key, None)
    (store.root / "bulk" / "full_v2_202401.7z").write_bytes(corrupt_7z(archive_bytes))
    fake.clear_log()
    outcome = fetch_months(client, store, listing, months, DataFolder(root=str(tmp_path)), convert=False)
    assert [(f["month"], f["reason"]) for f in outcome.fetched] == [("2024-01", "damaged")]
    assert outcome.skipped == ["2024-02"] and {r["name"] for r in fake.requests("download")} == {"full_v2_202401.7z"}
    assert (store.root / "bulk" / "full_v2_202401.7z").read_bytes() == archive_bytes
    assert store.held_bulk()["full_v2_202402.7z"]["rows"] == 4000  # tested once, recorded
    fake.clear_log()
    assert fetch_months(client, store, listing, months, DataFolder(root=str(tmp_path)), convert=False).skipped == months
    assert fake.requests("download") == []


def test_unpacking_a_damaged_archive_names_the_file(archive_bytes, tmp_path):
    from fake_comext import corrupt_7z
    from pipeline.sources.comext.sevenzip import ArchiveError, archive_member, extract_member

    bad = tmp_path / "full_v2_202401.7z"
    bad.write_bytes(corrupt_7z(archive_bytes))
    assert archive_member(bad)[0] == "full_v2_202401.dat"  # the header opens
    with pytest.raises(ArchiveError, match=r"full_v2_202401.7z: cannot unpack full_v2_202401.dat"):
        extract_member(bad, tmp_path / "out")


# --------------------------------------------------------------------------- SDMX


def _fixture_rows(fake: FakeComext, query: SdmxQuery) -> int:
    return len(fake.select(query.key(), query.start_period, query.end_period))


@pytest.mark.service
def test_the_real_fixture_comes_back_in_one_gzip_answer(fake):
    client = client_for(fake)
    answers = client.fetch_sdmx(FIXTURE_QUERY)
    assert len(answers) == 1 and answers[0].rows == 10950 == _fixture_rows(fake, FIXTURE_QUERY)
    assert answers[0].content.startswith(b"DATAFLOW,LAST UPDATE,freq,reporter,partner,product,flow,indicators")
    sent = fake.requests("sdmx")[0]
    assert sent["key"] == FIXTURE_QUERY.key() and sent["query"]["compressed"] == "true"


@pytest.mark.service
def test_413_splits_by_reporter_then_by_period_without_losing_or_doubling_rows(fake):
    fake.max_rows = 300
    query = SdmxQuery(reporter=("AT", "DE", "NL"), product=("39201081",), start_period="2023-01", end_period="2025-12")
    client = client_for(fake)
    answers = client.fetch_sdmx(query)
    assert sum(a.rows for a in answers) == _fixture_rows(fake, query) > 300
    assert all(a.rows <= 300 for a in answers)
    seen = [(r["key"].split(".")[1], r["start"], r["end"]) for r in fake.requests("sdmx")]
    assert seen[0] == ("AT+DE+NL", "2023-01", "2025-12") and seen[1] == ("AT", "2023-01", "2025-12")
    assert any(rep == "DE" and (start, end) != ("2023-01", "2025-12") for rep, start, end in seen)  # period split
    assert client.splits >= 3


@pytest.mark.service
def test_a_413_that_cannot_be_split_fails_clearly(fake):
    fake.max_rows = 0
    query = SdmxQuery(reporter=("DE",), product=("39201081",), start_period="2024-01", end_period="2024-01")
    with pytest.raises(ComextError, match=r"too big \(HTTP 413\) and it cannot be split further"):
        client_for(fake).fetch_sdmx(query)


@pytest.mark.service
def test_an_asynchronous_answer_is_polled_until_available(fake):
    fake.faults.sdmx_async = True
    fake.faults.async_polls_before_ready = 2
    sleeps = Sleeps()
    answers = client_for(fake, sleep=sleeps).fetch_sdmx(FIXTURE_QUERY)
    assert answers[0].asynchronous and answers[0].rows == 10950
    assert len(fake.requests("async_status")) == 3 and len(fake.requests("async_data")) == 1
    assert sleeps.calls.count(0.5) == 3  # the bounded poll interval


@pytest.mark.service
def test_a_moved_sdmx_endpoint_takes_the_asynchronous_delivery_along(fake):
    from pipeline.sources.comext.client.sdmx import ASYNC_URL, SDMX_URL, async_url_for

    assert async_url_for(SDMX_URL) == ASYNC_URL
    fetcher = Fetcher(FetchPolicy(requests_per_second=0, max_attempts=2, backoff_base_s=0.01))
    moved = ComextClient(fetcher, sdmx_url=f"{fake.base}/sdmx/2.1", async_poll_s=0.0)
    assert moved.async_url == f"{fake.base}/1.0/async"
    fake.faults.sdmx_async = True
    assert moved.fetch_sdmx(FIXTURE_QUERY)[0].asynchronous and fake.requests("async_data")
    assert ComextClient(fetcher, sdmx_url=f"{fake.base}/sdmx/2.1", async_url="http://127.0.0.1:9/a").async_url == \
        "http://127.0.0.1:9/a"  # an explicit setting stays


@pytest.mark.service
def test_an_expired_or_never_ready_asynchronous_answer_fails_clearly(fake):
    fake.faults.sdmx_async = True
    fake.faults.async_final_status = "EXPIRED"
    with pytest.raises(ComextError, match="ended with EXPIRED; run again"):
        client_for(fake).fetch_sdmx(FIXTURE_QUERY)
    fake.faults.async_polls_before_ready = 99
    with pytest.raises(ComextError, match="not ready after 4 polls"):
        client_for(fake).fetch_sdmx(FIXTURE_QUERY)


@pytest.mark.service
def test_an_empty_200_is_asked_again_and_then_fails_clearly(fake):
    fake.faults.sdmx_empty_first = 1
    assert client_for(fake).fetch_sdmx(FIXTURE_QUERY)[0].rows == 10950
    fake.faults.sdmx_empty_first = 10
    with pytest.raises(ComextError, match="HTTP 200 without data on 3 attempts"):
        client_for(fake, max_attempts=3).fetch_sdmx(FIXTURE_QUERY)


@pytest.mark.service
def test_an_answer_that_is_not_sdmx_csv_is_named(fake):
    fake.faults.status_first = [400]
    with pytest.raises(ComextError, match=r"client_error \[HTTP 400\]"):
        client_for(fake).fetch_sdmx(FIXTURE_QUERY)


@pytest.mark.service
def test_store_replaces_only_the_revised_period_and_archives_the_old_one(fake, tmp_path):
    store = ComextRawStore.at(tmp_path)
    client = client_for(fake)
    periods = FIXTURE_QUERY.periods()
    first = store.store_sdmx(FIXTURE_QUERY, client.fetch_sdmx(FIXTURE_QUERY), periods)
    assert [o.status for o in first] == ["new"] * 36 and sum(o.rows for o in first) == 10950

    assert fake.revise("2025-05", 1.25, "20/03/26 11:00:00") > 0
    again = store.store_sdmx(FIXTURE_QUERY, client.fetch_sdmx(FIXTURE_QUERY), periods)
    changed = {o.period: o.status for o in again if o.status != "unchanged"}
    assert changed == {"2025-05": "revised"}
    meta = store.read()
    entry = meta["sdmx"][FIXTURE_QUERY.query_id()]
    assert entry["periods"]["2025-05"]["last_update"] == "2026-03-20T11:00:00"
    assert entry["periods"]["2025-04"]["last_update"] == "2026-02-13T11:00:00"
    [archived] = meta["archived"]
    old = store.archive_root / archived["archived_as"]
    assert archived["file"].endswith("2025-05.csv.gz") and old.exists()
    assert gzip.decompress(old.read_bytes()) != gzip.decompress((store.root / archived["file"]).read_bytes())
