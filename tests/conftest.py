"""Shared test helpers: run the real Dagster job on a temporary data folder, and build what several test
modules read (the embedded default world) once per test session, across pytest-xdist workers.

Two tiers (issue 27). ``make test`` runs every test (CI). ``make test-fast`` runs the unit tier, the tests
marked with none of TIER_MARKS: parsers and readers on small files, the SQL models on the in-memory harness
(tests/sql_harness.py), command-line parsing, access rules, reference data. A test leaves the unit tier by
what it does, never by the file it is in (a file mixes both):

- ``pipeline``: runs a Dagster job (the refresh job through ``Runner``, the readers' run in ``SqlRunner``,
  ``geomon fetch``'s materializations), a project command in a process of its own (``geomon``,
  ``python -m pipeline...``, a build script), or reads a folder one of them built. Marked automatically when
  the test's fixtures (their whole closure) include one of PIPELINE_FIXTURES; by hand otherwise.
- ``service``: starts a local HTTP service (the fake Comtrade API and Comext file service, a webhook
  receiver) and drives a client against it, with its rate limits, retries and waits.
- ``browser``: drives headless Chromium.
- ``world``: generates the synthetic demo world (pipeline.demo_world), seconds a world.
- ``oracle``: compares a whole world's published tables with the independent polars oracle (tests/oracle).
- ``property``: a Hypothesis property test (each example rebuilds models): marked automatically.

No list can be forgotten: in a test of the unit tier (none of TIER_MARKS), running a Dagster job, starting a
Python process, ``geomon`` or Chromium, or opening a local server fails at once, naming the mark to add. Under
``make test-fast`` (only unit-tier tests run, and their module fixtures are built inside them) this catches
every test that belongs elsewhere, whatever file it is in; under ``make test`` it catches the same unless
the work happened in a module fixture another, marked, test built first. Timings are not asserted anywhere:
they belong to the benchmarks (``make bench``), and the tier's rule is what it does, not how long it took.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import duckdb
import pytest

from pipeline.paths import DATA_DIR_ENV, DataPaths

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


# The in-process runs' config: Dagster's console quiet, and DuckDB on one thread. The suite runs one pytest worker
# per core, so DuckDB's thread per core doubled the threads on every core: one thread gives the same results
# with less CPU. The runs through the CLI (refresh safety, fault drill, CLI failure, the published file's
# byte-for-byte reruns there) keep DuckDB's default, so results that depend on threads are still caught.
IN_PROCESS_RUN = {"loggers": {"console": {"config": {"log_level": "ERROR"}}},
                  "resources": {"warehouse": {"config": {"threads": 1}}}}


def _held_connection(storage):
    """``connect()`` for an in-memory Dagster storage that hands out the one connection the storage already holds
    (``_held_conn``), in a transaction, under a lock: Dagster's own opens a new SQLite connection and sets two
    pragmas for each of its ~2,100 calls in a run (a third of a small run's CPU-s, 2026-12-08). A call inside
    another's, in the same thread, joins its transaction."""
    import contextlib
    import threading

    lock = threading.RLock()
    conn = storage._held_conn
    conn.exec_driver_sql("PRAGMA foreign_keys=ON")  # as Dagster's connect sets it (outside a transaction)
    conn.commit()

    @contextlib.contextmanager
    def connect():
        with lock:
            if conn.in_transaction():
                yield conn
            else:
                with conn.begin():
                    yield conn

    return connect


def ephemeral_instance():
    """``DagsterInstance.ephemeral()`` (the same in-memory storages, launcher and coordinator) whose run and event
    storages keep one SQLite connection each (``_held_connection``): the in-process runs' instance. The pipeline
    does not read the instance (its builds' state is in the warehouse); the CLI's runs, in a process of their own
    or through ``pipeline.cli.main``, use the data folder's instance on disk as on a user's machine. The classes
    are Dagster's internals (dagster 1.13's create_ephemeral_instance), so a Dagster upgrade checks them here."""
    from dagster import DagsterInstance
    from dagster._core.instance import InstanceType
    from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
    from dagster._core.run_coordinator import DefaultRunCoordinator
    from dagster._core.storage.event_log import InMemoryEventLogStorage
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    from dagster._core.storage.root import TemporaryLocalArtifactStorage
    from dagster._core.storage.runs import InMemoryRunStorage

    runs, events = InMemoryRunStorage(), InMemoryEventLogStorage()
    runs.connect = _held_connection(runs)
    events._connect = _held_connection(events)
    return DagsterInstance(instance_type=InstanceType.EPHEMERAL, local_artifact_storage=TemporaryLocalArtifactStorage(),
                           run_storage=runs, event_storage=events, compute_log_manager=NoOpComputeLogManager(),
                           run_coordinator=DefaultRunCoordinator(), run_launcher=SyncInMemoryRunLauncher())


class _WorkbookInThread:
    """``pipeline.publish.write.WorkbookProcess``'s interface, writing the workbook in the publisher's thread
    pool (the same ``workbook_file``, on the same file, manifest and access classes) instead of a fresh
    interpreter: each in-process publication saved the worker's start-up and imports (about 1 CPU-s of ~46
    publications, 2026-12-08). The worker's own process is tested where it matters: every `geomon` run in a
    process of its own, and test_publication_speed's runs, which replace its command (``Runner.run`` keeps
    the process when ``worker_command`` is not the module's own)."""

    def write(self, database, folder, manifest, access):
        from pipeline.publish.workbook_process import workbook_file

        return workbook_file(Path(database).resolve(), Path(folder).resolve(), manifest, access)

    def close(self):
        pass


def _in_process_publication(mp: pytest.MonkeyPatch) -> None:
    """An in-process run's publication writes its workbook in a thread (``_WorkbookInThread``), unless the test
    replaced the worker's command (it tests the worker's process)."""
    import pipeline.publish.workbook_process as worker
    import pipeline.publish.write as write

    if worker.worker_command.__module__ == worker.__name__:
        mp.setattr(write, "WorkbookProcess", _WorkbookInThread)


class Runner:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.paths = DataPaths(root)
        monkeypatch.setenv(DATA_DIR_ENV, str(root))

    def write(self, relative: str, content: str | bytes) -> Path:
        path = self.paths.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def run(self, sources=("landing",), warehouse_only=False, **settings):
        """The refresh job; ``warehouse_only``: without its publish/ assets (the publication and the report), for
        a test that reads the working database and the models' metadata alone, not what a run publishes."""
        from pipeline.definitions import definitions

        # comtrade_key "": the keyless preview, whatever key the environment holds (no test calls the real API)
        defs = definitions(data_dir=str(self.paths.root), comtrade_key="", sources=list(sources), **settings)
        job = defs.resolve_job_def("refresh")
        selection = None
        if warehouse_only:
            selection = [k for k in job.asset_layer.executable_asset_keys if k.path[0] != "publish"]
        with pytest.MonkeyPatch.context() as mp:
            _in_process_publication(mp)
            return job.execute_in_process(
                run_config=IN_PROCESS_RUN,
                instance=ephemeral_instance(),
                raise_on_error=False,
                asset_selection=selection,
            )

    def published(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.paths.published_db), read_only=True)

    def warehouse(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.paths.warehouse), read_only=True)


