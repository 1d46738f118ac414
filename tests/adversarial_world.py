"""A small adversarial world: landing files that plant the edges of methodology sections 3-7.

``write_adversarial_world(data_root)`` writes Eurostat Comext SDMX-CSV files under
``data_root/landing/comext`` and UN Comtrade v1 API JSON pages under
``data_root/landing/comtrade``, each folder with a ``_release.json`` sidecar marking
every row synthetic. Run it with ``sources=["landing"]`` only (not the demo world).
Values are EUR (Comext) and USD (Comtrade); every detail row is HS 2022 (H6), so no HS
conversion is involved. Every edge has products of its own, so edges do not mask each
other. ``PLANTED`` maps an edge name to the keys ``(source, reporter, year, product)``
where it shows and the values the contract (tests/oracle/CONTRACT.md) implies there.

Comext, 2024 (a complete bloc: all 27 member states report, 12 months each)
-------------------------------------------------------------------------
0. baseline 940360 (wooden furniture): every member imports it from CN and US (annual),
   so all 27 members have 2024 data and EU27 2024 rows are ``bloc_complete``.
1. hs4_leftover_netting: DEU 810520 World 1000 vs partner rows 400 (leftover +600);
   DEU 810590 World 200 vs partner rows 250 (leftover -50). HS4 8105 must carry
   unallocated 600 and partner_rows_above_world 50, never a netted 550.
2. member_rows_above_world: CYP 300490 World 100 vs partner rows 130 (-30), beside FRA
   (+150) and ITA (+100): EU27 300490 unallocated 250 (not 220), above-World 30. CYP's
   rows sit in a second file with another LAST UPDATE (second release).
3. re_imports: NLD 854142 from NL 40 (self), DE 30, CN 100, US 20; DEU 854142 from NL 25.
   NLD m_intra 30 (not 70); EU27 m_intra 55 (NL<-DE 30 + DE<-NL 25, never NL<-NL 40).
   NLD also has 854142 in 2023 (dependent) and is not dependent in 2024: trends 'dropped'.
5. pseudo_partners: FRA 850760 imports from CN, US, DE and from every Q code (QR, QV, QY
   intra-EU; QS, QW, QZ extra-EU; QU, QX, QP, QQ scope-free), plus aggregate rows
   EU27_2020_EXTRA / EU27_2020_INTRA (ignored) and a WORLD total; an export to QS only.
   Scope all: every Q code unallocated; scope extra_eu: QR/QV/QY are m_intra/internal.
7. annual_and_monthly: AUT 2024 has annual imports of 850511, monthly exports of 850511,
   monthly-only imports of 850519, and for 850520 imports both an annual row (CN 300) and
   monthly rows (CN 12x20, US 2x10): annual wins for that key only.
8. mirror_only_nl (Comext): NLD exports 300215 to BE (BE reports no imports of it), FR, US
   (not a Comext reporter); FRA imports 300215 from NL 50 of World 100: nl_share exactly 0.5.
9. zero_exports: ITA 293030 (imports from CN, exports only to FR and QW: x_extra 0, C3 holds,
   ratio null) and BEL 293040 (imports and exports only with EU partners: not screened).
10. ties_and_thresholds: ESP 760110 IL 100 = IN 100 (+ KR 0): top supplier ISR (the highest
   ISO3 code; Comext's IN > IL and Comtrade's 699 > 376 point the other way). PRT 811292:
   HHI exactly 0.4, extra share exactly 0.5, ratio exactly 1 (C1, C2, C3 all false).
   PRT 811212 only C3 at threshold, 811221 only C1 at threshold, 811231 only C2 at threshold.
11. extras:
   a. confidential_code: DEU 39XXXXXX (CN 70, World 80) beside 39011000 (US 30, World 30):
      39XXXXXX counts in HS2 39 only (no HS6, no HS4 row of its own).
   b. uk_extra_eu: IRL 100590 from XI 60 + XU 40 (one supplier GBR, extra-EU) and FR 50.
   c. world_only: SVK 280410 only a WORLD import row (500) and an export to US.
   d. second_release: CYP's 300490 rows (edge 2) carry LAST UPDATE 20/01/26; all else 13/02/26.
   e. eu27_rows: Comext EU27_2020 reporter rows for 854231 beside member rows (NLD, DEU) of
      the same product: the bloc takes the EU27_2020 rows only ('eu27_rows'); DEU's 854232
      (members) makes HS4 8542 'mixed'.
   f. cn8_within_hs6: DNK 07133110 (World 100, CN 120) and 07133190 (World 100, US 50): the
      leftover is per HS6 (200 - 170 = +30), not per CN8 (+50 and -20).
   g. no_data_trend: NLD 283691 dependent in 2023, no row in 2024.

Comext, 2023 (a partial bloc)
-----------------------------
6. partial_bloc: only DEU, FRA, ITA, GRC and NLD report in 2023; GRC has 2 months of monthly
   rows, ITA 12 monthly months, the others annual rows. EU27 2023 284610 / 284690 pass
   C1-C3 but the bloc is incomplete (bloc_members 5, bloc_months_min 2): never dependent.
   EU27 284610 in 2024 (complete) is dependent: trends 'new'.

UN Comtrade (USD), 2022-2024
----------------------------
4. aggregate_reporter: reporter 97 (CT97, "EU") exports 280530 (World 5000 each year) and
   imports it from CHN in 2024: never an exporter, importer, or counted reporter.
12. world_coverage: 2022 and 2024 have exactly 50 Comtrade country reporters (covered, the
   threshold is >= 50); 2023 has 49 country reporters plus CT97 (not covered; 50 if CT97
   were wrongly counted). Most reporters report only a World export row of 280530.
   USA 280530 is flagged in 2022 and 2024 (2023 not covered -> null): persistent in 2024.
   The Comtrade EU27 bloc (DEU, FRA, NLD reporters) is incomplete: never flagged.
8c. mirror_only_nl (Comtrade): NLD exports 300215 to NOR (no Comtrade report at all), USA, DEU.
   USA imports from NLD 150, CHN 50, 899 10, 839 5, World 250 (nl_share 0.6); DEU imports
   NLD 45 = USA 45, FRA 10 (tie: nl_rank 1, top1 partner USA); KOR has no World row
   (total = partner rows 40). NLD also has a re-import (RM) row and a self-import row.
10c. comtrade_tie: KOR 280530 from ISR 100 = IND 100 -> top ISR.
11h. second_release (Comtrade): 300215 records are in a page with another release label.
13. hidden_dependence (Comtrade 2024, methodology section 8): KOR buys 540769 only from DEU (100); DEU
   imports NLD 80 and CHN 20 and exports World 125 (pass 0.8): KOR's nl_share is 0 but NL's
   look-through share 1 * 0.8 * 0.8 = 0.64 (hidden_dependence_on_nl; lt_eu_share 0.2 + 0.64). KOR buys
   540771 only from USA, which imports DEU 60, FRA 30, CHN 10 and exports World 50 (pass 1): lt_eu_share
   0.9, hidden_dependence_on_eu. NL exports nothing to KOR: nl_reported_exports 0, not null (section 7).
14. incomplete_year: GRC's 2023 is 2 months (edge 6): its own 284610 row passes C1-C3 but is never
   dependent (months_covered 2, year_complete false).
"""

from __future__ import annotations

import json
from pathlib import Path

# --------------------------------------------------------------------------- file formats

SDMX_HEADER = "DATAFLOW,LAST UPDATE,freq,reporter,partner,product,flow,indicators,TIME_PERIOD,OBS_VALUE"
MAIN_UPDATE = "13/02/26 11:00:00"      # release "Eurostat Comext ESTAT:DS-045409 last update 2026-02-13 11:00"
SECOND_UPDATE = "20/01/26 23:00:00"    # release "Eurostat Comext ESTAT:DS-045409 last update 2026-01-20 23:00"

