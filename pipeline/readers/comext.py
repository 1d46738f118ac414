"""Eurostat Comext files -> ``raw.comext_sdmx`` and ``raw.comext_bulk``.

Layouts (sources.md 4.1-4.2), told apart by their header line:

* SDMX-CSV from the DS-045409 API: ``DATAFLOW, LAST UPDATE, freq, reporter,
  partner, product, flow, indicators, TIME_PERIOD, OBS_VALUE[, OBS_FLAG]``;
* bulk ``full_v2`` ``.dat``/CSV: ``REPORTER, PARTNER, TRADE_TYPE, PRODUCT_NC, ...``;
* the older bulk layout: ``DECLARANT, DECLARANT_ISO, PARTNER, PARTNER_ISO, ...``.

Bulk files also come as Eurostat ships them, one ``.dat`` inside a ``.7z``
archive (``full_v2_YYYYMM.7z``). Such an archive is never read row by row in
Python: its member is unpacked into a cache folder, DuckDB converts it to one
typed Parquet file (per month, as the archive is per month), the unpacked copy
is deleted, and the raw table is loaded from the Parquet file. The Parquet
file keeps every source column, the source line of each row and two
classifications, so nothing is dropped on the way:

* ``product_kind``: ``cn8`` (eight digits), ``confidential`` (a code with
  ``X``, e.g. ``39XXXXXX``), ``total`` (``TOTAL``), ``aggregate`` (2, 4 or 6
  digits) or ``special`` (any other code, e.g. ``99RRR100``);
* ``partner_kind``: the partner's kind in ``data/reference/area_codes.csv``
  (country, aggregate, unspecified, confidential, special; QP-QZ are the
  pseudo-partners), ``unknown`` when the code is not in it.

A ``.parquet`` file written by this conversion may also be dropped in an
input folder and is read as it is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from pipeline.paths import REFERENCE_DIR, DataPaths
from pipeline.readers.inputs import InputError, InputFile, first_line
from pipeline.readers.raw_store import sql_string

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


# --------------------------------------------------------------------------- detection


def detect(path: Path) -> str | None:
    """Layout name from the header line; None for files that are not Comext data."""
    name = path.name.lower()
    # An archive or Parquet file that cannot be opened still counts as a bulk file: validate() then
    # rejects it with the reason, so it is reported (or quarantined) like any other bad input.
    if name.endswith(ARCHIVE_SUFFIX):
        try:
            return bulk_layout(archive_first_line(path))
        except InputError:
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


def select_bulk(f: InputFile) -> str:
    name = f.path.name.lower()
    if name.endswith((ARCHIVE_SUFFIX, PARQUET_SUFFIX)):
        parquet = f.path if name.endswith(PARQUET_SUFFIX) else cached_bulk_parquet(f.path, f.sha256).parquet
        cols = ", ".join(BULK_COLUMNS)
        return (
            f"SELECT {cols}, _line, {sql_string(f.release)} AS release "
            f"FROM read_parquet({sql_string(parquet)})"
        )
    names = _BULK_LAYOUTS[f.fmt]
    # Typed in the CSV reader itself so that a bad value is reported with its line.
    types = "{" + ", ".join(f"'{src}': '{BULK_COLUMNS[dst]}'" for dst, src in names.items()) + "}"
    cols = ", ".join(f'"{src}" AS {dst}' for dst, src in names.items())
    return (
        f"SELECT {sql_string(f.fmt)} AS layout, {cols}, row_number() OVER () + 1 AS _line, "
        f"{sql_string(f.release)} AS release "
        f"FROM read_csv({sql_string(f.path)}, header=true, delim=',', all_varchar=true, types={types})"
    )


# --------------------------------------------------------------------------- 7z archives


class _Enough(Exception):
    """Raised by the head writer to stop decompression once the first line is in."""


def _head_factory(limit: int):
    from py7zr.io import Py7zIO, WriterFactory

    class Head(Py7zIO):
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, s) -> int:
            self.data += s
            if b"\n" in self.data or len(self.data) >= limit:
                raise _Enough
            return len(s)

        def read(self, size=None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def flush(self) -> None:
            pass

        def size(self) -> int:
            return len(self.data)

    class Factory(WriterFactory):
        def __init__(self) -> None:
            self.head = Head()

        def create(self, filename: str):
            return self.head

    return Factory()


def archive_member(path: Path) -> tuple[str, int]:
    """Name and unpacked size of the one data file in a Comext ``.7z``."""
    import py7zr

    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            members = [m for m in archive.list() if not m.is_directory]
    except (py7zr.exceptions.ArchiveError, OSError, EOFError, ValueError) as exc:
        raise InputError(f"{path}: not a readable 7z archive ({type(exc).__name__}: {exc})") from exc
    if len(members) != 1:
        names = [m.filename for m in members]
        raise InputError(f"{path}: a Comext archive holds exactly one data file; found {len(members)} {names}")
    return members[0].filename, int(members[0].uncompressed)


def archive_first_line(path: Path, limit: int = 1 << 16) -> str:
    """The header line of the archive's data file, unpacking only its first block."""
    import py7zr

    member, _ = archive_member(path)
    factory = _head_factory(limit)
    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            archive.extract(targets=[member], factory=factory)
    except _Enough:
        pass
    except (py7zr.exceptions.ArchiveError, OSError, EOFError, ValueError) as exc:
        raise InputError(f"{path}: cannot unpack {member} ({type(exc).__name__}: {exc})") from exc
    return bytes(factory.head.data).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()