# The modules pytest-xdist hands out first (`make test`: --dist loadfile --no-loadscope-reorder gives whole
# modules in collection order): the one whose first tests build the session's default world, then the others
# by their CPU seconds in a full `make test` (2026-12-08, both workers busy, load 6-10: incremental 47,
# refresh safety 47, CLI failure 36, rolling 35, oracle 35 with the default world's build, SQL models step
# 33, fault drill 28, publication guard 23, bad input 20, snapshots by year 19, properties 16, Comext bulk 14,
# SQL model cache 14; dev instance 10 but 30 s of waits). Started last, any of them would leave one worker
# running it alone at the end; the rest keep their order.
FIRST = ("test_oracle.py", "test_incremental.py", "test_refresh_safety.py", "test_cli_failure.py", "test_rolling.py",
         "test_sql_models_step.py", "test_fault_drill.py", "test_publication_guard.py", "test_bad_input.py",
         "test_snapshots_years.py", "test_dev_instance.py", "test_properties.py", "test_comext_bulk.py",
         "test_sql_model_cache.py", "test_publication_speed.py", "test_changes.py", "test_report.py",
         "test_fetch_cli.py", "test_comtrade_client.py", "test_snapshots.py", "test_storage_compat.py")


# The marks that take a test out of the unit tier (`make test-fast` deselects them; pyproject.toml describes
# them), and the fixtures whose users are pipeline tests: the shared worlds, and the runners whose ``run``
# executes a Dagster job.
TIER_MARKS = ("pipeline", "service", "browser", "world", "oracle", "property")
PIPELINE_FIXTURES = frozenset({"default_world", "default_rerun", "small_publication", "sample_publication",
                               "adversarial_publication", "cli_publication", "runner", "sql_runner"})


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))  # stable: the others keep their order
    for item in items:
        # fixturenames is the closure: a module fixture built on default_world counts as default_world
        if PIPELINE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pipeline)
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)