COMTRADE_RELEASE_MAIN = "UN Comtrade v1 final C/A/H6, publication 2025-07-01 (ADVERSARIAL synthetic)"
COMTRADE_RELEASE_SECOND = "UN Comtrade v1 final C/A/H6, publication 2025-11-15 (ADVERSARIAL synthetic)"

IMP, EXP = 1, 2


def _sdmx(rows: list[tuple], last_update: str = MAIN_UPDATE) -> str:
    """(reporter, partner, product CN8, flow 1|2, period 'YYYY'|'YYYY-MM', value) -> SDMX-CSV."""
    lines = [SDMX_HEADER] + [
        f"ESTAT:DS-045409(1.0),{last_update},{'M' if '-' in period else 'A'},{r},{p},{prod},{flow},"
        f"VALUE_IN_EUROS,{period},{value}"
        for r, p, prod, flow, period, value in rows
    ]
    return "\n".join(lines) + "\n"


def _comtrade(records: list[tuple]) -> str:
    """(reporter code, flow 'M'|'X'|'RM', partner code, hs6, year, value) -> a v1 API page."""
    data = [
        {"typeCode": "C", "freqCode": "A", "refPeriodId": year * 10000 + 101, "refYear": year, "refMonth": 52,
         "period": str(year), "reporterCode": reporter, "flowCode": flow, "partnerCode": partner,
         "partner2Code": 0, "classificationCode": "H6", "cmdCode": hs6, "aggrLevel": 6, "isLeaf": True,
         "customsCode": "C00", "mosCode": "0", "motCode": 0, "primaryValue": float(value),
         "cifvalue": float(value) if flow in ("M", "RM") else None,
         "fobvalue": float(value) if flow in ("X", "RX") else None,
         "isReported": True, "isAggregate": False}
        for reporter, flow, partner, hs6, year, value in records
    ]
    return json.dumps({"elapsedTime": "0.0 secs", "count": len(data), "data": data, "error": ""}, indent=0)


def _months(year: int, months) -> list[str]:
    return [f"{year}-{m:02d}" for m in months]


# --------------------------------------------------------------------------- Comext rows

MEMBERS = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
           "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]


def _comext_2024_main() -> list[tuple]:
    y = "2024"
    rows: list[tuple] = []
    # 0. baseline: every member state reports 2024 (annual), so the bloc is complete
    for i, m in enumerate(MEMBERS):
        rows += [(m, "CN", "94036000", IMP, y, 100 + i), (m, "US", "94036000", IMP, y, 50)]
    # 1. HS4 leftover netting (DEU, 8105)
    rows += [
        ("DE", "WORLD", "81052000", IMP, y, 1000), ("DE", "CN", "81052000", IMP, y, 300),
        ("DE", "CD", "81052000", IMP, y, 100),
        ("DE", "WORLD", "81059000", IMP, y, 200), ("DE", "CN", "81059000", IMP, y, 150),
        ("DE", "US", "81059000", IMP, y, 100),
    ]
    # 2. the other members of 300490 (CYP's rows are in the second-release file)
    rows += [
        ("FR", "WORLD", "30049000", IMP, y, 500), ("FR", "CN", "30049000", IMP, y, 200),
        ("FR", "IN", "30049000", IMP, y, 150),
        ("IT", "WORLD", "30049000", IMP, y, 300), ("IT", "CN", "30049000", IMP, y, 100),
        ("IT", "IN", "30049000", IMP, y, 100),
    ]
    # 3. re-imports (NLD 854142)
    rows += [
        ("NL", "NL", "85414200", IMP, y, 40), ("NL", "DE", "85414200", IMP, y, 30),
        ("NL", "CN", "85414200", IMP, y, 100), ("NL", "US", "85414200", IMP, y, 20),
        ("NL", "US", "85414200", EXP, y, 200),
        ("DE", "NL", "85414200", IMP, y, 25),
    ]
    # 5. every pseudo-partner code in FRA's imports of 850760
    rows += [
        ("FR", "CN", "85076000", IMP, y, 100), ("FR", "US", "85076000", IMP, y, 50),
        ("FR", "DE", "85076000", IMP, y, 40),
        ("FR", "QR", "85076000", IMP, y, 10), ("FR", "QV", "85076000", IMP, y, 11),
        ("FR", "QY", "85076000", IMP, y, 12),
        ("FR", "QS", "85076000", IMP, y, 13), ("FR", "QW", "85076000", IMP, y, 14),
        ("FR", "QZ", "85076000", IMP, y, 15),
        ("FR", "QU", "85076000", IMP, y, 16), ("FR", "QX", "85076000", IMP, y, 17),
        ("FR", "QP", "85076000", IMP, y, 18), ("FR", "QQ", "85076000", IMP, y, 19),
        ("FR", "EU27_2020_EXTRA", "85076000", IMP, y, 999), ("FR", "EU27_2020_INTRA", "85076000", IMP, y, 888),
        ("FR", "WORLD", "85076000", IMP, y, 400),
        ("FR", "QS", "85076000", EXP, y, 30),
    ]
    # 7. annual and monthly rows in one reporter-year (AUT 2024)
    rows += [("AT", "CN", "85051100", IMP, y, 500), ("AT", "US", "85051100", IMP, y, 100)]
    rows += [("AT", "US", "85051100", EXP, p, 10) for p in _months(2024, range(1, 13))]
    rows += [("AT", "CN", "85051900", IMP, p, 10) for p in _months(2024, range(1, 13))]
    rows += [("AT", "JP", "85051900", IMP, p, 20) for p in _months(2024, (3, 6, 9))]
    rows += [("AT", "CN", "85052000", IMP, y, 300)]
    rows += [("AT", "CN", "85052000", IMP, p, 20) for p in _months(2024, range(1, 13))]
    rows += [("AT", "US", "85052000", IMP, p, 10) for p in _months(2024, (1, 2))]
    # 8. mirror-only dependence on NL (Comext)
    rows += [
        ("NL", "BE", "30021500", EXP, y, 100), ("NL", "FR", "30021500", EXP, y, 80),
        ("NL", "US", "30021500", EXP, y, 50),
        ("FR", "NL", "30021500", IMP, y, 50), ("FR", "CN", "30021500", IMP, y, 30),
        ("FR", "QU", "30021500", IMP, y, 20), ("FR", "WORLD", "30021500", IMP, y, 100),
    ]
    # 9. zero extra-EU exports; no non-EU trade at all
    rows += [
        ("IT", "CN", "29303000", IMP, y, 200), ("IT", "FR", "29303000", EXP, y, 50),
        ("IT", "QW", "29303000", EXP, y, 30),
        ("BE", "DE", "29304000", IMP, y, 50), ("BE", "FR", "29304000", IMP, y, 30),
        ("BE", "NL", "29304000", EXP, y, 20),
    ]
    # 10. ties and thresholds
    rows += [("ES", "IL", "76011000", IMP, y, 100), ("ES", "IN", "76011000", IMP, y, 100),
             ("ES", "KR", "76011000", IMP, y, 0)]
    five = [("CN", 1200), ("US", 200), ("JP", 200), ("KR", 200), ("IN", 200)]  # HHI = (144+4*4)/400 = 0.4
    rows += [("PT", p, "81129200", IMP, y, v) for p, v in five]
    rows += [("PT", "ES", "81129200", IMP, y, 2000), ("PT", "US", "81129200", EXP, y, 2000)]
    rows += [("PT", "CN", "81121200", IMP, y, 1000), ("PT", "US", "81121200", EXP, y, 1000)]
    rows += [("PT", p, "81122100", IMP, y, v) for p, v in five]
    rows += [("PT", "CN", "81123100", IMP, y, 1000), ("PT", "ES", "81123100", IMP, y, 1000)]
    # 11a. a confidential product code
    rows += [
        ("DE", "CN", "39XXXXXX", IMP, y, 70), ("DE", "WORLD", "39XXXXXX", IMP, y, 80),
        ("DE", "US", "39011000", IMP, y, 30), ("DE", "WORLD", "39011000", IMP, y, 30),
    ]
    # 11b. the UK (XI + XU) is extra-EU
    rows += [("IE", "XI", "10059000", IMP, y, 60), ("IE", "XU", "10059000", IMP, y, 40),
             ("IE", "FR", "10059000", IMP, y, 50)]
    # 11c. a World row without partner rows
    rows += [("SK", "WORLD", "28041000", IMP, y, 500), ("SK", "US", "28041000", EXP, y, 100)]
    # 11e. Comext's own EU27_2020 rows beside member rows
    rows += [
        ("EU27_2020", "CN", "85423100", IMP, y, 1000), ("EU27_2020", "TW", "85423100", IMP, y, 500),
        ("EU27_2020", "US", "85423100", IMP, y, 300), ("EU27_2020", "US", "85423100", EXP, y, 200),
        ("NL", "TW", "85423100", IMP, y, 400), ("DE", "CN", "85423100", IMP, y, 300),
        ("NL", "DE", "85423100", IMP, y, 100),
        ("DE", "KR", "85423200", IMP, y, 100),
    ]
    # 11f. two CN8 codes of one HS6 with leftovers of opposite sign
    rows += [
        ("DK", "WORLD", "07133110", IMP, y, 100), ("DK", "CN", "07133110", IMP, y, 120),
        ("DK", "WORLD", "07133190", IMP, y, 100), ("DK", "US", "07133190", IMP, y, 50),
    ]
    # 6. the product family in the complete year
    rows += [("DE", "CN", "28461000", IMP, y, 600), ("DE", "US", "28461000", IMP, y, 50)]
    return rows


