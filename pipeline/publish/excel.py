"""The Excel workbook of a snapshot, for policy staff: ``geomonitor_<snapshot>.xlsx``.

One sheet per table whose SQL header declares one (``-- sheet: <name>[; filter <column>][; order <n>]``,
pipeline/contracts.py), each a whole table of the published file's named view
(names instead of country codes and domain slugs; the HS code stays beside its product
name), written by polars through xlsxwriter as an Excel table: frozen header, filters,
shares as %, values with thousands separators. A README sheet (snapshot, sources and
releases, thresholds, attribution, caveats, and a red SYNTHETIC banner when any input is
synthetic) and a column dictionary (pipeline/catalog.py: the glossary and the tables' own column declarations,
thresholds as used) come first. Read from the
DuckDB file about to be published, so the workbook shows exactly what analysts query.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import polars as pl
import xlsxwriter

from pipeline import catalog, glossary
from pipeline.analyst_views import COUNTRY_COLUMNS

EXCEL_MAX_ROWS = 1_048_575  # rows below the header
# A sheet holds the latest years of its table (the years the screens' persistence reads): the workbook is
# for reading, and xlsxwriter writes every cell in Python, so ten years of history took minutes to write.
# Every year is in the Parquet snapshot and geomonitor.duckdb.
WORKBOOK_YEARS = 3
# The sheets are declared by their tables (catalog.sheets()). monitor.supplier_headroom has none: about 70% of its
# rows are concentrated_oecd (8,480 of 12,003 on the embedded default), so a world year would again be hundreds of
# thousands of cells written by xlsxwriter. The sheets of the every-importer screens declare a filter and hold their
# flagged rows only: the rows policy staff read. In full, at one world year, they were 940,000 rows and 137 of the
# 165 s of publication (SF1, 2026-11-30); every row stays in the Parquet snapshot and geomonitor.duckdb.
CAVEATS = [
    "Candidate dependencies are evidence for analysts, not verdicts (methodology section 6).",
    "Values are in the row's currency: USD for UN Comtrade, EUR for Eurostat Comext; never added across sources.",
    "NL figures from Comext include quasi-transit (goods entering the EU through Dutch ports): NL import "
    "dependence is overstated (methodology section 10).",
    "HS revisions: codes that split across HS editions are shared out with estimated weights (split_dependent, "
    "converted_split).",
    "An incomplete EU27 bloc (fewer than 27 members with 12 months) is never flagged (bloc_complete).",
    "Dependence on NL/EU: partner view (the importer's report) beside the mirror view (NL's/the EU's exports); "
    "unknown (empty) where the importer does not report.",
]

HEADER = {"bold": True, "bg_color": "#DDEBF7", "text_wrap": True, "valign": "top"}
SHARE, VALUE, INDEX, COUNT = "0.0%", "#,##0", "0.000", "#,##0"


def workbook_name(snapshot_id: str) -> str:
    return f"geomonitor_{snapshot_id}.xlsx"


def sheet_frame(con: duckdb.DuckDBPyConnection, mart: str, only: str | None = None) -> pl.DataFrame:
    """The mart's latest WORKBOOK_YEARS years through its named view (its rows where the boolean column ``only``
    is true, if given), country codes and domain slugs replaced by their names."""
    view = mart.replace("monitor.", "views.")
    where = [f"year > (SELECT max(year) FROM {view}) - {WORKBOOK_YEARS}"] \
        if "year" in con.sql(f"SELECT * FROM {view} LIMIT 0").columns else []
    where += [f'"{only}"'] if only else []
    frame = con.sql(f"SELECT * FROM {view}{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY ALL").pl()
    # thresholds are the same on every row: the README sheet lists them once
    drop = [c for c in frame.columns if (c in COUNTRY_COLUMNS and f"{c}_name" in frame.columns)
            or (c == "domain" and "domain_label" in frame.columns) or c.endswith("_threshold")]
    frame = frame.drop(drop)
    # Excel has numbers, text and booleans: decimals become floats, anything nested becomes text
    return frame.with_columns(
        [pl.col(c).cast(pl.Float64) for c, t in frame.schema.items() if isinstance(t, pl.Decimal)]
        + [pl.col(c).cast(pl.List(pl.String)).list.join(", ") for c, t in frame.schema.items()
           if isinstance(t, pl.List)]
    )


def _formats(frame: pl.DataFrame) -> dict[str, str]:
    out = {}
    for column, dtype in frame.schema.items():
        base = column.removesuffix("_name")
        if not dtype.is_numeric() or column in {"year", "month"}:
            continue
        unit = glossary.unit(base, "DOUBLE" if dtype.is_float() else "BIGINT")
        out[column] = {"money": VALUE, "share 0..1": SHARE, "index 0..1 (HHI)": INDEX, "count": COUNT,
                       "ratio": "#,##0.00"}.get(unit, "#,##0.###" if dtype.is_float() else "0")
    return out


def _widths(frame: pl.DataFrame) -> dict[str, int]:
    wide = {"product": 48, "release": 30, "caveat": 30, "eu_main_suppliers": 30}
    return {c: wide.get(c, max(10, min(len(c) + 2, 24))) for c in frame.columns}


def write_workbook(database: Path, path: Path, manifest: dict, access: str = "restricted",
                   left_out: tuple[str, ...] = ()) -> dict:
    """Write the workbook; returns its sheets (sheet -> {table, rows}) and the seconds it took.

    ``left_out``: tables whose sheets the public edition leaves out (its README sheet names them)."""
    started = time.perf_counter()
    sheets = catalog.sheets()
    con = duckdb.connect(str(database), read_only=True)
    con.execute("SET enable_progress_bar = false")
    written: dict[str, dict] = {}
    try:
        present = {f"monitor.{t}" for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'monitor'").fetchall()}
        frames = {name: sheet_frame(con, mart, sheet.filter) for name, (mart, sheet) in sheets.items()
                  if mart in present and mart not in left_out}
        complete_years = con.execute("SELECT source, latest_complete_year FROM meta.latest_complete_year "
                                     "ORDER BY source").fetchall() if con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'meta' AND table_name = 'latest_complete_year'"
        ).fetchall()[0][0] else []
    finally:
        con.close()

    with xlsxwriter.Workbook(str(path), {"constant_memory": False, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False}) as book:
        _readme_sheet(book, manifest, frames, complete_years, access,
                      [name for name, (mart, _) in sheets.items() if mart in present and mart in left_out], sheets)
        _dictionary_sheet(book, frames, sheets, manifest.get("parameters"))
        for name, frame in frames.items():
            rows = min(frame.height, EXCEL_MAX_ROWS)
            frame.head(rows).write_excel(
                workbook=book, worksheet=name, table_style="Table Style Light 9", header_format=HEADER,
                column_formats=_formats(frame), column_widths=_widths(frame), freeze_panes=(1, 0),
                autofilter=True, autofit=False, float_precision=6,
            )
            mart, sheet = sheets[name]
            written[name] = {"table": mart, "rows": rows, "truncated": frame.height > rows}
            if "year" in frame.columns:  # which years of the table the sheet holds (verify counts them)
                written[name]["years"] = sorted(frame["year"].unique().to_list())
            if sheet.filter:  # and which of their rows
                written[name]["where"] = sheet.filter
    return {"sheets": written, "seconds": round(time.perf_counter() - started, 2)}


def _readme_sheet(book: xlsxwriter.Workbook, manifest: dict, frames: dict, complete_years: list, access: str,
                  left_out: list[str], sheets: dict) -> None:
    sheet = book.add_worksheet("README")
    bold = book.add_format({"bold": True, "valign": "top"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    title = book.add_format({"bold": True, "font_size": 16})
    banner = book.add_format({"bold": True, "font_size": 14, "font_color": "#FFFFFF", "bg_color": "#C00000"})
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 110)
    sheet.write(0, 0, "Geo-economic monitor: trade-dependency screens", title)
    row = 1
    if manifest.get("synthetic"):
        sheet.merge_range(row, 0, row, 1, "SYNTHETIC DATA: " + (manifest.get("synthetic_note") or
                                                                 "contains synthetic demo data"), banner)
        row += 1
    items = [
        ("Snapshot", manifest["snapshot_id"]),
        ("Built (UTC)", manifest.get("created_at", "")),
        ("Code version", manifest.get("code_version", "")),
        ("Access", "RESTRICTED: holds the NL and EU vulnerability screens; not for open publication."
         if access == "restricted" else "public"),
        ("Latest complete year", "; ".join(f"{s}: {y if y is not None else 'none'}" for s, y in complete_years)
         or "-"),
    ]
    items += [(f"Source {s['source']}", f"{s['release']} ({s['table']}, {s['files']} file(s), {s['rows']:,} rows"
               + (", SYNTHETIC)" if s.get("synthetic") else ")")) for s in manifest.get("sources", [])]
    items += [(f"Threshold {k}", str(v)) for k, v in sorted(manifest.get("parameters", {}).items())]
    items += [("Attribution", manifest.get("attribution", ""))]
    items += [("Caveat", c) for c in CAVEATS]
    items += [("Sheet " + name, f"{sheets[name][0]} (views.{sheets[name][0].split('.')[1]}): {frame.height:,} rows"
               + (f", those where {sheets[name][1].filter} is true" if sheets[name][1].filter else ""))
              for name, frame in frames.items()]
    items += [("Left out", f"public edition: the restricted sheets {', '.join(left_out)} (the NL and EU "
               "vulnerability findings) are not in this workbook")] if left_out else []
    items += [("Years", f"each sheet holds the latest {WORKBOOK_YEARS} years of its table; every year is in the "
               "snapshot's Parquet files and in geomonitor.duckdb")]
    items += [("Column dictionary", "sheet 'Columns'; the snapshot's DICTIONARY.md has every table")]
    for key, value in items:
        sheet.write_string(row, 0, key, bold)
        sheet.write_string(row, 1, str(value), wrap)
        row += 1
    sheet.freeze_panes(1, 0)


def _dictionary_sheet(book: xlsxwriter.Workbook, frames: dict, sheets: dict, parameters: dict | None) -> None:
    records = []
    for name, frame in frames.items():
        table = sheets[name][0]
        for column, dtype in frame.schema.items():
            meaning = catalog.describe(column, table, parameters) \
                or catalog.describe(column.removesuffix("_name"), table, parameters)
            records.append({
                "sheet": name, "column": column, "meaning": meaning or "",
                "unit": glossary.unit(column, "DOUBLE" if dtype.is_float() else "BIGINT" if dtype.is_integer()
                                      else "BOOLEAN" if dtype == pl.Boolean else "VARCHAR"),
                "currency": glossary.currency(column), "methodology": catalog.methodology(table),
            })
    pl.DataFrame(records, schema={k: pl.String for k in ("sheet", "column", "meaning", "unit", "currency",
                                                         "methodology")}).write_excel(
        workbook=book, worksheet="Columns", table_style="Table Style Light 9", header_format=HEADER,
        column_widths={"sheet": 22, "column": 30, "meaning": 100, "unit": 16, "currency": 30, "methodology": 40},
        freeze_panes=(1, 0), autofilter=True, autofit=False,
    )
