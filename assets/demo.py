"""The synthetic demo world: files in the real source formats, generated into ``<data dir>/demo/``."""


import json
import shutil

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from pipeline.resources import MonitorSettings


@asset(key=AssetKey(["raw", "demo_world"]), group_name="raw", kinds={"python"})
def demo_world_files(context: AssetExecutionContext, settings: MonitorSettings) -> MaterializeResult:
    """SYNTHETIC Comtrade v1 JSON pages and Comext full_v2 files of a deterministic demo world (about 60
    reporters, every strategic domain, planted dependencies with known answers). Every row read from them is
    marked synthetic. Regenerated only when scale, years or generator change; skipped when 'demo' is not among
    the run's sources."""
    out = settings.paths().demo
    if "demo" not in settings.sources:
        return MaterializeResult(metadata={"generated": False, "reason": "'demo' not in sources"})
    from pipeline import demo_world  # numpy is imported only by runs that generate

    wanted = {"scale": settings.demo_scale, "years": list(settings.demo_years)}
    manifest_path = out / "planted.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if {"scale": manifest.get("scale"), "years": manifest.get("years")} == wanted and \
                manifest.get("generator_version") == demo_world.GENERATOR_VERSION:
            context.log.info(f"demo world already generated at {out}")
            return MaterializeResult(metadata=_metadata(manifest, out, generated=False))
    # a fresh folder: stale files of another scale must not be read with the new ones
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    manifest = demo_world.generate(tmp, scale=settings.demo_scale, years=settings.demo_years)
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
