"""A second implementation of the monitor's tables, in polars, written from the contract alone.

Sources: ``../shared/docs/methodology.md`` (sections 3-8 and 10) and ``tests/oracle/CONTRACT.md``.
Nothing here is taken from the SQL models in ``dbt_like_sql/``.

Inputs are read with plain ``SELECT *`` (plus simple filters); every rule is applied in polars.
Values are kept exact as Int128 thousandths (``*_k`` columns) and handed back as DECIMAL(38,3);
shares and HHIs are Float64.

Entry point: ``compute_all(con, settings=None)`` returns a dict of table name -> DataFrame; the
single-table functions (``import_concentration(con)`` ...) are shortcuts for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb
import polars as pl

EU27 = "EU27"
WORLD = "WORLD"
INTRA_EU_CODES = ("QR", "QV", "QY")  # Comext not-specified codes within intra-EU trade
UNALLOCATED_KINDS = ("unspecified", "confidential", "special")
TARGET_EDITION = "H6"
NLD_CAVEAT = (
    "quasi-transit (Rotterdam effect): Comext counts goods cleared in Dutch ports for other member states "
    "as Dutch extra-EU imports, so NL-level import dependence from Comext is overstated; EU-level results "
    "are not affected"
)

DEFAULTS: dict[str, float | int] = {
    "low_confidence_unallocated_share": 0.10,
    "ec_c1_hhi": 0.4,
    "ec_c2_extra_share": 0.5,
    "ec_c3_import_export_ratio": 1.0,
    "world_g1_hhi": 0.4,
    "world_g2_hhi": 0.4,
    "world_g3_import_export_ratio": 1.0,
    "persistence_min_years": 2,
    "persistence_window_years": 3,
    "min_world_reporters": 50,
    "depends_share": 0.5,
    "depends_top_hhi": 0.4,
}

# the key columns of every table (what compare() joins on)
KEYS: dict[str, list[str]] = {
    "import_concentration": ["source", "reporter", "year", "product_level", "product_code", "partner_scope"],
    "ec_screen": ["source", "reporter", "year", "product_code"],
    "dependence_on_nl": ["source", "importer", "year", "product_code"],
    "dependence_on_eu": ["source", "importer", "year", "product_code"],
    "world_supply_screen": ["source", "importer", "year", "product_code"],
    "trends": ["source", "reporter", "year", "product_code"],
    "look_through_shares": ["source", "importer", "year", "product_code", "ultimate_supplier"],
    "indirect_dependencies": ["source", "importer", "year", "product_code"],
    "supplier_loss": ["source", "importer", "year", "product_code", "supplier"],
    "supplier_loss_by_domain": ["source", "importer", "year", "supplier", "domain"],
}

TABLES = tuple(KEYS)


def settings_dict(settings=None) -> dict[str, float | int]:
    """Thresholds: a dict (e.g. Thresholds().sql_variables()), a Thresholds, or None for the defaults."""
    if settings is None:
        try:
            from pipeline.resources import Thresholds

            settings = Thresholds().sql_variables()
        except Exception:  # pragma: no cover - the oracle must also run without the pipeline package
            settings = {}
    if hasattr(settings, "sql_variables"):
        settings = settings.sql_variables()
    out = dict(DEFAULTS)
    out.update({k: v for k, v in dict(settings).items() if k in DEFAULTS})
    return out


# ---------------------------------------------------------------------------------------------------------
# helpers

def _dec(name: str) -> pl.Expr:
    """Int128 thousandths -> DECIMAL(38,3), exactly."""
    return (pl.col(name).cast(pl.Decimal(38, 3)) * pl.lit(Decimal("0.001"))).cast(pl.Decimal(38, 3))


def _f(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Float64)


def ec_criteria(hhi: str, x_extra: pl.Expr, s: dict) -> dict[str, pl.Expr]:
    """The EC screen's C1-C3 (contract section 6) on the columns screened, extra_eu_import_share and
    import_export_ratio: concentration, importance, and no substitution by exports (none at all: holds)."""
    return {
        "c1_concentration": (pl.col(hhi) > s["ec_c1_hhi"]).fill_null(False),
        "c2_importance": (pl.col("extra_eu_import_share") > s["ec_c2_extra_share"]).fill_null(False),
        "c3_substitutability": pl.when(~pl.col("screened")).then(None).when(x_extra == 0).then(pl.lit(True))
        .otherwise(pl.col("import_export_ratio") > s["ec_c3_import_export_ratio"]),
    }


def ec_dependent(*also: pl.Expr, complete: str = "year_complete") -> pl.Expr:
    """Dependent: screened, C1, C2 and C3, a complete year (12 months; for the bloc all 27 members with 12
    months each; ``complete`` names that column, null counting as complete), and ``also``."""
    verdict = (pl.col("c1_concentration") & pl.col("c2_importance") & pl.col("c3_substitutability")
               & pl.col(complete).fill_null(True))
    for condition in also:
        verdict = verdict & condition
    return pl.when(~pl.col("screened")).then(pl.lit(False)).otherwise(verdict)


def _div(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den as Float64; null when den is 0 or null."""
    return pl.when(den.is_not_null() & (den != 0)).then(_f(num) / _f(den)).otherwise(None)


def _levels(frame: pl.DataFrame) -> pl.DataFrame:
    """One copy of each row per product level it reaches, with product_level / product_code."""
    parts = []
    for level, col in (("HS6", "hs6"), ("HS4", "hs4"), ("HS2", "hs2")):
        parts.append(
            frame.filter(pl.col(col).is_not_null()).with_columns(
                product_level=pl.lit(level), product_code=pl.col(col)
            )
        )
    # a product in several strategic domains counts once in each ("domain" holds them as "a|b")
    parts.append(frame.filter(pl.col("domain").is_not_null()).with_columns(
        product_level=pl.lit("domain"), product_code=pl.col("domain").str.split("|")).explode("product_code"))
    return pl.concat(parts, how="vertical")


@dataclass
class Prepared:
    """Everything the tables are computed from."""

    all_rows: pl.DataFrame  # detail import/export rows, aggregate reporters dropped, before the annual choice
    cells: pl.DataFrame  # selected rows summed per (source, reporter, year, flow, native code, partner)
    units: pl.DataFrame  # cells per reporter and, for the bloc, per member (unit), with roles
    months: pl.DataFrame  # months_covered per (source, reporter, year)
    bloc_meta: pl.DataFrame  # per (source, year): member count / least months, and EU27's own months
    members: list[str]
    releases: list[str]  # bit i of an rbit mask = releases[i]
    settings: dict


def _read(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, ...]:
    flows = con.sql(
        "SELECT * FROM staging.trade_flows WHERE is_detail AND flow IN ('import', 'export')"
    ).pl()
    eu = con.sql("SELECT * FROM reference.eu_members WHERE in_eu27_2020").pl()
    domains = con.sql("SELECT * FROM reference.strategic_domains").pl()
    corr = con.sql("SELECT * FROM reference.hs_correlations").pl()
    return flows, eu, domains, corr


def _to_target_codes(flows: pl.DataFrame, corr: pl.DataFrame) -> pl.DataFrame:
    """(hs_edition, product_code) -> target H6 code, chaining H0->H1->...->H6; raises on a split code."""
    need = (
        flows.filter(pl.col("product_code").is_not_null())
        .select(pl.col("hs_edition").fill_null(TARGET_EDITION), "product_code")
        .unique()
        .with_columns(code=pl.col("product_code"), ed=pl.col("hs_edition"))
    )
    for i in range(6):
        ed, nxt = f"H{i}", f"H{i + 1}"
        here = need.filter(pl.col("ed") == ed)
        if here.height == 0:
            continue
        step = (
            corr.filter((pl.col("from_edition") == ed) & (pl.col("to_edition") == nxt))
            .group_by("from_code")
            .agg(to=pl.col("to_code").unique())
        )
        joined = here.join(step, left_on="code", right_on="from_code", how="left")
        bad = joined.filter(pl.col("to").is_null() | (pl.col("to").list.len() != 1))
        if bad.height:
            sample = bad.select("hs_edition", "product_code", "to").head(10).to_dicts()
            raise ValueError(
                f"oracle: {bad.height} product code(s) do not map 1:1 from {ed} to {nxt} "
                f"(split or unknown; held by tests/test_hs_revisions.py): {sample}"
            )
        moved = joined.with_columns(code=pl.col("to").list.first(), ed=pl.lit(nxt)).drop("to")
        need = pl.concat([need.filter(pl.col("ed") != ed), moved.select(need.columns)])
    bad = need.filter(pl.col("ed") != TARGET_EDITION)
    if bad.height:
        raise ValueError(f"oracle: unknown HS editions {bad['ed'].unique().to_list()}")
    return need.select("hs_edition", "product_code", target=pl.col("code"))


