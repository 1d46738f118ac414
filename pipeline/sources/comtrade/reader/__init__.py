"""UN Comtrade files: what they hold and how DuckDB reads them, typed.

Two real layouts carry the same 47 fields (sources.md 1.5 and 1.7):

* v1 API JSON pages: ``{"elapsedTime", "count", "data": [records], "error"}``
  (plain or gzip; SDK wrappers that add keys around the envelope are fine);
* bulk files: gzip tab-separated text with a header of the same field names
  (one per reporter-year from the premium bulk API, or dropped in a landing folder).

Every file becomes one typed Parquet file (:mod:`pipeline.sources.comtrade.reader.parquet`), and
``raw.comtrade_records`` is a view over those files (:mod:`pipeline.sources.comtrade.reader.view`).
Where a bulk file and API pages hold the same frequency, reporter, year and flow, the bulk
file's rows are kept and the pages' rows for that key are left out (:data:`SUPERSEDING_FORMAT`).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipeline.io import sql_string
from pipeline.readers.inputs import InputError, InputFile, first_line

TABLE = "raw.comtrade_records"
# the year a record belongs to (SQL over the raw columns): the unit of incremental rebuilds
YEAR_OF_ROW = "refYear"

# Field order and types of a v1 record; the raw table keeps the source's names.
COLUMNS: dict[str, str] = {
    "typeCode": "VARCHAR", "freqCode": "VARCHAR", "refPeriodId": "INTEGER", "refYear": "INTEGER",
    "refMonth": "INTEGER", "period": "VARCHAR", "reporterCode": "INTEGER", "reporterISO": "VARCHAR",
    "reporterDesc": "VARCHAR", "flowCode": "VARCHAR", "flowDesc": "VARCHAR", "partnerCode": "INTEGER",
    "partnerISO": "VARCHAR", "partnerDesc": "VARCHAR", "partner2Code": "INTEGER", "partner2ISO": "VARCHAR",
    "partner2Desc": "VARCHAR", "classificationCode": "VARCHAR", "classificationSearchCode": "VARCHAR",
    "isOriginalClassification": "BOOLEAN", "cmdCode": "VARCHAR", "cmdDesc": "VARCHAR", "aggrLevel": "INTEGER",
    "isLeaf": "BOOLEAN", "customsCode": "VARCHAR", "customsDesc": "VARCHAR", "mosCode": "VARCHAR",
    "motCode": "INTEGER", "motDesc": "VARCHAR", "qtyUnitCode": "INTEGER", "qtyUnitAbbr": "VARCHAR",
    "qty": "DOUBLE", "isQtyEstimated": "BOOLEAN", "altQtyUnitCode": "INTEGER", "altQtyUnitAbbr": "VARCHAR",
    "altQty": "DOUBLE", "isAltQtyEstimated": "BOOLEAN", "netWgt": "DOUBLE", "isNetWgtEstimated": "BOOLEAN",
    "grossWgt": "DOUBLE", "isGrossWgtEstimated": "BOOLEAN", "cifvalue": "DOUBLE", "fobvalue": "DOUBLE",
    "primaryValue": "DOUBLE", "legacyEstimationFlag": "INTEGER", "isReported": "BOOLEAN",
    "isAggregate": "BOOLEAN",
}

# What a file covers, for the precedence between layouts: a bulk file supersedes API pages for the
# same frequency, reporter, year and flow (it is the reporter-year as published, where pages are
# what one plan asked for); the pages' other keys stay.
COVERAGE_KEY = ["freqCode", "reporterCode", "refYear", "flowCode"]
SUPERSEDING_FORMAT = "bulk_tsv"

_RECORD_STRUCT = "STRUCT(" + ", ".join(f'"{k}" {v}' for k, v in COLUMNS.items()) + ")"
_ENVELOPE = "{'count': 'BIGINT', 'error': 'VARCHAR', 'data': '" + _RECORD_STRUCT.replace("'", "''") + "[]'}"


def detect(path: Path) -> str | None:
    """'api_json' or 'bulk_tsv' by name; anything else is not a Comtrade data file."""
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        return "api_json"
    if name.endswith((".gz", ".txt", ".tsv", ".csv")):
        return "bulk_tsv"
    return None


# A page is one JSON object: 100,000 records are about 120 MB. DuckDB reserves twice this size for
# the read, so it has to stay well inside the warehouse's memory_limit (2 GB by default).
MAX_PAGE_BYTES = 256 * 2**20


def json_source(files: str, filename: bool = False, maximum_object_size: int = MAX_PAGE_BYTES) -> str:
    """``read_json`` of the v1 envelope over ``files`` (a SQL string or list of strings), typed: no sniffing.
    ``filename``: with the column naming each row's file (reading a batch of pages at once)."""
    return (f"read_json({files}, columns={_ENVELOPE}, format='auto', maximum_object_size={maximum_object_size}"
            f"{', filename=true' if filename else ''})")


def _json_source(path: Path) -> str:
    return json_source(sql_string(path))


