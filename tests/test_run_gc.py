"""``geomon run`` and Python's garbage collector (pipeline/cli/run.py): the objects of start-up (Dagster, the
definitions, the instance) are frozen out of the run's collections, collection is on while the run executes,
and a caller in the same process gets both back as they were, also when the run raises."""

from __future__ import annotations

import gc

import pytest


def test_the_run_executes_with_start_up_frozen_and_the_caller_gets_gc_back(tmp_path, monkeypatch):
    import dagster

    from pipeline.cli import main

    seen = {}

    def execute_in_process(self, *args, **kwargs):
        seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())
        raise RuntimeError("stop before any step")

    monkeypatch.setattr(dagster.JobDefinition, "execute_in_process", execute_in_process)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError, match="stop before any step"):
        main(["--data-dir", str(tmp_path / "data"), "run"])
    # Dagster's modules, the definitions and the instance: tens of thousands of objects frozen
    assert seen["enabled"] and seen["frozen"] > 50_000, seen
    assert gc.isenabled() and gc.get_freeze_count() == 0
