"""The benchmark's SQL: staging the demo files to Parquet, the floor, the mart like for like, comparisons.

Everything here is plain DuckDB and is imported both by the measuring child
processes (bench/child.py) and by the fast smoke test (tests/test_bench_smoke.py),
so the test checks exactly the queries the benchmark times.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import duckdb

BENCH_DIR = Path(__file__).resolve().parent
FLOOR_SQL = BENCH_DIR / "floor.sql"

# the pipeline's arithmetic (trade_flows casts every value to DECIMAL(38, 3)) or plain doubles
VALUE_EXPR = {"decimal": "value::DECIMAL(38, 3)", "double": "value"}

# columns the floor, the restricted mart and the pandas baseline all produce
KEY = ("reporter", "year", "product_code")
MEASURES = ("n_suppliers", "hhi", "top1_share", "allocated_value")


def sql_string(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def connect(database: str | Path, *, memory_limit: str = "", threads: int = 0,
            temp_directory: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A connection configured like pipeline.resources.Warehouse configures the pipeline's."""
    config: dict[str, object] = {}
    if temp_directory:
        config["temp_directory"] = str(temp_directory)
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    return duckdb.connect(str(database), config=config)


# --------------------------------------------------------------------------- staging

def stage_parquet(landing: Path, out: Path, reference_dir: Path, comtrade_columns: dict[str, str],
                  con: duckdb.DuckDBPyConnection | None = None) -> int:
    """Comtrade bulk TSV files under ``landing/comtrade`` -> one typed Parquet file of import flows.

    One row per reporter, year, partner and HS6 code as reported (C00 / motCode 0 / partner2
    0 totals of annual HS6 rows only: the breakdown and HS2 rows the pipeline drops as well),
    with the partner's area code and kind from ``reference/area_codes.csv`` (World, 'Areas
    nes' and the rest stay in, with their kind, for the consumer to exclude). ``value`` is
    Comtrade's primaryValue as DOUBLE. Returns the number of rows written.
    """
    own = con is None
    con = con or duckdb.connect()
    try:
        types = "{" + ", ".join(f"'{k}': '{v}'" for k, v in comtrade_columns.items()) + "}"
        files = sql_string(landing / "comtrade" / "*.gz")
        areas = sql_string(reference_dir / "area_codes.csv")
        con.execute(f"""
            COPY (
                WITH areas AS (
                    SELECT code, area, kind FROM read_csv({areas}, header=true, all_varchar=true)
                    WHERE source = 'comtrade'
                )
                SELECT
                    r.refYear AS year,
                    coalesce(rep.area, 'UNKNOWN:' || r.reporterCode) AS reporter,
                    coalesce(par.area, 'UNKNOWN:' || r.partnerCode) AS partner,
                    par.kind AS partner_kind,
                    r.cmdCode AS product_code,
                    r.primaryValue AS value
                FROM read_csv({files}, header=true, delim='\\t', quote='', types={types}) AS r
                LEFT JOIN areas AS rep ON rep.code = r.reporterCode::VARCHAR
                LEFT JOIN areas AS par ON par.code = r.partnerCode::VARCHAR
                WHERE r.flowCode = 'M' AND r.freqCode = 'A' AND r.customsCode = 'C00' AND r.motCode = 0
                  AND r.partner2Code = 0 AND length(r.cmdCode) = 6
            ) TO {sql_string(out)} (FORMAT parquet, COMPRESSION zstd)
        """).fetchall()
        return con.execute(f"SELECT count(*) FROM read_parquet({sql_string(out)})").fetchall()[0][0]
    finally:
        if own:
            con.close()


# --------------------------------------------------------------------------- the queries

def floor_sql(parquet: Path, arithmetic: str = "decimal") -> str:
    text = FLOOR_SQL.read_text(encoding="utf-8")
    return Template(text).substitute(parquet=sql_string(parquet), value=VALUE_EXPR[arithmetic])


def model_sql(repo: Path, table: str) -> str:
    """The body of a SQL model of the repository under test, as the pipeline runs it."""
    layer, name = table.split(".")
    return (repo / "dbt_like_sql" / layer / f"{name}.sql").read_text(encoding="utf-8").strip().rstrip(";")


