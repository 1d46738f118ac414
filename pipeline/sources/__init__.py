"""The source registry: every trade-data source declared once, and the machinery loops over it.

Layout (modelled on dagster-open-platform's ``defs/<source>/`` folders loaded by one entry):

* ``pipeline/sources/<name>/__init__.py`` holds the source's :class:`Source`: its traits (currency, monthly
  or annual, native code level, unit multiplier), its raw tables with their year-of-row rule, the rhythm of its
  refresh job and freshness policy, and where its other parts are (dotted ``module:attribute`` paths, imported
  only when used, so that reading the registry imports no client, no Dagster and no numpy);
* its Dagster asset module under ``assets/<name>/`` (the layout card: ``assets/`` holds the asset modules)
  exposes ``source_definitions(**options) -> dagster.Definitions``: its ingestion and fetch assets, sensors
  and resources; ``pipeline/definitions.py`` merges them, passing each source only the keywords of
  ``definitions(...)`` it declares (``definition_options``: Comtrade's key reaches Comtrade alone);
* its client (``client/`` or ``client.py``: on the shared ``pipeline/clients/http.py``, free of Dagster and of
  the readers), its readers, its Dagster resource (``resource.py``) and its rules for the reference tables
  (``reference.py``, with ``code_column``) live in this folder too; ``tests/test_import_graph.py`` checks that
  nothing outside the source's folders imports them and that the shared ``pipeline/clients/`` and
  ``pipeline/readers/`` hold no source's module;
* its ``geomon fetch <name>`` subcommands: a module with ``add_commands(kinds, common)``;
  its ``geomon status`` rows: a function ``coverage(paths, ingested, published) -> list[dict]``;
  its demo-world writer (optional, ``demo.py``): ``write_year`` turning the world's reported core into its files,
  on the shared world of :mod:`pipeline.demo_world` (which hashes it into the generated world's stamp);
* its rows enter ``staging.trade_flows`` through its own CTE of ``dbt_like_sql/staging/trade_flows.sql``;
  the marts ask its traits through SQL macros the registry generates instead of naming it
  (:func:`pipeline.sources.registry.trait_macros`: ``source_caveat``, ``source_frequency``, ...), and the
  report and run summary order sources by :func:`pipeline.sources.registry.preference`. A source whose
  reporters make the world (``world_matrix``: Comtrade, BACI) gets world exports, the world-supply screen and
  supplier headroom of its own; staging.comtrade_coverage keeps its name but counts each such source's reporters.

The registry itself is :mod:`pipeline.sources.registry`: definitions, incremental builds, freshness policies,
jobs and schedules, ``geomon status`` and ``geomon fetch`` loop over its ``SOURCES``; adding a source is one
folder, one line there, and its staging SQL.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Schedule:
    """When the source's refresh job runs (its release rhythm)."""

    name: str
    cron: str
    timezone: str
    description: str


@dataclass(frozen=True)
class Source:
    """One trade-data source: its traits and where its parts are."""

    name: str  # the value of staging.trade_flows.source, the input folder name (sample/<name>, landing/<name>)
    label: str  # for people: 'Eurostat Comext'
    currency: str  # the currency of its values, never mixed with another source's
    frequency: str  # 'M' monthly or 'A' annual: the finest period it publishes
    native_level: str  # its detail product level: 'HS6' or 'CN8' (coarser rows are totals of these)
    unit_multiplier: int  # source value unit -> currency units (BACI: thousand USD -> 1000)
    raw_tables: dict[str, str]  # raw table -> SQL over its columns giving a row's year (incremental rebuilds)
    freshness_days: tuple[int, int]  # (warn, fail): days without a new read before Dagster warns / fails
    schedule: Schedule
    assets: str  # "module:function" giving the source's dagster.Definitions (assets, sensors, resources)
    fetch_cli: str  # module with add_commands(kinds, common): its `geomon fetch` subcommands
    status: str | None = None  # "module:function" (paths, ingested, published) -> coverage rows
    fetch_groups: tuple[str, ...] = ()  # asset groups of partitioned fetch assets, kept out of unpartitioned jobs
    demo_writer: str | None = None  # its module writing the demo world's files (write_year), if any: "<pkg>.demo"
    # the keywords of pipeline.definitions.definitions(...) its assets function takes (Comtrade: comtrade_key); no
    # other source is ever called with them, so a secret never passes through another source's code
    definition_options: tuple[str, ...] = ()
    caveats: dict[str, str] = field(default_factory=dict)  # note per reporter (e.g. NLD quasi-transit)
    # its reporters together make the world: world exports, the world-supply screen and supplier headroom are
    # computed from it (Comtrade, BACI; not Comext, whose reporters are the EU member states)
    world_matrix: bool = False
    # its terms of re-use, as the publication's attribution states them when the publication holds its rows
    attribution: str = ""
    # its reporters are the EU member states only (Comext): the report says so where it counts importers from the EU
    eu_reporters_only: bool = False
    # its partner codes that are not countries but intra-EU trade (Comext's QR, QV, QY: methodology section 3)
    intra_eu_partners: tuple[str, ...] = ()
    # module with its rules for the reference tables (python -m pipeline.reference_build): codes(ctx), its rows
    # of area_codes.csv and each country's current code in it; None for a source with no area codes of its own
    # (BACI's are Comtrade's)
    reference: str | None = None
    # the column of the reference tables (countries.csv; eu_members.csv for an eu_reporters_only source) holding a
    # country's current code in this source, and its meaning (the glossary's, so the published column comment)
    code_column: str | None = None
    code_meaning: str = ""

    @property
    def group(self) -> str:
        """The Dagster asset group of its ingestion assets (its refresh job selects it and what follows)."""
        return self.name


def load(path: str) -> Any:
    """The object a ``module:attribute`` path names (a module for a path without ':')."""
    module, _, attribute = path.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded
