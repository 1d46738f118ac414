"""What the report shows, read from the PUBLISHED monitor (``geomonitor.duckdb``, read-only).

Every function takes a read-only connection to the published file and returns plain
rows (dicts of Python values, DECIMAL as float). None of them reads the private
warehouse, and none adds values of different sources: each row keeps its ``source``
and ``currency``.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

# The reporters of the EC screen the report covers, in display order.
REPORTERS = ("EU27", "NLD")


def rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    """All rows of a query as dicts; the result is fully consumed (DuckDB 2.0 wants that)."""
    result = conn.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [
        {n: float(v) if isinstance(v, Decimal) else v for n, v in zip(names, values)}
        for values in result.fetchall()
    ]


def publication(conn) -> dict:
    found = rows(conn, "SELECT snapshot_id, published_at::VARCHAR AS published_at, code_version, synthetic, "
                       "synthetic_note, attribution FROM meta.publication")
    if len(found) != 1:
        raise ValueError(f"meta.publication has {len(found)} rows, expected 1")
    return found[0]


def sources(conn) -> list[dict]:
    return rows(conn, 'SELECT source, "table", release, synthetic, files, "rows" FROM meta.sources ORDER BY ALL')


def any_synthetic_row(conn) -> bool:
    """True when any screened row is flagged synthetic, whatever the publication metadata says."""
    return bool(conn.execute("SELECT coalesce(bool_or(synthetic), false) FROM monitor.ec_screen").fetchall()[0][0])


def thresholds(conn) -> dict[str, list[float]]:
    """The thresholds stored in the screen rows (normally one value each)."""
    sql = {
        "ec_c1_hhi": "SELECT DISTINCT c1_threshold FROM monitor.ec_screen",
        "ec_c2_extra_share": "SELECT DISTINCT c2_threshold FROM monitor.ec_screen",
        "ec_c3_import_export_ratio": "SELECT DISTINCT c3_threshold FROM monitor.ec_screen",
        "depends_share": "SELECT DISTINCT depends_share_threshold FROM monitor.supplier_dependence",
        "depends_top_hhi": "SELECT DISTINCT depends_top_hhi_threshold FROM monitor.supplier_dependence",
        "world_g1_hhi": "SELECT DISTINCT g1_threshold FROM monitor.world_supply_screen",
        "world_g2_hhi": "SELECT DISTINCT g2_threshold FROM monitor.world_supply_screen",
        "world_g3_import_export_ratio": "SELECT DISTINCT g3_threshold FROM monitor.world_supply_screen",
        # a parameter of the publication, not of a screen row
        "changes_hhi_move": "SELECT value FROM meta.parameters WHERE name = 'changes_hhi_move'",
    }
    if columns(conn, "monitor", "crma_benchmark"):  # issue 29: absent from older publications
        sql["crma_benchmark"] = "SELECT DISTINCT value FROM meta.parameters WHERE name = 'crma_benchmark'"
    return {name: sorted(v for (v,) in conn.execute(q).fetchall() if v is not None) for name, q in sql.items()}


def report_years(conn) -> list[dict]:
    """Per source, the year the headline figures use: the latest year whose EU27 screen covers
    12 months and at least half as many products as the best-covered year. Later years are
    listed with their coverage so the page can say why they are not the headline."""
    return rows(conn, """
        WITH y AS (
            SELECT source, year, count(*) AS products, min(months_covered) AS months
            FROM monitor.ec_screen WHERE reporter = 'EU27' GROUP BY ALL
        ),
        best AS (SELECT source, max(products) AS best FROM y GROUP BY source),
        chosen AS (
            SELECT source,
                   coalesce(max(year) FILTER (WHERE months >= 12 AND products >= 0.5 * best), max(year)) AS year
            FROM y JOIN best USING (source) GROUP BY source
        )
        SELECT c.source, c.year,
               list({'year': y.year, 'products': y.products, 'months': y.months} ORDER BY y.year)
                   FILTER (WHERE y.year > c.year) AS later_years
        FROM chosen AS c LEFT JOIN y ON y.source = c.source
        GROUP BY ALL ORDER BY c.source
    """)


def screen_totals(conn) -> list[dict]:
    """Products screened and found dependent, per source, reporter and year (all products)."""
    return rows(conn, """
        SELECT source, currency, reporter, year, count(*) AS screened,
               count(*) FILTER (WHERE dependent) AS dependent,
               coalesce(sum(m_extra) FILTER (WHERE dependent), 0) AS value_at_stake
        FROM monitor.ec_screen WHERE reporter IN ('EU27', 'NLD')
        GROUP BY ALL ORDER BY ALL
    """)


def domain_summary(conn) -> list[dict]:
    return rows(conn, "SELECT * FROM monitor.domain_summary ORDER BY source, year, domain")


def dependent_partner_counts(conn) -> list[dict]:
    """How many importing countries depend on NL and on the EU for at least one product, per source and year."""
    return rows(conn, """
        SELECT source, year,
               count(DISTINCT importer) FILTER (WHERE supplier = 'NLD' AND depends) AS on_nl,
               count(DISTINCT importer) FILTER (WHERE supplier = 'EU27' AND depends) AS on_eu
        FROM monitor.supplier_dependence GROUP BY ALL ORDER BY ALL
    """)


def columns(conn, schema: str, table: str) -> set[str]:
    return {c for (c,) in conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?", [schema, table]).fetchall()}


DEPENDENCY_ROWS = """
    WITH s AS (
        SELECT 'EU27' AS reporter, source, currency, year, product_code, domain, hhi_extra, n_suppliers_extra,
               top_supplier, top_supplier_share, m_extra, extra_eu_import_share, import_export_ratio,
               c1_concentration, c2_importance, c3_substitutability, dependent, years_flagged, years_screened,
               low_confidence, months_covered, {split} AS split_dependent, NULL::VARCHAR AS caveat
        FROM monitor.eu_dependencies
        UNION ALL
        SELECT 'NLD', source, currency, year, product_code, domain, hhi_extra, n_suppliers_extra,
               top_supplier, top_supplier_share, m_extra, extra_eu_import_share, import_export_ratio,
               c1_concentration, c2_importance, c3_substitutability, dependent, years_flagged, years_screened,
               low_confidence, months_covered, {split} AS split_dependent, caveat
        FROM monitor.nl_dependencies
    ),
    flagged AS (
        SELECT source, reporter, product_code,
               list(year ORDER BY year) FILTER (WHERE dependent) AS flagged_years
        FROM s GROUP BY ALL
        HAVING count(*) FILTER (WHERE dependent) > 0
    ),
    shown AS (
        -- the product's row in the headline year, or its latest row before it
        SELECT s.* FROM s JOIN (SELECT unnest(?::STRUCT(source VARCHAR, year INTEGER)[], recursive := true)) AS h
            ON h.source = s.source AND s.year <= h.year
        QUALIFY row_number() OVER (PARTITION BY s.source, s.reporter, s.product_code ORDER BY s.year DESC) = 1
    )
    SELECT shown.*, f.flagged_years, p.description, c.name AS top_supplier_name
    FROM shown
    JOIN flagged AS f USING (source, reporter, product_code)
    LEFT JOIN reference.hs_products AS p ON p.code = shown.product_code AND p.level = '6'
    LEFT JOIN reference.countries AS c ON c.iso3 = shown.top_supplier
    ORDER BY source, reporter, hhi_extra DESC NULLS LAST, product_code
