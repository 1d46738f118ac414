"""Five questions analysts ask, answered with SQL against the published geomonitor.duckdb (the README quotes them).

Each query runs on a publication of the embedded default (real extracts + synthetic demo world) and must
answer with rows and the columns it names; the views give names, not codes.
"""

import pytest

QUESTIONS = {
    # 1. EU27 products dependent on China, by strategic domain, 2024 (EC 2021 screen, Comext, EUR)
    "eu_dependent_on_china_by_domain": """
        SELECT coalesce(domain_label, '(no strategic domain)') AS domain, count(*) AS products, sum(m_extra) AS extra_eu_imports, any_value(currency) AS currency
        FROM views.eu_dependencies
        WHERE dependent AND source = 'comext' AND year = 2024 AND top_supplier = 'CHN'
        GROUP BY ALL ORDER BY products DESC, extra_eu_imports DESC""",
    # 2. Which countries depend on the Netherlands, for what, in the latest complete year (partner view, mirror beside)
    "countries_depending_on_nl": """
        SELECT d.year, d.importer_name, d.product_code, d.product, d.nl_share, d.mirror_share, d.currency
        FROM views.dependence_on_nl AS d
        JOIN meta.latest_complete_year AS y ON y.source = d.source AND y.latest_complete_year = d.year
        WHERE d.depends_on_nl AND d.source = 'comtrade'
        ORDER BY d.nl_share DESC LIMIT 25""",
    # 3. The Netherlands' dependencies and how they moved since the year before (new / continuing, HHI change)
    "nl_dependencies_year_over_year": """
        SELECT source, year, product_code, product, dependency_status, top_supplier_name, top_supplier_previous_name,
               hhi_extra, hhi_extra_change
        FROM views.trends
        WHERE reporter = 'NLD' AND dependent
        ORDER BY year DESC, hhi_extra_change DESC NULLS LAST""",
    # 4. Where the EU's supply is concentrated AND world supply is concentrated, persistently (world-supply screen)
    "eu_world_supply_persistent": """
        SELECT year, product_code, product, coalesce(domain_label, '(none)') AS domain, top_supplier_name, importer_hhi,
               top_world_exporter_name, hhi_world_exports
        FROM views.world_supply_screen
        WHERE importer = 'EU27' AND flagged
        ORDER BY year DESC, hhi_world_exports DESC""",
    # 5. Value at stake per strategic domain and year: how much of the EU's extra-EU imports sits in dependencies
    "value_at_stake_by_domain": """
        SELECT source, year, domain_label, eu_dependent_products, eu_products_screened, eu_import_value_at_stake,
               eu_share_of_domain_imports_at_stake, currency
        FROM views.domain_summary
        WHERE eu_products_screened > 0
        ORDER BY source, year, eu_import_value_at_stake DESC""",
}


@pytest.fixture(scope="module")
def published(default_world):
    """The embedded default's published file (conftest.default_world, built once per session), read-only."""
    con = default_world.published()
    yield con
    con.close()


@pytest.mark.parametrize("name", QUESTIONS)
def test_question_answers_with_names(published, name):
    cursor = published.execute(QUESTIONS[name])
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert rows, f"{name}: no answer on the embedded default"
    for column in ("importer_name", "product", "top_supplier_name", "domain"):
        if column in columns:  # a name, never a bare code or slug
            values = [r[columns.index(column)] for r in rows]
            assert all(values), f"{name}: {column} has empty names"
            assert not any("_" in v for v in values if column == "domain"), values


def test_every_mart_has_a_view_with_all_its_columns(published):
    marts = [t for (t,) in published.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'monitor'").fetchall()]
    for mart in marts:
        base = [c for (c,) in published.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'monitor' AND table_name = ? "
            "ORDER BY column_index", [mart]).fetchall()]
        view = [c for (c,) in published.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'views' AND table_name = ? "
            "ORDER BY column_index", [mart]).fetchall()]
        assert view and [c for c in view if c in base] == base, mart  # nothing dropped, order kept
        n_view = published.execute(f"SELECT count(*) FROM views.{mart}").fetchall()[0][0]
        n_mart = published.execute(f"SELECT count(*) FROM monitor.{mart}").fetchall()[0][0]
        assert n_view == n_mart, mart
