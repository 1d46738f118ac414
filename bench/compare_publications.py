"""Two data folders' publications compared table by table (issue 28: a speed change must publish the same).

    python -m bench.compare_publications DATA_A DATA_B

Both analysts' files ATTACHed read-only in one DuckDB session: per table, the rows of each side missing
from the other (EXCEPT ALL both ways; the columns that stamp a run, RUN_STAMPS, left out) and whether DESCRIBE (column names and types, in order) is the same;
then the latest snapshot's manifest of each folder: every Parquet file's sha256 and each table's schema.
Exits 1 on any difference, with the differences printed.
"""

import json
import sys
from pathlib import Path

import duckdb

# what says when and from which commit a publication was made: differs between any two runs
RUN_STAMPS = {"built_at", "published_at", "snapshot_id", "code_version"}


def _manifest(data: Path) -> dict:
    latest = (data / "snapshots" / "LATEST").read_text().strip()
    return json.loads((data / "snapshots" / Path(latest).name / "manifest.json").read_text())


def _hashes(manifest: dict) -> dict[str, str]:
    """file -> sha256 of every Parquet file of the snapshot (per-year files of partitioned tables included)."""
    found = {}
    for table, entry in manifest["tables"].items():
        if "sha256" in entry:
            found[entry.get("file", table)] = entry["sha256"]
        for part in entry.get("files") or []:  # a partitioned table: one file per year
            found[part["file"]] = part["sha256"]
    return found


def compare(a: Path, b: Path) -> list[str]:
    problems = []
    conn = duckdb.connect()
    conn.execute(f"ATTACH '{a / 'geomonitor.duckdb'}' AS a (READ_ONLY)")
    conn.execute(f"ATTACH '{b / 'geomonitor.duckdb'}' AS b (READ_ONLY)")
    tables = {}
    for db in ("a", "b"):
        tables[db] = {f"{s}.{t}" for s, t in conn.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [db]).fetchall()}
    if tables["a"] != tables["b"]:
        problems.append(f"tables differ: {sorted(tables['a'] ^ tables['b'])}")
    for table in sorted(tables["a"] & tables["b"]):
        desc_a = conn.execute(f"DESCRIBE a.{table}").fetchall()
        desc_b = conn.execute(f"DESCRIBE b.{table}").fetchall()
        if desc_a != desc_b:
            problems.append(f"{table}: DESCRIBE differs: {sorted(set(desc_a) ^ set(desc_b))}")
            continue
        cols = ", ".join(f'"{c[0]}"' for c in desc_a if c[0] not in RUN_STAMPS)
        only_a = conn.execute(f"SELECT count(*) FROM (SELECT {cols} FROM a.{table} EXCEPT ALL "
                              f"SELECT {cols} FROM b.{table})").fetchall()[0][0]
        only_b = conn.execute(f"SELECT count(*) FROM (SELECT {cols} FROM b.{table} EXCEPT ALL "
                              f"SELECT {cols} FROM a.{table})").fetchall()[0][0]
        rows = conn.execute(f"SELECT count(*) FROM a.{table}").fetchall()[0][0]
        print(f"{table}: {rows} rows, only in A {only_a}, only in B {only_b}, columns {len(desc_a)} same")
        if only_a or only_b:
            problems.append(f"{table}: {only_a} rows only in A, {only_b} only in B")
    man_a, man_b = _manifest(a), _manifest(b)
    hashes_a, hashes_b = _hashes(man_a), _hashes(man_b)
    if hashes_a != hashes_b:
        problems.append(f"Parquet sha256 differ: {sorted(k for k in hashes_a.keys() | hashes_b.keys() if hashes_a.get(k) != hashes_b.get(k))}")
    for table in man_a["tables"].keys() & man_b["tables"].keys():
        if man_a["tables"][table].get("schema") != man_b["tables"][table].get("schema"):
            problems.append(f"{table}: manifest schema differs")
    print(f"{len(tables['a'])} tables compared; {len(hashes_a)} Parquet files, sha256 "
          f"{'identical' if hashes_a == hashes_b else 'DIFFERENT'}")
    return problems


def main() -> None:
    a, b = (Path(p) for p in sys.argv[1:3])
    problems = compare(a, b)
    for p in problems:
        print("DIFF:", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
