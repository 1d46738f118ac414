"""The SQL models' step hands out the models a finished one made ready before Dagster records that one's result
(issue 28): writing a result's events held the next model of the longest chain 0.1-0.45 s each time."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from types import SimpleNamespace

import duckdb

import assets.models
from assets.models import _Built, _build_selected, _key


class _Warehouse:
    def __init__(self) -> None:
        self.conn = duckdb.connect()

    @contextmanager
    def get_connection(self):
        yield self.conn.cursor()


def test_a_model_made_ready_starts_before_its_input_is_reported(monkeypatch):
    # staging.a -> staging.b -> monitor.c, and monitor.d beside them: b may only start once a is done
    models = [SimpleNamespace(table=table, sql="SELECT 1", deps=set(deps)) for table, deps in (
        ("staging.a", ()), ("staging.b", ("staging.a",)), ("monitor.c", ("staging.b",)), ("monitor.d", ()))]
    started: list[str] = []
    lock = threading.Lock()

    def build(session, model):
        with lock:
            started.append(model.table)
        return _Built(model, {"seconds": 0.0}, [], [])

    monkeypatch.setattr(assets.models, "_build_model", build)
    monkeypatch.setattr(assets.models, "input_rows", lambda conn, tables: 0)
    context = SimpleNamespace(selected_asset_keys={_key(m.table) for m in models}, selected_asset_check_keys=set(),
                              log=SimpleNamespace(error=print, warning=print))
    session = SimpleNamespace(warehouse=_Warehouse(), in_flight={})
    reported: list[str] = []
    for result in _build_selected(context, models, session, workers=2):
        table = result.asset_key.to_user_string().replace("/", ".")
        below = {"staging.a": "staging.b", "staging.b": "monitor.c"}.get(table)
        if below:  # the model waiting for this one was handed out before this result reached Dagster: its
            # worker starts it while the step is held here (as Dagster holds it, writing the result's events)
            deadline = time.monotonic() + 2
            while below not in started and time.monotonic() < deadline:
                time.sleep(0.01)
            assert below in started, (table, started)
        reported.append(table)
    assert sorted(reported) == sorted(m.table for m in models)
    assert started.index("staging.b") > started.index("staging.a")
