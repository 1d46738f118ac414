"""Where to tell the world that a publication happened: an optional webhook."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field


class Webhook(ConfigurableResource):
    """A URL that receives a JSON summary after each publication (snapshot id, counts of changes, synthetic
    flag). Empty: no call. A failing receiver is logged and never fails the publication."""

    webhook_url: str = Field(default="", description="POST a JSON summary here after each publication; empty: off.")
    webhook_timeout_s: float = Field(default=5.0, description="Seconds before one attempt gives up.")
    webhook_retries: int = Field(default=2, description="Further attempts after a failed one (1 s, 2 s, ... apart).")
