"""The benchmark's machinery at a tiny scale (bench/, issue 7): no timing, only that what it
times computes the same thing.

A tiny demo world in Comtrade bulk format goes through the pipeline's own Dagster assets up
to monitor.import_concentration; the same files are staged to Parquet by the benchmark.
Then (a) the floor query, (b) the mart's SQL restricted like for like, and (c) the pandas
baseline must give the same rows: same keys, same n_suppliers, HHI equal to 1e-12.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# bench/ is not an installed package: import it from this checkout, whatever the working folder
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import queries  # noqa: E402
from pipeline.demo_world import generate  # noqa: E402
from pipeline.paths import DATA_DIR_ENV, REFERENCE_DIR, REPO_ROOT, DataPaths  # noqa: E402
from pipeline.readers.comtrade import COLUMNS  # noqa: E402

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
        mp.setenv("COMTRADE_API_KEY", "")  # the job's Comtrade client resource needs it to exist (no call is made)
        # the mart and what it is built from; the other marts and the publication are not needed here
        # (the partitioned fetch of Comext months is upstream too, but fetches nothing without a partition)
        selection = (AssetSelection.assets(AssetKey(["monitor", "import_concentration"])).upstream()
                     - AssetSelection.assets(AssetKey(["raw", "comext_bulk_months"])))
        result = defs.resolve_job_def("refresh").execute_in_process(
            run_config={"resources": {"settings": {"config": {"sources": ["landing"]}}},
                        "loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            instance=DagsterInstance.ephemeral(), raise_on_error=False,
            asset_selection=list(selection.resolve(defs.resolve_asset_graph())),
        )
    assert result.success
    con = queries.connect(paths.warehouse)
    from pipeline.resources import Thresholds

    queries.set_variables(con, Thresholds().sql_variables())
    con.execute("CREATE SCHEMA IF NOT EXISTS bench")
    mart = queries.model_sql(REPO_ROOT, "monitor.import_concentration")
    con.execute(f"CREATE TABLE bench.mart_hs6 AS {queries.restricted_mart_sql(mart)}").fetchall()
    yield con, parquet
    con.close()


def test_floor_gives_the_marts_rows(bench_world):
    con, parquet = bench_world
    for arithmetic, value_tol in (("decimal", 1e-12), ("double", 1e-9)):
        floor = f"SELECT {COLS} FROM ({queries.floor_sql(parquet, arithmetic)})"
        got = queries.compare(con, floor, f"SELECT {COLS} FROM bench.mart_hs6")
        assert got["matched"] > 500, got
        assert queries.same_rows(got, hhi_tol=1e-12, value_tol=value_tol), (arithmetic, got)


def test_restricted_mart_equals_the_published_mart_rows(bench_world):
    con, _ = bench_world
    full = (f"SELECT {COLS} FROM monitor.import_concentration "
            "WHERE source = 'comtrade' AND product_level = 'HS6' AND partner_scope = 'all'")
    got = queries.compare(con, full, f"SELECT {COLS} FROM bench.mart_hs6")
    assert queries.same_rows(got, hhi_tol=0, value_tol=0), got


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


def test_restriction_refuses_a_mart_that_no_longer_reads_annual_flows():
    with pytest.raises(ValueError, match="annual_flows"):
        queries.restricted_mart_sql("SELECT 1 AS x FROM staging.trade_flows")


def test_scale_factors_map_to_demo_scale_and_years():
    from bench.run import parse_memory_limits, sf_plan

    assert sf_plan(0.1) == (0.1, [2023])
    assert sf_plan(1) == (1, [2023])
    assert sf_plan(5) == (1.0, [2019, 2020, 2021, 2022, 2023])
    assert parse_memory_limits(["5=2GB"]) == {"5": "2GB"}
    assert parse_memory_limits(["4GB"]) == {"*": "4GB"}
    assert Path(queries.FLOOR_SQL).is_file()
