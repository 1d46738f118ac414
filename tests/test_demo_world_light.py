"""A run whose demo world comes from the cache imports neither numpy nor polars: only generating needs them.

``raw/demo_world`` computes the stamp (``generator_sha256``) and links the cached world; importing the package
used to import the whole generator (numpy and polars, 0.1-0.25 CPU-s of the step), which the rest of a run does
not need in its own process (polars) or imports later (numpy, with pyarrow)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHILD = """
import json, sys
from pathlib import Path
from pipeline import demo_world
from pipeline.demo_world import cache

stamp = {"scale": 0.01, "years": [2023], "generator_sha256": demo_world.generator_sha256()}

def fake_world(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "planted.json").write_text(json.dumps({"planted": []}))
    (folder / "comtrade").mkdir()
    (folder / "comtrade" / "page.json").write_text("{}")

root = Path(sys.argv[1])
for name in ("one", "two"):  # generated into the cache, then linked from it
    _, how = cache.materialise(root / name / "demo", stamp, fake_world, stamp_file="_stamp.json",
                               cache_dir=root / "cache")
print(json.dumps({"how": how, "polars": "polars" in sys.modules, "numpy": "numpy" in sys.modules,
                  "sha": len(stamp["generator_sha256"])}))
"""


@pytest.mark.pipeline  # a process of its own: what it imports is its own
def test_a_world_from_the_cache_imports_neither_numpy_nor_polars(tmp_path):
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["how"]["from_cache"] is True
    assert (got["polars"], got["numpy"]) == (False, False)
    assert got["sha"] == 64


def test_the_packages_names_are_there_on_first_use():
    from pipeline import demo_world

    assert callable(demo_world.generate) and callable(demo_world.countries_frame)
    assert len(demo_world.EU27) == 27 and demo_world.GENERATOR == "pipeline.demo_world"
    assert callable(demo_world.files_of_year) and len(demo_world.generator_sha256()) == 64
