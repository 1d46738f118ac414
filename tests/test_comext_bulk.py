"""Comext bulk files end to end: 7z -> typed Parquet per month, both layouts, bad archives, raw tables,
the fetch assets and the revision sensor against the local fake (127.0.0.1), and a full refresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import SensorResult, SkipReason, build_sensor_context, materialize

from conftest import SAMPLE, ephemeral_instance, failure_messages
from fake_comext import FakeComext, month_archive, pack_7z, write_month
from pipeline.io import sha256_of
from pipeline.sources.comext import bulk_reader as comext_bulk
from pipeline.sources.comext import reader as comext
from pipeline.readers.inputs import InputError, discover
from pipeline.readers.raw_store import sync_raw_table
from pipeline.resources import DataFolder

EU27 = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
        "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]
SAMPLE_CSV = SAMPLE / "comext" / "full_v2_202402_sample_AT_AD.csv"


def _convert(archive: Path, cache: Path) -> comext_bulk.ConversionReport:
    return comext_bulk.cached_bulk_parquet(archive, sha256_of(archive), cache)


def _q(sql: str, *params):
    return duckdb.execute(sql, list(params)).fetchall()


# --------------------------------------------------------------------------- 7z -> Parquet


def test_a_generated_month_converts_to_typed_parquet_without_losing_a_row(tmp_path):
    dat = write_month(tmp_path / "gen" / "full_v2_202401.dat", 202401, 5000, seed=7)
    archive = pack_7z(dat, tmp_path / "full_v2_202401.7z")
    assert comext.detect(archive) == "full_v2"
    report = _convert(archive, tmp_path / "cache")
    pq = report.parquet
    assert report.rows == 5000 and report.periods == [202401] and report.layout == "full_v2"
    assert not list((tmp_path / "cache").rglob("*.dat"))  # the unpacked copy is removed
    types = dict(_q(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{pq}'))"))
    assert types["flow"] == "INTEGER" and types["period"] == "INTEGER" and types["value_eur"] == "DOUBLE"
    assert types["product_nc"] == types["product_section"] == types["product_sitc"] == "VARCHAR"
    # every line of the .dat is one row, same values, at its own line number
    src = (f"SELECT row_number() OVER () + 1 AS line, * FROM read_csv('{dat}', header=true, all_varchar=true)")
    diff = _q(f"""SELECT count(*) FROM ({src}) s JOIN read_parquet('{pq}') p ON p._line = s.line
                  WHERE p.reporter <> s.REPORTER OR p.partner <> s.PARTNER OR p.product_nc <> s.PRODUCT_NC
                     OR p.value_eur <> s.VALUE_EUR::DOUBLE OR p.product_section <> s.PRODUCT_SECTION""")
    assert diff == [(0,)]
    # confidential products and pseudo-partners are kept and classified
    confidential = _q(f"SELECT count(*) FROM read_csv('{dat}', all_varchar=true) WHERE PRODUCT_NC LIKE '%X%'")[0][0]
    assert 0 < confidential == report.product_kinds["confidential"]
    kinds = dict(_q(f"""SELECT partner, any_value(partner_kind) FROM read_parquet('{pq}')
                        WHERE partner BETWEEN 'QP' AND 'QZ' GROUP BY 1"""))
    assert kinds.get("QU") == "unspecified" and kinds.get("QZ") == "confidential" and kinds.get("QQ") == "special"
    assert sum(report.partner_kinds.values()) == sum(report.product_kinds.values()) == 5000
    assert report.confidential_value_eur > 0 and report.pseudo_partner_value_eur > 0
    # the second call is a cache hit; the metadata says what the file is
    assert _convert(archive, tmp_path / "cache").cached
    assert comext.parquet_meta(Path(pq))["source_sha256"] == sha256_of(archive)


def test_the_real_sample_reads_the_same_from_csv_and_from_7z(tmp_path):
    packed = pack_7z(SAMPLE_CSV, tmp_path / "full_v2_202402.7z", arcname="full_v2_202402.dat")
    report = _convert(packed, tmp_path / "cache")
    assert report.rows == 13 and report.product_kinds == {"cn8": 12, "confidential": 1}
    con = duckdb.connect()
    via_csv = con.execute(comext.select_bulk(_input(SAMPLE_CSV, "full_v2"))).fetchall()
    via_7z = con.execute(f"SELECT {', '.join(comext.BULK_COLUMNS)}, _line, 'r' FROM read_parquet('{report.parquet}')"
                         " ORDER BY _line").fetchall()
    assert [r[:-1] for r in via_csv] == [r[:-1] for r in via_7z]
    assert ("39XXXXXX", "confidential") in _q(f"SELECT product_nc, product_kind FROM read_parquet('{report.parquet}')")


def _input(path: Path, fmt: str):
    from pipeline.readers.inputs import InputFile

    return InputFile(path=path, label=f"test:{path.name}", fmt=fmt, release="r", synthetic=False,
                     sha256=sha256_of(path), size=path.stat().st_size)


def test_the_older_declarant_layout_is_read_with_its_iso_codes(tmp_path):
    archive = month_archive(tmp_path, 201801, 300, layout="legacy", name="nc201801.7z")
    assert comext.detect(archive) == "legacy"
    report = _convert(archive, tmp_path / "cache")
    rows = _q(f"SELECT layout, reporter, declarant_code, partner, partner_code, stat_procedure FROM "
              f"read_parquet('{report.parquet}') ORDER BY _line LIMIT 1")
    layout, reporter, declarant, partner, partner_code, regime = rows[0]
    assert layout == "legacy" and len(reporter) == 2 and len(declarant) == 3 and len(partner_code) == 4
    assert report.rows == 300 and report.periods == [201801]


def _bad_month(tmp_path: Path, edit) -> Path:
    dat = write_month(tmp_path / "gen" / "full_v2_202401.dat", 202401, 50, seed=2)
    lines = dat.read_text().splitlines()
    dat.write_text("\n".join(edit(lines)) + "\n")
    return pack_7z(dat, tmp_path / "full_v2_202401.7z")


def _set(lines, line_no, column, value):
    cols = lines[0].split(",")
    cells = lines[line_no - 1].split(",")
    cells[cols.index(column)] = value
    return lines[: line_no - 1] + [",".join(cells)] + lines[line_no:]


BAD = {
    "non_numeric_value": (lambda ls: _set(ls, 7, "VALUE_EUR", "12x"), ["member full_v2_202401.dat", "Line: 7", "12x"]),
    "missing_column": (lambda ls: [ls[0].replace("STAT_PROCEDURE", "STAT_PROC")] + ls[1:],
                       ["line 1: header lacks ['STAT_PROCEDURE']"]),
    "empty_partner": (lambda ls: _set(ls, 9, "PARTNER", ""), ["line 9: empty partner"]),
    "other_month": (lambda ls: _set(ls, 4, "PERIOD", "202402"), ["line 4: PERIOD 202402 in a file named for 202401"]),
    "short_row": (lambda ls: ls[:5] + ["AT,CN,E"] + ls[5:], ["Line: 6"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_rows_in_an_archive_name_the_archive_line_and_reason(tmp_path, case):
    edit, expected = BAD[case]
    archive = _bad_month(tmp_path, edit)
    with pytest.raises(InputError) as err:
        _convert(archive, tmp_path / "cache")
    for fragment in [str(archive), *expected]:
        assert fragment in str(err.value)
    assert not list((tmp_path / "cache").glob("*.parquet"))


def test_broken_archives_are_refused_with_the_file_named(tmp_path):
    good = month_archive(tmp_path / "a", 202401, 200)
    cut = tmp_path / "full_v2_202401.7z"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match=r"full_v2_202401.7z: (not a readable 7z archive|cannot unpack)"):
        _convert(cut, tmp_path / "cache")
    import py7zr

    two = tmp_path / "full_v2_202402.7z"
    with py7zr.SevenZipFile(two, "w") as z:
        z.writestr("a", "a.dat")
        z.writestr("b", "b.dat")
    html = tmp_path / "full_v2_202403.7z"
    html.write_text("<html><body>Service unavailable</body></html>")
    # detection still takes them as bulk files, so that validation reports them instead of skipping them
    assert comext.detect(two) == comext.detect(html) == "full_v2"
    with pytest.raises(InputError, match="exactly one data file; found 2"):
        comext.validate(None, _input(two, "full_v2"))
    with pytest.raises(InputError, match="full_v2_202403.7z: not a readable 7z archive"):
        comext.validate(None, _input(html, "full_v2"))


# --------------------------------------------------------------------------- raw table from a folder of months


def _sync(runner, con, folder: Path, kind: str = "api", table: str = "bulk"):
    if table == "bulk":
        detect = lambda p: comext.detect(p) if comext.detect(p) in ("full_v2", "legacy") else None  # noqa: E731
        files = discover([(kind, folder)], detect)
        return sync_raw_table(con, comext.BULK_TABLE, comext.BULK_COLUMNS, files,
                              comext_bulk.bulk_selector(comext_bulk.parquet_dir(runner.paths)), comext.validate)
    detect = lambda p: "sdmx_csv" if comext.detect(p) == "sdmx_csv" else None  # noqa: E731
    files = discover([(kind, folder)], detect)
    return sync_raw_table(con, comext.SDMX_TABLE, comext.SDMX_COLUMNS, files, comext.select_sdmx, comext.validate)


def test_a_folder_of_7z_months_syncs_and_a_revised_month_alone_is_reloaded(runner, tmp_path):
    folder = runner.paths.root / "landing" / "comext"
    for i, period in enumerate((202401, 202402, 202403)):
        month_archive(folder, period, 800, seed=i)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    first = _sync(runner, con, folder, "landing")
    assert first.rows_added == 2400 and len(first.added) == 3
    assert con.execute("SELECT period, count(*) FROM raw.comext_bulk GROUP BY 1 ORDER BY 1").fetchall() == [
        (202401, 800), (202402, 800), (202403, 800)]
    before = con.execute("SELECT sum(value_eur) FROM raw.comext_bulk WHERE period = 202402").fetchall()[0][0]

    month_archive(folder, 202402, 800, seed=1, revision=9)
    second = _sync(runner, con, folder, "landing")
    assert second.added == second.removed == ["landing:comext/full_v2_202402.7z"] and second.unchanged == 2
    after = con.execute("SELECT sum(value_eur) FROM raw.comext_bulk WHERE period = 202402").fetchall()[0][0]
    assert after == before + 16 * 63  # 16 of the 800 rows revised by +63 EUR each
    assert con.execute("SELECT count(*) FROM raw.comext_bulk").fetchall() == [(2400,)]
    # one cached conversion per month, the revised month's older one removed
    cache = runner.paths.work / "comext_parquet"
    assert len(list(cache.glob("*.parquet"))) == 3


def test_a_converted_parquet_can_be_dropped_in_and_a_foreign_one_is_refused(runner, tmp_path):
    archive = month_archive(tmp_path, 202405, 300)
    report = _convert(archive, tmp_path / "cache")
    folder = runner.paths.root / "landing" / "comext"
    folder.mkdir(parents=True)
    shutil.copy(report.parquet, folder / "full_v2_202405.parquet")
    con = duckdb.connect()
    assert _sync(runner, con, folder, "landing").rows_added == 300
    duckdb.execute(f"COPY (SELECT 1 AS x) TO '{folder / 'other.parquet'}' (FORMAT parquet)").fetchall()
    with pytest.raises(InputError, match="other.parquet: a Parquet file in a Comext folder must be"):
        comext.validate(None, _input(folder / "other.parquet", comext.detect(folder / "other.parquet")))


# --------------------------------------------------------------------------- fetch assets and the sensor


def _api(fake: FakeComext, **extra):
    from pipeline.sources.comext.resource import ComextApi

    return ComextApi(**{**fake.api_settings(), **extra})


def _fetch(api, root: Path, *, months=(), sdmx=None):
    """The month partitions of raw/comext_bulk_months, one run each as a backfill runs them, then the SDMX
    queries; the runs' results."""
    from assets.comext.api import SDMX_OP, comext_bulk_months, comext_sdmx_files

    resources = {"comext_api": api, "data": DataFolder(root=str(root))}
    results = [materialize([comext_bulk_months], resources=resources, partition_key=m, raise_on_error=False,
                           instance=ephemeral_instance())
               for m in months]
    if sdmx is not None:
        results.append(materialize([comext_sdmx_files], resources=resources, raise_on_error=False, instance=ephemeral_instance(),
                                   run_config={"ops": {SDMX_OP: {"config": sdmx}}}))
    return results


