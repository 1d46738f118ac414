"""Dagster metadata describing a DuckDB table: row count, column schema, a preview."""

from __future__ import annotations

import duckdb
from dagster import MetadataValue, TableColumn, TableSchema

from pipeline import glossary

# flag columns of the screens, by name: a table with a domain and one of these gets per-domain counts
SCREEN_FLAGS = ("dependent", "flagged", "depends", "depends_on_nl", "depends_on_eu")


def table_schema(conn: duckdb.DuckDBPyConnection, table: str) -> TableSchema:
    rows = conn.execute(f"DESCRIBE {table}").fetchall()
    return TableSchema(columns=[TableColumn(name=name, type=dtype, description=glossary.describe(name))
                                for name, dtype, *_ in rows])


def markdown_preview(conn: duckdb.DuckDBPyConnection, sql: str, limit: int = 10) -> MetadataValue:
    """A small markdown table of a query's first rows, rendered by the Dagster UI."""
    rel = conn.sql(f"SELECT * FROM ({sql}) LIMIT {int(limit)}")
    header = "| " + " | ".join(rel.columns) + " |"
    rule = "|" + "---|" * len(rel.columns)
    body = [
        "| " + " | ".join("" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v)) for v in row) + " |"
        for row in rel.fetchall()
    ]
    return MetadataValue.md("\n".join([header, rule, *body]))


def table_metadata(conn: duckdb.DuckDBPyConnection, table: str) -> dict:
    return {
        "dagster/row_count": conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0],
        "dagster/column_schema": table_schema(conn, table),
        "dagster/table_name": table,
    }


def screen_metadata(conn: duckdb.DuckDBPyConnection, table: str) -> dict:
    """For a screen: flagged rows and distinct HS6 products per strategic domain, per source, latest year."""
    columns = {name for name, *_ in conn.execute(f"DESCRIBE {table}").fetchall()}
    flag = next((c for c in SCREEN_FLAGS if c in columns), None)
    if flag is None or not {"domain", "year", "product_code"} <= columns:
        return {}
    # every screen has a source column; a table without one is counted as a whole, under no source
    source = "t.source" if "source" in columns else "NULL::VARCHAR"
    rows = conn.execute(f"""
        WITH latest AS (SELECT {source} AS source, max(t.year) AS year FROM {table} AS t GROUP BY ALL)
        SELECT l.source, l.year, coalesce(t.domain, '(none)') AS domain,
               count(*) FILTER (WHERE t.{flag}) AS flagged_rows,
               count(DISTINCT t.product_code) FILTER (WHERE t.{flag}) AS flagged_products
        FROM {table} AS t JOIN latest AS l ON l.source IS NOT DISTINCT FROM {source} AND l.year = t.year
        GROUP BY ALL ORDER BY 1, 3
    """).fetchall()
    lines = [f"| source | year | domain | rows with {flag} | HS6 products |", "|---|---|---|---|---|"]
    lines += [f"| {s} | {y} | {d} | {n} | {p} |" for s, y, d, n, p in rows]
    return {f"{flag}_per_domain": MetadataValue.md("\n".join(lines))}
