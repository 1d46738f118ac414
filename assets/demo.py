"""The synthetic demo world: files in the real source formats, generated into ``<data dir>/demo/``."""

import json

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from pipeline.resources import DataFolder, InputSettings

STAMP = "_generated_with.json"  # leading underscore: readers skip it


@asset(key=AssetKey(["raw", "demo_world"]), group_name="demo", kinds={"python"})
def demo_world_files(context: AssetExecutionContext, settings: InputSettings, data: DataFolder) -> MaterializeResult:
    """SYNTHETIC Comtrade v1 JSON pages and Comext full_v2 files of a deterministic demo world (about 60
    reporters, every strategic domain, planted dependencies with known answers). Every row read from them is
    marked synthetic. Regenerated only when scale, years or generator change; skipped when 'demo' is not among
    the run's sources. A world once generated is kept in the checkout's cache (``.cache/demo_world``, one entry
    per stamp, checked file by file against its manifest) and hard-linked into each new data folder; the
    metadata says whether it came from there (``from_cache``) or was generated."""
    out = data.paths().demo
    if "demo" not in settings.sources:
        return MaterializeResult(metadata={"generated": False, "from_cache": False,
                                           "reason": "'demo' not in sources"})
    from pipeline import demo_world  # numpy is imported only by runs that generate
    from pipeline.demo_world import cache

    # the generator's own source is part of the stamp: a changed generator regenerates
    wanted = {"scale": settings.demo_scale, "years": list(settings.demo_years),
              "generator_sha256": demo_world.generator_sha256()}
    stamp = out / STAMP
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        context.log.info(f"demo world already generated at {out}")
        manifest = json.loads((out / "planted.json").read_text())
        return MaterializeResult(metadata=_metadata(manifest, out, {"generated": False, "from_cache": False,
                                                                    "cache": "not needed"}))
    # a fresh folder, renamed into place whole: stale files of another scale are never read with the new ones
    manifest, how = cache.materialise(
        out, wanted, lambda folder: demo_world.generate(folder, scale=settings.demo_scale, years=settings.demo_years),
        stamp_file=STAMP, cache_dir=cache.CACHE_DIR)
    context.log.info(f"demo world at {out}: " + ("linked from the cache" if how["from_cache"] else "generated")
                     + f" ({how['cache']})")
    return MaterializeResult(metadata=_metadata(manifest, out, how))


def _metadata(manifest: dict, out, how: dict) -> dict:
    return {
        "SYNTHETIC": True,
        "generated": how["generated"],
        "from_cache": how["from_cache"],
        "cache": how["cache"],
        "path": str(out),
        "release": manifest.get("release", ""),
        "rows": MetadataValue.json(manifest.get("rows", {})),
        "planted": MetadataValue.json(manifest.get("planted", [])),
    }