def test_the_default_sdmx_config_fetches_nothing_and_succeeds(runner):
    with FakeComext() as fake:
        [result] = _fetch(_api(fake), runner.paths.root, sdmx={})
        assert result.success and fake.requests() == []
    assert not (runner.paths.root / "raw").exists()


QUERY = {"reporter": EU27, "product": ["39201081"], "flow": ["1", "2"], "start_period": "2023-01",
         "end_period": "2025-12"}


def test_both_paths_ingest_and_a_revised_month_is_refetched_alone(runner, tmp_path):
    from assets.comext.api import SDMX_OP, comext_month_job, comext_revisions

    gen = tmp_path / "gen"
    raw = runner.paths.root / "raw" / "comext"
    with FakeComext() as fake:
        for i, period in enumerate((202401, 202402, 202403)):
            archive = month_archive(gen, period, 1500, seed=i)
            fake.put(archive.name, archive.read_bytes(), f"2024-0{i + 3}-15T11:00:00")
        api = _api(fake, chunk_mb=0.02)
        results = _fetch(api, runner.paths.root, months=["2024-01", "2024-02", "2024-03"], sdmx={"queries": [QUERY]})
        assert all(r.success for r in results), [failure_messages(r) for r in results]
        records = [r.asset_materializations_for_node("raw__comext_bulk_months")[0].metadata["records"].value
                   for r in results[:3]]
        assert records == [1500, 1500, 1500]
        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        assert _sync(runner, con, raw).rows_added == 4500
        assert _sync(runner, con, raw, table="sdmx").rows_added == 10950
        fixture = SAMPLE / "comext" / "DS-045409_M_EU27_CN39201081_2023-2025.csv"
        fixture_sum = _q(f"SELECT sum(OBS_VALUE::DECIMAL(38, 4)) FROM read_csv('{fixture}', all_varchar=true)")
        assert con.execute("SELECT sum(obs_value::DECIMAL(38, 4)) FROM raw.comext_sdmx").fetchall() == fixture_sum
        assert con.execute("SELECT DISTINCT release FROM raw.comext_bulk WHERE period = 202401").fetchall() == [
            ("Eurostat Comext bulk full_v2_202401.7z (file service last modified 2024-03-15T11:00:00)",)]

        # nothing changed: the sensor skips
        tick = comext_revisions(build_sensor_context(resources={"comext_api": api, "data": DataFolder(root=str(runner.paths.root))}))
        assert isinstance(tick, SensorResult) and not tick.run_requests and "no Comext month changed" in str(tick.skip_reason)

        # Eurostat silently revises February 2024: new bulk file, new SDMX values and LAST UPDATE
        revised = month_archive(gen, 202402, 1500, seed=1, revision=5)
        fake.put(revised.name, revised.read_bytes(), "2026-03-20T11:00:00")
        fake.revise("2024-02", 1.5, "20/03/26 11:00:00")
        tick = comext_revisions(build_sensor_context(cursor=tick.cursor, resources={"comext_api": api, "data": DataFolder(root=str(runner.paths.root))}))
        # one run of the revised month's partition, with everything built from Comext, and the SDMX periods
        [request] = tick.run_requests
        assert (request.job_name, request.partition_key) == (comext_month_job.name, "2024-02")
        assert [q["only_periods"] for q in request.run_config["ops"][SDMX_OP]["config"]["queries"]] == [["2024-02"]]

        fake.clear_log()
        result = materialize_request(api, request, runner.paths.root)
        assert result.success, failure_messages(result)
        assert {r["name"] for r in fake.requests("download")} == {"full_v2_202402.7z"}
        assert {(r["start"], r["end"]) for r in fake.requests("sdmx")} == {("2024-02", "2024-02")}

        bulk, sdmx = _sync(runner, con, raw), _sync(runner, con, raw, table="sdmx")
        assert bulk.added == ["api:comext/bulk/full_v2_202402.7z"] and bulk.unchanged == 2
        query_dir = f"api:comext/sdmx/{sorted(p.name for p in (raw / 'sdmx').iterdir())[0]}"
        assert sdmx.added == [f"{query_dir}/2024-02.csv.gz"] and sdmx.unchanged == 35
        assert con.execute("SELECT count(*) FROM raw.comext_bulk").fetchall() == [(4500,)]
        releases = dict(con.execute("SELECT time_period, any_value(release) FROM raw.comext_sdmx "
                                    "WHERE time_period IN ('2024-01', '2024-02') GROUP BY 1").fetchall())
        assert releases == {"2024-01": "Eurostat Comext ESTAT:DS-045409 last update 2026-02-13 11:00",
                            "2024-02": "Eurostat Comext ESTAT:DS-045409 last update 2026-03-20 11:00"}
        # the replaced versions are archived outside the folder the readers scan
        archived = sorted(p.name for p in (runner.paths.root / "raw" / "comext_archive").rglob("*") if p.is_file())
        assert archived == ["2024-02.csv.gz", "full_v2_202402.7z"]

        tick = comext_revisions(build_sensor_context(cursor=tick.cursor, resources={"comext_api": api, "data": DataFolder(root=str(runner.paths.root))}))
        assert not tick.run_requests


