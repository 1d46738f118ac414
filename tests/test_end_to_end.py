"""The embedded default (real sample + synthetic demo world), end to end, as `make run` does it.

One run, shared by the session (conftest.default_world), is read by the tests of this module; the rerun
runs on a copy of its data folder.
"""

import json
import subprocess
import sys

import duckdb
import pytest

from conftest import REPO
from pipeline.publish import verify_snapshot


@pytest.fixture(scope="module")
def default_run(default_world):
    return default_world


MONITOR_TABLES = ["bloc_member_counts", "bloc_vs_members", "crma_benchmark", "crma_benchmark_rolling",
                  "dependence_on_eu", "dependence_on_nl", "domain_summary", "ec_screen", "ec_screen_cn8",
                  "ec_screen_rolling", "eu_dependencies",
                  "import_concentration", "indirect_dependencies", "look_through_shares", "nl_dependencies",
                  "supplier_dependence", "supplier_headroom", "supplier_headroom_by_year", "supplier_loss",
                  "supplier_loss_by_domain", "supplier_shares", "third_country_bloc_vs_members", "trends",
                  "world_supply_screen"]


def test_published_tables_are_queryable_read_only(default_run):
    con = default_run.published()
    tables = {t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'monitor'").fetchall()}
    # monitor.changes is written at publication; the first one has nothing to compare with, so no row
    assert tables == set(MONITOR_TABLES) | {"changes"}
    assert con.execute("SELECT count(*) FROM monitor.changes").fetchall() == [(0,)]
    for table in MONITOR_TABLES:
        assert con.execute(f"SELECT count(*) FROM monitor.{table}").fetchall()[0][0] > 0, table
    with pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE monitor.x AS SELECT 1")
    meta = con.execute("SELECT synthetic, synthetic_note FROM meta.publication").fetchall()[0]
    assert meta[0] is True and "SYNTHETIC" in meta[1]


def test_synthetic_rows_are_labelled_everywhere(default_run):
    con = default_run.published()
    # demo rows are synthetic, the real extracts are not, and the labels say so
    rows = con.execute("SELECT release, synthetic, count(*) FROM staging.trade_flows GROUP BY ALL").fetchall()
    assert {s for r, s, n in rows if r.startswith("SYNTHETIC")} == {True}
    assert {s for r, s, n in rows if not r.startswith("SYNTHETIC")} == {False}
    assert con.execute("SELECT bool_and(synthetic) FROM monitor.import_concentration "
                       "WHERE source = 'comtrade'").fetchall() == [(True,)]
    manifest = json.loads((default_run.paths.snapshots / (default_run.paths.latest_pointer.read_text().strip())
                           / "manifest.json").read_text())
    assert manifest["synthetic"] is True and "SYNTHETIC" in manifest["synthetic_note"]


def test_planted_dependencies_are_found(default_run):
    planted = json.loads((default_run.paths.demo / "planted.json").read_text())["planted"]
    con = default_run.published()
    checked = 0
    for p in planted:
        for year in p["years"]:
            if p["view"] == "eu_import":
                row = con.execute(
                    "SELECT dependent, top_supplier, top_supplier_share FROM monitor.eu_dependencies "
                    "WHERE source = 'comext' AND product_code = ? AND year = ?", [p["product"], year]).fetchall()
                assert row and row[0][0] is True and row[0][1] == p["exporter"], (p["id"], year, row)
                assert row[0][2] == pytest.approx(p["share"], abs=0.03), (p["id"], year)
            elif p["view"] == "nl_import":
                row = con.execute(
                    "SELECT dependent, top_supplier, top_supplier_share FROM monitor.nl_dependencies "
                    "WHERE source = 'comext' AND product_code = ? AND year = ?", [p["product"], year]).fetchall()
                assert row and row[0][0] is True and row[0][1] == p["exporter"], (p["id"], year, row)
                assert row[0][2] == pytest.approx(p["share"], abs=0.03), (p["id"], year)
                eu = con.execute("SELECT dependent FROM monitor.eu_dependencies WHERE source = 'comext' "
                                 "AND product_code = ? AND year = ?", [p["product"], year]).fetchall()
                assert eu == [(False,)], "the NL-only dependency must not be an EU one"
            elif p["view"] == "depends_on_nl":
                row = con.execute(
                    "SELECT depends_on_nl, nl_share, nl_is_top_supplier FROM monitor.dependence_on_nl "
                    "WHERE source = 'comtrade' AND importer = ? AND product_code = ? AND year = ?",
                    [p["importer"], p["product"], year]).fetchall()
                assert row and row[0][0] is True and row[0][2] is True, (p["id"], year, row)
                assert row[0][1] == pytest.approx(p["share"], abs=0.03), (p["id"], year)
            elif p["view"] == "world_export":
                row = con.execute(
                    "SELECT DISTINCT top_world_exporter, top_world_exporter_share FROM monitor.world_supply_screen "
                    "WHERE product_code = ? AND year = ?", [p["product"], year]).fetchall()
                assert len(row) == 1 and row[0][0] == p["exporter"], (p["id"], year, row)
                assert row[0][1] == pytest.approx(p["share"], abs=0.03)
            elif p["view"] == "hidden_dependency":
                # Comtrade: the intermediaries report their own imports there (methodology section 8)
                row = con.execute(
                    "SELECT hidden_dependency, top_ultimate_supplier, top_ultimate_share, direct_hhi "
                    "FROM monitor.indirect_dependencies WHERE source = 'comtrade' AND importer = ? "
                    "AND product_code = ? AND year = ?", [p["importer"], p["product"], year]).fetchall()
                assert row and row[0][0] is True and row[0][1] == p["exporter"], (p["id"], year, row)
                assert row[0][2] == pytest.approx(p["share"], abs=0.03) and row[0][3] < 0.4, (p["id"], year, row)
            elif p["view"] == "single_point_of_failure":
                row = con.execute(
                    "SELECT single_point_of_failure, supplier_world_export_share, supplier_rank "
                    "FROM monitor.supplier_loss WHERE importer = ? AND supplier = ? AND product_code = ? "
                    "AND year = ?", [p["importer"], p["exporter"], p["product"], year]).fetchall()
                assert row and row[0][0] is True and row[0][2] == 1, (p["id"], year, row)
                assert row[0][1] == pytest.approx(p["share"], abs=0.03), (p["id"], year)
            else:
                pytest.fail(f"unknown planted view {p['view']}")
            checked += 1
    assert checked >= 20


def test_snapshot_verifies_and_detects_a_changed_byte(default_run, tmp_path, capsys):
    from pipeline.cli import main

    paths = default_run.paths
    assert verify_snapshot(paths) == []
    # `geomon verify` and `geomon snapshots` through the CLI's main in this process; the failing verify below
    # runs in a process of its own (its exit code)
    capsys.readouterr()
    assert main(["--data-dir", str(paths.root), "verify"]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["--data-dir", str(paths.root), "snapshots"]) == 0
    listing = capsys.readouterr().out
    assert "(LATEST)" in listing and "SYNTHETIC" in listing
    # copy the snapshot, flip one byte in a Parquet file, and verify the copy
    import shutil

    from pipeline.paths import DataPaths

    copy = DataPaths(tmp_path / "data")
    snap = paths.snapshots / paths.latest_pointer.read_text().strip()
    shutil.copytree(snap, copy.snapshots / snap.name)
    (copy.snapshots / "LATEST").write_text(snap.name)
    target = sorted((copy.snapshots / snap.name / "monitor.import_concentration").glob("year=*.parquet"))[-1]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    problems = verify_snapshot(copy)
    assert len(problems) == 1 and "sha256 differs" in problems[0]
    bad = subprocess.run([sys.executable, "-m", "pipeline.cli", "--data-dir", str(copy.root), "verify"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 1


@pytest.mark.parametrize("bad_id", ["../../etc", "LATEST", "20261128T000000Z/../x", ""])
def test_snapshot_ids_cannot_escape_the_snapshots_folder(default_run, bad_id):
    from pipeline.publish import SnapshotError, snapshot_dir

    if bad_id == "":
        assert snapshot_dir(default_run.paths, bad_id).parent == default_run.paths.snapshots  # "" means LATEST
        return
    with pytest.raises(SnapshotError):
        snapshot_dir(default_run.paths, bad_id)


def test_rerun_on_same_inputs_gives_identical_tables_and_checksums(default_run, default_rerun):
    # default_rerun: the job run again with default_run's settings on a copy of its folder (conftest, shared)
    first, paths = default_run.paths, default_rerun.paths
    first = json.loads((first.snapshots / first.latest_pointer.read_text().strip() / "manifest.json").read_text())
    second = json.loads((paths.snapshots / paths.latest_pointer.read_text().strip() / "manifest.json").read_text())
    assert first["snapshot_id"] in [s.name for s in paths.snapshots.iterdir()]  # the rerun's folder had it
    assert second["snapshot_id"] != first["snapshot_id"]
    assert {t: m["sha256"] for t, m in second["tables"].items()} == {t: m["sha256"] for t, m in first["tables"].items()}


def test_every_published_column_and_table_is_described(default_run):
    con = default_run.published()
    undocumented = con.execute(
        "SELECT schema_name || '.' || table_name || '.' || column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name IN ('monitor', 'staging', 'reference', 'meta', "
        "'views') AND comment IS NULL").fetchall()
    assert undocumented == []
    tables = con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND (comment IS NULL OR comment = '')").fetchall()
    assert tables == []
    # the analysts' views read with names
    row = con.execute("SELECT product, top_supplier_name FROM views.eu_dependencies "
                      "WHERE product_code = '850511' AND source = 'comext' LIMIT 1").fetchall()
    assert row == [("Magnets; permanent magnets and articles intended to become permanent magnets "
                    "after magnetisation, of metal", "China")]
