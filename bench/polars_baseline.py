"""The polars baseline: monitor.import_concentration (HS6, all partners) as a polars user writes it.

One lazy query on the staged Parquet (``pl.scan_parquet`` -> filter -> group_by -> collect), so
polars sees the whole plan and reads only the columns it needs; no Python loop over rows, no
DuckDB. Same rules as bench/floor.sql and bench/pandas_baseline.py: partners are summed first
(two partner codes can name the same area), a supplier is a country other than the reporter
with a positive value; World, aggregates and unspecified partners never count. Values are the
Parquet's doubles (as pandas), so allocated_value matches the mart's DECIMAL sums to about 1e-9.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

KEYS = ["reporter", "year", "product_code"]


def import_concentration_lazy(parquet: str | Path) -> pl.LazyFrame:
    """The query plan, not yet run (``.collect()`` runs it)."""
    suppliers = (
        pl.scan_parquet(parquet)
        .filter((pl.col("partner_kind") == "country") & (pl.col("partner") != pl.col("reporter")))
        .group_by([*KEYS, "partner"])
        .agg(pl.col("value").sum())
        .filter(pl.col("value") > 0)
    )
    share = pl.col("value") / pl.col("value").sum()  # within each (reporter, year, product) group
    return suppliers.group_by(KEYS).agg(
        n_suppliers=pl.len(),
        hhi=(share**2).sum(),
        top1_share=share.max(),
        allocated_value=pl.col("value").sum(),
    )


def import_concentration(parquet: str | Path) -> pl.DataFrame:
    return import_concentration_lazy(parquet).collect()
