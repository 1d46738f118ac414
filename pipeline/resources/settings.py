"""What a run reads, where its data folder is, and the parameters of the published screens: three resources,
so that a change of thresholds never looks like a change of inputs and the reverse."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.paths import INPUT_FOLDERS, DataPaths
from pipeline.publish.guard import Guard


class DataFolder(ConfigurableResource):
    """The data folder every generated file lives under (see pipeline/paths.py), and how many snapshots it keeps."""

    root: str = Field(description="Data folder; the definitions read it from GEOMON_DATA_DIR, the CLI from "
                      "--data-dir (default <repo>/data).")
    keep_snapshots: int = Field(default=10, description="Snapshots kept by retention, besides pinned ones and LATEST.")
    restricted_tables: list[str] | None = Field(
        default=None,
        description="Published tables of access class 'restricted' (every other one is public): geomon serve sends "
        "them only with the bearer token (GEOMON_SERVE_TOKEN), geomon export --public leaves them out. Default: "
        "as each table's SQL header declares ('-- access: public'; a table that declares nothing is restricted).",
    )
    published_storage_version: str = Field(
        default="v1.1.0",
        description="DuckDB storage version of the published geomonitor.duckdb: the oldest that holds its tables, so "
        "every DuckDB from 1.1 on opens it (the CLI, R, JDBC, older Python); a newer one only when needed.",
    )

    def paths(self) -> DataPaths:
        return DataPaths.resolve(self.root)


class InputSettings(ConfigurableResource):
    """What a run reads: which input folders, the size of the demo world, what to do with bad files, and how
    much smaller than the current publication a new one may be (pipeline/publish/guard.py)."""

    sources: list[str] = Field(
        default=list(INPUT_FOLDERS),
        description="Input folders to read: 'sample' (embedded real extracts), 'demo' (synthetic "
        "demo world, generated), 'landing' (files dropped in <data dir>/landing), 'api' (what the API "
        "assets fetched into <data dir>/raw).",
    )
    demo_scale: float = Field(default=0.01, description="Demo-world size; 1.0 is about 9 million flows a year.")
    demo_years: list[int] = Field(default=[2022, 2023, 2024], description="Years of the demo world.")
    accept_quarantined_input: bool = Field(
        default=False,
        description="Publish even when input files were quarantined (their rows are then absent, and the "
        "publication lists them in meta.quarantine and the manifest). Off: quarantine stops the run.",
    )
    allow_shrink: bool = Field(
        default=False,
        description="Publish even when the publication guard finds the candidate smaller than the current "
        "publication (a table, source, source-year or reporter-year gone, or rows fallen past the limits "
        "below); the manifest records what was accepted. Never publishes a run that staged no flow rows.",
    )
    max_table_drop: float = Field(
        default=0.2, ge=0, le=1,
        description="Publication guard: largest fraction of a published table's rows a publication may lose.",
    )
    max_source_year_drop: float = Field(
        default=0.2, ge=0, le=1,
        description="Publication guard: largest fraction of a source-year's staged flow rows a publication may lose.",
    )
    full_rebuild: bool = Field(
        default=False,
        description="Rebuild every SQL model and every year, as on a fresh warehouse, instead of only what "
        "changed inputs need (see pipeline/incremental.py). Raw files are still read only when they changed.",
    )

    def input_dirs(self, paths: DataPaths, source: str) -> list[tuple[str, Path]]:
        """(kind, folder) pairs of one source ('comtrade' or 'comext') this run reads, in reading order."""
        unknown = set(self.sources) - set(INPUT_FOLDERS)
        if unknown:
            raise ValueError(f"unknown source folder(s) {sorted(unknown)}; use {', '.join(INPUT_FOLDERS)}")
        return paths.source_dirs(source, self.sources)

    def guard(self) -> Guard:
        return Guard(max_table_drop=self.max_table_drop, max_source_year_drop=self.max_source_year_drop,
                     allow_shrink=self.allow_shrink)


class Thresholds(ConfigurableResource):
    """The parameters of the published figures (methodology sections 4-7); every screen row also stores the
    value used, and meta.parameters lists them all."""

    low_confidence_unallocated_share: float = Field(
        default=0.10, description="unallocated_share above which a concentration row is low_confidence."
    )
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
    changes_hhi_move: float = Field(
        default=0.1, description="monitor.changes: an HHI that moved by more than this since the last publication."
    )
    potential_min_share: float = Field(
        default=0.01, description="monitor.supplier_headroom: an exporter with at least this share of world exports "
        "of a product is a potential supplier of it (OECD: 'the suppliers that exist')."
    )
    crma_benchmark: float = Field(
        default=0.65, description="monitor.crma_benchmark: over_benchmark when the largest third country's share "
        "of a material stage's extra-EU (NL: non-EU) imports is above this (CRMA Art. 5(1)(d))."
    )
    cn8_min_value: float = Field(
        default=1_000_000.0, description="monitor.ec_screen_cn8: a CN8 code is screened where its annual imports "
        "(M_extra + M_intra, EUR) reach this (IW Koeln's minimum import value)."
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
    hs_target_edition: str = Field(
        default="H6",
        description="HS edition every series is converted to before any cross-year figure: H0 (HS 1992) .. "
        "H6 (HS 2022). Handed to SQL (and meta.parameters) as its number, 6 for H6.",
    )

    def sql_variables(self) -> dict[str, float | int]:
        """Parameters the SQL models read with getvariable(), all numbers (meta.parameters stores doubles)."""
        # field order is the order of meta.parameters; the edition goes to SQL as its number
        values = {name: getattr(self, name) for name in type(self).model_fields if name != "hs_target_edition"}
        return {**values, "hs_target_edition": self.hs_edition_number()}

    def hs_edition_number(self) -> int:
        """'H6' -> 6; anything but H0..H6 is a configuration error."""
        edition = self.hs_target_edition.strip().upper()
        if len(edition) != 2 or edition[0] != "H" or edition[1] not in "0123456":
            raise ValueError(f"hs_target_edition must be H0..H6 (HS 1992..HS 2022), not {self.hs_target_edition!r}")
        return int(edition[1])


def split_settings(values: dict) -> dict[str, dict]:
    """``{"data": {...}, "settings": {...}, "thresholds": {...}, "webhook": {...}}``: each setting under the resource that owns it,
    by field name; an unknown name is a TypeError naming it."""
    from pipeline.resources.notify import Webhook  # a sibling module; kept out of this module's imports

    owners = {"data": DataFolder, "settings": InputSettings, "thresholds": Thresholds, "webhook": Webhook}
    out: dict[str, dict] = {key: {} for key in owners}
    for name, value in values.items():
        key = next((k for k, cls in owners.items() if name in cls.model_fields), None)
        if key is None:
            raise TypeError(f"no resource has a setting {name!r}")
        out[key][name] = value
    return out
