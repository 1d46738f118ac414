"""Jobs and schedules that follow each source's release rhythm.

* Comext publishes the previous month around the middle of each month, and
  revises earlier months silently: its job runs on the 15th.
* Comtrade releases reporter-years whenever countries deliver: its job runs
  weekly, and the revision sensors (see assets/*/api.py) catch changes in between.

Marts and the publication carry ``AutomationCondition.eager()``, so a manual
materialization of any input also brings everything downstream up to date when
the automation sensor is on. Every writer shares the ``duckdb_writer`` pool.
"""

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

# Partitioned fetch assets (one file set per Comext month or Comtrade year) are not in the unpartitioned jobs:
# they are materialized per partition (`geomon fetch`, a backfill in the UI or `dagster asset backfill`, the
# revision sensors), and the models read the files they left.
FETCH_PARTITIONS_GROUPS = ("comext_fetch", "comtrade_fetch")

refresh_job = define_asset_job(
    name="refresh",
    selection=AssetSelection.all() - AssetSelection.groups(*FETCH_PARTITIONS_GROUPS),
    description="Everything: read inputs, rebuild staging and marts, check, publish.",
)

# each source's inputs and everything downstream of them (staging, marts, publication)
comext_job = define_asset_job(
    name="comext_refresh",
    selection=AssetSelection.groups("comext").downstream() | AssetSelection.groups("reference"),
    description="Comext inputs and everything built from them.",
)
comtrade_job = define_asset_job(
    name="comtrade_refresh",
    selection=AssetSelection.groups("comtrade").downstream() | AssetSelection.groups("reference"),
    description="UN Comtrade inputs and everything built from them.",
)

comext_monthly = ScheduleDefinition(
    name="comext_monthly",
    job=comext_job,
    cron_schedule="0 6 15 * *",
    execution_timezone="Europe/Brussels",
    description="Mid-month, after Eurostat's monthly Comext release.",
    default_status=DefaultScheduleStatus.STOPPED,
)
comtrade_weekly = ScheduleDefinition(
    name="comtrade_weekly",
    job=comtrade_job,
    cron_schedule="0 6 * * 1",
    execution_timezone="UTC",
    description="Weekly: UN Comtrade releases reporter-years as countries deliver them.",
    default_status=DefaultScheduleStatus.STOPPED,
)

jobs = [refresh_job, comext_job, comtrade_job]
schedules = [comext_monthly, comtrade_weekly]
