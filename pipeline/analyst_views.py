"""Readable views for analysts, created inside the published ``geomonitor.duckdb``.

The monitor tables keep codes (ISO3, HS6) so they join cleanly; these views add
the names people read: product descriptions and country names. They live in
the schema ``views`` and are created on a connection of the published file, so
their table names resolve there.
"""

from __future__ import annotations

import duckdb

# a country's name, with the bloc and pseudo-codes spelled out
_NAMES = """
CREATE OR REPLACE VIEW views.area_names AS
SELECT iso3 AS code, name FROM reference.countries
UNION ALL SELECT 'EU27', 'European Union (27 member states)'
UNION ALL SELECT 'WORLD', 'World'
"""

_VIEWS = {
    "views.eu_dependencies": """
        SELECT e.year, e.source, e.currency, e.product_code, coalesce(p.description, e.product_code) AS product,
               e.domain, e.dependent, e.screened, e.bloc_complete, e.bloc_members, e.bloc_months_min,
               e.hhi_extra, e.top_supplier, s.name AS top_supplier_name, e.top_supplier_share, e.m_extra,
               e.extra_eu_import_share, e.import_export_ratio, e.c1_concentration, e.c2_importance,
               e.c3_substitutability, e.years_flagged, e.low_confidence, e.split_dependent, e.release, e.synthetic
        FROM monitor.eu_dependencies AS e
        LEFT JOIN reference.hs_products AS p ON p.code = e.product_code
        LEFT JOIN views.area_names AS s ON s.code = e.top_supplier""",
    "views.nl_dependencies": """
        SELECT e.year, e.source, e.currency, e.product_code, coalesce(p.description, e.product_code) AS product,
               e.domain, e.dependent, e.screened, e.hhi_extra, e.hhi_all_partners, e.top_supplier, s.name AS top_supplier_name, e.top_supplier_share,
               e.m_extra, e.extra_eu_import_share, e.import_export_ratio, e.years_flagged, e.caveat,
               e.split_dependent, e.release, e.synthetic
        FROM monitor.nl_dependencies AS e
        LEFT JOIN reference.hs_products AS p ON p.code = e.product_code
        LEFT JOIN views.area_names AS s ON s.code = e.top_supplier""",
    "views.dependence_on_nl": """
        SELECT d.year, d.source, d.currency, d.importer, i.name AS importer_name, d.product_code,
               coalesce(p.description, d.product_code) AS product, d.domain, d.depends_on_nl, d.nl_share, d.nl_rank,
               d.importer_hhi, d.mirror_share, d.partner_view_available, d.mirror_view_available,
               d.nl_world_export_share, d.release, d.synthetic
        FROM monitor.dependence_on_nl AS d
        LEFT JOIN reference.hs_products AS p ON p.code = d.product_code
        LEFT JOIN views.area_names AS i ON i.code = d.importer""",
    "views.dependence_on_eu": """
        SELECT d.year, d.source, d.currency, d.importer, i.name AS importer_name, d.product_code,
               coalesce(p.description, d.product_code) AS product, d.domain, d.depends_on_eu, d.eu_share, d.eu_rank,
               d.importer_hhi, d.mirror_share, d.partner_view_available, d.mirror_view_available,
               d.eu_world_export_share, d.release, d.synthetic
        FROM monitor.dependence_on_eu AS d
        LEFT JOIN reference.hs_products AS p ON p.code = d.product_code
        LEFT JOIN views.area_names AS i ON i.code = d.importer""",
    "views.import_concentration": """
        SELECT c.year, c.source, c.currency, c.reporter, r.name AS reporter_name, c.partner_scope,
               c.product_level, c.product_code, coalesce(p.description, c.product_code) AS product, c.hhi,
               c.n_suppliers, c.top1_partner, t.name AS top1_partner_name, c.top1_share, c.allocated_value,
               c.unallocated_value, c.unallocated_share, c.low_confidence, c.partner_rows_above_world,
               c.bloc_complete, c.caveat, c.release, c.synthetic
        FROM monitor.import_concentration AS c
        LEFT JOIN reference.hs_products AS p ON p.code = c.product_code AND c.product_level <> 'domain'
        LEFT JOIN views.area_names AS r ON r.code = c.reporter
        LEFT JOIN views.area_names AS t ON t.code = c.top1_partner""",
}

VIEW_DESCRIPTIONS = {
    "views.area_names": "Readable names of countries (ISO3), the EU27 bloc and World.",
    "views.eu_dependencies": "monitor.eu_dependencies with product descriptions and supplier names.",
    "views.nl_dependencies": "monitor.nl_dependencies with product descriptions and supplier names.",
    "views.dependence_on_nl": "monitor.dependence_on_nl with country names and product descriptions.",
    "views.dependence_on_eu": "monitor.dependence_on_eu with country names and product descriptions.",
    "views.import_concentration": "monitor.import_concentration with country names and product descriptions.",
}


def create_analyst_views(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS views")
    con.execute(_NAMES)
    existing = {f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    for name, sql in _VIEWS.items():
        base = name.replace("views.", "monitor.")
        if base in existing:  # a publication without that mart gets no view of it
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
