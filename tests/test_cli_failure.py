"""A failed `geomon run` ends with its answer: the file, line and reason, that the publication did not
change, and what to do next, without Dagster's own noise (issue 15, item 7)."""

import shutil
import subprocess
import sys

from conftest import sdmx_rows


def _geomon(data_dir, *args):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=600)


def test_a_malformed_file_is_named_with_its_line_and_the_next_step(small_publication, tmp_path):
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

    accepted = _geomon(tmp_path / "data", "run", "--sources", "landing", "--accept-quarantined-input")
    assert accepted.returncode == 0, accepted.stderr
    assert (tmp_path / "data" / "snapshots" / "LATEST").read_text().strip() != latest
