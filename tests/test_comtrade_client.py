"""UN Comtrade client, planner, plan execution, asset and sensor - offline.

Recorded real responses are replayed through httpx.MockTransport; everything
else runs against the local fake API (tests/fake_comtrade.py) on 127.0.0.1.
No test sleeps for real on a retry: waits are 0 or go to a recording sleep.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from pathlib import Path

import duckdb
import httpx
import pytest
from dagster import build_sensor_context, materialize

from conftest import ephemeral_instance
from fake_comtrade import FakeComtrade, hs_codes, make_records, partner_codes, record_key, run_drill
from pipeline.sources.comtrade.client.plan import DataRequest, PlanError, PlanSpec, plan_requests, url_for
from pipeline.sources.comtrade.client.session import KEY_HEADER
from pipeline.sources.comtrade.client.split import Codes, split_request
from pipeline.sources.comtrade.client.store import RELEASE_LABEL, PageStore
from pipeline.sources.comtrade.client.sync import release_marks, sync_plan
from pipeline.resources import DataFolder
from pipeline.sources.comtrade.resource import ComtradeClient, ComtradeKey
from pipeline.sources.comtrade import reader
from pipeline.readers.inputs import discover
from pipeline.sources.comtrade.reader.view import sync_comtrade_view

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "comtrade"
SHARED = Path(os.environ.get("GEOMON_SHARED_DATA", REPO.parent / "shared" / "data"))
KEY = "TEST-FAKE-COMTRADE-KEY-5c1e9d"
BASE = "https://comtradeapi.un.org/data/v1/get/C/A/HS"
HS6 = hs_codes(6)
PARTNERS = partner_codes()


def client(fake: FakeComtrade | None = None, **settings) -> ComtradeClient:
    defaults = dict(base_url=fake.url if fake else "http://127.0.0.1:9", api_key=KEY, requests_per_second=0,
                    timeout_s=0.3, max_attempts=4, backoff_base_s=0.0, backoff_max_s=0.0, daily_call_limit=0)
    defaults.update(settings)
    return ComtradeClient(key=ComtradeKey(value=defaults.pop("api_key")), **defaults)


def world(reporters=(528, 842), years=(2022, 2023), flows=("M",), codes=None, partners=None, n=(5, 30), seed=3):
    lo, hi = n
    return make_records(list(reporters), list(years), list(flows), codes or HS6[:400], partners or PARTNERS[:30],
                        sizes=lambda rng: rng.randint(lo, hi), seed=seed)


def read_raw(folder: Path) -> tuple[list[tuple], list[tuple]]:
    """The stored pages through the project's own raw reader: (record keys, (release, synthetic) pairs)."""
    conn = duckdb.connect()
    files = discover([("api", folder)], reader.detect)
    report = sync_comtrade_view(conn, files, folder.parent / "parquet")
    assert not report.quarantined, report.quarantined
    keys = conn.execute(f"SELECT reporterCode, period, flowCode, cmdCode, partnerCode FROM {reader.TABLE}").fetchall()
    releases = conn.execute(f"SELECT DISTINCT release, synthetic FROM {reader.TABLE}").fetchall()
    conn.close()
    return keys, releases


def data_calls(fake: FakeComtrade) -> list[dict]:
    return fake.calls("data")


# --------------------------------------------------------------------------- recorded real responses


def test_recorded_get_response_is_fetched_stored_and_read_back(tmp_path):
    body = (SAMPLE / "comtradr_get_C_A_HS_2010_CHN_ARG-DEU_TOTAL.json").read_bytes()
    seen: list[httpx.Request] = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    req = DataRequest(reporters=(156,), periods=("2010",), flows=("M", "X"), cmd=("TOTAL",), partners=(32, 276))
    store = PageStore(tmp_path / "raw" / "comtrade")
    with client().open_session(transport=httpx.MockTransport(handler)) as api:
        payload, fetched = api.fetch_data(req)
        store.write_page(req, payload, fetched, api.fetcher.secrets)
    store.write_sidecar()
    sent = seen[0]
    assert sent.url.path == "/data/v1/get/C/A/HS" and sent.headers[KEY_HEADER] == KEY
    assert sent.url.params["reporterCode"] == "156" and sent.url.params["partnerCode"] == "32,276"
    assert sent.url.params["flowCode"] == "M,X" and sent.url.params["maxRecords"] == "100000"
    assert KEY not in str(sent.url)
    page = json.loads(gzip.decompress(store.page_path(req).read_bytes()))
    assert page["count"] == 4 and page["request"]["reporters"] == [156] and KEY not in json.dumps(page)
    keys, releases = read_raw(store.dir)
    assert sorted(keys) == [(156, "2010", "M", "TOTAL", 32), (156, "2010", "M", "TOTAL", 276),
                            (156, "2010", "X", "TOTAL", 32), (156, "2010", "X", "TOTAL", 276)]
    assert releases == [(RELEASE_LABEL, False)]


