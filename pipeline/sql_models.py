"""The SQL-model factory: one ``.sql`` file in ``dbt_like_sql/<layer>/`` is one table and one asset.

A model file is a plain DuckDB ``SELECT``. Its table is ``<layer>.<file stem>``.
Leading ``--`` comment lines are its description, except directives:

    -- grain: source, reporter, year             unique, non-null key (blocking check)
    -- check <name>: <predicate every row must satisfy>      (blocking check)
    -- warn <name>: <predicate every row should satisfy>     (warning, not blocking)
    -- assert <name>: <SELECT returning offending rows>      (blocking; may join other tables)
    -- partition: year                            rebuilt per year, only the years whose inputs
                                                   changed (see pipeline/incremental.py)
    -- partition: year, lookback 1                the same for a table whose year reads the year(s)
                                                   before it too (a 12-month window ending in a year)

Rules shared by several models are DuckDB macros in ``dbt_like_sql/macros/`` (pipeline/sql_macros.py);
a model's code version includes the macros it calls.

Upstream tables are read from the SQL itself with sqlglot (CTE names and table
functions such as ``read_parquet`` are not dependencies), so lineage never has
to be written by hand. Unknown tables and cycles are errors at load time that
name the file. What sqlglot reads is kept on disk between processes (pipeline/sql_cache.py, under
``CACHE_DIR``): facts only, so every check below still runs on every load.

A model's header also declares its table's publication contract (access class, workbook sheet, changes
screens, report sections, methodology section, table-specific column meanings): pipeline/contracts.py
lists those directives; pipeline/catalog.py is what reads them for the publisher.

A typo never passes silently: these are errors at load time too, naming the file and line:

* a header line that looks like a directive but is not one: a word one letter away from a
  directive (``-- grains: ...``, ``-- chek x: ...``) or a longer form of one (``-- checks x: ...``,
  ``-- warning x: ...``) before a colon, a directive keyword without the ``:`` form
  (``-- check positive v > 0``), or a directive after the SQL has begun (DuckDB would ignore it);
  so a description line must not start with a directive keyword (of grain, partition, check, warn, assert);
* a contract directive that cannot be read (an unknown access class, a sheet filter or a changes column
  the SELECT does not produce, a sheet name or changes screen declared twice);
* a ``{name}`` in the header (a setting whose value the publication states) that is not a setting;
* ``getvariable('name')`` where ``name`` is not a setting (``pipeline.settings.ScreenThresholds``):
  DuckDB returns NULL for it, and a threshold compared with NULL never flags;
* a grain column the model's SELECT does not produce (read statically from the SQL, stars
  expanded through CTEs, subqueries and upstream models; a star over a raw or reference table,
  whose columns the loader does not know, leaves the grain to the unique_grain check at run time).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field, replace
from functools import lru_cache
from graphlib import CycleError, TopologicalSorter
from collections.abc import Iterable
from pathlib import Path

import sqlglot
from sqlglot import exp

from pipeline import glossary, sql_cache, sql_macros
from pipeline.contracts import KEYWORDS as CONTRACT_KEYWORDS
from pipeline.contracts import Contract, ContractError, declare
from pipeline.contracts import FORMS as CONTRACT_FORMS
from pipeline.sql_cache import FactCache
from pipeline.sql_macros import MACRO_FOLDER, Macro, function_names, load_macros, macros_called

# Test-only hook: more folders of <layer>/<name>.sql models that load_models reads beside its root (a test adds a
# table through one SQL file this way, and finds it published with no other edit: tests/test_table_contracts.py).
EXTRA_MODEL_DIRS: tuple[Path, ...] = ()
# Where load_models keeps what sqlglot read from the models (pipeline/sql_cache.py), git-ignored; None: no cache.
CACHE_DIR: Path | None = Path(__file__).resolve().parents[1] / ".cache" / "sql_models"


class ModelError(Exception):
    """A SQL model that cannot be turned into an asset."""


@dataclass(frozen=True)
class Check:
    name: str
    predicate: str  # a row predicate for 'check'/'warn', a whole query for 'assert'
    kind: str = "check"

    @property
    def blocking(self) -> bool:
        return self.kind != "warn"

    def failing_rows_sql(self, table: str) -> str:
        if self.kind == "assert":
            return self.predicate
        return f"SELECT * FROM {table} WHERE NOT coalesce(({self.predicate}), false)"


@dataclass(frozen=True)
class SqlModel:
    path: Path
    layer: str
    name: str
    sql: str
    description: str
    deps: frozenset[str]
    grain: tuple[str, ...] = ()
    checks: tuple[Check, ...] = field(default=())
    partition: str | None = None  # 'year': built and rebuilt one year at a time
    lookback: int = 0  # years before its own that a year's rows read (partitioned models only)
    grain_line: int = 0  # line of the grain directive in the file, for errors
    macro_sql: str = ""  # the shared macros it calls (pipeline/sql_macros.py), part of its code version
    contract: Contract = field(default_factory=Contract)  # what publishing does with the table (pipeline/contracts.py)

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def session_sql(self) -> str:
        """Its SQL and its checks': what names the settings and macros a session must hold to build and check it."""
        return "\n".join([self.sql, *(c.predicate for c in self.checks)])

    @property
    def code_version(self) -> str:
        return hashlib.sha256((self.sql + self.macro_sql).encode()).hexdigest()[:16]


