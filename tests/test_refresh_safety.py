"""Refreshes that readers never notice, and crashes that publish nothing (issue 6).

The readers are processes of their own, reading the published file while a refresh replaces it; the run
that is killed is the real CLI in a process of its own, as a data engineer's scheduler would start it. The
refresh the readers watch, and the next run after two of the three kills, run the same job in this process
(a `geomon` process costs about 5 CPU-s more: start-up and its on-disk event log); the next run after the
kill while publishing is the CLI's (``pipeline.cli.main`` in this process), on the instance the killed run
recorded in.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, failure_messages, sdmx_rows

# mode "held": one connection open all along; mode "fresh": connect, read, close, every round.
# (DuckDB caches a database per process and path, so a process that keeps any connection
# open goes on seeing the file it opened: hence one process per mode.)
READER = r"""
import json, os, sys, time, duckdb
path, mode, stop_file, out = sys.argv[1:5]
held = duckdb.connect(path, read_only=True) if mode == "held" else None
results = []
while not os.path.exists(stop_file):
    con = held or duckdb.connect(path, read_only=True)
    snap = con.execute("SELECT snapshot_id FROM meta.publication").fetchall()[0][0]
    rows, total = con.execute("SELECT count(*), sum(allocated_value)::DOUBLE FROM monitor.import_concentration").fetchall()[0]
    results.append([mode, snap, rows, total])
    if held is None:
        con.close()
    time.sleep(0.1)  # a read every 0.1 s: some 80 per reader across a refresh, each one old or new
json.dump(results, open(out, "w"))
"""


def _digest(paths):
    """Every published byte; a killed publish's hidden temporaries are not published (the next run removes them)."""
    snapshot_files = [p for p in sorted(paths.snapshots.rglob("*"))
                      if not any(part.startswith(".") for part in p.relative_to(paths.snapshots).parts)]
    files = [paths.published_db, paths.latest_pointer, *snapshot_files]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def _fingerprint(runner):
    con = runner.published()
    try:
        snap = con.execute("SELECT snapshot_id FROM meta.publication").fetchall()[0][0]
        rows, total = con.execute(
            "SELECT count(*), sum(allocated_value)::DOUBLE FROM monitor.import_concentration").fetchall()[0]
        return [snap, rows, total]
    finally:
        con.close()


@pytest.fixture
def published(cli_publication, runner):
    """A copy of conftest's cli_publication (one file published by the CLI): each test starts from its own."""
    shutil.copytree(cli_publication, runner.paths.root)
    return runner


def test_readers_see_old_or_new_never_a_mix(published, tmp_path):
    runner = published
    old = _fingerprint(runner)

    stop = tmp_path / "stop"
    readers = {mode: subprocess.Popen([sys.executable, "-c", READER, str(runner.paths.published_db), mode, str(stop),
                                       str(tmp_path / f"{mode}.json")]) for mode in ("held", "fresh")}
    try:
        time.sleep(1.0)
        runner.write("landing/comext/b.csv", sdmx_rows([("DE", "US", "85051100", 1, "2024", 300),
                                                        ("DE", "CN", "85051100", 1, "2023", 50)]))
        refresh = runner.run(sources=("landing",))
        assert refresh.success, failure_messages(refresh)
        time.sleep(1.0)
    finally:
        stop.write_text("stop")
        for reader in readers.values():
            reader.wait(timeout=60)
    assert [r.returncode for r in readers.values()] == [0, 0]
    new = _fingerprint(runner)
    assert new != old
    reads = json.loads((tmp_path / "held.json").read_text()) + json.loads((tmp_path / "fresh.json").read_text())
    states = {tuple(r[1:]) for r in reads}
    assert states <= {tuple(old), tuple(new)}, states
    assert {tuple(r[1:]) for r in reads if r[0] == "held"} == {tuple(old)}   # the held file never changes
    assert tuple(new) in {tuple(r[1:]) for r in reads if r[0] == "fresh"}   # new connections see the refresh
    assert tuple(old) in {tuple(r[1:]) for r in reads if r[0] == "fresh"}
    assert len(reads) > 20


def _run_and_kill(data_dir, trigger):
    """Start `geomon run`, kill -9 it when ``trigger(line)`` is true for a log line or the publish temp appears."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--data-dir", str(data_dir), "run", "--sources", "landing",
         "--log-level", "DEBUG"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    killed = threading.Event()

    def watch_publish_temp():
        while proc.poll() is None and not killed.is_set():
            if trigger is None and any(data_dir.glob(".geomonitor.duckdb.tmp-*")):
                proc.send_signal(signal.SIGKILL)
                killed.set()
            time.sleep(0.005)

    watcher = threading.Thread(target=watch_publish_temp, daemon=True)
    watcher.start()
    for line in proc.stdout:
        if trigger is not None and trigger(line):
            proc.send_signal(signal.SIGKILL)
            killed.set()
            break
    proc.wait(timeout=120)
    return killed.is_set(), proc.returncode


STAGES = {
    "reading inputs": lambda line: "raw__comext_sdmx - STEP_START" in line,
    # the first mart done, the others still being built (the models are one step: assets/models.py)
    "building marts": lambda line: "sql_models - ASSET_MATERIALIZATION - Materialized value monitor " in line,
    "publishing": None,  # killed as soon as the publisher's temporary file exists
}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_run_killed_at_any_stage_leaves_the_publication_and_the_next_run_completes(published, stage, capsys):
    runner = published
    before = _digest(runner.paths)
    runner.write("landing/comext/b.csv", sdmx_rows([("DE", "US", "85051100", 1, "2024", 300)]))

    killed, code = _run_and_kill(runner.paths.root, STAGES[stage])
    assert killed and code == -signal.SIGKILL, f"the run was not killed during {stage}"
    assert _digest(runner.paths) == before

    if stage == "publishing":  # the CLI (in this process), on the data folder's Dagster instance with the killed run
        from pipeline.cli import main

        code = main(["--data-dir", str(runner.paths.root), "run", "--sources", "landing"])
        assert code == 0, capsys.readouterr().err[-2000:]
    else:
        again = runner.run(sources=("landing",))
        assert again.success, failure_messages(again)
    assert _fingerprint(runner)[1] > 0 and _digest(runner.paths) != before
    leftovers = list(runner.paths.root.glob(".geomonitor.duckdb.tmp-*")) + list(runner.paths.snapshots.glob(".tmp-*"))
    assert leftovers == []
