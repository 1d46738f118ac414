"""The SQL models as one Dagster step (assets/models.py): two models built at once leave the tables one at a
time leaves, a model with large inputs is built alone, and a failed check or a broken model stops only
what is downstream of it, fails the run and publishes nothing."""

from __future__ import annotations

import importlib
import shutil
import threading
import time

import duckdb
import pytest

from conftest import Runner, ephemeral_instance, failure_messages, sdmx_rows
from pipeline import demo_world

YEARS = (2022, 2023)
SCALE = 0.001  # about 23k Comext and 9k Comtrade flows a year: rows in every model
META_COLUMNS = "table_name, year, code_version, input_fp, output_fp"  # meta.model_builds but its built_at


def _record_builds(monkeypatch) -> list[tuple[str, float, float]]:
    """(table, start, end) of every model build of the runs that follow, from the worker threads."""
    import assets.models

    spans: list[tuple[str, float, float]] = []
    lock = threading.Lock()
    build = assets.models._build_model

    def recorded(session, model):
        start = time.perf_counter()
        try:
            return build(session, model)
        finally:
            with lock:
                spans.append((model.table, start, time.perf_counter()))

    monkeypatch.setattr(assets.models, "_build_model", recorded)
    return spans


def _most_at_once(spans) -> int:
    edges = sorted([(s, 1) for _, s, _ in spans] + [(e, -1) for _, _, e in spans], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _tables(warehouse) -> dict[str, str]:
    """Every model table of a warehouse (and the build records without their time), as a query."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [f"{s}.{t}" for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN ('staging', 'monitor') "
            "ORDER BY ALL").fetchall()]
    return {**{n: f"SELECT * FROM {n}" for n in names},
            "meta.model_builds": f"SELECT {META_COLUMNS} FROM meta.model_builds"}


def _differences(left, right) -> dict[str, tuple[int, int]]:
    """Per table: rows only in ``left``, rows only in ``right`` (EXCEPT ALL both ways); empty if identical."""
    queries = _tables(left)
    assert queries.keys() == _tables(right).keys()
    con = duckdb.connect()
    con.execute(f"ATTACH '{left}' AS l (READ_ONLY); ATTACH '{right}' AS r (READ_ONLY)")
    out = {}
    for name, sql in queries.items():
        a, b = sql.replace(" FROM ", " FROM l."), sql.replace(" FROM ", " FROM r.")
        only = [con.execute(f"SELECT count(*) FROM ({x} EXCEPT ALL {y})").fetchall()[0][0] for x, y in ((a, b), (b, a))]
        if any(only):
            out[name] = tuple(only)
    return out


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world") / "landing"
    demo_world.generate(folder, scale=SCALE, years=YEARS, comtrade_format="bulk")
    return folder


def _run_on(landing, root, monkeypatch) -> Runner:
    runner = Runner(root, monkeypatch)
    shutil.copytree(landing, runner.paths.root / "landing")
    # the models alone: the test reads their builds, checks and warehouse tables, not a publication
    result = runner.run(warehouse_only=True)
    assert result.success, failure_messages(result)
    runner.result = result
    return runner


@pytest.mark.pipeline
def test_two_models_at_once_leave_the_tables_one_at_a_time_leaves(landing, tmp_path, monkeypatch):
    import assets.models

    spans = _record_builds(monkeypatch)
    monkeypatch.setattr(assets.models, "WORKERS", 2)
    two = _run_on(landing, tmp_path / "two", monkeypatch)
    # every model in the one step, each an asset of its own with its checks
    steps = {e.step_key for e in two.result.get_asset_materialization_events()
             if e.asset_key.path[0] in ("staging", "monitor")}
    assert steps == {"sql_models"}
    built = {t for t, _, _ in spans}
    assert len(built) == len(spans) >= 30 and "monitor.import_concentration" in built
    checked = {(c.asset_key.to_user_string(), c.check_name) for c in two.result.get_asset_check_evaluations()}
    assert ("monitor/import_concentration", "hhi_bounds") in checked
    assert _most_at_once(spans) == 2, spans  # two models were built at once

    _one_asset_and_its_checks_alone(two, spans)

    spans.clear()
    monkeypatch.setattr(assets.models, "WORKERS", 1)
    one = _run_on(landing, tmp_path / "one", monkeypatch)
    assert _most_at_once(spans) == 1 and {t for t, _, _ in spans} == built
    assert _differences(two.paths.warehouse, one.paths.warehouse) == {}

    # inputs above WHOLE_BUILD_ROWS (here: any input) build a model with no other beside it, at two workers
    spans.clear()
    monkeypatch.setattr(assets.models, "WORKERS", 2)
    monkeypatch.setattr(assets.models, "WHOLE_BUILD_ROWS", -1)
    alone = _run_on(landing, tmp_path / "alone", monkeypatch)
    assert _most_at_once(spans) == 1 and {t for t, _, _ in spans} == built
    assert _differences(two.paths.warehouse, alone.paths.warehouse) == {}


def _one_asset_and_its_checks_alone(runner, spans):
    """The UI's "Materialize" of one model builds that model alone; its checks run alone on the table as it is."""
    from dagster import AssetCheckKey, AssetKey, AssetSelection, define_asset_job

    from conftest import IN_PROCESS_RUN
    from pipeline.definitions import definitions

    key = AssetKey(["monitor", "import_concentration"])
    spans.clear()
    defs = definitions(data_dir=str(runner.paths.root), comtrade_key="")
    one = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        run_config=IN_PROCESS_RUN, instance=ephemeral_instance(), asset_selection=[key])
    assert one.success and [t for t, _, _ in spans] == ["monitor.import_concentration"]
    [event] = one.get_asset_materialization_events()
    assert event.asset_key == key
    assert event.materialization.metadata["build"].value == "unchanged inputs: nothing rebuilt"
    assert {c.check_name for c in one.get_asset_check_evaluations()} >= {"unique_grain", "hhi_bounds"}

    job = define_asset_job("checks_only", selection=AssetSelection.checks(AssetCheckKey(key, "hhi_bounds")))
    checks = _with_job(defs, job).resolve_job_def("checks_only").execute_in_process(
        run_config=IN_PROCESS_RUN, instance=ephemeral_instance())
    assert checks.success and checks.get_asset_materialization_events() == []
    [evaluation] = checks.get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.passed, evaluation.metadata["checked_rows"].value) == (
        "hhi_bounds", True, "all")


