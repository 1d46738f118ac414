"""CEPII BACI as the third source, on SYNTHETIC files (tests/fake_baci.py; no real BACI flow rows exist here):
the reader (exact decimals, leading zeros, bad input quarantined with file, line and reason), the staging of a
row on both sides, the import HHI against a hand computation, `geomon fetch baci` against a local fake, and a
whole refresh (the job of `geomon run --sources landing`) publishing source='baci' rows."""

from __future__ import annotations

import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import failure_messages
from fake_baci import FLOWS, FakeBaci, edition_zip, write_year
from pipeline.readers.inputs import discover
from pipeline.readers.raw_store import QUARANTINE, sync_raw_table
from pipeline.sources.baci import reader


# Hand computation (FLOWS, 2021, HS6 810520), shares of allocated imports:
# NLD imports from CHN 6000.125, DEU 2500.000, USA 1499.875 (thousand USD): total 10000.000
NLD_HHI = (6000.125 / 10000) ** 2 + (2500 / 10000) ** 2 + (1499.875 / 10000) ** 2
# the EU27 bloc's extra-EU suppliers: CHN 6000.125 + 3000 + 500 = 9500.125, USA 1499.875, JPN 1000: total 12000
EU27_EXTRA_HHI = (9500.125 / 12000) ** 2 + (1499.875 / 12000) ** 2 + (1000 / 12000) ** 2
# world exports of 810520 (every exporter's rows: BACI's world is its matrix): CHN 9500.125, DEU 2500,
# USA 1499.875, JPN 1000, NLD 250.5: total 14750.5
WORLD_HHI = sum((v / 14750.5) ** 2 for v in (9500.125, 2500, 1499.875, 1000, 250.5))


def _sync(conn, folder: Path, cache: Path):
    files = discover([("landing", folder)], reader.detect)
    return sync_raw_table(conn, reader.TABLE, reader.COLUMNS, files, reader.selector(cache), reader.validate,
                          reader.ROW_RULE, reader.YEAR_OF_ROW)


def _rows(conn):
    return conn.execute(f"SELECT t, i, j, k, v, q FROM {reader.TABLE} ORDER BY ALL").fetchall()


def _expected():
    return sorted((t, i, j, k, Decimal(v), None if q == "NA" else Decimal(q)) for t, i, j, k, v, q in FLOWS)


def test_a_yearly_csv_is_read_exactly(tmp_path):
    write_year(tmp_path / "baci", 2021)
    (tmp_path / "baci" / "country_codes_V202301.csv").write_text("not flow data\n")  # a dictionary: ignored
    conn = duckdb.connect()
    report = _sync(conn, tmp_path / "baci", tmp_path / "cache")
    assert report.quarantined == {} and report.rows_added == len(FLOWS)
    # exact decimals (no float), the HS code's leading zero kept, NA quantity null
    assert _rows(conn) == _expected()
    meta = conn.execute(f"SELECT DISTINCT hs_edition, baci_release, release, member, problem FROM {reader.TABLE}").fetchall()
    assert meta == [("H5", "V202301", "CEPII BACI V202301 HS17", None, None)]
    assert conn.execute("SELECT years FROM raw.ingested_files").fetchall() == [([2021],)]


def test_the_zip_of_an_edition_gives_the_same_rows_as_its_csvs(tmp_path):
    rows = FLOWS + [(2022, 156, 528, "810520", "7000.5", "NA")]
    folder = tmp_path / "baci"
    folder.mkdir()
    (folder / "BACI_HS17_V202301.zip").write_bytes(edition_zip((2021, 2022), rows))
    conn = duckdb.connect()
    report = _sync(conn, folder, tmp_path / "cache")
    assert report.quarantined == {} and report.rows_added == len(rows)
    assert _rows(conn) == sorted(_expected() + [(2022, 156, 528, "810520", Decimal("7000.5"), None)])
    assert {m for (m,) in conn.execute(f"SELECT DISTINCT member FROM {reader.TABLE}").fetchall()} == {
        "BACI_HS17_Y2021_V202301.csv", "BACI_HS17_Y2022_V202301.csv"}
    assert conn.execute("SELECT years FROM raw.ingested_files").fetchall() == [([2021, 2022],)]