def test_keyless_session_uses_the_preview_endpoint_and_says_so_once(caplog):
    body = json.loads((SAMPLE / "horizon_preview_C_A_HS_2022_IND_X_USA_TOTAL.json").read_text())
    seen: list[httpx.Request] = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json=body)

    log = logging.getLogger("comtrade-test")
    caplog.set_level(logging.INFO, logger="comtrade-test")
    req = DataRequest(reporters=(699,), periods=("2022",), flows=("X",), cmd=("TOTAL",), partners=(842,))
    with client(api_key="").open_session(log=log, transport=httpx.MockTransport(handler)) as api:
        for _ in range(3):
            payload, _ = api.fetch_data(req)
    assert payload["data"][0]["primaryValue"] == pytest.approx(80230193279.727)
    assert all(r.url.path == "/public/v1/preview/C/A/HS" for r in seen)
    assert all(KEY_HEADER not in r.headers for r in seen) and seen[0].url.params["maxRecords"] == "500"
    assert client(api_key="", max_records_per_call=5000).record_cap() == 500  # the preview never serves more
    assert [r.message for r in caplog.records].count(
        "no COMTRADE_API_KEY set: using the keyless public preview endpoints "
        "(500 records per call; bulk files unavailable)") == 1


@pytest.mark.skipif(not (SHARED / "comtrade" / "api_v1").is_dir(), reason="shared recorded responses not available")
def test_recorded_bulk_listing_and_download(tmp_path):
    listing = (SHARED / "comtrade" / "api_v1" / "comtradr_bulk_get_C_A_HS_filelist.json").read_bytes()
    blob = gzip.compress(b"typeCode\tfreqCode\n")
    seen: list[httpx.Request] = []

    def handler(request):
        seen.append(request)
        if request.url.path == "/bulk/v1/get/C/A/HS":
            return httpx.Response(200, content=listing)
        return httpx.Response(200, content=blob)

    with client().open_session(transport=httpx.MockTransport(handler)) as api:
        entries = api.bulk_files(reporter=32, period=1962)
        path = api.download_bulk(entries[0], tmp_path)
    assert entries[0]["publicationDate"] == "2003-04-29T11:24:10Z"
    assert seen[0].url.params["reporterCode"] == "32" and seen[0].url.params["period"] == "1962"
    assert seen[1].url.path == "/bulk/v1/file/32/" + entries[0]["fileUrl"]
    assert path.name == "COMTRADE-FINAL-CA0321962S1[2003-04-29].gz" and path.read_bytes() == blob
    with client(api_key="").open_session() as api, pytest.raises(PlanError, match="premium"):
        api.bulk_files(reporter=32)


# --------------------------------------------------------------------------- planning


def test_plan_values_are_validated_and_every_problem_named():
    with pytest.raises(PlanError) as info:
        PlanSpec.build(reporters=[528, "52a", 0, 1000], years=[2023, 1950, "x"], flows=["M", "Z"], level="AG5",
                       this_year=2026)
    text = str(info.value)
    for bit in ("'52a'", "code 0 is World", "1000", "1950", "'x'", "'Z'", "'AG5'"):
        assert bit in text
    spec = PlanSpec.build(reporters=["842", 528, 528], years=[2024, 2023], flows=["m"], level="ag6", this_year=2026)
    assert spec.reporters == (528, 842) and spec.years == (2023, 2024) and spec.flows == ("M",) and spec.level == "AG6"
    with pytest.raises(PlanError, match="2030"):
        PlanSpec.build(reporters=[528], years=[2030], this_year=2026)


def test_hs6_plan_for_nl_and_60_partners_is_one_call_per_reporter_year():
    reporters = [528] + [c for c in PARTNERS if c not in (0, 528)][:60]
    spec = PlanSpec.build(reporters=reporters, years=range(2019, 2025), flows=["M"], level="AG6", this_year=2026)
    calls = plan_requests(spec, record_cap=100_000, base_url=BASE)
    assert len(calls) == 61 * 6
    assert {(c.reporters, c.periods) for c in calls} == {((r,), (str(y),)) for r in reporters for y in range(2019, 2025)}
    assert all(len(url_for(BASE, c.params(100_000))) <= 4096 for c in calls)


