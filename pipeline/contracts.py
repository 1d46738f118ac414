"""A published table's contract, declared once in the header of its SQL model (read by pipeline/sql_models.py).

Beside the grain, partition and checks, a model's header may declare what publishing does with its table:

    -- access: public                          anyone may download it; without this line (or with
                                               'restricted') it needs the serve token, so a forgotten
                                               declaration never exposes a sensitive screen
    -- sheet: World supply screen; filter flagged; order 6
                                               a sheet of the workbook: its name, optionally only the rows
                                               where a boolean column is true, and its place among the sheets
    -- changes <screen>: keys source, importer, year, product_code; flag flagged; top top_supplier;
                         hhi importer_hhi[; where <predicate>]   (one line in the header)
                                               a screen of monitor.changes: its key columns (source, the
                                               reporter or importer, year, product), its flag, top supplier
                                               and HHI, optionally on the rows a predicate selects
    -- report: dependencies, product           the sections of the report that show the table
                                               (the public edition leaves them out when it is restricted)
    -- methodology: 6 Screens (EC 2021 C1-C3)  the section(s) of docs/methodology.md it follows
    -- column <name>: <meaning>                a column only this table has (shared column names have
                                               their one meaning in pipeline/glossary.py)

A description or a column meaning may name a setting as ``{setting}`` (e.g. ``hhi_extra > {ec_c1_hhi}``): the
publication states the value the run used there (``ec_c1_hhi = 0.4``), the Dagster UI the setting's name.

Everything that publishes, serves or shows tables reads these (pipeline/catalog.py); no other list of tables exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

PUBLIC, RESTRICTED = "public", "restricted"
CLASSES = (PUBLIC, RESTRICTED)

# directive -> its form, for the errors
FORMS = {
    "access": "-- access: public|restricted",
    "sheet": "-- sheet: <sheet name>[; filter <boolean column>][; order <n>]",
    "changes": "-- changes <screen>: keys <source>, <reporter>, <year>, <product>; flag <column>; top <column>; "
               "hhi <column>[; where <predicate>]",
    "report": "-- report: <section id>[, <section id> ...]",
    "methodology": "-- methodology: <section(s) of docs/methodology.md>",
    "column": "-- column <name>: <what it means>",
}
KEYWORDS = tuple(FORMS)
# Excel's rules for a sheet name: at most 31 characters, none of []:*?/\ (README and Columns are the workbook's own)
_SHEET_NAME = re.compile(r"^[^\[\]:*?/\\]{1,31}$")
_RESERVED_SHEETS = {"readme", "columns"}
_CHANGE_PARTS = ("keys", "flag", "top", "hhi", "where")


class ContractError(ValueError):
    """A declaration that cannot be read; the message says what is wrong (the caller adds file and line)."""


@dataclass(frozen=True)
class Sheet:
    name: str
    filter: str | None = None  # a boolean column: the sheet holds the rows where it is true
    order: int = 0  # sheets are written by order, then name


@dataclass(frozen=True)
class ChangeScreen:
    """One screen of monitor.changes: how its keys, flag, top supplier and HHI are read from the table."""

    screen: str
    keys: tuple[str, str, str, str]  # become source, reporter, year, product_code
    flag: str
    top: str
    hhi: str
    where: str | None = None

    def columns(self) -> tuple[str, ...]:
        return (*self.keys, self.flag, self.top, self.hhi)

    def select(self, table: str, db: str = "") -> str:
        """The screen's rows in monitor.changes' input shape, from ``{db}{table}`` (db 'prev.': the previous file)."""
        source, reporter, year, product = self.keys
        return (f"SELECT '{self.screen}' AS screen, {source} AS source, {reporter} AS reporter, {year} AS year, "
                f"{product} AS product_code, {self.flag} AS dependent, {self.top} AS top_supplier, "
                f"{self.hhi} AS hhi FROM {db}{table}" + (f" WHERE {self.where}" if self.where else ""))


@dataclass(frozen=True)
class Contract:
    """What a table's header declares about its publication (every field optional)."""

    access: str | None = None  # None: not declared, which is restricted
    sheet: Sheet | None = None
    changes: tuple[ChangeScreen, ...] = ()
    report: tuple[str, ...] = ()
    methodology: str = ""
    columns: tuple[tuple[str, str], ...] = ()  # (column, meaning) of the columns only this table has
    lines: dict = field(default_factory=dict, compare=False)  # directive (or 'column <name>') -> line, for errors

    @property
    def access_class(self) -> str:
        return self.access or RESTRICTED

    def column_meaning(self, column: str) -> str | None:
        return dict(self.columns).get(column)

    def referenced_columns(self) -> list[tuple[str, str]]:
        """(column, the directive naming it) for every column a declaration names, to check against the SELECT."""
        out = [(self.sheet.filter, "sheet")] if self.sheet and self.sheet.filter else []
        out += [(c, "changes") for s in self.changes for c in s.columns()]
        out += [(c, "column") for c, _ in self.columns]
        return out


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    if not all(re.fullmatch(r"\w+", n) for n in names):
        raise ContractError(f"expected column names separated by commas, not {text.strip()!r}")
    return names


def _sheet(value: str) -> Sheet:
    name, *options = (part.strip() for part in value.split(";"))
    if not _SHEET_NAME.match(name) or name.lower() in _RESERVED_SHEETS or name != name.strip("'"):
        raise ContractError(f"{name!r} is not a sheet name: 1-31 characters without []:*?/\\, not README or Columns")
    sheet = Sheet(name)
    for option in options:
        word, _, rest = option.partition(" ")
        if word == "filter" and re.fullmatch(r"\w+", rest.strip()):
            sheet = replace(sheet, filter=rest.strip())
        elif word == "order" and rest.strip().isdigit():
            sheet = replace(sheet, order=int(rest.strip()))
        else:
            raise ContractError(f"unknown sheet option {option!r}: 'filter <boolean column>' or 'order <n>'")
    return sheet


def _change_screen(screen: str, value: str) -> ChangeScreen:
    parts: dict[str, str] = {}
    for part in (p.strip() for p in value.split(";")):
        word, _, rest = part.partition(" ")
        if word not in _CHANGE_PARTS or not rest.strip() or word in parts:
            raise ContractError(f"{part!r} is not one of {', '.join(_CHANGE_PARTS)} (each once, with a value)")
        parts[word] = rest.strip()
    missing = [p for p in ("keys", "flag", "top", "hhi") if p not in parts]
    if missing:
        raise ContractError(f"the screen needs {', '.join(missing)}")
    keys = _names(parts["keys"])
    if len(keys) != 4:
        raise ContractError(f"keys are four columns (source, reporter or importer, year, product), not {len(keys)}")
    columns = {p: _names(parts[p]) for p in ("flag", "top", "hhi")}
    if any(len(c) != 1 for c in columns.values()):
        raise ContractError("flag, top and hhi are one column each")
    return ChangeScreen(screen, keys, columns["flag"][0], columns["top"][0], columns["hhi"][0], parts.get("where"))


def declare(contract: Contract, kind: str, name: str | None, value: str, number: int) -> Contract:
    """``contract`` with one more directive (``kind`` one of KEYWORDS; ``name`` the word before the colon)."""
    needs_name = kind in ("changes", "column")
    if needs_name != bool(name):
        raise ContractError(f"write '{FORMS[kind]}'")
    key = f"{kind} {name}" if needs_name else kind
    if key in contract.lines:
        raise ContractError(f"a second '{key}' declaration (the first is on line {contract.lines[key]})")
    lines = {**contract.lines, key: number}
    value = value.strip()
    if kind == "access":
        if value.lower() not in CLASSES:
            raise ContractError(f"unknown access class {value!r}: {' or '.join(CLASSES)}")
        return replace(contract, access=value.lower(), lines=lines)
    if kind == "sheet":
        return replace(contract, sheet=_sheet(value), lines=lines)
    if kind == "changes":
        return replace(contract, changes=(*contract.changes, _change_screen(name, value)), lines=lines)
    if kind == "report":
        sections = tuple(s.strip() for s in value.split(","))
        if not all(re.fullmatch(r"[\w-]+", s) for s in sections):
            raise ContractError(f"expected report section ids separated by commas, not {value!r}")
        return replace(contract, report=sections, lines=lines)
    if kind == "methodology":
        return replace(contract, methodology=value, lines=lines)
    return replace(contract, columns=(*contract.columns, (name.lower(), value)), lines=lines)
