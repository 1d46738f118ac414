"""The demo world's countries and the reference data it draws products from."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.paths import REFERENCE_DIR

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
    # the seed list's entries only: the published lists added later (data/reference/PROVENANCE.md) would
    # redraw the whole product set, and with it every demo figure; the seed's codes reach every domain
    domains = pl.read_csv(ref_dir / "strategic_domains.csv", infer_schema=False).filter(
        pl.col("listed_in").str.split(";").list.contains("seed")
    ).select(pl.col("hs_prefix").str.strip_chars(), "domain", "label")
    return hs, domains


def countries_frame() -> pl.DataFrame:
    """The embedded country table, with an index column used by the model."""
    df = pl.DataFrame(
        COUNTRIES,
        schema=["iso3", "ct_code", "ct_iso", "ct_desc", "geonom", "size"],
        orient="row",
    ).with_row_index("idx")
    return df.with_columns(pl.col("idx").cast(pl.Int32), pl.col("iso3").is_in(list(EU27)).alias("eu"))

