"""Jobs and schedules that follow each source's release rhythm, one job and schedule per registered source
(pipeline/sources): its ``schedule`` trait says when (Comext on the 15th, after Eurostat's monthly release;
Comtrade weekly, as countries deliver; BACI yearly, after CEPII's January release), and the revision sensors
(assets/*/api.py) catch changes in between.

Marts and the publication carry ``AutomationCondition.eager()``, so a manual
materialization of any input also brings everything downstream up to date when
the automation sensor is on. Every writer shares the ``duckdb_writer`` pool.
"""

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from pipeline.sources.registry import SOURCES

# Partitioned fetch assets (one file set per Comext month or Comtrade year) are not in the unpartitioned jobs:
# they are materialized per partition (`geomon fetch`, a backfill in the UI or `dagster asset backfill`, the
# revision sensors), and the models read the files they left.
FETCH_PARTITIONS_GROUPS = tuple(group for s in SOURCES for group in s.fetch_groups)

refresh_job = define_asset_job(
    name="refresh",
    selection=AssetSelection.all() - AssetSelection.groups(*FETCH_PARTITIONS_GROUPS),
    description="Everything: read inputs, rebuild staging and marts, check, publish.",
)

# each source's inputs and everything downstream of them (staging, marts, publication)
source_jobs = {
    s.name: define_asset_job(
        name=f"{s.name}_refresh",
        selection=AssetSelection.groups(s.group).downstream() | AssetSelection.groups("reference"),
        description=f"{s.label} inputs and everything built from them.",
    )
    for s in SOURCES
}
source_schedules = [
    ScheduleDefinition(
        name=s.schedule.name,
        job=source_jobs[s.name],
        cron_schedule=s.schedule.cron,
        execution_timezone=s.schedule.timezone,
        description=s.schedule.description,
        default_status=DefaultScheduleStatus.STOPPED,
    )
    for s in SOURCES
]

jobs = [refresh_job, *source_jobs.values()]
schedules = source_schedules
