"""The event log of a shell run: Dagster's SQLite event log, in the same files, written at a fraction of the cost.

Dagster's ``SqliteEventLogStorage`` opens a new SQLAlchemy engine and SQLite connection for every event and closes
it again. Closing the last connection to a WAL database checkpoints it, and every commit waits for an fsync: about
11 ms an event on this machine, 609 events in a `geomon run` (6.9 s, 154 of them before the first step, written by
Dagster's create_run), more on a busy disk. This subclass keeps one connection per database file (the index and the
run's own file) open while the process writes, in WAL mode with ``synchronous=NORMAL``, SQLite's recommended
setting for WAL: a commit no longer waits for the disk, only a checkpoint does. A process that dies (even killed)
loses nothing it committed: the WAL file is replayed by the next connection. Only a power cut or an OS crash can
lose the last commits, and what an event log loses then is what the process that wrote it lost too.

The files, tables and rows are exactly Dagster's, so `make dev` (the stock class, from pipeline/dagster.yaml) reads
them. Its live view of a run follows the run's ``<run id>.db`` file with watchdog, which a write held in the WAL
would not touch: the file's time is touched after each stored event so the UI still updates as the run goes.

The instance's other SQLite files (``history/runs.db``, ``schedules/schedules.db``) are Dagster's own storages, which
open a connection per call. While this storage is in use, every SQLite connection this process opens to a file of the
instance's home is set to WAL with ``synchronous=NORMAL`` too (a fresh home's tables are then created without an fsync
per statement: 58 of them), and one idle connection per such file is held until :meth:`dispose`, so the close of
Dagster's last connection no longer checkpoints the file (an fsync) after each call: create_run alone makes dozens.
Each of these storages, and each new run file, also asks alembic for the schema's head revision, and alembic reads its
90 migration scripts anew each time (8 times before the first step of a run in a fresh folder): the scripts of one
folder are read once per process instead (:func:`_share_revision_maps`).

A new run begins with one planned event per asset and per check of the job (154 in `geomon run`: 50 assets, 104
checks), which Dagster hands over as one batch when batch writing is on (:func:`batch_planned_events`): the batch is
stored in one transaction per file (:meth:`HeldConnectionEventLogStorage.store_event_batch`), the same rows in the
same order as one event at a time, 4-5 times faster (tests/test_event_log.py).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

# the index and the run's file are what a run writes; a few more for reads of other runs in a long process
OPEN_FILES = 4
# events of one batch Dagster buffers before it hands them over (a new run's planned events: one per asset and check)
BATCH_SIZE = 1000

# home folder (with a trailing separator) -> the idle connections held to its Dagster-managed files (module docstring)
_TUNED: dict[str, dict[str, sqlite3.Connection]] = {}
_TUNED_LOCK = threading.Lock()
_listening = False


def _tune(dbapi_connection, _record) -> None:
    """SQLAlchemy's ``connect`` hook for every engine of the process: WAL and ``synchronous=NORMAL`` for a SQLite
    file under a tuned home, and a held idle connection to it if it is not one of the event log's own files."""
    if not _TUNED or not isinstance(dbapi_connection, sqlite3.Connection):
        return
    path = next((row[2] for row in dbapi_connection.execute("PRAGMA database_list") if row[1] == "main"), "")
    with _TUNED_LOCK:
        home = next((h for h in _TUNED if path.startswith(h)), None)
    if home is None:
        return
    dbapi_connection.execute("PRAGMA journal_mode=WAL")  # what Dagster sets once the tables exist: before them
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    if os.sep + os.path.join("history", "runs") + os.sep in path[len(home) - 1:]:
        return  # the event log's files: held by the storage itself, and one a run (too many to hold them all)
    with _TUNED_LOCK:
        held = _TUNED.get(home)
        if held is not None and path not in held:
            held[path] = sqlite3.connect(path, check_same_thread=False)
            held[path].execute("PRAGMA schema_version").fetchall()  # a read: only then does it share the WAL


def _share_revision_maps() -> None:
    """Make alembic's ``ScriptDirectory.from_config`` give every script directory of one folder the revision map read
    first (the migration scripts of the installed Dagster do not change while the process runs)."""
    from alembic.script import ScriptDirectory

    if getattr(ScriptDirectory.from_config, "shares_revision_maps", False):
        return
    original = ScriptDirectory.from_config
    maps: dict[tuple, object] = {}

    def from_config(config, *args, **kwargs):
        script = original(config, *args, **kwargs)
        key = (script.dir, tuple(script.version_locations), script.recursive_version_locations, script.sourceless)
        script.revision_map = maps.setdefault(key, script.revision_map)
        return script

    from_config.shares_revision_maps = True
    ScriptDirectory.from_config = staticmethod(from_config)


