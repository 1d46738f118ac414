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
"""

from __future__ import annotations

import os
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


def _tune(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class HeldConnectionEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one held connection per database file (see the module docstring)."""

    def __init__(self, base_dir: str, inst_data=None):
        # set before the parent's __init__, which may already connect (a new index is reindexed)
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._present_tables: frozenset[str] = frozenset()
        super().__init__(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        if self._engines_pid != os.getpid():  # a forked child: the parent's connections are not its own
            self._engines, self._engines_pid = OrderedDict(), os.getpid()
        engine = self._engines.get(shard)
        if engine is None:
            # one connection shared by the threads of the process: every use is under self._db_lock
            engine = create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
            sa_event.listen(engine, "connect", _tune)
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
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

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
        super().dispose()

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> HeldConnectionEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @staticmethod
    def config_for(base_dir: str) -> dict:
        """The instance's ``event_log_storage`` entry for this class on ``base_dir`` (``<home>/history/runs``)."""
        return {"module": __name__, "class": HeldConnectionEventLogStorage.__name__,
                "config": {"base_dir": base_dir}}