def _comext_2024_second_release() -> list[tuple]:
    # 2. CYP's partner rows above its World total; 11d. another LAST UPDATE
    y = "2024"
    return [
        ("CY", "WORLD", "30049000", IMP, y, 100), ("CY", "CN", "30049000", IMP, y, 80),
        ("CY", "US", "30049000", IMP, y, 50),
    ]


def _comext_2023() -> list[tuple]:
    y = "2023"
    rows = [
        # 6. partial bloc: DE, FR annual; IT 12 months; GR 2 months
        ("DE", "CN", "28461000", IMP, y, 500),
        ("FR", "CN", "28469000", IMP, y, 300),
    ]
    rows += [("IT", "CN", "28461000", IMP, p, 20) for p in _months(2023, range(1, 13))]
    rows += [("GR", "CN", "28461000", IMP, p, 50) for p in _months(2023, (1, 2))]
    # 3. NLD 854142 dependent in 2023; 11g. NLD 283691 dependent in 2023 only
    rows += [("NL", "CN", "85414200", IMP, y, 100), ("NL", "CN", "28369100", IMP, y, 100)]
    return rows


# --------------------------------------------------------------------------- Comtrade records

CT = {"NLD": 528, "DEU": 276, "FRA": 251, "CHN": 156, "USA": 842, "JPN": 392, "KOR": 410, "TWN": 490,
      "ISR": 376, "IND": 699, "NOR": 579, "WORLD": 0, "EU": 97, "NES": 899, "SPECIAL": 839}
CORE_REPORTERS = ["CHN", "USA", "JPN", "NLD", "DEU", "FRA", "KOR"]  # 7 country reporters every year
# non-EU country reporters that report only a World export row of 280530 (unique ISO3 codes)
FILLERS = [4, 8, 12, 24, 31, 32, 36, 44, 48, 50, 51, 52, 60, 64, 68, 70, 72, 76, 84, 96, 104, 108, 112,
           116, 120, 124, 132, 140, 144, 148, 152, 170, 174, 178, 180, 188, 192, 204, 212, 214, 218, 222,
           231]  # 43: 7 + 43 = 50 country reporters
G = "280530"   # rare-earth metals: the world-supply product
H = "300215"   # immunological products: dependence on NL (Comtrade)


def _comtrade_world(year: int) -> list[tuple]:
    c = CT
    recs = [
        (c["CHN"], "X", c["WORLD"], G, year, 900), (c["CHN"], "X", c["USA"], G, year, 400),
        (c["CHN"], "X", c["JPN"], G, year, 300),
        (c["USA"], "M", c["CHN"], G, year, 400), (c["USA"], "M", c["JPN"], G, year, 50),
        (c["USA"], "M", c["WORLD"], G, year, 480), (c["USA"], "X", c["WORLD"], G, year, 10),
        (c["JPN"], "M", c["CHN"], G, year, 300), (c["JPN"], "M", c["TWN"], G, year, 100),
        (c["JPN"], "M", c["WORLD"], G, year, 400), (c["JPN"], "X", c["WORLD"], G, year, 50),
        (c["NLD"], "M", c["CHN"], G, year, 60), (c["NLD"], "M", c["WORLD"], G, year, 60),
        (c["NLD"], "X", c["WORLD"], G, year, 40),
        (c["DEU"], "M", c["CHN"], G, year, 200), (c["DEU"], "M", c["WORLD"], G, year, 200),
        (c["DEU"], "X", c["WORLD"], G, year, 20),
        (c["FRA"], "M", c["CHN"], G, year, 50), (c["FRA"], "M", c["WORLD"], G, year, 50),
        # 10c. a tie between Israel (376, ISR) and India (699, IND)
        (c["KOR"], "M", c["ISR"], G, year, 100), (c["KOR"], "M", c["IND"], G, year, 100),
        (c["KOR"], "M", c["WORLD"], G, year, 200),
        # 4. the EU aggregate reporter
        (c["EU"], "X", c["WORLD"], G, year, 5000),
    ]
    if year == 2024:
        # 13. hidden dependence: KOR <- DEU <- NLD (540769) and KOR <- USA <- DEU, FRA (540771)
        recs += [
            (c["KOR"], "M", c["DEU"], "540769", year, 100), (c["KOR"], "M", c["WORLD"], "540769", year, 100),
            (c["DEU"], "M", c["NLD"], "540769", year, 80), (c["DEU"], "M", c["CHN"], "540769", year, 20),
            (c["DEU"], "M", c["WORLD"], "540769", year, 100), (c["DEU"], "X", c["WORLD"], "540769", year, 125),
            (c["NLD"], "X", c["DEU"], "540769", year, 80),
            (c["KOR"], "M", c["USA"], "540771", year, 100),
            (c["USA"], "M", c["DEU"], "540771", year, 60), (c["USA"], "M", c["FRA"], "540771", year, 30),
            (c["USA"], "M", c["CHN"], "540771", year, 10), (c["USA"], "X", c["WORLD"], "540771", year, 50),
        ]
    fillers = FILLERS if year != 2023 else FILLERS[:-1]   # 2023: 49 country reporters
    recs += [(f, "X", c["WORLD"], G, year, 1) for f in fillers]
    if year == 2024:
        recs += [(c["EU"], "M", c["CHN"], G, year, 3000), (c["EU"], "M", c["WORLD"], G, year, 3000)]
    return recs


