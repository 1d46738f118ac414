"""Row-by-row comparison of an oracle table with the SQL model's table.

``compare(oracle_df, sql_df, keys, table)`` joins on the key columns and lists every disagreement:
missing and extra rows, duplicate keys, decimals that are not exactly equal, floats more than 1e-9
apart, booleans / strings / integers that differ, nulls on one side only. Only the columns CONTRACT.md
names for the table are compared; a contract column absent from the SQL output is a failure of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

FLOAT_TOLERANCE = 1e-9
SHOW = 20

# the output columns CONTRACT.md names for each table (keys excluded)
CONTRACT_COLUMNS: dict[str, list[str]] = {
    "import_concentration": [
        "n_suppliers", "hhi", "equivalent_suppliers", "hhi_normalized", "top1_partner", "top1_value",
        "top1_share", "top3_share", "allocated_value", "unallocated_value", "unallocated_share",
        "low_confidence", "internal_value", "world_value", "partner_rows_above_world", "months_covered",
        "bloc_members", "bloc_months_min", "bloc_complete", "year_complete", "bloc_basis", "release", "synthetic",
        "caveat",
    ],
    "ec_screen": [
        "m_extra", "m_intra", "x_extra", "extra_eu_import_share", "import_export_ratio", "hhi_extra",
        "n_suppliers_extra", "top_supplier", "top_supplier_share", "top_supplier_value", "c1_concentration",
        "c2_importance", "c3_substitutability", "screened", "dependent", "years_flagged", "years_screened",
        "months_covered", "bloc_members", "bloc_months_min", "bloc_complete", "year_complete", "caveat", "release",
        "synthetic",
    ],
    "dependence_on_nl": [
        "imports_from_nl", "importer_total_imports", "nl_share", "nl_rank", "nl_is_top_supplier",
        "importer_hhi", "nl_reported_exports", "mirror_share", "partner_view_available",
        "mirror_view_available", "depends_on_nl", "nl_world_export_share", "lt_nl_share",
        "hidden_dependence_on_nl", "release", "synthetic",
    ],
    "dependence_on_eu": [
        "imports_from_eu", "importer_total_imports", "eu_share", "eu_rank", "eu_is_top_supplier",
        "importer_hhi", "eu_reported_exports", "mirror_share", "partner_view_available",
        "mirror_view_available", "depends_on_eu", "eu_world_export_share", "lt_eu_share",
        "hidden_dependence_on_eu", "release", "synthetic",
    ],
    "world_supply_screen": [
        "importer_hhi", "imports", "exports", "reporters_in_year", "world_covered", "hhi_world_exports",
        "g1_importer_concentration", "g2_world_concentration", "g3_net_importer", "flagged", "persistent",
        "months_covered", "bloc_members", "bloc_months_min", "bloc_complete", "year_complete", "release", "synthetic",
    ],
    "trends": [
        "hhi_extra_previous", "hhi_extra_change", "top_supplier_previous", "top_supplier_changed",
        "dependent", "dependent_previous", "dependency_status", "currency", "release", "synthetic",
    ],
    # methodology section 8 (`via` is named but not compared: its wording is presentation)
    "look_through_shares": ["look_through_share", "direct_share", "hidden_share", "release", "synthetic"],
    "indirect_dependencies": [
        "direct_hhi", "look_through_hhi", "top_direct_supplier", "top_direct_share", "top_ultimate_supplier",
        "top_ultimate_share", "hhi_threshold", "hidden_dependency",
    ],
    "supplier_loss": [
        "value_at_risk", "share_at_risk", "supplier_rank", "spare_capacity", "coverage",
        "supplier_world_export_share", "single_point_of_failure",
    ],
    "supplier_loss_by_domain": [
        "value_at_risk", "products_at_risk", "single_points_of_failure", "products_as_top_supplier",
    ],
    # methodology section 8, rolling 12 months (tests/oracle/rolling.py)
    "ec_screen_rolling": [
        "currency", "year", "period_start", "months_in_window", "window_complete", "m_extra", "m_intra", "x_extra",
        "extra_eu_import_share", "import_export_ratio", "hhi_extra", "n_suppliers_extra", "top_supplier",
        "top_supplier_share", "top_supplier_value", "c1_threshold", "c2_threshold", "c3_threshold",
        "c1_concentration", "c2_importance", "c3_substitutability", "screened", "dependent", "bloc_members",
        "bloc_months_min", "bloc_complete", "caveat", "release", "synthetic",
    ],
}

# compared on their meaning, not their wording: CONTRACT.md fixes only how the sentence starts
PREFIX_COLUMNS = {"caveat": "quasi-transit"}


@dataclass
class Comparison:
    table: str
    oracle_rows: int
    sql_rows: int
    problems: list[str] = field(default_factory=list)  # structural: missing columns, duplicate keys
    missing_rows: int = 0  # in the oracle, not in SQL
    extra_rows: int = 0  # in SQL, not in the oracle
    column_diffs: dict[str, int] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.missing_rows and not self.extra_rows and not self.column_diffs

    def summary(self) -> str:
        if self.ok:
            return f"{self.table}: OK ({self.oracle_rows} rows)"
        parts = [f"{self.table}: oracle {self.oracle_rows} rows, sql {self.sql_rows} rows"]
        parts += [f"  !! {p}" for p in self.problems]
        if self.missing_rows:
            parts.append(f"  rows in oracle but not in sql: {self.missing_rows}")
        if self.extra_rows:
            parts.append(f"  rows in sql but not in oracle: {self.extra_rows}")
        parts += [f"  column {c}: {n} differences" for c, n in self.column_diffs.items()]
        return "\n".join(parts)

    @property
    def report(self) -> str:
        return "\n".join([self.summary(), *self.details])

    def __str__(self) -> str:
        return self.report


def _kind(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Decimal):
        return "decimal"
    if dtype.is_float():
        return "float"
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    return "str"


def _thousandths(col: str, dtype: pl.DataType) -> pl.Expr:
    """A value column as exact Int128 thousandths (decimals), or rounded to thousandths (anything else)."""
    if isinstance(dtype, pl.Decimal):
        return (pl.col(col).cast(pl.Decimal(38, 3)) * 1000).cast(pl.Int128)
    if dtype.is_integer():
        return pl.col(col).cast(pl.Int128) * 1000
    return (pl.col(col).cast(pl.Float64) * 1000).round(0).cast(pl.Int128)


def _fmt_rows(frame: pl.DataFrame, keys: list[str], cols: list[str]) -> list[str]:
    return ["    " + ", ".join(f"{c}={r[c]!r}" for c in keys + cols) for r in frame.head(SHOW).to_dicts()]


def compare(oracle_df: pl.DataFrame, sql_df: pl.DataFrame, keys: list[str], table: str,
            columns: list[str] | None = None) -> Comparison:
    """Every disagreement between the oracle's and the SQL's version of ``table``."""
    wanted = list(columns if columns is not None else CONTRACT_COLUMNS[table])
    res = Comparison(table, oracle_df.height, sql_df.height)

    missing_keys = [k for k in keys if k not in sql_df.columns]
    missing_cols = [c for c in wanted if c not in sql_df.columns]
    if missing_keys:
        res.problems.append(f"key column(s) missing from the SQL output: {missing_keys}")
    if missing_cols:
        res.problems.append(f"contract column(s) missing from the SQL output: {missing_cols}")
    oracle_missing = [c for c in keys + wanted if c not in oracle_df.columns]
    if oracle_missing:
        res.problems.append(f"column(s) missing from the oracle output (oracle bug): {oracle_missing}")
    join_keys = [k for k in keys if k in sql_df.columns and k in oracle_df.columns]
    cols = [c for c in wanted if c in sql_df.columns and c in oracle_df.columns]
    if not join_keys:
        res.problems.append("no key column in common: nothing compared")
        return res

    # key types: compare as text when the two sides disagree on the type
    o = oracle_df.select(join_keys + cols)
    s = sql_df.select(join_keys + cols)
    for k in join_keys:
        if o.schema[k] != s.schema[k]:
            o = o.with_columns(pl.col(k).cast(pl.String))
            s = s.with_columns(pl.col(k).cast(pl.String))

    for name, frame in (("oracle", o), ("sql", s)):
        dups = frame.group_by(join_keys).len().filter(pl.col("len") > 1)
        if dups.height:
            res.problems.append(f"{dups.height} duplicate key(s) in the {name} table on {join_keys}")
            res.details.append(f"  duplicate keys in {name} (first {SHOW}):")
            res.details += _fmt_rows(dups, join_keys, ["len"])

    o = o.unique(subset=join_keys, keep="first").with_columns(_in_o=pl.lit(True))
    s = s.unique(subset=join_keys, keep="first").with_columns(_in_s=pl.lit(True))
    j = o.join(s, on=join_keys, how="full", coalesce=True, suffix="_sql", nulls_equal=True)
    only_o = j.filter(pl.col("_in_s").is_null())
    only_s = j.filter(pl.col("_in_o").is_null())
    res.missing_rows, res.extra_rows = only_o.height, only_s.height
    if only_o.height:
        res.details.append(f"  rows in oracle but not in sql: {only_o.height} (first {SHOW}):")
        res.details += _fmt_rows(only_o, join_keys, [])
    if only_s.height:
        res.details.append(f"  rows in sql but not in oracle: {only_s.height} (first {SHOW}):")
        res.details += _fmt_rows(only_s, join_keys, [])

    both = j.filter(pl.col("_in_o") & pl.col("_in_s"))
    for c in cols:
        a, b = c, f"{c}_sql"
        ka, kb = _kind(o.schema[c]), _kind(s.schema[c])
        note = "" if ka == kb else f" (types differ: oracle {o.schema[c]}, sql {s.schema[c]})"
        null_diff = pl.col(a).is_null() != pl.col(b).is_null()
        if c in PREFIX_COLUMNS:
            pre = PREFIX_COLUMNS[c]
            value_diff = pl.col(a).cast(pl.String).str.starts_with(pre) != pl.col(b).cast(pl.String).str.starts_with(pre)
        elif "decimal" in (ka, kb) and {ka, kb} <= {"decimal", "int", "float"}:
            # exact to the thousandth (a float on one side is rounded to the thousandth first)
            value_diff = _thousandths(a, o.schema[c]) != _thousandths(b, s.schema[c])
        elif ka == "float" or kb == "float":
            fa, fb = pl.col(a).cast(pl.Float64), pl.col(b).cast(pl.Float64)
            value_diff = ~(((fa - fb).abs() <= FLOAT_TOLERANCE) | (fa.is_nan() & fb.is_nan()) | (fa == fb))
        elif ka != kb:
            value_diff = pl.col(a).cast(pl.String) != pl.col(b).cast(pl.String)
        else:
            value_diff = pl.col(a) != pl.col(b)
        diff = both.filter(null_diff | value_diff.fill_null(False))
        if diff.height:
            res.column_diffs[c] = diff.height
            res.details.append(f"  column {c}: {diff.height} differences{note} (first {SHOW}, oracle vs sql):")
            res.details += [
                "    " + ", ".join(f"{k}={r[k]!r}" for k in join_keys) + f": oracle={r[a]!r} sql={r[b]!r}"
                for r in diff.select(join_keys + [a, b]).head(SHOW).to_dicts()
            ]
    return res


def compare_all(oracle_tables: dict[str, pl.DataFrame], sql_tables: dict[str, pl.DataFrame],
                keys: dict[str, list[str]]) -> list[Comparison]:
    return [compare(oracle_tables[t], sql_tables[t], keys[t], t) for t in oracle_tables]