_MODEL_KEYWORDS = ("grain", "partition", "check", "warn", "assert")
_KEYWORDS = _MODEL_KEYWORDS + CONTRACT_KEYWORDS
_DIRECTIVE = re.compile(rf"^--\s*({'|'.join(_KEYWORDS)})\b\s*(\w+)?\s*:\s*(.+)$", re.IGNORECASE)
# a comment line's first word, and whether a colon follows it (or a name and a colon): '-- grains: a'
_LOOKS_LIKE = re.compile(r"^--\s*([A-Za-z_]+)(\s*(?:\w+\s*)?:)?")
_ACCESS_WITHOUT_COLON = re.compile(r"^--\s*access\s+(public|restricted)\s*$", re.IGNORECASE)
_PARTITION = re.compile(r"^year(?:\s*,\s*lookback\s+([1-9][0-9]*))?$", re.IGNORECASE)
_GETVARIABLE = re.compile(r"getvariable\s*\(\s*(?:'(\w+)'\s*\))?", re.IGNORECASE)


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one letter inserted, deleted, replaced, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _misspelt_directive(line: str) -> str | None:
    """The directive a comment line that is not a directive seems meant to be, if any."""
    found = _LOOKS_LIKE.match(line)
    if found is None:
        return None
    word, colon = found.group(1).lower(), found.group(2)
    if _ACCESS_WITHOUT_COLON.match(line):
        return "access"  # '-- access public': a class meant, which a description line would never say so
    for keyword in _KEYWORDS:
        if word == keyword and keyword in _MODEL_KEYWORDS:
            # the keyword itself, but not in the directive's form (the contract's words, e.g. 'report' or
            # 'methodology', start description lines too: only their colon forms are taken for directives)
            return keyword
        if colon and (_one_edit_apart(word, keyword) or (word.startswith(keyword) and len(word) <= len(keyword) + 3)):
            return keyword
    return None


_FORMS = {
    "grain": "-- grain: col, col, ...",
    "partition": "-- partition: year[, lookback <years>]",
    "check": "-- check <name>: <predicate>",
    "warn": "-- warn <name>: <predicate>",
    "assert": "-- assert <name>: <SELECT returning offending rows>",
    **CONTRACT_FORMS,
}


@lru_cache(maxsize=128)
def parsed(sql: str) -> exp.Expression:
    """A model's SQL parsed once per process: its tables, columns and macros are all read from one tree
    (parsing every model three times cost a quarter second at every start). Read it; never change it."""
    return sqlglot.parse_one(sql, read="duckdb")


def table_references(sql: str, origin: str = "<sql>") -> frozenset[str]:
    """Schema-qualified tables a query reads, without its CTEs and table functions."""
    try:
        tree = parsed(sql)
    except sqlglot.errors.ParseError as exc:
        raise ModelError(f"{origin}: SQL does not parse: {exc}") from exc
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    refs: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # read_csv(...), read_parquet(...), unnest(...): not a table
        name = table.name.lower()
        schema = table.db.lower()
        if not schema:
            if name in ctes:
                continue
            raise ModelError(
                f"{origin}: table '{table.name}' is neither a CTE nor schema-qualified "
                "(write <schema>.<table>, e.g. staging.trade_flows)"
            )
        refs.add(f"{schema}.{name}")
    return frozenset(refs)


