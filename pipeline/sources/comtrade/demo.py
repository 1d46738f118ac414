"""UN Comtrade's view of the reported core (:mod:`pipeline.demo_world.core`): every reporter's rows as v1 records
(API order), written as API pages or bulk files."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from pipeline.demo_world.countries import AREAS_NES, SPECIAL_CATEGORIES, WORLD
from pipeline.demo_world.files import FileSink
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


# The data year in the names both writers above give (a bulk name also holds its release date, a year later).
_YEAR_IN_NAME = re.compile(r"^SYNTHETIC_(?:comtrade_v1_C_A_HS_\d+_(\d{4})_|COMTRADE-FINAL-CA\d{3}(\d{4})H)")


def year_of_file(name: str) -> int | None:
    """The data year of a file this writer wrote (its name), None for any other file."""
    match = _YEAR_IN_NAME.match(name)
    return int(match.group(1) or match.group(2)) if match else None


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
    """The demo world's writer of this source (its ``demo_writer``): every reporter's records of ``year``, as API
    pages or bulk files; (files, rows of the year's core)."""
    writer = write_comtrade_json if comtrade_format == "json" else write_comtrade_bulk
    files: list[Path] = []
    for reps in reporter_chunks(core):
        records = comtrade_records(core.filter(pl.col("rep").is_in(reps)), ctry, hs, year)
        files += writer(records, folder, year, sink)
    return files, core.height