def extract_member(path: Path, dest_dir: Path) -> Path:
    """Unpack the archive's data file into ``dest_dir`` (CRC checked by py7zr); returns its path.

    The file is unpacked under a temporary folder and renamed into place, so a
    crash never leaves a half-written ``.dat`` that looks complete.
    """
    import py7zr

    member, expected = archive_member(path)
    dest_dir.mkdir(parents=True, exist_ok=True)
    staging = dest_dir / f".unpack-{path.name}-{time.monotonic_ns()}"
    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            archive.extract(path=staging, targets=[member])
        unpacked = staging / member
        if not unpacked.is_file():
            raise InputError(f"{path}: {member} was not unpacked")
        if unpacked.stat().st_size != expected:
            raise InputError(
                f"{path}: {member} unpacked to {unpacked.stat().st_size} bytes, the archive states {expected}"
            )
        target = dest_dir / Path(member).name
        unpacked.replace(target)
        return target
    except (py7zr.exceptions.ArchiveError, OSError, EOFError, ValueError) as exc:
        raise InputError(f"{path}: cannot unpack {member} ({type(exc).__name__}: {exc})") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------- typed Parquet per month


@dataclass
class ConversionReport:
    """What one bulk file turned into; kept as JSON next to the cached Parquet file."""

    source: str
    parquet: str
    layout: str
    member: str
    rows: int
    periods: list[int]
    source_bytes: int
    unpacked_bytes: int
    parquet_bytes: int
    seconds_unpack: float
    seconds_convert: float
    product_kinds: dict[str, int] = field(default_factory=dict)
    partner_kinds: dict[str, int] = field(default_factory=dict)
    confidential_value_eur: float = 0.0
    pseudo_partner_value_eur: float = 0.0
    cached: bool = False

    @property
    def seconds(self) -> float:
        return self.seconds_unpack + self.seconds_convert

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_metadata(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3), "rows_per_second": round(self.rows_per_second)}


def period_in_name(path: Path) -> int | None:
    """YYYYMM (or YYYY52 for annual files) stated in a bulk file name, if any."""
    found = re.findall(r"(?<!\d)((?:19|20)\d{2}(?:0[1-9]|1[0-2]|52))(?!\d)", path.name)
    return int(found[-1]) if found else None


