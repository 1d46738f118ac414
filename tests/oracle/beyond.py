"""The oracle for methodology section 8, "Screens no public monitor shows yet" (issue 29), in polars, written
from the contract (``../shared/docs/methodology.md`` section 8) and the choices the SQL headers state, never
from the SQL itself. It builds on tests/oracle/oracle.py's preparation and tables.

Entry point: ``compute_beyond(con, settings=None)`` -> table name -> DataFrame.
"""

from __future__ import annotations

import duckdb
import polars as pl

from oracle.oracle import (EU27, Prepared, _div, _import_concentration, _own_totals, _shares, _supplier_rows,
                           importer_hs6_rows, prepare)

KEYS: dict[str, list[str]] = {
    "supplier_headroom": ["source", "importer", "year", "product_code"],
    "supplier_headroom_by_year": ["source", "year"],
    "crma_benchmark": ["source", "reporter", "year", "material", "stage"],
    "crma_benchmark_rolling": ["source", "reporter", "period_end", "material", "stage"],
    "bloc_vs_members": ["source", "year", "product_code"],
    "third_country_bloc_vs_members": ["source", "importer", "year", "product_code"],
    "bloc_member_counts": ["source", "year", "side", "importer"],
    "ec_screen_cn8": ["reporter", "year", "cn8"],
}
CONTRACT_COLUMNS: dict[str, list[str]] = {
    "supplier_headroom": [
        "currency", "n_exporters", "potential_min_share", "potential_suppliers", "actual_suppliers", "n_suppliers",
        "concentrated_oecd", "unused_potential_suppliers", "top_supplier", "top_supplier_share",
        "reporters_in_year", "world_covered", "year_complete", "release", "synthetic",
    ],
    "supplier_headroom_by_year": [
        "currency", "importers", "cases", "concentrated_cases", "concentrated_share", "china_top_cases",
        "china_share_of_concentrated", "potential_min_share", "reporters_in_year", "world_covered", "synthetic",
    ],
    "crma_benchmark": [
        "currency", "m_extra", "n_suppliers_extra", "top_supplier", "top_supplier_value", "top_share", "benchmark",
        "over_benchmark",
        "benchmark_gap", "top_share_3y_before", "top_share_change_3y", "codes_traded", "codes_shared",
        "months_covered", "year_complete", "caveat", "release", "synthetic",
    ],
    "crma_benchmark_rolling": [
        "currency", "year", "period_start", "m_extra", "n_suppliers_extra", "top_supplier", "top_supplier_value",
        "top_share", "benchmark", "over_benchmark", "benchmark_gap", "codes_traded", "codes_shared",
        "months_in_window", "window_complete", "bloc_members", "bloc_complete", "caveat", "release", "synthetic",
    ],
    "bloc_vs_members": [
        "currency", "m_extra", "hhi_extra", "top_supplier", "top_supplier_share", "screened", "bloc_dependent",
        "bloc_complete", "year_complete", "members_dependent", "members_dependent_list", "members_screened",
        "top_member", "top_member_share", "top3_members", "top3_members_share", "dependence_pattern", "release",
        "synthetic",
    ],
    "third_country_bloc_vs_members": [
        "currency", "importer_total_imports", "importer_hhi", "eu_share", "depends_on_eu", "members_depended_on",
        "members_depended_on_list", "top_member_supplier", "top_member_supplier_share", "dependence_pattern",
        "release", "synthetic",
    ],
    "bloc_member_counts": [
        "products", "bloc_dependent", "members_dependent", "bloc_only", "members_only", "bloc_and_members",
        "synthetic",
    ],
    "ec_screen_cn8": [
        "source", "currency", "cn_edition", "product_code", "product_code_target", "converted_split", "m_extra",
        "m_intra", "x_extra", "annual_imports", "hhi_extra", "n_suppliers_extra", "top_supplier",
        "top_supplier_value", "top_supplier_share", "extra_eu_import_share", "import_export_ratio",
        "c1_concentration", "c2_importance", "c3_substitutability", "screened", "dependent", "months_covered",
        "year_complete", "caveat", "release", "synthetic",
    ],
}
TABLES = tuple(KEYS)

BEYOND_DEFAULTS = {"potential_min_share": 0.01, "crma_benchmark": 0.65, "cn8_min_value": 1_000_000.0}


def _settings(p: Prepared, settings) -> dict:
    out = dict(BEYOND_DEFAULTS)
    if settings is None:
        from pipeline.resources import Thresholds

        settings = Thresholds().sql_variables()
    if hasattr(settings, "sql_variables"):
        settings = settings.sql_variables()
    out.update({k: v for k, v in dict(settings).items() if k in BEYOND_DEFAULTS})
    out["min_world_reporters"] = p.settings["min_world_reporters"]
    return out


# ------------------------------------------------------------------------------------- supplier headroom

def _supplier_headroom(p: Prepared, ic: pl.DataFrame, s: dict) -> pl.DataFrame:
    src = "comtrade"
    k = ["source", "importer", "year", "product_code"]
    rows = importer_hs6_rows(ic, src)
    # world exports: every Comtrade country reporter's own total (World row, else partner rows), positive ones
    exporters = _own_totals(p, "export").filter((pl.col("source") == src) & (pl.col("total_k") > 0)).select(
        "year", "product_code", exporter=pl.col("reporter"), x=pl.col("total_k"))
    exporters = exporters.with_columns(
        world_share=_div(pl.col("x"), pl.col("x").sum().over("year", "product_code")),
        n_exporters=pl.len().over("year", "product_code").cast(pl.Int64),
    )
    n_exp = exporters.select("year", "product_code", "n_exporters").unique()
    potential = exporters.filter(pl.col("world_share") >= s["potential_min_share"])
    suppliers = _shares(_supplier_rows(p).filter(pl.col("source") == src)).select(
        "importer", "year", "product_code", exporter="partner", supplies=pl.lit(True))
    pairs = (
        rows.select("importer", "year", "product_code")
        .join(potential, on=["year", "product_code"], how="inner")
        .filter((pl.col("exporter") != pl.col("importer"))
                & ~((pl.col("importer") == EU27) & pl.col("exporter").is_in(p.members)))
        .join(suppliers, on=["importer", "year", "product_code", "exporter"], how="left")
        .with_columns(supplies=pl.col("supplies").fill_null(False))
    )
    unused = (
        pairs.filter(~pl.col("supplies"))
        .sort(["x", "exporter"], descending=[True, True])
        .group_by("importer", "year", "product_code", maintain_order=True)
        .agg(unused=pl.col("exporter").head(3).str.join("; "))
    )
    counts = pairs.group_by("importer", "year", "product_code").agg(
        potential=pl.len().cast(pl.Int64), used=pl.col("supplies").sum().cast(pl.Int64))
    coverage = (
        p.all_rows.filter((pl.col("source") == src) & (pl.col("reporter") != EU27))
        .group_by("year").agg(reporters_in_year=pl.col("reporter").n_unique().cast(pl.Int64))
    )
    kk = ["importer", "year", "product_code"]
    out = (
        rows.join(counts, on=kk, how="left").join(unused, on=kk, how="left")
        .join(n_exp, on=["year", "product_code"], how="left").join(coverage, on="year", how="left")
        .with_columns(
            potential=pl.col("potential").fill_null(0),
            known=pl.col("n_suppliers") > 0,
            n_exporters=pl.col("n_exporters").fill_null(0),
        )
        .with_columns(
            actual=pl.when(pl.col("known")).then(pl.col("used").fill_null(0)),
        )
        .with_columns(
            concentrated_oecd=pl.when(pl.col("known")).then(pl.col("actual") < pl.col("potential") / 2),
            world_covered=pl.col("reporters_in_year") >= s["min_world_reporters"],
        )
    )
    return out.select(
        *k, "currency", "n_exporters", pl.lit(float(s["potential_min_share"])).alias("potential_min_share"),
        pl.col("potential").alias("potential_suppliers"), pl.col("actual").alias("actual_suppliers"), "n_suppliers",
        "concentrated_oecd", pl.col("unused").alias("unused_potential_suppliers"),
        pl.col("top1_partner").alias("top_supplier"), pl.col("top1_share").alias("top_supplier_share"),
        "reporters_in_year", "world_covered", "year_complete", "release", "synthetic",
    ).sort(k)


