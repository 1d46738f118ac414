"""geomon fetch / status against the local fakes (127.0.0.1), the monthly Comext partitions, and the Comext
sensor's skip on a failed listing. Runs the CLI in-process (non-TTY: plain progress lines)."""

from __future__ import annotations

import gzip
import hashlib
import json

import duckdb
import pytest
from dagster import AssetRecordsFilter, build_sensor_context, materialize

from conftest import ephemeral_instance
from fake_comext import FakeComext, month_archive
from fake_comtrade import FakeComtrade, hs_codes, make_records, partner_codes
from pipeline.cli import main
from pipeline.sources.comtrade.client.bulk import parse_file_size
from pipeline.sources.comtrade.reader import COLUMNS

KEY = "TEST-FETCH-KEY-77"


@pytest.fixture()
def comtrade(monkeypatch):
    recs = make_records([528, 276], [2022, 2023], ["M", "X"], hs_codes(6)[:200], partner_codes()[:15],
                        sizes=lambda rng: rng.randint(20, 120), seed=11)
    monkeypatch.setenv("COMTRADE_API_KEY", KEY)
    with FakeComtrade(recs, key=KEY, fault_rate=0.15, seed=3, retry_after="0") as fake:
        yield fake, recs


@pytest.mark.service
def test_fetch_comtrade_faults_resume_and_no_second_call(comtrade, tmp_path, capsys):
    fake, recs = comtrade
    args = ["--data-dir", str(tmp_path), "fetch", "comtrade", "--reporters", "528,276", "--years", "2022-2023",
            "--flows", "M,X", "--level", "AG6", "--base-url", fake.url, "--rate", "0"]
    assert main(args + ["--dry-run"]) == 0
    assert fake.calls() == []
    assert main(args + ["--max-calls", "3"]) == 1           # budget stops the plan: incomplete, kept
    assert main(args) == 0
    assert any(c.get("fault") for c in fake.log)            # faults were injected and survived
    n = len(fake.log)
    assert main(args) == 0
    assert len(fake.log) == n                               # a finished plan makes no call
    out = capsys.readouterr().err
    assert "calls" in out and KEY not in out
    rows = main(["--data-dir", str(tmp_path), "status", "--source", "comtrade"])
    assert rows == 0
    status = capsys.readouterr().out
    assert "comtrade-api  276" in status and "2023" in status


