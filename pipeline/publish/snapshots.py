"""The snapshot catalog: which snapshots exist, which is LATEST, which are pinned; retention, export, verification.

A snapshot is a folder ``snapshots/<id>/`` holding Parquet tables (a year-partitioned one as
``<table>/year=<year>.parquet``, unchanged years hard links to the previous snapshot's files, so deleting
a snapshot never breaks another), ``manifest.json`` (with each file's size, rows and sha256) and the
report; ``snapshots/LATEST`` names the
current one and ``snapshots/PINNED`` those retention never removes. Nothing here
writes a snapshot: that is ``pipeline.publish.write``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from pipeline.io import atomic_write_text, sha256_of
from pipeline.paths import REPORT_FILE, DataPaths
from pipeline.publish.access import PUBLIC, file_classes

SNAPSHOT_ID = re.compile(r"^\d{8}T\d{6}Z(_[A-Za-z0-9]+)?(-\d+)?$")
# what a user may type for a snapshot: an id or the start of one (letters, digits, T, Z, _ and -; never a path)
SNAPSHOT_PREFIX = re.compile(r"^\d[0-9A-Za-z_-]*$")
PINNED_FILE = "PINNED"
DICTIONARY = "DICTIONARY.md"  # pipeline.publish.dictionary.DICTIONARY_FILE


class SnapshotError(Exception):
    """A snapshot that is missing, malformed or does not match its manifest."""


def apply_retention(paths: DataPaths, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` snapshots, never a pinned one or LATEST; returns what was removed."""
    pinned = set(pinned_snapshots(paths)) | {latest_snapshot_id(paths)}
    ids = sorted((p.name for p in paths.snapshots.iterdir() if p.is_dir() and SNAPSHOT_ID.match(p.name)),
                 reverse=True)
    removed = [s for s in ids[max(keep, 1):] if s not in pinned]
    for snapshot_id in removed:
        shutil.rmtree(paths.snapshots / snapshot_id)
    return removed


def pinned_snapshots(paths: DataPaths) -> list[str]:
    pin_file = paths.snapshots / PINNED_FILE
    if not pin_file.exists():
        return []
    return [line.strip() for line in pin_file.read_text().splitlines() if SNAPSHOT_ID.match(line.strip())]


def set_pinned(paths: DataPaths, snapshot_id: str, pinned: bool) -> None:
    snapshot_id = snapshot_dir(paths, snapshot_id).name  # validates the id (or its start) and that it exists
    ids = set(pinned_snapshots(paths))
    ids = ids | {snapshot_id} if pinned else ids - {snapshot_id}
    atomic_write_text(paths.snapshots / PINNED_FILE, "".join(f"{i}\n" for i in sorted(ids)))


def export_snapshot(paths: DataPaths, snapshot_id: str | None, dest: Path, public_only: bool = False) -> Path:
    """Copy a verified snapshot to ``dest/<id>`` and verify the copy.

    ``public_only``: copy only the files of access class public, with a manifest listing only them that says
    so (``access.public_only``, and which restricted files were left out), plus the public editions of the
    workbook and the report (``_public_editions``)."""
    source = snapshot_dir(paths, snapshot_id)
    problems = verify_folder(source)
    if problems:
        raise SnapshotError(f"{source} does not verify, not exported: {problems[0]}")
    target = Path(dest).expanduser().resolve() / source.name
    if target.exists():
        raise SnapshotError(f"{target} already exists")
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if public_only:
        _copy_public(source, tmp, paths.published_db)
    else:
        shutil.copytree(source, tmp)
    tmp.rename(target)
    problems = verify_folder(target)
    if problems:
        raise SnapshotError(f"the copy in {target} does not verify: {problems[0]}")
    return target