def _comtrade_nl_2024() -> list[tuple]:
    c, y = CT, 2024
    return [
        (c["NLD"], "X", c["NOR"], H, y, 100), (c["NLD"], "X", c["USA"], H, y, 200),
        (c["NLD"], "X", c["DEU"], H, y, 80), (c["NLD"], "X", c["WORLD"], H, y, 400),
        (c["NLD"], "M", c["NLD"], H, y, 30), (c["NLD"], "M", c["CHN"], H, y, 70),
        (c["NLD"], "M", c["WORLD"], H, y, 100), (c["NLD"], "RM", c["USA"], H, y, 999),
        (c["USA"], "M", c["NLD"], H, y, 150), (c["USA"], "M", c["CHN"], H, y, 50),
        (c["USA"], "M", c["NES"], H, y, 10), (c["USA"], "M", c["SPECIAL"], H, y, 5),
        (c["USA"], "M", c["WORLD"], H, y, 250),
        (c["DEU"], "M", c["NLD"], H, y, 45), (c["DEU"], "M", c["USA"], H, y, 45),
        (c["DEU"], "M", c["FRA"], H, y, 10), (c["DEU"], "M", c["WORLD"], H, y, 100),
        (c["KOR"], "M", c["NLD"], H, y, 10), (c["KOR"], "M", c["CHN"], H, y, 30),
    ]


# --------------------------------------------------------------------------- writer

COMEXT_FILES = {
    "ADVERSARIAL_comext_2024.csv": lambda: _sdmx(_comext_2024_main()),
    "ADVERSARIAL_comext_2024_cyprus_revision.csv": lambda: _sdmx(_comext_2024_second_release(), SECOND_UPDATE),
    "ADVERSARIAL_comext_2023.csv": lambda: _sdmx(_comext_2023()),
}
COMTRADE_FILES = {
    "ADVERSARIAL_comtrade_2022.json": lambda: _comtrade(_comtrade_world(2022)),
    "ADVERSARIAL_comtrade_2023.json": lambda: _comtrade(_comtrade_world(2023)),
    "ADVERSARIAL_comtrade_2024.json": lambda: _comtrade(_comtrade_world(2024)),
    "ADVERSARIAL_comtrade_2024_300215.json": lambda: _comtrade(_comtrade_nl_2024()),
}


def write_adversarial_world(data_root: Path) -> None:
    """Write the landing files (and their synthetic ``_release.json`` sidecars) under ``data_root``."""
    data_root = Path(data_root)
    comext = data_root / "landing" / "comext"
    comtrade = data_root / "landing" / "comtrade"
    for folder in (comext, comtrade):
        folder.mkdir(parents=True, exist_ok=True)
    # SDMX files state their release themselves (LAST UPDATE); the sidecar marks them synthetic
    (comext / "_release.json").write_text(json.dumps(
        {"synthetic": True, "release": "ADVERSARIAL synthetic Comext extract"}, indent=1), encoding="utf-8")
    for name, make in COMEXT_FILES.items():
        (comext / name).write_text(make(), encoding="utf-8")
    (comtrade / "_release.json").write_text(json.dumps(
        {"synthetic": True, "release": COMTRADE_RELEASE_MAIN,
         "files": {"ADVERSARIAL_comtrade_2024_300215.json": COMTRADE_RELEASE_SECOND}}, indent=1), encoding="utf-8")
    for name, make in COMTRADE_FILES.items():
        (comtrade / name).write_text(make(), encoding="utf-8")


# --------------------------------------------------------------------------- what is planted where

RELEASE_MAIN = "Eurostat Comext ESTAT:DS-045409 last update 2026-02-13 11:00"
RELEASE_SECOND = "Eurostat Comext ESTAT:DS-045409 last update 2026-01-20 23:00"