@dataclass(frozen=True)
class Header:
    """What a SQL file's leading comment lines say: its description and its directives."""

    description: str
    grain: tuple[str, ...] = ()
    grain_line: int = 0
    partition: str | None = None
    lookback: int = 0
    checks: tuple[Check, ...] = ()
    contract: Contract = field(default_factory=Contract)
    sql_lines: tuple[tuple[int, str], ...] = ()  # (line number, text) of every line that is SQL, directives included


def parse_header(path: Path, text: str | None = None) -> Header:
    """The header of a SQL file (a model, or the publisher's changes.sql): errors name the file and line."""
    text = path.read_text(encoding="utf-8") if text is None else text
    description_lines: list[str] = []
    grain: tuple[str, ...] = ()
    grain_line = 0
    partition: str | None = None
    lookback = 0
    checks: list[Check] = []
    contract = Contract()
    sql_lines: list[tuple[int, str]] = []
    in_header = True
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if in_header and not stripped.startswith("--"):
            in_header = False
        if not in_header:
            sql_lines.append((number, line))
            if stripped.startswith("--") and _DIRECTIVE.match(stripped):
                raise ModelError(f"{path}:{number}: directive after the SQL has begun, where it would be ignored; "
                                 f"move it to the comment header at the top: {stripped!r}")
            continue
        directive = _DIRECTIVE.match(stripped)
        if directive is None:
            meant = _misspelt_directive(stripped)
            if meant is not None:
                raise ModelError(
                    f"{path}:{number}: looks like a directive but is not one: {stripped!r}; write "
                    f"'{_FORMS[meant]}', or reword the description so that it does not start with "
                    f"a directive's name ({', '.join(_KEYWORDS)})")
            description_lines.append(stripped[2:].strip())
            continue
        sql_lines.append((number, line))
        kind = directive.group(1).lower()
        if kind in CONTRACT_KEYWORDS:
            try:
                contract = declare(contract, kind, directive.group(2), directive.group(3), number)
            except ContractError as exc:
                raise ModelError(f"{path}:{number}: {exc}: {stripped!r}") from None
        elif kind == "grain":
            if directive.group(2):
                raise ModelError(f"{path}:{number}: looks like a directive but is not one: {stripped!r}; "
                                 f"write '{_FORMS['grain']}'")
            if grain:
                raise ModelError(f"{path}:{number}: a second grain directive (the first is on line {grain_line})")
            grain, grain_line = tuple(col.strip() for col in directive.group(3).split(",")), number
            if not all(re.fullmatch(r"\w+", col) for col in grain):
                raise ModelError(f"{path}:{number}: grain columns are plain column names separated by commas, "
                                 f"not {directive.group(3).strip()!r}")
        elif kind == "partition":
            form = _PARTITION.match(directive.group(3).strip())
            if directive.group(2) or form is None:
                raise ModelError(f"{path}:{number}: only '-- partition: year' or '-- partition: year, lookback N' "
                                 f"(N >= 1 years) is supported, not {stripped!r}")
            partition, lookback = "year", int(form.group(1) or 0)
        else:
            if not directive.group(2):
                raise ModelError(f"{path}:{number}: a {kind} needs a name: '{_FORMS[kind]}'")
            if any(c.name == directive.group(2) for c in checks) or directive.group(2) == "unique_grain" and grain:
                raise ModelError(f"{path}:{number}: a second check named {directive.group(2)!r}")
            checks.append(Check(directive.group(2), directive.group(3).strip(), kind))
    if not description_lines:
        raise ModelError(f"{path}: start the model with a comment that says what the table is")
    return Header("\n".join(description_lines), grain, grain_line, partition, lookback, tuple(checks), contract,
                  tuple(sql_lines))


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _query_facts(sql: str, origin: str, facts: FactCache | None) -> dict:
    """A model query's tables and the functions it calls, from the cache or from a parse."""
    def compute() -> dict:
        return {"deps": sorted(table_references(sql, origin)), "functions": sorted(function_names(parsed(sql)))}

    if facts is None:
        return compute()
    return facts.get("query\0" + sql, compute,
                     lambda f: isinstance(f, dict) and _strings(f.get("deps")) and _strings(f.get("functions")))