def _bad(index: int, column: int, value: str):
    rows = [list(r) for r in FLOWS]
    rows[index][column] = value
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("rows, header, line, reason", [
    (FLOWS, "t,i,j,k,val,q", 1, r"header 't,i,j,k,val,q' is not BACI's t,i,j,k,v,q"),
    (_bad(2, 4, "abc"), "t,i,j,k,v,q", 4, r"value v 'abc' is not a non-negative number of thousand USD"),
    (_bad(1, 1, "999"), "t,i,j,k,v,q", 3, r"exporter i 999 is not in BACI's country dictionary"),
    (_bad(4, 2, "999"), "t,i,j,k,v,q", 6, r"importer j 999 is not in BACI's country dictionary"),
    (_bad(7, 3, "10121"), "t,i,j,k,v,q", 9, r"product k '10121' is not a six-digit HS code"),
    (_bad(0, 0, "2020"), "t,i,j,k,v,q", 2, r"t '2020' is not the year 2021 of the file name"),
    (_bad(3, 4, "1.1234567"), "t,i,j,k,v,q", 5, r"at most six decimals"),
    (_bad(5, 5, "many"), "t,i,j,k,v,q", 7, r"quantity q 'many' is not a non-negative number of tonnes"),
])
def test_bad_input_is_quarantined_with_file_line_and_reason(tmp_path, rows, header, line, reason):
    write_year(tmp_path / "baci", 2021, rows, header=header)
    conn = duckdb.connect()
    report = _sync(conn, tmp_path / "baci", tmp_path / "cache")
    assert list(report.quarantined) == ["landing:baci/BACI_HS17_Y2021_V202301.csv"]
    (file, got_line, got_reason), = conn.execute(f"SELECT file, line, reason FROM {QUARANTINE}").fetchall()
    assert got_line == line
    assert file == "landing:baci/BACI_HS17_Y2021_V202301.csv" and re.search(reason, got_reason), got_reason
    assert conn.execute(f"SELECT count(*) FROM {reader.TABLE}").fetchall() == [(0,)]  # the file adds no row


def test_a_bad_row_inside_a_zip_names_its_member(tmp_path):
    folder = tmp_path / "baci"
    folder.mkdir()
    (folder / "BACI_HS17_V202301.zip").write_bytes(edition_zip((2021,), _bad(2, 4, "x1")))
    conn = duckdb.connect()
    _sync(conn, folder, tmp_path / "cache")
    (line, why), = conn.execute(f"SELECT line, reason FROM {QUARANTINE}").fetchall()
    assert line == 4 and why.startswith("line 4: BACI_HS17_Y2021_V202301.csv: value v 'x1'"), why


def test_a_damaged_zip_is_quarantined(tmp_path):
    folder = tmp_path / "baci"
    folder.mkdir()
    data = bytearray(edition_zip())
    data[60:80] = b"\x00" * 20  # inside the first member's compressed bytes: its CRC fails
    (folder / "BACI_HS17_V202301.zip").write_bytes(bytes(data))
    conn = duckdb.connect()
    report = _sync(conn, folder, tmp_path / "cache")
    assert list(report.quarantined) == ["landing:baci/BACI_HS17_V202301.zip"]
    assert "zip" in report.quarantined["landing:baci/BACI_HS17_V202301.zip"]


def test_staging_enters_each_row_once_on_each_side_and_the_hhi_matches_a_hand_computation(tmp_path):
    from sql_harness import Harness

    write_year(tmp_path / "baci", 2021)
    conn = duckdb.connect()
    _sync(conn, tmp_path / "baci", tmp_path / "cache")
    h = Harness(min_world_reporters=1)
    h.con.register("_raw", conn.sql(f"SELECT * FROM {reader.TABLE}").to_arrow_table())
    h.con.execute(f"INSERT INTO {reader.TABLE} BY NAME SELECT * FROM _raw")
    assert h.build_all() == []
    flows = h.con.execute(
        "SELECT reporter, partner, flow, product_code_native, value, net_mass_kg, currency, freq, hs_edition, is_detail "
        "FROM staging.trade_flows WHERE source = 'baci' ORDER BY ALL").fetchall()
    assert len(flows) == 2 * len(FLOWS)
    # China -> Netherlands, 6000.125 thousand USD and 1250.5 t: the Netherlands' import and China's export
    assert ("NLD", "CHN", "import", "810520", Decimal("6000125.000"), Decimal("1250500.000"), "USD", "A", "H5",
            True) in flows
    assert ("CHN", "NLD", "export", "810520", Decimal("6000125.000"), Decimal("1250500.000"), "USD", "A", "H5",
            True) in flows
    assert ("USA", "NLD", "export", "810520", Decimal("1499875.000"), None, "USD", "A", "H5", True) in flows
    assert ("NLD", "FRA", "import", "010121", Decimal("12345.000"), Decimal("3500.000"), "USD", "A", "H5", True) in flows
    # each side holds every flow once: world imports = world exports = the matrix's total
    total = sum(Decimal(v) for *_, v, _q in FLOWS) * 1000
    sides = dict(h.con.execute("SELECT flow, sum(value) FROM staging.trade_flows WHERE source = 'baci' "
                               "GROUP BY flow").fetchall())
    assert sides == {"import": total, "export": total}
    hhi = dict(((r, s), v) for r, s, v in h.con.execute(
        "SELECT reporter, partner_scope, hhi FROM monitor.import_concentration WHERE source = 'baci' "
        "AND year = 2021 AND product_level = 'HS6' AND product_code = '810520'").fetchall())
    assert hhi[("NLD", "all")] == pytest.approx(NLD_HHI, abs=1e-12)
    assert hhi[("EU27", "extra_eu")] == pytest.approx(EU27_EXTRA_HHI, abs=1e-12)
    # screened like Comtrade on the world side too: the world-supply screen's G1 and G2 inputs
    world = dict((i, (g1, g2, top)) for i, g1, g2, top in h.con.execute(
        "SELECT importer, importer_hhi, hhi_world_exports, top_world_exporter FROM monitor.world_supply_screen "
        "WHERE source = 'baci' AND year = 2021 AND product_code = '810520'").fetchall())
    assert world["NLD"][0] == pytest.approx(NLD_HHI, abs=1e-12)
    assert world["NLD"][1] == pytest.approx(WORLD_HHI, abs=1e-12) and world["NLD"][2] == "CHN"