# The unit-tier test being run (None while a marked test runs), for the guard below.
_UNIT_TEST: list = [None]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item):
    _UNIT_TEST[0] = None if any(item.get_closest_marker(m) for m in TIER_MARKS) else item
    try:
        yield
    finally:
        _UNIT_TEST[0] = None


def _refuse_in_unit_tier(mark: str, what: str) -> None:
    item = _UNIT_TEST[0]
    if item is not None:
        pytest.fail(f"{item.nodeid} {what}, so it is not a unit test: mark it @pytest.mark.{mark} "
                    "(tests/conftest.py's docstring has the tiers' rule)", pytrace=False)


def _program(args) -> str:
    """The name of the program a subprocess starts ('python3.11', 'geomon', 'chromium', 'ps')."""
    if isinstance(args, (str, bytes)):  # a command line (shell=True): its first word
        words = os.fsdecode(args).split()
        return Path(words[0]).name if words else ""
    argv = [args] if isinstance(args, os.PathLike) else list(args)
    return Path(os.fsdecode(argv[0])).name if argv else ""


@pytest.fixture(scope="session", autouse=True)
def _unit_tier_guard():
    """The guard of the tiers' rule (the module docstring): in a unit-tier test, a Dagster job, a project
    command in a process of its own, or a local server fails the test where it is called (Chromium: browser)."""
    import socketserver
    import subprocess

    from dagster import JobDefinition

    execute, popen, serve = JobDefinition.execute_in_process, subprocess.Popen.__init__, socketserver.TCPServer.__init__

    def guarded_execute(self, *args, **kwargs):
        _refuse_in_unit_tier("pipeline", f"runs the Dagster job {self.name!r}")
        return execute(self, *args, **kwargs)

    def guarded_popen(self, args, *rest, **kwargs):
        program = _program(args)
        if program.startswith("python") or program == "geomon":  # not ps, mount, the duckdb CLI
            _refuse_in_unit_tier("pipeline", f"runs {program} in a process of its own")
        elif program.startswith("chrom"):
            _refuse_in_unit_tier("browser", f"starts {program}")
        return popen(self, args, *rest, **kwargs)

    def guarded_serve(self, address, *args, **kwargs):
        _refuse_in_unit_tier("service", f"starts a local server on {address!r}")
        return serve(self, address, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(JobDefinition, "execute_in_process", guarded_execute)
        mp.setattr(subprocess.Popen, "__init__", guarded_popen)
        mp.setattr(socketserver.TCPServer, "__init__", guarded_serve)
        yield


@pytest.fixture
def runner(tmp_path, monkeypatch) -> Runner:
    return Runner(tmp_path / "data", monkeypatch)


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that ``build(folder)`` fills, built once per test session however many pytest-xdist workers
    ask for it: the first to take the lock builds, the others wait and reuse (pytest-xdist's documented
    pattern). Readers must not write to it; a test that changes data works on ``copy_data``'s copy. A failed
    build is recorded, so the other workers fail with its message at once instead of building again."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker's basetemp is popen-gwN inside the session's
        base = base.parent
    folder, done, failed = base / name, base / f"{name}.built", base / f"{name}.failed"
    with FileLock(str(base / f"{name}.lock")):
        if failed.exists():
            pytest.fail(f"building the shared {name} failed in another worker:\n{failed.read_text()}")
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            try:
                build(folder)
            except BaseException as exc:
                failed.write_text(str(exc) or repr(exc))
                raise
            done.write_text("ok")
    return folder


def copy_data(root: Path, target: Path, monkeypatch: pytest.MonkeyPatch) -> Runner:
    """A Runner on a private copy of a built data folder, for tests that run the job again or change files."""
    shutil.copytree(root, target, symlinks=True)
    return Runner(target, monkeypatch)


class BuiltWorld(Runner):
    """A Runner on a data folder the refresh job has already published, shared by every test module of the
    session (see ``built_once``): ``published()`` and ``warehouse()`` read it; ``materializations`` holds the
    build's asset materialization metadata by op name (the Dagster result does not cross processes), and
    ``settings`` the run's, for a rerun on a copy, and ``checks`` its check verdicts. ``run`` is refused: a test that reruns the job does it on ``copy_data(world.paths.root, ...)``."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        super().__init__(root, monkeypatch)
        build = json.loads((root.parent / "build.json").read_text())
        self.settings, self.materializations = build["settings"], build["materializations"]
        self.checks = build["checks"]  # 'asset/key:check_name' -> passed

    def run(self, *args, **kwargs):
        raise AssertionError("the shared world is read-only: run the job on copy_data(world.paths.root, ...)")


def _plain(value):
    """A metadata value as JSON: numbers, strings, lists and dicts as they are, anything else (a TableSchema,
    a path) as its text."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if type(value) is list:
        return [_plain(v) for v in value]
    return str(value)


def _publish(folder: Path, settings: dict, files: dict[str, str] | None = None) -> None:
    """A refresh run on ``folder/data`` (after writing ``files`` there) and its record for BuiltWorld."""
    with pytest.MonkeyPatch.context() as mp:
        runner = Runner(folder / "data", mp)
        for relative, content in (files or {}).items():
            runner.write(relative, content)
        result = runner.run(**settings)
        assert result.success, f"building {folder.name} failed:\n" + failure_messages(result)
    metadata: dict[str, list[dict]] = {}
    for event in result.get_asset_materialization_events():
        values = {k: _plain(v.value) for k, v in event.event_specific_data.materialization.metadata.items()}
        metadata.setdefault(event.node_handle.name, []).append(values)
    checks = {f"{c.asset_key.to_user_string()}:{c.check_name}": c.passed for c in result.get_asset_check_evaluations()}
    (folder / "build.json").write_text(json.dumps({"settings": settings, "materializations": metadata,
                                                   "checks": checks}))


def _build_default_world(folder: Path) -> None:
    from pipeline.resources import InputSettings

    # `geomon run`'s defaults: its sources (sample, demo, landing, api; the new folder has nothing in
    # landing/ or raw/, so the real sample extracts and the synthetic demo world) and its demo scale
    _publish(folder, {"sources": list(InputSettings().sources)})


@pytest.fixture(scope="module")
def default_world(tmp_path_factory) -> BuiltWorld:
    """The embedded default as `geomon run` publishes it, built once per session; read-only."""
    root = built_once(tmp_path_factory, "default_world", _build_default_world) / "data"
    with pytest.MonkeyPatch.context() as mp:
        yield BuiltWorld(root, mp)


def _build_default_rerun(folder: Path, world: Path) -> None:
    shutil.copytree(world.parent, folder, symlinks=True)  # the data folder and the first run's build.json
    _publish(folder, json.loads((world.parent / "build.json").read_text())["settings"])


@pytest.fixture(scope="module")
def default_rerun(default_world, tmp_path_factory) -> BuiltWorld:
    """The embedded default run a second time on the same inputs (a copy of default_world's folder, its settings),
    built once per session; read-only. The end-to-end rerun and the publication guard's rerun both read it (the
    same run twice before); ``default_world`` is the publication before it."""
    build = lambda folder: _build_default_rerun(folder, default_world.paths.root)  # noqa: E731
    root = built_once(tmp_path_factory, "default_rerun", build) / "data"
    with pytest.MonkeyPatch.context() as mp:
        yield BuiltWorld(root, mp)


# France imports 85051100 (permanent magnets) from China and the US in 2024
SMALL_COMEXT = [("FR", "CN", "85051100", 1, "2024", 500), ("FR", "US", "85051100", 1, "2024", 100)]


def _build_small_publication(folder: Path) -> None:
    _publish(folder, {"sources": ["landing"]}, {"landing/comext/good.csv": sdmx_rows(SMALL_COMEXT)})


@pytest.fixture(scope="module")
def small_publication(tmp_path_factory) -> BuiltWorld:
    """One Comext file (SMALL_COMEXT, landing/comext/good.csv) published, built once per session; read-only:
    the snapshot, access and bad-input tests read it or start from a copy."""
    root = built_once(tmp_path_factory, "small_publication", _build_small_publication) / "data"
    with pytest.MonkeyPatch.context() as mp:
        yield BuiltWorld(root, mp)


def _build_sample_publication(folder: Path) -> None:
    _publish(folder, {"sources": ["sample"]})


@pytest.fixture(scope="module")
def sample_publication(tmp_path_factory) -> BuiltWorld:
    """The real sample extracts (data/sample) alone published, built once per session; read-only: the real
    fixture's and the NL-share hand computations read it (three runs of the same job before)."""
    root = built_once(tmp_path_factory, "sample_publication", _build_sample_publication) / "data"
    with pytest.MonkeyPatch.context() as mp:
        yield BuiltWorld(root, mp)


def _build_adversarial_publication(folder: Path) -> None:
    from adversarial_world import write_adversarial_world

    write_adversarial_world(folder / "data")  # landing/comext and landing/comtrade with their release sidecars
    _publish(folder, {"sources": ["landing"]})


@pytest.fixture(scope="module")
def adversarial_publication(tmp_path_factory) -> BuiltWorld:
    """The adversarial world (tests/adversarial_world.py, every edge the contract names) published from
    landing/, built once per session; read-only: the oracle's and the beyond screens' comparisons read it (two
    runs of the same job before)."""
    root = built_once(tmp_path_factory, "adversarial_publication", _build_adversarial_publication) / "data"
    with pytest.MonkeyPatch.context() as mp:
        yield BuiltWorld(root, mp)


def _build_cli_publication(folder: Path) -> None:
    import subprocess
    import sys

    root = folder / "data"
    (root / "landing" / "comext").mkdir(parents=True)
    (root / "landing" / "comext" / "a.csv").write_text(sdmx_rows([("FR", "CN", "85051100", 1, "2024", 500)]))
    env = {**os.environ, "COMTRADE_API_KEY": ""}  # keyless: a developer's real key stays out of a test run
    env.pop("DAGSTER_HOME", None)  # the data folder's own instance (<data>/dagster_home), as on a user's machine
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "--data-dir", str(root), "run", "--sources", "landing"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.fixture(scope="module")
def cli_publication(tmp_path_factory) -> Path:
    """The data folder of one `geomon run` (the CLI, in its own process) on one Comext file, with the Dagster
    instance that run recorded in; built once per session, read-only: tests start from a copy."""
    return built_once(tmp_path_factory, "cli_publication", _build_cli_publication) / "data"


RAW_ASSETS = (("raw", "comext_sdmx"), ("raw", "comext_bulk"), ("raw", "comtrade_records"))


class SqlResult:
    """What SqlRunner.run did: ``success`` as the refresh job's, ``messages`` as failure_messages gives."""

    def __init__(self, success: bool, messages: str):
        self.success, self.messages = success, messages


class SqlRunner(Runner):
    """Runner's interface for the semantics of the SQL (the base of the test pyramid): the real ingestion
    assets read the files (a Dagster run of the raw assets alone, the real readers and quarantine), and the
    SQL models and their checks run on the in-memory harness (tests/sql_harness.py), the same SQL and
    variables as the model assets. ``published()`` is the harness's database: monitor.* and staging.*
    tables as the job builds them (no snapshot, no meta.*; end-to-end tests use Runner)."""

    def ingest(self, sources=("landing",), **settings):
        """The raw assets alone (and the demo world's when ``sources`` has it): the readers' own run."""
        from dagster import AssetKey

        from pipeline.definitions import definitions

        defs = definitions(data_dir=str(self.paths.root), comtrade_key="", sources=list(sources), **settings)
        keys = [AssetKey(list(k)) for k in RAW_ASSETS] + ([AssetKey(["raw", "demo_world"])] if "demo" in sources else [])
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            run_config=IN_PROCESS_RUN,
            instance=ephemeral_instance(), raise_on_error=False, asset_selection=keys,
        )

    def run(self, sources=("landing",), **settings) -> SqlResult:
        from pipeline.resources import Thresholds
        from sql_harness import Harness

        thresholds = {k: v for k, v in settings.items() if k in Thresholds.model_fields}
        ingested = self.ingest(sources, **{k: v for k, v in settings.items() if k not in thresholds})
        if not ingested.success:
            return SqlResult(False, failure_messages(ingested))
        self.harness = Harness(**thresholds)
        self.harness.copy_raw(self.paths.warehouse)
        failed = self.harness.build_all()
        return SqlResult(not self.harness.blocked, "\n".join(failed))

    def published(self) -> duckdb.DuckDBPyConnection:
        return self.harness.con.cursor()  # closing it (``with``) leaves the harness open

    warehouse = published


