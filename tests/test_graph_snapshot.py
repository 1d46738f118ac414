"""The whole Dagster graph against a committed snapshot: tests/graph_snapshot.json.

Every asset key with its group, upstream keys, pool, kinds, partitions and automation condition;
every asset check with its blocking flag; every job with the assets it selects; every schedule and
sensor with its target; every published monitor table's contract as its SQL header declares it (access
class, workbook sheet and filter, changes screens, report sections: pipeline/contracts.py). A refactoring that changes none of these passes; one that renames an asset,
drops a check, makes a check non-blocking or moves an asset out of a job fails here and shows the
difference.

When the graph is meant to change (a new model, a new check), regenerate the snapshot and commit it
with the change, after reading its diff:

    GEOMON_UPDATE_GRAPH_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_graph_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("graph_snapshot.json")
UPDATE_ENV = "GEOMON_UPDATE_GRAPH_SNAPSHOT"


def _key(key) -> str:
    return key.to_user_string()


def graph() -> dict:
    """The graph as plain, sorted JSON values: what the snapshot holds."""
    from pipeline.definitions import definitions

    defs = definitions(data_dir="/nonexistent/data", comtrade_key="")  # no path or key is used to build it
    asset_graph = defs.resolve_asset_graph()
    assets, checks = {}, {}
    for key in sorted(asset_graph.get_all_asset_keys(), key=_key):
        node = asset_graph.get(key)
        condition = node.automation_condition
        assets[_key(key)] = {
            "group": node.group_name,
            "deps": sorted(_key(k) for k in node.parent_keys),
            "pools": sorted(node.pools or []),
            "kinds": sorted(node.kinds),
            "partitions": str(node.partitions_def) if node.partitions_def else None,
            "automation": (condition.get_label() or type(condition).__name__) if condition else None,
            "materializable": node.is_materializable,
        }
        for spec in node.assets_def.check_specs:
            if spec.asset_key == key:
                checks[f"{_key(key)}:{spec.name}"] = {"blocking": spec.blocking}
    assert set(checks) == {f"{_key(k.asset_key)}:{k.name}" for k in asset_graph.asset_check_keys}
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        jobs[job.name] = {
            "assets": sorted(_key(k) for k in job.asset_layer.selected_asset_keys),
            "partitions": str(job.partitions_def) if job.partitions_def else None,
        }
    schedules = {
        s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name,
                 "default_status": s.default_status.value}
        for s in sorted(defs.schedules or [], key=lambda s: s.name)
    }
    sensors = {
        s.name: {"jobs": sorted(j.name for j in s.jobs) if s.has_jobs else [],
                 "minimum_interval_seconds": s.minimum_interval_seconds,
                 "default_status": s.default_status.value}
        for s in sorted(defs.sensors or [], key=lambda s: s.name)
    }
    return {"assets": assets, "checks": checks, "jobs": jobs, "schedules": schedules, "sensors": sensors,
            "tables": tables()}


def tables() -> dict:
    """The published monitor tables' contracts, so that a changed access class or sheet shows in the diff."""
    from pipeline.catalog import contracts

    return {
        table: {"access": c.access_class, "sheet": c.sheet.name if c.sheet else None,
                "sheet_filter": c.sheet.filter if c.sheet else None, "changes": [s.screen for s in c.changes],
                "report": list(c.report)}
        for table, c in sorted(contracts().items()) if table.startswith("monitor.")
    }


def dumps(snapshot: dict) -> str:
    """JSON with one line per asset, check, job, schedule and sensor, so that a diff reads entry by entry."""
    sections = []
    for section in sorted(snapshot):
        entries = [f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(snapshot[section].items())]
        sections.append(f" {json.dumps(section)}: {{\n" + ",\n".join(entries) + "\n }")
    return "{\n" + ",\n".join(sections) + "\n}\n"


def test_graph_matches_the_committed_snapshot():
    current = graph()
    text = dumps(current)
    assert json.loads(text) == current
    if os.environ.get(UPDATE_ENV):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), f"no {SNAPSHOT.name}: run with {UPDATE_ENV}=1 to write it"
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    # section by section, so a failure names what changed rather than dumping the whole graph
    for section in ("assets", "checks", "jobs", "schedules", "sensors", "tables"):
        old, new = committed.get(section, {}), current[section]
        changes = {
            "added": sorted(set(new) - set(old)),
            "removed": sorted(set(old) - set(new)),
            "changed": {k: {"was": old[k], "now": new[k]} for k in sorted(set(old) & set(new)) if old[k] != new[k]},
        }
        assert old == new, (f"the graph's {section} differ from {SNAPSHOT.name} (if meant, regenerate: "
                            f"{UPDATE_ENV}=1 pytest tests/test_graph_snapshot.py):\n"
                            + json.dumps(changes, indent=1, sort_keys=True))
    assert committed == current


def test_every_model_check_and_grain_is_blocking_but_warnings():
    """What test_definitions' mart check test names, asserted: a model's grain, check and assert block
    everything downstream (and the publication) when they fail; only '-- warn' does not."""
    from assets.reference import EXTERNAL_TABLES
    from pipeline.definitions import RAW_TABLES
    from pipeline.paths import SQL_DIR
    from pipeline.sql_models import load_models

    checks = graph()["checks"]
    expected = {}
    for model in load_models(SQL_DIR, EXTERNAL_TABLES | RAW_TABLES):
        key = model.table.replace(".", "/")
        if model.grain:
            expected[f"{key}:unique_grain"] = {"blocking": True}
        expected.update({f"{key}:{c.name}": {"blocking": c.kind != "warn"} for c in model.checks})
    assert expected and {k: checks.get(k) for k in expected} == expected
    assert any(not v["blocking"] for v in expected.values())  # the warnings are there, and not blocking
    # the raw tables' input contracts block too (quarantine stops the run unless accepted)
    assert {k: v for k, v in checks.items() if k.endswith(":input_contract")} == {
        f"{t.replace('.', '/')}:input_contract": {"blocking": True} for t in RAW_TABLES}
