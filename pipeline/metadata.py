"""Dagster metadata describing a DuckDB table: row count, column schema, a preview."""

from __future__ import annotations

import duckdb
from dagster import MetadataValue, TableColumn, TableSchema


def table_schema(conn: duckdb.DuckDBPyConnection, table: str) -> TableSchema:
    rows = conn.execute(f"DESCRIBE {table}").fetchall()
    return TableSchema(columns=[TableColumn(name=name, type=dtype) for name, dtype, *_ in rows])


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
