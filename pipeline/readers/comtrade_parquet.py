"""UN Comtrade files -> one typed Parquet file each, converted once per content (sha256).

DuckDB reads the file (``read_csv`` with every column named and typed, or ``read_json``
with the record struct) and writes Parquet itself (``COPY``): no row passes through
Python. The Parquet file is written under a temporary name and renamed into place only
after its rows passed the row rule (and, for a bulk file, the rule that it holds the
reporter-year its name states), so a cached file is always complete and checked. A JSON
report beside it holds the rows, years and coverage (rows per frequency, reporter, year
and flow), so that a cache hit costs two small reads and no scan. The cache is the one
Comext months use (:mod:`pipeline.readers.parquet_cache`).

Bulk files (one per reporter-year) are converted as soon as they are downloaded
(``raw/comtrade_bulk_files``, outside the DuckDB writer pool) and again only if their
content changes; the raw asset converts what is not cached yet (landing files, API pages).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from pipeline.io import atomic_path, sql_string
from pipeline.paths import DataPaths
from pipeline.readers import comtrade
from pipeline.readers.inputs import InputError, InputFile
from pipeline.readers.parquet_cache import cache_key, cached

PARQUET_KEY = "geomonitor.comtrade"
# Bump when the Parquet columns or the checks change: every file is then converted again, held ones too.
# 2: a bulk file named for a reporter-year holds that reporter-year only (comtrade.file_rule).
PARQUET_VERSION = 2
ROW_GROUP_SIZE = 1_000_000


def cache_dir(paths: DataPaths) -> Path:
    """``work/comtrade_parquet``: private working state beside the warehouse, rebuilt from the inputs if lost."""
    return paths.work / "comtrade_parquet"


@dataclass
class Conversion:
    """What one Comtrade file turned into; kept as JSON next to its Parquet file."""

    source: str
    parquet: str
    format: str
    sha256: str
    rows: int
    years: list[int]
    # [freqCode, reporterCode, refYear, flowCode, rows] per key the file holds
    coverage: list[list] = field(default_factory=list)
    source_bytes: int = 0
    parquet_bytes: int = 0
    seconds: float = 0.0
    cached: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_metadata(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "coverage"}
        return {**out, "rows_per_second": round(self.rows_per_second)}


def cache_name(f: InputFile) -> str:
    """``<file name>.<sha256 prefix>.v<version>``: a new content or a new converter is a new name."""
    return cache_key(f.path.name, f.sha256, PARQUET_VERSION)


def convert(f: InputFile, target: Path, conn: duckdb.DuckDBPyConnection) -> Conversion:
    """Convert one Comtrade file to typed Parquet at ``target``; InputError (file, line, reason) if it cannot
    be read whole. ``target`` then holds a complete, checked conversion, or does not exist."""
    started = time.perf_counter()
    comtrade.validate(conn, f)
    meta = json.dumps({"source": f.path.name, "format": f.fmt, "sha256": f.sha256, "version": PARQUET_VERSION})
    with atomic_path(target) as tmp:
        try:
            rows = conn.execute(
                f"COPY ({comtrade.typed_select(f)}) TO {sql_string(tmp)} (FORMAT parquet, COMPRESSION zstd, "
                f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}, KV_METADATA {{'{PARQUET_KEY}': {sql_string(meta)}}})"
            ).fetchall()[0][0]
        except duckdb.Error as exc:
            raise InputError(f"{f.path}: {exc}") from exc
        parquet = f"read_parquet({sql_string(tmp)})"
        bad = conn.execute(
            f"SELECT _line, reason FROM (SELECT _line, ({comtrade.file_rule(f)}) AS reason FROM {parquet}) "
            "WHERE reason IS NOT NULL ORDER BY _line LIMIT 1").fetchall()
        if bad:
            raise InputError(f"{f.path}: line {bad[0][0]}: {bad[0][1]}")
        keys = ", ".join(comtrade.COVERAGE_KEY)
        coverage = [list(r) for r in conn.execute(
            f"SELECT {keys}, count(*) FROM {parquet} GROUP BY ALL ORDER BY ALL").fetchall()]
    years = sorted({r[2] for r in coverage if r[2] is not None})
    return Conversion(source=str(f.path), parquet=str(target), format=f.fmt, sha256=f.sha256, rows=int(rows),
                      years=years, coverage=coverage, source_bytes=f.size, parquet_bytes=target.stat().st_size,
                      seconds=round(time.perf_counter() - started, 3))


def cached_conversion(f: InputFile, folder: Path, conn: duckdb.DuckDBPyConnection | None = None) -> Conversion:
    """The typed Parquet file of ``f``, converted once per content; ``conn`` (a cursor) or an in-memory
    DuckDB of its own does the work."""
    def convert_with(target: Path) -> Conversion:
        if conn is not None:
            return convert(f, target, conn)
        with duckdb.connect(config={"temp_directory": str(folder / "duckdb_tmp")}) as con:
            return convert(f, target, con)

    return cached(folder, cache_name(f), convert_with, Conversion)