# Each edge: the keys (source, reporter, year, product) where it shows (product is the code at the
# level it shows at: six digits for HS6, four for HS4, two for HS2; reporter is ISO3, 'EU27' or
# Comtrade's 'CT97'), and what tests/oracle/CONTRACT.md implies there. "expect" entries name the
# monitor table, the key (reporter = importer for the dependence and world-supply tables) and, for
# import_concentration, the product_level and partner_scope; "absent": no such row at all.
# Values are exact (the thresholds edges compare hhi == 0.4, share == 0.5, ratio == 1.0 exactly).
PLANTED: dict[str, dict] = {
    "bloc_baseline": {
        "edge": 0,
        "what": "every member imports 940360 from CN and US in 2024 (annual): the 2024 bloc is complete",
        "keys": [("comext", "EU27", 2024, "940360")],
        "expect": [
            {"table": "ec_screen", "key": ("comext", "EU27", 2024, "940360"),
             "values": {"bloc_members": 27, "bloc_months_min": 12, "bloc_complete": True,
                        "m_extra": sum(100 + i for i in range(27)) + 27 * 50}},
        ],
    },
    "hs4_leftover_netting": {
        "edge": 1,
        "what": "DEU 810520 World 1000 > partner rows 400; DEU 810590 World 200 < partner rows 250; "
                "leftovers are floored per HS6 before summing to HS4",
        "keys": [("comext", "DEU", 2024, "810520"), ("comext", "DEU", 2024, "810590"),
                 ("comext", "DEU", 2024, "8105"), ("comext", "EU27", 2024, "8105")],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "DEU", 2024, "810520"), "level": "HS6",
             "scope": "all", "values": {"allocated_value": 400, "unallocated_value": 600, "world_value": 1000,
                                        "partner_rows_above_world": 0}},
            {"table": "import_concentration", "key": ("comext", "DEU", 2024, "810590"), "level": "HS6",
             "scope": "all", "values": {"allocated_value": 250, "unallocated_value": 0, "world_value": 200,
                                        "partner_rows_above_world": 50}},
            {"table": "import_concentration", "key": ("comext", "DEU", 2024, "8105"), "level": "HS4",
             "scope": "all", "values": {"allocated_value": 650, "unallocated_value": 600, "world_value": 1200,
                                        "partner_rows_above_world": 50, "n_suppliers": 3,
                                        "top1_partner": "CHN"}},
            {"table": "import_concentration", "key": ("comext", "DEU", 2024, "8105"), "level": "HS4",
             "scope": "extra_eu", "values": {"allocated_value": 650, "unallocated_value": 600}},
            {"table": "import_concentration", "key": ("comext", "EU27", 2024, "8105"), "level": "HS4",
             "scope": "extra_eu", "values": {"allocated_value": 650, "unallocated_value": 600,
                                             "world_value": 1200, "partner_rows_above_world": 50}},
        ],
    },
    "member_rows_above_world": {
        "edge": 2,
        "what": "CYP 300490 partner rows 130 > World 100 beside FRA (+150) and ITA (+100) leftovers; "
                "CYP's rows carry a second release",
        "keys": [("comext", "CYP", 2024, "300490"), ("comext", "EU27", 2024, "300490")],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "CYP", 2024, "300490"), "level": "HS6",
             "scope": "extra_eu", "values": {"allocated_value": 130, "unallocated_value": 0, "world_value": 100,
                                             "partner_rows_above_world": 30, "release": RELEASE_SECOND}},
            {"table": "import_concentration", "key": ("comext", "EU27", 2024, "300490"), "level": "HS6",
             "scope": "extra_eu", "values": {"allocated_value": 680, "unallocated_value": 250, "world_value": 900,
                                             "partner_rows_above_world": 30, "n_suppliers": 3,
                                             "top1_partner": "CHN", "bloc_basis": "members",
                                             "release": f"{RELEASE_SECOND}; {RELEASE_MAIN}"}},
        ],
    },
    "re_imports": {
        "edge": 3,
        "what": "NLD 854142 from NL 40 (self), DE 30, CN 100, US 20, exports to US 200; DEU from NL 25; "
                "NLD 2023 from CN 100 only (dependent), 2024 not dependent (ratio 0.6)",
        "keys": [("comext", "NLD", 2024, "854142"), ("comext", "EU27", 2024, "854142"),
                 ("comext", "DEU", 2024, "854142"), ("comext", "NLD", 2023, "854142")],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "NLD", 2024, "854142"), "level": "HS6",
             "scope": "all", "values": {"n_suppliers": 3, "allocated_value": 150, "internal_value": 40,
                                        "top1_partner": "CHN"}},
            {"table": "import_concentration", "key": ("comext", "NLD", 2024, "854142"), "level": "HS6",
             "scope": "extra_eu", "values": {"n_suppliers": 2, "allocated_value": 120, "internal_value": 70}},
            {"table": "ec_screen", "key": ("comext", "NLD", 2024, "854142"),
             "values": {"m_extra": 120, "m_intra": 30, "x_extra": 200, "extra_eu_import_share": 0.8,
                        "import_export_ratio": 0.6, "c3_substitutability": False, "dependent": False}},
            {"table": "ec_screen", "key": ("comext", "EU27", 2024, "854142"),
             "values": {"m_extra": 120, "m_intra": 55, "x_extra": 200, "dependent": False}},
            {"table": "import_concentration", "key": ("comext", "EU27", 2024, "854142"), "level": "HS6",
             "scope": "extra_eu", "values": {"internal_value": 95}},
            {"table": "ec_screen", "key": ("comext", "DEU", 2024, "854142"),
             "values": {"m_extra": 0, "m_intra": 25, "hhi_extra": None, "screened": False, "dependent": False}},
            {"table": "trends", "key": ("comext", "NLD", 2024, "854142"),
             "values": {"dependent": False, "dependent_previous": True, "dependency_status": "dropped"}},
        ],
    },
    "aggregate_reporter": {
        "edge": 4,
        "what": "Comtrade reporter 97 (CT97) exports 280530 (World 5000) every year and imports it in 2024",
        "keys": [("comtrade", "CT97", 2022, G), ("comtrade", "CT97", 2023, G), ("comtrade", "CT97", 2024, G)],
        "expect": [
            # no CT97 row anywhere in the monitor; world exports of 280530 sum country reporters only
            {"table": "import_concentration", "key": ("comtrade", "CT97", 2024, G), "level": "HS6", "scope": "all",
             "absent": True},
            {"table": "world_supply_screen", "key": ("comtrade", "CT97", 2024, G), "absent": True},
            {"table": "dependence_on_nl", "key": ("comtrade", "USA", 2024, G),
             "values": {"nl_world_export_share": 40 / (900 + 10 + 50 + 40 + 20 + 43)}},
        ],
    },
    "pseudo_partners": {
        "edge": 5,
        "what": "FRA 850760: CN 100, US 50, DE 40, QR 10, QV 11, QY 12, QS 13, QW 14, QZ 15, QU 16, QX 17, QP 18, "
                "QQ 19, EU27_2020_EXTRA 999 and EU27_2020_INTRA 888 (ignored), WORLD 400 (leftover 65); "
                "export only to QS 30",
        "keys": [("comext", "FRA", 2024, "850760"), ("comext", "EU27", 2024, "850760")],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "FRA", 2024, "850760"), "level": "HS6",
             "scope": "all", "values": {"n_suppliers": 3, "allocated_value": 190, "unallocated_value": 210,
                                        "internal_value": 0, "world_value": 400}},
            {"table": "import_concentration", "key": ("comext", "FRA", 2024, "850760"), "level": "HS6",
             "scope": "extra_eu", "values": {"n_suppliers": 2, "allocated_value": 150, "unallocated_value": 177,
                                             "internal_value": 73, "world_value": 400}},
            {"table": "ec_screen", "key": ("comext", "FRA", 2024, "850760"),
             "values": {"m_extra": 150, "m_intra": 73, "x_extra": 0, "import_export_ratio": None,
                        "dependent": True}},
            {"table": "ec_screen", "key": ("comext", "EU27", 2024, "850760"),
             "values": {"m_extra": 150, "m_intra": 73, "x_extra": 0, "dependent": True, "bloc_complete": True}},
        ],
    },
    "partial_bloc": {
        "edge": 6,
        "what": "2023: only DEU, FRA, ITA, GRC, NLD report; GRC 2 months (Jan, Feb), ITA 12 monthly, others "
                "annual; EU27 284610 / 284690 pass C1-C3 but the bloc is incomplete",
        "keys": [("comext", "EU27", 2023, "284610"), ("comext", "EU27", 2023, "284690"),
                 ("comext", "GRC", 2023, "284610"), ("comext", "EU27", 2024, "284610")],
        "expect": [
            {"table": "ec_screen", "key": ("comext", "EU27", 2023, "284610"),
             "values": {"m_extra": 840, "hhi_extra": 1.0, "c1_concentration": True, "c2_importance": True,
                        "c3_substitutability": True, "bloc_members": 5, "bloc_months_min": 2,
                        "bloc_complete": False, "dependent": False}},
            {"table": "ec_screen", "key": ("comext", "EU27", 2023, "284690"),
             "values": {"m_extra": 300, "bloc_complete": False, "dependent": False}},
            {"table": "import_concentration", "key": ("comext", "GRC", 2023, "284610"), "level": "HS6",
             "scope": "extra_eu", "values": {"allocated_value": 100, "months_covered": 2}},
            {"table": "import_concentration", "key": ("comext", "ITA", 2023, "284610"), "level": "HS6",
             "scope": "extra_eu", "values": {"allocated_value": 240, "months_covered": 12}},
            {"table": "ec_screen", "key": ("comext", "EU27", 2024, "284610"),
             "values": {"m_extra": 650, "bloc_complete": True, "dependent": True}},
            {"table": "trends", "key": ("comext", "EU27", 2024, "284610"),
             "values": {"dependent": True, "dependent_previous": False, "dependency_status": "new"}},
        ],
    },
    "annual_and_monthly": {
        "edge": 7,
        "what": "AUT 2024: 850511 imports annual (CN 500, US 100), exports monthly (US 12 x 10); 850519 imports "
                "monthly only (CN 12 x 10, JP 3 x 20); 850520 imports annual CN 300 plus monthly CN 12 x 20 "
                "and US 2 x 10 (annual wins for that key only)",
        "keys": [("comext", "AUT", 2024, "850511"), ("comext", "AUT", 2024, "850519"),
                 ("comext", "AUT", 2024, "850520")],
        "expect": [
            {"table": "ec_screen", "key": ("comext", "AUT", 2024, "850511"),
             "values": {"m_extra": 600, "x_extra": 120, "import_export_ratio": 5.0}},
            {"table": "import_concentration", "key": ("comext", "AUT", 2024, "850519"), "level": "HS6",
             "scope": "all", "values": {"allocated_value": 180, "n_suppliers": 2, "top1_partner": "CHN",
                                        "months_covered": 12}},
            {"table": "import_concentration", "key": ("comext", "AUT", 2024, "850520"), "level": "HS6",
             "scope": "all", "values": {"allocated_value": 300, "n_suppliers": 1, "top1_partner": "CHN"}},
            {"table": "import_concentration", "key": ("comext", "AUT", 2024, "8505"), "level": "HS4",
             "scope": "all", "values": {"allocated_value": 1080}},
        ],
    },
    "mirror_only_nl": {
        "edge": 8,
        "what": "Comext: NLD exports 300215 to BE 100 (BE reports no 300215 imports), FR 80, US 50; FRA imports "
                "from NL 50 of World 100 (nl_share exactly 0.5). Comtrade: NLD exports 300215 to NOR 100 "
                "(NOR reports nothing), USA 200, DEU 80; USA imports NLD 150 of World 250; DEU NLD 45 = USA 45, "
                "FRA 10; KOR NLD 10, CHN 30 and no World row; NLD re-import (RM) 999 and self-import 30",
        "keys": [("comext", "BEL", 2024, H), ("comext", "FRA", 2024, H), ("comext", "USA", 2024, H),
                 ("comtrade", "NOR", 2024, H), ("comtrade", "USA", 2024, H), ("comtrade", "DEU", 2024, H),
                 ("comtrade", "KOR", 2024, H), ("comtrade", "NLD", 2024, H)],
        "expect": [
            {"table": "dependence_on_nl", "key": ("comext", "BEL", 2024, H),
             "values": {"partner_view_available": False, "mirror_view_available": True,
                        "nl_reported_exports": 100, "mirror_share": None, "depends_on_nl": None}},
            {"table": "dependence_on_nl", "key": ("comext", "USA", 2024, H),
             "values": {"partner_view_available": False, "nl_reported_exports": 50, "depends_on_nl": None}},
            {"table": "dependence_on_nl", "key": ("comext", "FRA", 2024, H),
             "values": {"imports_from_nl": 50, "importer_total_imports": 100, "nl_share": 0.5,
                        "nl_reported_exports": 80, "mirror_share": 0.8, "depends_on_nl": True}},
            {"table": "dependence_on_nl", "key": ("comtrade", "NOR", 2024, H),
             "values": {"partner_view_available": False, "nl_reported_exports": 100, "depends_on_nl": None}},
            {"table": "dependence_on_nl", "key": ("comtrade", "USA", 2024, H),
             "values": {"imports_from_nl": 150, "importer_total_imports": 250, "nl_share": 0.6, "nl_rank": 1,
                        "mirror_share": 0.8, "depends_on_nl": True}},
            {"table": "dependence_on_nl", "key": ("comtrade", "DEU", 2024, H),
             "values": {"nl_share": 0.45, "nl_rank": 1, "importer_top_partner": "USA"}},
            {"table": "dependence_on_nl", "key": ("comtrade", "KOR", 2024, H),
             "values": {"importer_total_imports": 40, "nl_share": 0.25, "nl_rank": 2, "depends_on_nl": False}},
            {"table": "import_concentration", "key": ("comtrade", "USA", 2024, H), "level": "HS6",
             "scope": "all", "values": {"allocated_value": 200, "unallocated_value": 50}},
            {"table": "import_concentration", "key": ("comtrade", "NLD", 2024, H), "level": "HS6",
             "scope": "all", "values": {"allocated_value": 70, "internal_value": 30, "unallocated_value": 0}},
        ],
    },
    "zero_exports": {
        "edge": 9,
        "what": "ITA 293030 imports CN 200, exports only to FR 50 and QW 30 (x_extra 0); BEL 293040 imports "
                "DE 50, FR 30, exports NL 20 (no non-EU trade: not screened)",
        "keys": [("comext", "ITA", 2024, "293030"), ("comext", "BEL", 2024, "293040"),
                 ("comext", "EU27", 2024, "293030"), ("comext", "EU27", 2024, "293040")],
        "expect": [
            {"table": "ec_screen", "key": ("comext", "ITA", 2024, "293030"),
             "values": {"m_extra": 200, "x_extra": 0, "import_export_ratio": None, "c3_substitutability": True,
                        "screened": True, "dependent": True}},
            {"table": "ec_screen", "key": ("comext", "BEL", 2024, "293040"),
             "values": {"m_extra": 0, "m_intra": 80, "x_extra": 0, "hhi_extra": None,
                        "c3_substitutability": None, "screened": False, "dependent": False}},
            {"table": "ec_screen", "key": ("comext", "EU27", 2024, "293040"),
             "values": {"m_extra": 0, "m_intra": 80, "x_extra": 0, "screened": False, "dependent": False}},
        ],
    },
    "ties_and_thresholds": {
        "edge": 10,
        "what": "ESP 760110 IL 100 = IN 100 (+ KR 0, not a supplier); PRT 811292 HHI 0.4, share 0.5, ratio 1 "
                "exactly; PRT 811212 ratio exactly 1 only; 811221 HHI exactly 0.4 only; 811231 share exactly "
                "0.5 only; Comtrade KOR 280530 ISR 100 = IND 100",
        "keys": [("comext", "ESP", 2024, "760110"), ("comext", "PRT", 2024, "811292"),
                 ("comext", "PRT", 2024, "811212"), ("comext", "PRT", 2024, "811221"),
                 ("comext", "PRT", 2024, "811231"), ("comext", "EU27", 2024, "811292"),
                 ("comtrade", "KOR", 2024, G)],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "ESP", 2024, "760110"), "level": "HS6",
             "scope": "extra_eu", "values": {"n_suppliers": 2, "hhi": 0.5, "top1_partner": "ISR",
                                             "top1_share": 0.5}},
            {"table": "ec_screen", "key": ("comext", "PRT", 2024, "811292"),
             "values": {"hhi_extra": 0.4, "extra_eu_import_share": 0.5, "import_export_ratio": 1.0,
                        "c1_concentration": False, "c2_importance": False, "c3_substitutability": False,
                        "dependent": False}},
            {"table": "ec_screen", "key": ("comext", "EU27", 2024, "811292"),
             "values": {"hhi_extra": 0.4, "extra_eu_import_share": 0.5, "import_export_ratio": 1.0,
                        "dependent": False}},
            {"table": "ec_screen", "key": ("comext", "PRT", 2024, "811212"),
             "values": {"c1_concentration": True, "c2_importance": True, "c3_substitutability": False,
                        "dependent": False}},
            {"table": "ec_screen", "key": ("comext", "PRT", 2024, "811221"),
             "values": {"c1_concentration": False, "c2_importance": True, "c3_substitutability": True,
                        "dependent": False}},
            {"table": "ec_screen", "key": ("comext", "PRT", 2024, "811231"),
             "values": {"c1_concentration": True, "c2_importance": False, "c3_substitutability": True,
                        "dependent": False}},
            {"table": "import_concentration", "key": ("comtrade", "KOR", 2024, G), "level": "HS6",
             "scope": "all", "values": {"top1_partner": "ISR", "hhi": 0.5}},
        ],
    },
    "confidential_code": {
        "edge": 11,
        "what": "DEU 39XXXXXX CN 70 (World 80) beside 39011000 US 30 (World 30): HS2 39 only",
        "keys": [("comext", "DEU", 2024, "39"), ("comext", "DEU", 2024, "3901"), ("comext", "DEU", 2024, "390110")],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "DEU", 2024, "39"), "level": "HS2",
             "scope": "all", "values": {"allocated_value": 100, "unallocated_value": 10, "world_value": 110,
                                        "top1_partner": "CHN"}},
            {"table": "import_concentration", "key": ("comext", "DEU", 2024, "3901"), "level": "HS4",
             "scope": "all", "values": {"allocated_value": 30, "n_suppliers": 1}},
            {"table": "import_concentration", "key": ("comext", "DEU", 2024, "390110"), "level": "HS6",
             "scope": "all", "values": {"allocated_value": 30}},
        ],
    },
    "uk_extra_eu": {
        "edge": 11,
        "what": "IRL 100590 from XI 60 + XU 40 (both GBR, extra-EU) and FR 50",
        "keys": [("comext", "IRL", 2024, "100590")],
        "expect": [
            {"table": "ec_screen", "key": ("comext", "IRL", 2024, "100590"),
             "values": {"m_extra": 100, "m_intra": 50, "n_suppliers_extra": 1, "top_supplier": "GBR",
                        "dependent": True}},
        ],
    },
    "world_only": {
        "edge": 11,
        "what": "SVK 280410: only a WORLD import row 500, exports to US 100",
        "keys": [("comext", "SVK", 2024, "280410")],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "SVK", 2024, "280410"), "level": "HS6",
             "scope": "extra_eu", "values": {"n_suppliers": 0, "hhi": None, "allocated_value": 0,
                                             "unallocated_value": 500, "world_value": 500,
                                             "unallocated_share": 1.0, "low_confidence": True}},
            {"table": "ec_screen", "key": ("comext", "SVK", 2024, "280410"),
             "values": {"m_extra": 0, "x_extra": 100, "screened": True, "c3_substitutability": False,
                        "dependent": False}},
        ],
    },
    "second_release": {
        "edge": 11,
        "what": "CYP's 300490 file has LAST UPDATE 20/01/26 23:00 (all other Comext files 13/02/26 11:00); the "
                "Comtrade 300215 page has its own release label in the sidecar",
        "keys": [("comext", "EU27", 2024, "300490"), ("comext", "CYP", 2024, "300490"),
                 ("comext", "EU27", 2024, "940360"), ("comtrade", "USA", 2024, H)],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "EU27", 2024, "300490"), "level": "HS6",
             "scope": "extra_eu", "values": {"release": f"{RELEASE_SECOND}; {RELEASE_MAIN}", "synthetic": True}},
            # CYP's baseline 940360 rows come from the main file: only one release behind this row
            {"table": "import_concentration", "key": ("comext", "CYP", 2024, "940360"), "level": "HS6",
             "scope": "extra_eu", "values": {"release": RELEASE_MAIN}},
            {"table": "import_concentration", "key": ("comext", "EU27", 2024, "940360"), "level": "HS6",
             "scope": "extra_eu", "values": {"release": RELEASE_MAIN}},
            {"table": "import_concentration", "key": ("comtrade", "USA", 2024, H), "level": "HS6",
             "scope": "all", "values": {"release": COMTRADE_RELEASE_SECOND, "synthetic": True}},
        ],
    },
    "eu27_rows": {
        "edge": 11,
        "what": "EU27_2020 reporter rows for 854231 (CN 1000, TW 500, US 300; exports US 200) beside member "
                "rows NLD TW 400, DE 100; DEU CN 300; DEU 854232 KR 100 (members only)",
        "keys": [("comext", "EU27", 2024, "854231"), ("comext", "EU27", 2024, "8542")],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "EU27", 2024, "854231"), "level": "HS6",
             "scope": "extra_eu", "values": {"allocated_value": 1800, "bloc_basis": "eu27_rows",
                                             "top1_partner": "CHN"}},
            {"table": "import_concentration", "key": ("comext", "EU27", 2024, "8542"), "level": "HS4",
             "scope": "extra_eu", "values": {"allocated_value": 1900, "bloc_basis": "mixed"}},
            {"table": "ec_screen", "key": ("comext", "EU27", 2024, "854231"),
             "values": {"m_extra": 1800, "m_intra": 0, "x_extra": 200, "dependent": True}},
        ],
    },
    "cn8_within_hs6": {
        "edge": 11,
        "what": "DNK 07133110 World 100 < CN 120; 07133190 World 100 > US 50: the leftover is per HS6",
        "keys": [("comext", "DNK", 2024, "071331")],
        "expect": [
            {"table": "import_concentration", "key": ("comext", "DNK", 2024, "071331"), "level": "HS6",
             "scope": "all", "values": {"allocated_value": 170, "unallocated_value": 30, "world_value": 200,
                                        "partner_rows_above_world": 0}},
        ],
    },
    "no_data_trend": {
        "edge": 11,
        "what": "NLD 283691 imported from CN 100 in 2023 only (dependent), nothing in 2024",
        "keys": [("comext", "NLD", 2023, "283691"), ("comext", "NLD", 2024, "283691")],
        "expect": [
            {"table": "ec_screen", "key": ("comext", "NLD", 2023, "283691"), "values": {"dependent": True}},
            {"table": "trends", "key": ("comext", "NLD", 2024, "283691"),
             "values": {"dependent_previous": True, "dependency_status": "no_data"}},
        ],
    },
    "hidden_dependence": {
        "edge": 13,
        "what": "KOR 540769 only from DEU, which re-exports Dutch supply (pass 0.8, NL 0.8 of its imports); KOR "
                "540771 only from USA, which re-exports German and French supply (pass 1)",
        "keys": [("comtrade", "KOR", 2024, "540769"), ("comtrade", "KOR", 2024, "540771")],
        "expect": [
            {"table": "dependence_on_nl", "key": ("comtrade", "KOR", 2024, "540769"),
             "values": {"nl_share": 0.0, "depends_on_nl": False, "lt_nl_share": 0.64,
                        "hidden_dependence_on_nl": True, "nl_reported_exports": 0, "mirror_share": 0.0,
                        "mirror_view_available": False, "nl_world_export_share": 80 / 205}},
            {"table": "dependence_on_eu", "key": ("comtrade", "KOR", 2024, "540769"),
             "values": {"eu_share": 1.0, "depends_on_eu": True, "lt_eu_share": 0.84,
                        "hidden_dependence_on_eu": False}},
            {"table": "dependence_on_eu", "key": ("comtrade", "KOR", 2024, "540771"),
             "values": {"eu_share": 0.0, "depends_on_eu": False, "lt_eu_share": 0.9,
                        "hidden_dependence_on_eu": True, "eu_reported_exports": 0, "eu_world_export_share": 0.0}},
            {"table": "dependence_on_nl", "key": ("comtrade", "KOR", 2024, "540771"),
             "values": {"lt_nl_share": 0.0, "hidden_dependence_on_nl": False, "nl_world_export_share": 0.0}},
            {"table": "look_through_shares", "key": ("comtrade", "KOR", 2024, "540769"), "supplier": "NLD",
             "values": {"look_through_share": 0.64, "direct_share": 0.0, "hidden_share": 0.64}},
            {"table": "look_through_shares", "key": ("comtrade", "KOR", 2024, "540771"), "supplier": "DEU",
             "values": {"look_through_share": 0.6, "direct_share": 0.0}},
            {"table": "indirect_dependencies", "key": ("comtrade", "KOR", 2024, "540769"),
             "values": {"top_ultimate_supplier": "NLD", "top_ultimate_share": 0.64, "direct_hhi": 1.0}},
            # NL reports to Comtrade in 2024 and has no 300215 export row to KOR: 0, not unknown
            {"table": "dependence_on_nl", "key": ("comtrade", "KOR", 2024, H),
             "values": {"nl_reported_exports": 0, "mirror_share": 0.0}},
        ],
    },
    "incomplete_year": {
        "edge": 14,
        "what": "GRC 2023 has 2 months (January, February): its 284610 row passes C1-C3 but is never dependent",
        "keys": [("comext", "GRC", 2023, "284610")],
        "expect": [
            {"table": "ec_screen", "key": ("comext", "GRC", 2023, "284610"),
             "values": {"m_extra": 100, "c1_concentration": True, "c2_importance": True,
                        "c3_substitutability": True, "months_covered": 2, "year_complete": False,
                        "dependent": False}},
            {"table": "ec_screen", "key": ("comext", "ITA", 2023, "284610"),
             "values": {"months_covered": 12, "year_complete": True, "dependent": True}},
        ],
    },
    "world_coverage": {
        "edge": 12,
        "what": "Comtrade 280530: 50 country reporters in 2022 and 2024, 49 (+ CT97) in 2023; USA flagged in "
                "2022 and 2024; the Comtrade EU27 bloc (DEU, FRA, NLD) is incomplete",
        "keys": [("comtrade", "USA", 2022, G), ("comtrade", "USA", 2023, G), ("comtrade", "USA", 2024, G),
                 ("comtrade", "EU27", 2024, G), ("comtrade", "JPN", 2024, G)],
        "expect": [
            {"table": "world_supply_screen", "key": ("comtrade", "USA", 2024, G),
             "values": {"reporters_in_year": 50, "world_covered": True, "flagged": True, "persistent": True}},
            {"table": "world_supply_screen", "key": ("comtrade", "USA", 2023, G),
             "values": {"reporters_in_year": 49, "world_covered": False, "hhi_world_exports": None,
                        "flagged": None, "persistent": None}},
            {"table": "world_supply_screen", "key": ("comtrade", "USA", 2022, G),
             "values": {"reporters_in_year": 50, "world_covered": True, "flagged": True}},
            {"table": "world_supply_screen", "key": ("comtrade", "EU27", 2024, G),
             "values": {"bloc_complete": False, "flagged": False}},
            {"table": "import_concentration", "key": ("comtrade", "JPN", 2024, G), "level": "HS6",
             "scope": "all", "values": {"n_suppliers": 2, "allocated_value": 400, "top1_partner": "CHN"}},
        ],
    },
}


