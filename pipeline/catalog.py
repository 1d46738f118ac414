"""The published tables' contracts, read from their SQL headers: the one list of tables that publishing reads.

Each SQL model declares its own access class, workbook sheet, changes screens, report sections, methodology
section and table-specific column meanings (pipeline/contracts.py); ``monitor.changes``, built by the publisher,
declares its own in ``pipeline/publish/changes.sql``. The access classes, the workbook, ``monitor.changes``, the
dictionary, the column comments and the report's public edition ask this module, so a new table is published,
described, served and shown through its one SQL file. Read when asked (never at import), once per process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pipeline import glossary, sql_models
from pipeline.contracts import PUBLIC, RESTRICTED, ChangeScreen, Contract, Sheet
from pipeline.paths import SQL_DIR

CHANGES_TABLE = "monitor.changes"
CHANGES_SQL = Path(__file__).with_name("publish") / "changes.sql"
# Reference tables are code lists and mappings from public sources (data/reference/PROVENANCE.md), not findings:
# public without a declaration. Every other table is restricted unless its header declares it public.
PUBLIC_LAYERS = ("reference",)


def contracts() -> dict[str, Contract]:
    """Every declared table (schema.table) and its contract."""
    return {table: header.contract for table, header in _headers(SQL_DIR, sql_models.EXTRA_MODEL_DIRS).items()}


@lru_cache(maxsize=4)
def _headers(root: Path, extra: tuple[Path, ...]) -> dict[str, sql_models.Header]:
    out = {f"{path.parent.name}.{path.stem}": sql_models.parse_header(path) for path, _ in sql_models.model_files(root)}
    out[CHANGES_TABLE] = sql_models.parse_header(CHANGES_SQL)
    return out


def table_description(table: str, parameters: dict | None = None) -> str | None:
    """A SQL model's description, the settings it names written out with the run's values (None: not a model)."""
    header = _headers(SQL_DIR, sql_models.EXTRA_MODEL_DIRS).get(table)
    if header is None or table == CHANGES_TABLE:  # monitor.changes is described by pipeline/publish/changes.py
        return None
    return glossary.fill(header.description, parameters)


def access_class(table: str, restricted: list[str] | tuple[str, ...] | set[str] | None = None) -> str:
    """``public`` or ``restricted``: as the table's header declares (restricted when it declares nothing), or,
    when the user lists the restricted tables (DataFolder.restricted_tables), by that list alone."""
    if restricted is not None:
        return RESTRICTED if table in set(restricted) else PUBLIC
    contract = contracts().get(table)
    if contract is not None:
        return contract.access_class
    return PUBLIC if table.split(".")[0] in PUBLIC_LAYERS else RESTRICTED


def restricted_tables(tables) -> list[str]:
    """Of ``tables``, the ones of class restricted by declaration, sorted."""
    return sorted(t for t in tables if access_class(t) == RESTRICTED)


def sheets() -> dict[str, tuple[str, Sheet]]:
    """Sheet name -> (the table it shows, its declaration), in the workbook's order."""
    found = [(c.sheet, table) for table, c in contracts().items() if c.sheet is not None]
    return {sheet.name: (table, sheet) for sheet, table in sorted(found, key=lambda s: (s[0].order, s[0].name))}


def change_screens() -> list[tuple[str, ChangeScreen]]:
    """(table, screen) of every screen monitor.changes compares, by table."""
    return [(table, screen) for table, c in sorted(contracts().items()) for screen in c.changes]


def report_tables() -> dict[str, tuple[str, ...]]:
    """Report section id -> the tables it shows, sorted."""
    out: dict[str, list[str]] = {}
    for table, contract in sorted(contracts().items()):
        for section in contract.report:
            out.setdefault(section, []).append(table)
    return {section: tuple(tables) for section, tables in out.items()}


def methodology(table: str) -> str:
    """The section(s) of docs/methodology.md the table follows ('' if none is known)."""
    contract = contracts().get(table)
    return contract.methodology if contract and contract.methodology else glossary.TABLE_SECTIONS.get(table, "")


def describe(column: str, table: str | None = None, parameters: dict | None = None) -> str | None:
    """What ``column`` means (in ``table``: its own declaration first, else the glossary), thresholds filled in."""
    if table and table.startswith("views."):  # an analysts' view has its monitor table's columns
        table = "monitor." + table.split(".", 1)[1]
    contract = contracts().get(table) if table else None
    text = (contract.column_meaning(column) if contract else None) or glossary.COLUMNS.get(column)
    return glossary.fill(text, parameters) if text else None