@pytest.fixture
def sql_runner(tmp_path, monkeypatch) -> SqlRunner:
    return SqlRunner(tmp_path / "data", monkeypatch)


def materializations(result) -> dict[str, dict]:
    """A run's materialization metadata per asset key ('layer/name'), as plain values."""
    out = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        out["/".join(mat.asset_key.path)] = {k: v.value for k, v in mat.metadata.items()}
    return out


def failure_messages(result) -> str:
    """Step errors and failed checks of a run, as one string to assert on."""
    if isinstance(result, SqlResult):
        return result.messages
    parts = [e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure]
    parts += [f"check {c.check_name} failed" + "".join(f"\n  {k}: {v.value}" for k, v in c.metadata.items())
              for c in result.get_asset_check_evaluations() if not c.passed]
    return "\n".join(parts)


SDMX_HEADER = "DATAFLOW,LAST UPDATE,freq,reporter,partner,product,flow,indicators,TIME_PERIOD,OBS_VALUE"


def sdmx_rows(rows: list[tuple]) -> str:
    """An SDMX-CSV file of (reporter, partner, product, flow, period, value) observations."""
    lines = [SDMX_HEADER] + [
        f"ESTAT:DS-045409(1.0),13/02/26 11:00:00,{'M' if '-' in period else 'A'},{r},{p},{prod},{flow},"
        f"VALUE_IN_EUROS,{period},{value}"
        for r, p, prod, flow, period, value in rows
    ]
    return "\n".join(lines) + "\n"


