"""Incremental rebuilds: one changed year rebuilds that year only, and gives what a full build gives."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from pipeline import demo_world
from pipeline.incremental import substitute_tables
from tests.conftest import Runner, failure_messages, materializations

YEARS = (2021, 2022, 2023)
CHANGED = 2023
SCALE = 0.001  # about 23k Comext and 9k Comtrade flows a year, 110 products: every path of the incremental build
PARTITIONED = {"staging/trade_flows", "staging/annual_flows", "staging/world_exports", "staging/country_totals",
               "monitor/import_concentration", "monitor/supplier_dependence"}


def test_substitute_tables_keeps_aliases_strings_and_columns():
    sql = ("SELECT annual_flows.x, 'staging.annual_flows' AS s -- staging.annual_flows\n"
           "FROM staging.annual_flows JOIN staging.annual_flows AS b ON true "
           "JOIN staging.annual_flows c USING (k) JOIN staging.other AS o ON staging.annual_flows.y = 1")
    out = substitute_tables(sql, {"staging.annual_flows": "SELECT 1"})
    assert out == ("SELECT annual_flows.x, 'staging.annual_flows' AS s -- staging.annual_flows\n"
                   "FROM (SELECT 1) AS annual_flows JOIN (SELECT 1) AS b ON true "
                   "JOIN (SELECT 1) c USING (k) JOIN staging.other AS o ON staging.annual_flows.y = 1")


def _manifest_checksums(runner: Runner) -> dict[str, tuple[int, str]]:
    latest = runner.paths.latest_pointer.read_text().strip()
    manifest = json.loads((runner.paths.snapshots / latest / "manifest.json").read_text())
    return {t: (m["rows"], m["sha256"]) for t, m in manifest["tables"].items()}


def _replace_year(landing, alt, year) -> int:
    for old in demo_world.files_of_year(landing, year):
        old.unlink()
    new = demo_world.files_of_year(alt, year)
    for path in new:
        shutil.copy2(path, landing / path.parent.name / path.name)
    return len(new)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A refresh of the demo world's YEARS, then a second on the same inputs (its models alone: the tests read
    its builds' metadata; a publication on unchanged inputs is test_end_to_end's rerun); shared: each test
    starts from a copy of the data folder."""
    mp = pytest.MonkeyPatch()
    runner = Runner(tmp_path_factory.mktemp("built") / "data", mp)
    demo_world.generate(runner.paths.root / "landing", scale=SCALE, years=YEARS, comtrade_format="bulk")
    first = runner.run()
    assert first.success, failure_messages(first)
    again = runner.run(warehouse_only=True)
    assert again.success, failure_messages(again)
    yield runner.paths.root, materializations(again)
    mp.undo()


def _copy_of(root, tmp_path, monkeypatch) -> Runner:
    runner = Runner(tmp_path / "data", monkeypatch)
    shutil.copytree(root, runner.paths.root)
    return runner


@pytest.mark.pipeline
def test_one_changed_year_rebuilds_only_that_year_and_equals_a_full_build(built, tmp_path, monkeypatch):
    root, again = built
    incremental = _copy_of(root, tmp_path, monkeypatch)
    landing = incremental.paths.root / "landing"

    # the same inputs again: no model rebuilds anything
    for key in PARTITIONED:
        assert again[key]["build"] == "unchanged inputs: nothing rebuilt", (key, again[key]["build"])

    # one year's files replaced by another draw of the demo world
    alt = tmp_path / "alt"
    demo_world.generate(alt, scale=SCALE, years=(CHANGED,), seed=7, comtrade_format="bulk")
    assert _replace_year(landing, alt, CHANGED) > 0
    refreshed = incremental.run()
    assert refreshed.success, failure_messages(refreshed)
    builds = materializations(refreshed)
    for key in PARTITIONED:
        assert builds[key]["build"] == f"changed years rebuilt: [{CHANGED}]", (key, builds[key]["build"])
    writes = builds["publish/publication"]["database_writes"]
    assert writes["staging.trade_flows"] == f"years written: [{CHANGED}], kept: 2", writes
    assert writes["monitor.ec_screen"] == "written whole"
    # the checks looked at the rebuilt year only (the others passed them when they were built)
    scopes = {(e.asset_key.to_user_string(), e.check_name): e.metadata["checked_rows"].value
              for e in refreshed.get_asset_check_evaluations() if "checked_rows" in e.metadata}
    assert scopes[("staging/trade_flows", "unique_grain")] == f"years [{CHANGED}]"
    assert scopes[("monitor/import_concentration", "hhi_bounds")] == f"years [{CHANGED}]"
    assert scopes[("staging/hs_conversion", "unique_grain")] == "none (nothing rebuilt)"
    # and every year is still there
    with incremental.warehouse() as con:
        years = con.execute("SELECT DISTINCT year FROM staging.trade_flows ORDER BY 1").fetchall()
    assert [y for (y,) in years] == list(YEARS)

    # a full build from scratch on the same files publishes the same bytes
    full = Runner(tmp_path / "full", monkeypatch)
    shutil.copytree(landing, full.paths.root / "landing")
    result = full.run()
    assert result.success, failure_messages(result)
    # monitor.changes is not a function of the files but of the previous publication: the refresh lists what
    # moved, the fresh build has nothing to compare with; every other table must be the same bytes
    assert {t: v for t, v in _manifest_checksums(incremental).items() if t != "monitor.changes"} == \
        {t: v for t, v in _manifest_checksums(full).items() if t != "monitor.changes"}
    with duckdb.connect(str(incremental.paths.published_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM monitor.changes WHERE year = ?", [CHANGED]).fetchall()[0][0] > 0
        assert con.execute("SELECT count(*) FROM monitor.changes WHERE year <> ?", [CHANGED]).fetchall()[0][0] == 0
    # ... and the same analysts' database, although the refresh rewrote only 2023 of its flows
    with full.published() as a, duckdb.connect(str(incremental.paths.published_db), read_only=True) as b:
        tables = a.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() "
                           "WHERE schema_name <> 'meta' ORDER BY 1").fetchall()
        assert tables == b.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() "
                                   "WHERE schema_name <> 'meta' ORDER BY 1").fetchall()
        assert ("staging.trade_flows",) in tables
        for (table,) in tables:
            if table == "monitor.changes":
                continue
            content = f"SELECT count(*), sum(hash(t)) FROM {table} AS t"
            assert a.execute(content).fetchall() == b.execute(content).fetchall(), table
            columns = f"DESCRIBE {table}"
            assert a.execute(columns).fetchall() == b.execute(columns).fetchall(), table
    with incremental.warehouse() as con:
        published = con.execute("SELECT DISTINCT snapshot_id FROM meta.published_years").fetchall()
    assert published == [(incremental.paths.latest_pointer.read_text().strip(),)]


