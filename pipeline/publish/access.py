"""Access classes: which published files anyone may download, and which only holders of the serve token.

Every table of a snapshot is ``public`` or ``restricted``; the manifest marks each table and
each other file (``access``). The NL and EU vulnerability findings are not for open
publication: by default the EC screen (annual and rolling 12 months) and its EU27/NL cuts, the supplier-loss stress tests,
and the two tables that carry the same flags row by row (``trends``: the screen year over
year; ``changes``: newly dependent products) are restricted. A file built from several tables
(the workbook, the report) takes the strictest class of what it shows. ``geomon serve`` sends
restricted files only with the bearer token; ``geomon export --public`` copies public files only.
"""

from __future__ import annotations

PUBLIC, RESTRICTED = "public", "restricted"
CLASSES = (PUBLIC, RESTRICTED)

DEFAULT_RESTRICTED: tuple[str, ...] = (
    "monitor.eu_dependencies", "monitor.nl_dependencies", "monitor.ec_screen", "monitor.ec_screen_rolling",
    "monitor.supplier_loss", "monitor.supplier_loss_by_domain",
    "monitor.trends", "monitor.changes",
    # the EU's and NL's own supplier concentration per strategic raw material (issue 29), like the EC screen
    "monitor.crma_benchmark", "monitor.crma_benchmark_rolling",
    # the EU's and each member state's own EC-screen flags side by side (issue 29)
    "monitor.bloc_vs_members", "monitor.ec_screen_cn8",
)


def table_class(table: str, restricted: tuple[str, ...] | list[str] | set[str] = DEFAULT_RESTRICTED) -> str:
    return RESTRICTED if table in set(restricted) else PUBLIC


def strictest(classes) -> str:
    return RESTRICTED if RESTRICTED in set(classes) else PUBLIC


def file_classes(manifest: dict) -> dict[str, str]:
    """Every file of a snapshot (relative path) with its class; files of a manifest without classes are
    restricted (a snapshot from before access classes is served to token holders only)."""
    out = {"manifest.json": PUBLIC}
    for meta in manifest.get("tables", {}).values():
        out[meta["file"]] = meta.get("access", RESTRICTED)
    for name, meta in manifest.get("files", {}).items():
        out[name] = meta.get("access", RESTRICTED)
    return out


def is_public_manifest(manifest: dict) -> bool:
    return all(c == PUBLIC for c in file_classes(manifest).values())
