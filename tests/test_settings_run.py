"""The settings through real commands (issue 27 part 3): a Comtrade key planted in the environment is sent to
the (local, fake) API and reaches none of what `geomon fetch` and `geomon run` print, log, record or write;
each command reads the environment once; and the publication's meta.parameters holds the thresholds the run
used, also when a config file sets them."""

from __future__ import annotations

import contextlib
import io
import os

import duckdb
import pytest

from fake_comtrade import FakeComtrade, hs_codes, make_records, partner_codes
from pipeline.cli import main
from test_settings import OUR_VARIABLES, SpiedEnviron

KEY = "planted-settings-key-5d9e27b1"


@pytest.fixture(scope="module")
def keyed_run(tmp_path_factory):
    """A fetch from the fake API with the planted key (faults included, so that error paths log too), then a
    run on what it fetched with two thresholds from a config file; everything printed and the reads."""
    root = tmp_path_factory.mktemp("keyed_run")
    data = root / "data"
    config = root / "run.yaml"
    config.write_text("resources: {thresholds: {config: {crma_benchmark: 0.7, min_world_reporters: 1}}}\n")
    fetch_config = root / "fetch.yaml"  # retries without waiting
    fetch_config.write_text("resources: {comtrade: {config: {max_attempts: 10, backoff_base_s: 0.01, "
                            "backoff_max_s: 0.05}}}\n")
    records = make_records([528, 276], [2023], ["M", "X"], hs_codes(6)[:80], partner_codes()[:10],
                           sizes=lambda rng: rng.randint(5, 40), seed=8)
    spy = SpiedEnviron({k: v for k, v in os.environ.items() if k not in OUR_VARIABLES})
    spy["COMTRADE_API_KEY"] = KEY
    printed, reads = io.StringIO(), {}
    with pytest.MonkeyPatch.context() as mp, FakeComtrade(records, key=KEY, fault_rate=0.2, seed=2,
                                                          retry_after="0") as fake:
        mp.setattr(os, "environ", spy)
        commands = {
            "fetch": ["--data-dir", str(data), "fetch", "comtrade", "--reporters", "528,276", "--years", "2023",
                      "--flows", "M,X", "--level", "AG6", "--base-url", fake.url, "--rate", "0",
                      "--config", str(fetch_config), "--log-level", "DEBUG", "--no-progress"],
            "run": ["--data-dir", str(data), "run", "--sources", "api", "--config", str(config),
                    "--log-level", "DEBUG"],
        }
        codes = {}
        for name, argv in commands.items():
            spy.reads.clear()
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                codes[name] = main(argv)
            reads[name] = {variable: spy.count(variable) for variable in OUR_VARIABLES}
        keyed, faults = fake.keyed_calls, sum(fake.faults.values())
    assert codes == {"fetch": 0, "run": 0}, printed.getvalue()[-3000:]
    return {"data": data, "printed": printed.getvalue(), "reads": reads, "keyed": keyed, "faults": faults}


@pytest.mark.service
def test_a_planted_key_reaches_no_output_log_metadata_or_file(keyed_run):
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    assert keyed_run["keyed"] > 0, "the key was never sent: the scan below would prove nothing"
    assert keyed_run["faults"] > 0
    assert "DEBUG" in keyed_run["printed"] and KEY not in keyed_run["printed"]
    # the runs' events, metadata and config as the Dagster instance recorded them
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(keyed_run["data"] / "dagster_home")))
    runs = instance.get_runs()
    assert {run.job_name for run in runs} >= {"refresh"}
    for run in runs:
        assert KEY not in repr(run.run_config) and KEY not in repr(run.tags)
        logs = instance.all_logs(run.run_id)
        assert any(e.dagster_event and e.dagster_event.is_step_materialization for e in logs)
        assert not [e for e in logs if KEY in repr(e)]
    instance.dispose()
    # every file of the data folder: pages, Parquet, warehouse, publication, snapshots, the instance's SQLite
    files = [p for p in keyed_run["data"].rglob("*") if p.is_file()]
    assert len(files) > 20
    assert [str(p) for p in files if KEY.encode() in p.read_bytes()] == []


@pytest.mark.service
def test_each_command_reads_the_environment_once(keyed_run):
    assert keyed_run["reads"] == {"fetch": dict.fromkeys(OUR_VARIABLES, 1), "run": dict.fromkeys(OUR_VARIABLES, 1)}


@pytest.mark.service
def test_meta_parameters_holds_the_thresholds_the_run_used(keyed_run):
    from pipeline.settings import ScreenThresholds

    con = duckdb.connect(str(keyed_run["data"] / "geomonitor.duckdb"), read_only=True)
    parameters = dict(con.execute("SELECT name, value FROM meta.parameters").fetchall())
    con.close()
    # the two the config file set, and the defaults of the others (docs/methodology.md: C1 at HHI > 0.4)
    assert parameters["crma_benchmark"] == 0.7 and parameters["min_world_reporters"] == 1
    assert parameters["ec_c1_hhi"] == 0.4 and parameters["hs_target_edition"] == 6
    assert set(parameters) == set(ScreenThresholds.model_fields)  # every threshold handed to SQL is recorded