def bulk_header(f: InputFile) -> list[str]:
    """The bulk file's column names in file order, checked against the 47 fields (InputError on line 1)."""
    header = first_line(f.path).split("\t")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{f.path}: line 1: not a Comtrade bulk header (tab-separated); missing columns {missing[:5]}"
            + (" ..." if len(missing) > 5 else "")
        )
    unexpected = [c for c in header if c not in COLUMNS]
    if unexpected:
        raise InputError(f"{f.path}: line 1: unexpected column(s) {unexpected[:5]} (schema drift): the reader "
                         "must learn them before such files are read")
    if len(set(header)) != len(header):
        raise InputError(f"{f.path}: line 1: a column name appears twice in the header")
    return header


def validate(conn: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    """Refuse empty files, bulk headers that are not the 47 fields, pages the API marked as failed and
    pages that hold fewer records than announced."""
    if f.size == 0:
        raise InputError(f"{f.path}: empty file (0 bytes), expected {f.fmt}")
    if f.fmt == "bulk_tsv":
        bulk_header(f)
        return
    try:
        rows = conn.execute(f"SELECT count, error, len(data) FROM {_json_source(f.path)}").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{f.path}: not a Comtrade v1 JSON response ({exc})") from exc
    for count, error, n in rows:
        if error:
            raise InputError(f"{f.path}: the API reported an error: {error}")
        if count is not None and n is not None and count != n:
            raise InputError(f"{f.path}: page holds {n} records but the API announced {count} (truncated page)")


# A reason for a bad record, else NULL: period is YYYY or YYYYMM and agrees with refYear, or the
# record would land in another year.
ROW_RULE = (
    "CASE WHEN NOT coalesce(regexp_full_match(period, '[0-9]{4}(0[1-9]|1[0-2])?') "
    "AND left(period, 4)::INTEGER = refYear, false) "
    "THEN 'period ' || coalesce(period, 'NULL') || ' is not YYYY or YYYYMM of refYear ' "
    "|| coalesce(refYear::VARCHAR, 'NULL') END"
)


# The bulk API names a file for its reporter-year (sources.md 1.5, 1.7): COMTRADE-FINAL-CA1562010H3[2011-06-30].gz
# is C(ommodities), A(nnual), reporter 156, 2010, HS 2007; CM504200003H1 is monthly, reporter 504, March 2000.
_BULK_NAME = re.compile(r"COMTRADE-[A-Z]+-C(?P<freq>[AM])(?P<reporter>\d{3})(?P<period>\d{4}|\d{6})[A-Z]")


def named_reporter_year(f: InputFile) -> tuple[str, int, str] | None:
    """(freqCode, reporterCode, period) a bulk file's name states, or None for a file not named by the bulk API
    (a landing extract may hold several reporter-years)."""
    found = _BULK_NAME.search(f.path.name) if f.fmt == "bulk_tsv" else None
    if found is None or len(found["period"]) != (4 if found["freq"] == "A" else 6):
        return None
    return found["freq"], int(found["reporter"]), found["period"]


def file_rule(f: InputFile) -> str:
    """:data:`ROW_RULE`, and for a bulk file named for one reporter-year, that every row is of that reporter-year
    (as a Comext month file holds its own month only): a row of another reporter, year or frequency would be
    published under the wrong key, and would let the file supersede API pages it does not cover."""
    named = named_reporter_year(f)
    if named is None:
        return ROW_RULE
    freq, reporter, period = named
    return (
        f"coalesce({ROW_RULE}, CASE WHEN NOT coalesce(freqCode = '{freq}' AND reporterCode = {reporter} "
        f"AND period = '{period}', false) THEN 'freqCode ' || coalesce(freqCode, 'NULL') || ', reporterCode ' "
        f"|| coalesce(reporterCode::VARCHAR, 'NULL') || ', period ' || coalesce(period, 'NULL') || "
        f"' in a file named for freqCode {freq}, reporter {reporter}, period {period}; a bulk file holds "
        "its own reporter-year only' END)"
    )


def typed_select(f: InputFile) -> str:
    """A SELECT yielding the 47 typed fields (in :data:`COLUMNS` order) and ``_line``, the record's line in
    a bulk file (the header is line 1) or its position in a page's data array (1-based)."""
    cols = ", ".join(f'"{k}"' for k in COLUMNS)
    if f.fmt == "api_json":
        return (
            f"SELECT {cols}, _line FROM (SELECT unnest(rec), _line FROM ("
            f"  SELECT unnest(data) AS rec, unnest(range(1, len(data) + 1)) AS _line FROM {_json_source(f.path)}))"
        )
    # every column named, in file order, with its type: no sniffing, so a short or long row, or a value
    # that does not parse, is an error naming its line
    header = bulk_header(f)
    columns = "{" + ", ".join(f"{sql_string(c)}: '{COLUMNS[c]}'" for c in header) + "}"
    return (
        f"SELECT {cols}, row_number() OVER () + 1 AS _line "
        f"FROM read_csv({sql_string(f.path)}, header=true, delim='\\t', quote='', escape='', "
        f"auto_detect=false, columns={columns})"
    )