@pytest.mark.parametrize("argv, message", [
    (["comtrade", "--reporters", "528", "--years", "2030"], "after the current year"),
    (["comtrade", "--reporters", "528,999", "--years", "2023"], "unknown reporter code(s) 999"),
    (["comext", "--months", "2024-13"], "not a month"),
])
def test_options_are_validated(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--data-dir", str(tmp_path), "fetch", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def _bulk_entry(fake, reporter, year, records, published):
    header = list(COLUMNS)
    lines = ["\t".join(header)] + ["\t".join("" if r.get(c) is None else str(r.get(c)) for c in header)
                                   for r in records if r["reporterCode"] == reporter and r["period"] == str(year)]
    blob = gzip.compress(("\n".join(lines) + "\n").encode())
    digest = hashlib.sha256(blob + published.encode()).hexdigest()
    fake.bulk_blobs[digest] = blob
    fake.bulk_entries.append({"fileUrl": digest, "fileSize": f"{len(blob) / 1024:.2f} KB", "reporterCode": reporter,
                              "freqCode": "A", "typeCode": "C", "classificationCode": "H6", "period": year,
                              "publicationDate": published, "isOriginalClassification": True})


@pytest.mark.service
def test_fetch_comtrade_bulk_verifies_resumes_and_archives(comtrade, tmp_path):
    fake, recs = comtrade
    fake.fault_rate = 0.0
    for r in (528, 276):
        _bulk_entry(fake, r, 2023, recs, "2024-06-01T00:00:00Z")
    args = ["--data-dir", str(tmp_path), "fetch", "comtrade-bulk", "--reporters", "528,276", "--years", "2023",
            "--base-url", fake.url, "--rate", "0"]
    assert main(args) == 0
    bulk = tmp_path / "raw" / "comtrade" / "bulk"
    assert len(list(bulk.glob("*.gz"))) == 2
    downloads = len([c for c in fake.log if "/bulk/v1/file/" in c["path"]])
    assert main(args) == 0                                   # current files are not downloaded again
    assert len([c for c in fake.log if "/bulk/v1/file/" in c["path"]]) == downloads
    fake.bulk_entries = [e for e in fake.bulk_entries if e["reporterCode"] != 528]
    _bulk_entry(fake, 528, 2023, recs, "2024-09-01T00:00:00Z")
    assert main(args) == 0
    assert len(list(bulk.glob("*.gz"))) == 2
    assert list((tmp_path / "raw" / "comtrade_archive").rglob("*528*2023*.gz"))


def test_parse_file_size():
    assert parse_file_size("183.34 KB") == (int(183.34 * 1024), 6)
    assert parse_file_size("nonsense") is None


@pytest.fixture()
def comext(tmp_path):
    with FakeComext() as fake:
        for period in (202401, 202402, 202403):
            archive = month_archive(tmp_path / "served", period, 2000, seed=period)
            fake.put(archive.name, archive.read_bytes(), f"2024-0{period % 100 + 1}-15T11:00:00")
        yield fake


@pytest.mark.service
def test_backfill_three_months_and_status(comext, tmp_path, capsys):
    from assets.comext.api import BULK_MONTHS_KEY, comext_bulk_months
    from pipeline.resources import DataFolder
    from pipeline.sources.comext.resource import ComextApi

    root = tmp_path / "data"
    resources = {"comext_api": ComextApi(**comext.api_settings()), "data": DataFolder(root=str(root))}
    instance = ephemeral_instance()
    for month in ("2024-01", "2024-02", "2024-03"):     # what a backfill of the range runs, one run a partition
        assert materialize([comext_bulk_months], resources=resources, partition_key=month, instance=instance).success
    done = instance.get_materialized_partitions(BULK_MONTHS_KEY)
    assert done == {"2024-01", "2024-02", "2024-03"}
    event = instance.get_latest_materialization_event(BULK_MONTHS_KEY)
    meta = event.asset_materialization.metadata
    assert meta["loaded"].value is True and meta["records"].value == 2000 and meta["failed"].value == "no"
    assert main(["--data-dir", str(root), "status", "--source", "comext"]) == 0
    out = capsys.readouterr().out
    assert out.count("comext-bulk") == 3 and "2024-02" in out


@pytest.mark.service
def test_fetch_comext_latest_then_no_download(comext, tmp_path, capsys):
    args = ["--data-dir", str(tmp_path / "d"), "fetch", "comext", "--latest", "2", "--base-url", f"{comext.base}/files",
            "--rate", "0"]
    assert main(args) == 0
    files = [r for r in comext.requests() if r["kind"] == "download"]
    assert files
    assert main(args) == 0
    assert [r for r in comext.requests() if r["kind"] == "download"] == files      # no download on the rerun


def test_comext_sensor_skips_on_fetch_error(tmp_path):
    from assets.comext.api import comext_revisions
    from pipeline.resources import DataFolder
    from pipeline.sources.comext.resource import ComextApi

    api = ComextApi(files_url="http://127.0.0.1:9/files", max_attempts=1, timeout_s=0.5, requests_per_second=0,
                    track_from="2024-01")
    tick = comext_revisions(build_sensor_context(resources={"comext_api": api, "data": DataFolder(root=str(tmp_path))}))
    assert "could not be read" in (tick.skip_reason if hasattr(tick, "skip_reason") else tick.skip_message)


@pytest.mark.service
def test_backfill_of_comtrade_years_materializes_each_partition(tmp_path):
    """A backfill of 2021..2023 as Dagster runs it, one run a partition: the first year configured (as
    `geomon fetch comtrade` does), the others launched without configuration (as the UI launches a backfill),
    reading the standing plan the first left; metadata per partition from the fake's own records and releases."""
    from assets.comtrade.api import ASSET_KEY, OP_NAME, comtrade_api_pages
    from pipeline.resources import DataFolder
    from pipeline.sources.comtrade.resource import ComtradeClient, ComtradeKey

    recs = make_records([528, 276], [2021, 2022, 2023], ["M", "X"], hs_codes(6)[:80], partner_codes()[:10],
                        sizes=lambda rng: rng.randint(10, 40), seed=5)
    with FakeComtrade(recs, key=KEY) as fake:
        fake.releases[(528, "2022")] = "2025-01-15T00:00:00"
        resources = {"comtrade": ComtradeClient(key=ComtradeKey(value=KEY), base_url=fake.url, requests_per_second=0),
                     "data": DataFolder(root=str(tmp_path))}
        instance = ephemeral_instance()
        plan = {"reporters": [528, 276], "flows": ["M", "X"], "level": "AG6"}
        assert materialize([comtrade_api_pages], resources=resources, partition_key="2021", instance=instance,
                           run_config={"ops": {OP_NAME: {"config": plan}}}).success
        for year in ("2022", "2023"):
            assert materialize([comtrade_api_pages], resources=resources, partition_key=year, instance=instance).success
        done = instance.get_materialized_partitions(ASSET_KEY)
        assert done == {"2021", "2022", "2023"}
        calls = len(fake.calls("data"))
        assert materialize([comtrade_api_pages], resources=resources, partition_key="2022", instance=instance).success
        assert len(fake.calls("data")) == calls                      # a finished year makes no data call
        # forced, a year's rerun replaces exactly its own pages: the other years' stay as they were
        pages = tmp_path / "raw" / "comtrade"
        before = {p.name: p.stat().st_mtime_ns for p in pages.glob("*.json.gz")}
        assert materialize([comtrade_api_pages], resources=resources, partition_key="2022", instance=instance,
                           run_config={"ops": {OP_NAME: {"config": {"force": True}}}}).success
        after = {p.name: p.stat().st_mtime_ns for p in pages.glob("*.json.gz")}
        changed = {name for name in after if before.get(name) != after[name]}
        assert changed and all("2022" in name for name in changed) and set(before) == set(after)
        assert all("2022" in p.name for p in (tmp_path / "raw" / "comtrade_archive").rglob("*.json.gz"))
    for year in (2021, 2022, 2023):
        [record] = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=ASSET_KEY, asset_partitions=[str(year)]), limit=1
        ).records
        meta = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        assert meta["loaded"] is True and meta["failed"] == "no"
        assert meta["records"] == sum(r["period"] == str(year) for r in recs)
        assert meta["release_date"] == ("2025-01-15T00:00:00" if year == 2022 else "2024-06-01T00:00:00")
    assert json.loads((tmp_path / "raw" / "comtrade" / "_plan.json").read_text())["years"] == [2021, 2022, 2023]


