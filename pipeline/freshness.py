"""How old each source's data may get before Dagster warns (and then fails) its freshness: each source's
``freshness_days`` in the registry (pipeline/sources)."""

from datetime import timedelta

from dagster import FreshnessPolicy

from pipeline.sources.registry import source


def freshness_policy(name: str) -> FreshnessPolicy:
    """The freshness policy of source ``name``'s raw assets."""
    warn, fail = source(name).freshness_days
    return FreshnessPolicy.time_window(warn_window=timedelta(days=warn), fail_window=timedelta(days=fail))
