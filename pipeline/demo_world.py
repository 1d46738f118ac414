"""Deterministic SYNTHETIC "demo world": trade files in the real source formats.

Why this exists
---------------
The pipeline must run end to end without a Comtrade subscription key or a
multi-gigabyte Comext download: on a fresh clone, in CI, and in benchmarks.
This module invents one world of trade and writes it as the files the real
readers consume, so that every stage (ingest, filtering, HHI, screens) runs on
realistic shapes and traps, and the results can be checked against answers
that were planted on purpose.

EVERYTHING WRITTEN HERE IS SYNTHETIC. Every file name starts with
``SYNTHETIC_``, each source folder gets a ``_release.json`` sidecar with
``"synthetic": true`` (the readers mark every row from such a folder as
synthetic), and ``planted.json`` in the output root describes the world.

The model
---------
1. One "true" bilateral matrix per year, in USD: exporter -> importer -> HS6
   value. ~60 countries (all EU27 members and the main third countries) are
   both reporters and partners. Big importers import more products, from more
   suppliers (participation and supplier count rise with size). Each
   (importer, product) pair that trades has a random subset of suppliers,
   drawn with probability ~ exporter size x sqrt(product-specific comparative
   advantage) (Gumbel top-k = weighted sampling without replacement), and
   heavy-tailed supplier shares (size^0.4 x comparative advantage x lognormal
   noise), so a product's big importers buy from 10-25 countries with a few
   large and many small shares. Gravity in two blocs: EU members pick and
   weigh each other more (the single market; intra-EU trade is ~60% of their
   imports) and third countries weigh EU suppliers less (distance), so the
   EU's extra-EU imports and exports are of the same order, and every big
   member exports nearly every product to some third country. An importer's
   expected total is its size share of world trade. Calibrated so that the EC
   screen on the default world (scale 0.01) flags ~3% of the EU27's HS6
   products as dependent (the EC found 137 of ~5,200, 2.6%), not because of
   missing data: fewer than 10% of the EU27 and NL screen rows have no
   extra-EU exports.
2. Planted dependencies (see ``_planted_specs``) override the random shares of
   a few (importer, product) keys in every year, so that a pipeline run on the
   files must find them again; their design shares go to ``planted.json``.
3. Views of that truth in the real formats:

   * UN Comtrade v1 records (47 fields, order of the API), every reporter,
     annual: imports reported CIF (truth x ~1.05 x small noise), exports FOB
     (truth x small noise), so mirror flows agree within CIF/FOB noise. Per
     (reporter, flow, product) a World row (partner 0) equal to the sum of its
     partner rows, including small unallocated rows to 899 "Areas, nes" and
     839 "Special Categories". Traps a correct pipeline must handle: breakdown
     rows (customsCode C01, motCode 2100, partner2Code != 0) duplicating part
     of a value, and, for two reporters, HS2 aggregate rows (aggrLevel 2,
     isLeaf false) next to the HS6 detail.
     Written as API pages (``--format json``) or as bulk files (``bulk``).
   * Eurostat Comext ``full_v2`` monthly CSV for the 27 member states, in EUR
     (fixed yearly ECB rates, ``USD_PER_EUR``), each flow spread over months
     with seasonality and noise and split into 1-3 CN8 codes, some rows split
     over STAT_PROCEDURE 1 and 2, plus confidential product codes
     (``39XXXXXX``) and pseudo-partners QV/QY/QS with small values.

Scale
-----
``scale=1.0`` is about 9 million Comtrade rows per year (one year of world HS6
bilateral trade); ``scale=0.01`` about 90,000. The number of products
(required codes + the rest x scale^0.75, up to all HS6 codes), the
participation of importers and the mean number of suppliers per (importer,
product) all grow with the scale: small worlds hold fewer products, each traded
by many countries, rather than many thinly traded ones. The product set always
covers every strategic-domain prefix and never holds HS6 392010.

Determinism
-----------
Every random draw comes from ``numpy.random.default_rng([seed, stream, ...])``,
year streams are keyed by the year (so a year's data do not depend on which
other years are generated), outputs are sorted, gzip headers carry mtime 0.
Same arguments -> byte-identical files.

No Python loop over data rows: loops run over reporters, years, months, files
and the handful of planted definitions only; rows are numpy/polars vectors.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import polars as pl

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"

GENERATOR = "pipeline.demo_world"
RELEASE_FMT = "SYNTHETIC demo-world v2 (seed={seed}, scale={scale}, years={years})"

# HS6 392010 is never generated: a real Comext extract for CN 39201081 (HS6
# 392010) is ingested next to the demo world, and synthetic rows for the same
# product would mix with the real ones in the same marts.
EXCLUDED_HS6 = frozenset({"392010"})

MAX_RECORDS_PER_PAGE = 100_000  # the Comtrade v1 API's maximum page size
# Fast compression: at scale 1.0, level 6 spent 40% of the run in zlib for
# ~25% smaller files. Any level is deterministic with mtime=0.
GZIP_LEVEL = 1

# --- countries -------------------------------------------------------------
# iso3, Comtrade numeric code, ISO3 as Comtrade prints it, Comtrade's name,
# Comext GEONOM code, size (rough share of world imports, %; drives values).
# Comtrade's own codes differ from ISO numeric for FRA 251, NOR 579, IND 699,
# CHE 757, USA 842 and Taiwan 490, which Comtrade prints as "S19" /
# "Other Asia, nes" (map by numeric code, never by ISO3).
COUNTRIES: tuple[tuple[str, int, str, str, str, float], ...] = (
    # EU27
    ("AUT", 40, "AUT", "Austria", "AT", 0.9),
    ("BEL", 56, "BEL", "Belgium", "BE", 2.2),
    ("BGR", 100, "BGR", "Bulgaria", "BG", 0.2),
    ("HRV", 191, "HRV", "Croatia", "HR", 0.2),
    ("CYP", 196, "CYP", "Cyprus", "CY", 0.05),
    ("CZE", 203, "CZE", "Czechia", "CZ", 0.9),
    ("DNK", 208, "DNK", "Denmark", "DK", 0.6),
    ("EST", 233, "EST", "Estonia", "EE", 0.1),
    ("FIN", 246, "FIN", "Finland", "FI", 0.4),
    ("FRA", 251, "FRA", "France", "FR", 3.5),
    ("DEU", 276, "DEU", "Germany", "DE", 6.5),
    ("GRC", 300, "GRC", "Greece", "GR", 0.4),
    ("HUN", 348, "HUN", "Hungary", "HU", 0.6),
    ("IRL", 372, "IRL", "Ireland", "IE", 0.6),
    ("ITA", 380, "ITA", "Italy", "IT", 2.5),
    ("LVA", 428, "LVA", "Latvia", "LV", 0.1),
    ("LTU", 440, "LTU", "Lithuania", "LT", 0.2),
    ("LUX", 442, "LUX", "Luxembourg", "LU", 0.15),
    ("MLT", 470, "MLT", "Malta", "MT", 0.04),
    ("NLD", 528, "NLD", "Netherlands", "NL", 3.5),
    ("POL", 616, "POL", "Poland", "PL", 1.5),
    ("PRT", 620, "PRT", "Portugal", "PT", 0.4),
    ("ROU", 642, "ROU", "Romania", "RO", 0.6),
    ("SVK", 703, "SVK", "Slovakia", "SK", 0.5),
    ("SVN", 705, "SVN", "Slovenia", "SI", 0.25),
    ("ESP", 724, "ESP", "Spain", "ES", 2.0),
    ("SWE", 752, "SWE", "Sweden", "SE", 0.8),
    # third countries
    ("CHN", 156, "CHN", "China", "CN", 11.0),
    ("USA", 842, "USA", "USA", "US", 13.0),
    ("JPN", 392, "JPN", "Japan", "JP", 3.5),
    ("KOR", 410, "KOR", "Rep. of Korea", "KR", 3.0),
    ("TWN", 490, "S19", "Other Asia, nes", "TW", 1.8),
    ("IND", 699, "IND", "India", "IN", 3.0),
    ("GBR", 826, "GBR", "United Kingdom", "GB", 3.5),
    ("CHE", 757, "CHE", "Switzerland", "CH", 1.6),
    ("NOR", 579, "NOR", "Norway", "NO", 0.4),
    ("RUS", 643, "RUS", "Russian Federation", "RU", 1.3),
    ("TUR", 792, "TUR", "Türkiye", "TR", 1.5),
    ("BRA", 76, "BRA", "Brazil", "BR", 1.2),
    ("CAN", 124, "CAN", "Canada", "CA", 2.5),
    ("MEX", 484, "MEX", "Mexico", "MX", 2.5),
    ("AUS", 36, "AUS", "Australia", "AU", 1.3),
    ("ZAF", 710, "ZAF", "South Africa", "ZA", 0.5),
    ("SGP", 702, "SGP", "Singapore", "SG", 1.8),
    ("MYS", 458, "MYS", "Malaysia", "MY", 1.2),
    ("THA", 764, "THA", "Thailand", "TH", 1.2),
    ("VNM", 704, "VNM", "Viet Nam", "VN", 1.5),
    ("IDN", 360, "IDN", "Indonesia", "ID", 0.9),
    ("PHL", 608, "PHL", "Philippines", "PH", 0.6),
    ("SAU", 682, "SAU", "Saudi Arabia", "SA", 0.8),
    ("ARE", 784, "ARE", "United Arab Emirates", "AE", 1.5),
    ("UKR", 804, "UKR", "Ukraine", "UA", 0.3),
    ("ISR", 376, "ISR", "Israel", "IL", 0.4),
    ("CHL", 152, "CHL", "Chile", "CL", 0.4),
    ("PER", 604, "PER", "Peru", "PE", 0.2),
    ("ARG", 32, "ARG", "Argentina", "AR", 0.3),
    ("COL", 170, "COL", "Colombia", "CO", 0.3),
    ("COD", 180, "COD", "Dem. Rep. of the Congo", "CD", 0.05),
    ("MAR", 504, "MAR", "Morocco", "MA", 0.3),
    ("EGY", 818, "EGY", "Egypt", "EG", 0.4),
    ("NGA", 566, "NGA", "Nigeria", "NG", 0.3),
    ("KAZ", 398, "KAZ", "Kazakhstan", "KZ", 0.25),
    ("NZL", 554, "NZL", "New Zealand", "NZ", 0.2),
)
EU27 = frozenset(
    "AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU LUX MLT "
    "NLD POL PRT ROU SVK SVN ESP SWE".split()
)
# Comtrade partner areas that are not countries (codes as in Comtrade).
WORLD = (0, "W00", "World")
AREAS_NES = (899, "_X ", "Areas, nes")
SPECIAL_CATEGORIES = (839, "XX ", "Special Categories")

# Reporters that, like some real ones, also ship HS2 totals (aggrLevel 2)
# next to their HS6 detail: summing everything would double count.
HS2_AGGREGATE_REPORTERS = ("BRA", "IND")

# --- currencies --------------------------------------------------------------
# ECB euro foreign exchange reference rates, annual averages, USD per EUR.
# Comext values are the USD truth divided by the rate of the year; other years
# use DEFAULT_USD_PER_EUR. Fixed numbers, so the demo world never needs a download.
USD_PER_EUR = {2018: 1.1810, 2019: 1.1195, 2020: 1.1422, 2021: 1.1827,
               2022: 1.0530, 2023: 1.0813, 2024: 1.0824}
DEFAULT_USD_PER_EUR = 1.10
# VALUE_NAC of non-euro reporters: national currency per EUR (rough, fixed).
NAC_PER_EUR = {"BG": 1.95583, "CZ": 24.5, "DK": 7.45, "HU": 385.0, "PL": 4.5,
               "RO": 4.95, "SE": 11.3}
HRK_PER_EUR = 7.5345  # Croatia adopted the euro on 2023-01-01

# --- noise levels (kept small so planted shares survive within +-0.03) -------
CIF_MARGIN = 0.05       # imports CIF = truth x (1 + margin) x noise
REPORT_NOISE = 0.02     # lognormal sigma of each reported value
BASE_YEAR = 2022        # values grow 4% a year from here
MEAN_HS6_WORLD_USD = 4.0e9  # ~ world trade / number of HS6 codes

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
COMEXT_FIELDS = (
    "REPORTER", "PARTNER", "TRADE_TYPE", "PRODUCT_NC", "PRODUCT_SITC",
    "PRODUCT_CPA21", "PRODUCT_CPA22", "PRODUCT_BEC", "PRODUCT_BEC5",
    "PRODUCT_SECTION", "FLOW", "STAT_PROCEDURE", "SUPPL_UNIT", "PERIOD",
    "VALUE_EUR", "VALUE_NAC", "QUANTITY_KG", "QUANTITY_SUPPL_UNIT",
)

# Random-number streams (first key after the seed), one per purpose, so that
# changing one part of the model does not reshuffle the others.
_S_PRODUCTS, _S_LINKS, _S_PLANTED, _S_YEAR, _S_COMTRADE, _S_COMEXT = range(1, 7)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *(int(k) for k in keys)])


# =============================================================================
# Reference data
# =============================================================================

_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50}


def _roman_to_int(text: str) -> int:
    text = text.strip().upper()
    if text.isdigit():
        return int(text)
    total = 0
    for i, ch in enumerate(text):  # a handful of characters, not data rows
        value = _ROMAN[ch]
        total += -value if i + 1 < len(text) and _ROMAN[text[i + 1]] > value else value
    return total


def load_reference(ref_dir: Path = REFERENCE_DIR) -> tuple[pl.DataFrame, pl.DataFrame]:
    """HS 2022 codes (code, level, description, section_no) and strategic domains."""
    hs = pl.read_csv(ref_dir / "hs_products.csv", infer_schema=False, encoding="utf8-lossy")
    sections = {s: _roman_to_int(s) for s in hs["section"].drop_nulls().unique().to_list()}
    hs = hs.select(
        pl.col("code").str.strip_chars(),
        pl.col("level").str.strip_chars(),
        pl.col("description"),
        pl.col("section").replace_strict(sections, default=0, return_dtype=pl.Int32).alias("section_no"),
    )
    domains = pl.read_csv(ref_dir / "strategic_domains.csv", infer_schema=False).select(
        pl.col("hs_prefix").str.strip_chars(), "domain", "label"
    )
    return hs, domains


def countries_frame() -> pl.DataFrame:
    """The embedded country table, with an index column used by the model."""
    df = pl.DataFrame(
        COUNTRIES,
        schema=["iso3", "ct_code", "ct_iso", "ct_desc", "geonom", "size"],
        orient="row",
    ).with_row_index("idx")
    return df.with_columns(pl.col("idx").cast(pl.Int32), pl.col("iso3").is_in(list(EU27)).alias("eu"))


# =============================================================================
# Scale and product set
# =============================================================================

@dataclass(frozen=True)
class ScalePlan:
    n_products: int        # HS6 codes in the world
    k_mean: float          # mean number of suppliers of a trading (importer, product) pair
    participation: float   # mean probability that an importer imports a product
    importer_participation: tuple[float, ...] = ()  # per country (COUNTRIES order)
    importer_k: tuple[float, ...] = ()              # mean suppliers per pair, per importer


ROWS_PER_YEAR_AT_SCALE_1 = 9_000_000
# Comtrade rows a planted (importer, product) pair brings per year, all included.
ROWS_PER_PLANTED_PAIR = 25.0
# The row budget is spent on few, richly traded products at small scales, not on
# many thinly traded ones: n_products = required + rest x scale ** PRODUCT_EXPONENT.
PRODUCT_EXPONENT = 0.75
# Calibration of the shapes (see the module docstring; measured with the EC
# screen on the default world, scale 0.01). Changing any of these moves the
# share of dependent products: re-measure before and after.
PARTICIPATION_SIZE_ELASTICITY = 0.5  # P(importer imports a product) ~ size ** this
SUPPLIERS_SIZE_ELASTICITY = 0.5      # mean suppliers of an importer's pair ~ size ** this
K_AT_SCALE_0, K_AT_SCALE_1 = 6.0, 14.0  # mean suppliers per pair over importers (sqrt in scale)
CA_SIGMA = 0.75            # lognormal sigma of comparative advantage (product x exporter)
PICK_SIZE_EXPONENT = 1.0   # supplier drawn with probability ~ size ** this x CA ** PICK_CA_EXPONENT
PICK_CA_EXPONENT = 0.5
SHARE_SIZE_EXPONENT = 0.4  # supplier weight within a pair ~ size ** this x CA x noise
SHARE_SIGMA = 0.8          # lognormal sigma of that noise
EU_PICK_BIAS = 2.0         # EU importers pick EU suppliers this much more readily
EU_VALUE_BIAS = 3.0        # ... and weigh them this much more
FAR_VALUE_FACTOR = 0.35    # weight factor of an EU supplier of a third country


def k_target(scale: float) -> float:
    """Mean suppliers per trading (importer, product) pair over importers."""
    return K_AT_SCALE_0 + (K_AT_SCALE_1 - K_AT_SCALE_0) * math.sqrt(min(scale, 1.0))


def rows_per_flow(k_mean: float) -> float:
    """Comtrade rows per random bilateral flow: its M and X rows, plus its part
    of the World, 899/839, breakdown and HS2 rows (fewer suppliers per key ->
    more World rows per flow). Checked on generated output at scale 0.002 .. 0.1
    (within 5% of 9e6 x scale)."""
    return 2.0 + 3.0 / k_mean


def importer_profile(size: np.ndarray, k_mean: float, flows_per_product: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-importer participation and mean number of suppliers, both rising with size,
    such that sum_i participation_i x k_i = flows_per_product."""
    n = len(size)
    rel = size / np.exp(np.log(size).mean())
    b = rel ** SUPPLIERS_SIZE_ELASTICITY
    k = np.clip(k_mean * b / b.mean(), 1.0, n - 1.0)
    a = rel ** PARTICIPATION_SIZE_ELASTICITY
    lo, hi = 0.0, 1.0 / a.min()
    if (np.minimum(1.0, hi * a) * k).sum() <= flows_per_product:
        return np.ones(n), k
    for _ in range(60):  # bisection on one scalar (not a loop over data rows)
        mid = 0.5 * (lo + hi)
        if (np.minimum(1.0, mid * a) * k).sum() < flows_per_product:
            lo = mid
        else:
            hi = mid
    return np.minimum(1.0, lo * a), k


