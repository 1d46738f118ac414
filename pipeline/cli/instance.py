"""The Dagster instance the shell shares with ``make dev``, and what a killed shell run leaves behind.

Runs record in ``$DAGSTER_HOME`` when set, else ``<data dir>/dagster_home`` (created with
pipeline/dagster.yaml), so the UI shows the runs, materializations and checks of ``geomon run``
and ``geomon fetch``. A persistent instance also keeps the concurrency slots of its pools (one
DuckDB writer at a time): a shell run killed with SIGKILL never gives its slot back, and the next
run would wait for it forever. Every shell run is therefore tagged with its host and pid, and
before a new one starts, runs of this host whose process is gone are marked failed and their
slots freed. Runs started from the UI carry no such tag and are never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from pipeline.paths import DataPaths
from pipeline.settings import environment

PID_TAG, HOST_TAG = "geomon/pid", "geomon/host"


def run_tags() -> dict[str, str]:
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


# the keys of dagster.yaml that choose the instance's storage: with none of them it is Dagster's SQLite default
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage", "instance_class")


def instance_for(paths: DataPaths):
    """The shared instance, after releasing what killed shell runs of this host left.

    When the home's dagster.yaml leaves the storage at Dagster's SQLite default (pipeline/dagster.yaml does), the
    events of this process are written by pipeline/cli/event_log.py into the same files: a sixth of the cost per
    event. A home configured with other storage (Postgres, say) is used as configured."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    configured = environment().dagster_home
    if configured:
        home = Path(os.path.expanduser(configured))
        if not (home.is_absolute() and home.is_dir()):
            DagsterInstance.get()  # raises Dagster's own error for a DAGSTER_HOME that is not an absolute folder
    else:
        home = paths.root / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():
            shutil.copyfile(Path(__file__).resolve().parents[1] / "dagster.yaml", home / "dagster.yaml")
    overrides = {}
    held = not _storage_keys(home)
    if held:
        from pipeline.cli.event_log import HeldConnectionEventLogStorage, tune_home

        tune_home(str(home))  # before the run storage, created first (pipeline/cli/event_log.py)
        overrides["event_log_storage"] = HeldConnectionEventLogStorage.config_for(
            os.path.join(home, "history", "runs", ""))
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=overrides))
    if held:
        from pipeline.cli.event_log import batch_planned_events

        batch_planned_events(instance)  # a new run's planned events in one transaction (pipeline/cli/event_log.py)
    release_dead_runs(instance)
    return instance


def _storage_keys(home: Path) -> set[str]:
    """The storage keys home/dagster.yaml sets."""
    import yaml  # PyYAML comes with Dagster

    config = home / "dagster.yaml"
    loaded = yaml.safe_load(config.read_text(encoding="utf-8")) if config.exists() else None
    return set(STORAGE_KEYS) & set(loaded or {})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def release_dead_runs(instance) -> list[str]:
    """Mark unfinished shell runs of this host whose process is gone as failed and free their pool slots."""
    from dagster import DagsterRunStatus, RunsFilter

    unfinished = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED,
                  DagsterRunStatus.QUEUED, DagsterRunStatus.CANCELING]
    host = socket.gethostname()
    released = []
    for run in instance.get_runs(RunsFilter(statuses=unfinished, tags={HOST_TAG: host})):
        pid = run.tags.get(PID_TAG, "")
        if pid.isdigit() and not _alive(int(pid)):
            instance.report_run_failed(run, f"the geomon process (pid {pid}) that ran it is gone (killed)")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            released.append(run.run_id)
    return released
