"""Planted dependencies: the answers a pipeline run on the demo files must find again.

Their supplier shares override the random ones of a few (importer, product) keys in
every year (``planted_pairs``); ``planted_specs`` are the design answers written to
``planted.json``, and ``truth_context`` the numbers around them in one year's truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import polars as pl

from pipeline.demo_world.countries import EU27

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


MAGNETS, COBALT, MAIZE, SEMI_EQUIPMENT, GALLIUM = "850511", "260500", "100590", "848620", "811292"
PENICILLINS = "294110"

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

# A dependency hidden behind intermediaries (methodology section 8): the Netherlands buys gallium
# and germanium from Turkey, Switzerland and the US (direct HHI 0.335, under the 0.4 of the
# screen); Turkey and Switzerland buy theirs only from China and export less than they import,
# so both pass everything on: looked through, China holds 0.70 and the US 0.30 (HHI 0.58).
# Only these importers trade the product, so nothing else changes the answer.
GALLIUM_NL = (("TUR", 0.35), ("CHE", 0.35), ("USA", 0.30))
# small on purpose (issue 29): the Netherlands' gallium stays under the CN8 screen's minimum (EUR 1 million a
# year, split over its CN8 codes), and CHN, selling 1.2e9 to the intermediaries, holds over 99% of world
# exports: the one potential supplier of every importer (see BEYOND_CASES). The shares above are unchanged.
GALLIUM_NL_TOTAL_USD = 0.8e6
GALLIUM_INTERMEDIARIES = {"TUR": 0.6e9, "CHE": 0.6e9}  # each several times its exports to NL
GALLIUM_ULTIMATE = (("CHN", 1.0),)
SEMI_SUPPLIERS = (("NLD", 0.70), ("JPN", 0.15), ("DEU", 0.08), ("SGP", 0.07))

# The EU bloc dependent while no member state is on its own (methodology section 8, after MERICS 2024), on
# penicillins, traded by these importers only. DEU buys 1.0e9 from CHN alone and sells 1.7e9 to KOR and the US
# (M/X ~ 0.62 with CIF: C3 fails); FRA buys 1.5e9, half from CHN (HHI 0.33: C1 fails); the bloc buys 2.5e9,
# CHN 0.70 (HHI 0.52), none of it inside the EU, and M/X ~ 1.54. The margins are wide because every pair's
# total moves by its own lognormal factor (sigma 0.10) each year (world.truth_for_year): over 3 scales x 6
# seeds x 7 years DEU's M/X stayed <= 0.80 and the bloc's >= 1.15 (a design with DEU selling 1.2e9 and FRA
# buying 0.4e9 failed in 31 of those 126 years). 294110 is always in the product list: it is the first code
# under the strategic prefix 2941 (world.required_products).
PENICILLINS_DEU = (("CHN", 1.0),)
PENICILLINS_DEU_TOTAL_USD = 1.0e9
PENICILLINS_FRA = (("CHN", 0.5), ("JPN", 0.5 / 3), ("USA", 0.5 / 3), ("CAN", 0.5 / 3))
PENICILLINS_FRA_TOTAL_USD = 1.5e9
PENICILLINS_DEU_BUYERS = {"KOR": 0.9e9, "USA": 0.8e9}  # DEU their only supplier

# Products that only their planted importers trade (no random links), so nothing else moves their answers.
ISOLATED_PRODUCTS = (COBALT, GALLIUM, PENICILLINS)


# One planted case of each screen no public monitor shows yet (methodology section 8, issue 29), from the
# planted pairs of this module; tests/test_beyond_screens.py finds each again on the embedded default.
BEYOND_CASES: dict[str, str] = {
    # monitor.crma_benchmark(_rolling): cobalt ores (CRMA cobalt, extraction) come 70% from COD for every
    # importer (COBALT_SUPPLIERS): over the 0.65 benchmark for the EU27 and NL every complete year, and for the
    # EU27 every complete 12-month window (NL's months vary more: a window may dip under it)
    "crma_cobalt_over_benchmark": COBALT,
    # monitor.supplier_headroom: CHN sells gallium to TUR and CHE (1.2e9) and the Netherlands buys 0.8e6 from
    # TUR, CHE and the US: CHN has over 99% of world exports, the one potential supplier (>= 1%), and NL, buying
    # from none of it, is concentrated in the OECD's sense (0 < 1 / 2)
    "headroom_one_potential_supplier": GALLIUM,
    # monitor.ec_screen_cn8: NL's gallium (EUR ~0.7 million a year, the EU27's only) is under cn8_min_value:
    # its HS6 row is screened, none of its CN8 codes is
    "cn8_below_minimum": GALLIUM,
    # monitor.bloc_vs_members: penicillins (PENICILLINS_*): the EU27 passes C1-C3 every complete year, DEU
    # (exports more than it imports) and FRA (HHI 0.33) do not: 'bloc_only', no member dependent
    "bloc_dependent_no_member": PENICILLINS,
}


def planted_specs() -> list[PlantedSpec]:
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
        "nl_gallium_hidden_chn", "hidden_dependency", "NLD", "CHN", GALLIUM, 0.70,
        "CHN look-through share of NLD's imports (Comtrade; TUR and CHE pass on all they import)",
        "Direct suppliers TUR 0.35, CHE 0.35, USA 0.30 (HHI 0.335, not concentrated); TUR and CHE import "
        "only from CHN: look-through CHN 0.70, USA 0.30, HHI 0.58 > 0.4, a hidden dependency."))
    specs.append(PlantedSpec(
        "nl_cobalt_spof_cod", "single_point_of_failure", "NLD", "COD", COBALT, 0.70,
        "COD share of world exports of 260500 (Comtrade), which makes it a single point of failure (> 0.5)",
        "If COD stopped, NL would lose 70% of its cobalt ores; no other exporter has half of world supply."))
    specs.append(PlantedSpec(
        "world_cobalt_cod", "world_export", "WORLD", "COD", COBALT, 0.70,
        "COD exports / world exports of 260500 (sum over all exporters, FOB)",
        "One exporter with > 0.6 of world exports."))
    return specs


def _first_not(pool: Sequence[str], iso: str, n: int) -> list[str]:
    return [c for c in pool if c != iso][:n]


def planted_pairs(ctry: pl.DataFrame) -> list[PlantedPair]:
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
    pairs.append(PlantedPair("NLD", GALLIUM, GALLIUM_NL_TOTAL_USD, GALLIUM_NL))
    for iso, total in GALLIUM_INTERMEDIARIES.items():
        pairs.append(PlantedPair(iso, GALLIUM, total, GALLIUM_ULTIMATE))
    pairs.append(PlantedPair("DEU", PENICILLINS, PENICILLINS_DEU_TOTAL_USD, PENICILLINS_DEU))
    pairs.append(PlantedPair("FRA", PENICILLINS, PENICILLINS_FRA_TOTAL_USD, PENICILLINS_FRA))
    for iso, total in PENICILLINS_DEU_BUYERS.items():
        pairs.append(PlantedPair(iso, PENICILLINS, total, (("DEU", 1.0),)))
    return pairs



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

