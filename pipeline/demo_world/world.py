"""The world model: scale, product set and the true USD flow matrix of each year.

Everything random comes from ``stream(seed, purpose, ...)``, one stream per purpose, so
changing one part of the model does not reshuffle the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import polars as pl

from pipeline.demo_world.countries import COUNTRIES
from pipeline.demo_world.planted import (ISOLATED_PRODUCTS, MAGNETS, MAGNETS_NON_EU, PlantedPair, planted_pairs,
                                         planted_specs)

# HS6 392010 is never generated: a real Comext extract for CN 39201081 (HS6
# 392010) is ingested next to the demo world, and synthetic rows for the same
# product would mix with the real ones in the same marts.
EXCLUDED_HS6 = frozenset({"392010"})

# --- noise levels (kept small so planted shares survive within +-0.03) -------
CIF_MARGIN = 0.05       # imports CIF = truth x (1 + margin) x noise
REPORT_NOISE = 0.02     # lognormal sigma of each reported value
BASE_YEAR = 2022        # values grow 4% a year from here
MEAN_HS6_WORLD_USD = 4.0e9  # ~ world trade / number of HS6 codes

# Random-number streams (first key after the seed), one per purpose, so that
# changing one part of the model does not reshuffle the others.
S_PRODUCTS, S_LINKS, S_PLANTED, S_YEAR, S_COMTRADE, S_COMEXT = range(1, 7)


def stream(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *(int(k) for k in keys)])


# --- currencies --------------------------------------------------------------
# ECB euro foreign exchange reference rates, annual averages, USD per EUR: the world's (its manifest states them),
# so every writer of a source in EUR (Comext) divides the USD truth by the same rate of the year; other years use
# DEFAULT_USD_PER_EUR. Fixed numbers, so the demo world never needs a download.
USD_PER_EUR = {2018: 1.1810, 2019: 1.1195, 2020: 1.1422, 2021: 1.1827,
               2022: 1.0530, 2023: 1.0813, 2024: 1.0824}
DEFAULT_USD_PER_EUR = 1.10


def usd_per_eur(year: int) -> float:
    return USD_PER_EUR.get(year, DEFAULT_USD_PER_EUR)


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
    required = required_products(hs6, domains, [s.product for s in planted_specs()])
    rest = np.array(sorted(set(hs6) - set(required) - EXCLUDED_HS6))
    n_extra = max(0, min(len(rest), n_products - len(required)))
    extra = stream(seed, S_PRODUCTS).choice(rest, size=n_extra, replace=False).tolist() if n_extra else []
    return sorted(set(required) | set(extra))


def product_frame(codes: list[str], hs: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Per-product attributes: size weight, unit value, quantity unit, CN8 split."""
    rng = stream(seed, S_PRODUCTS, 1)
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
    rng = stream(seed, S_LINKS)
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
    designed = planted_pairs(ctry)
    for pair in designed:
        allowed[ctry_idx[pair.importer], prod_idx[pair.product]] = False
    for code in ISOLATED_PRODUCTS:  # cobalt ores, gallium, penicillins: their planted importers only
        allowed[:, prod_idx[code]] = False
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
    planted_links = _links_from_pairs(designed, ctry_idx, prod_idx)

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
    rng = stream(seed, S_YEAR, year)
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

