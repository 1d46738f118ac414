"""Eurostat Comext's view of the reported core (:mod:`pipeline.demo_world.core`): monthly ``full_v2`` CSV files of the
27 member states' country rows, in EUR."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.demo_world.files import FileSink
from pipeline.demo_world.planted import planted_specs
from pipeline.demo_world.world import S_COMEXT, stream, usd_per_eur

# --- currencies (the year's USD per EUR is the world's: usd_per_eur) -----------
# VALUE_NAC of non-euro reporters: national currency per EUR (rough, fixed).
NAC_PER_EUR = {"BG": 1.95583, "CZ": 24.5, "DK": 7.45, "HU": 385.0, "PL": 4.5,
               "RO": 4.95, "SE": 11.3}
HRK_PER_EUR = 7.5345  # Croatia adopted the euro on 2023-01-01

COMEXT_FIELDS = (
    "REPORTER", "PARTNER", "TRADE_TYPE", "PRODUCT_NC", "PRODUCT_SITC",
    "PRODUCT_CPA21", "PRODUCT_CPA22", "PRODUCT_BEC", "PRODUCT_BEC5",
    "PRODUCT_SECTION", "FLOW", "STAT_PROCEDURE", "SUPPL_UNIT", "PERIOD",
    "VALUE_EUR", "VALUE_NAC", "QUANTITY_KG", "QUANTITY_SUPPL_UNIT",
)


def comext_flows(core: pl.DataFrame, ctry: pl.DataFrame, prods: pl.DataFrame, year: int) -> pl.DataFrame:
    """EU members' own country-partner rows (C00, HS6) converted to EUR."""
    eu_idx = ctry.filter(pl.col("eu"))["idx"].to_list()
    geo = ctry.select("idx", "geonom", "eu")
    rate = usd_per_eur(year)
    flows = core.filter((pl.col("kind") == "country") & pl.col("rep").is_in(eu_idx))
    return (
        flows.join(geo.rename({"idx": "rep", "geonom": "REPORTER"}).drop("eu"), on="rep", how="left")
        .join(geo.rename({"idx": "partner_idx", "geonom": "PARTNER"}), on="partner_idx", how="left")
        .join(prods.select(pl.col("code").alias("cmd"), "prod", "n_cn8", "season_phase", "by_items", "kg_per_item", "section_no"),
              on="cmd", how="left")
        .select(
            "REPORTER", "PARTNER", pl.when(pl.col("eu")).then(pl.lit("I")).otherwise(pl.lit("E")).alias("TRADE_TYPE"),
            "cmd", "prod", "n_cn8", "season_phase", "by_items", "kg_per_item", "section_no",
            pl.when(pl.col("flow") == "M").then(1).otherwise(2).cast(pl.Int8).alias("FLOW"),
            (pl.col("value") / rate).alias("eur"), pl.col("kg"),
        )
        .sort("REPORTER", "PARTNER", "cmd", "FLOW")
    )


# CN8 codes under an HS6 code: row = number of CN8 codes, column = position.
CN8_SUFFIXES = np.array([["", "", ""], ["00", "", ""], ["10", "90", ""], ["10", "30", "90"]])


