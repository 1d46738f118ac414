"""Shared test helpers: run the real Dagster job on a temporary data folder."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.paths import DATA_DIR_ENV, DataPaths

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


class Runner:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.paths = DataPaths(root)
        monkeypatch.setenv(DATA_DIR_ENV, str(root))
        # the Comtrade client reads its key through Dagster's EnvVar, which needs the variable to exist;
        # empty means "no key": the keyless preview endpoint (no test calls the real API)
        monkeypatch.setenv("COMTRADE_API_KEY", "")

    def write(self, relative: str, content: str | bytes) -> Path:
        path = self.paths.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def run(self, sources=("landing",), **settings):
        from dagster import DagsterInstance

        from pipeline.definitions import definitions

        defs = definitions(data_dir=str(self.paths.root), comtrade_key="", sources=list(sources), **settings)
        return defs.resolve_job_def("refresh").execute_in_process(
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            instance=DagsterInstance.ephemeral(),
            raise_on_error=False,
        )

    def published(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.paths.published_db), read_only=True)

    def warehouse(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.paths.warehouse), read_only=True)


@pytest.fixture
def runner(tmp_path, monkeypatch) -> Runner:
    return Runner(tmp_path / "data", monkeypatch)


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
        from dagster import AssetKey, DagsterInstance

        from pipeline.definitions import definitions

        defs = definitions(data_dir=str(self.paths.root), comtrade_key="", sources=list(sources), **settings)
        keys = [AssetKey(list(k)) for k in RAW_ASSETS] + ([AssetKey(["raw", "demo_world"])] if "demo" in sources else [])
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            instance=DagsterInstance.ephemeral(), raise_on_error=False, asset_selection=keys,
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
