"""Dagster resources: the run's settings and the private working database.

Both resolve their paths when a run uses them, never at import: the data
directory comes from ``GEOMON_DATA_DIR`` (the CLI's ``--data-dir`` sets it) or
defaults to ``<repo>/data``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipeline.paths import DataPaths

# Every asset that writes the working database runs in this pool; the instance
# config (pipeline/dagster.yaml) limits it to one at a time, because DuckDB
# allows a single writer process.
DUCKDB_POOL = "duckdb_writer"


class MonitorSettings(ConfigurableResource):
    """What a run reads and the parameters of the published figures."""

    sources: list[str] = Field(
        default=["sample", "demo", "landing", "api"],
        description="Input folders to read: 'sample' (embedded real extracts), 'demo' (synthetic "
        "demo world, generated), 'landing' (files dropped in <data dir>/landing), 'api' (what the API "
        "assets fetched into <data dir>/raw).",
    )
    demo_scale: float = Field(default=0.01, description="Demo-world size; 1.0 is about 9 million flows a year.")
    demo_years: list[int] = Field(default=[2022, 2023, 2024], description="Years of the demo world.")
    low_confidence_unallocated_share: float = Field(
        default=0.10, description="unallocated_share above which a concentration row is low_confidence."
    )
    accept_quarantined_input: bool = Field(
        default=False,
        description="Publish even when input files were quarantined (their rows are then absent, and the "
        "publication lists them in meta.quarantine and the manifest). Off: quarantine stops the run.",
    )
    keep_snapshots: int = Field(default=10, description="Snapshots kept by retention, besides pinned ones and LATEST.")
    full_rebuild: bool = Field(
        default=False,
        description="Rebuild every SQL model and every year, as on a fresh warehouse, instead of only what "
        "changed inputs need (see pipeline/incremental.py). Raw files are still read only when they changed.",
    )
    # screen thresholds (methodology section 6-7); every screen row also stores the value used
    ec_c1_hhi: float = Field(default=0.4, description="EC screen C1: extra-EU HHI above this.")
    ec_c2_extra_share: float = Field(default=0.5, description="EC screen C2: extra-EU share of imports above this.")
    ec_c3_import_export_ratio: float = Field(default=1.0, description="EC screen C3: M_extra / X_extra above this.")
    world_g1_hhi: float = Field(default=0.4, description="World screen G1: importer HHI above this.")
    world_g2_hhi: float = Field(default=0.4, description="World screen G2: world export HHI above this.")
    world_g3_import_export_ratio: float = Field(default=1.0, description="World screen G3: imports / exports above this.")
    persistence_min_years: int = Field(default=2, description="World screen: flagged in at least this many years ...")
    persistence_window_years: int = Field(default=3, description="... of this many calendar years up to the year.")
    min_world_reporters: int = Field(
        default=50, description="Comtrade reporters a year needs before world export concentration is computed."
    )
    depends_share: float = Field(default=0.5, description="depends_on_nl/eu: supplier share of imports at least this.")
    depends_top_hhi: float = Field(default=0.4, description="... or top supplier and importer HHI above this.")
    # one product axis across years (staging.hs_conversion, staging.hs_split_weights)
    hs_target_edition: str = Field(
        default="H6",
        description="HS edition every series is converted to before any cross-year figure: H0 (HS 1992) .. "
        "H6 (HS 2022). Handed to SQL (and meta.parameters) as its number, 6 for H6.",
    )
    hs_split_by_value: bool = Field(
        default=True,
        description="A code that splits across a revision is shared out by the trade values of its target "
        "codes in the first year reported in the target edition; false: always in equal parts.",
    )
    hs_split_per_source: bool = Field(
        default=True,
        description="Divide a target code's value by the number of codes it draws from before the shares are "
        "taken (HS 2022's e-waste heading 8549 draws from 1,019 HS 2017 codes); false: plain value shares.",
    )
    hs_split_min_weight: float = Field(
        default=0.01,
        description="Parts of a split code below this weight are not made; their share goes to the code's "
        "other targets (a code left with one target maps to it whole, not flagged). 0: keep every part.",
    )

    def paths(self) -> DataPaths:
        return DataPaths.resolve()

    def sql_variables(self) -> dict[str, float | int]:
        """Parameters the SQL models read with getvariable(), all numbers (meta.parameters stores doubles)."""
        names = [
            "low_confidence_unallocated_share", "ec_c1_hhi", "ec_c2_extra_share", "ec_c3_import_export_ratio",
            "world_g1_hhi", "world_g2_hhi", "world_g3_import_export_ratio", "persistence_min_years",
            "persistence_window_years", "min_world_reporters", "depends_share", "depends_top_hhi",
            "hs_split_by_value", "hs_split_per_source", "hs_split_min_weight",
        ]
        return {**{name: getattr(self, name) for name in names}, "hs_target_edition": self.hs_edition_number()}

    def hs_edition_number(self) -> int:
        """'H6' -> 6; anything but H0..H6 is a configuration error."""
        edition = self.hs_target_edition.strip().upper()
        if len(edition) != 2 or edition[0] != "H" or edition[1] not in "0123456":
            raise ValueError(f"hs_target_edition must be H0..H6 (HS 1992..HS 2022), not {self.hs_target_edition!r}")
        return int(edition[1])


class Warehouse(ConfigurableResource):
    """The pipeline's private DuckDB file (``<data dir>/work/warehouse.duckdb``).

    Analysts never open it: they read the published ``geomonitor.duckdb``.
    Connections go through Dagster's DuckDBResource, which retries while
    another process holds the lock.
    """

    # 2 GB keeps a world-scale year (SF1) under 3 GB of RSS on a laptop: DuckDB spills to
    # temp_directory beyond it; empty = DuckDB's own default (80% of RAM)
    memory_limit: str = Field(default="2GB", description="DuckDB memory_limit, e.g. '4GB'; empty = DuckDB's "
                                                         "default (80% of RAM). DuckDB spills beyond it.")
    threads: int = Field(default=0, description="DuckDB threads; 0 = one per core.")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        paths = DataPaths.resolve()
        paths.work.mkdir(parents=True, exist_ok=True)
        config: dict[str, object] = {"temp_directory": str(paths.duckdb_temp)}
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        if self.threads:
            config["threads"] = self.threads
        with DuckDBResource(database=str(paths.warehouse), connection_config=config).get_connection() as conn:
            yield conn