# --------------------------------------------------------------------------- issue 29: screens no public monitor shows yet
# Appended planted cases for methodology section 8's last part, checked by tests/test_beyond_screens.py against
# tests/oracle/beyond.py (PLANTED_BEYOND; PLANTED above is the contract of tests/oracle/oracle.py's tables).
#
# 15. one_potential_supplier (Comtrade 2024, only reporters that report anyway, so reporters_in_year stays 50):
#    811010 (antimony, unwrought) is exported by CHN (World 1000) and USA (World 5: share 5 / 1005 < 0.01), so
#    it has one potential supplier. KOR buys it from USA only: 0 < 1 / 2, concentrated_oecd, unused 'CHN'.
#    JPN buys it from CHN: 1 < 0.5 is false. CHN's own imports (from USA) have no potential supplier.
SB = "811010"


def _comtrade_headroom_2024() -> list[tuple]:
    c, y = CT, 2024
    return [
        (c["CHN"], "X", c["WORLD"], SB, y, 1000), (c["USA"], "X", c["WORLD"], SB, y, 5),
        (c["KOR"], "M", c["USA"], SB, y, 20), (c["KOR"], "M", c["WORLD"], SB, y, 20),
        (c["JPN"], "M", c["CHN"], SB, y, 100), (c["JPN"], "M", c["WORLD"], SB, y, 100),
        (c["CHN"], "M", c["USA"], SB, y, 3),
    ]