def materialize_request(api, request, root: Path):
    """The fetch steps of the sensor's run request (its partition, its run config)."""
    from assets.comext.api import comext_bulk_months, comext_sdmx_files

    return materialize([comext_bulk_months, comext_sdmx_files], instance=ephemeral_instance(),
                       resources={"comext_api": api, "data": DataFolder(root=str(root))},
                       run_config=request.run_config, partition_key=request.partition_key, raise_on_error=False)


def test_the_sensor_stops_asking_after_three_runs_without_effect(runner, tmp_path):
    from assets.comext.api import comext_revisions

    with FakeComext() as fake:
        archive = month_archive(tmp_path, 202401, 100)
        fake.put(archive.name, archive.read_bytes(), "2024-03-15T11:00:00")
        api = _api(fake)
        assert _fetch(api, runner.paths.root, months=["2024-01"])[0].success
        fake.put(archive.name, archive.read_bytes(), "2024-04-01T11:00:00")  # restamped upstream
        cursor, keys = None, []
        for _ in range(3):
            tick = comext_revisions(build_sensor_context(cursor=cursor, resources={"comext_api": api, "data": DataFolder(root=str(runner.paths.root))}))
            keys.append(tick.run_requests[0].run_key)
            cursor = tick.cursor
        assert len(set(keys)) == 3  # one run a day, each with its own key
        tick = comext_revisions(build_sensor_context(cursor=cursor, resources={"comext_api": api, "data": DataFolder(root=str(runner.paths.root))}))
        assert not tick.run_requests and "after 3 requested runs" in str(tick.skip_reason)


