"""The fault drills. Issue 9: a full refresh against local fake UN Comtrade and Eurostat services that
misbehave (429s, 5xx, HTML error pages, timeouts, cut connections, truncated bodies), killed once midway
and rerun, publishes exactly what a fault-free refresh publishes; and the Comtrade key, known to the test,
appears in no log, event, file, table or snapshot afterwards.

Issue 25: the Comext file service alone, with every fault kind in turn (429, 5xx, timeouts, cut connections,
206 answers that end early on a cleanly closed stream) and a damaged archive twice, through ``geomon fetch
comext`` (bench/comext_fault_drill.py, also ``make bench-comext`` at a larger size).

Everything runs on 127.0.0.1 with bounded request counts; the CLI runs in a child process so it can be killed.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import REPO
from fake_comext import FakeComext, month_archive
from fake_comtrade import FakeComtrade, hs_codes, make_records

# every test runs geomon against the local fakes (tests/conftest.py: the tiers)
pytestmark = [pytest.mark.pipeline, pytest.mark.service]

FAKE_KEY = "geomon-drill-key-3b7f1d9e5a"
REPORTERS = [528, 276, 251, 842, 156]  # NLD DEU FRA USA CHN
PARTNERS = [4, 32, 36, 76, 124, 156, 251, 276, 392, 410, 484, 528, 699, 757, 842, 490]


def _comtrade(fault_rate):
    records = make_records(REPORTERS, [2023, 2024], ["M", "X"], hs_codes(6)[:60], PARTNERS,
                           sizes=lambda rng: rng.randint(30, 90), seed=11)
    return FakeComtrade(records, key=FAKE_KEY, fault_rate=fault_rate, seed=5, retry_after="0",
                        timeout_sleep=0.9, max_requests=5000)


def _comext(tmp_path, faulty):
    fake = FakeComext()
    for period in (202401, 202402):
        archive = month_archive(tmp_path / "months", period, rows=3000, seed=period)
        fake.put(archive.name, archive.read_bytes(), "2024-04-15T10:00:00")
    if faulty:
        fake.faults.status_first = [503, 429, 500, 502]
        fake.faults.retry_after = "0"
        fake.faults.drop_after_bytes = 20_000
    return fake


def _config(comtrade_url, comext, path):
    config = {
        "resources": {
            "comtrade": {"config": {"base_url": comtrade_url, "requests_per_second": 100, "timeout_s": 0.3,
                                    "max_attempts": 15, "backoff_base_s": 0.01, "backoff_max_s": 0.05,
                                    "max_retry_after_s": 5, "daily_call_limit": 0, "max_records_per_call": 100}},
            "comext_api": {"config": {**comext.api_settings(), "max_attempts": 8, "chunk_mb": 0.05}},
        },
        "ops": {
            "raw__comext_sdmx_files": {"config": {"queries": [{"reporter": ["NL", "DE", "FR"],
                                                               "product": ["39201081"],
                                                               "start_period": "2024-01",
                                                               "end_period": "2024-03"}]}},
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _env(dagster_home):
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "pipeline" / "dagster.yaml", dagster_home / "dagster.yaml")
    return {**os.environ, "COMTRADE_API_KEY": FAKE_KEY, "DAGSTER_HOME": str(dagster_home), "PYTHONUNBUFFERED": "1"}


# the fetch partitions (one Comtrade year, one Comext month each), then the build that reads what they left
FETCH_COMTRADE = ["fetch", "comtrade", "--reporters", ",".join(map(str, REPORTERS)), "--years", "2023-2024",
                  "--flows", "M,X", "--level", "AG6"]
FETCH_COMEXT = ["fetch", "comext", "--months", "2024-01..2024-02"]
RUN = ["run", "--sources", "api"]


def _refresh(data_dir, config, env, kill_when=None, cli=None):
    """Fetch (the Comtrade fetch killed once if ``kill_when``, then resumed), then build and publish; the
    exit code of the last command, everything printed, and whether a kill happened. ``cli`` runs each
    command after the kill (``_cli``: a process of its own; the killed one always is)."""
    cli = cli or _cli
    outs, killed = [], False
    if kill_when is not None:
        code, out, killed = _cli(data_dir, config, env, FETCH_COMTRADE, kill_when=kill_when)
        outs.append(out)
        if not killed:
            return code, "\n".join(outs), killed
    for argv in (FETCH_COMTRADE, FETCH_COMEXT, RUN):
        code, out, _ = cli(data_dir, config, env, argv)
        outs.append(out)
        if code != 0:
            break
    return code, "\n".join(outs), killed


def _cli(data_dir, config, env, argv, kill_when=None):
    cmd = [sys.executable, "-m", "pipeline.cli", "--data-dir", str(data_dir), *argv,
           "--config", str(config), "--log-level", "INFO", *(["--no-progress"] if argv[0] == "fetch" else [])]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = False
    if kill_when is not None:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if kill_when():
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.01)
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out, killed


def _cli_here(monkeypatch, capfd):
    """``_cli`` through ``pipeline.cli.main`` in this process, with the same environment and arguments, and
    everything written to stdout and stderr (Dagster's log lines included) as its output: for the fault-free
    reference and for the drill's commands after the kill, which would cost about 2.5 CPU-s of start-up each
    (the command that is killed stays a process of its own)."""
    from pipeline.cli import main

    def run(data_dir, config, env, argv, kill_when=None):
        assert kill_when is None
        for name in ("COMTRADE_API_KEY", "DAGSTER_HOME"):
            monkeypatch.setenv(name, env[name])
        capfd.readouterr()
        code = main(["--data-dir", str(data_dir), *argv, "--config", str(config), "--log-level", "INFO",
                     *(["--no-progress"] if argv[0] == "fetch" else [])])
        out, err = capfd.readouterr()
        return code, out + err, False

    return run


def _published_tables(data_dir):
    latest = (data_dir / "snapshots" / "LATEST").read_text().strip()
    manifest = json.loads((data_dir / "snapshots" / latest / "manifest.json").read_text())
    return {table: (meta["rows"], meta["sha256"]) for table, meta in manifest["tables"].items()}


def test_faults_and_a_kill_change_nothing_that_is_published_and_the_key_never_leaks(tmp_path, monkeypatch, capfd):
    clean_dir, drill_dir = tmp_path / "clean", tmp_path / "drill"
    logs = []

    # 1. the reference: the same services without faults, the same commands in this process
    with _comtrade(0.0) as comtrade, _comext(tmp_path, faulty=False) as comext:
        config = _config(comtrade.url, comext, tmp_path / "clean.yaml")
        code, out, _ = _refresh(clean_dir, config, _env(tmp_path / "home_clean"), cli=_cli_here(monkeypatch, capfd))
        logs.append(out)
        assert code == 0, out[-3000:]
    expected = _published_tables(clean_dir)
    assert expected["monitor.import_concentration"][0] > 0
    sources = json.loads((clean_dir / "snapshots" / (clean_dir / "snapshots" / "LATEST").read_text().strip()
                          / "manifest.json").read_text())["sources"]
    assert {s["table"] for s in sources} == {"raw.comtrade_records", "raw.comext_bulk", "raw.comext_sdmx"}

    # 2. the drill: faults everywhere, the run killed once while it fetches, then rerun to the end
    with _comtrade(0.10) as comtrade, _comext(tmp_path, faulty=True) as comext:
        config = _config(comtrade.url, comext, tmp_path / "drill.yaml")
        env = _env(tmp_path / "home_drill")
        pages = drill_dir / "raw" / "comtrade"
        code, out, killed = _refresh(drill_dir, config, env, cli=_cli_here(monkeypatch, capfd),
                                     kill_when=lambda: pages.is_dir() and len(list(pages.glob("*.json.gz"))) >= 5)
        logs.append(out)
        assert killed, "the drill's Comtrade fetch finished before it could be killed"
        assert code == 0, out[-3000:]
        faults = sum(comtrade.faults.values())
        keyed = comtrade.keyed_calls
        comext_requests = len(comext.requests())
    assert faults >= 5, "the fake injected too few faults to call this a drill"
    assert keyed > 0, "the key was never sent, so the scan below would prove nothing"
    assert comext_requests > 0
    assert _published_tables(drill_dir) == expected

    # 3. the key: nowhere in what the runs printed, logged, stored or published
    needle = FAKE_KEY.encode()
    assert not any(FAKE_KEY in out for out in logs)
    leaks = []
    for root in (clean_dir, drill_dir, tmp_path / "home_clean", tmp_path / "home_drill"):
        for path in root.rglob("*"):
            if path.is_file() and needle in path.read_bytes():
                leaks.append(str(path))
    assert leaks == []


def test_comext_file_service_drill_every_fault_kind_and_damaged_archives(tmp_path):
    sys.path.insert(0, str(REPO))
    from bench.comext_fault_drill import DRILL_FAULTS, run_drill

    figures = run_drill(tmp_path, months=3, rows=3000, fault_every=2, chunk_kb=32, timeout_s=0.3)
    assert set(figures["faults_injected"]) == set(DRILL_FAULTS), figures["faults_injected"]
    assert [s["exit"] for s in figures["steps"]] == [1, 0, 1, 0, 0], figures["steps"]
    failed = [check for check, ok in figures["checks"].items() if not ok]
    assert failed == [], figures
    # the failing fetch says which month, which file and why
    [reason] = [line for line in figures["steps"][0]["said"] if "full_v2_202402.7z" in line]
    assert "month 2024-02" in reason and "LZMAError: Corrupt input data" in reason and "tries the month again" in reason
