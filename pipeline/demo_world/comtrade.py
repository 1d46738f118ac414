"""UN Comtrade views of the truth: v1 records (API order) written as API pages or bulk files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipeline.demo_world.countries import AREAS_NES, HS2_AGGREGATE_REPORTERS, SPECIAL_CATEGORIES, WORLD
from pipeline.demo_world.files import FileSink
from pipeline.demo_world.planted import planted_specs
from pipeline.demo_world.world import CIF_MARGIN, REPORT_NOISE, S_COMTRADE, stream
from pipeline.io import packed

MAX_RECORDS_PER_PAGE = 100_000  # the Comtrade v1 API's maximum page size
# Reporters are turned into records a group at a time, about this many core rows each: the whole year at
# once where it is small (one record build instead of one per reporter: 2.4 of the default world's 5.9
# CPU-s went to 189 small joins and sorts), bounded memory at scale 1 (9 million rows a year).
ROWS_PER_CHUNK = 250_000

# --- Comtrade record layout ---------------------------------------------------
COMTRADE_FIELDS = (
    "typeCode", "freqCode", "refPeriodId", "refYear", "refMonth", "period",
    "reporterCode", "reporterISO", "reporterDesc", "flowCode", "flowDesc",
    "partnerCode", "partnerISO", "partnerDesc", "partner2Code", "partner2ISO",
    "partner2Desc", "classificationCode", "classificationSearchCode",
    "isOriginalClassification", "cmdCode", "cmdDesc", "aggrLevel", "isLeaf",
    "customsCode", "customsDesc", "mosCode", "motCode", "motDesc", "qtyUnitCode",
    "qtyUnitAbbr", "qty", "isQtyEstimated", "altQtyUnitCode", "altQtyUnitAbbr",
    "altQty", "isAltQtyEstimated", "netWgt", "isNetWgtEstimated", "grossWgt",
    "isGrossWgtEstimated", "cifvalue", "fobvalue", "primaryValue",
    "legacyEstimationFlag", "isReported", "isAggregate",
)


def comtrade_core(truth: pl.DataFrame, ctry: pl.DataFrame, prods: pl.DataFrame, year: int, seed: int) -> pl.DataFrame:
    """Compact Comtrade rows of one year (numbers only; labels are joined later).

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


def _partner_table(ctry: pl.DataFrame) -> pl.DataFrame:
    extra = pl.DataFrame([WORLD, AREAS_NES, SPECIAL_CATEGORIES], schema=["code", "iso", "desc"], orient="row")
    return pl.concat([
        ctry.select(pl.col("ct_code").cast(pl.Int32).alias("code"), pl.col("ct_iso").alias("iso"), pl.col("ct_desc").alias("desc")),
        extra.with_columns(pl.col("code").cast(pl.Int32)),
    ])


