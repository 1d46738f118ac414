"""The input floor of issue 28: every landing file of a scale read once into a table of a DuckDB file.

End to end can never cost less than reading its input, so the bench reports it beside end to end as a
ratio (``e2e_over_input_floor``), a figure that holds on any machine. What is timed, under the
pipeline's memory limit and threads:

* Comext: each ``.7z`` unpacked the way the pipeline unpacks it (``pipeline.sources.comext.sevenzip.extract_member``,
  as the Comext bulk reader does; the demo world's plain CSV months are read as they are), then every
  CSV read by one ``read_csv`` with the bulk layout's column types into ``floor_input.comext``;
* Comtrade: the gz TSVs read by one ``read_csv`` with the reader's column types into
  ``floor_input.comtrade``.

No checks, no kinds, no line numbers: only the reading the pipeline cannot avoid.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from bench import queries


def _types(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{queries.sql_string(k)}: {queries.sql_string(v)}" for k, v in mapping.items()) + "}"


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join(queries.sql_string(p) for p in paths) + "]"


def read_input_floor(landing: Path, db: Path, work_dir: Path, *, memory_limit: str = "",
                     threads: int = 0) -> dict:
    """Read every Comext archive and Comtrade file under ``landing`` into ``db`` once; timings and rows."""
    from pipeline.sources.comext.reader import _BULK_LAYOUTS, _EXTRA_NUMERIC, BULK_COLUMNS, _split_header, bulk_layout
    from pipeline.sources.comtrade.reader import COLUMNS
    from pipeline.readers.inputs import first_line
    from pipeline.sources.comext.sevenzip import extract_member

    # the demo world writes Comext months as CSV; the file service ships .7z archives
    comext_files = sorted(p for p in (landing / "comext").glob("*")
                          if p.is_file() and p.name.lower().endswith((".7z", ".csv", ".dat", ".csv.gz", ".dat.gz")))
    archives = [p for p in comext_files if p.name.lower().endswith(".7z")]
    tsvs = sorted((landing / "comtrade").glob("*.gz"))
    unpacked_dir = work_dir / "input_floor_unpacked"
    shutil.rmtree(unpacked_dir, ignore_errors=True)
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    out: dict = {"comext": {"files": len(comext_files), "archives": len(archives)}, "comtrade": {"files": len(tsvs)}}
    con = queries.connect(db, memory_limit=memory_limit, threads=threads, temp_directory=work_dir / "duckdb_tmp")
    try:
        con.execute("CREATE SCHEMA floor_input")
        started = time.perf_counter()
        if comext_files:
            t = time.perf_counter()
            csvs = [extract_member(p, unpacked_dir / p.stem) if p in archives else p for p in comext_files]
            out["comext"]["unpack_s"] = time.perf_counter() - t
            header = _split_header(first_line(csvs[0]))
            names = _BULK_LAYOUTS[bulk_layout(",".join(header))]
            typed = {src: BULK_COLUMNS[dst] for dst, src in names.items()} | _EXTRA_NUMERIC
            t = time.perf_counter()
            con.execute(
                f"CREATE TABLE floor_input.comext AS SELECT * FROM read_csv({_files(csvs)}, header=true, "
                f"delim=',', quote='\"', escape='\"', types={_types({c: typed[c] for c in header if c in typed})})")
            out["comext"]["read_s"] = time.perf_counter() - t
            shutil.rmtree(unpacked_dir, ignore_errors=True)  # inside the timing: the pipeline deletes its copy too
        if tsvs:
            t = time.perf_counter()
            con.execute(
                f"CREATE TABLE floor_input.comtrade AS SELECT * FROM read_csv({_files(tsvs)}, header=true, "
                f"delim='\\t', quote='', escape='', types={_types(COLUMNS)})")
            out["comtrade"]["read_s"] = time.perf_counter() - t
        con.execute("CHECKPOINT")  # the tables on disk, as the pipeline's are
        out["total_s"] = time.perf_counter() - started
        for source in ("comext", "comtrade"):
            if out[source]["files"]:
                out[source]["rows"] = con.execute(f"SELECT count(*) FROM floor_input.{source}").fetchall()[0][0]
        out["rows"] = sum(out[s].get("rows", 0) for s in ("comext", "comtrade"))
        out["db_bytes"] = db.stat().st_size
    finally:
        con.close()
        shutil.rmtree(unpacked_dir, ignore_errors=True)
        for suffix in ("", ".wal"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    return out