def _month_weights(flows: pl.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """(n_flows, 12) weights summing to 1 per flow: flows under EUR 100k show up
    in one month, over EUR 1bn in all twelve; seasonal swing of +-12% plus noise.
    Weights sum to 1, so the annual sum of a flow is exact (up to rounding)."""
    n = flows.height
    eur = flows["eur"].to_numpy()
    n_active = np.clip(np.round(12 * (np.log10(np.maximum(eur, 1.0)) - 5.0) / 4.0) + rng.integers(-1, 2, n), 1, 12)
    # the n_active months with the smallest random keys are active (float32: ~45M rows at scale 1)
    keys = rng.random((n, 12), dtype=np.float32)
    threshold = np.sort(keys, axis=1)[np.arange(n), n_active.astype(np.int64) - 1]
    months = np.arange(12, dtype=np.float32)[None, :]
    phase = flows["season_phase"].to_numpy().astype(np.float32)[:, None]
    w = (keys <= threshold[:, None]) * (1.0 + 0.12 * np.sin(np.float32(2 * math.pi / 12) * months + phase))
    w *= np.exp(np.float32(0.2) * rng.standard_normal((n, 12), dtype=np.float32))
    return w / w.sum(axis=1, keepdims=True)


def _cn8_weights(flows: pl.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """(n_flows, 3) shares of each CN8 code under the flow's HS6 (zeros beyond n_cn8)."""
    n_cn8 = flows["n_cn8"].to_numpy()
    w = rng.gamma(2.0, 1.0, (flows.height, 3)) * (np.arange(3)[None, :] < n_cn8[:, None])
    return w / w.sum(axis=1, keepdims=True)


def comext_month(flows: pl.DataFrame, mw: np.ndarray, cw: np.ndarray, month: int, year: int,
                 rng: np.random.Generator) -> pl.DataFrame:
    """Rows of one monthly file from the annual flows (before pseudo rows)."""
    sel = mw[:, month - 1] > 0
    f = flows.filter(pl.Series(sel))
    share = mw[sel, month - 1]
    cws = cw[sel]
    n_cn8 = f["n_cn8"].to_numpy().astype(np.int64)
    rep = np.repeat(np.arange(f.height), n_cn8)
    pos = np.arange(len(rep)) - np.repeat(np.cumsum(n_cn8) - n_cn8, n_cn8)  # 0..n_cn8-1 within each flow
    cn8_share = cws[rep, pos]
    suffix = CN8_SUFFIXES[n_cn8[rep], pos]
    out = f.select(pl.all().gather(pl.Series(rep))).with_columns(
        (pl.col("cmd") + pl.Series(suffix)).alias("PRODUCT_NC"),
        (pl.col("eur") * pl.Series(share[rep] * cn8_share)).alias("eur"),
        (pl.col("kg") * pl.Series(share[rep] * cn8_share)).alias("kg"),
    )
    # Some rows are partly inward processing (STAT_PROCEDURE 2): same key, a second row.
    split = rng.random(out.height) < 0.08
    frac = np.where(split, rng.uniform(0.1, 0.5, out.height), 0.0)
    proc1 = out.with_columns(pl.lit(1, pl.Int8).alias("STAT_PROCEDURE"),
                             (pl.col("eur") * pl.Series(1 - frac)).alias("eur"), (pl.col("kg") * pl.Series(1 - frac)).alias("kg"))
    proc2 = out.filter(pl.Series(split)).with_columns(
        pl.lit(2, pl.Int8).alias("STAT_PROCEDURE"),
        (pl.col("eur") * pl.Series(frac[split])).alias("eur"), (pl.col("kg") * pl.Series(frac[split])).alias("kg"))
    return pl.concat([proc1, proc2])


def _comext_extras(ctry: pl.DataFrame, prods: pl.DataFrame, year: int, rng: np.random.Generator) -> pl.DataFrame:
    """Small rows every real monthly file has: pseudo-partners QV/QY/QS and
    confidential product codes (``39XXXXXX``). Never on planted products."""
    eu_geo = np.array(sorted(ctry.filter(pl.col("eu"))["geonom"].to_list()))
    all_geo = ctry["geonom"].to_numpy()
    planted = {s.product for s in planted_specs()}
    codes = prods.filter(~pl.col("code").is_in(list(planted)))
    n_pseudo, n_conf = 10 * len(eu_geo), 6 * len(eu_geo)
    # pseudo partners on real products
    pick = rng.integers(0, codes.height, n_pseudo)
    partner = rng.choice(np.array(["QV", "QY", "QS"]), n_pseudo, p=[0.45, 0.35, 0.20])
    pseudo = pl.DataFrame({
        "REPORTER": rng.choice(eu_geo, n_pseudo), "PARTNER": partner,
        "TRADE_TYPE": np.where(partner == "QS", "E", "I"),
        "PRODUCT_NC": (codes["code"].to_numpy()[pick].astype(object) + CN8_SUFFIXES[codes["n_cn8"].to_numpy()[pick], 0]).astype(str),
        "section_no": codes["section_no"].to_numpy()[pick],
        "FLOW": np.where(partner == "QS", 2, rng.integers(1, 3, n_pseudo)).astype(np.int8),
        "month": rng.integers(1, 13, n_pseudo), "eur": rng.lognormal(math.log(2e4), 1.5, n_pseudo),
    })
    # confidential chapter codes with real partners
    chapters = np.array(["28", "39", "85", "93"])
    ch = rng.choice(chapters, n_conf)
    reporter = rng.choice(eu_geo, n_conf)
    partner = rng.choice(all_geo, n_conf)
    partner = np.where(partner == reporter, "CN", partner)
    conf = pl.DataFrame({
        "REPORTER": reporter, "PARTNER": partner,
        "TRADE_TYPE": np.where(np.isin(partner, eu_geo), "I", "E"),
        "PRODUCT_NC": (ch.astype(object) + "XXXXXX").astype(str),
        "section_no": np.select([ch == "28", ch == "39", ch == "85"], [6, 7, 16], 19),
        "FLOW": rng.integers(1, 3, n_conf).astype(np.int8),
        "month": rng.integers(1, 13, n_conf), "eur": rng.lognormal(math.log(5e4), 1.5, n_conf),
    })
    extras = pl.concat([pseudo, conf.with_columns(pl.col("section_no").cast(pseudo.schema["section_no"]))]).with_columns(
        (pl.col("eur") / rng.uniform(2, 20)).alias("kg"),
        pl.lit(1, pl.Int8).alias("STAT_PROCEDURE"),
        pl.lit(False).alias("by_items"), pl.lit(1.0).alias("kg_per_item"),
    )
    # A key may have been drawn twice: sum, as the real file has one row per
    # key. Whole euros and kilos first, so the float sums are exact in any order.
    extras = extras.with_columns(pl.col("eur").round(0), pl.col("kg").round(0))
    keys = ["REPORTER", "PARTNER", "TRADE_TYPE", "PRODUCT_NC", "section_no", "FLOW", "STAT_PROCEDURE", "month", "by_items", "kg_per_item"]
    return extras.group_by(keys).agg(pl.col("eur").sum(), pl.col("kg").sum()).sort(keys)


def comext_format(rows: pl.DataFrame, year: int) -> pl.DataFrame:
    """The 18 full_v2 columns of the rows of a year (column ``month``), sorted by month and key. SITC/CPA/BEC
    are not modelled: zero placeholders (X placeholders on confidential codes, as in the real files)."""
    conf = pl.col("PRODUCT_NC").str.contains("X")
    nac_rates = dict(NAC_PER_EUR)
    if year < 2023:
        nac_rates["HR"] = HRK_PER_EUR
    value = pl.col("eur").round(0).cast(pl.Int64)
    df = rows.with_columns(
        pl.when(conf).then(pl.col("PRODUCT_NC").str.slice(0, 2) + "XXX").otherwise(pl.lit("00000")).alias("PRODUCT_SITC"),
        pl.when(conf).then(pl.lit("XXXX")).otherwise(pl.lit("0000")).alias("PRODUCT_CPA21"),
        pl.when(conf).then(pl.lit("XXXX")).otherwise(pl.lit("0000")).alias("PRODUCT_CPA22"),
        pl.when(conf).then(pl.lit("700")).otherwise(pl.lit("000")).alias("PRODUCT_BEC"),
        pl.when(conf).then(pl.lit("XXXXXX")).otherwise(pl.lit("000000")).alias("PRODUCT_BEC5"),
        pl.col("section_no").cast(pl.Int64).cast(pl.String).str.zfill(2).alias("PRODUCT_SECTION"),
        pl.when(pl.col("by_items")).then(pl.lit("PST")).otherwise(pl.lit("NO_SU")).alias("SUPPL_UNIT"),
        (year * 100 + pl.col("month")).cast(pl.Int64).alias("PERIOD"),
        value.alias("VALUE_EUR"),
        (pl.col("eur") * pl.col("REPORTER").replace_strict(nac_rates, default=1.0, return_dtype=pl.Float64))
        .round(0).cast(pl.Int64).alias("VALUE_NAC"),
        pl.col("kg").round(0).cast(pl.Int64).alias("QUANTITY_KG"),
        pl.when(pl.col("by_items")).then((pl.col("kg") / pl.col("kg_per_item")).round(0)).otherwise(0)
        .cast(pl.Int64).alias("QUANTITY_SUPPL_UNIT"),
    )
    # a month's key is unique, so the order is the same whatever the sort does with ties
    return (
        df.filter(pl.col("VALUE_EUR") >= 1)
        .select(COMEXT_FIELDS)
        .sort("PERIOD", "REPORTER", "PARTNER", "TRADE_TYPE", "PRODUCT_NC", "FLOW", "STAT_PROCEDURE")
    )


def write_comext_year(flows: pl.DataFrame, ctry: pl.DataFrame, prods: pl.DataFrame, year: int, seed: int,
                      folder: Path, sink: FileSink) -> tuple[list[Path], int]:
    """Twelve monthly files from the EU members' annual flows (``comext_flows``). The months' rows are drawn
    one month after another (the random stream's order), then formatted and sorted as one frame: one sort of
    the year instead of twelve (0.47 of the default world's 1.1 CPU-s of Comext went to formatting and
    sorting months one by one)."""
    rng = stream(seed, S_COMEXT, year)
    mw = _month_weights(flows, rng)
    cw = _cn8_weights(flows, rng)
    extras = _comext_extras(ctry, prods, year, rng)
    months = []
    for month in range(1, 13):
        rows = comext_month(flows, mw, cw, month, year, rng)
        extra = extras.filter(pl.col("month") == month).drop("month")
        months.append(pl.concat([rows, extra], how="diagonal_relaxed").with_columns(pl.lit(month).alias("month")))
    df = comext_format(pl.concat(months, how="diagonal_relaxed"), year)
    by_period = df.partition_by("PERIOD", maintain_order=True, as_dict=True)
    written = []
    for month in range(1, 13):
        part = by_period.get((year * 100 + month,), df.clear())
        path = folder / f"SYNTHETIC_full_v2_{year}{month:02d}.csv"
        written.append(sink.put(path, part.write_csv(line_terminator="\n").encode("utf-8"), compress=False))
    return written, df.height



_YEAR_IN_NAME = re.compile(r"^SYNTHETIC_full_v2_(\d{4})\d\d\.csv$")


def year_of_file(name: str) -> int | None:
    """The data year of a file this writer wrote (its name: one file per month), None for any other file."""
    match = _YEAR_IN_NAME.match(name)
    return int(match.group(1)) if match else None


def write_year(core: pl.DataFrame, *, ctry: pl.DataFrame, prods: pl.DataFrame, hs: pl.DataFrame, year: int,
               seed: int, folder: Path, sink: FileSink, comtrade_format: str = "json") -> tuple[list[Path], int]:
    """The demo world's writer of this source (its ``demo_writer``): twelve monthly full_v2 files of the EU
    members' flows of ``year``; (files, rows)."""
    return write_comext_year(comext_flows(core, ctry, prods, year), ctry, prods, year, seed, folder, sink)