def test_small_calls_are_packed_under_the_cap_and_the_url_limit():
    reporters = [c for c in PARTNERS if c][:61]
    spec = PlanSpec.build(reporters=reporters, years=range(2019, 2025), flows=["M", "X"], level="TOTAL", this_year=2026)
    calls = plan_requests(spec, record_cap=100_000, base_url=BASE)
    combos = [(r, p, f) for c in calls for r in c.reporters for p in c.periods for f in c.flows]
    assert len(combos) == len(set(combos)) == 61 * 6 * 2  # every combination once
    assert len(calls) < 10 and all(len(c.reporters) * len(c.periods) * len(c.flows) * 300 <= 80_000 for c in calls)
    preview = plan_requests(spec, record_cap=500, base_url=BASE)
    assert len(preview) == 61 * 6 * 2  # 300 partners could answer: one combination per call
    tiny = plan_requests(spec, record_cap=100_000, base_url=BASE, max_url=320)
    assert all(len(url_for(BASE, c.params(100_000, count_only=True))) <= 320 for c in tiny)
    assert sorted((r, p, f) for c in tiny for r in c.reporters for p in c.periods for f in c.flows) == sorted(combos)


def _codes() -> Codes:
    return Codes(hs={2: tuple(hs_codes(2)), 4: tuple(hs_codes(4)), 6: tuple(HS6)}, partners=tuple(PARTNERS))


def test_split_order_reporters_then_chapters_then_partners_then_codes():
    codes = _codes()
    multi = DataRequest((528, 842, 251), ("2022", "2023"), ("M",), ("AG6",))
    assert [c.periods for c in split_request(multi, codes, base_url=BASE, cap=500)] == [("2022",), ("2023",)]
    three = DataRequest((528, 842, 251), ("2023",), ("M",), ("AG6",))
    assert [c.reporters for c in split_request(three, codes, base_url=BASE, cap=500)] == [(528, 842), (251,)]

    one = DataRequest((528,), ("2023",), ("M",), ("AG6",))
    groups = split_request(one, codes, base_url=BASE, cap=500)
    flat = [c for g in groups for c in g.cmd]
    assert sorted(flat) == sorted(HS6) and len(flat) == len(set(flat))  # every HS6 code exactly once
    assert all(len(url_for(BASE, g.params(500, count_only=True))) <= 4096 for g in groups)
    whole = [g for g in groups if len({c[:4] for c in g.cmd}) > 1]
    for g in whole:  # groups hold whole chapters, except chapters too long for one URL (cut at headings)
        for chapter in {c[:2] for c in g.cmd}:
            in_group = [c for c in g.cmd if c[:2] == chapter]
            if len(in_group) != len([c for c in HS6 if c[:2] == chapter]):
                assert sum(len(c) + 1 for c in HS6 if c[:2] == chapter) > 3000

    two_chapters = DataRequest((528,), ("2023",), ("M",), ("010121", "010129", "020110"))
    halves = split_request(two_chapters, codes, base_url=BASE, cap=500)
    assert [h.cmd for h in halves] == [("010121", "010129"), ("020110",)]
    chapter = DataRequest((528,), ("2023",), ("M",), ("010121", "010129"))
    by_partner = split_request(chapter, codes, base_url=BASE, cap=500)
    assert sorted(p for h in by_partner for p in h.partners) == list(PARTNERS)
    few = DataRequest((528,), ("2023",), ("M",), ("010121", "010129"), partners=(842,))
    assert [h.cmd for h in split_request(few, codes, base_url=BASE, cap=500)] == [("010121",), ("010129",)]
    # with the true count known, one split cuts into enough calls at once
    many = split_request(one, codes, base_url=BASE, cap=500, parts=40)
    flat = [c for g in many for c in g.cmd]
    assert len(many) >= 40 and sorted(flat) == sorted(HS6) and len(flat) == len(set(flat))
    assert all(len(url_for(BASE, g.params(500, count_only=True))) <= 4096 for g in many)
    five = split_request(chapter, codes, base_url=BASE, cap=500, parts=5)
    assert len(five) == 5 and [p for h in five for p in h.partners] == list(PARTNERS)
    last = DataRequest((528,), ("2023",), ("M",), ("010121",), partners=(842,))
    with pytest.raises(PlanError, match="cannot be split further"):
        split_request(last, codes, base_url=BASE, cap=500)