def comtrade_records(core: pl.DataFrame, ctry: pl.DataFrame, hs: pl.DataFrame, year: int) -> pl.DataFrame:
    """The 47 Comtrade v1 fields, in API order, for the compact rows of some reporters: each reporter's rows
    together, in the order of its pages (flow, then the API's order within a flow)."""
    partners = _partner_table(ctry)
    reporters = ctry.select(pl.col("idx").alias("rep"), pl.col("ct_code").cast(pl.Int32).alias("reporterCode"),
                            pl.col("ct_iso").alias("reporterISO"), pl.col("ct_desc").alias("reporterDesc"))
    cmd_desc = hs.select(pl.col("code").alias("cmd"), pl.col("description").alias("cmdDesc"))
    df = (
        core.join(reporters, on="rep", how="left")
        .join(partners.rename({"code": "partner", "iso": "partnerISO", "desc": "partnerDesc"}), on="partner", how="left")
        .join(partners.rename({"code": "partner2", "iso": "partner2ISO", "desc": "partner2Desc"}), on="partner2", how="left")
        .join(cmd_desc, on="cmd", how="left")
    )
    is_m = pl.col("flow") == "M"
    by_items = pl.col("unit") == "u"
    leaf = pl.col("aggr") == 6
    df = df.with_columns(
        pl.lit("C").alias("typeCode"),
        pl.lit("A").alias("freqCode"),
        pl.lit(year * 10000 + 101, pl.Int64).alias("refPeriodId"),
        pl.lit(year, pl.Int64).alias("refYear"),
        pl.lit(52, pl.Int64).alias("refMonth"),
        pl.lit(str(year)).alias("period"),
        pl.col("reporterCode").cast(pl.Int64),
        pl.col("flow").alias("flowCode"),
        pl.when(is_m).then(pl.lit("Import")).otherwise(pl.lit("Export")).alias("flowDesc"),
        pl.col("partner").cast(pl.Int64).alias("partnerCode"),
        pl.col("partner2").cast(pl.Int64).alias("partner2Code"),
        pl.lit("H6").alias("classificationCode"),
        pl.lit("HS").alias("classificationSearchCode"),
        pl.lit(True).alias("isOriginalClassification"),
        pl.col("cmd").alias("cmdCode"),
        pl.col("aggr").cast(pl.Int64).alias("aggrLevel"),
        leaf.alias("isLeaf"),
        pl.col("customs").alias("customsCode"),
        pl.when(pl.col("customs") == "C00").then(pl.lit("TOTAL CPC")).otherwise(pl.lit("Customs procedure C01")).alias("customsDesc"),
        pl.lit("0").alias("mosCode"),
        pl.col("mot").cast(pl.Int64).alias("motCode"),
        pl.when(pl.col("mot") == 0).then(pl.lit("TOTAL MOT")).otherwise(pl.lit("Sea")).alias("motDesc"),
        pl.when(~leaf).then(-1).when(by_items).then(5).otherwise(8).cast(pl.Int64).alias("qtyUnitCode"),
        pl.when(~leaf).then(pl.lit("N/A")).when(by_items).then(pl.lit("u")).otherwise(pl.lit("kg")).alias("qtyUnitAbbr"),
        pl.col("qty").cast(pl.Float64),
        pl.lit(False).alias("isQtyEstimated"),
        pl.when(leaf).then(8).otherwise(-1).cast(pl.Int64).alias("altQtyUnitCode"),
        pl.when(leaf).then(pl.lit("kg")).otherwise(pl.lit("N/A")).alias("altQtyUnitAbbr"),
        pl.when(leaf).then(pl.col("kg")).otherwise(None).cast(pl.Float64).alias("altQty"),
        pl.lit(False).alias("isAltQtyEstimated"),
        pl.col("kg").cast(pl.Float64).alias("netWgt"),
        pl.lit(False).alias("isNetWgtEstimated"),
        pl.lit(None, pl.Float64).alias("grossWgt"),
        pl.lit(False).alias("isGrossWgtEstimated"),
        pl.when(is_m).then(pl.col("value")).otherwise(None).cast(pl.Float64).alias("cifvalue"),
        pl.when(is_m).then(None).otherwise(pl.col("value")).cast(pl.Float64).alias("fobvalue"),
        pl.col("value").cast(pl.Float64).alias("primaryValue"),
        pl.lit(0, pl.Int64).alias("legacyEstimationFlag"),
        pl.lit(True).alias("isReported"),
        pl.col("kind").is_in(["world", "hs2"]).alias("isAggregate"),
    )
    # the key is unique (one row per reporter, flow, product, partner and breakdown): the order is the same
    # whatever polars' sort does with ties
    return df.sort("reporterCode", "flowCode", "aggrLevel", "cmdCode", "partnerCode", "partner2Code", "customsCode",
                   "motCode", descending=[False, False, True, False, False, False, False, False]
                   ).select(COMTRADE_FIELDS)



def write_comtrade_json(records: pl.DataFrame, folder: Path, year: int, sink: FileSink) -> list[Path]:
    """API-style pages (<= 100,000 records each) per reporter and flow, gzipped."""
    written = []
    for (reporter, flow), part in records.partition_by(["reporterCode", "flowCode"], maintain_order=True,
                                                       as_dict=True).items():
        for page, start in enumerate(range(0, part.height, MAX_RECORDS_PER_PAGE), start=1):
            chunk = part.slice(start, MAX_RECORDS_PER_PAGE)
            body = (b'{"elapsedTime": "0.0 secs", "count": ' + str(chunk.height).encode()
                    + b', "data": ' + chunk.write_json().encode("utf-8") + b', "error": ""}')
            path = folder / f"SYNTHETIC_comtrade_v1_C_A_HS_{reporter}_{year}_{flow}_p{page}.json.gz"
            written.append(sink.put(path, body, compress=True))
    return written


def write_comtrade_bulk(records: pl.DataFrame, folder: Path, year: int, sink: FileSink) -> list[Path]:
    """One bulk file per reporter-year: gzipped tab-separated text with a header."""
    written = []
    for (reporter,), part in records.partition_by("reporterCode", maintain_order=True, as_dict=True).items():
        path = folder / f"SYNTHETIC_COMTRADE-FINAL-CA{reporter:03d}{year}H6[{year + 1}-06-30].gz"
        text = part.write_csv(separator="\t", null_value="", line_terminator="\n")
        written.append(sink.put(path, text.encode("utf-8"), compress=True))
    return written


def reporter_chunks(core: pl.DataFrame, rows: int = ROWS_PER_CHUNK) -> list[list[int]]:
    """The reporters of ``core`` (country index order) in groups of about ``rows`` core rows."""
    sizes = core.group_by("rep").len().sort("rep")  # one row per reporter
    return [[rep for rep, _ in group] for group in packed(sizes.iter_rows(), lambda r: r[1], rows)]


def write_year(core: pl.DataFrame, *, ctry: pl.DataFrame, prods: pl.DataFrame, hs: pl.DataFrame, year: int,
               seed: int, folder: Path, sink: FileSink, comtrade_format: str = "json") -> tuple[list[Path], int]:
    """The demo world's writer for source 'comtrade' (pipeline/sources/comtrade): every reporter's records of
    ``year``, as API pages or bulk files; (files, rows of the year's core)."""
    writer = write_comtrade_json if comtrade_format == "json" else write_comtrade_bulk
    files: list[Path] = []
    for reps in reporter_chunks(core):
        records = comtrade_records(core.filter(pl.col("rep").is_in(reps)), ctry, hs, year)
        files += writer(records, folder, year, sink)
    return files, core.height
