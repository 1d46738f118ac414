"""The SQL-model factory: one ``.sql`` file in ``dbt_like_sql/<layer>/`` is one table and one asset.

A model file is a plain DuckDB ``SELECT``. Its table is ``<layer>.<file stem>``.
Leading ``--`` comment lines are its description, except directives:

    -- grain: source, reporter, year             unique, non-null key (blocking check)
    -- check <name>: <predicate every row must satisfy>      (blocking check)
    -- warn <name>: <predicate every row should satisfy>     (warning, not blocking)
    -- assert <name>: <SELECT returning offending rows>      (blocking; may join other tables)
    -- partition: year                            rebuilt per year, only the years whose inputs
                                                   changed (see pipeline/incremental.py)

Upstream tables are read from the SQL itself with sqlglot (CTE names and table
functions such as ``read_parquet`` are not dependencies), so lineage never has
to be written by hand. Unknown tables and cycles are errors at load time that
name the file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import sqlglot
from sqlglot import exp


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

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def code_version(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


_DIRECTIVE = re.compile(r"^--\s*(grain|partition|check|warn|assert)\b\s*(\w+)?\s*:\s*(.+)$", re.IGNORECASE)


def table_references(sql: str, origin: str = "<sql>") -> frozenset[str]:
    """Schema-qualified tables a query reads, without its CTEs and table functions."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
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


def parse_model(path: Path, root: Path) -> SqlModel:
    rel = path.relative_to(root)
    if len(rel.parts) != 2:
        raise ModelError(f"{path}: models live at dbt_like_sql/<layer>/<name>.sql")
    layer, name = rel.parts[0], path.stem
    text = path.read_text(encoding="utf-8")
    description_lines: list[str] = []
    grain: tuple[str, ...] = ()
    partition: str | None = None
    checks: list[Check] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        directive = _DIRECTIVE.match(stripped)
        if directive is None:
            description_lines.append(stripped[2:].strip())
        elif directive.group(1).lower() == "grain":
            grain = tuple(col.strip() for col in directive.group(3).split(","))
        elif directive.group(1).lower() == "partition":
            partition = directive.group(3).strip().lower()
            if partition != "year":
                raise ModelError(f"{path}: only '-- partition: year' is supported, not {partition!r}")
        else:
            kind = directive.group(1).lower()
            if not directive.group(2):
                raise ModelError(f"{path}: a {kind} needs a name: '-- {kind} <name>: ...'")
            checks.append(Check(directive.group(2), directive.group(3).strip(), kind))
    if not description_lines:
        raise ModelError(f"{path}: start the model with a comment that says what the table is")
    body = text.strip().rstrip(";")
    return SqlModel(
        path=path,
        layer=layer,
        name=name,
        sql=body,
        description="\n".join(description_lines),
        deps=table_references(body, origin=str(path)),
        grain=grain,
        checks=tuple(checks),
        partition=partition,
    )


def load_models(root: Path, external_tables: set[str]) -> list[SqlModel]:
    """Every model under ``root``, in dependency order, validated against known tables."""
    models = [parse_model(p, root) for p in sorted(root.glob("*/*.sql"))]
    by_table = {m.table: m for m in models}
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
    return [by_table[t] for t in order]
