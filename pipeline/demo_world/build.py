"""The driver: build the world, write every year's files for each registered source with a demo-world writer
(its ``demo_writer``, in its folder: ``pipeline/sources/comtrade/demo.py``, ``pipeline/sources/comext/demo.py``; a
writer is a module with ``write_year`` over the year's reported core), sidecars and ``planted.json``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import polars as pl

from pipeline.demo_world.core import reported_core
from pipeline.demo_world.countries import countries_frame, load_reference
from pipeline.demo_world.files import FileSink, clean_generated, json_text
from pipeline.demo_world.planted import planted_pairs, planted_specs, truth_context
from pipeline.demo_world.world import (EXCLUDED_HS6, ROWS_PER_PLANTED_PAIR, build_links, product_frame, required_products,
                                       scale_plan, select_products, truth_for_year, usd_per_eur)
from pipeline.sources import load
from pipeline.sources.registry import SOURCES

GENERATOR = "pipeline.demo_world"
RELEASE_FMT = "SYNTHETIC demo-world v2 (seed={seed}, scale={scale}, years={years})"


def generate(out_dir: Path, *, scale: float = 0.01, years: Sequence[int] = (2022, 2023, 2024),
             seed: int = 20261128, comtrade_format: str = "json") -> dict:
    """Write the SYNTHETIC demo world under ``out_dir`` and return its manifest.

    Layout: ``comtrade/`` (API pages or bulk files + ``_release.json``),
    ``comext/`` (monthly ``full_v2`` CSV + ``_release.json``), ``planted.json``.
    """
    if comtrade_format not in ("json", "bulk"):
        raise ValueError("comtrade_format must be 'json' or 'bulk'")
    years = sorted({int(y) for y in years})
    if not years:
        raise ValueError("at least one year")
    out_dir = Path(out_dir)
    # each registered source with a demo-world writer gets its folder: comtrade/, comext/
    writers = {s.name: load(s.demo_writer) for s in SOURCES if s.demo_writer}
    for name in writers:
        clean_generated(out_dir / name)

    hs, domains = load_reference()
    ctry = countries_frame()
    hs6 = hs.filter(pl.col("level") == "6")["code"].to_list()
    specs = planted_specs()
    n_required = len(required_products(hs6, domains, [s.product for s in specs]))
    # Planted pairs exist at every scale: their rows come off the random budget.
    fixed_rows = ROWS_PER_PLANTED_PAIR * len(planted_pairs(ctry))
    plan = scale_plan(scale, len(set(hs6) - EXCLUDED_HS6), n_required, fixed_rows)
    prods = product_frame(select_products(hs, domains, plan.n_products, seed), hs, seed)
    links = build_links(ctry, prods, plan, seed)

    release = RELEASE_FMT.format(seed=seed, scale=scale, years=years)
    files: list[Path] = []
    rows: dict[str, dict[str, int]] = {name: {} for name in writers}
    context: dict[str, dict] = {}
    sink = FileSink()
    # The writers of a year run side by side: each draws from its own random stream and only reads the
    # year's core, and polars and numpy release the GIL for their work (the default world: Comtrade pages
    # 1.3 CPU-s, Comext months 1.1 CPU-s, on two cores).
    pool = ThreadPoolExecutor(max_workers=max(1, len(writers)))
    try:
        for year in years:
            truth = truth_for_year(links, year, seed)
            context[str(year)] = truth_context(truth, ctry, prods)
            # what the reporters report: every writer's files are views of it
            core = reported_core(truth, ctry, prods, year, seed)
            del truth
            running = {name: pool.submit(writer.write_year, core, ctry=ctry, prods=prods, hs=hs, year=year,
                                         seed=seed, folder=out_dir / name, sink=sink, comtrade_format=comtrade_format)
                       for name, writer in writers.items()}
            for name, job in running.items():
                written, n_rows = job.result()
                files += written
                rows[name][str(year)] = n_rows
            del core
    finally:
        pool.shutdown(wait=True)
        sink.close()

    sidecar = {"release": release, "synthetic": True, "generator": GENERATOR}
    for name in writers:
        (out_dir / name / "_release.json").write_text(json_text(sidecar), encoding="utf-8")
        files.append(out_dir / name / "_release.json")

    manifest = {
        "synthetic": True,
        "release": release,
        "generator": GENERATOR,
        "seed": seed,
        "scale": scale,
        "years": years,
        "comtrade_format": comtrade_format,
        "usd_per_eur": {str(y): usd_per_eur(y) for y in years},
        "plan": {"n_products": prods.height, "k_mean": round(plan.k_mean, 3),
                 "participation": round(plan.participation, 5), "n_countries": ctry.height},
        "rows": {**{name: sum(by_year.values()) for name, by_year in rows.items()},
                 **{f"{name}_by_year": by_year for name, by_year in rows.items()}},
        "files": sorted(p.relative_to(out_dir).as_posix() for p in files),
        "planted": [
            {"id": s.id, "view": s.view, "importer": s.importer, "exporter": s.exporter, "product": s.product,
             "years": years, "share": s.share, "denominator": s.denominator, "note": s.note}
            for s in specs
        ],
        "context_from_truth": context,
    }
    (out_dir / "planted.json").write_text(json_text(manifest), encoding="utf-8")
    return manifest