def test_request_overlap_and_ids():
    a = DataRequest((528,), ("2023",), ("M",), ("AG6",))
    assert a.overlaps(DataRequest((528, 842), ("2023",), ("M",), ("010121",), partners=(4,)))
    assert not a.overlaps(DataRequest((528,), ("2023",), ("M",), ("TOTAL",)))
    assert not a.overlaps(DataRequest((528,), ("2023",), ("M",), ("AG4",)))
    assert not a.overlaps(DataRequest((528,), ("2022",), ("M",), ("AG6",)))
    assert DataRequest((528,), ("2023",), ("M",), ("01", "02"), (4,)).overlaps(DataRequest((528,), ("2023",), ("M",), ("AG2",)))
    assert a.id == DataRequest((528,), ("2023",), ("M",), ("AG6",)).id != DataRequest((528,), ("2023",), ("X",), ("AG6",)).id
    assert DataRequest.from_dict(a.as_dict()) == a


# --------------------------------------------------------------------------- execution against the fake API


@pytest.mark.service
def test_full_page_is_counted_and_split_never_truncated(tmp_path):
    records = world(reporters=(528,), years=(2023,), codes=HS6[:600], partners=PARTNERS[:20], n=(180, 180))
    records += world(reporters=(842,), years=(2023,), codes=HS6[:600], partners=PARTNERS[:20], n=(50, 50), seed=9)
    store = PageStore(tmp_path / "raw" / "comtrade")
    spec = PlanSpec.build(reporters=[528, 842], years=[2023], level="AG6")
    with FakeComtrade(records, key=KEY) as fake:
        with client(fake, max_records_per_call=50).open_session() as api:
            result = sync_plan(api, spec, store, check_revisions=False)
        assert result.complete and result.splits >= 1 and not result.failures
        exactly_full = [e for e in store.index().values() if e["count"] == 50]
        assert len(fake.calls("count")) == result.splits + len(exactly_full)  # one countOnly per full page
        marker = json.loads((store.dir / f"_split_{DataRequest((528,), ('2023',), ('M',), ('AG6',)).id}.json").read_text())
        assert marker["total"] == 180 and marker["full_page_count"] == 50
        assert not store.page_path(DataRequest((528,), ("2023",), ("M",), ("AG6",))).exists()  # the full page is not kept
        assert result.records_total == 230
        before = len(fake.log)
        with client(fake, max_records_per_call=50).open_session() as api:
            again = sync_plan(api, spec, store, check_revisions=False)
        assert len(fake.log) == before and again.complete and again.http_calls == 0
    keys, _ = read_raw(store.dir)
    assert sorted(keys) == sorted(record_key(r) for r in records)


@pytest.mark.service
def test_a_page_exactly_at_the_cap_is_kept_without_splitting(tmp_path):
    records = world(reporters=(528,), years=(2023,), n=(50, 50))
    store = PageStore(tmp_path / "pages")
    with FakeComtrade(records, key=KEY) as fake:
        with client(fake, max_records_per_call=50).open_session() as api:
            result = sync_plan(api, PlanSpec.build(reporters=[528], years=[2023]), store, check_revisions=False)
        assert result.complete and result.splits == 0 and result.pages_stored == 1 and len(fake.calls("count")) == 1


@pytest.mark.service
def test_split_that_misses_records_is_an_error_not_a_silent_gap(tmp_path):
    records = world(reporters=(528,), years=(2023,), codes=HS6[:300], partners=PARTNERS[:20], n=(120, 120))
    store = PageStore(tmp_path / "pages")
    spec = PlanSpec.build(reporters=[528], years=[2023])
    # the fake's HS reference lacks the first chapter's codes, so the chapter split cannot ask for them
    first_chapter = HS6[0][:2]
    hs = {2: hs_codes(2), 4: hs_codes(4), 6: [c for c in HS6 if c[:2] != first_chapter]}
    assert any(r["cmdCode"][:2] == first_chapter for r in records)
    with FakeComtrade(records, key=KEY, hs=hs) as fake:
        with client(fake, max_records_per_call=50).open_session() as api, pytest.raises(PlanError, match="API counted 120"):
            sync_plan(api, spec, store, check_revisions=False)
        # nothing partial is left for the raw reader; the evidence is archived with the reference lists
        assert not list(store.dir.glob("*.json.gz")) and not list(store.dir.glob("_split_*"))
        archived = {p.name for p in store.archive_root.glob("*/*")}
        assert {"HS.json.gz", "partnerAreas.json.gz", "_reason.json"} <= archived and len(archived) > 4
        fake.hs = {2: hs_codes(2), 4: hs_codes(4), 6: HS6}  # the reference is complete again
        with client(fake, max_records_per_call=50).open_session() as api:
            result = sync_plan(api, spec, store, check_revisions=False)
        assert result.complete and result.records_total == 120


