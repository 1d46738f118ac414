"""The pipeline's private DuckDB file and the pool every writer of it runs in."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Iterator

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from pipeline.resources.settings import DataFolder

# Every asset that writes the working database runs in this pool; the instance
# config (pipeline/dagster.yaml) limits it to one at a time, because DuckDB
# allows a single writer process.
DUCKDB_POOL = "duckdb_writer"


class Warehouse(ConfigurableResource):
    """The pipeline's private DuckDB file (``<data dir>/work/warehouse.duckdb``).

    Analysts never open it: they read the published ``geomonitor.duckdb``.
    Connections go through Dagster's DuckDBResource, which retries while
    another process holds the lock.
    """

    data: DataFolder
    # 2 GB keeps a world-scale year (SF1) under 3 GB of RSS on a laptop: DuckDB spills to
    # temp_directory beyond it; empty = DuckDB's own default (80% of RAM)
    memory_limit: str = Field(default="2GB", description="DuckDB memory_limit, e.g. '4GB'; empty = DuckDB's "
                                                         "default (80% of RAM). DuckDB spills beyond it.")
    threads: int = Field(default=0, description="DuckDB threads; 0 = one per core.")

    _held: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _closing: ExitStack | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # One connection for as long as the resource lives (a whole in-process run, or one step of the
        # multiprocess executor): every get_connection() is a cursor on it. Opening and closing the file
        # for each step cost about 10 ms a time, 70 times in a run, a checkpoint each time the last one
        # closed; the data is just as safe (DuckDB's WAL; a killed run's is replayed at the next open).
        self._closing = ExitStack()
        self._held = self._closing.enter_context(self._connect())

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._closing is not None:
            self._held = None
            self._closing.close()
            self._closing = None

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._held is None:
            with self._connect() as conn:
                yield conn
            return
        cursor = self._held.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        paths = self.data.paths()
        paths.work.mkdir(parents=True, exist_ok=True)
        config: dict[str, object] = {"temp_directory": str(paths.duckdb_temp)}
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        if self.threads:
            config["threads"] = self.threads
        with DuckDBResource(database=str(paths.warehouse), connection_config=config).get_connection() as conn:
            # no progress bar: DuckDB draws it on the process's stdout, into geomon's output and the logs
            conn.execute("SET enable_progress_bar = false")
            yield conn
