"""How old each source's data may get before Dagster warns (and then fails) its freshness."""

from datetime import timedelta

from dagster import FreshnessPolicy

# Comext releases monthly: a month and a half without a new read is late.
COMEXT_FRESHNESS = FreshnessPolicy.time_window(warn_window=timedelta(days=35), fail_window=timedelta(days=45))
# Comtrade is checked weekly: two weeks without one is late.
COMTRADE_FRESHNESS = FreshnessPolicy.time_window(warn_window=timedelta(days=8), fail_window=timedelta(days=15))