@pytest.mark.service
@pytest.mark.parametrize("fault", ["429", "429_body", "429_date", "500", "502_html", "503", "timeout", "truncated",
                                   "truncated_json", "reset", "empty200"])
def test_each_transient_fault_is_retried_over_real_http(tmp_path, fault):
    records = world(reporters=(528,), years=(2023,), n=(20, 20))
    store = PageStore(tmp_path / "pages")
    waits: list[float] = []
    with FakeComtrade(records, key=KEY, retry_after="3", timeout_sleep=2.0) as fake:
        fake.script(fault, fault)
        # the short client timeout only where the fault is a timeout: on a busy machine the fake's ordinary
        # answers can take longer than 0.15 s, which turned a scripted 429 into a timeout (seen on a fresh clone),
        # and at load 17 the page itself took longer than 0.15 s, so every attempt timed out (2026-12-08): the
        # client waits 1 s, the fake's scripted timeouts hold the answer 2 s
        with client(fake, timeout_s=1.0 if fault == "timeout" else 5.0).open_session(sleep=waits.append) as api:
            result = sync_plan(api, PlanSpec.build(reporters=[528], years=[2023]), store, check_revisions=False)
        assert result.complete and result.pages_stored == 1 and result.records_total == 20
        assert len(data_calls(fake)) == 3 and sum(result.retries.values()) == 2
    if fault.startswith("429"):
        assert len(waits) == 2 and all(w >= (2 if fault == "429_date" else 3) for w in waits)  # the date is to the second
    keys, _ = read_raw(store.dir)
    assert len(keys) == 20


@pytest.mark.service
def test_persistent_failures_name_the_request_and_the_rest_of_the_plan_still_runs(tmp_path):
    records = world(reporters=(528, 842), years=(2023,), n=(10, 10))
    store = PageStore(tmp_path / "pages")
    spec = PlanSpec.build(reporters=[528, 842], years=[2023])
    with FakeComtrade(records, key=KEY) as fake:
        fake.script("502_html", "502_html", "502_html", "502_html")  # all four attempts of the first call
        with client(fake).open_session() as api:
            result = sync_plan(api, spec, store, check_revisions=False)
        assert not result.complete and len(result.failures) == 1 and result.pages_stored == 1
        failure = result.failures[0]
        assert "reporter 528 period 2023 flow M AG6 all partners" in failure and "502 Bad Gateway" in failure
        assert "/data/v1/get/C/A/HS?reporterCode=528" in failure and "after 4 attempt(s)" in failure
        fake.script("json_error")
        with client(fake).open_session() as api:
            result = sync_plan(api, spec, store, check_revisions=False)
        assert not result.complete and "api_error" in result.failures[0] and "fake: injected API error" in result.failures[0]
        with client(fake).open_session() as api:
            result = sync_plan(api, spec, store, check_revisions=False)
        assert result.complete and result.pages_stored == 1 and result.pages_present == 1


@pytest.mark.service
def test_empty_answer_where_getda_promises_data_is_a_failure(tmp_path):
    records = world(reporters=(528,), years=(2023,), n=(10, 10))
    store = PageStore(tmp_path / "pages")
    spec = PlanSpec.build(reporters=[528], years=[2023])
    with FakeComtrade(records, key=KEY) as fake:
        fake.script(None, "no_data", "no_data", "no_data", "no_data")  # getDa answers, then 4 empty pages
        with client(fake).open_session() as api:
            result = sync_plan(api, spec, store, check_revisions=True)
        assert not result.complete and "empty" in result.failures[0] and "data availability lists" in result.failures[0]
        assert not list(store.dir.glob("*.json.gz"))
        fake.script("no_data")  # once more empty, then the real answer
        with client(fake).open_session() as api:
            result = sync_plan(api, spec, store, check_revisions=False)
        assert result.complete and result.records_total == 10


