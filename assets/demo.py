"""The synthetic demo world: files in the real source formats, generated into ``<data dir>/demo/``."""

import json
import shutil

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from pipeline.resources import DataFolder, InputSettings

STAMP = "_generated_with.json"  # leading underscore: readers skip it


@asset(key=AssetKey(["raw", "demo_world"]), group_name="demo", kinds={"python"})
def demo_world_files(context: AssetExecutionContext, settings: InputSettings, data: DataFolder) -> MaterializeResult:
    """SYNTHETIC Comtrade v1 JSON pages and Comext full_v2 files of a deterministic demo world (about 60
    reporters, every strategic domain, planted dependencies with known answers). Every row read from them is
    marked synthetic. Regenerated only when scale, years or generator change; skipped when 'demo' is not among
    the run's sources."""
    out = data.paths().demo
    if "demo" not in settings.sources:
        return MaterializeResult(metadata={"generated": False, "reason": "'demo' not in sources"})
    from pipeline import demo_world  # numpy is imported only by runs that generate

    # the generator's own source is part of the stamp: a changed generator regenerates
    wanted = {"scale": settings.demo_scale, "years": list(settings.demo_years),
              "generator_sha256": demo_world.generator_sha256()}
    stamp = out / STAMP
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        context.log.info(f"demo world already generated at {out}")
        manifest = json.loads((out / "planted.json").read_text())
        return MaterializeResult(metadata=_metadata(manifest, out, generated=False))
    # a fresh folder: stale files of another scale must not be read with the new ones
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    manifest = demo_world.generate(tmp, scale=settings.demo_scale, years=settings.demo_years)
    (tmp / STAMP).write_text(json.dumps(wanted))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return MaterializeResult(metadata=_metadata(manifest, out, generated=True))


def _metadata(manifest: dict, out, generated: bool) -> dict:
    return {
        "SYNTHETIC": True,
        "generated": generated,
        "path": str(out),
        "release": manifest.get("release", ""),
        "rows": MetadataValue.json(manifest.get("rows", {})),
        "planted": MetadataValue.json(manifest.get("planted", [])),
    }