def _supplier_headroom_by_year(h: pl.DataFrame) -> pl.DataFrame:
    c = h.filter(pl.col("importer") != EU27)
    known, conc = pl.col("concentrated_oecd").is_not_null(), pl.col("concentrated_oecd").fill_null(False)
    china = conc & (pl.col("top_supplier") == "CHN")
    out = c.group_by("source", "currency", "year").agg(
        importers=pl.col("importer").n_unique().cast(pl.Int64),
        cases=known.sum().cast(pl.Int64),
        concentrated_cases=conc.sum().cast(pl.Int64),
        china_top_cases=china.sum().cast(pl.Int64),
        potential_min_share=pl.col("potential_min_share").first(),
        reporters_in_year=pl.col("reporters_in_year").first(),
        world_covered=pl.col("world_covered").first(),
        synthetic=pl.col("synthetic").any(),
    )
    return out.with_columns(
        concentrated_share=_div(pl.col("concentrated_cases"), pl.col("cases")),
        china_share_of_concentrated=_div(pl.col("china_top_cases"), pl.col("concentrated_cases")),
    ).sort("source", "year")


# ------------------------------------------------------------------------------------- entry point

def compute_beyond(con: duckdb.DuckDBPyConnection, settings=None) -> dict[str, pl.DataFrame]:
    p = prepare(con, settings)
    s = _settings(p, settings)
    ic = _import_concentration(p)
    out: dict[str, pl.DataFrame] = {}
    out["supplier_headroom"] = _supplier_headroom(p, ic, s)
    out["supplier_headroom_by_year"] = _supplier_headroom_by_year(out["supplier_headroom"])
    mapping = con.sql("SELECT * FROM reference.crma_materials").pl()
    out["crma_benchmark"] = _crma_benchmark(p, ic, mapping, s)
    out["crma_benchmark_rolling"] = _crma_benchmark_rolling(p, mapping, s)
    from oracle.oracle import _dependence, _ec_screen

    out["bloc_vs_members"] = _bloc_vs_members(p, _ec_screen(p, ic))
    out["third_country_bloc_vs_members"] = _third_country_bloc_vs_members(p, _dependence(p, ic, "eu"))
    out["bloc_member_counts"] = _bloc_member_counts(out["bloc_vs_members"],
                                                              out["third_country_bloc_vs_members"])
    out["ec_screen_cn8"] = _ec_screen_cn8(p, ic, s)
    return {name: df.drop([c for c in df.columns if c.startswith("_")]) for name, df in out.items()}


# ------------------------------------------------------------------------------------- CRMA benchmark

def _crma_benchmark(p: Prepared, ic: pl.DataFrame, mapping: pl.DataFrame, s: dict) -> pl.DataFrame:
    """Contract section 8: per material, stage, source, year; EU27 on extra-EU, NLD on non-EU country partners."""
    from oracle.oracle import NLD_CAVEAT, _release_text

    g = ["source", "currency", "reporter", "year", "material", "stage"]
    m = mapping.select("material", "stage", hs6=pl.col("hs6"),
                       shared=pl.col("shared_with").fill_null("").str.len_chars() > 0)
    rows = (
        p.units.filter((pl.col("flow") == "import") & pl.col("reporter").is_in([EU27, "NLD"])
                       & (pl.col("role_extra") == "supplier") & pl.col("hs6").is_not_null())
        .join(m, on="hs6", how="inner")
    )
    per = rows.group_by(g + ["partner"]).agg(v=pl.col("v").sum())
    pos = per.filter(pl.col("v") > 0)
    top = (
        pos.sort(["v", "partner"], descending=[True, True])
        .group_by(g, maintain_order=True)
        .agg(top_supplier=pl.col("partner").first(), top_k=pl.col("v").first(),
             imports_k=pl.col("v").sum(), n_suppliers=pl.len().cast(pl.Int64))
    )
    prov = rows.group_by(g).agg(
        codes_traded=pl.col("hs6").n_unique().cast(pl.Int64),
        codes_shared=pl.col("hs6").filter(pl.col("shared")).n_unique().cast(pl.Int64),
        rbit=pl.col("rbit").bitwise_or(), synthetic=pl.col("syn").any(),
    )
    years = ic.select("source", "reporter", "year", "months_covered", "year_complete").unique(
        subset=["source", "reporter", "year"])
    bench = float(s["crma_benchmark"])
    out = (
        top.join(prov, on=g, how="left").join(years, on=["source", "reporter", "year"], how="left")
        .with_columns(top_share=_div(pl.col("top_k"), pl.col("imports_k")), benchmark=pl.lit(bench))
        .with_columns(
            over_benchmark=(pl.col("top_share") > bench) & pl.col("year_complete"),
            benchmark_gap=pl.col("top_share") - bench,
            caveat=pl.when((pl.col("reporter") == "NLD") & (pl.col("source") == "comext")).then(pl.lit(NLD_CAVEAT)),
        )
    )
    before = out.select("source", "reporter", (pl.col("year") + 3).alias("year"), "material", "stage",
                        top_share_3y_before="top_share")
    out = out.join(before, on=["source", "reporter", "year", "material", "stage"], how="left").with_columns(
        top_share_change_3y=pl.col("top_share") - pl.col("top_share_3y_before"))
    out = _release_text(out, p.releases)
    from oracle.oracle import _dec

    return out.select(
        *g, _dec("imports_k").alias("m_extra"), pl.col("n_suppliers").alias("n_suppliers_extra"), "top_supplier",
        _dec("top_k").alias("top_supplier_value"),
        "top_share", "benchmark", "over_benchmark", "benchmark_gap", "top_share_3y_before", "top_share_change_3y",
        "codes_traded", "codes_shared", "months_covered", "year_complete", "caveat", "release", "synthetic",
    ).sort(g)