def parse_model(path: Path, root: Path, variables: Iterable[str] | None = None,
                facts: FactCache | None = None) -> SqlModel:
    """One model file. ``variables``: the names ``getvariable()`` may read (None: not checked); ``facts``: where
    to find or keep what sqlglot reads from it (None: parse)."""
    rel = path.relative_to(root)
    if len(rel.parts) != 2:
        raise ModelError(f"{path}: models live at dbt_like_sql/<layer>/<name>.sql")
    layer, name = rel.parts[0], path.stem
    text = path.read_text(encoding="utf-8")
    header = parse_header(path, text)
    if variables is not None:
        known = {v.lower() for v in variables}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip().startswith("--"):
                break  # the header ends where the SQL begins
            for setting in glossary.placeholders(line):
                if setting.lower() not in known:
                    raise ModelError(f"{path}:{number}: {{{setting}}} is not a setting, so the publication could not "
                                     f"state its value; settings: {', '.join(sorted(known))}")
        for number, line in header.sql_lines:
            for found in _GETVARIABLE.finditer(line):
                if found.group(1) is None:
                    raise ModelError(f"{path}:{number}: getvariable() takes a setting's name as a string literal, "
                                     f"e.g. getvariable('ec_c1_hhi'): {line.strip()!r}")
                if found.group(1).lower() not in known:
                    raise ModelError(f"{path}:{number}: getvariable('{found.group(1)}') is not a setting, so it "
                                     f"would be NULL and compare with nothing; settings: {', '.join(sorted(known))}")
    body = text.strip().rstrip(";")
    return SqlModel(
        path=path,
        layer=layer,
        name=name,
        sql=body,
        # the settings a description names as {setting} read as their names here (the Dagster UI); the publisher
        # writes the values the run used (pipeline/catalog.py: table_description)
        description=glossary.fill(header.description),
        deps=frozenset(_query_facts(body, str(path), facts)["deps"]),
        grain=header.grain,
        checks=header.checks,
        partition=header.partition,
        lookback=header.lookback,
        grain_line=header.grain_line,
        contract=header.contract,
    )


def _arg(node: exp.Expression, *names: str):
    """The first of ``names`` the node has (sqlglot renamed some args, e.g. 'except' -> 'except_')."""
    for key in names:
        if node.args.get(key) is not None:
            return node.args[key]
    return None


def output_columns(query: exp.Expression, tables: dict[str, set[str] | None],
                   ctes: dict[str, set[str] | None] | None = None) -> set[str] | None:
    """The (lower-case) names of the columns a query returns, read from the SQL alone; None when that
    cannot be told (COLUMNS(...), a star over a table function or a table of unknown columns).

    ``tables`` gives the columns of tables read by name (schema.table), e.g. the upstream models.
    """
    ctes = dict(ctes or {})
    with_ = _arg(query, "with_", "with")
    if with_ is not None:
        for cte in with_.expressions:
            alias = cte.args.get("alias")
            named = [c.name.lower() for c in (alias.columns if alias is not None else [])]
            ctes[cte.alias_or_name.lower()] = set(named) if named else output_columns(cte.this, tables, ctes)
    if isinstance(query, exp.Subquery):
        return output_columns(query.this, tables, ctes)
    if isinstance(query, exp.SetOperation):
        left = output_columns(query.this, tables, ctes)
        if query.args.get("by_name"):
            right = output_columns(query.expression, tables, ctes)
            return None if left is None or right is None else left | right
        return left
    if not isinstance(query, exp.Select):
        return None
    sources: dict[str, set[str] | None] = {}
    from_ = _arg(query, "from_", "from")
    for item in ([from_.this] if from_ is not None else []) + [j.this for j in query.args.get("joins") or []]:
        if isinstance(item, exp.Table) and isinstance(item.this, exp.Identifier):
            table, schema = item.name.lower(), item.db.lower()
            cols = tables.get(f"{schema}.{table}") if schema else ctes.get(table)
        elif isinstance(item, exp.Subquery):
            cols = output_columns(item.this, tables, ctes)
        else:
            cols = None
        sources[item.alias_or_name.lower()] = cols
    out: set[str] = set()
    for projection in query.expressions:
        star, of = None, None
        if isinstance(projection, exp.Star):
            star = projection
        elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            star, of = projection.this, projection.table.lower()
        if star is not None:
            if of is not None and of not in sources:
                return None
            picked = [sources[of]] if of is not None else list(sources.values())
            if not picked or any(p is None for p in picked):
                return None
            cols = set().union(*picked) - {e.name.lower() for e in _arg(star, "except_", "except") or []}
            for renamed in star.args.get("rename") or []:
                cols.discard(renamed.this.name.lower())
                cols.add(renamed.alias.lower())
            out |= cols
        elif projection.find(exp.Columns) is not None or not projection.output_name:
            return None
        else:
            out.add(projection.output_name.lower())
    return out