@pytest.mark.service
def test_fetch_baci_resumes_a_cut_download_verifies_and_quarantines(tmp_path, capsys):
    from pipeline.cli import main

    good = edition_zip((2021,))
    config = tmp_path / "fetch.json"
    config.write_text(json.dumps({"resources": {"baci_api": {"config": {
        "max_attempts": 1, "backoff_base_s": 0.01, "requests_per_second": 0}}}}))
    with FakeBaci() as fake:
        fake.put("BACI_HS17_V202301.zip", good)
        args = ["--data-dir", str(tmp_path), "fetch", "baci", "--base-url", fake.base, "--edition", "HS17",
                "--release", "V202301", "--config", str(config), "--no-progress"]
        fake.cut_next, fake.cut_after = 1, 100
        assert main(args) == 1                                    # the connection dropped: incomplete, part kept
        part = tmp_path / "raw" / "baci_incoming" / "BACI_HS17_V202301.zip.part"
        assert part.stat().st_size == 100
        assert main(args) == 0                                    # resumed from byte 100, tested, current
        assert fake.log[-1]["range"].startswith("bytes=100-")
        current = tmp_path / "raw" / "baci" / "BACI_HS17_V202301.zip"
        assert current.read_bytes() == good and not part.exists()
        asked = len(fake.log)
        assert main(args) == 0 and len(fake.log) == asked        # held: no request
        # a damaged new copy: quarantined with its reason, the held copy stays current
        damaged = bytearray(good)
        damaged[60:80] = b"\x00" * 20
        fake.put("BACI_HS17_V202301.zip", bytes(damaged))
        assert main(args + ["--force"]) == 1
        assert "failed its test" in capsys.readouterr().err
        kept = sorted((tmp_path / "raw" / "baci_quarantine").glob("*-BACI_HS17_V202301.zip"))
        assert len(kept) == 1 and kept[0].read_bytes() == bytes(damaged)
        reason = json.loads(kept[0].with_name(kept[0].name + ".reason.json").read_text())["reason"]
        assert "CRC" in reason or "zip" in reason
        assert current.read_bytes() == good
    assert main(["--data-dir", str(tmp_path), "status", "--source", "baci", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["source"], r["period"], r["release"], r["fetched"]) for r in rows] == [
        ("baci", "2021-2021", "V202301 HS17", True)]


def test_geomon_run_publishes_baci_rows_whose_hhi_matches_a_hand_computation(runner):
    # `geomon run --sources landing`'s job, in this process (the CLI's own behaviour is tested in
    # test_cli_failure and test_refresh_safety; a process of its own cost 2 CPU-s of start-up and an on-disk
    # event log)
    write_year(runner.paths.root / "landing" / "baci", 2021)
    result = runner.run(sources=("landing",))
    assert result.success, failure_messages(result)
    con = runner.published()
    rows = dict(((r, s), (hhi, n, top, allocated)) for r, s, hhi, n, top, allocated in con.execute(
        "SELECT reporter, partner_scope, hhi, n_suppliers, top1_partner, allocated_value "
        "FROM monitor.import_concentration WHERE source = 'baci' AND year = 2021 AND product_level = 'HS6' "
        "AND product_code = '810520'").fetchall())
    assert rows[("NLD", "all")][0] == pytest.approx(NLD_HHI, abs=1e-12)
    assert rows[("NLD", "all")][1:] == (3, "CHN", Decimal("10000000.000"))
    assert rows[("EU27", "extra_eu")][0] == pytest.approx(EU27_EXTRA_HHI, abs=1e-12)
    assert rows[("EU27", "extra_eu")][3] == Decimal("12000000.000")
    assert con.execute("SELECT DISTINCT source FROM staging.trade_flows").fetchall() == [("baci",)]
    # the publication names BACI's terms of re-use, and only the sources it holds rows of
    attribution = con.execute("SELECT attribution FROM meta.publication").fetchone()[0]
    assert "CEPII BACI (Etalab Open Licence 2.0" in attribution and "Comext" not in attribution, attribution
