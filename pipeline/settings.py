"""Every setting of the monitor in one typed layer, independent of Dagster.

Four groups, each a frozen pydantic model holding its settings' types, defaults and descriptions once:
the data folder (``DataFolderSettings``), what a run reads (``InputSelection``), the publication guard's
limits (``GuardLimits``) and the parameters of the published screens (``ScreenThresholds``). The Dagster
resources in ``pipeline/resources/settings.py`` are these models with Dagster's base class added, so run
config, ``definitions(...)`` and ``geomon run``'s flags are checked by the same fields; ``Settings`` holds
one of each and takes settings by their flat names, naming the setting when one is unknown or wrong.

The process environment is read in one function, :func:`read_environment`: the data folder, the Comtrade
key, the serve token and ``DAGSTER_HOME``. ``geomon`` reads it once when a command starts and installs it
(:func:`using`) for the command's duration; anything asking :func:`environment` meanwhile gets that read.
Nothing here reads the environment at import. Secrets are ``SecretStr``: their repr and str are masked,
so a logged or raised ``Environment`` never shows the key or the token.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

DATA_DIR_ENV = "GEOMON_DATA_DIR"
COMTRADE_KEY_ENV = "COMTRADE_API_KEY"
SERVE_TOKEN_ENV = "GEOMON_SERVE_TOKEN"
DAGSTER_HOME_ENV = "DAGSTER_HOME"

# The input folders a run may read, in reading order: the embedded real extracts, the synthetic demo
# world, files a user dropped in, and what the API assets fetched.
INPUT_FOLDERS = ("sample", "demo", "landing", "api")


class SettingsError(ValueError):
    """A setting that does not exist or has a value of the wrong type or range; the message names it."""


# --------------------------------------------------------------------------- the environment


class Environment(BaseModel):
    """What geomon takes from the process environment; empty strings where a variable is unset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: str = ""
    comtrade_key: SecretStr = SecretStr("")
    serve_token: SecretStr = SecretStr("")
    dagster_home: str = ""


def read_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """The one place geomon reads the process environment (``environ``: another mapping, for tests)."""
    source = os.environ if environ is None else environ

    def value(name: str) -> str:
        return (source.get(name) or "").strip()

    return Environment(data_dir=value(DATA_DIR_ENV), comtrade_key=SecretStr(value(COMTRADE_KEY_ENV)),
                       serve_token=SecretStr(value(SERVE_TOKEN_ENV)), dagster_home=value(DAGSTER_HOME_ENV))


# The environment a running geomon command read when it started: empty outside a command; a stack, since
# a test may run a command inside another's block.
_current: list[Environment] = []


@contextmanager
def using(env: Environment) -> Iterator[Environment]:
    """Make ``env`` what :func:`environment` answers until the block ends (``geomon``'s main wraps a command)."""
    _current.append(env)
    try:
        yield env
    finally:
        _current.pop()


def environment() -> Environment:
    """The running command's environment, read when it started; outside a command (a run launched from the
    Dagster UI, a test) the environment read now, when a session or a path needs it."""
    return _current[-1] if _current else read_environment()


# --------------------------------------------------------------------------- the settings


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataFolderSettings(_Group):
    """The data folder every generated file lives under (see pipeline/paths.py), and how many snapshots it keeps."""

    root: str = Field(default="", description="Data folder; the definitions read it from GEOMON_DATA_DIR, the CLI "
                      "from --data-dir (default <repo>/data). Empty: GEOMON_DATA_DIR, else <repo>/data.")
    keep_snapshots: int = Field(default=10, description="Snapshots kept by retention, besides pinned ones and LATEST.")
    published_storage_version: str = Field(
        default="v1.1.0",
        description="DuckDB storage version of the published geomonitor.duckdb: the oldest that holds its tables, so "
        "every DuckDB from 1.1 on opens it (the CLI, R, JDBC, older Python); a newer one only when needed.",
    )


