"""UN Comtrade files -> typed Parquet, converted once per content (sha256).

DuckDB reads the file (``read_csv`` with every column named and typed, or ``read_json``
with the record struct) and writes Parquet itself (``COPY``): no row passes through
Python. The Parquet file is written under a temporary name and renamed into place only
after its rows passed the row rule (and, for a bulk file, the rule that it holds the
reporter-year its name states), so a cached file is always complete and checked. A JSON
report per input file holds the rows, years and coverage (rows per frequency, reporter, year
and flow), so that a cache hit costs two small reads and no scan. The cache is the one
Comext months use (:mod:`pipeline.readers.parquet_cache`).

A bulk file is converted on its own (one gzip stream, hundreds of MB). The API pages of a run
are converted together (:func:`convert_pages`): one ``read_json`` over the list of new pages,
their envelopes and rows checked per page in SQL, and the rows of the pages that pass written
to one Parquet file, each row with its page's cache key (``_part``). A run of the demo world
brings 378 pages of about 700 records; four queries and a Parquet file per page cost 7.2 s of
a 9.0 s step. A page that fails is quarantined alone: its envelope and rows are judged on its
own, and a page that stops DuckDB's read of the batch (a value that does not parse, a cut
gzip stream) is found by the error naming it, or by halving the batch, and read alone.

Bulk files (one per reporter-year) are converted as soon as they are downloaded
(``raw/comtrade_bulk_files``, outside the DuckDB writer pool) and again only if their
content changes; the raw asset converts what is not cached yet (landing files, API pages).

The demo world's pages (synthetic: a pure function of the generator's stamp, and the same in every
fresh data folder) are converted once per checkout: a batch of synthetic pages converted whole, in
one file, is kept in ``<repo>/.cache/comtrade_pages`` (:data:`SHARED_DIR`, one checked entry per
batch, page keys, converter version and DuckDB version: :mod:`pipeline.readers.checked_cache`) and
a new data folder links that file and the pages' reports instead of reading the JSON again (2.3-2.6
of the 2.5 CPU-s of the demo world's ``raw/comtrade_records``). A user's data (not synthetic) never
leaves its data folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from pipeline.io import atomic_path, packed, sql_string
from pipeline.paths import DataPaths
from pipeline.readers import checked_cache
from pipeline.readers.inputs import InputError, InputFile
from pipeline.readers.parquet_cache import cache_key, cached, read_report, write_report
from pipeline.sources.comtrade import reader as comtrade

PARQUET_KEY = "geomonitor.comtrade"
# Bump when the Parquet columns or the checks change: every file is then converted again, held ones too.
# 2: a bulk file named for a reporter-year holds that reporter-year only (comtrade.file_rule).
PARQUET_VERSION = 2
ROW_GROUP_SIZE = 1_000_000
# A batch of pages is read into DuckDB's memory at once, its records taking about half the size of their
# JSON: a batch stays well inside the warehouse's 2 GB memory_limit. The demo world's 378 pages (281 MB of
# JSON) are one batch; a full 100,000-record page is about 120 MB.
BATCH_JSON_BYTES = 384 * 2**20
# the batch file is sorted by year, in row groups small enough for a year-narrowed read to skip the others
BATCH_ROW_GROUP_SIZE = 122_880
# The checkout's conversions of synthetic page batches (git-ignored, as the demo worlds beside it); None: off.
SHARED_DIR: Path | None = Path(__file__).resolve().parents[4] / ".cache" / "comtrade_pages"
# Entries kept besides the one just used, the most recently used first (a default world's batch is about 7 MB).
SHARED_KEEP = 6


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
    parquet_bytes: int = 0  # of a batch's file: the file's share, by rows
    seconds: float = 0.0  # of a batch: the file's share, by rows
    cached: bool = False
    # the file's rows in a batch's Parquet file (column _part, its cache key); empty: the Parquet file is its own
    part: str = ""

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
        # the row rule and the coverage in one scan: per key, its rows and its first bad line
        keys = ", ".join(comtrade.COVERAGE_KEY)
        found = conn.execute(
            f"SELECT {keys}, count(*), min(_line) FILTER (WHERE reason IS NOT NULL), "
            f"arg_min(reason, _line) FILTER (WHERE reason IS NOT NULL) "
            f"FROM (SELECT *, ({comtrade.file_rule(f)}) AS reason FROM read_parquet({sql_string(tmp)})) "
            "GROUP BY ALL ORDER BY ALL").fetchall()
        bad = min(((r[-2], r[-1]) for r in found if r[-2] is not None), default=None)
        if bad:
            raise InputError(f"{f.path}: line {bad[0]}: {bad[1]}")
        coverage = [list(r[:-2]) for r in found]
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


def held_conversion(f: InputFile, folder: Path) -> Conversion | None:
    """The cached conversion of ``f`` (its own Parquet file, or its part of a batch's), or None."""
    return read_report(folder, cache_name(f), Conversion)


def page_batches(pages: list[InputFile]) -> list[list[InputFile]]:
    """The pages in batches of at most :data:`BATCH_JSON_BYTES` of JSON (or one larger page), in the given
    order; the synthetic ones (the demo world's) apart from the others, so that their batch is the same in every
    data folder whatever else it reads, and can be shared (:data:`SHARED_DIR`)."""
    return [batch for synthetic in (True, False)
            for batch in packed([f for f in pages if f.synthetic is synthetic], json_bytes, BATCH_JSON_BYTES)]


def convert_pages(batch: list[InputFile], folder: Path, conn: duckdb.DuckDBPyConnection
                  ) -> tuple[dict[str, Conversion], dict[str, str]]:
    """Convert a batch of API pages (``fmt`` api_json, :func:`page_batches`) together: ({label: conversion},
    {label: reason}).

    Each page is judged on its own (envelope, then row rule) as :func:`convert` judges it; the pages that
    pass are written to one Parquet file, renamed into place once every check ran, and each gets its report
    (``<cache key>.json``) naming that file and its ``part``. Pages with the same name and content share a
    key and are read once. ``conn`` (a cursor) holds two temporary tables while it works."""
    by_key: dict[str, list[InputFile]] = {}
    for f in batch:
        by_key.setdefault(cache_name(f), []).append(f)
    firsts = [files[0] for files in by_key.values()]
    outcome: dict[str, Conversion | str] = {
        cache_name(f): f"empty file (0 bytes), expected {f.fmt}" for f in firsts if f.size == 0}
    readable = [f for f in firsts if f.size > 0]
    if readable:
        shared = _from_shared(readable, folder)
        if shared is not None:
            outcome.update(shared)
        else:
            _read_batch(readable, folder, conn, outcome)
            _to_shared(readable, folder, outcome)
    done: dict[str, Conversion] = {}
    failed: dict[str, str] = {}
    for key, files in by_key.items():
        for f in files:
            if isinstance(outcome[key], str):
                failed[f.label] = outcome[key]
            else:
                done[f.label] = outcome[key]
    return done, failed


def _read_batch(batch: list[InputFile], folder: Path, conn: duckdb.DuckDBPyConnection,
                outcome: dict[str, Conversion | str]) -> None:
    """One DuckDB read of ``batch`` (distinct keys, none empty) into ``outcome`` {key: conversion or reason}.
    When the read itself fails, the page its error names is read alone and the others again together; an
    error that names no single page halves the batch."""
    try:
        outcome.update(_convert_together(batch, folder, conn))
        return
    except duckdb.Error as exc:
        error = str(exc)
    if len(batch) == 1:
        named, rest = batch, []
    else:
        # the longest path the error names (a page "x.json" must not be taken for "x.json.gz")
        named_paths = sorted((str(f.path) for f in batch if str(f.path) in error), key=len)[-1:]
        named = [f for f in batch if str(f.path) in named_paths]
        rest = [f for f in batch if f not in named]
        if not named:
            half = len(batch) // 2
            for part in (batch[:half], batch[half:]):
                _read_batch(part, folder, conn, outcome)
            return
    for f in named:
        # alone, as any file: its own Parquet file, or the reason that names its file and line
        try:
            outcome[cache_name(f)] = cached_conversion(f, folder, conn)
        except InputError as exc:
            text = str(exc)
            outcome[cache_name(f)] = text[len(f"{f.path}: "):] if text.startswith(f"{f.path}: ") else text
    if rest:
        _read_batch(rest, folder, conn, outcome)


class _NoGoodPage(Exception):
    """No page of a batch passed its checks: its Parquet file is not kept."""


def json_bytes(f: InputFile) -> int:
    """The JSON size of a page: a gzip file's own record of its inflated size (its last four bytes, modulo 4 GiB),
    at most what deflate can inflate to (1032 times: the last bytes of a cut file are anything), else the file's
    size. A file that lies about it fails the batch's read and is then read alone."""
    if not f.path.name.endswith(".gz") or f.size < 18:
        return f.size
    with f.path.open("rb") as fh:
        fh.seek(-4, 2)
        return min(int.from_bytes(fh.read(4), "little"), 1032 * f.size)


def batch_target(folder: Path, keys) -> Path:
    """The Parquet file of a batch of pages, named for the pages' keys: the same batch again is the same file."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]
    return folder / f"api_pages.{digest}.v{PARQUET_VERSION}.parquet"


def _convert_together(batch: list[InputFile], folder: Path, conn: duckdb.DuckDBPyConnection
                      ) -> dict[str, Conversion | str]:
    """Read every page of ``batch`` in one ``read_json`` streamed into one Parquet file, judge each page on that
    file, and keep it with the good pages' records only. Raises duckdb.Error when DuckDB cannot read the batch
    (then nothing is written)."""
    started = time.perf_counter()
    keys = {str(f.path): cache_name(f) for f in batch}
    files = "[" + ", ".join(sql_string(f.path) for f in batch) + "]"
    cols = ", ".join(f'"{k}"' for k in comtrade.COLUMNS)
    # DuckDB holds two buffers of maximum_object_size per thread: sized to the batch's largest page, not to
    # the largest page there can be (two threads of 512 MB each left little of a 2 GB limit for the rows)
    largest = min(comtrade.MAX_PAGE_BYTES, max(16 * 2**20, 2 * max(json_bytes(f) for f in batch)))
    source = comtrade.json_source(files, filename=True, maximum_object_size=largest)
    key_of = "(SELECT unnest(?::VARCHAR[]) AS filename, unnest(?::VARCHAR[]) AS _part)"
    target = batch_target(folder, keys.values())
    meta = json.dumps({"pages": len(batch), "format": "api_json", "version": PARQUET_VERSION})
    options = (f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {BATCH_ROW_GROUP_SIZE}, "
               f"KV_METADATA {{'{PARQUET_KEY}': {sql_string(meta)}}}")
    folder.mkdir(parents=True, exist_ok=True)
    reasons: dict[str, str] = {}
    try:
        with atomic_path(target) as tmp:
            # One pass from the JSON to Parquet, without holding the records in a table (a quarter less CPU):
            # every record (_line its position in the page's data array) with its page's envelope (_count,
            # _error, _n, _obj its object in the file), and one row with a NULL _line for a page without
            # records, so that each page's envelope is there to be judged. Sorted by year: a year-narrowed read
            # skips the other years' row groups.
            conn.execute(
                f"COPY (SELECT {cols}, _line, k._part, _obj, count AS _count, error AS _error, n AS _n FROM ("
                f"  SELECT filename, _obj, count, error, n, unnest(rec), _line FROM ("
                f"    SELECT filename, ordinality AS _obj, count, error, len(data) AS n, "
                f"    unnest(CASE WHEN len(data) > 0 THEN data ELSE [NULL] END) AS rec, "
                f"    unnest(CASE WHEN len(data) > 0 THEN range(1, len(data) + 1) ELSE [NULL] END) AS _line "
                f"    FROM {source} WITH ORDINALITY)"
                f") JOIN {key_of} AS k USING (filename) ORDER BY refYear, k._part, _line) "
                f"TO {sql_string(tmp)} ({options})",
                [list(keys), list(keys.values())])
            staged = f"read_parquet({sql_string(tmp)})"
            # as comtrade.validate, each page's first failing envelope: the API marked it as failed, or it holds
            # fewer records than announced; then the row rule on the other pages' records, the first bad one
            # naming its line
            reasons.update(conn.execute(
                "SELECT _part, arg_min(CASE WHEN _error IS NOT NULL AND _error <> '' "
                "THEN 'the API reported an error: ' || _error "
                "ELSE 'page holds ' || _n || ' records but the API announced ' || _count || ' (truncated page)' "
                "END, _obj) "
                f"FROM {staged} WHERE (_error IS NOT NULL AND _error <> '') OR _count <> _n GROUP BY _part").fetchall())
            reasons.update({part: f"line {line}: {reason}" for part, line, reason in conn.execute(
                f"SELECT _part, min(_line), arg_min(reason, _line) FROM (SELECT _part, _line, ({comtrade.ROW_RULE}) "
                f"AS reason FROM {staged} WHERE _line IS NOT NULL) WHERE reason IS NOT NULL GROUP BY _part"
            ).fetchall() if part not in reasons})
            good = [key for key in keys.values() if key not in reasons]
            coverage: dict[str, list[list]] = {key: [] for key in good}
            for part, *row in conn.execute(
                    f"SELECT _part, {', '.join(comtrade.COVERAGE_KEY)}, count(*) FROM {staged} WHERE _line IS NOT NULL "
                    "GROUP BY ALL ORDER BY ALL").fetchall():
                if part in coverage:
                    coverage[part].append(row)
            markers = conn.execute(f"SELECT count(*) FROM {staged} WHERE _line IS NULL").fetchall()[0][0]
            if not good:
                raise _NoGoodPage  # no file then
            if reasons or markers:
                # the file keeps the good pages' records only (a page that failed, or one without records)
                with atomic_path(tmp) as kept:
                    conn.execute(f"COPY (SELECT * FROM {staged} WHERE _line IS NOT NULL AND _part IN "
                                 f"(SELECT unnest(?::VARCHAR[])) ORDER BY refYear, _part, _line) TO {sql_string(kept)} "
                                 f"({options})", [good])
            total = sum(r[-1] for rows in coverage.values() for r in rows)
    except _NoGoodPage:
        return dict(reasons)
    size = target.stat().st_size
    seconds = time.perf_counter() - started
    outcome: dict[str, Conversion | str] = dict(reasons)
    by_path = {str(f.path): f for f in batch}
    for name, key in keys.items():
        if key not in coverage:
            continue
        f, rows = by_path[name], sum(r[-1] for r in coverage[key])
        share = rows / total if total else 1 / len(good)
        conversion = Conversion(
            source=name, parquet=str(target), format=f.fmt, sha256=f.sha256, rows=rows,
            years=sorted({r[2] for r in coverage[key] if r[2] is not None}), coverage=coverage[key],
            source_bytes=f.size, parquet_bytes=round(size * share), seconds=round(seconds * share, 3), part=key)
        write_report(folder, key, conversion)
        outcome[key] = conversion
    return outcome


def _shared_entry(batch: list[InputFile]) -> tuple[Path, dict] | None:
    """The checkout's entry for a batch of pages and its stamp; None when off or when a page is not synthetic."""
    if SHARED_DIR is None or not batch or not all(f.synthetic for f in batch):
        return None
    stamp = {"pages": sorted(cache_name(f) for f in batch), "version": PARQUET_VERSION, "duckdb": duckdb.__version__}
    return SHARED_DIR / checked_cache.entry_key(stamp), stamp


def _from_shared(batch: list[InputFile], folder: Path) -> dict[str, Conversion] | None:
    """{key: conversion} of a batch (distinct keys) from the checkout's entry, its files copied into ``folder`` and
    checked there against the entry's manifest; None when there is no good entry (the batch is then converted)."""
    found = _shared_entry(batch)
    if found is None:
        return None
    entry, stamp = found
    manifest = checked_cache.read_manifest(entry, stamp)
    if manifest is None:
        return None
    names = list(manifest["files"])
    try:
        # an entry with a file more or less than its manifest is damaged, even if only the listed ones are linked
        if checked_cache.listing_problem(entry, manifest) is not None:
            return None
        # copied, not linked: the data folder keeps these files as its raw store (8 MB on the embedded default)
        checked_cache.link_files(entry, folder, names, copy=True)
    except OSError:
        reason = "cannot copy"
    else:
        # what this data folder now holds, not the entry's name
        reason = checked_cache.problem(folder, manifest, exact=False)
    conversions = {}
    for f in batch:
        report = None if reason else read_report(folder, cache_name(f), Conversion)
        if report is None:
            reason = reason or f"no report for {cache_name(f)}"
            break
        report.source = str(f.path)
        conversions[cache_name(f)] = report
    if reason:
        for name in names:  # a damaged entry's files are not left for the next run to trust
            (folder / name).unlink(missing_ok=True)
        return None
    os.utime(entry)  # most recently used: pruned last
    return conversions


def _to_shared(batch: list[InputFile], folder: Path, outcome: dict[str, Conversion | str]) -> None:
    """Keep a batch of synthetic pages converted whole, in one file, as the checkout's entry. A batch with a page
    quarantined or read alone is not kept: every run judges it again."""
    found = _shared_entry(batch)
    done = [outcome.get(cache_name(f)) for f in batch]
    if found is None or not all(isinstance(c, Conversion) and c.part for c in done) or len(
            {c.parquet for c in done}) != 1:
        return
    entry, stamp = found
    names = [Path(done[0].parquet).name] + [f"{cache_name(f)}.json" for f in batch]
    build = checked_cache.unique(entry.parent, ".build-")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        checked_cache.link_files(folder, build, names)
        checked_cache.write_manifest(build, stamp)
        checked_cache.install(build, entry, stamp)
        checked_cache.prune(entry.parent, keep=entry, keep_others=SHARED_KEEP)
    except OSError:
        pass  # the entry only saves the next data folder's time; this run's conversion stands
    finally:
        shutil.rmtree(build, ignore_errors=True)