@pytest.mark.service
def test_a_failing_availability_check_does_not_block_fetching(tmp_path):
    records = world(reporters=(528,), years=(2023,), n=(10, 10))
    store = PageStore(tmp_path / "pages")
    spec = PlanSpec.build(reporters=[528], years=[2023])
    with FakeComtrade(records, key=KEY) as fake:
        fake.script("503", "503", "503", "503")  # every attempt of getDa
        with client(fake).open_session() as api:
            result = sync_plan(api, spec, store, check_revisions=True)
        assert result.complete and result.records_total == 10 and "data availability" in result.revision_check_failed
        assert [c["endpoint"] for c in fake.log] == ["getDa"] * 4 + ["data"]
    assert "checked_at" not in store.load("_availability.json", {})  # the next run checks again


@pytest.mark.service
def test_quota_exhausted_mid_plan_then_resume_without_duplicates_or_gaps(tmp_path):
    records = world(reporters=(528, 842, 251, 699, 757), years=(2021, 2022, 2023), n=(5, 40))
    store = PageStore(tmp_path / "raw" / "comtrade")
    spec = PlanSpec.build(reporters=[528, 842, 251, 699, 757], years=[2021, 2022, 2023])
    with FakeComtrade(records, key=KEY, quota_limit=7) as fake:
        with client(fake).open_session() as api:
            first = sync_plan(api, spec, store, check_revisions=True)  # 1 getDa + 6 pages, then the quota 403
        assert not first.complete and first.stopped.startswith("quota") and first.pages_stored == 6
        assert len(list(store.dir.glob("*.json.gz"))) == 6
        fake.quota_limit, fake.keyed_calls = None, 0  # the next day
        fetched_before = {c["params"]["reporterCode"] + ":" + c["params"]["period"] for c in data_calls(fake)[:6]}
        n_before = len(data_calls(fake))
        with client(fake).open_session() as api:
            second = sync_plan(api, spec, store, check_revisions=True)
        assert second.complete and second.pages_present == 6 and second.pages_stored == 15 - 6
        again = {c["params"]["reporterCode"] + ":" + c["params"]["period"] for c in data_calls(fake)[n_before:]}
        assert not (again & fetched_before)  # nothing fetched twice
    keys, _ = read_raw(store.dir)
    assert len(keys) == len(set(keys)) and sorted(keys) == sorted(record_key(r) for r in records)


@pytest.mark.service
def test_daily_call_budget_is_kept_across_runs(tmp_path, monkeypatch):
    records = world(reporters=(528, 842, 251), years=(2023,), n=(5, 10))
    config = {"reporters": [528, 842, 251], "revision_check_hours": -1}
    with FakeComtrade(records, key=KEY) as fake:
        first = _materialize(client(fake, daily_call_limit=2), config, tmp_path)
        assert not first.success and len(data_calls(fake)) == 2
        assert "call_budget" in _failure_text(first)
        second = _materialize(client(fake, daily_call_limit=2), {**config, "allow_partial": True}, tmp_path)
        assert second.success and len(data_calls(fake)) == 2  # today's budget is spent: no call
        meta = _metadata(second)
        assert meta["loaded"] is False and meta["calls"] == 0 and meta["failed"].startswith("call_budget")
        third = _materialize(client(fake, daily_call_limit=10), config, tmp_path)
        assert third.success and len(data_calls(fake)) == 3 and _metadata(third)["records"] == len(records)
    ledger = json.loads((tmp_path / "raw" / "comtrade" / "_calls.json").read_text())
    assert list(ledger.values()) == [3]


@pytest.mark.service
def test_revisions_archive_old_pages_and_refetch_only_that_reporter_year(tmp_path):
    records = world(reporters=(528, 842), years=(2022, 2023), n=(5, 15))
    store = PageStore(tmp_path / "raw" / "comtrade")
    spec = PlanSpec.build(reporters=[528, 842], years=[2022, 2023])
    with FakeComtrade(records, key=KEY) as fake:
        with client(fake).open_session() as api:
            assert sync_plan(api, spec, store, check_revisions=True).complete
        old_page = json.loads(gzip.decompress(store.page_path(DataRequest((842,), ("2023",), ("M",), ("AG6",))).read_bytes()))

        def revise(recs):
            recs[0]["primaryValue"] = 1.5
            extra = dict(recs[0], cmdCode="999999", primaryValue=7.0)
            return recs + [extra]

        fake.revise(842, 2023, "2025-02-01T00:00:00", revise)
        n = len(data_calls(fake))
        with client(fake).open_session() as api:
            result = sync_plan(api, spec, store, check_revisions=True)
        assert result.complete and result.revised == ["842:2023"] and result.archived_files == 1
        assert [c["params"]["reporterCode"] + ":" + c["params"]["period"] for c in data_calls(fake)[n:]] == ["842:2023"]
        archived = list((tmp_path / "raw" / "comtrade_archive").glob("*/*.json.gz"))
        assert len(archived) == 1 and json.loads(gzip.decompress(archived[0].read_bytes()))["data"] == old_page["data"]
        reason = json.loads((archived[0].parent / "_reason.json").read_text())
        assert reason["reporter_years"] == ["842:2023"] and "2025-02-01" in reason["current"]["842:2023"]
    keys, _ = read_raw(store.dir)
    assert sorted(keys) == sorted(record_key(r) for r in fake.records) and len(keys) == len(records) + 1


