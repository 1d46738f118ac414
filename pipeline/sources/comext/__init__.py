"""Eurostat Comext as a registered source: monthly bulk files and SDMX extracts, EUR, CN8 of the EU member states.

Its parts, all in this folder but the assets: the client (:mod:`.client`: listing, SDMX, downloads, the raw store),
the readers (:mod:`.reader`, the bulk 7z to Parquet conversion :mod:`.bulk_reader` with :mod:`.sevenzip`), the resource
(:mod:`.resource`), its reference rules (:mod:`.reference`), the assets
``assets/comext/``, ``geomon fetch comext|comext-sdmx`` (:mod:`pipeline.sources.comext.fetch_cli`), its status
rows (:mod:`pipeline.sources.comext.status`), its demo-world writer (:mod:`.demo`) and the ``comext`` CTEs of
``dbt_like_sql/staging/trade_flows.sql``.
"""

from pipeline.sources.comext import reader
from pipeline.sources import Schedule, Source

SOURCE = Source(
    eu_reporters_only=True,
    intra_eu_partners=("QR", "QV", "QY"),
    attribution='Eurostat, Comext (re-use with attribution)',
    name="comext",
    label="Eurostat Comext",
    currency="EUR",
    frequency="M",
    native_level="CN8",
    unit_multiplier=1,
    raw_tables={reader.SDMX_TABLE: reader.SDMX_YEAR_OF_ROW, reader.BULK_TABLE: reader.BULK_YEAR_OF_ROW},
    # releases monthly: a month and a half without a new read is late
    freshness_days=(35, 45),
    schedule=Schedule(
        name="comext_monthly", cron="0 6 15 * *", timezone="Europe/Brussels",
        description="Mid-month, after Eurostat's monthly Comext release."),
    assets="assets.comext:source_definitions",
    fetch_cli="pipeline.sources.comext.fetch_cli",
    reference="pipeline.sources.comext.reference",
    code_column="comext_code",
    code_meaning="Eurostat Comext (GEONOM) code; Greece is GR.",
    status="pipeline.sources.comext.status:coverage",
    fetch_groups=("comext_fetch",),
    demo_writer="pipeline.sources.comext.demo",
    caveats={"NLD": "quasi-transit: Comext counts goods cleared in Dutch ports for other member states as Dutch "
                    "extra-EU imports; NL import dependence is overstated"},
)