COMTRADE_CODES = {"NLD": 528, "DEU": 276, "FRA": 251, "CHN": 156, "USA": 842, "KOR": 410, "BEL": 56, "JPN": 392,
                  "IND": 699, "BRA": 76, "TWN": 490, "WORLD": 0}


def comtrade_page(records: list[tuple]) -> str:
    """A v1 API page of (reporter, flow 'M'|'X', partner, hs6, year, value) records, ISO3 or 'WORLD'."""
    import json

    data = [
        {"typeCode": "C", "freqCode": "A", "refPeriodId": year * 10000 + 101, "refYear": year, "refMonth": 52,
         "period": str(year), "reporterCode": COMTRADE_CODES[reporter], "flowCode": flow,
         "partnerCode": COMTRADE_CODES[partner], "partner2Code": 0, "classificationCode": "H6",
         "cmdCode": hs6, "aggrLevel": 6, "isLeaf": True, "customsCode": "C00", "mosCode": "0", "motCode": 0,
         "primaryValue": float(value), "cifvalue": float(value) if flow == "M" else None,
         "fobvalue": float(value) if flow == "X" else None}
        for reporter, flow, partner, hs6, year, value in records
    ]
    return json.dumps({"elapsedTime": "0.0 secs", "count": len(data), "data": data, "error": ""})


class _WebhookReceiver:
    """A local webhook receiver (127.0.0.1) that records the JSON bodies posted to it."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer

        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver():
    """A receiver's ``url`` and the ``bodies`` posted to it, for as long as the test runs."""
    receiver = _WebhookReceiver()
    yield receiver
    receiver.close()


def published_bytes(root: Path) -> dict[str, str]:
    """The SHA-256 of every file users read in a data folder: geomonitor.duckdb, the snapshots with LATEST and
    pins (not a killed publish's hidden temporaries), and the report."""
    import hashlib

    snapshots = root / "snapshots"
    snapshot_files = [p for p in sorted(snapshots.rglob("*"))
                      if not any(part.startswith(".") for part in p.relative_to(snapshots).parts)]
    files = [root / "geomonitor.duckdb", *snapshot_files, root / "report" / "index.html"]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}
