"""The oracle's monitor.ec_screen_rolling, in polars, from tests/oracle/CONTRACT.md ("monitor.ec_screen_rolling")
and methodology section 8 alone; nothing here is taken from dbt_like_sql/monitor/ec_screen_rolling.sql.

Input rows are the oracle's own (``oracle.prepare``: target HS6 codes, release bits, Comext's EU27_2020 as
EU27); the windows, the bloc and the criteria are worked out here.
"""

from __future__ import annotations

import duckdb
import polars as pl

from oracle.oracle import EU27, INTRA_EU_CODES, NLD_CAVEAT, UNALLOCATED_KINDS, WORLD, Prepared, _dec, _div, \
    _release_text, ec_criteria, ec_dependent, prepare

KEYS = ["source", "reporter", "period_end", "product_code"]
WINDOW = 12


def _month_name(col: str) -> pl.Expr:
    """A month number (year * 12 + month - 1) as 'YYYY-MM'."""
    year = (pl.col(col) // 12).cast(pl.String)
    month = (pl.col(col) % 12 + 1).cast(pl.String).str.zfill(2)
    return pl.concat_str([year, pl.lit("-"), month])


def _to_window_ends(frame: pl.DataFrame) -> pl.DataFrame:
    """Each row once for every window its month belongs to (the windows ending in it and the 11 months after)."""
    return frame.with_columns(end=pl.int_ranges(pl.col("mi"), pl.col("mi") + WINDOW)).explode("end")


def _windows(monthly: pl.DataFrame, members: list[str]) -> pl.DataFrame:
    """Per (reporter, end): months_in_window and bloc_members, at the ends the contract names."""
    months = monthly.select("reporter", "mi").unique()
    spread = _to_window_ends(months)
    # member states: windows at their own months, months counted in them
    own_ends = months.filter(pl.col("reporter").is_in(members)).rename({"mi": "end"})
    per_member = (
        spread.filter(pl.col("reporter").is_in(members))
        .join(own_ends, on=["reporter", "end"], how="semi")
        .group_by("reporter", "end")
        .agg(months_in_window=pl.len().cast(pl.Int64))
        .with_columns(bloc_members=pl.lit(None, pl.Int64))
    )
    # the bloc: windows at any unit's month; the EU27_2020 reporter's own months when it has any there
    bloc_ends = months.select(end="mi").unique()
    per_unit = spread.join(bloc_ends, on="end", how="semi").group_by("reporter", "end").agg(n=pl.len())
    bloc = per_unit.group_by("end").agg(
        own=pl.col("n").filter(pl.col("reporter") == EU27).first(),
        n_members=pl.col("reporter").filter(pl.col("reporter").is_in(members)).n_unique(),
        least=pl.col("n").filter(pl.col("reporter").is_in(members)).min(),
    ).select(
        pl.lit(EU27).alias("reporter"), "end",
        months_in_window=pl.when(pl.col("own").is_not_null()).then(pl.col("own")).otherwise(pl.col("least"))
        .cast(pl.Int64),
        bloc_members=pl.when(pl.col("own").is_not_null()).then(pl.lit(27)).otherwise(pl.col("n_members"))
        .cast(pl.Int64),
    )
    return pl.concat([per_member.select(bloc.columns), bloc], how="vertical")


def _ec_screen_rolling(p: Prepared) -> pl.DataFrame:
    s = p.settings
    monthly = p.all_rows.filter(
        (pl.col("source") == "comext") & (pl.col("freq") == "M")
        & pl.col("reporter").is_in(p.members + [EU27])
    ).with_columns(mi=(pl.col("year").cast(pl.Int64) * 12 + pl.col("month").cast(pl.Int64) - 1))
    windows = _windows(monthly, p.members)

    # units: every reporter as itself; the bloc from EU27_2020 rows where a (month, flow, code) has them,
    # else from the member states
    rows = monthly.filter(pl.col("hs6").is_not_null())
    eu_rows = rows.filter(pl.col("reporter") == EU27)
    eu_keys = eu_rows.select("mi", "flow", "product_code_native").unique()
    member_rows = rows.filter(pl.col("reporter").is_in(p.members))
    units = pl.concat([
        member_rows.with_columns(unit=pl.col("reporter")),
        eu_rows.with_columns(unit=pl.col("reporter")),
        member_rows.join(eu_keys, on=["mi", "flow", "product_code_native"], how="anti")
        .with_columns(unit=pl.col("reporter"), reporter=pl.lit(EU27)),
    ], how="vertical")

    kind, partner = pl.col("partner_kind"), pl.col("partner")
    country_not_self = (kind == "country") & (partner != pl.col("unit"))
    member_partner = partner.is_in(p.members)
    imp, exp = pl.col("flow") == "import", pl.col("flow") == "export"
    units = units.with_columns(
        supplier=(imp & country_not_self & ~member_partner).fill_null(False),
        intra=(imp & ((country_not_self & member_partner)
                      | (kind.is_in(list(UNALLOCATED_KINDS)) & partner.is_in(list(INTRA_EU_CODES))))).fill_null(False),
        extra_export=(exp & country_not_self & ~member_partner).fill_null(False),
        import_row=(imp & ((kind != "aggregate") | (partner == WORLD))).fill_null(False),
    ).filter(pl.col("supplier") | pl.col("intra") | pl.col("extra_export") | pl.col("import_row"))

    # only the columns the windows read are spread over them (every row is repeated 12 times)
    spread = _to_window_ends(units.select(
        "reporter", "mi", pl.col("hs6").alias("product_code"), "partner", "value_k", "rbit", "synthetic",
        "supplier", "intra", "extra_export", "import_row")).join(
        windows.select("reporter", "end"), on=["reporter", "end"], how="semi")
    k = ["reporter", "end", "product_code"]
    zero = pl.lit(0, pl.Int128)
    base = spread.group_by(k).agg(
        imported=pl.col("import_row").any(),
        m_intra_k=pl.col("value_k").filter(pl.col("intra")).sum(),
        x_k=pl.col("value_k").filter(pl.col("extra_export")).sum(),
        rbit=pl.col("rbit").filter(pl.col("import_row") | pl.col("extra_export")).bitwise_or(),
        synthetic=pl.col("synthetic").filter(pl.col("import_row") | pl.col("extra_export")).any(),
    ).filter(pl.col("imported"))
    suppliers = (
        spread.filter(pl.col("supplier"))
        .group_by(k + ["partner"]).agg(v=pl.col("value_k").sum())
        .filter(pl.col("v") > 0)
        .group_by(k).agg(
            n_suppliers_extra=pl.len().cast(pl.Int64),
            m_extra_k=pl.col("v").sum(),
            hhi_extra=((pl.col("v").cast(pl.Float64) / pl.col("v").sum().cast(pl.Float64)) ** 2).sum(),
            top_supplier=pl.col("partner").sort_by(["v", "partner"], descending=[True, True]).first(),
            top_k=pl.col("v").max(),
        )
    )
    out = base.join(suppliers, on=k, how="left").join(windows, on=["reporter", "end"], how="left")
    out = out.with_columns(
        n_suppliers_extra=pl.col("n_suppliers_extra").fill_null(0),
        m_extra_k=pl.col("m_extra_k").fill_null(zero),
        m_intra_k=pl.col("m_intra_k").fill_null(zero),
        x_k=pl.col("x_k").fill_null(zero),
        rbit=pl.col("rbit").fill_null(0),
    )
    m, mi, xx = pl.col("m_extra_k"), pl.col("m_intra_k"), pl.col("x_k")
    is_bloc = pl.col("reporter") == EU27
    out = out.with_columns(
        top_supplier_share=_div(pl.col("top_k"), m),
        extra_eu_import_share=_div(m, m + mi),
        import_export_ratio=_div(m, xx),
        screened=~((m == 0) & (xx == 0)),
        bloc_months_min=pl.when(is_bloc).then(pl.col("months_in_window")),
        bloc_complete=pl.when(is_bloc).then((pl.col("bloc_members") == 27) & (pl.col("months_in_window") == 12)),
        window_complete=pl.col("months_in_window") == 12,
    ).with_columns(**ec_criteria("hhi_extra", xx, s)).with_columns(
        dependent=ec_dependent(pl.col("window_complete"), complete="bloc_complete"))
    out = _release_text(out, p.releases).with_columns(start=pl.col("end") - (WINDOW - 1)).with_columns(
        source=pl.lit("comext"), currency=pl.lit("EUR"),
        year=(pl.col("end") // 12).cast(pl.Int64),
        period_end=_month_name("end"),
        period_start=_month_name("start"),
        c1_threshold=pl.lit(float(s["ec_c1_hhi"])),
        c2_threshold=pl.lit(float(s["ec_c2_extra_share"])),
        c3_threshold=pl.lit(float(s["ec_c3_import_export_ratio"])),
        caveat=pl.when(pl.col("reporter") == "NLD").then(pl.lit(NLD_CAVEAT)),
    )
    return out.select(
        *KEYS, "currency", "year", "period_start", "months_in_window", "window_complete",
        _dec("m_extra_k").alias("m_extra"), _dec("m_intra_k").alias("m_intra"), _dec("x_k").alias("x_extra"),
        "extra_eu_import_share", "import_export_ratio", "hhi_extra", "n_suppliers_extra", "top_supplier",
        "top_supplier_share", _dec("top_k").alias("top_supplier_value"),
        "c1_threshold", "c2_threshold", "c3_threshold",
        "c1_concentration", "c2_importance", "c3_substitutability", "screened", "dependent",
        "bloc_members", "bloc_months_min", "bloc_complete", "caveat", "release", "synthetic",
    ).sort(KEYS)


def ec_screen_rolling(con: duckdb.DuckDBPyConnection, settings=None) -> pl.DataFrame:
    """monitor.ec_screen_rolling as the contract defines it, from ``con``'s staging.trade_flows and reference tables."""
    return _ec_screen_rolling(prepare(con, settings))
