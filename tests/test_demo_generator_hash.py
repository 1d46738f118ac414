"""The demo world's cache stamp (``generator_sha256``) covers every source's writer, wherever its folder is.

A cached world is reused while its stamp matches (pipeline/demo_world/cache.py), so a writer whose change the
hash misses would keep serving files the current code no longer writes. The writers live in their sources'
folders (``pipeline/sources/<name>/demo.py``, the ``demo_writer`` of each registered source), outside the
``pipeline/demo_world`` package.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import demo_world
from pipeline.sources import registry

REPO = Path(__file__).resolve().parents[1]
HASH = "from pipeline import demo_world; print(demo_world.generator_sha256())"
WHERE = ("import json, pipeline; from pipeline.sources.registry import SOURCES; "
         "print(json.dumps([pipeline.__file__, {s.name: s.demo_writer for s in SOURCES if s.demo_writer}]))")


def _run(root: Path, code: str) -> str:
    """``code`` run by a Python whose ``pipeline`` package is the copy under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def _module_file(root: Path, module: str) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


@pytest.mark.pipeline  # hashes a copy of the package, each time in a Python process of its own
def test_editing_a_registered_writer_in_a_copy_of_the_package_changes_the_hash(tmp_path):
    shutil.copytree(REPO / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    package, writers = json.loads(_run(tmp_path, WHERE))
    assert Path(package).resolve() == (tmp_path / "pipeline" / "__init__.py").resolve()  # the copy, not the checkout
    assert set(writers) == {"comtrade", "comext"}
    before = _run(tmp_path, HASH)
    assert len(before) == 64

    # a module of the sources that no writer is: editing it must not regenerate the world
    status = tmp_path / "pipeline" / "sources" / "comext" / "status.py"
    status.write_text(status.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    assert _run(tmp_path, HASH) == before

    for name, module in sorted(writers.items()):
        writer = _module_file(tmp_path, module)
        assert writer.is_file(), f"{name}'s writer {module} is no module file of the copy"
        text = writer.read_text(encoding="utf-8")
        writer.write_text(text + "\n# a changed writer\n", encoding="utf-8")
        changed = _run(tmp_path, HASH)
        assert changed != before, f"editing {name}'s writer {module} left the generator hash unchanged"
        writer.write_text(text, encoding="utf-8")
        assert _run(tmp_path, HASH) == before  # the same text: the same stamp, the cached world is reused


def test_a_writer_registered_from_anywhere_is_hashed(tmp_path, monkeypatch):
    """The hash follows the registry as it is when asked, not a list of folders: a source registered with a
    writer in a module of its own (here a copy of Comext's) is covered too."""
    comext = registry.source("comext")
    origin = Path(importlib.util.find_spec(comext.demo_writer).origin)
    copy = tmp_path / "acme_demo_writer.py"
    copy.write_bytes(origin.read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path))
    acme = dataclasses.replace(comext, name="acme", label="Acme", demo_writer="acme_demo_writer")
    monkeypatch.setattr(registry, "SOURCES", (*registry.SOURCES, acme))
    before = demo_world.generator_sha256()
    text = copy.read_text(encoding="utf-8")
    assert "HRK_PER_EUR = 7.5345" in text
    copy.write_text(text.replace("HRK_PER_EUR = 7.5345", "HRK_PER_EUR = 7.5"), encoding="utf-8")
    assert demo_world.generator_sha256() != before
