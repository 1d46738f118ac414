"""The oracle for methodology section 8, "Screens no public monitor shows yet" (issue 29), in polars, written
from the contract (``../shared/docs/methodology.md`` section 8) and the choices the SQL headers state, never
from the SQL itself. It builds on tests/oracle/oracle.py's preparation and tables.

Entry point: ``compute_beyond(con, settings=None)`` -> table name -> DataFrame.
"""

from __future__ import annotations

import duckdb
import polars as pl

from oracle.oracle import EU27, Prepared, _div, _import_concentration, _own_totals, _shares, _supplier_rows, prepare

KEYS: dict[str, list[str]] = {
    "supplier_headroom": ["source", "importer", "year", "product_code"],
    "supplier_headroom_by_year": ["source", "year"],
    "crma_benchmark": ["source", "reporter", "year", "material", "stage"],
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
}
TABLES = tuple(KEYS)

BEYOND_DEFAULTS = {"potential_min_share": 0.01, "crma_benchmark": 0.65}


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
    rows = ic.filter(
        (pl.col("source") == src) & (pl.col("product_level") == "HS6")
        & (((pl.col("reporter") != EU27) & (pl.col("partner_scope") == "all"))
           | ((pl.col("reporter") == EU27) & (pl.col("partner_scope") == "extra_eu")))
    ).rename({"reporter": "importer"})
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