def _crma_benchmark_rolling(p: Prepared, mapping: pl.DataFrame, s: dict) -> pl.DataFrame:
    """Contract section 8's CRMA benchmark on the rolling 12-month windows of section 8 ("Rolling 12 months"):
    monthly Comext, EU27 on extra-EU and NLD on non-EU country suppliers, the windows of the rolling EC screen
    (tests/oracle/rolling.py), flagged only on a complete window (and complete bloc)."""
    from oracle.oracle import NLD_CAVEAT, _dec, _release_text
    from oracle.rolling import WINDOW, _month_name, _to_window_ends, _windows

    monthly = p.all_rows.filter(
        (pl.col("source") == "comext") & (pl.col("freq") == "M") & pl.col("reporter").is_in(p.members + [EU27])
    ).with_columns(mi=(pl.col("year").cast(pl.Int64) * 12 + pl.col("month").cast(pl.Int64) - 1))
    windows = _windows(monthly, p.members).filter(pl.col("reporter").is_in([EU27, "NLD"]))
    imports = monthly.filter(pl.col("hs6").is_not_null() & (pl.col("flow") == "import"))
    # the bloc: Comext's EU27_2020 rows for a (month, native code) that has them, else the member states
    eu_keys = imports.filter(pl.col("reporter") == EU27).select("mi", "product_code_native").unique()
    units = pl.concat([
        imports.filter(pl.col("reporter").is_in([EU27, "NLD"])).with_columns(unit=pl.col("reporter")),
        imports.filter(pl.col("reporter").is_in(p.members)).join(eu_keys, on=["mi", "product_code_native"],
                                                                  how="anti")
        .with_columns(unit=pl.col("reporter"), reporter=pl.lit(EU27)),
    ], how="vertical")
    supplier = ((pl.col("partner_kind") == "country") & (pl.col("partner") != pl.col("unit"))
                & ~pl.col("partner").is_in(p.members)).fill_null(False)
    m = mapping.select("material", "stage", "hs6", shared=pl.col("shared_with").fill_null("").str.len_chars() > 0)
    rows = units.filter(supplier).join(m, on="hs6", how="inner")
    g = ["reporter", "end", "material", "stage"]
    spread = _to_window_ends(rows.select("reporter", "mi", "material", "stage", "hs6", "shared", "partner",
                                         "value_k", "rbit", "synthetic")) \
        .join(windows.select("reporter", "end"), on=["reporter", "end"], how="semi")
    per = spread.group_by(g + ["partner"]).agg(v=pl.col("value_k").sum())
    top = (
        per.filter(pl.col("v") > 0).sort(["v", "partner"], descending=[True, True])
        .group_by(g, maintain_order=True)
        .agg(top_supplier=pl.col("partner").first(), top_k=pl.col("v").first(), imports_k=pl.col("v").sum(),
             n_suppliers=pl.len().cast(pl.Int64))
    )
    prov = spread.group_by(g).agg(
        codes_traded=pl.col("hs6").n_unique().cast(pl.Int64),
        codes_shared=pl.col("hs6").filter(pl.col("shared")).n_unique().cast(pl.Int64),
        rbit=pl.col("rbit").bitwise_or(), synthetic=pl.col("synthetic").any(),
    )
    bench = float(s["crma_benchmark"])
    is_bloc = pl.col("reporter") == EU27
    out = (
        top.join(prov, on=g, how="left").join(windows, on=["reporter", "end"], how="left")
        .with_columns(
            top_share=_div(pl.col("top_k"), pl.col("imports_k")), benchmark=pl.lit(bench),
            window_complete=pl.col("months_in_window") == WINDOW,
            bloc_complete=pl.when(is_bloc).then((pl.col("bloc_members") == 27)
                                                & (pl.col("months_in_window") == WINDOW)),
        )
        .with_columns(
            over_benchmark=(pl.col("top_share") > bench) & pl.col("window_complete")
            & pl.col("bloc_complete").fill_null(True),
            benchmark_gap=pl.col("top_share") - bench,
            caveat=pl.when(pl.col("reporter") == "NLD").then(pl.lit(NLD_CAVEAT)),
            start=pl.col("end") - (WINDOW - 1),
        )
        .with_columns(source=pl.lit("comext"), currency=pl.lit("EUR"), year=(pl.col("end") // 12).cast(pl.Int64),
                      period_end=_month_name("end"), period_start=_month_name("start"))
    )
    out = _release_text(out, p.releases)
    keys = KEYS["crma_benchmark_rolling"]
    return out.select(
        *keys, "currency", "year", "period_start", _dec("imports_k").alias("m_extra"),
        pl.col("n_suppliers").alias("n_suppliers_extra"), "top_supplier", _dec("top_k").alias("top_supplier_value"),
        "top_share", "benchmark", "over_benchmark", "benchmark_gap", "codes_traded", "codes_shared",
        "months_in_window", "window_complete", "bloc_members", "bloc_complete", "caveat", "release", "synthetic",
    ).sort(keys)


# ------------------------------------------------------------------------------------- bloc versus members

def _pattern(bloc: str, members: str) -> pl.Expr:
    b, m = pl.col(bloc).fill_null(False), pl.col(members) > 0
    return (pl.when(b & m).then(pl.lit("both")).when(b).then(pl.lit("bloc_only"))
            .when(m).then(pl.lit("members_only")).otherwise(pl.lit("neither")))


def _bloc_vs_members(p: Prepared, ec: pl.DataFrame) -> pl.DataFrame:
    k = ["source", "year", "product_code"]
    bloc = ec.filter(pl.col("reporter") == EU27)
    mem = ec.filter(pl.col("reporter").is_in(p.members))
    dep = mem.group_by(k).agg(
        members_dependent=pl.col("dependent").fill_null(False).sum().cast(pl.Int64),
        members_dependent_list=pl.col("reporter").filter(pl.col("dependent").fill_null(False)).sort().str.join("; "),
        members_screened=pl.col("screened").fill_null(False).sum().cast(pl.Int64),
    )
    top = (
        mem.filter(pl.col("m_extra") > 0)
        .sort(["m_extra", "reporter"], descending=[True, True])
        .group_by(k, maintain_order=True)
        .agg(top_member=pl.col("reporter").first(), top_v=pl.col("m_extra").first(),
             top3_members=pl.col("reporter").head(3).str.join("; "), top3_v=pl.col("m_extra").head(3).sum())
    )
    out = bloc.join(dep, on=k, how="left").join(top, on=k, how="left")
    has = pl.col("m_extra") > 0
    out = out.with_columns(
        members_dependent=pl.col("members_dependent").fill_null(0),
        members_screened=pl.col("members_screened").fill_null(0),
        members_dependent_list=pl.when(pl.col("members_dependent_list") != "").then(pl.col("members_dependent_list")),
        top_member=pl.when(has).then(pl.col("top_member")),
        top_member_share=pl.when(has).then(_div(pl.col("top_v"), pl.col("m_extra"))),
        top3_members=pl.when(has).then(pl.col("top3_members")),
        top3_members_share=pl.when(has).then(_div(pl.col("top3_v"), pl.col("m_extra"))),
    ).with_columns(bloc_dependent=pl.col("dependent"), dependence_pattern=_pattern("dependent", "members_dependent"))
    return out.select(
        *k, "currency", "m_extra", "hhi_extra", "top_supplier", "top_supplier_share", "screened", "bloc_dependent",
        "bloc_complete", "year_complete", "members_dependent", "members_dependent_list", "members_screened",
        "top_member", "top_member_share", "top3_members", "top3_members_share", "dependence_pattern",
        "release", "synthetic",
    ).sort(k)


def _third_country_bloc_vs_members(p: Prepared, dep_eu: pl.DataFrame) -> pl.DataFrame:
    """Contract section 7 applied to each member state alone (partner view), beside dependence on the bloc."""
    s = p.settings
    k = ["source", "importer", "year", "product_code"]
    d = dep_eu.filter(pl.col("partner_view_available"))
    sup = _supplier_rows(p).filter(pl.col("importer") != EU27)
    largest = sup.group_by(k).agg(largest=pl.col("v").max())
    per = (
        sup.filter(pl.col("partner").is_in(p.members) & (pl.col("v") > 0))
        .join(largest, on=k)
        .join(d.select(*k, "importer_total_imports", "importer_hhi"), on=k, how="inner")
        .with_columns(
            # v is in thousandths (Int128), the published total a DECIMAL(38,3)
            share=_div(pl.col("v"), (pl.col("importer_total_imports").cast(pl.Decimal(38, 3)) * 1000).cast(pl.Int128)),
            is_top=pl.col("v") >= pl.col("largest"),
        )
        .with_columns(
            depends=(pl.col("share") >= s["depends_share"]).fill_null(False)
            | (pl.col("is_top") & (pl.col("importer_hhi") > s["depends_top_hhi"]).fill_null(False))
        )
    )
    summed = (
        per.sort(["v", "partner"], descending=[True, True])
        .group_by(k, maintain_order=True)
        .agg(
            members_depended_on=pl.col("depends").sum().cast(pl.Int64),
            members_depended_on_list=pl.col("partner").filter(pl.col("depends")).sort().str.join("; "),
            top_member_supplier=pl.col("partner").first(), top_member_supplier_share=pl.col("share").first(),
        )
    )
    out = d.join(summed, on=k, how="left").with_columns(
        members_depended_on=pl.col("members_depended_on").fill_null(0),
        members_depended_on_list=pl.when(pl.col("members_depended_on_list") != "")
        .then(pl.col("members_depended_on_list")),
    ).with_columns(dependence_pattern=_pattern("depends_on_eu", "members_depended_on"))
    return out.select(
        *k, "currency", "importer_total_imports", "importer_hhi", "eu_share", "depends_on_eu", "members_depended_on",
        "members_depended_on_list", "top_member_supplier", "top_member_supplier_share", "dependence_pattern",
        "release", "synthetic",
    ).sort(k)


def _bloc_member_counts(bvm: pl.DataFrame, partners: pl.DataFrame) -> pl.DataFrame:
    def counts(frame, bloc, members, who):
        pat = pl.col("dependence_pattern")
        return frame.group_by(["source", "year"] + ([who] if who else [])).agg(
            products=pl.len().cast(pl.Int64),
            bloc_dependent=pl.col(bloc).fill_null(False).sum().cast(pl.Int64),
            members_dependent=(pl.col(members) > 0).sum().cast(pl.Int64),
            bloc_only=(pat == "bloc_only").sum().cast(pl.Int64),
            members_only=(pat == "members_only").sum().cast(pl.Int64),
            bloc_and_members=(pat == "both").sum().cast(pl.Int64),
            synthetic=pl.col("synthetic").any(),
        )

    eu = counts(bvm, "bloc_dependent", "members_dependent", None).with_columns(
        side=pl.lit("eu"), importer=pl.lit(EU27))
    pt = counts(partners, "depends_on_eu", "members_depended_on", "importer").with_columns(side=pl.lit("partner"))
    cols = ["source", "year", "side", "importer", "products", "bloc_dependent", "members_dependent", "bloc_only",
            "members_only", "bloc_and_members", "synthetic"]
    return pl.concat([eu.select(cols), pt.select(cols)]).sort("source", "year", "side", "importer")


# ------------------------------------------------------------------------------------- EC screen on CN8

def _ec_screen_cn8(p: Prepared, ic: pl.DataFrame, s: dict) -> pl.DataFrame:
    """Contract section 6's EC screen on Comext's CN8 codes (section 8), EU27 and NLD, codes >= cn8_min_value."""
    from oracle.oracle import _dec, _release_text, ec_criteria, ec_dependent

    k = ["reporter", "year", "cn8"]
    u = p.units.filter(
        (pl.col("source") == "comext") & pl.col("reporter").is_in([EU27, "NLD"])
        & pl.col("product_code_native").str.contains(r"^[0-9]{8}$")
    ).rename({"product_code_native": "cn8"})
    imp = pl.col("flow") == "import"
    sup = u.filter(imp & (pl.col("role_extra") == "supplier")).group_by(k + ["partner"]).agg(
        v=pl.col("v").sum(), rbit=pl.col("rbit").bitwise_or(), syn=pl.col("syn").any())
    pos = sup.filter(pl.col("v") > 0)
    conc = (
        pos.sort(["v", "partner"], descending=[True, True]).group_by(k, maintain_order=True)
        .agg(m_k=pl.col("v").sum(), n_suppliers_extra=pl.len().cast(pl.Int64),
             hhi_extra=((_div(pl.col("v"), pl.col("v").sum())) ** 2).sum(),
             top_supplier=pl.col("partner").first(), top_k=pl.col("v").first())
    )
    behind = (imp & (pl.col("role_extra") == "supplier")) | (imp & (pl.col("role_extra") == "internal")
                                                             & ~pl.col("is_self")) \
        | ((pl.col("flow") == "export") & pl.col("extra_country"))
    trade = u.group_by(k).agg(
        currency=pl.col("currency").first(),
        product_code=pl.col("cn8").first().str.slice(0, 6),
        targets=pl.col("hs6").n_unique(), target=pl.col("hs6").first(),
        mi_k=pl.col("v").filter(imp & (pl.col("role_extra") == "internal") & ~pl.col("is_self")).sum(),
        x_k=pl.col("v").filter((pl.col("flow") == "export") & pl.col("extra_country")).sum(),
        rbit=pl.col("rbit").filter(behind).bitwise_or(),
        synthetic=pl.col("syn").filter(behind).any(),
    )
    years = ic.filter(pl.col("source") == "comext").select("reporter", "year", "months_covered", "year_complete") \
        .unique(subset=["reporter", "year"])
    zero = pl.lit(0, pl.Int128)
    out = (
        trade.join(conc, on=k, how="left").join(years, on=["reporter", "year"], how="left")
        .with_columns(m_k=pl.col("m_k").fill_null(zero), n_suppliers_extra=pl.col("n_suppliers_extra").fill_null(0),
                      mi_k=pl.col("mi_k").fill_null(zero), x_k=pl.col("x_k").fill_null(zero),
                      rbit=pl.col("rbit").fill_null(0), synthetic=pl.col("synthetic").fill_null(False))
        .with_columns(imports_k=pl.col("m_k") + pl.col("mi_k"))
        .filter(pl.col("imports_k") >= int(round(float(s["cn8_min_value"]) * 1000)))
    )
    m, mi, xx = pl.col("m_k"), pl.col("mi_k"), pl.col("x_k")
    out = out.with_columns(
        source=pl.lit("comext"), cn_edition=pl.lit("CN") + pl.col("year").cast(pl.String),
        product_code_target=pl.when(pl.col("targets") == 1).then(pl.col("target")),
        converted_split=pl.col("targets") > 1,
        extra_eu_import_share=_div(m, m + mi), import_export_ratio=_div(m, xx),
        top_supplier_share=_div(pl.col("top_k"), m), screened=~((m == 0) & (xx == 0)),
        caveat=pl.when(pl.col("reporter") == "NLD").then(pl.lit("quasi-transit")),
    ).with_columns(**ec_criteria("hhi_extra", xx, p.settings)).with_columns(dependent=ec_dependent())
    out = _release_text(out, p.releases)
    return out.select(
        "source", "currency", *k, "cn_edition", "product_code", "product_code_target", "converted_split",
        _dec("m_k").alias("m_extra"), _dec("mi_k").alias("m_intra"), _dec("x_k").alias("x_extra"),
        _dec("imports_k").alias("annual_imports"), "hhi_extra", "n_suppliers_extra", "top_supplier",
        _dec("top_k").alias("top_supplier_value"), "top_supplier_share", "extra_eu_import_share",
        "import_export_ratio", "c1_concentration", "c2_importance", "c3_substitutability", "screened", "dependent",
        "months_covered", "year_complete", "caveat", "release", "synthetic",
    ).sort(k)