def _with_job(defs, job):
    from dagster import Definitions

    return Definitions.merge(defs, Definitions(jobs=[job]))


# A check that fails on the data (France's magnets come 5/6 from China: HHI 0.72), a model below it, a model
# with a bug (a cast that fails on the rows) and a model below that one.
FAILING = """-- A test's mart whose blocking check fails on the data.
-- grain: source, reporter, year, product_code
-- check hhi_below_half: hhi < 0.5
SELECT source, reporter, year, product_code, hhi FROM monitor.import_concentration
WHERE reporter = 'FRA' AND product_level = 'HS6' AND partner_scope = 'all'
"""
BELOW_FAILING = """-- A test's mart below the failing one.
SELECT * FROM monitor.toy_failing
"""
BROKEN = """-- A test's mart that cannot be built: a reporter code is no number.
SELECT source, reporter, year, CAST(reporter AS INTEGER) AS reporter_number FROM monitor.import_concentration
"""
BELOW_BROKEN = """-- A test's mart below the broken one.
SELECT * FROM monitor.toy_broken
"""


@pytest.mark.pipeline
def test_a_failed_check_or_a_broken_model_stops_what_is_below_it_and_publishes_nothing(tmp_path, monkeypatch, capsys):
    import pipeline.definitions
    from pipeline import sql_models
    from pipeline.cli import main

    models = tmp_path / "models" / "monitor"
    models.mkdir(parents=True)
    for name, text in {"toy_failing": FAILING, "toy_below_failing": BELOW_FAILING, "toy_broken": BROKEN,
                       "toy_below_broken": BELOW_BROKEN}.items():
        (models / f"{name}.sql").write_text(text)
    monkeypatch.setattr(sql_models, "EXTRA_MODEL_DIRS", (tmp_path / "models",))
    importlib.reload(pipeline.definitions)  # its assets are made from the models when it is loaded
    try:
        root = tmp_path / "data"
        (root / "landing" / "comext").mkdir(parents=True)
        (root / "landing" / "comext" / "a.csv").write_text(sdmx_rows(
            [("FR", "CN", "85051100", 1, "2024", 500), ("FR", "US", "85051100", 1, "2024", 100)]))
        capsys.readouterr()
        code = main(["--data-dir", str(root), "run", "--sources", "landing"])
        err = capsys.readouterr().err
    finally:
        monkeypatch.undo()
        importlib.reload(pipeline.definitions)
    assert code == 1
    assert "nothing was published" in err and not (root / "geomonitor.duckdb").exists()
    # the failed check, and the broken model named with its file and DuckDB's reason
    assert "  monitor/toy_failing hhi_below_half: failing_rows: 1; predicate: hhi < 0.5;" in err, err
    assert "toy_failing unique_grain" not in err, err
    broken = [line for line in err.splitlines() if "toy_broken" in line]
    assert len(broken) == 1 and broken[0].startswith(f"  monitor.toy_broken ({models}/toy_broken.sql): "
                                                     "Conversion Error: Could not convert string 'FRA'"), err
    with duckdb.connect(str(root / "work" / "warehouse.duckdb"), read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables()").fetchall()}
        recorded = {t for (t,) in con.execute("SELECT DISTINCT table_name FROM meta.model_builds").fetchall()}
    # nothing below either was built; the failing model's build is not recorded (the next run builds it again)
    assert "monitor.toy_failing" in tables and not {"monitor.toy_below_failing", "monitor.toy_below_broken"} & tables
    assert not {"monitor.toy_failing", "monitor.toy_broken"} & recorded
    # every other model was built and recorded
    assert {"monitor.import_concentration", "monitor.ec_screen", "monitor.bloc_member_counts"} <= recorded