def prepare(con: duckdb.DuckDBPyConnection, settings=None) -> Prepared:
    settings = settings_dict(settings)
    flows, eu, domains, corr = _read(con)
    members = sorted(eu["iso3"].to_list())
    if len(members) != 27:
        raise ValueError(f"oracle: reference.eu_members has {len(members)} EU27_2020 members, not 27")

    # reporters: Comext's EU27_2020 rows are reporter EU27; every other aggregate reporter is dropped
    is_bloc = (pl.col("source") == "comext") & pl.col("reporter").is_in(["EU27_2020", EU27])
    df = (
        flows.with_columns(is_bloc_reporter=is_bloc)
        .filter(pl.col("is_bloc_reporter") | (pl.col("reporter_kind").fill_null("country") != "aggregate"))
        .with_columns(
            reporter=pl.when(pl.col("is_bloc_reporter")).then(pl.lit(EU27)).otherwise(pl.col("reporter")),
            value_k=(pl.col("value") * 1000).cast(pl.Int128),
            hs_edition=pl.col("hs_edition").fill_null(TARGET_EDITION),
        )
    )

    # releases as bits, so that "distinct releases behind a row" is a bitwise OR
    releases = sorted(df["release"].drop_nulls().unique().to_list())
    if len(releases) > 62:
        raise ValueError("oracle: more than 62 distinct releases; widen the release bitmask")
    bit = {r: 1 << i for i, r in enumerate(releases)}
    df = df.with_columns(
        rbit=pl.col("release").replace_strict(bit, default=0, return_dtype=pl.Int64).fill_null(0),
        synthetic=pl.col("synthetic").fill_null(False),
    )

    # product keys: target HS6 code, else the native code; HS4/HS2 from the leading digits; domain
    targets = _to_target_codes(df, corr)
    df = df.join(targets, on=["hs_edition", "product_code"], how="left", nulls_equal=False)
    key = pl.coalesce(pl.col("target"), pl.col("product_code_native"))
    df = df.with_columns(
        hs6=pl.col("target"),
        key=key,
        hs4=pl.when(key.str.slice(0, 4).str.contains(r"^[0-9]{4}$")).then(key.str.slice(0, 4)),
        hs2=pl.when(key.str.slice(0, 2).str.contains(r"^[0-9]{2}$")).then(key.str.slice(0, 2)),
    )
    match = df.select(match=pl.coalesce("hs6", "hs4", "hs2")).drop_nulls().unique()
    dom = (  # every domain one of whose prefixes the code starts with, as one "a|b" key
        match.join(domains.select("hs_prefix", "domain"), how="cross")
        .filter(pl.col("match").str.starts_with(pl.col("hs_prefix")))
        .group_by("match")
        .agg(domain=pl.col("domain").unique().sort().str.join("|"))
    )
    df = df.with_columns(match=pl.coalesce("hs6", "hs4", "hs2")).join(dom, on="match", how="left").drop("match")

    # months covered, per (source, reporter, year), on every detail row
    months = (
        df.group_by("source", "reporter", "year")
        .agg(
            all_annual=(pl.col("freq") == "A").all(),
            n_months=pl.col("month").filter(pl.col("freq") != "A").drop_nulls().n_unique(),
        )
        .with_columns(
            months_covered=pl.when(pl.col("all_annual")).then(pl.lit(12)).otherwise(pl.col("n_months")).cast(pl.Int64)
        )
        .select("source", "reporter", "year", "months_covered")
    )
    member_stats = (
        df.filter(pl.col("reporter").is_in(members))
        .select("source", "reporter", "year")
        .unique()
        .join(months, on=["source", "reporter", "year"])
        .group_by("source", "year")
        .agg(members_n=pl.len().cast(pl.Int64), members_min=pl.col("months_covered").min())
    )
    eu_own = months.filter(pl.col("reporter") == EU27).select("source", "year", eu_own_months="months_covered")
    bloc_meta = member_stats.join(eu_own, on=["source", "year"], how="full", coalesce=True)

    # annual vs monthly per (source, reporter, year, flow, native code)
    k5 = ["source", "reporter", "year", "flow", "product_code_native"]
    df_sel = df.with_columns(has_annual=(pl.col("freq") == "A").any().over(k5)).filter(
        (pl.col("freq") == "A") | ~pl.col("has_annual")
    )
    cells = df_sel.group_by(
        "source", "currency", "reporter", "year", "flow", "product_code_native", "key", "hs6", "hs4", "hs2",
        "domain", "partner", "partner_kind",
    ).agg(v=pl.col("value_k").sum(), rbit=pl.col("rbit").bitwise_or(), syn=pl.col("synthetic").any())

    # units: every reporter as itself; the bloc from EU27 rows where a (source, year, flow, native code) has
    # them, else from the members
    country = cells.filter(pl.col("reporter") != EU27).with_columns(unit=pl.col("reporter"), basis=pl.lit(None, pl.String))
    eu_rows = cells.filter(pl.col("reporter") == EU27)
    eu_keys = eu_rows.select("source", "year", "flow", "product_code_native").unique()
    bloc = pl.concat(
        [
            eu_rows.with_columns(unit=pl.lit(EU27), basis=pl.lit("eu27_rows")),
            cells.filter(pl.col("reporter").is_in(members))
            .join(eu_keys, on=["source", "year", "flow", "product_code_native"], how="anti")
            .with_columns(unit=pl.col("reporter"), basis=pl.lit("members"), reporter=pl.lit(EU27)),
        ],
        how="vertical",
    )
    units = pl.concat([country, bloc.select(country.columns)], how="vertical")

    kind = pl.col("partner_kind")
    is_world = pl.col("partner") == WORLD
    is_self = (kind == "country") & (pl.col("partner") == pl.col("unit"))
    eu_partner = (kind == "country") & pl.col("partner").is_in(members)
    unalloc = kind.is_in(list(UNALLOCATED_KINDS))
    units = units.with_columns(
        is_self=is_self.fill_null(False),
        role_all=pl.when(is_world).then(pl.lit("world"))
        .when(is_self).then(pl.lit("internal"))
        .when(kind == "country").then(pl.lit("supplier"))
        .when(unalloc).then(pl.lit("unallocated")),
        role_extra=pl.when(is_world).then(pl.lit("world"))
        .when(is_self).then(pl.lit("internal"))
        .when(eu_partner).then(pl.lit("internal"))
        .when(kind == "country").then(pl.lit("supplier"))
        .when(unalloc & pl.col("partner").is_in(list(INTRA_EU_CODES))).then(pl.lit("internal"))
        .when(unalloc).then(pl.lit("unallocated")),
        # to a non-EU country, never self: x_extra
        extra_country=(kind == "country") & ~pl.col("partner").is_in(members) & ~is_self.fill_null(False),
    )
    return Prepared(df, cells, units, months, bloc_meta, members, releases, settings)


def _release_text(frame: pl.DataFrame, releases: list[str], rbit: str = "rbit") -> pl.DataFrame:
    """rbit mask -> 'release a; release b' (sorted), synthetic stays as is."""
    masks = [m for m in frame[rbit].unique().to_list() if m is not None]
    text = {m: "; ".join(r for i, r in enumerate(releases) if (m >> i) & 1) or None for m in masks}
    return frame.with_columns(
        release=pl.col(rbit).replace_strict(text, default=None, return_dtype=pl.String)
    ).drop(rbit)