def test_a_failing_month_fails_its_partition_with_the_reason(runner, tmp_path):
    with FakeComext() as fake:
        for period in (202401, 202402):
            archive = month_archive(tmp_path, period, 100)
            fake.put(archive.name, archive.read_bytes(), "2024-03-15T11:00:00")
        fake.faults.listing_size_delta = 3
        results = _fetch(_api(fake), runner.paths.root, months=["2024-01", "2024-02"])
        assert not any(r.success for r in results)
        for month, result in zip(("2024-01", "2024-02"), results):
            message = failure_messages(result)
            assert f"Comext bulk {month}:" in message and "the listing said" in message
        [result] = _fetch(_api(fake), runner.paths.root, months=["2024-05"])
        assert "month(s) ['2024-05'] have no full_v2 file in the listing" in failure_messages(result)


def test_no_sensor_call_before_anything_was_fetched(runner):
    from assets.comext.api import comext_revisions

    with FakeComext() as fake:
        tick = comext_revisions(build_sensor_context(resources={"comext_api": _api(fake), "data": DataFolder(root=str(runner.paths.root))}))
        assert isinstance(tick, SkipReason) and fake.requests() == []


# --------------------------------------------------------------------------- full refresh


def test_7z_months_in_landing_go_through_the_whole_refresh(runner):
    folder = runner.paths.root / "landing" / "comext"
    for i, period in enumerate((202401, 202402)):
        month_archive(folder, period, 400, seed=10 + i)
    result = runner.run()
    assert result.success, failure_messages(result)
    con = runner.warehouse()
    assert con.execute("SELECT count(*) FROM raw.comext_bulk").fetchall() == [(800,)]
    months = con.execute("""SELECT month, count(*) > 0 FROM staging.trade_flows
                            WHERE source = 'comext' AND freq = 'M' GROUP BY 1 ORDER BY 1""").fetchall()
    assert months == [(1, True), (2, True)]