def _bulk_select(source: Path, header: list[str], layout: str, label: str = "") -> str:
    """Typed SELECT over a bulk CSV with every source column, its line, and the two kinds."""
    names = _BULK_LAYOUTS[layout]
    mapped = set(names.values())
    extras = [c for c in header if c not in mapped]
    if len(set(header)) != len(header):
        raise InputError(f"{label or source}: line 1: a column name appears twice in {header}")
    typed = {src: BULK_COLUMNS[dst] for dst, src in names.items()} | _EXTRA_NUMERIC
    # every column named, in file order, with its type: no dialect sniffing, and a short or long row
    # anywhere in the file is an error with its line number
    columns = "{" + ", ".join(f"{sql_string(c)}: '{typed.get(c, 'VARCHAR')}'" for c in header) + "}"
    # legacy files name the numeric codes DECLARANT/PARTNER and the ISO ones *_ISO
    extra_names = {"DECLARANT": "declarant_code", "PARTNER": "partner_code"} if layout == "legacy" else {}
    extra_cols = "".join(
        f', "{c}" AS "{extra_names.get(c, re.sub(r"[^a-z0-9_]", "_", c.lower()))}"' for c in extras
    )
    cols = ", ".join(f'"{src}" AS {dst}' for dst, src in names.items())
    areas = sql_string(REFERENCE_DIR / "area_codes.csv")
    return f"""
        SELECT {sql_string(layout)} AS layout, s.* EXCLUDE (_line),
            CASE
                WHEN s.product_nc = 'TOTAL' THEN 'total'
                WHEN contains(s.product_nc, 'X') THEN 'confidential'
                WHEN regexp_full_match(s.product_nc, '[0-9]{{8}}') THEN 'cn8'
                WHEN regexp_full_match(s.product_nc, '[0-9]{{2}}|[0-9]{{4}}|[0-9]{{6}}') THEN 'aggregate'
                WHEN s.product_nc IS NOT NULL THEN 'special'
            END AS product_kind,
            coalesce(a.kind, 'unknown') AS partner_kind,
            s._line
        FROM (
            SELECT {cols}{extra_cols}, row_number() OVER () + 1 AS _line
            FROM read_csv({sql_string(source)}, header=true, delim=',', quote='"', escape='"',
                          auto_detect=false, columns={columns})
        ) AS s
        LEFT JOIN (
            SELECT code, kind FROM read_csv({areas}, header=true, all_varchar=true) WHERE source = 'comext'
        ) AS a ON a.code = s.partner"""


def _fail_on_bad_rows(conn: duckdb.DuckDBPyConnection, parquet: Path, source: str, expected: int | None) -> None:
    """Rows without a key or with another period than the file name states: name the first one."""
    empty = " OR ".join(f"{c} IS NULL" for c in _BULK_KEYS)
    which = "CASE " + " ".join(f"WHEN {c} IS NULL THEN '{c}'" for c in _BULK_KEYS) + " END"
    bad = conn.execute(
        f"SELECT _line, {which} FROM read_parquet({sql_string(parquet)}) WHERE {empty} ORDER BY _line LIMIT 1"
    ).fetchall()
    if bad:
        line, column = bad[0]
        raise InputError(f"{source}: line {line}: empty {column}; a bulk row needs {_BULK_KEYS}")
    if expected is not None:
        other = conn.execute(
            f"SELECT _line, period FROM read_parquet({sql_string(parquet)}) WHERE period <> ? ORDER BY _line LIMIT 1",
            [expected],
        ).fetchall()
        if other:
            line, period = other[0]
            raise InputError(
                f"{source}: line {line}: PERIOD {period} in a file named for {expected}; "
                "a monthly file must hold its own month only"
            )