# ---------------------------------------------------------------------------------------------------------
# monitor.import_concentration

def _import_concentration(p: Prepared) -> pl.DataFrame:
    s = p.settings
    imports = p.units.filter(pl.col("flow") == "import")
    scoped = pl.concat(
        [
            imports.filter(pl.col("reporter") != EU27).with_columns(partner_scope=pl.lit("all"), role=pl.col("role_all")),
            imports.filter(pl.col("reporter").is_in(p.members + [EU27])).with_columns(
                partner_scope=pl.lit("extra_eu"), role=pl.col("role_extra")
            ),
        ],
        how="vertical",
    ).filter(pl.col("role").is_not_null())

    # leftover per (source, reporter, unit, year, product key)
    unit_key = ["partner_scope", "source", "currency", "reporter", "unit", "year", "key", "hs6", "hs4", "hs2", "domain"]
    left = (
        scoped.group_by(unit_key)
        .agg(
            w=pl.col("v").filter(pl.col("role") == "world").sum(),
            rows=pl.col("v").filter(pl.col("role") != "world").sum(),
            has_world=(pl.col("role") == "world").any(),
        )
        .with_columns(l=pl.col("w") - pl.col("rows"))
        .with_columns(
            lo_pos=pl.when(pl.col("has_world") & (pl.col("l") > 0)).then(pl.col("l")).otherwise(pl.lit(0, pl.Int128)),
            lo_neg=pl.when(pl.col("has_world") & (pl.col("l") < 0)).then(pl.col("rows") - pl.col("w")).otherwise(pl.lit(0, pl.Int128)),
        )
    )
    g = ["source", "currency", "reporter", "year", "product_level", "product_code", "partner_scope"]
    left_g = _levels(left).group_by(g).agg(
        lo_pos=pl.col("lo_pos").sum(),
        lo_neg=pl.col("lo_neg").sum(),
        world=pl.col("w").filter(pl.col("has_world")).sum(),
        world_missing=(~pl.col("has_world")).any(),
    )

    lv = _levels(scoped)
    base = lv.group_by(g).agg(
        unalloc_codes=pl.col("v").filter(pl.col("role") == "unallocated").sum(),
        internal=pl.col("v").filter(pl.col("role") == "internal").sum(),
        rbit=pl.col("rbit").bitwise_or(),
        synthetic=pl.col("syn").any(),
        has_eu27_rows=(pl.col("basis") == "eu27_rows").any(),
        has_members=(pl.col("basis") == "members").any(),
    )
    sup = (
        lv.filter(pl.col("role") == "supplier")
        .group_by(g + ["partner"])
        .agg(v=pl.col("v").sum())
        .filter(pl.col("v") > 0)
        .group_by(g)
        .agg(
            n_suppliers=pl.len().cast(pl.Int64),
            allocated=pl.col("v").sum(),
            hhi=((_f(pl.col("v")) / _f(pl.col("v").sum())) ** 2).sum(),
            top1_partner=pl.col("partner").sort_by(["v", "partner"], descending=[True, True]).first(),
            top1=pl.col("v").max(),
            top3=pl.col("v").sort(descending=True).head(3).sum(),
        )
    )
    out = base.join(sup, on=g, how="left").join(left_g, on=g, how="left")
    zero = pl.lit(0, pl.Int128)
    out = out.with_columns(
        n_suppliers=pl.col("n_suppliers").fill_null(0),
        allocated=pl.col("allocated").fill_null(zero),
        unallocated=pl.col("unalloc_codes") + pl.col("lo_pos").fill_null(zero),
        partner_rows_above_world=pl.col("lo_neg").fill_null(zero),
        world_value=pl.when(pl.col("world_missing")).then(None).otherwise(pl.col("world")),
    )
    n = pl.col("n_suppliers")
    out = out.with_columns(
        hhi=pl.when(n > 0).then(pl.col("hhi")),
        equivalent_suppliers=pl.when(n > 0).then(1.0 / pl.col("hhi")),
        hhi_normalized=pl.when(n > 1).then((pl.col("hhi") - 1.0 / _f(n)) / (1.0 - 1.0 / _f(n))),
        top1_share=_div(pl.col("top1"), pl.col("allocated")),
        top3_share=_div(pl.col("top3"), pl.col("allocated")),
        unallocated_share=_div(pl.col("unallocated"), pl.col("allocated") + pl.col("unallocated")),
    ).with_columns(low_confidence=pl.col("unallocated_share") > s["low_confidence_unallocated_share"])

    # months and the bloc
    is_bloc = pl.col("reporter") == EU27
    out = out.join(p.months, on=["source", "reporter", "year"], how="left").join(
        p.bloc_meta, on=["source", "year"], how="left"
    )
    basis = (
        pl.when(pl.col("has_eu27_rows") & pl.col("has_members")).then(pl.lit("mixed"))
        .when(pl.col("has_eu27_rows")).then(pl.lit("eu27_rows"))
        .otherwise(pl.lit("members"))
    )
    out = out.with_columns(bloc_basis=pl.when(is_bloc).then(basis))
    out = out.with_columns(
        bloc_members=pl.when(~is_bloc).then(None)
        .when(pl.col("bloc_basis") == "eu27_rows").then(pl.lit(27, pl.Int64))
        .otherwise(pl.col("members_n")),
        bloc_months_min=pl.when(~is_bloc).then(None)
        .when(pl.col("bloc_basis") == "eu27_rows").then(pl.col("eu_own_months"))
        .when(pl.col("bloc_basis") == "mixed").then(pl.min_horizontal("members_min", "eu_own_months"))
        .otherwise(pl.col("members_min")),
    ).with_columns(
        bloc_complete=pl.when(is_bloc).then((pl.col("bloc_members") == 27) & (pl.col("bloc_months_min") == 12)),
        months_covered=pl.when(is_bloc).then(pl.col("bloc_months_min")).otherwise(pl.col("months_covered")),
        # contract section 5, "Incomplete years": a country's year of fewer than 12 months is incomplete
        year_complete=pl.when(is_bloc).then((pl.col("bloc_members") == 27) & (pl.col("bloc_months_min") == 12))
        .otherwise(pl.col("months_covered") == 12),
        caveat=pl.when((pl.col("reporter") == "NLD") & (pl.col("source") == "comext")).then(pl.lit(NLD_CAVEAT)),
    )
    out = _release_text(out.with_columns(_rbit=pl.col("rbit")), p.releases)
    return out.select(
        *g,
        "n_suppliers", "hhi", "equivalent_suppliers", "hhi_normalized", "top1_partner",
        _dec("top1").alias("top1_value"), "top1_share", "top3_share",
        _dec("allocated").alias("allocated_value"), _dec("unallocated").alias("unallocated_value"),
        "unallocated_share", "low_confidence", _dec("internal").alias("internal_value"),
        _dec("world_value"), _dec("partner_rows_above_world"),
        "months_covered", "bloc_members", "bloc_months_min", "bloc_complete", "year_complete", "bloc_basis",
        "release", "synthetic", "caveat",
        # exact copies for the other tables (dropped by compute_all)
        pl.col("allocated").alias("_allocated_k"), pl.col("unallocated").alias("_unallocated_k"),
        pl.col("internal").alias("_internal_k"), pl.col("world_value").alias("_world_k"),
        pl.col("top1").alias("_top1_k"), "_rbit",
    ).sort(g)


# ---------------------------------------------------------------------------------------------------------
# monitor.ec_screen

