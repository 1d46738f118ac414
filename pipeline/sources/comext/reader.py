"""Eurostat Comext files -> ``raw.comext_sdmx`` and ``raw.comext_bulk``.

Layouts (sources.md 4.1-4.2), told apart by their header line:

* SDMX-CSV from the DS-045409 API: ``DATAFLOW, LAST UPDATE, freq, reporter,
  partner, product, flow, indicators, TIME_PERIOD, OBS_VALUE[, OBS_FLAG]``;
* bulk ``full_v2`` ``.dat``/CSV: ``REPORTER, PARTNER, TRADE_TYPE, PRODUCT_NC, ...``;
* the older bulk layout: ``DECLARANT, DECLARANT_ISO, PARTNER, PARTNER_ISO, ...``.

Bulk files also come as Eurostat ships them, one ``.dat`` inside a ``.7z``
archive (``full_v2_YYYYMM.7z``); those are read through their typed Parquet
conversion (:mod:`pipeline.sources.comext.bulk_reader`). A ``.parquet`` file written
by that conversion may also be dropped in an input folder and is read as it is.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from pipeline.io import sql_string
from pipeline.readers.inputs import InputError, InputFile, first_line
from pipeline.sources.comext.sevenzip import ArchiveError, archive_first_line

SDMX_TABLE = "raw.comext_sdmx"
BULK_TABLE = "raw.comext_bulk"
# the year a row belongs to (SQL over the raw columns): the unit of incremental rebuilds
SDMX_YEAR_OF_ROW = "TRY_CAST(left(time_period, 4) AS INTEGER)"
BULK_YEAR_OF_ROW = "period // 100"

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
# Source columns outside the raw table that still have a numeric meaning; every other
# extra column (product nomenclatures, numeric partner codes) stays text so that its
# leading zeros survive.
_EXTRA_NUMERIC = {"VALUE_NAC": "DOUBLE"}
# Columns without which a bulk row cannot be placed; an empty one is an error, not a drop.
_BULK_KEYS = ["reporter", "partner", "product_nc", "flow", "period"]
_SDMX_REQUIRED = ["DATAFLOW", "LAST UPDATE", "freq", "reporter", "partner", "product", "flow", "indicators",
                  "TIME_PERIOD", "OBS_VALUE"]

ARCHIVE_SUFFIX = ".7z"
PARQUET_SUFFIX = ".parquet"
PARQUET_KEY = "geomonitor.comext_bulk"
PARQUET_VERSION = 1  # bump when the Parquet columns change: cached conversions are then redone
PRODUCT_KINDS = ("cn8", "confidential", "total", "aggregate", "special")


@contextmanager
def archive_errors_as_input_errors() -> Iterator[None]:
    """An unreadable archive is bad input like any other: quarantined with its reason."""
    try:
        yield
    except ArchiveError as exc:
        raise InputError(str(exc)) from exc


# --------------------------------------------------------------------------- detection


def detect(path: Path) -> str | None:
    """Layout name from the header line; None for files that are not Comext data."""
    name = path.name.lower()
    # An archive or Parquet file that cannot be opened still counts as a bulk file: validate() then
    # rejects it with the reason, so it is reported (or quarantined) like any other bad input.
    if name.endswith(ARCHIVE_SUFFIX):
        try:
            return bulk_layout(archive_first_line(path))
        except ArchiveError:
            return "full_v2"
    if name.endswith(PARQUET_SUFFIX):
        try:
            return parquet_meta(path)["layout"]
        except InputError:
            return "full_v2"
    if not name.endswith((".csv", ".dat", ".csv.gz", ".dat.gz", ".txt")):
        return None
    header = first_line(path) if path.stat().st_size else ""
    if header.startswith("DATAFLOW") or "OBS_VALUE" in header:
        return "sdmx_csv"
    # full_v2, and empty files, which validate() then rejects with a clear message
    return bulk_layout(header)


def bulk_layout(header: str) -> str:
    return "legacy" if header.lstrip("\ufeff").startswith("DECLARANT") else "full_v2"


def _split_header(line: str) -> list[str]:
    return [c.strip().strip('"') for c in line.lstrip("\ufeff").split(",")]


def _header(f: InputFile) -> list[str]:
    if f.size == 0:
        raise InputError(f"{f.path}: empty file (0 bytes)")
    name = f.path.name.lower()
    if name.endswith(ARCHIVE_SUFFIX):
        with archive_errors_as_input_errors():
            return _split_header(archive_first_line(f.path))
    if name.endswith(PARQUET_SUFFIX):
        return [c.upper() for c in parquet_meta(f.path)["columns"]]
    return _split_header(first_line(f.path))


# Every column each layout is known to carry; anything else is schema drift, refused rather than
# guessed at (a renamed or inserted column could shift what a value means).
_KNOWN_COLUMNS = {
    "sdmx_csv": set(_SDMX_REQUIRED) | {"OBS_FLAG"},
    "full_v2": {"REPORTER", "PARTNER", "TRADE_TYPE", "PRODUCT_NC", "PRODUCT_SITC", "PRODUCT_CPA21",
                "PRODUCT_CPA22", "PRODUCT_BEC", "PRODUCT_BEC5", "PRODUCT_SECTION", "FLOW", "STAT_PROCEDURE",
                "SUPPL_UNIT", "PERIOD", "VALUE_EUR", "VALUE_NAC", "QUANTITY_KG", "QUANTITY_SUPPL_UNIT"},
    "legacy": {"DECLARANT", "DECLARANT_ISO", "PARTNER", "PARTNER_ISO", "TRADE_TYPE", "PRODUCT_NC", "PRODUCT_SITC",
               "PRODUCT_CPA2002", "PRODUCT_CPA2008", "PRODUCT_CPA2_1", "PRODUCT_BEC", "PRODUCT_SECTION", "FLOW",
               "STAT_REGIME", "SUPP_UNIT", "PERIOD", "VALUE_IN_EUROS", "QUANTITY_IN_KG", "SUP_QUANTITY"},
}


def _check_header(source: str, header: list[str], layout: str) -> None:
    wanted = _SDMX_REQUIRED if layout == "sdmx_csv" else list(_BULK_LAYOUTS[layout].values())
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InputError(f"{source}: line 1: header lacks {missing} for Comext layout {layout}")
    known = {c.upper() for c in _KNOWN_COLUMNS[layout]}
    unexpected = [c for c in header if c.upper() not in known]
    if unexpected:
        raise InputError(f"{source}: line 1: unexpected column(s) {unexpected} for Comext layout {layout} "
                         "(schema drift): the reader must learn them before such files are read")


def validate(conn: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    if f.path.name.lower().endswith(PARQUET_SUFFIX):
        parquet_meta(f.path)  # only a conversion by convert_bulk_to_parquet, which checked the source header
        return
    _check_header(str(f.path), _header(f), f.fmt)


# Row rules (see raw_store.sync_raw_table): a reason for a bad row, else NULL. A period in the
# wrong form ('2024M01', '24-01', month 13) would otherwise land in a wrong year or month.
SDMX_ROW_RULE = (
    "CASE WHEN NOT regexp_full_match(time_period, '[0-9]{4}(-(0[1-9]|1[0-2]))?') "
    "THEN 'TIME_PERIOD ' || time_period || ' is neither YYYY nor YYYY-MM' END"
)
BULK_ROW_RULE = (
    "CASE WHEN NOT (period BETWEEN 195001 AND 210052 AND (period % 100 BETWEEN 1 AND 12 OR period % 100 = 52)) "
    "THEN 'PERIOD ' || period || ' is not YYYYMM (or YYYY52)' END"
)


# --------------------------------------------------------------------------- raw-table SELECTs


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


def bulk_csv_read(paths: list[Path], header: list[str], layout: str, *, extra_types: dict[str, str] | None = None,
                  label: str = "") -> str:
    """``read_csv`` over bulk CSV files sharing ``header`` (compressed or not): every column named, in file order, with
    its type (the raw table's for the layout's columns, ``extra_types`` or VARCHAR for the others). No dialect or type
    sniffing: DuckDB's sniffer cost about 60 ms of CPU per file, more than reading a demo month, and a short or long row
    anywhere is an error with its line number all the same."""
    if len(set(header)) != len(header):
        raise InputError(f"{label or paths[0]}: line 1: a column name appears twice in {header}")
    typed = {src: BULK_COLUMNS[dst] for dst, src in _BULK_LAYOUTS[layout].items()} | (extra_types or {})
    columns = "{" + ", ".join(f"{sql_string(c)}: '{typed.get(c, 'VARCHAR')}'" for c in header) + "}"
    files = "[" + ", ".join(sql_string(p) for p in paths) + "]"
    return (f"read_csv({files}, header=true, delim=',', quote='\"', escape='\"', auto_detect=false, "
            f"columns={columns})")


def select_bulk(f: InputFile, parquet: Path | str | None = None) -> str:
    """A bulk CSV or a conversion's Parquet file; ``parquet`` is the conversion of an archive ``f``
    (see :func:`pipeline.sources.comext.bulk_reader.bulk_selector`)."""
    name = f.path.name.lower()
    if name.endswith(PARQUET_SUFFIX):
        parquet = f.path
    elif name.endswith(ARCHIVE_SUFFIX) and parquet is None:
        raise InputError(f"{f.path}: an archive is read through its Parquet conversion, none was given")
    if parquet is not None:
        cols = ", ".join(BULK_COLUMNS)
        return (
            f"SELECT {cols}, _line, {sql_string(f.release)} AS release "
            f"FROM read_parquet({sql_string(parquet)})"
        )
    # Typed in the CSV reader itself so that a bad value is reported with its line.
    cols = ", ".join(f'"{src}" AS {dst}' for dst, src in _BULK_LAYOUTS[f.fmt].items())
    return (
        f"SELECT {sql_string(f.fmt)} AS layout, {cols}, row_number() OVER () + 1 AS _line, "
        f"{sql_string(f.release)} AS release FROM {bulk_csv_read([f.path], _header(f), f.fmt)}"
    )


def parquet_meta(path: Path) -> dict:
    """The conversion's key-value metadata and column names; InputError for any other Parquet file."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    raw = (schema.metadata or {}).get(PARQUET_KEY.encode())
    if raw is None:
        raise InputError(f"{path}: a Parquet file in a Comext folder must be a bulk conversion by geomonitor "
                         f"(key {PARQUET_KEY} missing)")
    meta = json.loads(raw)
    missing = [c for c in [*BULK_COLUMNS, "_line"] if c not in schema.names]
    if missing:
        raise InputError(f"{path}: Parquet columns {missing} missing")
    return {**meta, "columns": list(schema.names)}