"""


def dependencies(conn, headline_years: dict[str, int]) -> list[dict]:
    """EU27 and NL products flagged dependent in at least one year: one row per source, reporter
    and product, with the screen as of the headline year (or the product's latest year before it)."""
    years = [{"source": s, "year": y} for s, y in sorted(headline_years.items())]
    # split_dependent exists once codes are converted across HS editions (staging.annual_flows)
    split = "split_dependent" if "split_dependent" in columns(conn, "monitor", "ec_screen") else "NULL::BOOLEAN"
    return rows(conn, DEPENDENCY_ROWS.format(split=split), [years])


def product_history(conn) -> list[dict]:
    """The EC screen over the years for every product the dependency table lists."""
    return rows(conn, """
        SELECT source, currency, reporter, product_code, year, hhi_extra, n_suppliers_extra, top_supplier,
               top_supplier_share, m_extra, dependent, c1_threshold, months_covered
        FROM monitor.ec_screen
        WHERE reporter IN ('EU27', 'NLD') AND years_flagged > 0
        ORDER BY source, reporter, product_code, year
    """)


def dependence_on(conn, supplier: str, headline_years: dict[str, int]) -> list[dict]:
    """Importing countries that depend on ``supplier`` ('NLD' or 'EU27') in the headline year,
    per source and strategic domain (partner view: the importer's own import report). A product in several
    domains counts in each: the domains come from reference.strategic_domains (every domain one of whose
    prefixes the code starts with), not from the row's one-domain column."""
    years = [{"source": s, "year": y} for s, y in sorted(headline_years.items())]
    return rows(conn, """
        SELECT d.source, d.currency, d.year, d.importer, coalesce(c.name, d.importer) AS importer_name, d.domain,
               count(*) AS products,
               max(d.supplier_share) AS max_share,
               sum(d.imports_from_supplier) AS imports_from_supplier,
               list(d.product_code ORDER BY d.supplier_share DESC, d.product_code) AS product_codes
        FROM (SELECT DISTINCT s.* REPLACE (p.domain AS domain) FROM monitor.supplier_dependence AS s
              JOIN reference.strategic_domains AS p ON starts_with(s.product_code, p.hs_prefix)
              WHERE s.supplier = ? AND s.depends) AS d
        JOIN (SELECT unnest(?::STRUCT(source VARCHAR, year INTEGER)[], recursive := true)) AS h
          ON h.source = d.source AND h.year = d.year
        LEFT JOIN reference.countries AS c ON c.iso3 = d.importer
        GROUP BY ALL
        ORDER BY d.source, d.importer, d.domain
    """, [supplier, years])


def classifications(conn) -> list[dict]:
    """Product-code vintages (HS H0..H6, CN years) found per source in the published flows."""
    return rows(conn, """
        SELECT source, list(DISTINCT classification ORDER BY classification) AS vintages
        FROM staging.trade_flows GROUP BY source ORDER BY source
    """)


def country_names(conn) -> dict[str, str]:
    return {iso3: name for iso3, name in conn.execute("SELECT iso3, name FROM reference.countries").fetchall()}


def dictionary(conn) -> list[dict]:
    """Every published monitor and reference table with its columns, types and meanings: the comments the
    publisher wrote from the tables' SQL headers and the one glossary (pipeline/catalog.py), with the thresholds
    the publication used."""
    tables = rows(conn, """
        SELECT schema_name || '.' || table_name AS "table", comment AS description
        FROM duckdb_tables() WHERE database_name = current_database() AND schema_name IN ('monitor', 'reference')
        ORDER BY schema_name, table_name
    """)
    columns = rows(conn, """
        SELECT schema_name || '.' || table_name AS "table", column_name AS "column", data_type AS type,
               coalesce(comment, '') AS meaning
        FROM duckdb_columns() WHERE database_name = current_database() AND schema_name IN ('monitor', 'reference')
        ORDER BY schema_name, table_name, column_index
    """)
    for t in tables:
        t["columns"] = [c for c in columns if c["table"] == t["table"]]
    return tables
