"""The event log a shell run writes (pipeline/cli/event_log.py, issue 28): one held connection per SQLite file
instead of a connection per event, the same files `make dev` reads with Dagster's own class, live, and nothing
lost when the process is killed."""

import os
import signal
import sqlite3.dbapi2
import subprocess
import sys
import textwrap
import time

import pytest
from dagster import AssetKey, DagsterEventType, Definitions
from dagster._core.event_api import EventLogCursor
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from conftest import REPO
from pipeline.cli.instance import instance_for, run_tags
from pipeline.paths import DataPaths

pytestmark = pytest.mark.pipeline  # each test runs a small Dagster job on a data folder's instance


@pytest.fixture(autouse=True)
def _data_folder_home(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # the data folder's own instance, as on a user's machine

JOB = """
from dagster import AssetCheckResult, Definitions, asset, asset_check, define_asset_job

@asset(key_prefix="raw")
def flows() -> None:
    pass

@asset(key_prefix="staging", deps=[flows])
def annual() -> None:
    pass

@asset(key_prefix="monitor", deps=[annual])
def concentration() -> None:
    pass

@asset_check(asset=concentration, blocking=True)
def hhi_bounds() -> AssetCheckResult:
    return AssetCheckResult(passed=True)

defs = Definitions(assets=[flows, annual, concentration], asset_checks=[hhi_bounds],
                   jobs=[define_asset_job("refresh")])
"""


def _defs() -> Definitions:
    namespace: dict = {}
    exec(compile(JOB, "job", "exec"), namespace)  # the same three assets and check as the killed process runs
    return namespace["defs"]


def _stock(paths: DataPaths) -> SqliteEventLogStorage:
    """The event log as `make dev` opens it: Dagster's own class on <data>/dagster_home/history/runs."""
    return SqliteEventLogStorage(str(paths.root / "dagster_home" / "history" / "runs"))


def test_a_shell_run_writes_its_events_on_held_connections(tmp_path, monkeypatch):
    paths = DataPaths(tmp_path / "data")
    runs = str(paths.root / "dagster_home" / "history" / "runs")
    opened = []
    connect = sqlite3.dbapi2.connect  # what SQLAlchemy's pysqlite dialect calls

    def counting(database, *args, **kwargs):
        if os.path.dirname(str(database)) == runs:  # the event log's files (history/runs.db is the run storage)
            opened.append(os.path.basename(str(database)))
        return connect(database, *args, **kwargs)

    with instance_for(paths) as instance:
        monkeypatch.setattr(sqlite3.dbapi2, "connect", counting)
        result = _defs().resolve_job_def("refresh").execute_in_process(instance=instance, tags=run_tags())
        monkeypatch.undo()
    assert result.success
    stored = _stock(paths).get_records_for_run(result.run_id).records
    assert len(stored) >= 25  # planned, started, outputs, materializations, the check, the run's own
    # Dagster's class opened each file once or twice per event (more than 50 connections here)
    assert len(opened) <= 4, opened
    assert set(opened) <= {"index.db", f"{result.run_id}.db"}


def test_the_ui_reads_the_run_with_dagsters_own_class(tmp_path):
    paths = DataPaths(tmp_path / "data")
    with instance_for(paths) as instance:
        result = _defs().resolve_job_def("refresh").execute_in_process(instance=instance, tags=run_tags())
        written = [r.event_log_entry.dagster_event_type for r in instance.get_records_for_run(result.run_id).records]
    stock = _stock(paths)
    read = [r.event_log_entry.dagster_event_type for r in stock.get_records_for_run(result.run_id).records]
    assert read == written and DagsterEventType.RUN_SUCCESS in read
    # the cross-run index the asset pages read: the materialization and the check's evaluation
    latest = stock.get_latest_materialization_events([AssetKey(["monitor", "concentration"])])
    assert latest[AssetKey(["monitor", "concentration"])].run_id == result.run_id
    checks = stock.get_asset_check_execution_history(
        next(iter(_defs().resolve_asset_graph().asset_check_keys)), limit=5)
    assert [c.run_id for c in checks] == [result.run_id]


def test_the_ui_follows_a_shell_run_live(tmp_path):
    """`make dev`'s run page is fed by a watchdog on <run id>.db: a new event of a run in progress reaches it while
    the shell process still holds its connection (the write is in the WAL, not the file the watchdog follows)."""
    paths = DataPaths(tmp_path / "data")
    with instance_for(paths) as instance:
        result = _defs().resolve_job_def("refresh").execute_in_process(instance=instance, tags=run_tags())
        stock = _stock(paths)
        last = stock.get_records_for_run(result.run_id).records[-1].storage_id
        seen = []

        def follow(entry, _cursor):
            seen.append(entry.message)

        stock.watch(result.run_id, EventLogCursor.from_storage_id(last).to_string(), follow)
        try:
            time.sleep(0.5)  # the observer thread is up
            instance.report_engine_event("a line the UI shows at once", instance.get_run_by_id(result.run_id))
            deadline = time.monotonic() + 10
            while not seen and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stock.end_watch(result.run_id, follow)
            stock.dispose()
    assert seen == ["a line the UI shows at once"]


KILLED = textwrap.dedent("""
    import os, signal, sys
    from pipeline.cli.instance import instance_for, run_tags
    from pipeline.paths import DataPaths
    namespace = {}
    exec(sys.stdin.read(), namespace)
    instance = instance_for(DataPaths.resolve(sys.argv[1]))
    result = namespace["defs"].resolve_job_def("refresh").execute_in_process(instance=instance, tags=run_tags())
    print(result.run_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no dispose, no interpreter exit: the connections are never closed
""")


def test_a_killed_process_loses_no_event(tmp_path):
    paths = DataPaths(tmp_path / "data")
    proc = subprocess.run([sys.executable, "-c", KILLED, str(paths.root)], input=JOB, capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    run_id = proc.stdout.split()[0]
    stock = _stock(paths)
    types = [r.event_log_entry.dagster_event_type for r in stock.get_records_for_run(run_id).records
             if r.event_log_entry.dagster_event_type]
    assert types[-1] == DagsterEventType.RUN_SUCCESS and types.count(DagsterEventType.ASSET_MATERIALIZATION) == 3
    assert stock.get_latest_materialization_events([AssetKey(["raw", "flows"])])[AssetKey(["raw", "flows"])]


def test_a_home_that_chooses_its_storage_keeps_it(tmp_path, monkeypatch):
    """A dagster.yaml with a storage key (Postgres on a server, say; here SQLite named explicitly) is used as it is."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {home}\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with instance_for(DataPaths(tmp_path / "data")) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        assert not (tmp_path / "data" / "dagster_home").exists()


def test_the_run_storage_is_not_checkpointed_by_every_call_and_is_released_on_dispose(tmp_path):
    """Dagster's run storage opens and closes a connection per call; closing the last one checkpoints the file and
    deletes its WAL (an fsync each time). While a shell run's instance is open one idle connection is held to it, so
    its writes stay in the WAL; disposing the instance closes that connection (checkpoint, WAL gone) and the run is in
    the file `make dev` reads."""
    paths = DataPaths(tmp_path / "data")
    history = paths.root / "dagster_home" / "history"
    with instance_for(paths) as instance:
        result = _defs().resolve_job_def("refresh").execute_in_process(instance=instance, tags=run_tags())
        assert result.success
        wal = history / "runs.db-wal"
        assert wal.exists() and wal.stat().st_size > 0
    assert not wal.exists()
    from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

    assert SqliteRunStorage.from_local(str(history)).get_run_records()[0].dagster_run.is_success
    open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.exists(f"/proc/self/fd/{fd}")}
    assert str(history / "runs.db") not in open_files


def test_a_fresh_folder_reads_dagster_migration_scripts_once(tmp_path, monkeypatch):
    """Each storage of a new instance, and the new run's event file, asks alembic for the head revision: the
    migration scripts (90 files) are read once per process, not once per question."""
    from alembic.script.base import ScriptDirectory

    reads = []
    load = ScriptDirectory._load_revisions

    def counting(self):
        reads.append(self.dir)
        yield from load(self)

    monkeypatch.setattr(ScriptDirectory, "_load_revisions", counting)
    with instance_for(DataPaths(tmp_path / "data")) as instance:
        assert _defs().resolve_job_def("refresh").execute_in_process(instance=instance, tags=run_tags()).success
    assert len(reads) <= 1, reads


MANY = """
from dagster import AssetCheckResult, Definitions, asset, asset_check, define_asset_job

assets, checks = [], []
for i in range(40):
    @asset(name=f"table_{i:02d}", key_prefix="monitor", deps=assets[-1:])
    def table() -> None:
        pass

    @asset_check(asset=table, name="bounds", blocking=True)
    def bounds() -> AssetCheckResult:
        return AssetCheckResult(passed=True)

    assets.append(table)
    checks.append(bounds)

defs = Definitions(assets=assets, asset_checks=checks, jobs=[define_asset_job("refresh")])
"""


def _planned_run(paths: DataPaths, one_at_a_time: bool = False) -> tuple[str, list[str]]:
    """A run of MANY created on the data folder's instance (its planned events stored, nothing executed): its id and
    the files of every commit made meanwhile."""
    from dagster._core.execution.api import create_execution_plan
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    namespace: dict = {}
    exec(compile(MANY, "many", "exec"), namespace)
    job = namespace["defs"].resolve_job_def("refresh")
    commits: list[str] = []

    def committed(conn):
        commits.append(os.path.basename(conn.engine.url.database or ""))

    with instance_for(paths) as instance:
        if one_at_a_time:
            instance._get_event_batch_size = lambda: 0  # Dagster's default: each event stored on its own
        event.listen(Engine, "commit", committed)
        try:
            run = instance.create_run_for_job(job_def=job, execution_plan=create_execution_plan(job),
                                              tags=run_tags())
        finally:
            event.remove(Engine, "commit", committed)
    return run.run_id, commits


def _events(paths: DataPaths, run_id: str) -> list[tuple]:
    return [(e.event_type, e.step_key, repr(e.event_specific_data))
            for e in (r.event_log_entry.get_dagster_event() for r in _stock(paths).get_records_for_run(run_id).records)]


def test_a_new_runs_planned_events_are_stored_in_one_transaction_per_file(tmp_path):
    """A run starts with a planned event per asset and per check (154 in `geomon run`), which Dagster stored one at a
    time, each in transactions of its own on the run's file and the index: they are one batch now, one transaction
    per file, and `make dev`'s class reads the same events in the same order as when they were stored one by one."""
    batched, alone = DataPaths(tmp_path / "batched"), DataPaths(tmp_path / "alone")
    run_id, commits = _planned_run(batched)
    alone_id, alone_commits = _planned_run(alone, one_at_a_time=True)
    events = _events(batched, run_id)
    assert events == _events(alone, alone_id)
    assert [t for t, *_ in events].count(DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED) == 40
    assert [t for t, *_ in events].count(DagsterEventType.ASSET_MATERIALIZATION_PLANNED) == 40
    # the index the asset and check pages read has them too: every asset's latest run, every check's planned execution
    from dagster import AssetCheckKey

    keys = [AssetKey(["monitor", f"table_{i:02d}"]) for i in range(40)]
    assert [r.asset_entry.last_run_id for r in _stock(batched).get_asset_records(keys)] == [run_id] * 40
    for key in keys:
        [planned] = _stock(batched).get_asset_check_execution_history(AssetCheckKey(key, "bounds"), limit=5)
        assert planned.run_id == run_id and planned.status.value == "PLANNED"
    assert alone_commits.count(f"{alone_id}.db") >= 80  # one at a time: at least a commit per event
    # the batch: one commit on each file (the new run file's own table creation besides)
    assert commits.count(f"{run_id}.db") <= 3 and commits.count("index.db") <= 2, commits
