"""The settings as Dagster resources: the typed layer's groups (pipeline/settings.py) with Dagster's base class
added, so their fields, defaults and descriptions are written once, there. Three resources, so that a change
of thresholds never looks like a change of inputs and the reverse."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.paths import DataPaths
from pipeline.publish.guard import Guard
from pipeline.settings import (DataFolderSettings, GuardLimits, InputSelection, ScreenThresholds, Settings,
                               setting_names, unknown_setting)


class DataFolder(ConfigurableResource, DataFolderSettings):
    """The data folder every generated file lives under (see pipeline/paths.py), and how many snapshots it
    keeps (pipeline.settings.DataFolderSettings), and which published tables are restricted."""

    restricted_tables: list[str] | None = Field(
        default=None,
        description="Published tables of access class 'restricted' (every other one is public): geomon serve sends "
        "them only with the bearer token (GEOMON_SERVE_TOKEN), geomon export --public leaves them out. Default: "
        "as each table's SQL header declares ('-- access: public'; a table that declares nothing is restricted).",
    )

    def paths(self) -> DataPaths:
        return DataPaths.resolve(self.root or None)


class InputSettings(ConfigurableResource, InputSelection, GuardLimits):
    """What a run reads: which input folders, the size of the demo world, what to do with bad files
    (pipeline.settings.InputSelection), and how much smaller than the current publication a new one may be
    (pipeline.settings.GuardLimits, applied by pipeline/publish/guard.py)."""

    def input_dirs(self, paths: DataPaths, source: str) -> list[tuple[str, Path]]:
        """(kind, folder) pairs of one source ('comtrade' or 'comext') this run reads, in reading order."""
        return paths.source_dirs(source, self.sources)

    def guard(self) -> Guard:
        return Guard(max_table_drop=self.max_table_drop, max_source_year_drop=self.max_source_year_drop,
                     allow_shrink=self.allow_shrink)


class Thresholds(ConfigurableResource, ScreenThresholds):
    """The parameters of the published figures (pipeline.settings.ScreenThresholds): the SQL models read them
    with getvariable(), every screen row also stores the value used, and meta.parameters lists them all."""


def _owners() -> dict[str, type]:
    from pipeline.resources.notify import Webhook  # a sibling module; kept out of this module's imports

    return {"data": DataFolder, "settings": InputSettings, "thresholds": Thresholds, "webhook": Webhook}


def split_settings(values: dict) -> dict[str, dict]:
    """``{"data": {...}, "settings": {...}, "thresholds": {...}, "webhook": {...}}``: each setting under the
    resource that owns it, by field name, checked by the typed layer: an unknown name or a wrong value is a
    SettingsError (pipeline.settings) naming it."""
    owners = _owners()
    out: dict[str, dict] = {key: {} for key in owners}
    for name, value in values.items():
        key = next((k for k, cls in owners.items() if name in cls.model_fields), None)
        if key is None:
            raise unknown_setting(name, [n for cls in owners.values() for n in cls.model_fields])
        out[key][name] = value
    Settings.from_values({name: value for name, value in values.items() if name in setting_names()})
    return out


def check_resource_config(config: dict[str, dict]) -> None:
    """Check the typed settings given as ``{resource key: {field: value}}`` (a run config's ``resources``
    section without its ``config`` level): a SettingsError naming the resource and the setting at fault.
    Resources other than data, settings and thresholds are left to Dagster."""
    owners = _owners()
    for key in ("data", "settings", "thresholds"):
        given = dict(config.get(key) or {})
        given.pop("root", None)  # a path, or Dagster's EnvVar: resolved where it is used
        given.pop("restricted_tables", None)  # the access classes' (pipeline/publish/access.py)
        for name in given:
            if name not in owners[key].model_fields:
                raise unknown_setting(name, owners[key].model_fields, f"resources.{key}")
        Settings.from_values(given, where=f"resources.{key}")