def scale_plan(scale: float, n_available: int, n_required: int, fixed_rows: float = 0.0) -> ScalePlan:
    """How many products, suppliers and importers make ``9e6 * scale`` rows a year."""
    if not scale > 0:
        raise ValueError("scale must be > 0")
    n_products = int(min(n_available, n_required + round((n_available - n_required)
                                                         * min(scale, 1.0) ** PRODUCT_EXPONENT)))
    size = np.array([c[5] for c in COUNTRIES])
    k_mean = min(len(COUNTRIES) - 1.0, k_target(scale))
    target_flows = max(0.0, ROWS_PER_YEAR_AT_SCALE_1 * scale - fixed_rows) / rows_per_flow(k_mean)
    part, k = importer_profile(size, k_mean, target_flows / n_products)
    return ScalePlan(n_products, float((part * k).sum() / part.sum()), float(part.mean()),
                     tuple(part.tolist()), tuple(k.tolist()))


def required_products(hs6: Sequence[str], domains: pl.DataFrame, planted: Sequence[str]) -> list[str]:
    """Planted codes plus up to two HS6 codes under every strategic-domain prefix."""
    codes = pl.Series("code", sorted(c for c in hs6 if c not in EXCLUDED_HS6))
    picked = set(planted)
    for prefix in domains["hs_prefix"].to_list():  # ~50 prefixes
        under = codes.filter(codes.str.starts_with(prefix)).head(2).to_list()
        picked.update(under)
    return sorted(picked - EXCLUDED_HS6)


