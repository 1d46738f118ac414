"""The publication guard: the audit half of write-audit-publish.

Before a publication replaces the current one, the candidate (the working database's tables about to be
published) is compared with what users read now (the published ``geomonitor.duckdb``, attached read-only).
A source, a source-year, a reporter-year or a table that disappears, or a row count that falls by more than
a limit (per table, and per source and year of the staged flows), is a finding. Findings stop the
publication unless the run accepts them on purpose (``allow_shrink``); the manifest then records what was
accepted. One finding is never accepted: a candidate without a single staged flow row (an empty or missing
input folder), whether or not there is a previous publication.

Row counts only: what the figures say is for the checks of the models, and what moved for monitor.changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.io import sql_string

FLOWS = "staging.trade_flows"
# tables every publication makes afresh, compared with nothing: monitor.changes is the difference itself
NOT_COMPARED = {"monitor.changes"}
SCHEMAS = ("monitor", "reference", "staging")  # compared with the previous publication
SHOWN = 12  # findings printed per refusal; the manifest and the check's metadata keep them all
NEVER_ACCEPTED = "no_flows"


@dataclass(frozen=True)
class Finding:
    kind: str  # no_flows, table_gone, source_gone, source_year_gone, reporter_year_gone, table_shrank, source_year_shrank
    subject: str  # the table, source, 'comext 2024' or 'comext FR 2024'
    before: int
    after: int

    def line(self) -> str:
        if self.kind == NEVER_ACCEPTED:
            return "no flow rows were staged: the run read no trade records (empty or missing input folder?)"
        if self.kind.endswith("_gone"):
            what = "table" if self.kind == "table_gone" else "flows of"
            return f"{what} {self.subject}: {self.before:,} rows published, none in this run"
        drop = 1 - self.after / self.before
        what = "table" if self.kind == "table_shrank" else "flows of"
        return f"{what} {self.subject}: {self.before:,} rows published, {self.after:,} in this run (-{drop:.0%})"

    def record(self) -> dict:
        return {"kind": self.kind, "subject": self.subject, "rows_before": self.before, "rows_after": self.after}


@dataclass(frozen=True)
class Verdict:
    findings: list[Finding]
    allow_shrink: bool
    max_table_drop: float
    max_source_year_drop: float
    previous: str | None = None  # the snapshot id compared with; None for a first publication
    flow_rows: int = 0

    @property
    def refused(self) -> bool:
        return any(f.kind == NEVER_ACCEPTED for f in self.findings) or (bool(self.findings) and not self.allow_shrink)

    def lines(self, limit: int = SHOWN) -> list[str]:
        shown = [f.line() for f in self.findings[:limit]]
        if len(self.findings) > limit:
            shown.append(f"... and {len(self.findings) - limit} more (the check's metadata lists them all)")
        return shown

    def next_step(self) -> str:
        if any(f.kind == NEVER_ACCEPTED for f in self.findings):
            from pipeline.sources.registry import SOURCES

            folders = ", ".join(f"landing/{s.name}" for s in SOURCES)
            return (f"put input files where the run reads them (e.g. <data dir>/{folders}) "
                    "or choose other --sources; a run without flows is never published, --allow-shrink or not")
        return ("if the inputs are meant to shrink (files withdrawn, a source dropped), run again with "
                "--allow-shrink (run config: resources.settings.config.allow_shrink: true) and the manifest "
                "records what was accepted; otherwise put the missing input files back and run again")

    def message(self) -> str:
        against = f"compared with publication {self.previous}" if self.previous else "no previous publication"
        head = f"publication refused by the publication guard ({against}):"
        return "\n".join([head, *(f"  {line}" for line in self.lines()), f"Next: {self.next_step()}"])

    def record(self) -> dict:
        """What the manifest keeps: the limits, the publication compared with, and what was accepted."""
        return {"previous_snapshot": self.previous, "allow_shrink": self.allow_shrink,
                "max_table_drop": self.max_table_drop, "max_source_year_drop": self.max_source_year_drop,
                "flow_rows": self.flow_rows, "accepted": [f.record() for f in self.findings]}


class PublicationRefused(Exception):
    """The guard stopped a publication; nothing was written. ``verdict`` holds the findings."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message())
        self.verdict = verdict


