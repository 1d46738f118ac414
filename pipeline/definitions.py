"""The one entry point: every asset, check, job and resource of the monitor.

Loading this module reads the SQL model files to build their assets; it opens
no database, reads no environment variable and makes no network call. ``defs``
takes the data folder from the environment when a run starts (Dagster's
``EnvVar``), and the Comtrade client its key when it opens a session
(pipeline/settings.py); ``definitions(...)`` builds the same with given values
(the CLI, tests).
"""

from __future__ import annotations

from dagster import Definitions, EnvVar, in_process_executor

from assets.demo import demo_world_files
from assets.models import sql_model_assets
from assets.publication import publication_asset
from assets.reference import EXTERNAL_TABLES as REFERENCE_TABLES
from assets.reference import REFERENCE_TABLES as REFERENCE_SPECS
from assets.reference import reference_assets
from assets.report import monitor_report
from pipeline.paths import DATA_DIR_ENV
from pipeline.resources import (
    DataFolder,
    InputSettings,
    Thresholds,
    Warehouse,
    Webhook,
    split_settings,
)
from pipeline.schedules import jobs, schedules
from pipeline.sources import Source, load
from pipeline.sources.registry import SOURCES, raw_years

RAW_TABLES = set(raw_years())

model_assets = sql_model_assets(external_tables=REFERENCE_TABLES | RAW_TABLES)
# the models are one multi-asset (assets/models.py): each of its keys is a table
monitor_tables = [s.key.to_user_string().replace("/", ".")
                  for a in model_assets for s in a.specs if s.key.path[0] == "monitor"]
table_descriptions = {
    **{k.to_user_string().replace("/", "."): a.descriptions_by_key[k] for a in model_assets for k in a.keys},
    **{table: description for table, (description, _) in {f'reference.{n}': spec for n, spec in REFERENCE_SPECS.items()}.items()},
}



def _options_of(source: Source, **given: object) -> dict[str, object]:
    """The options of ``definitions(...)`` that ``source`` declares (``Source.definition_options``)."""
    unknown = sorted(set(source.definition_options) - set(given))
    if unknown:
        raise ValueError(f"source {source.name!r} declares definition options {unknown} that definitions() does "
                         f"not have (it has {sorted(given)})")
    return {name: given[name] for name in source.definition_options}


def definitions(*, data_dir: str = EnvVar(DATA_DIR_ENV), comtrade_key: str | None = None,
                **settings) -> Definitions:
    """Every asset, job, schedule and sensor with their resources. ``settings`` are fields of DataFolder,
    InputSettings or Thresholds by name (e.g. ``sources=["landing"]``, ``min_world_reporters=1``);
    ``comtrade_key`` goes to Comtrade's own definitions only (the sources declaring it: pipeline/sources)."""
    chosen = split_settings(settings)
    data = DataFolder(root=data_dir, **chosen["data"])
    # each registered source's assets, sensors and client resources (assets/<source>/source_definitions), called
    # with the options it declares and no other: the Comtrade key never reaches another source's code
    parts = [load(s.assets)(**_options_of(s, comtrade_key=comtrade_key)) for s in SOURCES]
    return Definitions(
        assets=[
            *reference_assets,
            demo_world_files,
            *(a for part in parts for a in part.assets or []),
            *model_assets,
            publication_asset(monitor_tables, sorted(REFERENCE_TABLES), table_descriptions),
            monitor_report,
        ],
        jobs=jobs,
        # Every step of a run in the run's own process, as `geomon run` does: a step in a process of its own
        # paid Python's and Dagster's start-up again (a UI "Materialize all" took 1 min 32 s where the CLI took
        # 4.8 s), and the DuckDB steps run one at a time anyway (one writer). Separate runs (fetch partitions
        # of a backfill) still run side by side, each in its process.
        executor=in_process_executor,
        schedules=schedules,
        sensors=[sensor for part in parts for sensor in part.sensors or []],
        resources={
            "data": data,
            "settings": InputSettings(**chosen["settings"]),
            "thresholds": Thresholds(**chosen["thresholds"]),
            "webhook": Webhook(**chosen["webhook"]),
            "warehouse": Warehouse(data=data),
            **{key: resource for part in parts for key, resource in (part.resources or {}).items()},
        },
    )


defs = definitions()