COMTRADE_FILES["ADVERSARIAL_comtrade_2024_headroom.json"] = lambda: _comtrade(_comtrade_headroom_2024())

PLANTED_BEYOND: dict[str, dict] = {
    "one_potential_supplier": {
        "edge": 15,
        "what": "811010: one potential supplier (CHN); KOR buys only from USA (below 1% of world exports)",
        "expect": [
            {"table": "supplier_headroom", "key": ("comtrade", "KOR", 2024, SB),
             "values": {"potential_suppliers": 1, "actual_suppliers": 0, "concentrated_oecd": True,
                        "unused_potential_suppliers": "CHN", "n_exporters": 2, "world_covered": True}},
            {"table": "supplier_headroom", "key": ("comtrade", "JPN", 2024, SB),
             "values": {"potential_suppliers": 1, "actual_suppliers": 1, "concentrated_oecd": False,
                        "unused_potential_suppliers": None}},
            {"table": "supplier_headroom", "key": ("comtrade", "CHN", 2024, SB),
             "values": {"potential_suppliers": 0, "actual_suppliers": 0, "concentrated_oecd": False}},
        ],
    },
}

# 16. crma_at_benchmark (Comext 2024, a complete bloc): tungsten ores 26110000, DE from CN 65 and FR from RW 35:
#    the EU27's extra-EU imports of the stage are 100, China's share exactly 0.65: not over the benchmark. NL
#    imports 26110000 from DE 20 only (intra-EU): no NLD row.
WO = "26110000"
COMEXT_FILES["ADVERSARIAL_comext_2024_crma.csv"] = lambda: _sdmx([
    ("DE", "CN", WO, IMP, "2024", 65), ("FR", "RW", WO, IMP, "2024", 35), ("NL", "DE", WO, IMP, "2024", 20),
])
PLANTED_BEYOND["crma_at_benchmark"] = {
    "edge": 16,
    "what": "tungsten extraction: China exactly 65% of the EU27's extra-EU imports (not over the benchmark)",
    "expect": [
        {"table": "crma_benchmark", "key": ("comext", "EU27", 2024, "tungsten", "extraction"),
         "values": {"m_extra": 100, "top_supplier": "CHN", "top_share": 0.65, "over_benchmark": False,
                    "year_complete": True, "n_suppliers_extra": 2}},
    ],
}