@pytest.mark.service
def test_comtrade_bulk_years_are_converted_to_parquet_when_fetched(comtrade, tmp_path):
    from assets.comtrade.bulk import BULK_KEY, BULK_OP, comtrade_bulk_files
    from pipeline.sources.comtrade import reader
    from pipeline.sources.comtrade.reader.view import sync_comtrade_view
    from pipeline.readers.inputs import discover
    from pipeline.resources import DataFolder
    from pipeline.sources.comtrade.resource import ComtradeClient, ComtradeKey

    fake, recs = comtrade
    fake.fault_rate = 0.0
    for r in (528, 276):
        for y in (2022, 2023):
            _bulk_entry(fake, r, y, recs, f"{y + 1}-06-01T00:00:00Z")
    resources = {"comtrade": ComtradeClient(key=ComtradeKey(value=KEY), base_url=fake.url, requests_per_second=0),
                 "data": DataFolder(root=str(tmp_path))}
    instance = ephemeral_instance()
    assert materialize([comtrade_bulk_files], resources=resources, partition_key="2022", instance=instance,
                       run_config={"ops": {BULK_OP: {"config": {"reporters": [528, 276]}}}}).success
    assert materialize([comtrade_bulk_files], resources=resources, partition_key="2023", instance=instance).success
    assert instance.get_materialized_partitions(BULK_KEY) == {"2022", "2023"}
    meta = instance.get_latest_materialization_event(BULK_KEY).asset_materialization.metadata
    assert meta["records"].value == sum(r["period"] == "2023" for r in recs)
    assert meta["release_date"].value == "2024-06-01T00:00:00Z" and meta["failed"].value == "no"
    # the raw asset finds every conversion made: nothing left to convert
    files = discover([("api", tmp_path / "raw" / "comtrade")], reader.detect)
    report = sync_comtrade_view(duckdb.connect(), files, tmp_path / "work" / "comtrade_parquet")
    assert len(report.conversions) == 4 and all(c["cached"] for c in report.conversions)
    assert report.total_rows == len(recs)


@pytest.mark.service
def test_check_revisions_asks_getda_now_despite_a_check_within_24_hours(comtrade, tmp_path, capsys):
    fake, _ = comtrade
    fake.fault_rate = 0.0
    args = ["--data-dir", str(tmp_path), "fetch", "comtrade", "--reporters", "528", "--years", "2023",
            "--flows", "M", "--level", "AG6", "--base-url", fake.url, "--rate", "0"]
    assert main(args) == 0
    asked = len(fake.calls("getDa"))
    assert asked >= 1
    assert main(args) == 0
    assert len(fake.calls("getDa")) == asked                    # checked minutes ago: the 24 h gate holds
    assert main(args + ["--check-revisions"]) == 0
    assert len(fake.calls("getDa")) == asked + 1                # asked now
    assert main(args + ["--check-revisions", "--dry-run"]) == 0
    assert "getDa is asked now" in capsys.readouterr().out