def _x_extra(p: Prepared, reporters) -> pl.DataFrame:
    """Exports to non-EU countries per (source, reporter, year, hs6): self trade and unallocated codes excluded."""
    return (
        p.units.filter(
            (pl.col("flow") == "export") & pl.col("reporter").is_in(list(reporters)) & pl.col("extra_country")
            & pl.col("hs6").is_not_null()
        )
        .group_by("source", "reporter", "year", "hs6")
        .agg(x_k=pl.col("v").sum(), x_rbit=pl.col("rbit").bitwise_or(), x_syn=pl.col("syn").any())
        .rename({"hs6": "product_code"})
    )


def _ec_screen(p: Prepared, ic: pl.DataFrame) -> pl.DataFrame:
    s = p.settings
    k = ["source", "reporter", "year", "product_code"]
    rows = ic.filter((pl.col("product_level") == "HS6") & (pl.col("partner_scope") == "extra_eu"))
    intra = (
        p.units.filter(
            (pl.col("flow") == "import") & pl.col("reporter").is_in(p.members + [EU27])
            & (pl.col("role_extra") == "internal") & ~pl.col("is_self") & pl.col("hs6").is_not_null()
        )
        .group_by("source", "reporter", "year", "hs6")
        .agg(m_intra_k=pl.col("v").sum())
        .rename({"hs6": "product_code"})
    )
    x = _x_extra(p, p.members + [EU27])
    out = rows.join(intra, on=k, how="left").join(x, on=k, how="left")
    zero = pl.lit(0, pl.Int128)
    out = out.with_columns(
        m_extra_k=pl.col("_allocated_k"),
        m_intra_k=pl.col("m_intra_k").fill_null(zero),
        x_k=pl.col("x_k").fill_null(zero),
    )
    m, mi, xx = pl.col("m_extra_k"), pl.col("m_intra_k"), pl.col("x_k")
    screened = ~((m == 0) & (xx == 0))
    out = out.with_columns(
        extra_eu_import_share=_div(m, m + mi),
        import_export_ratio=_div(m, xx),
        screened=screened,
    ).with_columns(**ec_criteria("hhi", xx, s)).with_columns(dependent=ec_dependent())
    per = ["source", "reporter", "product_code"]
    out = out.with_columns(
        years_flagged=pl.col("dependent").fill_null(False).cast(pl.Int64).sum().over(per),
        years_screened=pl.col("screened").cast(pl.Int64).sum().over(per),
        rbit=pl.col("_rbit") | pl.col("x_rbit").fill_null(0),
        synthetic=pl.col("synthetic") | pl.col("x_syn").fill_null(False),
    )
    out = _release_text(out.drop("release").with_columns(_rbit=pl.col("rbit")), p.releases)
    return out.select(
        *k, "currency",
        _dec("m_extra_k").alias("m_extra"), _dec("m_intra_k").alias("m_intra"), _dec("x_k").alias("x_extra"),
        "extra_eu_import_share", "import_export_ratio",
        pl.col("hhi").alias("hhi_extra"), pl.col("n_suppliers").alias("n_suppliers_extra"),
        pl.col("top1_partner").alias("top_supplier"), pl.col("top1_share").alias("top_supplier_share"),
        pl.col("top1_value").alias("top_supplier_value"),
        "c1_concentration", "c2_importance", "c3_substitutability", "screened", "dependent",
        "years_flagged", "years_screened", "months_covered", "bloc_members", "bloc_months_min", "bloc_complete",
        "year_complete", "caveat", "release", "synthetic", "_rbit",
    ).sort(k)


# ---------------------------------------------------------------------------------------------------------
# monitor.dependence_on_nl / dependence_on_eu

def _dependence(p: Prepared, ic: pl.DataFrame, who: str) -> pl.DataFrame:
    s = p.settings
    if who == "nl":
        supplier_set, excluded = ["NLD"], ["NLD", EU27]
        exports = p.units.filter((pl.col("reporter") == "NLD") & (pl.col("unit") == "NLD"))
    else:
        supplier_set, excluded = p.members, p.members + [EU27]
        exports = p.units.filter(pl.col("reporter") == EU27)
    k = ["source", "importer", "year", "product_code"]

    # partner view: the importer's own import report (its non-aggregate partner rows and World)
    imp = (
        p.units.filter(
            (pl.col("flow") == "import") & (pl.col("reporter") == pl.col("unit"))
            & ~pl.col("reporter").is_in(excluded) & pl.col("role_all").is_not_null() & pl.col("hs6").is_not_null()
        )
        .rename({"reporter": "importer", "hs6": "product_code"})
        .with_columns(from_supplier=(pl.col("partner_kind") == "country") & pl.col("partner").is_in(supplier_set))
    )
    pv = imp.group_by(k).agg(
        imports_k=pl.col("v").filter(pl.col("from_supplier")).sum(),
        has_from=pl.col("from_supplier").any(),
        w=pl.col("v").filter(pl.col("role_all") == "world").sum(),
        has_world=(pl.col("role_all") == "world").any(),
        rows=pl.col("v").filter(pl.col("role_all") != "world").sum(),
        pv_rbit=pl.col("rbit").bitwise_or(),
        pv_syn=pl.col("syn").any(),
    ).with_columns(
        total_k=pl.when(pl.col("has_world")).then(pl.col("w")).otherwise(pl.col("rows")),
        partner_view_available=pl.lit(True),
    )
    merged = (
        imp.filter(pl.col("role_all") == "supplier")
        .with_columns(who=pl.when(pl.col("from_supplier")).then(pl.lit("\x00supplier")).otherwise(pl.col("partner")))
        .group_by(k + ["who"])
        .agg(v=pl.col("v").sum())
        .join(pv.select(k + ["imports_k"]), on=k)
        .group_by(k)
        .agg(larger=(pl.col("v") > pl.col("imports_k")).sum().cast(pl.Int64))
    )
    pv = pv.join(merged, on=k, how="left").with_columns(rank=1 + pl.col("larger").fill_null(0))

    # mirror view: the supplier's exports to the importer
    mv = (
        exports.filter(
            (pl.col("flow") == "export") & (pl.col("partner_kind") == "country") & ~pl.col("is_self")
            & ~pl.col("partner").is_in(excluded) & pl.col("hs6").is_not_null()
        )
        .rename({"partner": "importer", "hs6": "product_code"})
        .group_by(k)
        .agg(x_k=pl.col("v").sum(), mv_rbit=pl.col("rbit").bitwise_or(), mv_syn=pl.col("syn").any())
        .with_columns(mirror_view_available=pl.lit(True))
    )
    # rows: every (importer, product) the importer reports (partner view), and every one the supplier
    # reports exports to (mirror view)
    universe = pl.concat([pv.select(k), mv.select(k)]).unique()
    out = universe.join(pv, on=k, how="left").join(mv, on=k, how="left")
    hhi = ic.filter((pl.col("product_level") == "HS6") & (pl.col("partner_scope") == "all")).select(
        "source", pl.col("reporter").alias("importer"), "year", "product_code", importer_hhi=pl.col("hhi")
    )
    currency = p.cells.select("source", "currency").unique(subset="source")
    out = out.join(hhi, on=k, how="left").join(currency, on="source", how="left")
    # unknown versus zero (contract section 7): where the supplier reports to the source that year (NL has
    # any row; for the EU any member or Comext's EU27_2020 reporter), no export row means 0
    reporting = p.months.filter(pl.col("reporter").is_in(supplier_set + ([EU27] if who == "eu" else [])))
    reporting = reporting.select("source", "year").unique().with_columns(supplier_reports=pl.lit(True))
    out = out.join(reporting, on=["source", "year"], how="left").with_columns(
        x_k=pl.when(pl.col("x_k").is_null() & pl.col("supplier_reports").fill_null(False))
        .then(pl.lit(0, pl.Int128)).otherwise(pl.col("x_k"))
    )
    out = out.join(_world_export_share(p, supplier_set), on=["source", "year", "product_code"], how="left")
    out = out.join(_lt_supplier_share(p, supplier_set), on=k, how="left")
    pva = pl.col("partner_view_available").fill_null(False)
    out = out.with_columns(
        partner_view_available=pva,
        mirror_view_available=pl.col("mirror_view_available").fill_null(False),
        share=_div(pl.col("imports_k"), pl.col("total_k")),
        # a supplier that supplies nothing has no rank among the importer's suppliers, and is not its top one
        rank=pl.when(pva & (pl.col("imports_k") > 0)).then(pl.col("rank")),
        is_top=pl.when(pva).then((pl.col("rank") == 1) & (pl.col("imports_k") > 0)),
        mirror_share=_div(pl.col("x_k"), pl.col("total_k")),
        rbit=pl.col("pv_rbit").fill_null(0) | pl.col("mv_rbit").fill_null(0),
        synthetic=pl.col("pv_syn").fill_null(False) | pl.col("mv_syn").fill_null(False),
    ).with_columns(
        depends=pl.when(pva).then(
            (pl.col("share") >= s["depends_share"])
            | (pl.col("is_top") & (pl.col("importer_hhi") > s["depends_top_hhi"]))
        ),
        # contract section 8: on every row with the partner view and a country supplier (0 when no supplier
        # is, or passes on, the supplier's goods)
        lt_share=pl.when(pva & pl.col("has_country_supplier").fill_null(False))
        .then(pl.col("lt_share").fill_null(0.0)),
    ).with_columns(
        hidden=pl.when(pl.col("lt_share").is_not_null())
        .then(~pl.col("depends") & (pl.col("lt_share") >= s["depends_share"]))
    )
    out = _release_text(out, p.releases)
    return out.select(
        *k, "currency",
        _dec("imports_k").alias(f"imports_from_{who}"), _dec("total_k").alias("importer_total_imports"),
        pl.col("share").alias(f"{who}_share"), pl.col("rank").cast(pl.Int64).alias(f"{who}_rank"),
        pl.col("is_top").alias(f"{who}_is_top_supplier"), "importer_hhi",
        pl.col("depends").alias(f"depends_on_{who}"),
        _dec("x_k").alias(f"{who}_reported_exports"), "mirror_share",
        "partner_view_available", "mirror_view_available",
        pl.when(pl.col("source") == "comtrade").then(pl.col("world_export_share")).alias(f"{who}_world_export_share"),
        pl.col("lt_share").alias(f"lt_{who}_share"), pl.col("hidden").alias(f"hidden_dependence_on_{who}"),
        "release", "synthetic",
    ).sort(k)