# 17. bloc_vs_members (Comext 2024, a complete bloc):
#    81019400 bloc only: DE imports CN 90, US 10 and exports 100 to US (C3 ratio exactly 1 fails); FR imports CN,
#    US, JP, KR 10 each (HHI 0.25, C1 fails). The bloc: CN 100, US 20, JP 10, KR 10, HHI 0.541, ratio 1.4.
#    81041100 members only: DE imports CN 100 only (dependent); FR imports US, JP, KR, IN 100 each and exports
#    1000 to US; the bloc's HHI 0.2.
BO, MO = "81019400", "81041100"
COMEXT_FILES["ADVERSARIAL_comext_2024_bloc.csv"] = lambda: _sdmx([
    ("DE", "CN", BO, IMP, "2024", 90), ("DE", "US", BO, IMP, "2024", 10), ("DE", "US", BO, EXP, "2024", 100),
    *[("FR", p, BO, IMP, "2024", 10) for p in ("CN", "US", "JP", "KR")],
    ("DE", "CN", MO, IMP, "2024", 100),
    *[("FR", p, MO, IMP, "2024", 100) for p in ("US", "JP", "KR", "IN")], ("FR", "US", MO, EXP, "2024", 1000),
])
PLANTED_BEYOND["bloc_vs_members"] = {
    "edge": 17,
    "what": "810194: the EU27 bloc dependent, no member state on its own; 810411: DEU dependent, the bloc not",
    "expect": [
        {"table": "bloc_vs_members", "key": ("comext", 2024, BO[:6]),
         "values": {"bloc_dependent": True, "members_dependent": 0, "members_dependent_list": None,
                    "dependence_pattern": "bloc_only", "top_member": "DEU", "top_member_share": 100 / 140,
                    "top3_members": "DEU; FRA"}},
        {"table": "bloc_vs_members", "key": ("comext", 2024, MO[:6]),
         "values": {"bloc_dependent": False, "members_dependent": 1, "members_dependent_list": "DEU",
                    "dependence_pattern": "members_only", "top_member": "FRA", "top_member_share": 0.8}},
    ],
}

# 18. cn8_minimum (Comext 2024): NL imports 81089050 from CN 1,200,000 and US 300,000 (EUR 1.5 million: screened
#    on CN8, for NLD and the bloc), and 81089030 from CN 999,999 (below cn8_min_value: no CN8 row at all).
COMEXT_FILES["ADVERSARIAL_comext_2024_cn8.csv"] = lambda: _sdmx([
    ("NL", "CN", "81089050", IMP, "2024", 1_200_000), ("NL", "US", "81089050", IMP, "2024", 300_000),
    ("NL", "CN", "81089030", IMP, "2024", 999_999),
])
PLANTED_BEYOND["cn8_minimum"] = {
    "edge": 18,
    "what": "CN8 81089050 (EUR 1.5 million) is screened, 81089030 (EUR 999,999) is below the minimum",
    "expect": [
        {"table": "ec_screen_cn8", "key": ("NLD", 2024, "81089050"),
         "values": {"annual_imports": 1_500_000, "product_code": "810890", "top_supplier": "CHN",
                    "hhi_extra": 0.68, "dependent": True}},
        {"table": "ec_screen_cn8", "key": ("EU27", 2024, "81089050"), "values": {"m_extra": 1_500_000}},
        {"table": "ec_screen_cn8", "key": ("NLD", 2024, "81089030"), "absent": True},
        {"table": "ec_screen_cn8", "key": ("EU27", 2024, "81089030"), "absent": True},
    ],
}