SDMX_ARGS = ["fetch", "comext-sdmx", "--reporter", "NL,DE", "--product", "39201081", "--start", "2024-01",
             "--end", "2024-03", "--rate", "0"]


@pytest.mark.service
def test_a_held_sdmx_query_is_answered_without_a_request_unless_forced(tmp_path):
    with FakeComext() as fake:
        args = ["--data-dir", str(tmp_path), *SDMX_ARGS, "--base-url", f"{fake.base}/sdmx/2.1"]
        assert main(args) == 0
        assert len(fake.requests("sdmx")) == 1
        stored = sorted((tmp_path / "raw" / "comext" / "sdmx").rglob("*.csv.gz"))
        assert [p.name for p in stored] == ["2024-01.csv.gz", "2024-02.csv.gz", "2024-03.csv.gz"]
        assert main(args) == 0
        assert len(fake.requests("sdmx")) == 1                    # the same query, held: no request
        assert main(args + ["--force"]) == 0
        assert len(fake.requests("sdmx")) == 2
        other = [a if a != "2024-03" else "2024-02" for a in args]   # another span of the same key: asked
        assert main(other) == 0
        assert len(fake.requests("sdmx")) == 3
        stored[0].write_bytes(gzip.compress(b"edited by hand\n"))  # the held file's hash no longer matches
        assert main(args) == 0
        assert len(fake.requests("sdmx")) == 4


@pytest.mark.service
def test_base_url_moves_the_asynchronous_delivery_urls_too(tmp_path):
    with FakeComext() as fake:
        fake.faults.sdmx_async = True
        # a config whose async_url points at a closed local port: --base-url must override it as well
        config = tmp_path / "c.json"
        config.write_text(json.dumps({"resources": {"comext_api": {"config": {
            "async_url": "http://127.0.0.1:9/1.0/async", "async_poll_s": 0.0, "max_attempts": 2,
            "backoff_base_s": 0.01}}}}))
        args = ["--data-dir", str(tmp_path), *SDMX_ARGS, "--base-url", f"{fake.base}/sdmx/2.1",
                "--config", str(config)]
        assert main(args) == 0
        assert fake.requests("async_status") and len(fake.requests("async_data")) == 1


@pytest.mark.service
def test_a_damaged_comtrade_bulk_file_is_quarantined_and_the_held_one_stays(comtrade, tmp_path):
    fake, recs = comtrade
    fake.fault_rate = 0.0
    _bulk_entry(fake, 528, 2023, recs, "2024-06-01T00:00:00Z")
    args = ["--data-dir", str(tmp_path), "fetch", "comtrade-bulk", "--reporters", "528", "--years", "2023",
            "--base-url", fake.url, "--rate", "0"]
    assert main(args) == 0
    bulk = tmp_path / "raw" / "comtrade" / "bulk"
    [held] = bulk.glob("*.gz")
    held_bytes, state = held.read_bytes(), (bulk / "_bulk.json").read_bytes()
    rows = sum(1 for r in recs if r["reporterCode"] == 528 and r["period"] == "2023")
    assert json.loads(state)["528:2023:H6"]["rows"] == rows

    # a new publication arrives damaged (same size, gzip stream corrupt in the middle)
    fake.bulk_entries.clear()
    _bulk_entry(fake, 528, 2023, recs, "2024-09-01T00:00:00Z")
    digest = fake.bulk_entries[0]["fileUrl"]
    blob = bytearray(fake.bulk_blobs[digest])
    for i in range(len(blob) // 2, len(blob) // 2 + 32):
        blob[i] ^= 0x5A
    fake.bulk_blobs[digest] = bytes(blob)
    for _ in range(2):  # the next fetch tries again
        downloads = len([c for c in fake.log if "/bulk/v1/file/" in c["path"]])
        assert main(args) == 1
        assert len([c for c in fake.log if "/bulk/v1/file/" in c["path"]]) > downloads
        assert [p.read_bytes() for p in bulk.glob("*.gz")] == [held_bytes]
        assert (bulk / "_bulk.json").read_bytes() == state
    quarantined = sorted((tmp_path / "raw" / "comtrade_quarantine").glob("*.gz"))
    assert len(quarantined) == 2 and all("2024-09-01" in q.name for q in quarantined)
    reason = json.loads(quarantined[0].with_name(quarantined[0].name + ".reason.json").read_text())
    assert reason["publicationDate"] == "2024-09-01T00:00:00Z" and "gzip" in reason["reason"]