@dataclass(frozen=True)
class Guard:
    """The limits (fractions of the published rows a count may lose) and whether a shrink is accepted."""

    max_table_drop: float = 0.2
    max_source_year_drop: float = 0.2
    allow_shrink: bool = False

    def audit(self, conn: duckdb.DuckDBPyConnection, previous_db: Path, tables: list[str],
              made_later: tuple[str, ...] = ()) -> Verdict:
        """Compare the candidate ``tables`` of ``conn`` with ``previous_db`` (absent: a first publication);
        ``made_later`` are tables the publisher derives itself, compared with nothing."""
        flow_rows = _count(conn, FLOWS) if FLOWS in tables else 0
        findings = [] if flow_rows else [Finding(NEVER_ACCEPTED, FLOWS, 0, 0)]
        previous = None
        if previous_db.is_file():
            conn.execute(f"ATTACH {sql_string(previous_db)} AS guard_prev (READ_ONLY)")
            try:
                previous, compared = self._against_previous(conn, tables, set(made_later))
                findings += compared
            finally:
                conn.execute("DETACH guard_prev")
        return Verdict(findings, self.allow_shrink, self.max_table_drop, self.max_source_year_drop, previous,
                       flow_rows)

    def _against_previous(self, conn, tables: list[str], made_later: set[str]) -> tuple[str | None, list[Finding]]:
        published = {f"{s}.{t}" for s, t in conn.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'guard_prev' "
            f"AND schema_name IN ({', '.join(sql_string(x) for x in SCHEMAS)})").fetchall()} - NOT_COMPARED - made_later
        previous = None
        if "publication" in {t for (t,) in conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'guard_prev' "
                "AND schema_name = 'meta'").fetchall()}:
            previous = conn.execute("SELECT snapshot_id FROM guard_prev.meta.publication").fetchall()[0][0]
        # the flows first: a source or year gone is the cause, the tables' falls its consequences
        findings = self._flows(conn) if FLOWS in published and FLOWS in tables else []
        for table in sorted(published):
            before = _count(conn, f"guard_prev.{table}")
            if table not in tables:
                findings.append(Finding("table_gone", table, before, 0))
                continue
            after = _count(conn, table)
            if before and after < before * (1 - self.max_table_drop):
                findings.append(Finding("table_shrank", table, before, after))
        return previous, findings

    def _flows(self, conn) -> list[Finding]:
        """Per source, source-year and reporter-year of the staged flows: gone, or fallen past the limit. A
        source gone is one finding, not one per year; a year gone one, not one per reporter."""
        rows = conn.execute(f"""
            WITH before AS (SELECT source, year, reporter, count(*) AS n FROM guard_prev.{FLOWS} GROUP BY ALL),
                 after AS (SELECT source, year, reporter, count(*) AS n FROM {FLOWS} GROUP BY ALL),
                 sources_before AS (SELECT source, sum(n) AS n FROM before GROUP BY ALL),
                 sources_after AS (SELECT DISTINCT source FROM after),
                 years_before AS (SELECT source, year, sum(n) AS n FROM before GROUP BY ALL),
                 years_after AS (SELECT source, year, sum(n) AS n FROM after GROUP BY ALL)
            SELECT 'source_gone', b.source, b.n::BIGINT, 0 FROM sources_before b
            WHERE b.source NOT IN (SELECT source FROM sources_after)
            UNION ALL
            SELECT 'source_year_gone', b.source || ' ' || b.year::VARCHAR, b.n::BIGINT, 0 FROM years_before b
            WHERE b.source IN (SELECT source FROM sources_after)
              AND NOT EXISTS (SELECT 1 FROM years_after a WHERE a.source = b.source AND a.year = b.year)
            UNION ALL
            SELECT 'source_year_shrank', b.source || ' ' || b.year::VARCHAR, b.n::BIGINT, a.n::BIGINT
            FROM years_before b JOIN years_after a USING (source, year) WHERE a.n < b.n * (1 - ?)
            UNION ALL
            SELECT 'reporter_year_gone', b.source || ' ' || b.reporter || ' ' || b.year::VARCHAR, b.n, 0
            FROM before b
            WHERE EXISTS (SELECT 1 FROM years_after a WHERE a.source = b.source AND a.year = b.year)
              AND NOT EXISTS (SELECT 1 FROM after a
                              WHERE a.source = b.source AND a.year = b.year AND a.reporter = b.reporter)
        """, [self.max_source_year_drop]).fetchall()
        order = ["source_gone", "source_year_gone", "source_year_shrank", "reporter_year_gone"]
        return sorted((Finding(*row) for row in rows), key=lambda f: (order.index(f.kind), f.subject))


def _count(conn, table: str) -> int:
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    except duckdb.CatalogException:
        return 0