@pytest.mark.service
def test_a_changed_plan_never_leaves_overlapping_pages(tmp_path):
    records = world(reporters=(528, 842, 251), years=(2023,), codes=["TOTAL"], partners=PARTNERS[:30], n=(30, 30))
    store = PageStore(tmp_path / "raw" / "comtrade")
    with FakeComtrade(records, key=KEY) as fake:
        with client(fake).open_session() as api:
            sync_plan(api, PlanSpec.build(reporters=[528, 842], years=[2023], level="TOTAL"), store, check_revisions=False)
            result = sync_plan(api, PlanSpec.build(reporters=[528, 842, 251], years=[2023], level="TOTAL"), store,
                               check_revisions=False)
        assert result.complete and result.archived_files == 1
    keys, _ = read_raw(store.dir)
    assert len(keys) == len(set(keys)) == 90


def test_release_marks_from_getda_rows():
    rows = [{"reporterCode": 528, "period": "2023", "classificationCode": "H6", "lastReleased": "2025-01-01",
             "datasetChecksum": 1}, {"reporterCode": 528, "period": 2022, "classificationCode": "H5",
                                     "lastReleased": "2024-01-01", "datasetChecksum": 2}]
    assert release_marks(rows) == {"528:2023": "H6@2025-01-01#1", "528:2022": "H5@2024-01-01#2"}


# --------------------------------------------------------------------------- the Dagster asset and sensor


def _materialize(resource: ComtradeClient, config: dict, root: Path, year: int = 2023):
    """One year partition of the pages asset; ``config`` without years (the partition is the year)."""
    from assets.comtrade.api import OP_NAME, comtrade_api_pages

    return materialize([comtrade_api_pages], resources={"comtrade": resource, "data": DataFolder(root=str(root))},
                       run_config={"ops": {OP_NAME: {"config": config}}}, partition_key=str(year),
                       instance=ephemeral_instance(), raise_on_error=False)


def _metadata(result) -> dict:
    mat = result.asset_materializations_for_node("raw__comtrade_api_pages")[0]
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def _failure_text(result) -> str:
    return "\n".join(e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure)


@pytest.mark.pipeline
def test_a_run_without_partition_makes_no_call_and_a_year_without_plan_says_how_to_give_one(tmp_path, monkeypatch):
    from assets.comtrade.api import comtrade_api_pages

    # port 9 (discard) on 127.0.0.1: any call would fail the run
    result = materialize([comtrade_api_pages], resources={"comtrade": client(None), "data": DataFolder(root=str(tmp_path))},
                         instance=ephemeral_instance(), raise_on_error=False)
    assert result.success and _metadata(result)["calls"] == 0
    assert not (tmp_path / "raw").exists()
    result = _materialize(client(None), {}, tmp_path)
    assert not result.success and "no Comtrade plan" in _failure_text(result) and "geomon fetch comtrade" in \
        _failure_text(result)
    assert not (tmp_path / "raw").exists()


@pytest.mark.pipeline
def test_invalid_plan_fails_with_the_problems_named(tmp_path, monkeypatch):
    result = _materialize(client(None), {"reporters": [528, 9999], "flows": ["Q"]}, tmp_path)
    text = _failure_text(result)
    assert not result.success and "9999" in text and "'Q'" in text


