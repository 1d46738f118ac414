"""Rules several SQL models share, written once as DuckDB scalar macros: ``dbt_like_sql/macros/<name>.sql``.

A macro file is a comment saying what the rule is, then one ``CREATE MACRO <name>(<args>) AS <expression>``
whose name is the file's stem. Every connection that runs models (the model assets, the in-memory SQL
harness, the benchmark) calls ``prepare_session``: the settings as DuckDB variables, then the macros as
TEMP macros, so they never land in the warehouse or the published file (DuckDB expands a macro where it is
called; a built table holds only values).

A macro reads only its arguments: a threshold is passed in by the model (``getvariable`` stays in the
model's own SQL), so the incremental build's fingerprint of a model's settings still sees every setting it
uses. A model that calls a macro hashes the macro's text into its code version (``load_models``), so
changing a rule rebuilds exactly the models that use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlglot
from sqlglot import exp

MACRO_FOLDER = "macros"  # under dbt_like_sql/: not a layer of models

_CREATE = re.compile(r"^CREATE\s+MACRO\s+(\w+)\s*\(", re.IGNORECASE)


class MacroError(Exception):
    """A macro file that cannot be used."""


@dataclass(frozen=True)
class Macro:
    name: str
    path: Path
    sql: str  # the file's CREATE MACRO statement, without its comment header

    @property
    def temp_sql(self) -> str:
        """The statement that defines the macro for one connection only."""
        return "CREATE OR REPLACE TEMP MACRO " + self.sql[_CREATE.match(self.sql).start(1):]


def parse_macro(path: Path) -> Macro:
    lines = path.read_text(encoding="utf-8").splitlines()
    body_from = next((i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("--")),
                     len(lines))
    if not any(line.strip().startswith("--") for line in lines[:body_from]):
        raise MacroError(f"{path}: start the macro with a comment that says what rule it is")
    sql = "\n".join(lines[body_from:]).strip().rstrip(";").strip()
    found = _CREATE.match(sql)
    if found is None:
        raise MacroError(f"{path}:{body_from + 1}: a macro file holds one 'CREATE MACRO <name>(<args>) AS ...'")
    if found.group(1).lower() != path.stem.lower():
        raise MacroError(f"{path}:{body_from + 1}: the macro is named {found.group(1)!r}; name it as its file, "
                         f"{path.stem!r}")
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise MacroError(f"{path}: SQL does not parse: {exc}") from exc
    if not isinstance(tree, exp.Create) or str(tree.args.get("kind", "")).upper() != "MACRO":
        raise MacroError(f"{path}: a macro file holds exactly one CREATE MACRO statement")
    if re.search(r"\bgetvariable\s*\(", sql, re.IGNORECASE):
        raise MacroError(f"{path}: a macro reads its arguments only; pass the setting in from the model "
                         "(getvariable in a macro would hide it from the model's fingerprint)")
    return Macro(found.group(1).lower(), path, sql)


def load_macros(sql_root: Path) -> dict[str, Macro]:
    """Every macro under ``sql_root/macros``, by name, and the source registry's trait macros
    (pipeline.sources.registry.trait_macros: a model asks a source's traits instead of naming the source)."""
    from pipeline.sources.registry import trait_macros

    files = sorted((sql_root / MACRO_FOLDER).glob("*.sql"))
    macros = {m.name: m for m in (_parsed(p, p.stat().st_mtime_ns, p.stat().st_size) for p in files)}
    registry = Path(__file__).resolve().parent / "sources" / "registry.py"
    return {**macros, **{name: Macro(name, registry, sql) for name, sql in trait_macros().items()}}


@lru_cache(maxsize=256)
def _parsed(path: Path, mtime_ns: int, size: int) -> Macro:
    # every model asset prepares its connection: parse a file once per process, again only when it changed
    return parse_macro(path)


def function_names(tree: exp.Expression) -> set[str]:
    """The functions sqlglot does not know that a parsed query calls (it reads a macro call as Anonymous)."""
    return {f.name.lower() for f in tree.find_all(exp.Anonymous)}


def macros_called(names: Iterable[str], macros: dict[str, Macro]) -> list[Macro]:
    """The macros among the functions a query calls (``function_names``), by name."""
    return [macros[n] for n in sorted(set(names) & macros.keys())]


_VARIABLE = re.compile(r"getvariable\s*\(\s*'(\w+)'\s*\)", re.IGNORECASE)
_ANY_VARIABLE = re.compile(r"\bgetvariable\s*\(", re.IGNORECASE)


def _named_macros(sql: str, macros: dict[str, Macro], found: dict[str, Macro] | None = None,
                  seen: set[str] | None = None) -> dict[str, Macro]:
    """The macros ``sql`` calls (a call's name followed by '('; a mention in a comment or string only adds a
    macro that is never used), with the macros those call, each after the ones it calls (DuckDB binds a macro's
    body when it is created)."""
    found, seen = ({}, set()) if found is None else (found, seen)
    for name, macro in macros.items():
        if name not in seen and re.search(rf"\b{re.escape(name)}\s*\(", sql, re.IGNORECASE):
            seen.add(name)
            _named_macros(macro.sql[_CREATE.match(macro.sql).end():], macros, found, seen)
            found[name] = macro
    return found


def prepare_session(conn, variables: dict[str, object], sql_root: Path | None = None, *,
                    for_sql: str | None = None) -> None:
    """What a connection needs before it runs a model: the settings and the shared macros.

    ``for_sql`` (a model's SQL and its checks, ``SqlModel.session_sql``): only the settings and macros that text
    names. Setting all 20 settings and creating all 11 macros was 31 statements (some 1 ms each) in every model
    step, and most models use none or a few. A ``getvariable`` whose name is not a literal sets them all."""
    from pipeline.paths import SQL_DIR

    macros = load_macros(sql_root or SQL_DIR)
    if for_sql is not None:
        macros = _named_macros(for_sql, macros)
        if len(_VARIABLE.findall(for_sql)) == len(_ANY_VARIABLE.findall(for_sql)):
            named = {n.lower() for n in _VARIABLE.findall(for_sql)}
            variables = {n: v for n, v in variables.items() if n.lower() in named}
    for name, value in variables.items():
        conn.execute(f"SET VARIABLE {name} = ?", [value])
    if macros:
        # one call for all of them: DuckDB runs the statements of one string in turn
        conn.execute(";\n".join(m.temp_sql for m in macros.values()))
