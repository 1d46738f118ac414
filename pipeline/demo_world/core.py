"""The reported core: what every reporter reports of a year's truth, the view every source's writer starts from.

Each registered source's demo-world writer (``demo_writer`` of :class:`pipeline.sources.Source`) turns the core of
a year into its own files: Comtrade's writer all of it as v1 records, Comext's writer the EU members' country rows
in EUR. The core draws from its own random stream (``S_COMTRADE``, the stream it always had), so the files of every
writer are views of the same reports.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.demo_world.countries import AREAS_NES, HS2_AGGREGATE_REPORTERS, SPECIAL_CATEGORIES, WORLD
from pipeline.demo_world.planted import planted_specs
from pipeline.demo_world.world import CIF_MARGIN, REPORT_NOISE, S_COMTRADE, stream


def reported_core(truth: pl.DataFrame, ctry: pl.DataFrame, prods: pl.DataFrame, year: int, seed: int) -> pl.DataFrame:
    """What the reporters report of one year's truth, compact (numbers only; each writer joins its labels).

    Columns: rep (country idx), flow, partner (Comtrade code), partner_idx
    (country idx or -1), partner2, customs, mot, aggr, cmd, value, kg, qty, kind.
    kind: 'country' | 'nes' | 'world' | 'breakdown' | 'hs2'.
    """
    rng = stream(seed, S_COMTRADE, year)
    ct_code = ctry["ct_code"].to_numpy()
    imp, exp, prod = (truth[c].to_numpy() for c in ("imp", "exp", "prod"))
    value = truth["value"].to_numpy()
    n = len(value)
    usd_per_kg = prods["usd_per_kg"].to_numpy()[prod]
    kg_true = value / (usd_per_kg * rng.lognormal(0.0, 0.15, n))
    m_value = value * (1 + CIF_MARGIN) * rng.lognormal(0.0, REPORT_NOISE, n)
    x_value = value * rng.lognormal(0.0, REPORT_NOISE, n)
    base = pl.DataFrame({
        "rep": np.concatenate([imp, exp]).astype(np.int32),
        "flow": np.repeat(np.array(["M", "X"]), n),
        "partner": np.concatenate([ct_code[exp], ct_code[imp]]).astype(np.int32),
        "partner_idx": np.concatenate([exp, imp]).astype(np.int32),
        "prod": np.concatenate([prod, prod]).astype(np.int32),
        "value": np.concatenate([m_value, x_value]),
        "kg": np.concatenate([kg_true * rng.lognormal(0.0, 0.03, n), kg_true * rng.lognormal(0.0, 0.03, n)]),
        "planted": np.concatenate([truth["planted"].to_numpy()] * 2),
    })
    base = base.with_columns(
        pl.col("value").round(0).clip(lower_bound=1.0),
        pl.col("kg").round(0).clip(lower_bound=0.0),
    )
    planted_products = prods.filter(pl.col("code").is_in([s.product for s in planted_specs()]))["prod"].to_list()

    # Unallocated rows (899 Areas nes, 839 Special Categories) for a few keys,
    # never on planted products, so their shares of World stay clean.
    keys = (
        base.group_by("rep", "flow", "prod").agg(pl.col("value").sum(), pl.col("kg").sum())
        .filter(~pl.col("prod").is_in(planted_products))
        .sort("rep", "flow", "prod")
    )
    u = rng.random(keys.height)
    frac = rng.uniform(0.005, 0.05, keys.height)
    nes = keys.with_columns(
        pl.Series("u", u), pl.Series("frac", frac),
    ).filter(pl.col("u") < 0.045).with_columns(
        pl.when(pl.col("u") < 0.005).then(SPECIAL_CATEGORIES[0]).otherwise(AREAS_NES[0]).cast(pl.Int32).alias("partner"),
        pl.lit(-1, pl.Int32).alias("partner_idx"),
        (pl.col("value") * pl.col("frac")).round(0).clip(lower_bound=1.0).alias("value"),
        (pl.col("kg") * pl.col("frac")).round(0).alias("kg"),
        pl.lit(False).alias("planted"),
    ).select(base.columns)

    detail = pl.concat([base.with_columns(pl.lit("country").alias("kind")),
                        nes.with_columns(pl.lit("nes").alias("kind"))])
    world = detail.group_by("rep", "flow", "prod").agg(pl.col("value").sum(), pl.col("kg").sum()).with_columns(
        pl.lit(WORLD[0], pl.Int32).alias("partner"), pl.lit(-1, pl.Int32).alias("partner_idx"),
        pl.lit(False).alias("planted"), pl.lit("world").alias("kind"),
    ).select(detail.columns)

    breakdown = _breakdown_rows(base, ctry, rng)
    rows = pl.concat([detail, world, breakdown], how="diagonal_relaxed")
    rows = rows.with_columns(
        pl.col("partner2").fill_null(WORLD[0]).cast(pl.Int32),
        pl.col("customs").fill_null("C00"),
        pl.col("mot").fill_null(0).cast(pl.Int32),
        pl.lit(6, pl.Int8).alias("aggr"),
    )
    cmd = prods.select("prod", pl.col("code").alias("cmd"), "by_items", "kg_per_item", "chapter")
    rows = rows.join(cmd, on="prod", how="left").with_columns(
        pl.when(pl.col("by_items")).then((pl.col("kg") / pl.col("kg_per_item")).round(0))
        .otherwise(pl.col("kg")).alias("qty"),
        pl.when(pl.col("by_items")).then(pl.lit("u")).otherwise(pl.lit("kg")).alias("unit"),
    )
    hs2 = _hs2_rows(rows, ctry)
    out = pl.concat([rows.drop("by_items", "kg_per_item", "planted"), hs2], how="diagonal_relaxed")
    return out.drop("prod", "chapter")


def _breakdown_rows(base: pl.DataFrame, ctry: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Rows a correct pipeline must drop: a customs procedure, a mode of transport,
    or a second partner, each repeating part of a C00/0/0 value.

    ~0.2% of the country rows at random, plus ~20% of the rows of planted
    keys, so that not filtering them visibly moves the planted shares.
    """
    n = base.height
    dominant = base["planted"].to_numpy() & (rng.random(n) < 0.2)
    pick = (rng.random(n) < 0.002) | dominant
    sub = base.filter(pl.Series(pick))
    kind = rng.integers(0, 3, sub.height)
    frac = rng.uniform(0.2, 0.8, sub.height)
    # partner2: a country that is neither reporter nor partner (consignment).
    p2_idx = (sub["partner_idx"].to_numpy() + rng.integers(1, ctry.height - 1, sub.height)) % ctry.height
    p2_idx = np.where(p2_idx == sub["rep"].to_numpy(), (p2_idx + 1) % ctry.height, p2_idx)
    p2_code = ctry["ct_code"].to_numpy()[p2_idx]
    return sub.with_columns(
        (pl.col("value") * pl.Series(frac)).round(0).clip(lower_bound=1.0).alias("value"),
        (pl.col("kg") * pl.Series(frac)).round(0).alias("kg"),
        pl.Series("customs", np.where(kind == 0, "C01", "C00")),
        pl.Series("mot", np.where(kind == 1, 2100, 0).astype(np.int32)),
        pl.Series("partner2", np.where(kind == 2, p2_code, 0).astype(np.int32)),
        pl.lit("breakdown").alias("kind"),
    )


def _hs2_rows(rows: pl.DataFrame, ctry: pl.DataFrame) -> pl.DataFrame:
    """HS2 totals (aggrLevel 2) that a few reporters ship next to their HS6 rows."""
    reps = ctry.filter(pl.col("iso3").is_in(list(HS2_AGGREGATE_REPORTERS)))["idx"].to_list()
    src = rows.filter(pl.col("rep").is_in(reps) & (pl.col("kind") != "breakdown"))
    return (
        src.group_by("rep", "flow", "partner", "partner_idx", "chapter")
        .agg(pl.col("value").sum(), pl.col("kg").sum())
        .with_columns(
            pl.col("chapter").alias("cmd"),
            pl.lit(2, pl.Int8).alias("aggr"),
            pl.lit(None, pl.Float64).alias("qty"),
            pl.lit(WORLD[0], pl.Int32).alias("partner2"),
            pl.lit("C00").alias("customs"),
            pl.lit(0, pl.Int32).alias("mot"),
            pl.lit("hs2").alias("kind"),
        )
    )
