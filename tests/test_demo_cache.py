"""The demo world's cache (pipeline/demo_world/cache.py): one generated world per stamp, linked into data folders,
never used when damaged, safe when two runs generate the same world at once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from dagster import materialize

from assets.demo import STAMP, demo_world_files
from pipeline import demo_world
from pipeline.demo_world import cache
from pipeline.resources import DataFolder, InputSettings

SCALE, YEARS = 0.002, [2023]
STAMP_OF_TEST = {"scale": SCALE, "years": YEARS, "generator_sha256": "test"}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _materialise_asset(root: Path) -> dict:
    result = materialize([demo_world_files], resources={
        "settings": InputSettings(sources=["demo"], demo_scale=SCALE, demo_years=YEARS),
        "data": DataFolder(root=str(root))})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _generate(folder: Path) -> dict:
    return demo_world.generate(folder, scale=SCALE, years=YEARS)


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.iterdir())


@pytest.mark.world
@pytest.mark.pipeline
def test_a_second_fresh_data_folder_links_the_cached_world_without_generating(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "cache")
    first = _materialise_asset(tmp_path / "one")
    assert (first["generated"], first["from_cache"]) == (True, False)
    (entry,) = _entries(tmp_path / "cache")

    def no_generation(*args, **kwargs):
        raise AssertionError("the cached world was generated again")

    monkeypatch.setattr(demo_world, "generate", no_generation)
    second = _materialise_asset(tmp_path / "two")
    assert (second["generated"], second["from_cache"], second["cache"]) == (False, True, str(entry))
    assert second["SYNTHETIC"] is True and second["planted"] == first["planted"]

    one, two = tmp_path / "one" / "demo", tmp_path / "two" / "demo"
    assert _tree(two) == _tree(one)  # the same world, stamp included
    data_files = [p for p in two.rglob("*") if p.is_file() and p.name != STAMP]
    # hard links to the entry's files, not copies
    assert all(p.stat().st_ino == (entry / p.relative_to(two)).stat().st_ino for p in data_files)
    # marked SYNTHETIC as a generated world is: every data file's name and each source folder's sidecar
    for source in ("comtrade", "comext"):
        names = [p.name for p in (two / source).iterdir()]
        assert names and all(n.startswith("SYNTHETIC_") for n in names if n != "_release.json")
        assert json.loads((two / source / "_release.json").read_text())["synthetic"] is True
    assert json.loads((two / STAMP).read_text())["scale"] == SCALE


def _same_size_edit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))  # in place: the data folder linked to it sees the edit too


@pytest.mark.world
@pytest.mark.parametrize("damage", ["edited", "truncated", "missing", "extra", "no manifest"])
def test_a_damaged_entry_is_never_used_and_is_regenerated(tmp_path, damage):
    cache_dir = tmp_path / "cache"
    good, how = cache.materialise(tmp_path / "a", STAMP_OF_TEST, _generate, stamp_file=STAMP, cache_dir=cache_dir)
    assert how["generated"]
    expected = _tree(tmp_path / "a")
    (entry,) = _entries(cache_dir)
    page = next((entry / "comext").glob("SYNTHETIC_*"))
    if damage == "edited":
        _same_size_edit(page)
    elif damage == "truncated":
        page.write_bytes(page.read_bytes()[:100])
    elif damage == "missing":
        page.unlink()
    elif damage == "extra":
        (entry / "comext" / "SYNTHETIC_full_v2_202313.csv").write_text("REPORTER\n")
    else:
        (entry / cache.MANIFEST).unlink()

    world, how = cache.materialise(tmp_path / "b", STAMP_OF_TEST, _generate, stamp_file=STAMP, cache_dir=cache_dir)
    assert (how["generated"], how["from_cache"]) == (True, False)
    assert how["cache"].startswith("entry refused")
    assert world == good
    assert _tree(tmp_path / "b") == expected  # the regenerated world, not the damaged files
    # the entry was replaced by a good one, which the next folder links
    (entry,) = _entries(cache_dir)
    assert cache.problem(entry, cache.read_manifest(entry, STAMP_OF_TEST)) is None
    _, how = cache.materialise(tmp_path / "c", STAMP_OF_TEST, _generate, stamp_file=STAMP, cache_dir=cache_dir)
    assert how["from_cache"] and _tree(tmp_path / "c") == expected


@pytest.mark.world
def test_a_generation_that_fails_leaves_no_entry_and_no_data_folder(tmp_path):
    cache_dir = tmp_path / "cache"

    def half_then_fail(folder: Path):
        _generate(folder)
        (folder / "comext" / "_release.json").unlink()
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        cache.materialise(tmp_path / "a", STAMP_OF_TEST, half_then_fail, stamp_file=STAMP, cache_dir=cache_dir)
    assert _entries(cache_dir) == [] and not (tmp_path / "a").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # no temporary folder left beside the data folder
    _, how = cache.materialise(tmp_path / "a", STAMP_OF_TEST, _generate, stamp_file=STAMP, cache_dir=cache_dir)
    assert how["generated"] and (tmp_path / "a" / "comext" / "_release.json").exists()


@pytest.mark.world
def test_two_concurrent_generations_leave_one_good_entry(tmp_path):
    cache_dir = tmp_path / "cache"
    both_generating = threading.Barrier(2, timeout=60)

    def generate_together(folder: Path):
        both_generating.wait()  # neither finds an entry: both generate and race to install theirs
        return _generate(folder)

    results: dict[str, tuple] = {}

    def run(name: str):
        results[name] = cache.materialise(tmp_path / name, STAMP_OF_TEST, generate_together, stamp_file=STAMP,
                                          cache_dir=cache_dir)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["a", "b"]
    assert all(how["generated"] for _, how in results.values())
    (entry,) = _entries(cache_dir)  # one entry, no build or trash folder left
    assert not entry.name.startswith(".")
    assert cache.problem(entry, cache.read_manifest(entry, STAMP_OF_TEST)) is None
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    _, how = cache.materialise(tmp_path / "c", STAMP_OF_TEST, _generate, stamp_file=STAMP, cache_dir=cache_dir)
    assert how["from_cache"] and _tree(tmp_path / "c") == _tree(tmp_path / "a")
