"""Reference tables, loaded from the committed CSVs in ``data/reference/``.

Codes stay text (leading zeros matter: HS 010121, Comtrade '0' World); only
flags and dates are typed. See data/reference/PROVENANCE.md for where each
file comes from.
"""


from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset

from pipeline.metadata import table_metadata
from pipeline.paths import REFERENCE_DIR
from pipeline.readers.inputs import sha256_of
from pipeline.io import sql_string
from pipeline.resources import DUCKDB_POOL, Warehouse

# table name -> (description, typed columns)
REFERENCE_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "countries": ("Countries with ISO2, ISO3, M49, Comtrade and Comext codes.", {}),
    "area_codes": (
        "Every reporter/partner code of each source, classified as country, aggregate, unspecified, "
        "confidential or special (methodology section 3), with the area stored in staging.",
        {},
    ),
    "eu_members": (
        "EU member states with accession and exit dates; in_eu27_2020 marks the bloc's composition.",
        {"in_eu27_2020": "BOOLEAN", "accession_date": "DATE", "exit_date": "DATE"},
    ),
    "hs_products": ("HS 2022 nomenclature: HS2, HS4 and HS6 codes with descriptions.", {}),
    "hs_sections": ("HS sections (I-XXI).", {}),
    "strategic_domains": (
        "HS prefixes (2, 4 or 6 digits) mapped to the cabinet's strategic domains; longest prefix wins.",
        {},
    ),
    "hs_correlations": (
        "HS revisions H0 (HS 1992) -> H1 -> ... -> H6 (HS 2022): one row per older code and newer code it "
        "corresponds to, between consecutive editions, with the relationship read from:to (1:1, n:1 merge, "
        "1:n split, n:n). staging.hs_conversion chains these steps to the target edition.",
        {},
    ),
    "crma_materials": (
        "Strategic raw materials of the Critical Raw Materials Act (Regulation (EU) 2024/1252, Annex I) by "
        "processing stage, mapped to the HS 2022 codes of each stage (monitor.crma_benchmark).",
        {},
    ),
}

EXTERNAL_TABLES = {f"reference.{name}" for name in REFERENCE_TABLES}


def load_reference_table(conn, name: str) -> Path:
    """(Re)create ``reference.<name>`` from its committed CSV: the one load, for the asset below and for the
    in-memory SQL harness of the tests (tests/sql_harness.py). Returns the CSV's path."""
    types = REFERENCE_TABLES[name][1]
    path = REFERENCE_DIR / f"{name}.csv"
    type_map = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    conn.execute("CREATE SCHEMA IF NOT EXISTS reference")
    conn.execute(
        f"CREATE OR REPLACE TABLE reference.{name} AS SELECT * FROM read_csv({sql_string(path)}, "
        f"header=true, all_varchar=true, types={type_map})"
    )
    return path


def _reference_asset(name: str, description: str, types: dict[str, str]) -> AssetsDefinition:
    @asset(
        key=AssetKey(["reference", name]),
        group_name="reference",
        description=description,
        pool=DUCKDB_POOL,
        # the file's content hash: a changed CSV makes the table stale in the UI
        code_version=sha256_of(REFERENCE_DIR / f"{name}.csv")[:16],
        kinds={"duckdb", "csv"},
    )
    def _load(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        with warehouse.get_connection() as conn:
            path = load_reference_table(conn, name)
            return MaterializeResult(metadata={**table_metadata(conn, f"reference.{name}"), "path": str(path)})

    return _load


reference_assets = [_reference_asset(name, desc, types) for name, (desc, types) in REFERENCE_TABLES.items()]