_ANNUAL_FLOWS = re.compile(r"\bstaging\.annual_flows\b", re.IGNORECASE)


def restricted_mart_sql(mart_sql: str, columns: tuple[str, ...] | None = None) -> str:
    """monitor.import_concentration's own SQL, restricted to the rows (and ``columns``) the floor computes.

    The input is narrowed to Comtrade (``staging.annual_flows`` becomes a filtered subquery)
    and the output to product_level 'HS6' and partner_scope 'all'. The SQL is not edited
    otherwise: DuckDB pushes the outer filter through the model's UNION ALLs, so the HS4,
    HS2, domain and extra-EU branches are pruned at planning time (see EXPLAIN) and what is
    timed is the mart's own plan for the floor's rows. With ``columns`` (the floor's keys and
    measures) the output has the floor's columns too, and DuckDB drops the aggregates nothing
    reads (top-3, unallocated, World, split shares, the per-year join): same rows, same columns.
    """
    if not _ANNUAL_FLOWS.search(mart_sql):
        raise ValueError("monitor.import_concentration no longer reads staging.annual_flows: "
                         "update bench/queries.py restricted_mart_sql")
    narrowed = _ANNUAL_FLOWS.sub("(SELECT * FROM staging.annual_flows WHERE source = 'comtrade')", mart_sql)
    return (f"SELECT {', '.join(columns) if columns else '*'} FROM ({narrowed}\n) AS mart "
            "WHERE product_level = 'HS6' AND partner_scope = 'all'")


# --------------------------------------------------------------------------- comparison

def compare(con: duckdb.DuckDBPyConnection, left: str, right: str) -> dict:
    """Like-for-like check of two relations with the floor's columns (``left`` is the reference).

    Keys must match exactly (rows of ``right`` without any supplier, n_suppliers = 0, are
    counted apart: the floor has no row for them by construction); on matched keys
    n_suppliers must be equal, hhi and top1_share are compared absolutely, allocated_value
    relatively.
    """
    on = " AND ".join(f"l.{k} = r.{k}" for k in KEY)
    row = con.execute(f"""
        SELECT
            count(*) FILTER (WHERE l.reporter IS NOT NULL AND r.reporter IS NOT NULL) AS matched,
            count(*) FILTER (WHERE r.reporter IS NULL) AS only_left,
            count(*) FILTER (WHERE l.reporter IS NULL AND r.n_suppliers > 0) AS only_right,
            count(*) FILTER (WHERE l.reporter IS NULL AND r.n_suppliers = 0) AS right_without_supplier,
            count(*) FILTER (WHERE l.n_suppliers <> r.n_suppliers) AS n_suppliers_differ,
            coalesce(max(abs(l.hhi - r.hhi)), 0) AS max_abs_hhi_diff,
            coalesce(max(abs(l.top1_share - r.top1_share)), 0) AS max_abs_top1_diff,
            coalesce(max(abs(l.allocated_value::DOUBLE / r.allocated_value::DOUBLE - 1)), 0) AS max_rel_value_diff
        FROM ({left}) AS l FULL OUTER JOIN ({right}) AS r ON {on}
    """).fetchall()[0]
    names = ("matched", "only_left", "only_right", "right_without_supplier", "n_suppliers_differ",
             "max_abs_hhi_diff", "max_abs_top1_diff", "max_rel_value_diff")
    return dict(zip(names, row))


def same_rows(result: dict, hhi_tol: float = 1e-12, value_tol: float = 1e-12) -> bool:
    """True when a ``compare`` result says: same keys, same n, HHI and top-1 share within tolerance."""
    return (result["matched"] > 0 and result["only_left"] == 0 and result["only_right"] == 0
            and result["right_without_supplier"] == 0 and result["n_suppliers_differ"] == 0
            and result["max_abs_hhi_diff"] <= hhi_tol and result["max_abs_top1_diff"] <= hhi_tol
            and result["max_rel_value_diff"] <= value_tol)