def tune_home(home: str) -> None:
    """Tune the SQLite files under ``home`` (the module docstring) until :func:`untune_home`."""
    global _listening
    with _TUNED_LOCK:
        if not _listening:
            sa_event.listen(Engine, "connect", _tune)
            _share_revision_maps()
            _listening = True
        _TUNED.setdefault(os.path.join(os.path.abspath(home), ""), {})


def untune_home(home: str) -> None:
    with _TUNED_LOCK:
        held = _TUNED.pop(os.path.join(os.path.abspath(home), ""), {})
    for connection in held.values():
        connection.close()


class HeldConnectionEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one held connection per database file (see the module docstring)."""

    def __init__(self, base_dir: str, inst_data=None):
        # set before the parent's __init__, which may already connect (a new index is reindexed)
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._present_tables: frozenset[str] = frozenset()
        # <home>/history/runs/: the home's SQLite files are tuned while this storage lives (module docstring)
        self._home = os.path.dirname(os.path.dirname(os.path.abspath(base_dir)))
        self._batch: dict[str, Connection] | None = None  # shard -> the open transaction of a batch being stored
        tune_home(self._home)
        super().__init__(base_dir, inst_data=inst_data)
        # re-entrant: a batch holds it while each of its events takes it again (store_event_batch)
        self._db_lock = threading.RLock()

    def _engine(self, shard: str) -> Engine:
        if self._engines_pid != os.getpid():  # a forked child: the parent's connections are not its own
            self._engines, self._engines_pid = OrderedDict(), os.getpid()
        engine = self._engines.get(shard)
        if engine is None:
            # one connection shared by the threads of the process: every use is under self._db_lock
            engine = create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
            self._engines[shard] = engine
            while len(self._engines) > OPEN_FILES:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # the parent's _connect with a held engine instead of a new one for each call
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            if self._batch is not None:  # inside store_event_batch: the batch's transaction on this file
                conn = self._batch.get(shard)
                if conn is None:
                    conn = self._batch[shard] = engine.connect()
                    conn.begin()
                yield conn
                return
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def store_event_batch(self, events) -> None:
        """The events in order, as ``store_event`` stores each, in one transaction per file: committed together
        at the end, or (an error) none of them, and Dagster then stores them one at a time."""
        with self._db_lock:
            self._batch = {}
            try:
                for event in events:
                    SqliteEventLogStorage.store_event(self, event)
                for conn in self._batch.values():
                    conn.commit()
            except BaseException:
                for conn in self._batch.values():
                    conn.rollback()
                raise
            finally:
                batch, self._batch = self._batch, None
                for conn in batch.values():
                    conn.close()
        for run_id in {event.run_id for event in events if event.run_id}:
            try:
                os.utime(self.path_for_shard(run_id))  # as store_event does, once per run of the batch
            except OSError:
                pass

    def has_table(self, table_name: str) -> bool:
        # asked with every asset and check event (a new engine and connection each time); a table once there stays
        if table_name not in self._present_tables and super().has_table(table_name):
            self._present_tables |= {table_name}
        return table_name in self._present_tables

    def store_event(self, event) -> None:
        super().store_event(event)
        if event.run_id:
            # the UI's watchdog follows <run id>.db (see the module docstring); a touch is no disk write
            try:
                os.utime(self.path_for_shard(event.run_id))
            except OSError:
                pass

    def dispose(self) -> None:
        with self._db_lock:
            while self._engines:
                _, engine = self._engines.popitem()
                engine.dispose()
        untune_home(self._home)
        super().dispose()

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> HeldConnectionEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @staticmethod
    def config_for(base_dir: str) -> dict:
        """The instance's ``event_log_storage`` entry for this class on ``base_dir`` (``<home>/history/runs``)."""
        return {"module": __name__, "class": HeldConnectionEventLogStorage.__name__,
                "config": {"base_dir": base_dir}}



def batch_planned_events(instance) -> None:
    """Have ``instance`` hand a new run's planned events to its event log as one batch (Dagster buffers events sent
    with batch metadata when its batch size is above 0, which it otherwise reads from the environment variable
    DAGSTER_EVENT_BATCH_SIZE). Only for an instance whose event log is this module's: its ``store_event_batch``
    writes a batch in one transaction per file; Dagster's SQLite class would store it one event at a time anyway."""
    if isinstance(instance.event_log_storage, HeldConnectionEventLogStorage):
        instance._get_event_batch_size = lambda: BATCH_SIZE
