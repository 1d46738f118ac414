"""CEPII BACI as a registered source: the reconciled world matrix of UN Comtrade (exporter x importer x HS6),
annual, thousand USD, one zip per HS edition (``BACI_HS17_V202301.zip``) holding one CSV per year.

Everything BACI-specific is in this folder, the asset module ``assets/baci/`` and the ``baci`` CTE of
``dbt_like_sql/staging/trade_flows.sql``: the reader (:mod:`.reader`), the download (:mod:`.client`), the
resource (:mod:`.resource`), ``geomon fetch baci`` (:mod:`.fetch_cli`) and its status rows (:mod:`.status`).
It has no demo-world writer: the embedded default stays as it was.

How a row enters ``staging.trade_flows`` (methodology's contract: one row per reporter, partner, flow and
product): BACI reconciles both sides into one value per exporter ``i``, importer ``j``, product and year, so
a line ``i -> j`` is at once ``j``'s import from ``i`` and ``i``'s export to ``j``. It enters twice, once on
each side: reporter ``j``, partner ``i``, flow 'import', and reporter ``i``, partner ``j``, flow 'export', with
the same value. Each side holds every flow exactly once, so the import screens (HHI per importer over its
suppliers) and world exports (the sum of every exporter's rows) each count a flow once, and a country's
imports from a partner equal that partner's exports to it by construction (no CIF/FOB gap). BACI has no World
rows (its world is the sum of its rows) and no unallocated partner.
"""

from pipeline.sources import Schedule, Source
from pipeline.sources.baci import reader

SOURCE = Source(
    attribution='CEPII BACI (Etalab Open Licence 2.0; cite CEPII, Gaulier and Zignago 2010)',
    name="baci",
    label="CEPII BACI",
    currency="USD",
    frequency="A",
    native_level="HS6",
    unit_multiplier=1000,  # v is in thousand USD (q in tonnes: also x 1000, to kg)
    raw_tables={reader.TABLE: reader.YEAR_OF_ROW},
    # one release a year (January): 13 months without a new read warns, 15 fail
    freshness_days=(400, 460),
    schedule=Schedule(
        name="baci_yearly", cron="0 6 1 2 *", timezone="Europe/Paris",
        description="Yearly, 1 February: CEPII releases BACI each January."),
    assets="assets.baci:source_definitions",
    fetch_cli="pipeline.sources.baci.fetch_cli",
    status="pipeline.sources.baci.status:coverage",
    world_matrix=True,
)
