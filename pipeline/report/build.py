"""Write the report of one published monitor file: read it read-only, render, write atomically."""

from __future__ import annotations

import hashlib
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.io import atomic_write_bytes
from pipeline.report.content import collect
from pipeline.report.public import public_content
from pipeline.report.render import render_html


@dataclass(frozen=True)
class ReportResult:
    path: Path
    bytes: int
    sha256: str
    seconds: float
    snapshot_id: str
    synthetic: bool
    table_rows: int
    products_charted: int
    share_mismatches: tuple[str, ...]
    # per source: {domain: (EU27 dependent, NL dependent)} in the headline year
    dependent_by_domain: dict[str, dict[str, tuple[int, int]]]
    headline_years: dict[str, int]


def write_report(database: Path, target: Path, *, manifest: dict | None = None,
                 left_out: list[str] | None = None) -> ReportResult:
    """Render ``target`` (an HTML file) from the published DuckDB file ``database``.

    Written atomically (``pipeline.io``), so a reader never sees half a page. The same
    database gives the same bytes. ``left_out``: the public edition, without these sections
    (pipeline/report/public.py).
    """
    started = time.perf_counter()
    with closing(duckdb.connect(str(database), read_only=True)) as conn:
        page, payload = collect(conn, manifest)
    if left_out:
        page, payload = public_content(page, payload, left_out)
    html = render_html(page, payload, left_out or ()).encode("utf-8")
    atomic_write_bytes(target, html)
    return ReportResult(
        path=target,
        bytes=len(html),
        sha256=hashlib.sha256(html).hexdigest(),
        seconds=time.perf_counter() - started,
        snapshot_id=page["publication"]["snapshot_id"],
        synthetic=page["synthetic"],
        table_rows=len(page["dependencies"]),
        products_charted=sum(1 for p in payload["products"].values() if p["shares"]),
        share_mismatches=tuple(page["share_mismatches"]),
        dependent_by_domain={
            h["source"]: {d["domain"]: (d["eu_dependent_products"], d["nl_dependent_products"]) for d in h["domains"]}
            for h in page["headline"]
        },
        headline_years={h["source"]: h["year"] for h in page["headline"]},
    )
