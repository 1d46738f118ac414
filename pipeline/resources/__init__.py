"""Dagster resources, one per concern: where the data folder is (``DataFolder``), what a run reads
(``InputSettings``), the parameters of the published screens (``Thresholds``), the private working
database (``Warehouse``) and the publication webhook (``Webhook``); each remote source's own resource is in its
folder (``pipeline/sources/<name>/resource.py``), on the shared fetch policy of ``pipeline.resources.fetch``.

The first three wrap the typed settings of pipeline/settings.py, which hold their fields, defaults and
descriptions. Every path is resolved from the ``data`` resource when a run uses it, never at import; the
resource's ``root`` comes from ``EnvVar("GEOMON_DATA_DIR")`` in the definitions, or from the CLI's
``--data-dir``. The Comtrade key is no resource config: the client takes it from pipeline.settings.
"""

from pipeline.resources.notify import Webhook
from pipeline.resources.settings import DataFolder, InputSettings, Thresholds, split_settings
from pipeline.resources.warehouse import DUCKDB_POOL, Warehouse

__all__ = ["DUCKDB_POOL", "DataFolder", "InputSettings", "Thresholds", "Warehouse", "Webhook", "split_settings"]