def select_products(hs: pl.DataFrame, domains: pl.DataFrame, n_products: int, seed: int) -> list[str]:
    """The required codes, topped up with random HS6 codes to ``n_products``."""
    hs6 = hs.filter(pl.col("level") == "6")["code"].to_list()
    required = required_products(hs6, domains, [s.product for s in _planted_specs()])
    rest = np.array(sorted(set(hs6) - set(required) - EXCLUDED_HS6))
    n_extra = max(0, min(len(rest), n_products - len(required)))
    extra = _rng(seed, _S_PRODUCTS).choice(rest, size=n_extra, replace=False).tolist() if n_extra else []
    return sorted(set(required) | set(extra))


def product_frame(codes: list[str], hs: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Per-product attributes: size weight, unit value, quantity unit, CN8 split."""
    rng = _rng(seed, _S_PRODUCTS, 1)
    n = len(codes)
    desc = hs.filter(pl.col("level") == "6").select("code", "description", "section_no")
    df = pl.DataFrame({"code": codes}).join(desc, on="code", how="left", maintain_order="left")
    weight = rng.lognormal(0.0, 1.3, n)
    weight /= weight.mean()
    chapter = df["code"].str.slice(0, 2)
    # Machinery, vehicles and instruments are counted in items, the rest in kg.
    by_items = chapter.is_in(["84", "85", "87", "88", "89", "90", "91", "92", "93", "95"]).to_numpy()
    return df.with_row_index("prod").with_columns(
        pl.col("prod").cast(pl.Int32),
        pl.Series("weight", weight),
        pl.Series("usd_per_kg", np.exp(rng.normal(math.log(6.0), 1.4, n))),
        pl.Series("kg_per_item", np.exp(rng.normal(math.log(3.0), 1.5, n))),
        pl.Series("by_items", by_items),
        pl.Series("n_cn8", rng.choice([1, 2, 3], size=n, p=[0.55, 0.30, 0.15]).astype(np.int8)),
        pl.Series("season_phase", rng.uniform(0, 2 * math.pi, n)),
        chapter.alias("chapter"),
    )


# =============================================================================
# Planted dependencies
# =============================================================================

@dataclass(frozen=True)
class PlantedPair:
    importer: str
    product: str
    total_usd: float                      # value in BASE_YEAR
    suppliers: tuple[tuple[str, float], ...]  # shares sum to 1


@dataclass(frozen=True)
class PlantedSpec:
    id: str
    view: str
    importer: str
    exporter: str
    product: str
    share: float
    denominator: str
    note: str


MAGNETS, COBALT, MAIZE, SEMI_EQUIPMENT = "850511", "260500", "100590", "848620"

MAGNETS_EXTRA_EU = (("CHN", 0.85), ("JPN", 0.07), ("USA", 0.05), ("VNM", 0.03))
MAGNETS_EXTRA_SHARE = 0.90                  # of an EU member's imports
MAGNETS_INTRA_POOL = ("DEU", "FRA", "NLD", "AUT")
MAGNETS_NON_EU = (("CHN", 0.70), ("JPN", 0.15), ("USA", 0.07), ("KOR", 0.05), ("DEU", 0.03))
MAGNETS_EU_TOTAL_USD = 2.5e9

COBALT_SUPPLIERS = (("COD", 0.70), ("AUS", 0.10), ("CAN", 0.08), ("RUS", 0.06), ("MAR", 0.06))
COBALT_WORLD_TOTAL_USD = 3.0e9

MAIZE_NL_EXTRA = (("UKR", 0.60), ("USA", 0.15), ("BRA", 0.15), ("ARG", 0.10))
MAIZE_NL_EXTRA_SHARE = 0.70
MAIZE_NL_INTRA = (("FRA", 0.5), ("DEU", 0.3), ("BEL", 0.2))
MAIZE_NL_TOTAL_USD = 1.2e9
MAIZE_EU_EXTRA = (("BRA", 0.25), ("USA", 0.20), ("ARG", 0.15), ("UKR", 0.10),
                  ("CAN", 0.10), ("TUR", 0.10), ("ZAF", 0.10))
MAIZE_EU_EXTRA_SHARE = 0.50
MAIZE_EU_INTRA_POOL = ("FRA", "HUN", "ROU", "POL", "BGR")
MAIZE_EU_OTHERS_TOTAL_USD = 6.0e9

SEMI_IMPORTERS = {"KOR": 6.0e9, "TWN": 9.0e9, "USA": 4.0e9, "CHN": 12.0e9, "BEL": 0.4e9}
SEMI_SUPPLIERS = (("NLD", 0.70), ("JPN", 0.15), ("DEU", 0.08), ("SGP", 0.07))


def _planted_specs() -> list[PlantedSpec]:
    """The answers a pipeline must find (design inputs, same in every year)."""
    specs = [
        PlantedSpec("eu27_magnets_chn", "eu_import", "EU27", "CHN", MAGNETS, 0.85,
                    "CHN value / extra-EU imports from country partners (allocated), summed over the 27 member reporters",
                    "Every EU member imports permanent magnets 90% from outside the EU, 85% of that from CHN; "
                    "EU exports of 850511 are small (M_extra/X_extra > 1)."),
        PlantedSpec("eu27_cobalt_cod", "eu_import", "EU27", "COD", COBALT, 0.70,
                    "COD value / extra-EU imports from country partners (allocated), summed over the 27 member reporters",
                    "Cobalt ores: every importer except the suppliers themselves buys 70% from COD; no EU supplier."),
        PlantedSpec("nl_maize_ukr", "nl_import", "NLD", "UKR", MAIZE, 0.60,
                    "UKR value / NLD's imports from non-EU country partners (allocated)",
                    "NL-only dependence: 30% of NL maize comes from EU members; the other EU members "
                    "buy from a diversified extra-EU set, so the EU27 as a whole is not concentrated."),
    ]
    for iso in SEMI_IMPORTERS:
        specs.append(PlantedSpec(
            f"nl_semi_equipment_{iso.lower()}", "depends_on_nl", iso, "NLD", SEMI_EQUIPMENT, 0.70,
            f"NLD value / {iso}'s total imports of 848620 (World; these keys carry no unallocated rows)",
            "Partner view (importer's own report); NLD's exports to it are generated from the same truth (mirror view)."))
    specs.append(PlantedSpec(
        "world_cobalt_cod", "world_export", "WORLD", "COD", COBALT, 0.70,
        "COD exports / world exports of 260500 (sum over all exporters, FOB)",
        "One exporter with > 0.6 of world exports."))
    return specs


def _first_not(pool: Sequence[str], iso: str, n: int) -> list[str]:
    return [c for c in pool if c != iso][:n]


def _planted_pairs(ctry: pl.DataFrame) -> list[PlantedPair]:
    """Every (importer, product) whose supplier shares are fixed by design."""
    size = dict(zip(ctry["iso3"].to_list(), ctry["size"].to_list()))
    eu = sorted(EU27)
    eu_size = sum(size[c] for c in eu)
    pairs: list[PlantedPair] = []
    for iso in eu:  # 27 members: magnets and maize
        intra = _first_not(MAGNETS_INTRA_POOL, iso, 3)
        sup = [(c, MAGNETS_EXTRA_SHARE * s) for c, s in MAGNETS_EXTRA_EU]
        sup += [(c, (1 - MAGNETS_EXTRA_SHARE) * s) for c, s in zip(intra, (0.5, 0.3, 0.2))]
        pairs.append(PlantedPair(iso, MAGNETS, MAGNETS_EU_TOTAL_USD * size[iso] / eu_size, tuple(sup)))
        if iso == "NLD":
            sup = [(c, MAIZE_NL_EXTRA_SHARE * s) for c, s in MAIZE_NL_EXTRA]
            sup += [(c, (1 - MAIZE_NL_EXTRA_SHARE) * s) for c, s in MAIZE_NL_INTRA]
            total = MAIZE_NL_TOTAL_USD
        else:
            intra = _first_not(MAIZE_EU_INTRA_POOL, iso, 3)
            sup = [(c, MAIZE_EU_EXTRA_SHARE * s) for c, s in MAIZE_EU_EXTRA]
            sup += [(c, (1 - MAIZE_EU_EXTRA_SHARE) * s) for c, s in zip(intra, (0.5, 0.3, 0.2))]
            total = MAIZE_EU_OTHERS_TOTAL_USD * size[iso] / (eu_size - size["NLD"])
        pairs.append(PlantedPair(iso, MAIZE, total, tuple(sup)))
    cobalt_suppliers = {c for c, _ in COBALT_SUPPLIERS}
    importers = [c for c in ctry["iso3"].to_list() if c not in cobalt_suppliers]
    cobalt_size = sum(size[c] for c in importers)
    for iso in importers:  # every non-supplier imports cobalt ores on the same terms
        pairs.append(PlantedPair(iso, COBALT, COBALT_WORLD_TOTAL_USD * size[iso] / cobalt_size, COBALT_SUPPLIERS))
    for iso, total in SEMI_IMPORTERS.items():
        pairs.append(PlantedPair(iso, SEMI_EQUIPMENT, total, SEMI_SUPPLIERS))
    return pairs


# =============================================================================
# The true flow matrix
# =============================================================================

LINK_SCHEMA = {"imp": pl.Int32, "exp": pl.Int32, "prod": pl.Int32, "pair": pl.Int64,
               "w": pl.Float64, "total": pl.Float64, "planted": pl.Boolean}


def _links_from_pairs(pairs: list[PlantedPair], ctry_idx: dict[str, int], prod_idx: dict[str, int]) -> pl.DataFrame:
    """Long table of the planted links (a few hundred rows built from the specs)."""
    imp, exp, prod, w, total = [], [], [], [], []
    for pair in pairs:  # loop over planted definitions, not data rows
        for iso, share in pair.suppliers:
            imp.append(ctry_idx[pair.importer])
            exp.append(ctry_idx[iso])
            prod.append(prod_idx[pair.product])
            w.append(share)
            total.append(pair.total_usd)
    return pl.DataFrame({"imp": imp, "exp": exp, "prod": prod, "w": w, "total": total},
                        schema_overrides={"imp": pl.Int32, "exp": pl.Int32, "prod": pl.Int32})


def _sample_suppliers(imp: np.ndarray, prod: np.ndarray, k: np.ndarray, logw: np.ndarray,
                      affinity: np.ndarray, rng: np.random.Generator,
                      chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """Draw k distinct suppliers per pair with probability ~ exp(logw[prod] +
    affinity[imp]) (Gumbel top-k).

    Returns (pair index, exporter index) in pair order. The importer itself is
    never drawn. Chunked so scale 1.0 stays well under a gigabyte.
    """
    n_ctry = logw.shape[1]
    out_pair, out_exp = [], []
    cols = np.arange(n_ctry)
    for start in range(0, len(imp), chunk):  # chunks of pairs, vectorised inside
        sl = slice(start, start + chunk)
        score = logw[prod[sl]] + affinity[imp[sl]] + rng.gumbel(size=(len(imp[sl]), n_ctry))
        score[np.arange(len(imp[sl])), imp[sl]] = -np.inf
        order = np.argsort(-score, axis=1, kind="stable")
        take = cols[None, :] < k[sl, None]
        out_exp.append(order[take])
        out_pair.append(np.repeat(np.arange(start, start + len(imp[sl])), k[sl]))
    if not out_exp:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_pair), np.concatenate(out_exp)


def build_links(ctry: pl.DataFrame, prods: pl.DataFrame, plan: ScalePlan, seed: int) -> pl.DataFrame:
    """Year-independent structure: who supplies whom with which base share."""
    rng = _rng(seed, _S_LINKS)
    n_ctry, n_prod = ctry.height, prods.height
    ctry_idx = dict(zip(ctry["iso3"].to_list(), ctry["idx"].to_list()))
    prod_idx = dict(zip(prods["code"].to_list(), prods["prod"].to_list()))
    size = ctry["size"].to_numpy()
    size_share = size / size.sum()
    is_eu = ctry["eu"].to_numpy()

    # Comparative advantage: product-specific exporter strength, heavy tailed,
    # so some products are naturally concentrated and others are not.
    ca = rng.lognormal(0.0, CA_SIGMA, (n_prod, n_ctry))
    logw = PICK_SIZE_EXPONENT * np.log(size)[None, :] + PICK_CA_EXPONENT * np.log(ca)

    allowed = np.ones((n_ctry, n_prod), dtype=bool)
    planted_pairs = _planted_pairs(ctry)
    for pair in planted_pairs:
        allowed[ctry_idx[pair.importer], prod_idx[pair.product]] = False
    allowed[:, prod_idx[COBALT]] = False  # cobalt ores: planted importers only
    part_i = np.asarray(plan.importer_participation)
    participate = (rng.random((n_ctry, n_prod)) < part_i[:, None]) & allowed
    imp, prod = np.nonzero(participate)  # row-major: sorted by importer, product
    imp = imp.astype(np.int64)
    prod = prod.astype(np.int64)

    # Non-EU importers of magnets follow a fixed CHN-led supplier list (so the
    # EU's few exports of magnets stay small): taken out of the random draw.
    magnets = prod == prod_idx[MAGNETS]
    rule_imp = imp[magnets]
    imp, prod = imp[~magnets], prod[~magnets]

    k = np.clip(1 + rng.poisson(np.asarray(plan.importer_k)[imp] - 1.0), 1, n_ctry - 1)
    # Gravity in two blocs: EU members pick each other more readily (single
    # market) and buy more from each other; third countries buy less from the
    # EU (distance) than the EU's many medium-sized members would otherwise sell.
    eu_eu = is_eu[:, None] & is_eu[None, :]
    far = ~is_eu[:, None] & is_eu[None, :]
    pick_affinity = np.where(eu_eu, math.log(EU_PICK_BIAS), 0.0)
    value_affinity = np.where(eu_eu, math.log(EU_VALUE_BIAS), np.where(far, math.log(FAR_VALUE_FACTOR), 0.0))
    pair_idx, exp = _sample_suppliers(imp, prod, k, logw, pick_affinity, rng)
    w = (size[exp] ** SHARE_SIZE_EXPONENT * ca[prod[pair_idx], exp] * rng.lognormal(0.0, SHARE_SIGMA, len(exp))
         * np.exp(value_affinity[imp[pair_idx], exp]))
    # An importer's expected total is its size share of world trade, however
    # many products it imports: fewer products, more value each.
    pair_total = (MEAN_HS6_WORLD_USD * prods["weight"].to_numpy()[prod] * size_share[imp] / part_i[imp]
                  * rng.lognormal(0.0, 0.8, len(imp)))
    random_links = pl.DataFrame({
        "imp": imp[pair_idx].astype(np.int32), "exp": exp.astype(np.int32),
        "prod": prod[pair_idx].astype(np.int32), "w": w, "total": pair_total[pair_idx],
    })

    # Magnets rule pairs for non-EU importers (importer never supplies itself).
    rule_imp = rule_imp[~is_eu[rule_imp]]
    rule_pairs = [
        PlantedPair(ctry["iso3"][int(i)], MAGNETS,
                    float(MEAN_HS6_WORLD_USD * size_share[i] * rng.lognormal(0.0, 0.5)),
                    tuple((c, s) for c, s in MAGNETS_NON_EU if c != ctry["iso3"][int(i)]))
        for i in rule_imp  # at most ~33 importers
    ]
    rule_links = _links_from_pairs(rule_pairs, ctry_idx, prod_idx) if rule_pairs else random_links.clear()
    planted_links = _links_from_pairs(planted_pairs, ctry_idx, prod_idx)

    links = pl.concat([
        random_links.with_columns(pl.lit(False).alias("planted")),
        rule_links.with_columns(pl.lit(False).alias("planted")),
        planted_links.with_columns(pl.lit(True).alias("planted")),
    ])
    links = links.sort("imp", "prod", "exp").with_columns(
        ((pl.col("imp").diff().fill_null(1) != 0) | (pl.col("prod").diff().fill_null(1) != 0))
        .cast(pl.Int64).cum_sum().sub(1).alias("pair")
    )
    # Normalise weights to shares within each (importer, product) pair. numpy's
    # sequential bincount, not a multi-threaded float sum: same bits every run.
    pair, w = links["pair"].to_numpy(), links["w"].to_numpy()
    links = links.with_columns(pl.Series("w", w / np.bincount(pair, weights=w)[pair]))
    return links.select(list(LINK_SCHEMA))


def truth_for_year(links: pl.DataFrame, year: int, seed: int) -> pl.DataFrame:
    """The USD flow matrix of one year: random keys drift, planted keys keep their shares."""
    rng = _rng(seed, _S_YEAR, year)
    pair = links["pair"].to_numpy()
    planted = links["planted"].to_numpy()
    n_pairs = int(pair.max()) + 1 if len(pair) else 0
    growth = 1.04 ** (year - BASE_YEAR) * float(rng.lognormal(0.0, 0.03))
    pair_factor = rng.lognormal(0.0, 0.10, n_pairs)
    drift = np.where(planted, 1.0, rng.lognormal(0.0, 0.08, len(pair)))
    w = links["w"].to_numpy() * drift
    w = w / np.bincount(pair, weights=w, minlength=n_pairs)[pair]
    value = links["total"].to_numpy() * growth * pair_factor[pair] * w
    return links.select("imp", "exp", "prod", "planted").with_columns(pl.Series("value", value))


# =============================================================================
# Comtrade
# =============================================================================

def comtrade_core(truth: pl.DataFrame, ctry: pl.DataFrame, prods: pl.DataFrame, year: int, seed: int) -> pl.DataFrame:
    """Compact Comtrade rows of one year (numbers only; labels are joined later).

    Columns: rep (country idx), flow, partner (Comtrade code), partner_idx
    (country idx or -1), partner2, customs, mot, aggr, cmd, value, kg, qty, kind.
    kind: 'country' | 'nes' | 'world' | 'breakdown' | 'hs2'.
    """
    rng = _rng(seed, _S_COMTRADE, year)
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
    planted_products = prods.filter(pl.col("code").is_in([s.product for s in _planted_specs()]))["prod"].to_list()

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
    """The 47 Comtrade v1 fields, in API order, for the compact rows of one reporter."""
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
    return df.sort("flowCode", "aggrLevel", "cmdCode", "partnerCode", "partner2Code", "customsCode", "motCode",
                   descending=[False, True, False, False, False, False, False]).select(COMTRADE_FIELDS)


def _gzip_bytes(data: bytes) -> bytes:
    # mtime=0 and no file name in the header: identical inputs, identical bytes.
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


class FileSink:
    """Compresses and writes files on one background thread, so zlib and disk
    overlap with building the next frame (zlib releases the GIL). The bytes
    written do not depend on timing; ``close`` re-raises any write error."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._jobs: list[Future] = []

    def put(self, path: Path, data: bytes, *, compress: bool) -> Path:
        self._jobs.append(self._pool.submit(self._write, path, data, compress))
        if len(self._jobs) > 4:  # bound the memory held by pending files
            self._jobs.pop(0).result()
        return path

    @staticmethod
    def _write(path: Path, data: bytes, compress: bool) -> None:
        path.write_bytes(_gzip_bytes(data) if compress else data)

    def close(self) -> None:
        try:
            for job in self._jobs:
                job.result()
        finally:
            self._pool.shutdown(wait=True)


def write_comtrade_json(records: pl.DataFrame, folder: Path, reporter_code: int, year: int,
                        sink: FileSink) -> list[Path]:
    """API-style pages (<= 100,000 records each) per flow, gzipped."""
    written = []
    for flow in ("M", "X"):
        part = records.filter(pl.col("flowCode") == flow)
        for page, start in enumerate(range(0, part.height, MAX_RECORDS_PER_PAGE), start=1):
            chunk = part.slice(start, MAX_RECORDS_PER_PAGE)
            body = (b'{"elapsedTime": "0.0 secs", "count": ' + str(chunk.height).encode()
                    + b', "data": ' + chunk.write_json().encode("utf-8") + b', "error": ""}')
            path = folder / f"SYNTHETIC_comtrade_v1_C_A_HS_{reporter_code}_{year}_{flow}_p{page}.json.gz"
            written.append(sink.put(path, body, compress=True))
    return written


def write_comtrade_bulk(records: pl.DataFrame, folder: Path, reporter_code: int, year: int,
                        sink: FileSink) -> list[Path]:
    """One bulk file per reporter-year: gzipped tab-separated text with a header."""
    path = folder / f"SYNTHETIC_COMTRADE-FINAL-CA{reporter_code:03d}{year}H6[{year + 1}-06-30].gz"
    text = records.write_csv(separator="\t", null_value="", line_terminator="\n")
    return [sink.put(path, text.encode("utf-8"), compress=True)]


# =============================================================================
# Comext
# =============================================================================

def usd_per_eur(year: int) -> float:
    return USD_PER_EUR.get(year, DEFAULT_USD_PER_EUR)


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
    planted = {s.product for s in _planted_specs()}
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


def comext_format(rows: pl.DataFrame, year: int, month: int) -> pl.DataFrame:
    """The 18 full_v2 columns. SITC/CPA/BEC are not modelled: zero placeholders
    (X placeholders on confidential codes, as in the real files)."""
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
        pl.lit(year * 100 + month, pl.Int64).alias("PERIOD"),
        value.alias("VALUE_EUR"),
        (pl.col("eur") * pl.col("REPORTER").replace_strict(nac_rates, default=1.0, return_dtype=pl.Float64))
        .round(0).cast(pl.Int64).alias("VALUE_NAC"),
        pl.col("kg").round(0).cast(pl.Int64).alias("QUANTITY_KG"),
        pl.when(pl.col("by_items")).then((pl.col("kg") / pl.col("kg_per_item")).round(0)).otherwise(0)
        .cast(pl.Int64).alias("QUANTITY_SUPPL_UNIT"),
    )
    return (
        df.filter(pl.col("VALUE_EUR") >= 1)
        .select(COMEXT_FIELDS)
        .sort("REPORTER", "PARTNER", "TRADE_TYPE", "PRODUCT_NC", "FLOW", "STAT_PROCEDURE")
    )


