"""Eurostat Comext files -> ``raw.comext_sdmx`` and ``raw.comext_bulk``.

Layouts (sources.md 4.1-4.2), told apart by their header line:

* SDMX-CSV from the DS-045409 API: ``DATAFLOW, LAST UPDATE, freq, reporter,
  partner, product, flow, indicators, TIME_PERIOD, OBS_VALUE[, OBS_FLAG]``;
* bulk ``full_v2`` ``.dat``/CSV: ``REPORTER, PARTNER, TRADE_TYPE, PRODUCT_NC, ...``;
* the older bulk layout: ``DECLARANT, DECLARANT_ISO, PARTNER, PARTNER_ISO, ...``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.readers.inputs import InputError, InputFile, first_line
from pipeline.readers.raw_store import sql_string

SDMX_TABLE = "raw.comext_sdmx"
BULK_TABLE = "raw.comext_bulk"

SDMX_COLUMNS: dict[str, str] = {
    "dataflow": "VARCHAR", "last_update": "TIMESTAMP", "freq": "VARCHAR", "reporter": "VARCHAR",
    "partner": "VARCHAR", "product": "VARCHAR", "flow": "INTEGER", "indicators": "VARCHAR",
    "time_period": "VARCHAR", "obs_value": "DOUBLE", "obs_flag": "VARCHAR",
}

BULK_COLUMNS: dict[str, str] = {
    "layout": "VARCHAR", "reporter": "VARCHAR", "partner": "VARCHAR", "trade_type": "VARCHAR",
    "product_nc": "VARCHAR", "flow": "INTEGER", "stat_procedure": "VARCHAR", "period": "INTEGER",
    "value_eur": "DOUBLE", "quantity_kg": "DOUBLE", "suppl_unit": "VARCHAR", "quantity_suppl_unit": "DOUBLE",
}

# Each bulk layout's own column names for the raw table's columns.
_BULK_LAYOUTS = {
    "full_v2": {
        "reporter": "REPORTER", "partner": "PARTNER", "trade_type": "TRADE_TYPE", "product_nc": "PRODUCT_NC",
        "flow": "FLOW", "stat_procedure": "STAT_PROCEDURE", "period": "PERIOD", "value_eur": "VALUE_EUR",
        "quantity_kg": "QUANTITY_KG", "suppl_unit": "SUPPL_UNIT", "quantity_suppl_unit": "QUANTITY_SUPPL_UNIT",
    },
    "legacy": {
        "reporter": "DECLARANT_ISO", "partner": "PARTNER_ISO", "trade_type": "TRADE_TYPE",
        "product_nc": "PRODUCT_NC", "flow": "FLOW", "stat_procedure": "STAT_REGIME", "period": "PERIOD",
        "value_eur": "VALUE_IN_EUROS", "quantity_kg": "QUANTITY_IN_KG", "suppl_unit": "SUPP_UNIT",
        "quantity_suppl_unit": "SUP_QUANTITY",
    },
}
_SDMX_REQUIRED = ["DATAFLOW", "LAST UPDATE", "freq", "reporter", "partner", "product", "flow", "indicators",
                  "TIME_PERIOD", "OBS_VALUE"]


def detect(path: Path) -> str | None:
    """Layout name from the header line; None for files that are not Comext data."""
    if not path.name.lower().endswith((".csv", ".dat", ".csv.gz", ".dat.gz", ".txt")):
        return None
    header = first_line(path) if path.stat().st_size else ""
    if header.startswith("DATAFLOW") or "OBS_VALUE" in header:
        return "sdmx_csv"
    if header.startswith("DECLARANT"):
        return "legacy"
    # full_v2, and empty files, which validate() then rejects with a clear message
    return "full_v2"


def _header(f: InputFile) -> list[str]:
    if f.size == 0:
        raise InputError(f"{f.path}: empty file (0 bytes)")
    return [c.strip() for c in first_line(f.path).split(",")]


def validate(conn: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    header = _header(f)
    wanted = _SDMX_REQUIRED if f.fmt == "sdmx_csv" else list(_BULK_LAYOUTS[f.fmt].values())
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InputError(f"{f.path}: line 1: header lacks {missing} for Comext layout {f.fmt}")


def select_sdmx(f: InputFile) -> str:
    header = _header(f)
    flag = '"OBS_FLAG"' if "OBS_FLAG" in header else "NULL::VARCHAR"
    types = "{'flow': 'INTEGER', 'OBS_VALUE': 'DOUBLE'}"
    # The release is the dataset's own LAST UPDATE stamp, more precise than any sidecar.
    return f"""
        SELECT "DATAFLOW" AS dataflow, strptime("LAST UPDATE", '%d/%m/%y %H:%M:%S') AS last_update,
               freq, reporter, partner, product, flow, indicators, "TIME_PERIOD" AS time_period,
               "OBS_VALUE" AS obs_value, {flag} AS obs_flag,
               row_number() OVER () + 1 AS _line,
               'Eurostat Comext ' || split_part("DATAFLOW", '(', 1) || ' last update '
                   || strftime(strptime("LAST UPDATE", '%d/%m/%y %H:%M:%S'), '%Y-%m-%d %H:%M') AS release
        FROM read_csv({sql_string(f.path)}, header=true, delim=',', all_varchar=true, types={types})"""


def select_bulk(f: InputFile) -> str:
    names = _BULK_LAYOUTS[f.fmt]
    # Typed in the CSV reader itself so that a bad value is reported with its line.
    types = "{" + ", ".join(f"'{src}': '{BULK_COLUMNS[dst]}'" for dst, src in names.items()) + "}"
    cols = ", ".join(f'"{src}" AS {dst}' for dst, src in names.items())
    return (
        f"SELECT {sql_string(f.fmt)} AS layout, {cols}, row_number() OVER () + 1 AS _line, "
        f"{sql_string(f.release)} AS release "
        f"FROM read_csv({sql_string(f.path)}, header=true, delim=',', all_varchar=true, types={types})"
    )