def _copy_public(source: Path, tmp: Path, database: Path) -> None:
    manifest = json.loads((source / "manifest.json").read_text())
    restricted = sorted({t for t, m in manifest.get("tables", {}).items() if m.get("access", "restricted") != PUBLIC}
                        | set(manifest.get("access", {}).get("restricted_tables", [])))
    classes = file_classes(manifest)
    left_out = sorted(name for name, cls in classes.items() if cls != PUBLIC)
    manifest["tables"] = {t: m for t, m in manifest.get("tables", {}).items() if m.get("access") == PUBLIC}
    manifest["files"] = {n: m for n, m in manifest.get("files", {}).items() if classes[n] == PUBLIC}
    manifest["access"] = {**manifest.get("access", {}), "public_only": True, "left_out": left_out}
    tmp.mkdir(parents=True)
    for name in [f["file"] for m in manifest["tables"].values() for f in m.get("files", [m])] + list(manifest["files"]):
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, tmp / name)
    manifest["files"].update(_public_editions(database, tmp, manifest, restricted))
    if DICTIONARY in manifest["files"]:  # the dictionary of what the export holds
        from pipeline.publish.dictionary import dictionary_markdown

        (tmp / DICTIONARY).write_text(dictionary_markdown(manifest), encoding="utf-8")
        manifest["files"][DICTIONARY].update(bytes=(tmp / DICTIONARY).stat().st_size, sha256=sha256_of(tmp / DICTIONARY))
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _public_editions(database: Path, tmp: Path, manifest: dict, restricted: list[str]) -> dict:
    """The workbook and the report without what shows ``restricted`` tables, written into the export ``tmp``
    from the published database, listed with their hashes (so ``geomon verify`` checks them) and with what
    they leave out. Only the latest snapshot has its database: for an older one the manifest says why there
    are none."""
    import duckdb

    from pipeline.catalog import sheets
    from pipeline.publish.excel import workbook_name, write_workbook
    from pipeline.report import write_report
    from pipeline.report.public import SECTIONS, left_out_sections

    published = None
    if database.is_file():
        with duckdb.connect(str(database), read_only=True) as con:
            published = con.execute("SELECT any_value(snapshot_id) FROM meta.publication").fetchall()[0][0]
    if published != manifest["snapshot_id"]:
        manifest["access"]["public_editions"] = (f"none: {database} holds snapshot {published}, not this one; "
                                                 "export the latest snapshot for the public workbook and report")
        return {}
    sections = left_out_sections(restricted)
    report = write_report(database, tmp / REPORT_FILE, manifest=manifest, left_out=sections)
    book = tmp / workbook_name(manifest["snapshot_id"])
    written = write_workbook(database, book, manifest, PUBLIC, tuple(restricted))
    manifest["access"]["public_editions"] = [REPORT_FILE, book.name]
    return {
        REPORT_FILE: {"bytes": report.bytes, "sha256": report.sha256, "access": PUBLIC, "edition": "public",
                      "left_out": [SECTIONS[s] for s in sections]},
        book.name: {"bytes": book.stat().st_size, "sha256": sha256_of(book), "access": PUBLIC, "edition": "public",
                    "sheets": written["sheets"], "left_out": [n for n, (t, _) in sheets().items() if t in restricted]},
    }


def resolve_snapshot_id(paths: DataPaths, snapshot_id: str) -> str:
    """An id, or an unambiguous start of one, as the id of an existing snapshot."""
    if not SNAPSHOT_PREFIX.match(snapshot_id):
        raise SnapshotError(f"not a snapshot id: {snapshot_id!r} (expected e.g. 20261128T093000Z, or its start)")
    if SNAPSHOT_ID.match(snapshot_id) and (paths.snapshots / snapshot_id).is_dir():
        return snapshot_id
    matches = sorted(p.name for p in paths.snapshots.iterdir()
                     if p.is_dir() and SNAPSHOT_ID.match(p.name) and p.name.startswith(snapshot_id)) \
        if paths.snapshots.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SnapshotError(f"no snapshot {snapshot_id} in {paths.snapshots}")
    raise SnapshotError(f"{snapshot_id!r} is ambiguous: {', '.join(matches)}")


def latest_snapshot_id(paths: DataPaths) -> str | None:
    if not paths.latest_pointer.exists():
        return None
    return paths.latest_pointer.read_text().strip() or None


def list_snapshots(paths: DataPaths) -> list[dict]:
    """Published snapshots, newest first, with their manifest summary."""
    out = []
    if not paths.snapshots.is_dir():
        return out
    latest = latest_snapshot_id(paths)
    for folder in sorted(paths.snapshots.iterdir(), reverse=True):
        if not folder.is_dir() or not SNAPSHOT_ID.match(folder.name):
            continue
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, json.JSONDecodeError):
            manifest = {}
        out.append({
            "snapshot_id": folder.name,
            "latest": folder.name == latest,
            "created_at": manifest.get("created_at", "?"),
            "synthetic": manifest.get("synthetic"),
            "tables": {t: m.get("rows") for t, m in manifest.get("tables", {}).items()},
            "bytes": sum(m.get("bytes", 0) for m in [*manifest.get("tables", {}).values(),
                                                      *manifest.get("files", {}).values()]),
            "restricted": sum(1 for c in file_classes(manifest).values() if c != PUBLIC) if manifest else 0,
            # of those bytes, the year files hard-linked from the previous snapshot (no new disk space)
            "linked_bytes": sum(f.get("bytes", 0) for m in manifest.get("tables", {}).values()
                                for f in m.get("files", []) if f.get("linked")),
        })
    return out


def snapshot_dir(paths: DataPaths, snapshot_id: str | None) -> Path:
    """The folder of a snapshot id (default: LATEST), refusing anything that is not a plain id."""
    snapshot_id = snapshot_id or latest_snapshot_id(paths)
    if not snapshot_id:
        raise SnapshotError(f"no snapshot published yet in {paths.snapshots}")
    snapshot_id = resolve_snapshot_id(paths, snapshot_id)
    folder = paths.snapshots / snapshot_id
    if not folder.is_dir():
        raise SnapshotError(f"no snapshot {snapshot_id} in {paths.snapshots}")
    return folder


