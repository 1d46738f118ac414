"""A failed `geomon run` ends with its answer: the file, line and reason, that the publication did not
change, and what to do next, without Dagster's own noise (issue 15, item 7); a run that would publish an
empty monitor, or one on a read-only data folder, says so in a few lines and changes nothing (issue 25)."""

import json
import shutil
import subprocess
import sys

import pytest

from conftest import published_bytes, sdmx_rows


def _geomon(data_dir, *args):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=600)


def _geomon_here(capsys, data_dir, *args):
    """The same command through ``pipeline.cli.main`` in this process: its exit code and what it printed,
    as ``_geomon`` gives them. Each behaviour below (an exit code, a refusal, a summary) keeps one command in
    a process of its own; the others run here, without a process's start-up (about 2.5 CPU-s a command)."""
    from pipeline.cli import main

    capsys.readouterr()  # what the test printed before is not the command's
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["geomon", *args], code, out, err)


def test_a_malformed_file_is_named_with_its_line_and_the_next_step(small_publication, tmp_path, capsys):
    # a good publication to keep (the session's small one: landing/comext/good.csv), then a malformed file
    shutil.copytree(small_publication.paths.root, tmp_path / "data")
    folder = tmp_path / "data" / "landing" / "comext"
    latest = (tmp_path / "data" / "snapshots" / "LATEST").read_text().strip()

    good = sdmx_rows([("NL", "CN", "85051100", 1, "2024", 100)])
    (folder / "bad.csv").write_text(good.replace(",2024,100", ",20x4,abc"))
    failed = _geomon(tmp_path / "data", "run", "--sources", "landing")
    assert failed.returncode == 1
    err = failed.stderr
    assert f"the previous publication ({latest}) is unchanged" in err
    assert "landing:comext/bad.csv, line 2:" in err and 'Could not convert string "abc"' in err
    assert "Next: fix or remove the file(s) above" in err and "--accept-quarantined-input" in err
    # Dagster's per-step lines and stack traces stay below --log-level
    assert "Stack Trace" not in err and "Dependencies for step" not in err and len(err.splitlines()) <= 6, err

    accepted = _geomon_here(capsys, tmp_path / "data", "run", "--sources", "landing", "--accept-quarantined-input")
    assert accepted.returncode == 0, accepted.stderr
    assert (tmp_path / "data" / "snapshots" / "LATEST").read_text().strip() != latest