@pytest.mark.pipeline
def test_a_year_whose_files_disappear_is_dropped(built, tmp_path, monkeypatch):
    runner = _copy_of(built[0], tmp_path, monkeypatch)
    landing = runner.paths.root / "landing"
    for old in demo_world.files_of_year(landing, 2022):
        old.unlink()
    # a year gone on purpose (the publication guard would refuse it); the models alone: the test reads the warehouse
    result = runner.run(allow_shrink=True, warehouse_only=True)
    assert result.success, failure_messages(result)
    builds = materializations(result)
    assert builds["staging/trade_flows"]["build"] == "changed years rebuilt: none; years dropped: [2022]"
    with runner.warehouse() as con:
        for table in ("staging.trade_flows", "staging.annual_flows", "monitor.import_concentration"):
            assert con.execute(f"SELECT list(DISTINCT year ORDER BY year) FROM {table}").fetchall()[0][0] == [2021, 2023], table


@pytest.mark.pipeline
@pytest.mark.parametrize("model", ["staging/annual_flows"])
def test_changed_sql_rebuilds_every_year(built, tmp_path, monkeypatch, model):
    """A model whose code changed is rebuilt in full (the stored code version no longer matches)."""
    runner = _copy_of(built[0], tmp_path, monkeypatch)
    with duckdb.connect(str(runner.paths.warehouse)) as con:
        con.execute("UPDATE meta.model_builds SET code_version = 'older' WHERE table_name = ?",
                    [model.replace("/", ".")])
    # the models alone (the builds' metadata is what the test reads), not the publication
    builds = materializations(runner.run(warehouse_only=True))
    assert builds[model]["build"] == "every year rebuilt: [2021, 2022, 2023]"
    # and --full-rebuild rebuilds everything, whatever the fingerprints say
    builds = materializations(runner.run(full_rebuild=True, warehouse_only=True))
    assert builds["staging/trade_flows"]["build"] == "every year rebuilt: [2021, 2022, 2023]"
    assert builds["staging/hs_split_weights"]["build"] == "rebuilt in full"


def test_checks_one_year_at_a_time_count_what_the_whole_table_check_counts(tmp_path, monkeypatch):
    """Above CHECK_BY_YEAR_ROWS a partitioned model's checks run per year (bounded memory at world scale): the
    same verdicts and counts as one query over every rebuilt year, on a table with faults in two years."""
    import assets.models as models
    from pipeline.incremental import BuildOutcome
    from pipeline.sql_models import load_models

    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "t.sql").write_text(
        "-- a toy partitioned table\n-- grain: year, k\n-- partition: year\n-- check positive: v > 0\n"
        "-- assert no_big: SELECT year, k FROM staging.t WHERE v > 100\nSELECT * FROM raw.r")
    model = load_models(tmp_path, {"raw.r"})[0]
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.t AS SELECT * FROM (VALUES (2021, 'a', 1), (2021, 'a', 2), (2021, 'b', -1), "
                "(2022, 'a', 500), (2022, 'b', 1), (2022, 'b', 3), (2023, 'a', 1), (2023, NULL, 4)) AS v(year, k, v)")
    outcome = BuildOutcome(True, [2021, 2022, 2023], [], True, [])

    def verdicts():
        return {r.check_name: (r.passed, {k: v.value for k, v in r.metadata.items() if k != "sample"})
                for r in models.run_checks(con, model, outcome)}

    whole = verdicts()
    monkeypatch.setattr(models, "CHECK_BY_YEAR_ROWS", 0)
    by_year = verdicts()
    assert by_year["unique_grain"][1].pop("checked_by") == "year"
    for name in ("positive", "no_big"):
        assert by_year[name][1].pop("checked_by") == "year"
    assert by_year == whole
    assert whole["unique_grain"] == (False, {"duplicate_keys": 2, "null_keys": 1, "checked_rows": "all"})
    assert whole["positive"][0] is False and whole["positive"][1]["failing_rows"] == 1
    assert whole["no_big"][0] is False and whole["no_big"][1]["failing_rows"] == 1
