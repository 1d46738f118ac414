"""The analyst-notebook baseline: monitor.import_concentration (HS6, all partners) in plain pandas.

Written the way a notebook would: read the staged Parquet, filter, group by, transform.
No Python loop over rows, no DuckDB, no polars; pandas' default dtypes (strings as read
by ``pd.read_parquet``). Same rules as bench/floor.sql.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

KEYS = ["reporter", "year", "product_code"]


def import_concentration(parquet: str | Path) -> pd.DataFrame:
    flows = pd.read_parquet(parquet, columns=["year", "reporter", "partner", "partner_kind", "product_code", "value"])
    # suppliers: countries other than the reporter (no World, aggregates, 'Areas nes', ...)
    flows = flows[(flows["partner_kind"] == "country") & (flows["partner"] != flows["reporter"])]
    # one value per partner (two partner codes can name the same area), positive values only
    by_partner = flows.groupby(KEYS + ["partner"], as_index=False, sort=False)["value"].sum()
    by_partner = by_partner[by_partner["value"] > 0]
    total = by_partner.groupby(KEYS, sort=False)["value"].transform("sum")
    by_partner["share"] = by_partner["value"] / total
    by_partner["share_sq"] = by_partner["share"] ** 2
    return (
        by_partner.groupby(KEYS, as_index=False, sort=False)
        .agg(n_suppliers=("value", "size"), hhi=("share_sq", "sum"), top1_share=("share", "max"),
             allocated_value=("value", "sum"))
    )
