"""A product in several strategic domains (issue 26, item 4): counted once in each, never twice elsewhere.

Runs the real SQL models on the in-memory harness with hand-made Comext rows. Lithium carbonate (283691)
is on the CRMA's critical (Annex II) and strategic (Annex I) lists and a battery material; permanent
magnets (850511) sit in the rare-earths-and-magnets domain; 392010 is in no domain.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from sql_harness import Harness


@pytest.fixture(scope="module")
def built():
    h = Harness(min_world_reporters=1)
    rows = []
    for reporter in ("NL", "FR"):
        rows += [
            (reporter, "CN", "28369100", 1, "2024", 900), (reporter, "CL", "28369100", 1, "2024", 100),
            (reporter, "WORLD", "28369100", 1, "2024", 1000), (reporter, "CN", "28369100", 2, "2024", 10),
            (reporter, "CN", "85051100", 1, "2024", 850), (reporter, "JP", "85051100", 1, "2024", 150),
            (reporter, "WORLD", "85051100", 1, "2024", 1000), (reporter, "CN", "85051100", 2, "2024", 5),
            (reporter, "CN", "39201010", 1, "2024", 700), (reporter, "US", "39201010", 1, "2024", 300),
            (reporter, "WORLD", "39201010", 1, "2024", 1000), (reporter, "CN", "39201010", 2, "2024", 5),
        ]
    h.add_sdmx(rows)
    h.build("monitor.domain_summary")
    return h


def test_product_domains_lists_every_domain_of_a_product(built):
    got = built.rows("SELECT code, domain, domain_rank FROM staging.product_domains "
                     "WHERE code IN ('283691', '850511', '392010') ORDER BY code, domain_rank")
    assert [(r["code"], r["domain"], r["domain_rank"]) for r in got] == [
        ("283691", "batteries", 1), ("283691", "critical_raw_materials", 2), ("283691", "strategic_raw_materials", 3),
        ("850511", "rare_earth_magnets", 1),
    ]
    # the longest prefix still wins within a domain: PV cells are energy_transition by 854142, not 8541
    pv = built.rows("SELECT domain, domain_prefix, domain_rank FROM staging.product_domains WHERE code = '854142' "
                    "ORDER BY domain_rank")
    assert [(r["domain"], r["domain_prefix"], r["domain_rank"]) for r in pv] == [
        ("energy_transition", "854142", 1), ("digital_high_tech", "8541", 2), ("semiconductors", "8541", 3)]


def test_domain_level_concentration_counts_the_product_in_each_domain(built):
    got = {r["product_code"]: r for r in built.rows(
        "SELECT * FROM monitor.import_concentration WHERE reporter = 'NLD' AND product_level = 'domain' "
        "AND partner_scope = 'all'")}
    assert set(got) == {"batteries", "critical_raw_materials", "strategic_raw_materials", "rare_earth_magnets"}
    for domain in ("batteries", "critical_raw_materials", "strategic_raw_materials"):
        assert got[domain]["allocated_value"] == Decimal("1000.000"), domain  # lithium carbonate once
        assert got[domain]["hhi"] == pytest.approx(0.9 ** 2 + 0.1 ** 2)
    assert got["rare_earth_magnets"]["allocated_value"] == Decimal("1000.000")


def test_screens_keep_one_row_per_product_and_show_its_first_domain(built):
    rows = built.rows("SELECT product_code, domain FROM monitor.ec_screen WHERE reporter = 'EU27' ORDER BY 1")
    assert [(r["product_code"], r["domain"]) for r in rows] == [
        ("283691", "batteries"), ("392010", None), ("850511", "rare_earth_magnets")]


def test_domain_summary_counts_each_domain_and_nothing_twice(built):
    got = {r["domain"]: r for r in built.rows(
        "SELECT * FROM monitor.domain_summary WHERE source = 'comext' AND year = 2024")}
    assert set(got) == {"batteries", "critical_raw_materials", "strategic_raw_materials", "rare_earth_magnets"}
    for domain in ("batteries", "critical_raw_materials", "strategic_raw_materials"):
        assert got[domain]["eu_products_screened"] == 1, domain
        assert got[domain]["nl_products_screened"] == 1, domain
        assert got[domain]["nl_dependent_products"] == 1, domain
        assert got[domain]["nl_import_value_at_stake"] == Decimal("1000.000"), domain
    assert got["rare_earth_magnets"]["nl_dependent_products"] == 1
