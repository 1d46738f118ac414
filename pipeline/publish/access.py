"""Access classes: which published files anyone may download, and which only holders of the serve token.

Every table of a snapshot is ``public`` or ``restricted``; the manifest marks each table and
each other file (``access``). A table's class is declared in its SQL header (``-- access: public``;
pipeline/contracts.py) and a table that declares none is restricted, so a forgotten declaration never
exposes a sensitive screen: the NL and EU vulnerability findings (the EC screen and its cuts, the
supplier-loss stress tests, trends, changes, ...) are not for open publication. Reference tables (code
lists) are public. A user may list the restricted tables instead (DataFolder.restricted_tables). A file
built from several tables (the workbook, the report) takes the strictest class of what it shows.
``geomon serve`` sends restricted files only with the bearer token; ``geomon export --public`` copies
public files only.
"""

from __future__ import annotations

from pipeline.contracts import CLASSES, PUBLIC, RESTRICTED

__all__ = ["CLASSES", "PUBLIC", "RESTRICTED", "file_classes", "is_public_manifest", "strictest", "table_class"]


def table_class(table: str, restricted: tuple[str, ...] | list[str] | set[str] | None = None) -> str:
    """The table's class as declared (``restricted``: the user's list of restricted tables instead)."""
    from pipeline.catalog import access_class  # reads the SQL headers: only where tables are published

    return access_class(table, restricted)


def strictest(classes) -> str:
    return RESTRICTED if RESTRICTED in set(classes) else PUBLIC


def file_classes(manifest: dict) -> dict[str, str]:
    """Every file of a snapshot (relative path) with its class; files of a manifest without classes are
    restricted (a snapshot from before access classes is served to token holders only)."""
    out = {"manifest.json": PUBLIC}
    for meta in manifest.get("tables", {}).values():
        # a year-partitioned table: its glob ("file") and each year's file ("files"), in the table's class
        for entry in [meta, *meta.get("files", [])]:
            out[entry["file"]] = meta.get("access", RESTRICTED)
    for name, meta in manifest.get("files", {}).items():
        out[name] = meta.get("access", RESTRICTED)
    return out


def is_public_manifest(manifest: dict) -> bool:
    return all(c == PUBLIC for c in file_classes(manifest).values())
