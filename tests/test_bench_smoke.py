"""The benchmark's machinery at a tiny scale (bench/, issue 7): no timing, only that what it
times computes the same thing.

A tiny demo world in Comtrade bulk format goes through the pipeline's own Dagster assets up
to monitor.import_concentration; the same files are staged to Parquet by the benchmark.
Then (a) the floor query, (b) the mart's SQL restricted like for like, (c) the pandas
baseline and (c') the polars-lazy baseline must give the same rows: same keys, same
n_suppliers, HHI equal to 1e-12. The target verdicts of the report are checked on a
report with invented figures.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from string import Template

import pytest

# bench/ is not an installed package: import it from this checkout, whatever the working folder
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import queries  # noqa: E402
from pipeline.demo_world import generate  # noqa: E402
from pipeline.paths import DATA_DIR_ENV, REFERENCE_DIR, REPO_ROOT, DataPaths  # noqa: E402
from pipeline.sources.comtrade.reader import COLUMNS  # noqa: E402

SCALE = 0.003
COLS = ", ".join(queries.KEY + queries.MEASURES)


@pytest.fixture(scope="module")
def bench_world(tmp_path_factory):
    """(warehouse connection, staged Parquet path) after the pipeline built the mart."""
    from dagster import AssetKey, AssetSelection, DagsterInstance

    from pipeline.definitions import defs

    root = tmp_path_factory.mktemp("bench")
    paths = DataPaths(root / "data")
    generate(paths.landing, scale=SCALE, years=[2023], comtrade_format="bulk")
    shutil.rmtree(paths.landing / "comext")  # the floor is Comtrade's; Comext would only cost time
    parquet = root / "imports.parquet"
    rows = queries.stage_parquet(paths.landing, parquet, REFERENCE_DIR, COLUMNS)
    assert rows > 1000

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DATA_DIR_ENV, str(paths.root))
        # the mart and what it is built from; the other marts and the publication are not needed here
        # (the partitioned fetches of Comext months and Comtrade years are upstream too, outside this job)
        selection = (AssetSelection.assets(AssetKey(["monitor", "import_concentration"])).upstream()
                     - AssetSelection.groups("comext_fetch", "comtrade_fetch"))
        result = defs.resolve_job_def("refresh").execute_in_process(
            run_config={"resources": {"settings": {"config": {"sources": ["landing"]}}},
                        "loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            instance=DagsterInstance.ephemeral(), raise_on_error=False,
            asset_selection=list(selection.resolve(defs.resolve_asset_graph())),
        )
    assert result.success
    con = queries.connect(paths.warehouse)
    from pipeline.resources import Thresholds
    from pipeline.sql_macros import prepare_session

    prepare_session(con, Thresholds().sql_variables())
    con.execute("CREATE SCHEMA IF NOT EXISTS bench")
    mart = queries.model_sql(REPO_ROOT, "monitor.import_concentration")
    con.execute(f"CREATE TABLE bench.mart_hs6 AS {queries.restricted_mart_sql(mart)}").fetchall()
    yield con, parquet
    con.close()


@pytest.mark.pipeline
def test_floor_gives_the_marts_rows(bench_world):
    con, parquet = bench_world
    for arithmetic, value_tol in (("decimal", 1e-12), ("double", 1e-9)):
        floor = f"SELECT {COLS} FROM ({queries.floor_sql(parquet, arithmetic)})"
        got = queries.compare(con, floor, f"SELECT {COLS} FROM bench.mart_hs6")
        assert got["matched"] > 500, got
        assert queries.same_rows(got, hhi_tol=1e-12, value_tol=value_tol), (arithmetic, got)


@pytest.mark.pipeline
def test_restricted_mart_equals_the_published_mart_rows(bench_world):
    con, _ = bench_world
    full = (f"SELECT {COLS} FROM monitor.import_concentration "
            "WHERE source = 'comtrade' AND product_level = 'HS6' AND partner_scope = 'all'")
    got = queries.compare(con, full, f"SELECT {COLS} FROM bench.mart_hs6")
    assert queries.same_rows(got, hhi_tol=0, value_tol=0), got


@pytest.mark.pipeline
def test_pandas_baseline_gives_the_marts_hhi(bench_world, tmp_path):
    pytest.importorskip("pandas")
    from bench.pandas_baseline import import_concentration

    con, parquet = bench_world
    out = tmp_path / "pandas.parquet"
    import_concentration(parquet).to_parquet(out, index=False)
    got = queries.compare(con, f"SELECT {COLS} FROM read_parquet({queries.sql_string(out)})",
                          f"SELECT {COLS} FROM bench.mart_hs6")
    assert got["matched"] > 500, got
    assert queries.same_rows(got, hhi_tol=1e-12, value_tol=1e-9), got


# Rows the demo world never has (it has no re-imports, no zero or negative values and one row
# per partner), added to the staged Parquet of the first (reporter, year, product) so that each
# rule of the floor changes the answer: a baseline that forgets one gives other rows.
EDGE_ROWS = """
    WITH k AS (SELECT reporter, year, product_code FROM read_parquet($parquet)
               WHERE partner_kind = 'country' ORDER BY ALL LIMIT 1)
    SELECT year, reporter, partner, partner_kind, product_code, value FROM read_parquet($parquet)
    UNION ALL
    SELECT k.year, k.reporter, x.partner, e.kind, x.product_code, e.value
    FROM k, (VALUES
        (NULL, 'country', NULL, 1e9),                   -- re-import: the reporter is not its own supplier
        ('EDGE zero', 'country', NULL, 0.0),            -- zero is not a supply
        ('EDGE split', 'country', NULL, 7e6),           -- two codes of one area: one supplier of 5e6
        ('EDGE split', 'country', NULL, -2e6),
        ('EDGE net negative', 'country', NULL, 3e6),    -- summed first, then value > 0: no supplier
        ('EDGE net negative', 'country', NULL, -4e6),
        ('EDGE unknown code', NULL, NULL, 5e6),         -- an area the reference does not know
        (NULL, 'country', '999999', 1e6)                -- a product with only a re-import: no row
    ) AS e(partner_raw, kind, product_raw, value),
    LATERAL (SELECT coalesce(e.partner_raw, k.reporter) AS partner,
                    coalesce(e.product_raw, k.product_code) AS product_code) AS x