def _world_export_share(p: Prepared, supplier_set: list[str]) -> pl.DataFrame:
    """The supplier's (members summed) share of world exports per (year, HS6), Comtrade country exporters
    with a positive own total; 0 where world exports are known and the supplier exports none."""
    exporters = _own_totals(p, "export").filter((pl.col("source") == "comtrade") & (pl.col("total_k") > 0))
    return (
        exporters.group_by("source", "year", "product_code")
        .agg(
            world_k=pl.col("total_k").sum(),
            supplier_k=pl.col("total_k").filter(pl.col("reporter").is_in(supplier_set)).sum(),
        )
        .select("source", "year", "product_code", world_export_share=_div(pl.col("supplier_k"), pl.col("world_k")))
    )


def _intermediaries(p: Prepared, direct: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every country reporter k as an intermediary: pass_k (with the rows behind it) and its own supplier
    shares s(k<-u) (scope all), keyed (source, k, year, product_code)."""
    m = _own_totals(p, "import").rename({"reporter": "k", "total_k": "m_k", "rbit": "m_rbit", "syn": "m_syn"})
    x = _own_totals(p, "export").rename({"reporter": "k", "total_k": "x_k", "rbit": "x_rbit", "syn": "x_syn"})
    k_sup = direct.filter(pl.col("importer") != EU27).select(
        "source", pl.col("importer").alias("k"), "year", "product_code", pl.col("partner").alias("u"),
        pl.col("s").alias("s_ku"),
    )
    has_sup = k_sup.select("source", "k", "year", "product_code").unique().with_columns(has_sup=pl.lit(True))
    kk = ["source", "k", "year", "product_code"]
    inter = (
        m.join(x, on=kk, how="full", coalesce=True)
        .join(has_sup, on=kk, how="left")
        .with_columns(
            m_k=pl.col("m_k").fill_null(pl.lit(0, pl.Int128)),
            x_k=pl.col("x_k").fill_null(pl.lit(0, pl.Int128)),
            has_sup=pl.col("has_sup").fill_null(False),
        )
        .with_columns(
            pass_k=pl.when((pl.col("m_k") > 0) & pl.col("has_sup"))
            .then(_f(pl.col("m_k")) / _f(pl.max_horizontal("x_k", "m_k")))
            .otherwise(pl.lit(0.0)),
            k_rbit=pl.col("m_rbit").fill_null(0) | pl.col("x_rbit").fill_null(0),
            k_syn=pl.col("m_syn").fill_null(False) | pl.col("x_syn").fill_null(False),
        )
        .select(*kk, "pass_k", "k_rbit", "k_syn")
    )
    return inter, k_sup


def _lt_supplier_share(p: Prepared, supplier_set: list[str]) -> pl.DataFrame:
    """Contract section 8: the supplier's own look-through share for every country importer and product
    with a country supplier, summed over the suppliers in ``supplier_set`` (NL alone, or the 27 members):
    sum over direct suppliers k of s(r<-k) * ([k in set] * (1 - pass_k) + pass_k * sum_{u in set} s(k<-u)).
    ``has_country_supplier`` marks the (importer, product) keys where it is defined."""
    k = ["source", "importer", "year", "product_code"]
    direct = _shares(_supplier_rows(p))
    inter, k_sup = _intermediaries(p, direct)
    kk = ["source", "k", "year", "product_code"]
    from_set = (
        k_sup.filter(pl.col("u").is_in(supplier_set)).group_by(kk).agg(from_set=pl.col("s_ku").sum())
    )
    weight = (
        inter.join(from_set, on=kk, how="full", coalesce=True)
        .with_columns(pass_k=pl.col("pass_k").fill_null(0.0), from_set=pl.col("from_set").fill_null(0.0))
        .with_columns(w=pl.col("pass_k") * pl.col("from_set"))
        .select(*kk, "pass_k", "w")
    )
    rows = (
        direct.filter(pl.col("importer") != EU27)
        .join(weight, left_on=["source", "partner", "year", "product_code"], right_on=kk, how="left")
        .with_columns(pass_k=pl.col("pass_k").fill_null(0.0), w=pl.col("w").fill_null(0.0))
        .with_columns(
            w=pl.col("w") + pl.when(pl.col("partner").is_in(supplier_set)).then(1.0 - pl.col("pass_k")).otherwise(0.0)
        )
    )
    return rows.group_by(k).agg(
        lt_share=(pl.col("s") * pl.col("w")).sum(), has_country_supplier=pl.lit(True)
    )


# ---------------------------------------------------------------------------------------------------------
# monitor.world_supply_screen

def importer_hs6_rows(ic: pl.DataFrame, source: str) -> pl.DataFrame:
    """The importers' HS6 concentration rows of one source, as the world-level screens read them: a country on
    all its partners, the EU27 bloc on its extra-EU partners; ``reporter`` renamed ``importer``."""
    return ic.filter(
        (pl.col("source") == source) & (pl.col("product_level") == "HS6")
        & (((pl.col("reporter") != EU27) & (pl.col("partner_scope") == "all"))
           | ((pl.col("reporter") == EU27) & (pl.col("partner_scope") == "extra_eu")))
    ).rename({"reporter": "importer"})


def _world_supply_screen(p: Prepared, ic: pl.DataFrame) -> pl.DataFrame:
    s = p.settings
    src = "comtrade"
    reporters_in_year = (
        p.all_rows.filter((pl.col("source") == src) & (pl.col("reporter") != EU27))
        .group_by("year")
        .agg(reporters_in_year=pl.col("reporter").n_unique().cast(pl.Int64))
    )
    exp = p.units.filter(
        (pl.col("source") == src) & (pl.col("flow") == "export") & (pl.col("reporter") == pl.col("unit"))
        & (pl.col("reporter") != EU27) & pl.col("role_all").is_not_null() & pl.col("hs6").is_not_null()
    )
    # each country's exports of a product: its World row, else the sum of its non-aggregate partner rows
    per_exporter = exp.group_by("reporter", "year", "hs6").agg(
        w=pl.col("v").filter(pl.col("role_all") == "world").sum(),
        has_world=(pl.col("role_all") == "world").any(),
        rows=pl.col("v").filter(pl.col("role_all") != "world").sum(),
        e_rbit=pl.col("rbit").bitwise_or(),
        e_syn=pl.col("syn").any(),
    ).with_columns(exports_k=pl.when(pl.col("has_world")).then(pl.col("w")).otherwise(pl.col("rows")))
    world = (
        per_exporter.filter(pl.col("exports_k") > 0)
        .group_by("year", "hs6")
        .agg(
            hhi_we=((_f(pl.col("exports_k")) / _f(pl.col("exports_k").sum())) ** 2).sum(),
            w_rbit=pl.col("e_rbit").bitwise_or(),
            w_syn=pl.col("e_syn").any(),
        )
        .rename({"hs6": "product_code"})
    )
    bloc_x = _x_extra(p, [EU27]).filter(pl.col("source") == src).select(
        pl.col("reporter").alias("importer"), "year", "product_code", exports_k="x_k", e_rbit="x_rbit", e_syn="x_syn"
    )
    country_x = per_exporter.select(
        pl.col("reporter").alias("importer"), "year", pl.col("hs6").alias("product_code"), "exports_k", "e_rbit", "e_syn"
    )
    exports = pl.concat([country_x, bloc_x], how="vertical")

    k = ["source", "importer", "year", "product_code"]
    rows = importer_hs6_rows(ic, src)
    out = (
        rows.join(exports, on=["importer", "year", "product_code"], how="left")
        .join(world, on=["year", "product_code"], how="left")
        .join(reporters_in_year, on="year", how="left")
    )
    zero = pl.lit(0, pl.Int128)
    out = out.with_columns(
        reporters_in_year=pl.col("reporters_in_year").fill_null(0),
        imports_k=pl.when(pl.col("importer") == EU27).then(pl.col("_allocated_k")).otherwise(
            pl.coalesce(pl.col("_world_k"), pl.col("_allocated_k") + pl.col("_unallocated_k") + pl.col("_internal_k"))
        ),
        exports_k=pl.col("exports_k").fill_null(zero),
    ).with_columns(world_covered=pl.col("reporters_in_year") >= s["min_world_reporters"])
    out = out.with_columns(
        hhi_world_exports=pl.when(pl.col("world_covered")).then(pl.col("hhi_we")),
        import_export_ratio=_div(pl.col("imports_k"), pl.col("exports_k")),
    ).with_columns(
        g1_importer_concentration=pl.col("hhi") > s["world_g1_hhi"],
        g2_world_concentration=pl.col("hhi_world_exports") > s["world_g2_hhi"],
        g3_net_importer=(pl.col("imports_k") > 0)
        & ((pl.col("exports_k") == 0) | (pl.col("import_export_ratio") > s["world_g3_import_export_ratio"]).fill_null(False)),
    ).with_columns(
        # an incomplete year (a partial bloc, a country's year of fewer than 12 months) is never flagged
        flagged=pl.when(~pl.col("year_complete")).then(pl.lit(False))
        .otherwise(pl.col("g1_importer_concentration") & pl.col("g2_world_concentration") & pl.col("g3_net_importer"))
    )
    # persistent: flagged in >= min of the calendar years t-w+1 .. t (a missing year does not hold)
    window, need = int(s["persistence_window_years"]), int(s["persistence_min_years"])
    flags = out.select("importer", "product_code", "year", f=pl.col("flagged").fill_null(False))
    count = pl.lit(0, pl.Int64)
    for d in range(window):  # one join per year of the window, not per row
        shifted = flags.with_columns(year=pl.col("year") + d).rename({"f": f"f{d}"})
        out = out.join(shifted, on=["importer", "product_code", "year"], how="left")
        count = count + pl.col(f"f{d}").fill_null(False).cast(pl.Int64)
    out = out.with_columns(years_flagged_in_window=count).with_columns(
        persistent=pl.when(pl.col("flagged").is_null()).then(None).otherwise(pl.col("years_flagged_in_window") >= need)
    )
    out = out.with_columns(
        rbit=pl.col("_rbit") | pl.col("e_rbit").fill_null(0)
        | pl.when(pl.col("hhi_world_exports").is_not_null()).then(pl.col("w_rbit")).otherwise(0),
        synthetic=pl.col("synthetic") | pl.col("e_syn").fill_null(False)
        | (pl.col("hhi_world_exports").is_not_null() & pl.col("w_syn").fill_null(False)),
    )
    out = _release_text(out.drop("release"), p.releases)
    return out.select(
        *k, "currency",
        pl.col("hhi").alias("importer_hhi"), _dec("imports_k").alias("imports"), _dec("exports_k").alias("exports"),
        "import_export_ratio", "reporters_in_year", "world_covered", "hhi_world_exports",
        "g1_importer_concentration", "g2_world_concentration", "g3_net_importer", "flagged", "persistent",
        "months_covered", "bloc_members", "bloc_months_min", "bloc_complete", "year_complete", "release", "synthetic",
    ).sort(k)


# ---------------------------------------------------------------------------------------------------------
# monitor.trends

def _trends(p: Prepared, ec: pl.DataFrame) -> pl.DataFrame:
    k = ["source", "reporter", "year", "product_code"]
    cur = ec.select(*k, "currency", "hhi_extra", "top_supplier", "dependent", "_rbit", "synthetic").with_columns(
        has_now=pl.lit(True)
    )
    prev = ec.select(
        "source", "reporter", (pl.col("year") + 1).alias("year"), "product_code",
        pl.col("currency").alias("currency_prev"),
        pl.col("hhi_extra").alias("hhi_extra_previous"), pl.col("top_supplier").alias("top_supplier_previous"),
        pl.col("dependent").alias("dependent_previous"), pl.col("_rbit").alias("rbit_prev"),
        pl.col("synthetic").alias("synthetic_prev"),
    ).with_columns(has_prev=pl.lit(True))
    reporter_years = ec.select("source", "reporter", "year").unique()
    had_prev_year = reporter_years.with_columns(year=pl.col("year") + 1, reporter_had_prev=pl.lit(True))
    # rows: every ec_screen row, plus the products of the year before that have no row now
    # (for a reporter that has ec_screen rows that year)
    gone = (
        prev.join(cur.select(k), on=k, how="anti")
        .join(reporter_years, on=["source", "reporter", "year"], how="semi")
        .select(k)
    )
    keys = pl.concat([cur.select(k), gone])
    out = (
        keys.join(cur, on=k, how="left")
        .join(prev, on=k, how="left")
        .join(had_prev_year, on=["source", "reporter", "year"], how="left")
        .with_columns(
            has_now=pl.col("has_now").fill_null(False),
            reporter_had_prev=pl.col("reporter_had_prev").fill_null(False),
        )
    )
    dep, dep_prev = pl.col("dependent").fill_null(False), pl.col("dependent_previous").fill_null(False)
    out = out.with_columns(
        currency=pl.coalesce("currency", "currency_prev"),
        hhi_extra_change=pl.col("hhi_extra") - pl.col("hhi_extra_previous"),
        top_supplier_changed=pl.col("top_supplier") != pl.col("top_supplier_previous"),
        dependency_status=pl.when(~pl.col("reporter_had_prev")).then(pl.lit("no_previous_year"))
        .when(~pl.col("has_now") & dep_prev).then(pl.lit("no_data"))
        .when(dep & dep_prev).then(pl.lit("continuing"))
        .when(dep).then(pl.lit("new"))
        .when(dep_prev).then(pl.lit("dropped"))
        .otherwise(pl.lit("none")),
        rbit=pl.col("_rbit").fill_null(0) | pl.col("rbit_prev").fill_null(0),
        synthetic=pl.col("synthetic").fill_null(False) | pl.col("synthetic_prev").fill_null(False),
    )
    out = _release_text(out, p.releases)
    return out.select(
        *k, "currency", "hhi_extra", "hhi_extra_previous", "hhi_extra_change", "top_supplier",
        "top_supplier_previous", "top_supplier_changed", "dependent", "dependent_previous", "dependency_status",
        "release", "synthetic",
    ).sort(k)


# ---------------------------------------------------------------------------------------------------------
# methodology section 8: look-through shares, indirect dependencies, supplier loss

def _supplier_rows(p: Prepared) -> pl.DataFrame:
    """Every importer's country-supplier import rows per (source, importer, year, HS6, supplier), summed.

    Country reporters: partners in role supplier of scope all (self excluded); EU27: extra-EU country
    partners. Zero and negative sums are kept (``v``); shares use the positive ones only.
    """
    imp = p.units.filter((pl.col("flow") == "import") & pl.col("hs6").is_not_null())
    rows = pl.concat(
        [
            imp.filter((pl.col("reporter") != EU27) & (pl.col("role_all") == "supplier")),
            imp.filter((pl.col("reporter") == EU27) & (pl.col("role_extra") == "supplier")),
        ],
        how="vertical",
    )
    return (
        rows.group_by("source", "currency", "reporter", "year", "hs6", "partner")
        .agg(v=pl.col("v").sum(), rbit=pl.col("rbit").bitwise_or(), syn=pl.col("syn").any())
        .rename({"reporter": "importer", "hs6": "product_code"})
    )


def _shares(sup: pl.DataFrame) -> pl.DataFrame:
    """Positive suppliers only, with s = v / (sum of the positive v) per (source, importer, year, product)."""
    k = ["source", "importer", "year", "product_code"]
    pos = sup.filter(pl.col("v") > 0)
    return pos.with_columns(total_k=pl.col("v").sum().over(k)).with_columns(s=_div(pl.col("v"), pl.col("total_k")))


def _own_totals(p: Prepared, flow: str) -> pl.DataFrame:
    """A country reporter's own total of a product: its World row, else the sum of its non-aggregate partner rows."""
    rows = p.units.filter(
        (pl.col("flow") == flow) & (pl.col("reporter") != EU27) & (pl.col("reporter") == pl.col("unit"))
        & pl.col("role_all").is_not_null() & pl.col("hs6").is_not_null()
    )
    return (
        rows.group_by("source", "reporter", "year", "hs6")
        .agg(
            w=pl.col("v").filter(pl.col("role_all") == "world").sum(),
            has_world=(pl.col("role_all") == "world").any(),
            rest=pl.col("v").filter(pl.col("role_all") != "world").sum(),
            rbit=pl.col("rbit").bitwise_or(),
            syn=pl.col("syn").any(),
        )
        .with_columns(total_k=pl.when(pl.col("has_world")).then(pl.col("w")).otherwise(pl.col("rest")))
        .rename({"hs6": "product_code"})
        .select("source", "reporter", "year", "product_code", "total_k", "rbit", "syn")
    )


def _look_through_shares(p: Prepared, dependence_on_nl: pl.DataFrame, dependence_on_eu: pl.DataFrame) -> pl.DataFrame:
    k = ["source", "importer", "year", "product_code"]
    sup = _supplier_rows(p)
    direct = _shares(sup)
    # the importers looked through: NLD and EU27 on every product, a third country where it depends on NL or
    # on the EU, openly (depends_on_*) or hidden (hidden_dependence_on_*)
    scope = pl.concat([
        direct.filter(pl.col("importer").is_in(["NLD", EU27])).select(k),
        *[dep.filter(pl.col(f"depends_on_{w}").fill_null(False) | pl.col(f"hidden_dependence_on_{w}").fill_null(False))
          .select(k) for w, dep in (("nl", dependence_on_nl), ("eu", dependence_on_eu))],
    ]).unique()

    # every country reporter as a possible intermediary k: M_k, X_k, its own supplier shares, pass_k
    inter, k_sup = _intermediaries(p, direct)
    kk = ["source", "k", "year", "product_code"]

    d = direct.join(scope, on=k, how="semi")
    d = d.join(inter, left_on=["source", "partner", "year", "product_code"], right_on=kk, how="left").with_columns(
        pass_k=pl.col("pass_k").fill_null(0.0)
    )
    # each term carries the rows behind it: what u keeps, the importer's rows from u and (when u passes
    # something on) u's own rows; what k passes on from u, k's rows
    used = pl.col("pass_k") > 0
    kept = d.select(
        *k, "currency", u=pl.col("partner"), contrib=pl.col("s") * (1.0 - pl.col("pass_k")), direct=pl.col("s"),
        direct_k=pl.col("v"),
        t_rbit=pl.col("rbit") | pl.when(used).then(pl.col("k_rbit")).otherwise(0).fill_null(0),
        t_syn=pl.col("syn") | (used & pl.col("k_syn")).fill_null(False),
    )
    passed = (
        d.filter(pl.col("pass_k") > 0)
        .join(k_sup, left_on=["source", "partner", "year", "product_code"], right_on=kk, how="inner")
        .select(
            *k, "currency", "u", contrib=pl.col("s") * pl.col("pass_k") * pl.col("s_ku"), direct=pl.lit(0.0),
            direct_k=pl.lit(0, pl.Int128), t_rbit=pl.col("k_rbit"), t_syn=pl.col("k_syn"),
        )
    )
    terms = pl.concat([kept, passed], how="vertical").with_columns(
        ultimate_supplier=pl.when(pl.col("u") == pl.col("importer")).then(pl.col("importer"))
        .when((pl.col("importer") == EU27) & pl.col("u").is_in(p.members)).then(pl.lit(EU27))
        .otherwise(pl.col("u"))
    )
    out = terms.group_by(*k, "currency", "ultimate_supplier").agg(
        look_through_share=pl.col("contrib").sum(),
        direct_share=pl.col("direct").sum(),
        _direct_k=pl.col("direct_k").sum(),
        t_rbit=pl.col("t_rbit").bitwise_or(),
        t_syn=pl.col("t_syn").any(),
    ).with_columns(hidden_share=pl.col("look_through_share") - pl.col("direct_share"))

    # release / synthetic, per row: the importer's supplier rows from u (a zero row included), and the rows
    # of every intermediary used for u (pass > 0): u itself for what it keeps, each k that passes u on.
    # CONTRACT.md ("the importer's supplier rows and every used intermediary's rows") also reads per
    # (importer, product); the SQL reads it per row like this.
    own = sup.select(*k, ultimate_supplier="partner", o_rbit="rbit", o_syn="syn")
    out = out.join(own, on=k + ["ultimate_supplier"], how="left").with_columns(
        rbit=pl.col("t_rbit") | pl.col("o_rbit").fill_null(0),
        synthetic=pl.col("t_syn") | pl.col("o_syn").fill_null(False),
    )
    out = _release_text(out, p.releases)
    return out.select(
        *k, "ultimate_supplier", "currency", "look_through_share", "direct_share", "hidden_share",
        "release", "synthetic", "_direct_k",
    ).sort(k + ["ultimate_supplier"])


def _indirect_dependencies(p: Prepared, lt: pl.DataFrame) -> pl.DataFrame:
    thr = float(p.settings["ec_c1_hhi"])
    k = ["source", "importer", "year", "product_code"]
    out = lt.group_by(k).agg(
        currency=pl.col("currency").first(),
        direct_hhi=(pl.col("direct_share") ** 2).sum(),
        look_through_hhi=(pl.col("look_through_share") ** 2).sum(),
    )
    # top direct supplier: the largest direct value (exact), ties to the highest code
    top_direct = (
        lt.filter(pl.col("_direct_k") > 0)
        .sort(k + ["_direct_k", "ultimate_supplier"], descending=[False] * len(k) + [True, True])
        .group_by(k, maintain_order=True)
        .first()
        .select(*k, top_direct_supplier="ultimate_supplier", top_direct_share="direct_share")
    )
    # top ultimate supplier: ties are look-through shares equal to 1e-12 (two implementations' float sums
    # differ in the last bits), then the highest code
    top_ultimate = (
        lt.with_columns(_r=pl.col("look_through_share").round(12))
        .sort(k + ["_r", "ultimate_supplier"], descending=[False] * len(k) + [True, True])
        .group_by(k, maintain_order=True)
        .first()
        .select(*k, top_ultimate_supplier="ultimate_supplier", top_ultimate_share="look_through_share")
    )
    out = (
        out.join(top_direct, on=k, how="left")
        .join(top_ultimate, on=k, how="left")
        .with_columns(hhi_threshold=pl.lit(thr, pl.Float64))
        .with_columns(hidden_dependency=(pl.col("look_through_hhi") > thr) & ~(pl.col("direct_hhi") > thr))
    )
    return out.select(
        *k, "currency", "direct_hhi", "look_through_hhi", "top_direct_supplier", "top_direct_share",
        "top_ultimate_supplier", "top_ultimate_share", "hhi_threshold", "hidden_dependency",
    ).sort(k)


def _supplier_loss(p: Prepared) -> pl.DataFrame:
    src = "comtrade"
    k = ["source", "importer", "year", "product_code"]
    sup = _supplier_rows(p).filter((pl.col("source") == src) & pl.col("importer").is_in(["NLD", EU27]))
    # rank: 1 = largest, ties to the highest code
    d = _shares(sup).sort(k + ["v", "partner"], descending=[False] * len(k) + [True, True]).with_columns(
        supplier_rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(k)
    )

    # exporters: Comtrade country reporters with a positive own (World, else partner-row) export total
    exporters = _own_totals(p, "export").filter((pl.col("source") == src) & (pl.col("total_k") > 0)).select(
        "year", "product_code", e=pl.col("reporter"), x_e="total_k"
    )
    world = exporters.group_by("year", "product_code").agg(world_k=pl.col("x_e").sum())
    to_imp = p.units.filter(
        (pl.col("source") == src) & (pl.col("flow") == "export") & (pl.col("reporter") != EU27)
        & (pl.col("reporter") == pl.col("unit")) & (pl.col("partner_kind") == "country") & pl.col("hs6").is_not_null()
    )
    to_nld = to_imp.filter(pl.col("partner") == "NLD").with_columns(importer=pl.lit("NLD"))
    to_eu = to_imp.filter(pl.col("partner").is_in(p.members)).with_columns(importer=pl.lit(EU27))
    x_er = (
        pl.concat([to_nld, to_eu], how="vertical")
        .group_by("importer", "year", "hs6", "reporter")
        .agg(x_er=pl.col("v").sum())
        .rename({"hs6": "product_code", "reporter": "e"})
    )
    importers = d.select("importer", "year", "product_code").unique()
    cap = (
        importers.join(exporters, on=["year", "product_code"], how="inner")
        .filter(
            (pl.col("e") != pl.col("importer"))
            & ~((pl.col("importer") == EU27) & pl.col("e").is_in(p.members))
        )
        .join(x_er, on=["importer", "year", "product_code", "e"], how="left")
        .with_columns(cap=pl.col("x_e") - pl.min_horizontal(pl.col("x_er").fill_null(pl.lit(0, pl.Int128)), pl.col("x_e")))
    )
    cap_all = cap.group_by("importer", "year", "product_code").agg(cap_all=pl.col("cap").sum())
    cap_u = cap.select("importer", "year", "product_code", partner="e", cap_u="cap")
    zero = pl.lit(0, pl.Int128)
    out = (
        d.join(cap_all, on=["importer", "year", "product_code"], how="left")
        .join(cap_u, on=["importer", "year", "product_code", "partner"], how="left")
        .join(exporters.rename({"e": "partner", "x_e": "x_u"}), on=["year", "product_code", "partner"], how="left")
        .join(world, on=["year", "product_code"], how="left")
        .with_columns(spare_k=pl.col("cap_all").fill_null(zero) - pl.col("cap_u").fill_null(zero))
        .with_columns(
            share_at_risk=pl.col("s"),
            coverage=_div(pl.col("spare_k"), pl.col("v")),
            supplier_world_export_share=_div(pl.col("x_u"), pl.col("world_k")),
        )
        .with_columns(
            # SQL's three-valued OR: null share (u reports no exports) and coverage >= 1 -> null
            single_point_of_failure=(pl.col("supplier_world_export_share") > 0.5).fill_null(False)
            | (pl.col("coverage") < 1.0),
            synthetic=pl.col("syn"),
        )
    )
    out = _release_text(out, p.releases)  # not in the contract: the importer's rows from u
    return out.select(
        *k, pl.col("partner").alias("supplier"), "currency",
        _dec("v").alias("value_at_risk"), "share_at_risk", "supplier_rank", _dec("spare_k").alias("spare_capacity"),
        "coverage", "supplier_world_export_share", "single_point_of_failure", "release", "synthetic",
        pl.col("v").alias("_v"),
    ).sort(k + ["supplier"])


def _supplier_loss_by_domain(p: Prepared, loss: pl.DataFrame) -> pl.DataFrame:
    dom = (p.all_rows.filter(pl.col("hs6").is_not_null()).select(product_code="hs6", domain=pl.col("domain").str.split("|"))
           .unique().explode("domain"))
    rows = loss.join(dom, on="product_code", how="left")
    both = pl.concat(
        [rows.filter(pl.col("domain").is_not_null()), loss.with_columns(domain=pl.lit("all_products"))],
        how="vertical",
    )
    g = ["source", "importer", "year", "supplier", "domain"]
    out = both.group_by(g).agg(
        currency=pl.col("currency").first(),
        value_k=pl.col("_v").sum(),
        products_at_risk=pl.len().cast(pl.Int64),
        single_points_of_failure=pl.col("single_point_of_failure").fill_null(False).cast(pl.Int64).sum(),
        products_as_top_supplier=(pl.col("supplier_rank") == 1).cast(pl.Int64).sum(),
    )
    return out.select(
        *g, "currency", _dec("value_k").alias("value_at_risk"), "products_at_risk", "single_points_of_failure",
        "products_as_top_supplier",
    ).sort(g)


# ---------------------------------------------------------------------------------------------------------
# entry points

def compute_all(con: duckdb.DuckDBPyConnection, settings=None) -> dict[str, pl.DataFrame]:
    p = prepare(con, settings)
    ic_full = _import_concentration(p)
    ec = _ec_screen(p, ic_full)
    out = {
        "import_concentration": ic_full,
        "ec_screen": ec,
        "dependence_on_nl": _dependence(p, ic_full, "nl"),
        "dependence_on_eu": _dependence(p, ic_full, "eu"),
        "world_supply_screen": _world_supply_screen(p, ic_full),
        "trends": _trends(p, ec),
    }
    lt = _look_through_shares(p, out["dependence_on_nl"], out["dependence_on_eu"])
    out["look_through_shares"] = lt
    out["indirect_dependencies"] = _indirect_dependencies(p, lt)
    loss = _supplier_loss(p)
    out["supplier_loss"] = loss
    out["supplier_loss_by_domain"] = _supplier_loss_by_domain(p, loss)
    return {name: df.drop([c for c in df.columns if c.startswith("_")]) for name, df in out.items()}


def import_concentration(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["import_concentration"]


def ec_screen(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["ec_screen"]


def dependence_on_nl(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["dependence_on_nl"]


def dependence_on_eu(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["dependence_on_eu"]


def world_supply_screen(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["world_supply_screen"]


def trends(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["trends"]


def look_through_shares(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["look_through_shares"]


def indirect_dependencies(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["indirect_dependencies"]


def supplier_loss(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["supplier_loss"]


def supplier_loss_by_domain(con, settings=None) -> pl.DataFrame:
    return compute_all(con, settings)["supplier_loss_by_domain"]