def convert_bulk_to_parquet(
    source: Path,
    target: Path,
    *,
    work_dir: Path,
    source_sha256: str = "",
    check_period: bool = True,
    conn: duckdb.DuckDBPyConnection | None = None,
) -> ConversionReport:
    """Convert one bulk file (``.7z``, ``.dat``, ``.csv``, gzipped or not) to typed Parquet.

    DuckDB reads the CSV and writes Parquet itself (COPY); no row passes
    through Python. The Parquet file is written under a temporary name and
    renamed into place only after its rows passed the checks, so ``target``
    either holds a complete, checked conversion or does not exist.
    """
    source = Path(source)
    work_dir.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    unpacked: Path | None = None
    label = str(source)
    if source.name.lower().endswith(ARCHIVE_SUFFIX):
        member, _ = archive_member(source)
        label = f"{source} (member {member})"
        # a folder of its own: two runs converting the same month at once never share a file
        unpacked = extract_member(source, work_dir / f"unpacked-{os.getpid()}-{time.monotonic_ns()}")
        csv_path = unpacked
    else:
        member = source.name
        csv_path = source
    t1 = time.perf_counter()
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{time.monotonic_ns()}.tmp")
    own = conn is None
    con = conn or duckdb.connect(config={"temp_directory": str(work_dir / "duckdb_tmp")})
    try:
        if not csv_path.stat().st_size:
            raise InputError(f"{label}: empty file (0 bytes)")
        header = _split_header(first_line(csv_path))
        layout = bulk_layout(",".join(header))
        _check_header(label, header, layout)
        meta = {"layout": layout, "source": source.name, "source_sha256": source_sha256, "version": PARQUET_VERSION}
        try:
            rows = con.execute(
                f"COPY ({_bulk_select(csv_path, header, layout, label)}) TO {sql_string(tmp)} "
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000, "
                f"KV_METADATA {{'{PARQUET_KEY}': {sql_string(json.dumps(meta))}}})"
            ).fetchall()[0][0]
        except duckdb.Error as exc:
            raise InputError(f"{label}: {exc}") from exc
        _fail_on_bad_rows(con, tmp, label, period_in_name(source) if check_period else None)
        stats = con.execute(
            f"""SELECT product_kind, partner_kind, count(*), sum(value_eur) FROM read_parquet({sql_string(tmp)})
                GROUP BY ALL"""
        ).fetchall()
        periods = [p for (p,) in con.execute(
            f"SELECT DISTINCT period FROM read_parquet({sql_string(tmp)}) ORDER BY 1").fetchall()]
        tmp.replace(target)
    finally:
        if own:
            con.close()
        tmp.unlink(missing_ok=True)
        if unpacked is not None:
            unpacked_bytes = unpacked.stat().st_size if unpacked.exists() else 0
            shutil.rmtree(unpacked.parent, ignore_errors=True)
    t2 = time.perf_counter()
    product_kinds: dict[str, int] = {}
    partner_kinds: dict[str, int] = {}
    for product_kind, partner_kind, n, _ in stats:
        product_kinds[product_kind] = product_kinds.get(product_kind, 0) + n
        partner_kinds[partner_kind] = partner_kinds.get(partner_kind, 0) + n
    return ConversionReport(
        source=str(source), parquet=str(target), layout=layout, member=member, rows=int(rows), periods=periods,
        source_bytes=source.stat().st_size,
        unpacked_bytes=unpacked_bytes if unpacked is not None else csv_path.stat().st_size,
        parquet_bytes=target.stat().st_size, seconds_unpack=round(t1 - t0, 3), seconds_convert=round(t2 - t1, 3),
        product_kinds=product_kinds, partner_kinds=partner_kinds,
        confidential_value_eur=float(sum(v or 0 for p, _, _, v in stats if p == "confidential")),
        pseudo_partner_value_eur=float(
            sum(v or 0 for _, k, _, v in stats if k in ("unspecified", "confidential", "special"))
        ),
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


def bulk_cache_dir(paths: DataPaths | None = None) -> Path:
    """Where converted bulk months live: ``<data dir>/work/comext_parquet`` (private working state)."""
    return (paths or DataPaths.resolve()).work / "comext_parquet"


def cached_bulk_parquet(archive: Path, sha256: str, cache_dir: Path | None = None) -> ConversionReport:
    """The typed Parquet file of a bulk archive, converted once per archive content (sha256).

    A new version of the same file name replaces the older conversion.
    """
    cache_dir = cache_dir or bulk_cache_dir()
    stem = archive.name[: -len(ARCHIVE_SUFFIX)] if archive.name.lower().endswith(ARCHIVE_SUFFIX) else archive.stem
    key = f"{stem}.{sha256[:16]}.v{PARQUET_VERSION}"
    target = cache_dir / f"{key}.parquet"
    report_file = cache_dir / f"{key}.json"
    if target.exists() and report_file.exists():
        report = ConversionReport(**json.loads(report_file.read_text(encoding="utf-8")))
        report.cached = True
        return report
    report = convert_bulk_to_parquet(archive, target, work_dir=cache_dir / "tmp", source_sha256=sha256)
    tmp = report_file.with_name(f".{report_file.name}.{os.getpid()}-{time.monotonic_ns()}.tmp")
    tmp.write_text(json.dumps(asdict(report), indent=1), encoding="utf-8")
    tmp.replace(report_file)
    for old in cache_dir.glob(f"{stem}.*"):
        if old.name.startswith(f"{stem}.") and not old.name.startswith(key) and old.suffix in (".parquet", ".json"):
            old.unlink(missing_ok=True)
    return report