"""


@pytest.fixture(scope="module")
def edged_parquet(bench_world, tmp_path_factory):
    """(staged Parquet with EDGE_ROWS, the key they were added to)."""
    con, parquet = bench_world
    out = tmp_path_factory.mktemp("edged") / "imports_edged.parquet"
    sql = Template(EDGE_ROWS).substitute(parquet=queries.sql_string(parquet))
    con.execute(f"COPY ({sql}) TO {queries.sql_string(out)} (FORMAT parquet)").fetchall()
    key = con.execute(f"SELECT reporter, year, product_code FROM read_parquet({queries.sql_string(parquet)}) "
                      "WHERE partner_kind = 'country' ORDER BY ALL LIMIT 1").fetchall()[0]
    return out, key


@pytest.mark.pipeline
def test_edge_rows_change_the_floor_as_its_rules_say(bench_world, edged_parquet):
    con, parquet = bench_world
    edged, key = edged_parquet

    def floor_row(path, product=key[2]):
        return con.execute(f"SELECT n_suppliers, allocated_value FROM ({queries.floor_sql(path, 'decimal')}) "
                           "WHERE reporter = ? AND year = ? AND product_code = ?", [key[0], key[1], product]).fetchall()

    (n, value), = floor_row(parquet)
    assert floor_row(edged) == [(n + 1, value + 5_000_000)]  # only 'EDGE split' is a new supplier
    assert floor_row(edged, "999999") == []


@pytest.mark.pipeline
@pytest.mark.parametrize("baseline", ["pandas", "polars"])
def test_baselines_give_the_floors_rows_at_the_edges(bench_world, edged_parquet, baseline, tmp_path):
    con, _ = bench_world
    edged, _ = edged_parquet
    out = tmp_path / f"{baseline}.parquet"
    if baseline == "pandas":
        from bench.pandas_baseline import import_concentration

        import_concentration(edged).to_parquet(out, index=False)
    else:
        from bench.polars_baseline import import_concentration, import_concentration_lazy

        # lazy: one plan from the Parquet scan to the result, which polars runs on collect()
        assert "Parquet SCAN" in import_concentration_lazy(edged).explain()
        import_concentration(edged).write_parquet(out)
    # the floor's DECIMAL sums are the reference; the baselines sum the Parquet's doubles
    got = queries.compare(con, f"SELECT {COLS} FROM ({queries.floor_sql(edged, 'decimal')})",
                          f"SELECT {COLS} FROM read_parquet({queries.sql_string(out)})")
    assert got["matched"] > 500, got
    assert queries.same_rows(got, hhi_tol=1e-12, value_tol=1e-9), got


def _invented_report() -> dict:
    """A bench report with invented figures (not measurements), for the verdict wording only."""
    from bench.run import TARGETS

    e2e = {"success": True, "wall_s": 75.0, "cpu_s": 120.0, "peak_rss_mb": 2048.0,
           "load_before": [1.0], "load_after": [1.0]}
    return {
        "targets": TARGETS,
        "scales": {
            "0.1": {"sf": 0.1, "memory_limit": None, "e2e": {**e2e, "wall_s": 20.0}},
            "1": {"sf": 1.0, "memory_limit": None, "e2e": e2e,
                  "ratios": {"mart_over_floor": 1.2, "mart_full_over_floor": 5.0},
                  "checks": {"same_rows": {"floor_vs_mart_columns": True, "mart_hs6_vs_mart_full": True}}},
            "10": {"sf": 10.0, "memory_limit": "4GB", "e2e": {**e2e, "wall_s": 600.0}},
        },
        "refresh": {"scale": 0.1, "initial": e2e, "refresh": {**e2e, "wall_s": 26.0, "cpu_s": 30.0},
                    "single_year": {**e2e, "wall_s": 20.0, "cpu_s": 20.0},
                    "refresh_over_single_year": 1.3, "refresh_over_single_year_cpu": 1.5},
        "make_run": {**e2e, "wall_s": 14.0},
    }


def test_report_gives_every_target_its_verdict():
    from bench.report import sf30_estimate, verdicts

    report = _invented_report()
    got = {v["target"]: v["verdict"] for v in verdicts(report)}
    assert got["SF1 end to end (landing files to verified snapshot) <= 60 s"] == "**missed** by 15.0 s (25% over)"
    assert got["SF1 end to end, peak RSS < 3 GB"] == "met"
    assert got["refresh, one changed year of ten <= 1.3x a single-year run (wall)"] == "met"  # at the limit
    assert got["refresh, one changed year of ten <= 1.3x a single-year run (CPU)"] == "**missed** by 0.20x (15% over)"
    assert got["import_concentration like for like <= 1.5x the floor at SF1"] == "met"
    assert got["the whole import_concentration (all levels, both scopes) <= 4x the floor at SF1"] == \
        "**missed** by 1.00x (25% over)"
    # SF10 ran, but not under the target's 2 GB: no verdict is given for it
    sf10 = [v for t, v in got.items() if t.startswith("SF10")]
    assert sf10 == ["not measured: SF10 ran with memory_limit 4GB"] * 3
    assert got["`make run` on the embedded default (fresh data folder) <= 15 s"] == "met"
    assert got["pandas baseline on the same rows: reported beside the mart and the floor"].startswith("no target")
    # a scale that failed its rows check gets no pass on its ratio
    report["scales"]["1"]["checks"]["same_rows"]["floor_vs_mart_columns"] = False
    got = {v["target"]: v["verdict"] for v in verdicts(report)}
    assert got["import_concentration like for like <= 1.5x the floor at SF1"].startswith("**missed**: the rows differ")
    # SF0.1 is left out (fixed costs dominate there): the line through (1, 75 s) and (10, 600 s)
    # is 58.33 s per SF, so SF30 = 75 + 29 * 58.33 = 1766.67 s
    estimate = sf30_estimate(report["scales"])
    assert estimate["from"] == [1, 10]
    assert estimate["sf30_s"] == pytest.approx(1766.67, abs=0.01)
    del report["scales"]["1"], report["scales"]["10"]
    assert sf30_estimate(report["scales"])["sf30_s"] == pytest.approx(6000)  # 20 s at SF0.1, proportional
    assert "far off" in sf30_estimate(report["scales"])["method"]


def test_restriction_refuses_a_mart_that_no_longer_reads_annual_flows():
    with pytest.raises(ValueError, match="annual_flows"):
        queries.restricted_mart_sql("SELECT 1 AS x FROM staging.trade_flows")


def test_scale_factors_map_to_demo_scale_and_years():
    from bench.run import parse_memory_limits, sf_plan

    assert sf_plan(0.1) == (0.1, [2023])
    assert sf_plan(1) == (1, [2023])
    assert sf_plan(5) == (1.0, [2019, 2020, 2021, 2022, 2023])
    assert parse_memory_limits(["5=2GB"]) == {"5": "2GB"}
    assert parse_memory_limits(["5=2GB", "10=2GB"]) == {"5": "2GB", "10": "2GB"}
    assert parse_memory_limits(["4GB"]) == {"*": "4GB"}
    assert Path(queries.FLOOR_SQL).is_file()


@pytest.mark.pipeline
def test_input_floor_reads_every_landing_row_once(tmp_path):
    """The input floor (issue 28) at a tiny scale: every Comext archive unpacked and every Comtrade file
    read into the DuckDB file, as many rows as the generator wrote into the files."""
    import json

    from bench.input_floor import read_input_floor

    landing = tmp_path / "landing"
    generate(landing, scale=SCALE, years=[2023], comtrade_format="bulk")
    manifest = json.loads((landing / "planted.json").read_text())
    # the demo world writes CSV months; the file service ships .7z archives: two months packed as such
    import py7zr

    for month in ("202301", "202307"):
        csv = landing / "comext" / f"SYNTHETIC_full_v2_{month}.csv"
        with py7zr.SevenZipFile(landing / "comext" / f"full_v2_{month}.7z", "w") as archive:
            archive.write(csv, f"full_v2_{month}.dat")
        csv.unlink()
    db = tmp_path / "floor.duckdb"
    got = read_input_floor(landing, db, tmp_path / "work", memory_limit="2GB")
    assert got["comext"]["files"] == 12 and got["comext"]["archives"] == 2
    assert got["comtrade"]["files"] == len(list((landing / "comtrade").glob("*.gz"))) > 1
    assert got["comext"]["rows"] == manifest["rows"]["comext"] > 1000
    assert got["comtrade"]["rows"] == manifest["rows"]["comtrade"] > 1000
    assert got["rows"] == manifest["rows"]["comext"] + manifest["rows"]["comtrade"]
    assert got["total_s"] >= got["comext"]["unpack_s"] + got["comext"]["read_s"] + got["comtrade"]["read_s"]
    assert not db.exists() and not (tmp_path / "work" / "input_floor_unpacked").exists()  # scratch removed


def test_report_judges_end_to_end_against_the_input_floor():
    from bench.report import markdown, verdicts

    report = _invented_report()
    report["scales"]["1"]["input_floor"] = {"total_s": 30.0, "cpu_s": 40.0, "rows": 1_000_000, "peak_rss_mb": 900.0,
                                            "comext": {"unpack_s": 5.0, "read_s": 10.0}, "comtrade": {"read_s": 15.0}}
    report["scales"]["1"]["e2e_over_input_floor"] = 2.5  # 75 s / 30 s
    got = {v["target"]: (v["measured"], v["verdict"]) for v in verdicts(report)}
    assert got["end to end <= 3x the input floor at SF1"] == ("2.50x: 75.0 s vs 30.0 s (1,000,000 rows)", "met")
    assert got["end to end <= 3x the input floor at SF10"][1].startswith("not measured")
    report["machine"] = {"date_utc": "x", "nproc": 2, "cpu_model": "x", "ram_gb": 1, "load_at_start": [1.0],
                         "versions": {"duckdb": "x", "python": "x"}}
    report["args"] = {"repeats": 1}
    assert "| (d) end to end / input floor | – | 2.50 | – | <= 3.0 at SF1 and SF10 |" in markdown(report)
