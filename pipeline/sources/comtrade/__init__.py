"""UN Comtrade as a registered source: v1 API pages and bulk files, USD, HS6 as reported by each country.

Its parts, all in this folder but the assets: the client (:mod:`.client`: plan, split, session, store, sync, bulk),
the reader (:mod:`.reader`: the files' layouts and types, :mod:`.reader.parquet` converting each file to Parquet,
:mod:`.reader.view` keeping ``raw.comtrade_records`` a view over them), the resource (:mod:`.resource`), its
reference rules (:mod:`.reference`), the assets ``assets/comtrade/``, ``geomon fetch comtrade|comtrade-bulk``
(:mod:`pipeline.sources.comtrade.fetch_cli`), its status rows (:mod:`pipeline.sources.comtrade.status`), its
demo-world writer (:mod:`.demo`) and the ``comtrade`` CTE of ``dbt_like_sql/staging/trade_flows.sql``.
"""

from pipeline.sources import Schedule, Source
from pipeline.sources.comtrade import reader

SOURCE = Source(
    attribution='UN Comtrade (subject to the UN Comtrade policy on use and re-dissemination; raw records are not redistributed)',
    name="comtrade",
    label="UN Comtrade",
    currency="USD",
    frequency="A",
    native_level="HS6",
    unit_multiplier=1,
    raw_tables={reader.TABLE: reader.YEAR_OF_ROW},
    # checked weekly: two weeks without a read is late
    freshness_days=(8, 15),
    schedule=Schedule(
        name="comtrade_weekly", cron="0 6 * * 1", timezone="UTC",
        description="Weekly: UN Comtrade releases reporter-years as countries deliver them."),
    assets="assets.comtrade:source_definitions",
    definition_options=("comtrade_key",),
    fetch_cli="pipeline.sources.comtrade.fetch_cli",
    reference="pipeline.sources.comtrade.reference",
    code_column="comtrade_code",
    code_meaning="UN Comtrade's numeric code (its own for FRA 251, NOR 579, IND 699, CHE 757, USA 842, TWN 490).",
    status="pipeline.sources.comtrade.status:coverage",
    fetch_groups=("comtrade_fetch",),
    demo_writer="pipeline.sources.comtrade.demo",
    world_matrix=True,
)