def settings_names() -> set[str]:
    """The names the models may read with getvariable(): the settings handed to SQL."""
    from pipeline.settings import ScreenThresholds

    return set(ScreenThresholds().sql_variables())


def model_files(root: Path) -> list[tuple[Path, Path]]:
    """(file, its root) of every model under ``root`` and the EXTRA_MODEL_DIRS, macros left out."""
    return [(path, folder) for folder in (root, *EXTRA_MODEL_DIRS) for path in sorted(folder.glob("*/*.sql"))
            if path.parent.name != MACRO_FOLDER]


def _loader_version() -> str:
    """sqlglot's version and the code that derives the cached facts: a change to either empties the cache."""
    code = b"".join(Path(module.__file__).read_bytes() for module in (sys.modules[__name__], sql_cache, sql_macros))
    return hashlib.sha256(sqlglot.__version__.encode() + code).hexdigest()


def _macros(root: Path, facts: FactCache) -> dict[str, Macro]:
    """``load_macros(root)``, each macro file's name and statement kept in the facts cache under the files' text:
    checking a file parses it with sqlglot, whose DuckDB dialect alone took 0.1 s of every start before the first
    step (issue 28); a changed file is checked again (its text is the key), and a file that fails its check is never
    kept. The registry's trait macros are generated, not parsed: taken as load_macros takes them."""
    files = sorted((root / MACRO_FOLDER).glob("*.sql"))
    text = "".join(f"{path.name}\0{path.read_text(encoding='utf-8')}\0" for path in files)

    def compute() -> dict:
        loaded = load_macros(root)
        return {"files": [[m.name, m.path.name, m.sql] for m in loaded.values() if m.path.parent.name == MACRO_FOLDER]}

    fact = facts.get("macros\0" + text, compute, lambda f: isinstance(f, dict) and isinstance(f.get("files"), list)
                     and all(_strings(m) and len(m) == 3 for m in f["files"]))
    from pipeline.sources.registry import trait_macros

    registry = Path(sql_macros.__file__).resolve().parent / "sources" / "registry.py"  # as load_macros names it
    return {**{name: Macro(name, root / MACRO_FOLDER / file, sql) for name, file, sql in fact["files"]},
            **{name: Macro(name, registry, sql) for name, sql in trait_macros().items()}}


def _columns(model: SqlModel, columns: dict[str, set[str] | None], facts: FactCache) -> set[str] | None:
    """The columns a model produces given its upstream tables' (output_columns), from the cache or a parse."""
    upstream = {d: sorted(columns[d]) if columns.get(d) is not None else None for d in sorted(model.deps)}

    def compute() -> dict:
        found = output_columns(parsed(model.sql), columns)
        return {"columns": None if found is None else sorted(found)}

    fact = facts.get("columns\0" + model.sql + "\0" + json.dumps(upstream), compute,
                     lambda f: isinstance(f, dict) and "columns" in f and (f["columns"] is None or _strings(f["columns"])))
    return None if fact["columns"] is None else set(fact["columns"])