def write_comext_year(flows: pl.DataFrame, ctry: pl.DataFrame, prods: pl.DataFrame, year: int, seed: int,
                      folder: Path, sink: FileSink) -> tuple[list[Path], int]:
    """Twelve monthly files from the EU members' annual flows (``comext_flows``)."""
    rng = _rng(seed, _S_COMEXT, year)
    mw = _month_weights(flows, rng)
    cw = _cn8_weights(flows, rng)
    extras = _comext_extras(ctry, prods, year, rng)
    written, n_rows = [], 0
    for month in range(1, 13):
        rows = comext_month(flows, mw, cw, month, year, rng)
        extra = extras.filter(pl.col("month") == month).drop("month")
        df = comext_format(pl.concat([rows, extra], how="diagonal_relaxed"), year, month)
        path = folder / f"SYNTHETIC_full_v2_{year}{month:02d}.csv"
        written.append(sink.put(path, df.write_csv(line_terminator="\n").encode("utf-8"), compress=False))
        n_rows += df.height
    return written, n_rows


# =============================================================================
# Manifest and driver
# =============================================================================

def truth_context(truth: pl.DataFrame, ctry: pl.DataFrame, prods: pl.DataFrame) -> dict:
    """Numbers around the planted answers in one year, from the truth (USD, before CIF/noise)."""
    iso = ctry.select("idx", "iso3", "eu")
    planted_codes = [MAGNETS, MAIZE, COBALT]
    t = (truth.join(prods.select("prod", "code").filter(pl.col("code").is_in(planted_codes)), on="prod")
         .join(iso.rename({"idx": "imp", "iso3": "imp_iso", "eu": "imp_eu"}), on="imp")
         .join(iso.rename({"idx": "exp", "iso3": "exp_iso", "eu": "exp_eu"}), on="exp"))

    def val(expr: pl.Expr) -> float:
        return float(t.filter(expr)["value"].sum())

    eu_m = pl.col("imp_eu")
    mag = pl.col("code") == MAGNETS
    maize = pl.col("code") == MAIZE
    extra = eu_m & ~pl.col("exp_eu")
    maize_extra = t.filter(maize & extra).group_by("exp_iso").agg(pl.col("value").sum())
    shares = maize_extra["value"] / maize_extra["value"].sum()
    x_extra_mag = val(mag & pl.col("exp_eu") & ~pl.col("imp_eu"))
    return {
        "eu27_magnets_extra_share_of_imports": round(val(mag & extra) / val(mag & eu_m), 4),
        "eu27_magnets_m_extra_over_x_extra": round(val(mag & extra) / x_extra_mag, 2) if x_extra_mag else None,
        "eu27_maize_ukr_share_extra": round(val(maize & extra & (pl.col("exp_iso") == "UKR")) / val(maize & extra), 4),
        "eu27_maize_hhi_extra": round(float((shares ** 2).sum()), 4),
        "world_cobalt_cod_share_exports": round(val((pl.col("code") == COBALT) & (pl.col("exp_iso") == "COD"))
                                                / val(pl.col("code") == COBALT), 4),
    }