def verify_snapshot(paths: DataPaths, snapshot_id: str | None = None) -> list[str]:
    """Problems found in a snapshot: checksum, size or row-count mismatches, missing or extra files."""
    return verify_folder(snapshot_dir(paths, snapshot_id))


def verify_folder(folder: Path) -> list[str]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return [f"{folder / 'manifest.json'}: unreadable ({exc})"]
    problems = []
    listed = {"manifest.json"}
    for table, meta in manifest.get("tables", {}).items():
        if "files" in meta:  # a year-partitioned table (format 2): its glob, then each year's file
            listed.update(f["file"] for f in meta["files"])
            problems += [p for f in meta["files"] for p in _verify_file(folder, f)]
            files = meta["files"]
            if sum(f["rows"] for f in files) != meta["rows"] or combined_sha256(files) != meta["sha256"]:
                problems.append(f"{folder / table}: its files' rows or checksums differ from the table's entry")
            continue
        listed.add(meta["file"])
        problems += _verify_file(folder, meta)
    for name, meta in manifest.get("files", {}).items():
        if Path(name).is_absolute() or ".." in Path(name).parts:
            problems.append(f"{folder / 'manifest.json'}: lists a file outside the snapshot: {name!r}")
            continue
        path = folder / name
        listed.add(name)
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != meta["bytes"]:
            problems.append(f"{path}: {path.stat().st_size} bytes, manifest says {meta['bytes']}")
        elif sha256_of(path) != meta["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest")
        for sheet, listed_sheet in meta.get("sheets", {}).items():
            table = manifest.get("tables", {}).get(listed_sheet["table"])
            if table is None or listed_sheet.get("truncated"):
                continue
            expected = table["rows"]
            table_paths = _table_paths(folder, table)
            if ("years" in listed_sheet or "where" in listed_sheet) and all(p.is_file() for p in table_paths):
                # a sheet holds the latest years of its table, and maybe only the rows where a flag is true
                import pyarrow as pa  # here: listing and pinning snapshots need no pyarrow (issue 28)
                import pyarrow.compute as pc
                import pyarrow.parquet as pq

                columns = (["year"] if "years" in listed_sheet else []) + (
                    [listed_sheet["where"]] if "where" in listed_sheet else [])
                data = pa.concat_tables(pq.read_table(p, columns=columns) for p in table_paths)
                shown = pa.array([True] * data.num_rows, type=pa.bool_())
                if "years" in listed_sheet:
                    shown = pc.is_in(data.column("year"), value_set=pa.array(listed_sheet["years"],
                                                                             type=data.column("year").type))
                if "where" in listed_sheet:
                    shown = pc.and_(shown, pc.fill_null(data.column(listed_sheet["where"]), False))
                expected = pc.sum(shown).as_py() or 0
            if expected != listed_sheet["rows"]:
                problems.append(f"{path}: sheet {sheet!r} has {listed_sheet['rows']} rows, "
                                f"{listed_sheet['table']} {expected} in the years it shows")
    # every file, in subfolders too (report/index.html)
    present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())
    for extra in present:
        if extra not in listed:
            problems.append(f"{folder / extra}: not listed in the manifest")
    return problems


def combined_sha256(files: list[dict]) -> str:
    """A partitioned table's checksum: sha256 of its files' ``<name> <sha256>`` lines, in name order."""
    lines = "".join(f"{f['file']} {f['sha256']}\n" for f in sorted(files, key=lambda f: f["file"]))
    return hashlib.sha256(lines.encode()).hexdigest()


def _table_paths(folder: Path, meta: dict) -> list[Path]:
    """The files of a table's manifest entry: one, or (a year-partitioned table) one per year."""
    return [folder / f["file"] for f in meta.get("files", [meta])]


def _verify_file(folder: Path, meta: dict) -> list[str]:
    """A table file's problems: missing, or size, checksum or row count other than its manifest entry's."""
    if Path(meta["file"]).is_absolute() or ".." in Path(meta["file"]).parts:
        return [f"{folder / 'manifest.json'}: lists a file outside the snapshot: {meta['file']!r}"]
    path = folder / meta["file"]
    if not path.is_file():
        return [f"{path}: missing"]
    if path.stat().st_size != meta["bytes"]:
        return [f"{path}: {path.stat().st_size} bytes, manifest says {meta['bytes']}"]
    if sha256_of(path) != meta["sha256"]:
        return [f"{path}: sha256 differs from the manifest"]
    import pyarrow.parquet as pq  # here, as in verify_folder

    rows = pq.read_metadata(path).num_rows
    return [f"{path}: {rows} rows, manifest says {meta['rows']}"] if rows != meta["rows"] else []
