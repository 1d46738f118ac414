"""Comext bulk files -> one typed Parquet file per month, cached per archive content.

An archive (``full_v2_YYYYMM.7z``) is never read row by row in Python: its
member is unpacked into a cache folder, DuckDB converts it to one typed
Parquet file (per month, as the archive is per month), the unpacked copy is
deleted, and the raw table is loaded from the Parquet file. The Parquet file
keeps every source column, the source line of each row and two
classifications, so nothing is dropped on the way:

* ``product_kind``: ``cn8`` (eight digits), ``confidential`` (a code with
  ``X``, e.g. ``39XXXXXX``), ``total`` (``TOTAL``), ``aggregate`` (2, 4 or 6
  digits) or ``special`` (any other code, e.g. ``99RRR100``);
* ``partner_kind``: the partner's kind in ``data/reference/area_codes.csv``
  (country, aggregate, unspecified, confidential, special; QP-QZ are the
  pseudo-partners), ``unknown`` when the code is not in it.

Plain CSV months (the demo world's, a landing folder's) are not converted: the new ones of a run are read into
the raw table together, in one DuckDB pass (:func:`read_months_together`), each still whole or not at all. The
demo world's months (synthetic, the same in every fresh data folder) are parsed once per checkout: the rows of a
pass that took them all are kept in ``<repo>/.cache/comext_months`` (:data:`SHARED_DIR`, a checked entry per pass:
:mod:`pipeline.readers.checked_cache`) and inserted from there by the next data folder, under the same checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from pipeline.io import atomic_path, sql_string
from pipeline.paths import REFERENCE_DIR, DataPaths
from pipeline.sources.comext.reader import (
    _BULK_KEYS,
    _BULK_LAYOUTS,
    _EXTRA_NUMERIC,
    ARCHIVE_SUFFIX,
    BULK_ROW_RULE,
    PARQUET_KEY,
    PARQUET_VERSION,
    _check_header,
    _split_header,
    archive_errors_as_input_errors,
    bulk_csv_read,
    bulk_layout,
    select_bulk,
)
from pipeline.readers import checked_cache
from pipeline.readers.inputs import InputError, InputFile, first_line
from pipeline.readers.parquet_cache import cache_key, cached, drop_other_versions
from pipeline.readers.raw_store import Outcome, quarantine, record_ingested
from pipeline.sources.comext.sevenzip import archive_member, extract_member


def parquet_dir(paths: DataPaths) -> Path:
    """``work/comext_parquet``: the converted bulk months, one typed Parquet file per archive content; private
    working state beside the warehouse, rebuilt from the archives if lost."""
    return paths.work / "comext_parquet"


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
    scan = bulk_csv_read([source], header, layout, extra_types=_EXTRA_NUMERIC, label=label)
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
            FROM {scan}
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
        with archive_errors_as_input_errors():
            member, _ = archive_member(source)
            label = f"{source} (member {member})"
            # a folder of its own: two runs converting the same month at once never share a file
            unpacked = extract_member(source, work_dir / f"unpacked-{os.getpid()}-{time.monotonic_ns()}")
        csv_path = unpacked
    else:
        member = source.name
        csv_path = source
    t1 = time.perf_counter()
    own = conn is None
    con = conn or duckdb.connect(config={"temp_directory": str(work_dir / "duckdb_tmp")})
    try:
        # renamed into place only after the checks below: target is complete and checked, or absent
        with atomic_path(target) as tmp:
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
    finally:
        if own:
            con.close()
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


def cached_bulk_parquet(archive: Path, sha256: str, cache_dir: Path) -> ConversionReport:
    """The typed Parquet file of a bulk archive, converted once per archive content (sha256), through the
    cache the Comtrade files use too (:mod:`pipeline.readers.parquet_cache`).

    A new version of the same file name replaces the older conversion.
    """
    stem = archive.name[: -len(ARCHIVE_SUFFIX)] if archive.name.lower().endswith(ARCHIVE_SUFFIX) else archive.stem
    key = cache_key(stem, sha256, PARQUET_VERSION)
    report = cached(cache_dir, key, lambda target: convert_bulk_to_parquet(
        archive, target, work_dir=cache_dir / "tmp", source_sha256=sha256), ConversionReport)
    if not report.cached:
        drop_other_versions(cache_dir, stem, key)
    return report


def bulk_selector(cache_dir: Path) -> Callable[[InputFile], str]:
    """``select_for`` of the bulk raw table: archives are read through their cached conversion."""
    def select(f: InputFile) -> str:
        if f.path.name.lower().endswith(ARCHIVE_SUFFIX):
            return select_bulk(f, cached_bulk_parquet(f.path, f.sha256, cache_dir).parquet)
        return select_bulk(f)
    return select


# --------------------------------------------------------------------------- new CSV months read together

# Plain bulk CSVs (compressed or not) are read together; archives and Parquet conversions one by one.
_PLAIN = (".csv", ".dat", ".txt", ".csv.gz", ".dat.gz")
# A pass holds at most this much CSV (gzip counted at 5x its size): the line numbers take a window over the whole
# pass, and the per-file cost this saves (a statement, a row-rule scan, a commit per file) only matters for small
# files; a full month of the real file (hundreds of MB) is read alone.
BATCH_BYTES = 256 * 2**20
# "file = <path>" in DuckDB's CSV errors: the file that stopped a pass
_ERROR_FILE = re.compile(r"^\s*file = (.+?)\s*$", re.MULTILINE)


def read_months_together(conn: duckdb.DuckDBPyConnection, table: str,
                         files: list[InputFile]) -> tuple[list[Outcome], list[InputFile]]:
    """``read_together`` of :func:`pipeline.readers.raw_store.sync_raw_table` for ``raw.comext_bulk``: the new plain
    CSV months with the same header read in one DuckDB pass per group (the demo world's 36 months: one INSERT, one
    row-rule scan, one commit), under the per-file contract. A file is still read whole or not at all: a month with a
    bad row is taken out of the pass and quarantined alone with its line and reason, the others go in; a month that
    stops DuckDB's read (a value that does not parse, a short row) is named by DuckDB's error (else found by halving)
    and left to be read alone, which quarantines it with its own line as before. Files with an unreadable or
    unknown header, archives and Parquet files are left to be read alone."""
    groups: dict[tuple, list[InputFile]] = {}
    alone: list[InputFile] = []
    for f in files:
        if f.size and f.path.name.lower().endswith(_PLAIN):
            try:
                header = _split_header(first_line(f.path))
                _check_header(str(f.path), header, f.fmt)
            except InputError:
                alone.append(f)  # its reason comes from the reading alone
                continue
            # the synthetic months (the demo world's) apart from the others: their pass is then the same in every data
            # folder, and can be shared (SHARED_DIR)
            groups.setdefault((f.fmt, tuple(header), f.synthetic), []).append(f)
        else:
            alone.append(f)
    outcomes: list[Outcome] = []
    for (layout, header, _), group in groups.items():
        for batch in _batches(group):
            done, left = _read_batch(conn, table, batch, list(header), layout)
            outcomes += done
            alone += left
    return outcomes, alone


def _batches(group: list[InputFile]) -> list[list[InputFile]]:
    batches: list[list[InputFile]] = [[]]
    held = 0
    for f in group:
        size = f.size * (5 if f.path.name.lower().endswith(".gz") else 1)
        if batches[-1] and held + size > BATCH_BYTES:
            batches.append([])
            held = 0
        batches[-1].append(f)
        held += size
    return batches


def _read_batch(conn: duckdb.DuckDBPyConnection, table: str, files: list[InputFile], header: list[str],
                layout: str) -> tuple[list[Outcome], list[InputFile]]:
    """Read ``files`` in passes until each is in (or quarantined for a bad row), or left to be read alone."""
    outcomes: list[Outcome] = []
    alone: list[InputFile] = []
    pending = [files]
    cur = conn.cursor()
    try:
        while pending:
            batch = pending.pop()
            if len(batch) < 2:
                alone += batch
                continue
            try:
                outcomes += _one_pass(cur, table, batch, header, layout)
            except duckdb.Error as exc:
                stopper = _named_file(str(exc), batch)
                if stopper is not None:
                    alone.append(stopper)
                    pending.append([f for f in batch if f is not stopper])
                else:  # not named: halve until the file that stops the read is alone
                    pending += [batch[: len(batch) // 2], batch[len(batch) // 2:]]
    finally:
        cur.close()
    return outcomes, alone


def _named_file(message: str, batch: list[InputFile]) -> InputFile | None:
    named = set(_ERROR_FILE.findall(message))
    return next((f for f in batch if str(f.path) in named), None)


def _one_pass(cur: duckdb.DuckDBPyConnection, table: str, files: list[InputFile], header: list[str],
              layout: str) -> list[Outcome]:
    """One transaction: every file's rows in, the bad-row files' rows out again (quarantined), the good files'
    ledger rows in one statement. A DuckDB error rolls everything back and passes through. Synthetic months (the
    demo world's) come from the checkout's copy of the same pass when there is a good one (:data:`SHARED_DIR`),
    and a pass over them that took every month is kept there."""
    shared = _shared_entry(table, files, header, layout)
    if shared is not None:
        with _shared_rows(*shared) as rows:
            if rows is not None:
                try:
                    return _insert_checked(cur, table, files, f"SELECT * FROM read_parquet({sql_string(rows)})", [])
                except duckdb.Error:
                    pass  # an entry that cannot be read: the months are read from their files
    cols = ", ".join(f'"{src}" AS {dst}' for dst, src in _BULK_LAYOUTS[layout].items())
    # one read_csv per file, numbered as the single-file reader numbers its rows (the header is line 1): a
    # row_number over the whole pass, less each file's first, ran in one thread and cost a fifth more CPU
    scans = [f"SELECT {sql_string(layout)} AS layout, {cols}, row_number() OVER () + 1 AS _line, "
             f"?::VARCHAR AS _file, ?::VARCHAR AS release, ?::BOOLEAN AS synthetic FROM "
             f"{bulk_csv_read([f.path], header, layout)}" for f in files]
    outcomes = _insert_checked(cur, table, files, " UNION ALL ".join(scans),
                               [v for f in files for v in (f.label, f.release, f.synthetic)])
    if shared is not None and all(rows is not None for _, rows, _ in outcomes):
        _keep_shared(cur, table, files, *shared)
    return outcomes


def _insert_checked(cur: duckdb.DuckDBPyConnection, table: str, files: list[InputFile], select: str,
                    params: list) -> list[Outcome]:
    """``select``'s rows (every column of ``table``) in, then :data:`BULK_ROW_RULE` per file, in one transaction."""
    cur.begin()
    try:
        cur.execute(f"INSERT INTO {table} BY NAME {select}", params)
        stats = cur.execute(
            f"""SELECT _file, count(*), min(_line) FILTER (WHERE reason IS NOT NULL),
                       arg_min(reason, _line) FILTER (WHERE reason IS NOT NULL)
                FROM (SELECT _file, _line, ({BULK_ROW_RULE}) AS reason FROM {table}
                      WHERE _file IN (SELECT unnest(?::VARCHAR[])))
                GROUP BY _file""", [[f.label for f in files]]).fetchall()
        by_label = {label: (rows, line, reason) for label, rows, line, reason in stats}
        bad = [f for f in files if by_label.get(f.label, (0, None, None))[1] is not None]
        if bad:
            cur.execute(f"DELETE FROM {table} WHERE _file IN (SELECT unnest(?::VARCHAR[]))", [[f.label for f in bad]])
        outcomes: list[Outcome] = []
        for f in files:
            rows, line, reason = by_label.get(f.label, (0, None, None))
            if line is not None:
                text = f"line {line}: {reason}"  # as the file read alone says it
                quarantine(cur, table, f, text)
                outcomes.append((f, None, text))
            else:
                outcomes.append((f, rows, None))
        record_ingested(cur, table, [(f, rows) for f, rows, _ in outcomes if rows is not None])
        cur.commit()
        return outcomes
    except BaseException:
        cur.rollback()
        raise


# --------------------------------------------------------------------------- the demo world's months, once per checkout

# The checkout's copies of passes over synthetic months (git-ignored, beside the demo worlds): the demo world is a
# pure function of its stamp, so every fresh data folder would parse the same CSV into the same rows. None: off.
SHARED_DIR: Path | None = Path(__file__).resolve().parents[3] / ".cache" / "comext_months"
# Entries kept besides the one just used, the most recently used first (a default world's pass is about 10 MB).
SHARED_KEEP = 6
# Bump when a pass's rows change (columns, line numbers, checks): every entry is then made again.
PASS_VERSION = 1
_ROWS = "rows.parquet"


def _shared_entry(table: str, files: list[InputFile], header: list[str], layout: str) -> tuple[Path, dict] | None:
    """The checkout's entry for a pass and its stamp (every file's label, content, release and flag; the layout,
    header, pass version and DuckDB version); None when off or when a month is not synthetic (a user's data never
    leaves its data folder)."""
    if SHARED_DIR is None or not files or not all(f.synthetic for f in files):
        return None
    stamp = {"table": table, "layout": layout, "header": list(header), "version": PASS_VERSION,
             "duckdb": duckdb.__version__, "files": [[f.label, f.sha256, f.release, f.synthetic] for f in files]}
    return SHARED_DIR / checked_cache.entry_key(stamp), stamp


@contextmanager
def _shared_rows(entry: Path, stamp: dict) -> Iterator[Path | None]:
    """The entry's rows, hard-linked into a folder of this pass's own and checked there against the entry's
    manifest (what is read is what was checked, even if the entry is replaced meanwhile); None without a good
    entry."""
    manifest = checked_cache.read_manifest(entry, stamp)
    if manifest is None or set(manifest["files"]) != {_ROWS}:
        yield None
        return
    own = checked_cache.unique(entry.parent, ".build-read-")
    try:
        try:
            # an entry with a file more or less than its manifest is damaged, even if only the rows are read
            good = checked_cache.listing_problem(entry, manifest) is None
            if good:
                checked_cache.link_files(entry, own, [_ROWS])
                good = checked_cache.problem(own, manifest) is None
        except OSError:
            good = False
        if good:
            os.utime(entry)  # most recently used: pruned last
        yield own / _ROWS if good else None
    finally:
        shutil.rmtree(own, ignore_errors=True)


def _keep_shared(cur: duckdb.DuckDBPyConnection, table: str, files: list[InputFile], entry: Path, stamp: dict) -> None:
    """Keep the rows of a pass that took every month as the checkout's entry, in the order the pass inserted them."""
    build = checked_cache.unique(entry.parent, ".build-")
    try:
        build.mkdir(parents=True)
        cur.execute(f"COPY (SELECT * FROM {table} WHERE _file IN (SELECT unnest(?::VARCHAR[])) ORDER BY _file, _line) "
                    f"TO {sql_string(build / _ROWS)} (FORMAT parquet, COMPRESSION zstd)", [[f.label for f in files]])
        checked_cache.write_manifest(build, stamp)
        checked_cache.install(build, entry, stamp)
        checked_cache.prune(entry.parent, keep=entry, keep_others=SHARED_KEEP)
    except (OSError, duckdb.Error):
        pass  # the entry only saves the next data folder's time; this run's rows stand
    finally:
        shutil.rmtree(build, ignore_errors=True)