# the data year in the demo files' names (the Comtrade bulk name also holds its release date)
_YEAR_IN_NAME = re.compile(r"^SYNTHETIC_(?:COMTRADE-FINAL-CA\d{3}(\d{4})H|comtrade_v1_C_A_HS_\d+_(\d{4})_"
                           r"|full_v2_(\d{4})\d\d\.)")


def files_of_year(landing: Path, year: int) -> list[Path]:
    """The demo world's data files of one year under ``landing`` (its comtrade/ and comext/ folders)."""
    found = []
    for path in sorted(Path(landing).glob("*/SYNTHETIC_*")):
        match = _YEAR_IN_NAME.match(path.name)
        if match and int(next(g for g in match.groups() if g)) == year:
            found.append(path)
    return found


def _clean(folder: Path) -> None:
    """Remove what an earlier run of this generator wrote (and nothing else)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.is_file() and (path.name.startswith("SYNTHETIC_") or path.name == "_release.json"):
            path.unlink()


def _json_dump(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


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
    ct_dir, cx_dir = out_dir / "comtrade", out_dir / "comext"
    _clean(ct_dir)
    _clean(cx_dir)

    hs, domains = load_reference()
    ctry = countries_frame()
    hs6 = hs.filter(pl.col("level") == "6")["code"].to_list()
    specs = _planted_specs()
    n_required = len(required_products(hs6, domains, [s.product for s in specs]))
    # Planted pairs exist at every scale: their rows come off the random budget.
    fixed_rows = ROWS_PER_PLANTED_PAIR * len(_planted_pairs(ctry))
    plan = scale_plan(scale, len(set(hs6) - EXCLUDED_HS6), n_required, fixed_rows)
    prods = product_frame(select_products(hs, domains, plan.n_products, seed), hs, seed)
    links = build_links(ctry, prods, plan, seed)

    release = RELEASE_FMT.format(seed=seed, scale=scale, years=years)
    files: list[Path] = []
    rows_ct: dict[str, int] = {}
    rows_cx: dict[str, int] = {}
    context: dict[str, dict] = {}
    writer = write_comtrade_json if comtrade_format == "json" else write_comtrade_bulk
    sink = FileSink()
    try:
        for year in years:
            truth = truth_for_year(links, year, seed)
            context[str(year)] = truth_context(truth, ctry, prods)
            core = comtrade_core(truth, ctry, prods, year, seed)
            del truth
            rows_ct[str(year)] = core.height
            for rep in sorted(set(core["rep"].to_list())):  # one reporter at a time bounds memory
                records = comtrade_records(core.filter(pl.col("rep") == rep), ctry, hs, year)
                files += writer(records, ct_dir, int(ctry["ct_code"][rep]), year, sink)
            flows = comext_flows(core, ctry, prods, year)
            del core
            cx_files, n_cx = write_comext_year(flows, ctry, prods, year, seed, cx_dir, sink)
            files += cx_files
            rows_cx[str(year)] = n_cx
    finally:
        sink.close()

    sidecar = {"release": release, "synthetic": True, "generator": GENERATOR}
    for folder in (ct_dir, cx_dir):
        (folder / "_release.json").write_text(_json_dump(sidecar), encoding="utf-8")
        files.append(folder / "_release.json")

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
        "rows": {"comtrade": sum(rows_ct.values()), "comext": sum(rows_cx.values()),
                 "comtrade_by_year": rows_ct, "comext_by_year": rows_cx},
        "files": sorted(p.relative_to(out_dir).as_posix() for p in files),
        "planted": [
            {"id": s.id, "view": s.view, "importer": s.importer, "exporter": s.exporter, "product": s.product,
             "years": years, "share": s.share, "denominator": s.denominator, "note": s.note}
            for s in specs
        ],
        "context_from_truth": context,
    }
    (out_dir / "planted.json").write_text(_json_dump(manifest), encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.demo_world", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--years", type=int, nargs="+", default=[2022, 2023, 2024])
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--format", dest="comtrade_format", choices=("json", "bulk"), default="json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    manifest = generate(args.out_dir, scale=args.scale, years=args.years, seed=args.seed,
                        comtrade_format=args.comtrade_format)
    size = sum((args.out_dir / f).stat().st_size for f in manifest["files"])
    print(f"{manifest['release']}: {manifest['rows']['comtrade']:,} Comtrade rows, "
          f"{manifest['rows']['comext']:,} Comext rows, {len(manifest['files'])} files, "
          f"{size / 1e6:.1f} MB in {time.perf_counter() - started:.1f}s -> {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