def _check_contract(model: SqlModel, columns: set[str] | None, facts: FactCache) -> None:
    """The columns a model's contract names are columns its SELECT produces (when they can be told)."""
    contract = model.contract
    for column, _ in contract.columns:
        if column in glossary.COLUMNS:
            raise ModelError(f"{model.path}:{contract.lines[f'column {column}']}: column {column!r} already has its one "
                             "meaning in pipeline/glossary.py (a column name means the same in every table)")
    named = contract.referenced_columns()
    for screen in contract.changes:
        if screen.where:
            def compute(where=screen.where, line=contract.lines[f"changes {screen.screen}"]) -> dict:
                try:
                    condition = sqlglot.parse_one(f"SELECT 1 WHERE {where}", read="duckdb")
                except sqlglot.errors.ParseError as exc:
                    raise ModelError(f"{model.path}:{line}: the changes screen's 'where' does not parse: {exc}") from None
                return {"columns": [c.name for c in condition.find_all(exp.Column)]}

            fact = facts.get("where\0" + screen.where, compute, lambda f: isinstance(f, dict) and _strings(f.get("columns")))
            named += [(c, "changes") for c in fact["columns"]]
    if columns is None:
        return
    for column, kind in named:
        if column.lower() not in columns:
            line = next((n for key, n in contract.lines.items() if key.split(" ")[0] == kind), 0)
            raise ModelError(f"{model.path}:{line}: the {kind} declaration names column {column!r}, which the model "
                             f"does not produce; its columns: {', '.join(sorted(columns))}")


def _check_unique_declarations(models: list[SqlModel]) -> None:
    """A sheet name and a changes screen belong to one table each."""
    seen: dict[str, SqlModel] = {}
    for model in models:
        declared = ([f"sheet {model.contract.sheet.name!r}"] if model.contract.sheet else []) \
            + [f"changes screen {s.screen!r}" for s in model.contract.changes]
        for what in declared:
            if what in seen:
                raise ModelError(f"{model.path}: {what} is declared by {seen[what].path} too")
            seen[what] = model


def load_models(root: Path, external_tables: set[str], variables: Iterable[str] | None = None) -> list[SqlModel]:
    """Every model under ``root`` (and EXTRA_MODEL_DIRS), in dependency order, validated against known tables,
    the settings ``getvariable()`` may read (``variables``; default: ``settings_names()``), its own columns and
    its contract's. What sqlglot reads is cached (``CACHE_DIR``), saved only when the load raised nothing."""
    variables = settings_names() if variables is None else set(variables)
    facts = FactCache(CACHE_DIR, _loader_version())
    macros = _macros(root, facts)
    models = []
    for path, folder in model_files(root):
        model = parse_model(path, folder, variables, facts)
        called = macros_called(_query_facts(model.sql, str(path), facts)["functions"], macros)
        models.append(replace(model, macro_sql="".join(m.sql for m in called)) if called else model)
    by_table = {m.table: m for m in models}
    if len(by_table) < len(models):
        twice = sorted({m.table for m in models if sum(o.table == m.table for o in models) > 1})
        raise ModelError(f"table(s) {twice} defined by more than one model file")
    _check_unique_declarations(models)
    for model in models:
        unknown = sorted(d for d in model.deps if d not in by_table and d not in external_tables)
        if unknown:
            raise ModelError(f"{model.path}: reads unknown table(s) {unknown}; known: models and "
                             f"{sorted(external_tables)}")
    graph = {m.table: {d for d in m.deps if d in by_table} for m in models}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = exc.args[1]
        files = [str(by_table[t].path) for t in cycle if t in by_table]
        raise ModelError(f"cycle between SQL models: {' -> '.join(cycle)} (files: {files})") from exc
    ordered = [by_table[t] for t in order]
    columns: dict[str, set[str] | None] = {}
    for model in ordered:
        columns[model.table] = _columns(model, columns, facts)
        _check_contract(model, columns[model.table], facts)
        if not model.grain or columns[model.table] is None:
            continue  # a star over a raw table or COLUMNS(...): tests/test_sql_models.py checks every project model
        missing = [c for c in model.grain if c.lower() not in columns[model.table]]
        if missing:
            raise ModelError(f"{model.path}:{model.grain_line}: grain column(s) {missing} are not produced by the "
                             f"model; its columns: {', '.join(sorted(columns[model.table]))}")
    facts.save()
    return ordered
