"""Readable views for analysts, created inside the published ``geomonitor.duckdb``.

The monitor tables keep codes (ISO3, HS6, domain slugs) so they join cleanly; every
mart gets a view ``views.<mart>`` with all of the mart's columns, in the mart's order,
and beside each code the name people read: ``product`` after ``product_code`` (the HS
2022 description, or the domain's label on domain rows), ``<column>_name`` after every
country column (reporter, importer, supplier, partner, top_supplier, ...) and
``domain_label`` after ``domain``. The joins are on unique keys, so a view has exactly
its mart's rows. The views are created on a connection of the published file, so their
table names resolve there.
"""

from __future__ import annotations

import duckdb

from pipeline.glossary import DOMAIN_LABELS

# a country's name, with the bloc and pseudo-codes spelled out; one row per code
_NAMES = """
CREATE OR REPLACE VIEW views.area_names AS
SELECT iso3 AS code, name FROM reference.countries WHERE iso3 NOT IN ('EU27', 'WORLD')
UNION ALL SELECT 'EU27', 'European Union (27 member states)'
UNION ALL SELECT 'WORLD', 'World'
"""
_DOMAINS = "CREATE OR REPLACE VIEW views.domain_names AS SELECT domain, label FROM reference.domains"
# Every strategic domain of every HS 2022 code, by the rule of staging.product_domains (a product sits in each
# domain one of whose prefixes it starts with; domain_rank 1 is the domain the marts' one `domain` column
# shows): the marts keep one domain per row, so per-domain counts join this view.
_PRODUCT_DOMAINS = """
CREATE OR REPLACE VIEW views.product_domains AS
SELECT code, domain, domain_label, domain_prefix,
       row_number() OVER (PARTITION BY code ORDER BY length(domain_prefix) DESC, domain) AS domain_rank
FROM (
    SELECT p.code, s.domain, any_value(n.label) AS domain_label, arg_max(s.hs_prefix, length(s.hs_prefix)) AS domain_prefix
    FROM reference.hs_products AS p
    JOIN reference.strategic_domains AS s ON starts_with(p.code, s.hs_prefix)
    LEFT JOIN views.domain_names AS n ON n.domain = s.domain
    GROUP BY p.code, s.domain
)
"""

# country-code columns that get a name column beside them (<column>_name)
COUNTRY_COLUMNS = ("reporter", "importer", "supplier", "partner", "top_supplier", "top1_partner", "top_world_exporter",
                   "importer_top_partner", "top_partner_all", "top_supplier_previous", "top_supplier_before",
                   "top_supplier_now", "ultimate_supplier", "top_direct_supplier", "top_ultimate_supplier")


def domains_sql() -> str:
    """reference.domains (domain slug, label) as a query, from the glossary's one list."""
    rows = ", ".join(f"('{slug}', '{label}')" for slug, label in sorted(DOMAIN_LABELS.items()))
    return f"SELECT domain, label FROM (VALUES {rows}) AS d(domain, label)"


def view_sql(table: str, columns: list[str]) -> str:
    """``SELECT`` of a mart with a name beside every code, all of its columns kept."""
    select, joins = [], []
    for i, column in enumerate(columns):
        select.append(f'm."{column}"')
        if column == "product_code":
            level = " AND m.product_level <> 'domain'" if "product_level" in columns else ""
            joins.append(f"LEFT JOIN reference.hs_products AS p ON p.code = m.product_code{level}")
            joins.append("LEFT JOIN views.domain_names AS pd ON pd.domain = m.product_code"
                         + (" AND m.product_level = 'domain'" if level else ""))
            select.append("coalesce(p.description, pd.label, m.product_code) AS product")
        elif column == "domain":
            joins.append("LEFT JOIN views.domain_names AS dl ON dl.domain = m.domain")
            select.append("dl.label AS domain_label")
        elif column in COUNTRY_COLUMNS:
            joins.append(f"LEFT JOIN views.area_names AS n{i} ON n{i}.code = m.\"{column}\"")
            select.append(f"n{i}.name AS {column}_name")
    return f"SELECT {', '.join(select)}\nFROM {table} AS m\n" + "\n".join(joins)


def view_descriptions(marts: list[str]) -> dict[str, str]:
    out = {"views.area_names": "Readable names of countries (ISO3), the EU27 bloc and World.",
           "views.domain_names": "Readable names of the strategic domains (reference.domains).",
           "views.product_domains": "Every strategic domain of every HS 2022 code (a product may sit in several; "
                                    "domain_rank 1 is the one the marts' domain column shows): join it to count a "
                                    "product in each of its domains."}
    for mart in marts:
        out[mart.replace("monitor.", "views.")] = (f"{mart}, every column, with product, country and domain names "
                                                   "beside the codes.")
    return out


def create_analyst_views(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """A named view of every ``monitor`` table present; returns the descriptions of the views made."""
    con.execute("CREATE SCHEMA IF NOT EXISTS views")
    con.execute(_NAMES)
    has_domains = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                              "AND schema_name = 'reference' AND table_name = 'domains'").fetchall()[0][0]
    con.execute(_DOMAINS if has_domains else f"CREATE OR REPLACE VIEW views.domain_names AS {domains_sql()}")
    has_codes = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = 'reference' AND table_name IN ('hs_products', 'strategic_domains')"
                            ).fetchall()[0][0]
    if has_codes == 2:
        con.execute(_PRODUCT_DOMAINS)
    marts = [name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'monitor' "
        "ORDER BY table_name").fetchall()]
    for name in marts:
        columns = [c for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'monitor' AND table_name = ? ORDER BY column_index", [name]).fetchall()]
        con.execute(f"CREATE OR REPLACE VIEW views.{name} AS {view_sql(f'monitor.{name}', columns)}")
    out = view_descriptions([f"monitor.{m}" for m in marts])
    return out if has_codes == 2 else {k: v for k, v in out.items() if k != "views.product_domains"}