def _cli_copy(cli_publication, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(cli_publication, root)
    return root, (root / "snapshots" / "LATEST").read_text().strip()


def test_an_empty_or_missing_landing_folder_never_publishes_and_a_shrink_only_on_purpose(cli_publication, tmp_path,
                                                                                            webhook_receiver, capsys):
    # issue 25: `geomon run --sources landing` on an empty landing/ published an empty monitor (exit 0), and
    # monitor.changes said every dependency had ended
    root, latest = _cli_copy(cli_publication, tmp_path)
    before = published_bytes(root)
    assert {"geomonitor.duckdb", "snapshots/LATEST", "report/index.html"} <= set(before)
    config = tmp_path / "webhook.yaml"
    config.write_text(f"resources: {{webhook: {{config: {{webhook_url: '{webhook_receiver.url}'}}}}}}\n")

    (root / "landing" / "comext" / "a.csv").unlink()  # landing/comext/ is there, and empty
    empty = _geomon(root, "run", "--sources", "landing", "--config", str(config))
    assert empty.returncode == 1, empty.stderr
    lines = empty.stderr.splitlines()
    assert lines[0].endswith(f"the previous publication ({latest}) is unchanged.")
    assert lines[1] == f"The publication guard refused this run's publication (compared with {latest}):"
    assert lines[2] == "  no flow rows were staged: the run read no trade records (empty or missing input folder?)"
    assert "  flows of comext: 1 rows published, none in this run" in lines
    # every registered source's landing folder is named
    assert lines[-1].startswith(f"Next: put input files where the run reads them (e.g. {root}/landing/comtrade, "
                                "landing/comext, landing/baci)"), lines[-1]
    assert "Traceback" not in empty.stderr
    assert published_bytes(root) == before
    assert webhook_receiver.bodies == []

    shutil.rmtree(root / "landing")  # no landing/ at all, and the shrink accepted: still never published
    missing = _geomon_here(capsys, root, "run", "--sources", "landing", "--allow-shrink", "--config", str(config))
    assert missing.returncode == 1, missing.stderr
    assert "no flow rows were staged" in missing.stderr and "--allow-shrink or not" in missing.stderr
    assert published_bytes(root) == before
    assert webhook_receiver.bodies == []
    listed = _geomon_here(capsys, root, "snapshots")
    assert listed.returncode == 0 and listed.stdout.count("(LATEST)") == 1 and len(listed.stdout.splitlines()) == 2

    # France's row replaced by Germany's: France 2024 gone, refused; then accepted on purpose
    (root / "landing" / "comext").mkdir(parents=True)
    (root / "landing" / "comext" / "b.csv").write_text(sdmx_rows([("DE", "CN", "85051100", 1, "2024", 300)]))
    shrunk = _geomon_here(capsys, root, "run", "--sources", "landing", "--config", str(config))
    assert shrunk.returncode == 1, shrunk.stderr
    assert "  flows of comext FRA 2024: 1 rows published, none in this run" in shrunk.stderr.splitlines()
    assert shrunk.stderr.splitlines()[-1].startswith("Next: if the inputs are meant to shrink (files withdrawn, a "
                                                     "source dropped), run again with --allow-shrink")
    assert published_bytes(root) == before and webhook_receiver.bodies == []
    accepted = _geomon(root, "run", "--sources", "landing", "--allow-shrink", "--config", str(config))
    assert accepted.returncode == 0, accepted.stderr
    assert "published SMALLER than the previous publication, accepted with --allow-shrink (1 finding(s)" in \
        accepted.stdout
    assert "  reporter_year_gone: comext FRA 2024 (1 -> 0 rows)" in accepted.stdout
    new = (root / "snapshots" / "LATEST").read_text().strip()
    manifest = json.loads((root / "snapshots" / new / "manifest.json").read_text())
    assert new != latest and manifest["publication_guard"]["allow_shrink"] is True
    assert manifest["publication_guard"]["previous_snapshot"] == latest
    assert [len(webhook_receiver.bodies), webhook_receiver.bodies[0]["snapshot_id"]] == [1, new]


def _read_only(folder):
    """Make ``folder`` read-only as a user would meet it: a read-only bind mount when run as root (root writes
    through permission bits), the permission bits otherwise. Returns the undo."""
    import os
    import stat

    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
        for p in modes:
            p.chmod(modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        return lambda: [p.chmod(m) for p, m in modes.items()]
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {mounted.stderr.decode().strip()}")
    remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True)
    if remount.returncode != 0:
        subprocess.run(["umount", str(folder)], check=True)
        pytest.skip(f"cannot remount read-only here: {remount.stderr.decode().strip()}")
    return lambda: subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_data_folder_is_one_line_naming_it(cli_publication, tmp_path, capsys):
    # issue 25: an 88-line traceback ending in sqlite3.OperationalError: unable to open database file
    root, _ = _cli_copy(cli_publication, tmp_path)
    before = published_bytes(root)
    undo = _read_only(root)
    try:
        for command in (["run", "--sources", "landing"], ["report"], ["snapshots", "--pin", "x"]):
            # `geomon run` in a process of its own (its exit code), the other commands in this one
            failed = _geomon(root, *command) if command[0] == "run" else _geomon_here(capsys, root, *command)
            assert failed.returncode == 2, (command, failed.stderr)
            assert failed.stderr.splitlines() == [
                f"geomon {command[0]}: cannot write to {root} (Read-only file system); make it writable (a read-only "
                f"mount: remount it read-write), or choose a writable data folder with --data-dir or $GEOMON_DATA_DIR"
            ] or ("Permission denied" in failed.stderr and len(failed.stderr.splitlines()) == 1), failed.stderr
        # reading still works
        assert _geomon_here(capsys, root, "snapshots").returncode == 0
    finally:
        undo()
    assert published_bytes(root) == before