@pytest.mark.service
def test_the_key_never_appears_in_logs_files_metadata_or_errors(tmp_path, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    records = world(reporters=(528, 842), years=(2023,), n=(60, 60))
    config = {"reporters": [528, 842], "revision_check_hours": 0}
    with FakeComtrade(records, key=KEY, timeout_sleep=0.4) as fake:
        # getDa, then: a timeout, a 500, the key echoed in an error body (fails 528 for good), a full page for 842
        fake.script(None, "timeout", "500", "echo_key")
        failed = _materialize(client(fake, timeout_s=0.15, max_records_per_call=50), config, tmp_path)
        ok = _materialize(client(fake, max_records_per_call=50), config, tmp_path)
        assert all(c["key_header"] == KEY for c in fake.log if c["endpoint"] in ("data", "count", "getDa"))
        assert not any(c["key_in_url"] for c in fake.log)
    assert not failed.success and "subscription key *** is not valid" in _failure_text(failed)
    assert ok.success and _metadata(ok)["loaded"] is True
    texts = [caplog.text, capsys.readouterr().err, _failure_text(failed)]
    for result in (failed, ok):
        for event in result.all_events:
            texts.append(repr(event))
    texts.append(repr(_metadata(ok)))
    files = [p for p in (tmp_path / "raw").rglob("*") if p.is_file()]
    assert len(files) > 5
    for path in files:
        data = path.read_bytes()
        texts.append((gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8", "replace"))
    leaks = [t[:200] for t in texts if KEY in t]
    assert not leaks
    assert any("***" in t for t in texts)  # the echoed key was there, masked


@pytest.mark.service
def test_sensor_requests_a_run_only_for_new_releases(tmp_path, monkeypatch):
    from assets.comtrade.api import OP_NAME, comtrade_revision_sensor

    records = world(reporters=(528, 842), years=(2023,), n=(5, 10))
    with FakeComtrade(records, key=KEY) as fake:
        resources = {"comtrade": client(fake), "data": DataFolder(root=str(tmp_path))}
        with build_sensor_context(resources=resources) as ctx:
            assert "no Comtrade API plan" in comtrade_revision_sensor(ctx).skip_message
        config = {"reporters": [528, 842], "revision_check_hours": 0}
        assert _materialize(client(fake), config, tmp_path).success
        with build_sensor_context(resources=resources) as ctx:
            assert "no new release" in comtrade_revision_sensor(ctx).skip_message
        fake.revise(528, 2023, "2025-03-01T00:00:00", lambda recs: recs[:-1])
        with build_sensor_context(resources=resources) as ctx:
            requests = comtrade_revision_sensor(ctx)
            cursor = ctx.cursor
        # one run, of the year partition holding the revised reporter-year
        assert [r.partition_key for r in requests] == ["2023"]
        request = requests[0]
        assert request.run_key.startswith("comtrade-releases-")
        run_config = request.run_config["ops"][OP_NAME]["config"]
        assert run_config["reporters"] == [528, 842] and run_config["revision_check_hours"] == 0
        with build_sensor_context(resources=resources, cursor=cursor) as ctx:
            assert "already requested" in comtrade_revision_sensor(ctx).skip_message
        n = len(data_calls(fake))
        result = _materialize(client(fake), run_config, tmp_path)
        assert result.success and _metadata(result)["revised_reporter_years"] == ["528:2023"]
        assert len(data_calls(fake)) == n + 1
        with build_sensor_context(resources=resources, cursor=cursor) as ctx:
            assert "no new release" in comtrade_revision_sensor(ctx).skip_message
    keys, _ = read_raw(tmp_path / "raw" / "comtrade")
    assert sorted(keys) == sorted(record_key(r) for r in fake.records)


# --------------------------------------------------------------------------- the fault drill (issue 3, "done when")


@pytest.mark.service
def test_fault_drill_500_calls_exact_records_within_rate_then_zero_calls(tmp_path):
    figures = run_drill(tmp_path, reporters=50, big_share=0.04, rate=250.0, fault_rate=0.10, timeout_s=0.1)
    assert figures["plan_calls"] >= 500
    assert figures["complete"] and not figures["failures"]
    assert figures["faults_injected"] >= 0.05 * figures["http_requests"]
    assert {"429", "timeout", "truncated"} <= set(figures["faults_by_kind"])
    assert figures["records_stored"] == figures["records_in_fake"] and figures["duplicates"] == 0
    assert figures["missing"] == 0 and figures["unexpected"] == 0
    assert figures["max_released_in_any_1s"] <= 250 and figures["min_gap_between_releases_ms"] >= 4.0
    # sends and arrivals carry thread-scheduling jitter (the fake shares the process): one or two may bunch
    assert figures["max_requests_in_any_1s"] <= 252 and figures["max_arrivals_in_any_1s"] <= 252
    assert figures["second_run_http_calls"] == 0 and figures["second_run_complete"]
    assert not figures["key_in_url"]