class InputSelection(_Group):
    """What a run reads: which input folders, the size of the demo world, what to do with bad files, and
    whether to rebuild everything."""

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
    full_rebuild: bool = Field(
        default=False,
        description="Rebuild every SQL model and every year, as on a fresh warehouse, instead of only what "
        "changed inputs need (see pipeline/incremental.py). Raw files are still read only when they changed.",
    )

    @field_validator("sources")
    @classmethod
    def _known_folders(cls, sources: list[str]) -> list[str]:
        unknown = sorted(set(sources) - set(INPUT_FOLDERS))
        if unknown:
            raise ValueError(f"unknown source folder(s) {unknown}; use {', '.join(INPUT_FOLDERS)}")
        return sources


class GuardLimits(_Group):
    """How much smaller than the current publication a new one may be (pipeline/publish/guard.py)."""

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


class ScreenThresholds(_Group):
    """The parameters of the published figures (methodology sections 4-7); every screen row also stores the
    value used, and meta.parameters lists them all. The SQL models read them with getvariable()."""

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

    @field_validator("hs_target_edition")
    @classmethod
    def _edition(cls, edition: str) -> str:
        _edition_number(edition)
        return edition

    def sql_variables(self) -> dict[str, float | int]:
        """Parameters the SQL models read with getvariable(), all numbers (meta.parameters stores doubles)."""
        # field order is the order of meta.parameters; the edition goes to SQL as its number
        names = [name for name in ScreenThresholds.model_fields if name != "hs_target_edition"]
        return {**{name: getattr(self, name) for name in names}, "hs_target_edition": self.hs_edition_number()}

    def hs_edition_number(self) -> int:
        """'H6' -> 6."""
        return _edition_number(self.hs_target_edition)


def _edition_number(edition: str) -> int:
    """'H6' -> 6; anything but H0..H6 is a configuration error."""
    text = edition.strip().upper()
    if len(text) != 2 or text[0] != "H" or text[1] not in "0123456":
        raise ValueError(f"hs_target_edition must be H0..H6 (HS 1992..HS 2022), not {edition!r}")
    return int(text[1])


GROUPS: dict[str, type[_Group]] = {"data": DataFolderSettings, "inputs": InputSelection, "guard": GuardLimits,
                                   "thresholds": ScreenThresholds}


class Settings(_Group):
    """One of each group: every setting a run uses, with its defaults."""

    data: DataFolderSettings = DataFolderSettings()
    inputs: InputSelection = InputSelection()
    guard: GuardLimits = GuardLimits()
    thresholds: ScreenThresholds = ScreenThresholds()

    @classmethod
    def from_values(cls, values: Mapping[str, Any], where: str = "") -> "Settings":
        """Settings from flat names, as ``geomon run``'s flags and ``definitions(...)`` give them; an unknown
        name or a wrong value is a :class:`SettingsError` naming the setting (and ``where`` it was given)."""
        grouped: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
        for name, value in values.items():
            grouped[group_of(name, where)][name] = value
        return cls(**{group: validated(GROUPS[group], given, where) for group, given in grouped.items()})


def setting_names() -> list[str]:
    """Every setting's name, group by group."""
    return [name for model in GROUPS.values() for name in model.model_fields]


def unknown_setting(name: str, known: Iterable[str], where: str = "") -> SettingsError:
    """The error for a setting nobody has, with the closest known name when one is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return SettingsError(f"unknown setting {name!r}{f' in {where}' if where else ''}{hint}")


def group_of(name: str, where: str = "") -> str:
    """The group holding a setting ('data', 'inputs', 'guard', 'thresholds')."""
    for group, model in GROUPS.items():
        if name in model.model_fields:
            return group
    raise unknown_setting(name, setting_names(), where)


def validated(model: type[BaseModel], values: Mapping[str, Any], where: str = "") -> Any:
    """``model(**values)``; an unknown name or a wrong value is a :class:`SettingsError` naming the setting."""
    for name in values:
        if name not in model.model_fields:
            raise unknown_setting(name, model.model_fields, where)
    try:
        return model(**values)
    except ValidationError as exc:
        raise explain(exc, values, where) from None


def explain(exc: ValidationError, values: Mapping[str, Any], where: str = "") -> SettingsError:
    """One line per setting at fault: its name, what was wrong and the value given."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        reason = error["msg"].removeprefix("Value error, ")
        given = f" (got {values[name]!r})" if name in values else ""
        lines.append(f"setting {name!r}{f' in {where}' if where else ''}: {reason}{given}")
    return SettingsError("; ".join(lines))
