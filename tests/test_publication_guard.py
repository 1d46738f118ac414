"""The publication guard's rules (pipeline/publish/guard.py) on toy DuckDB files: a published file and a
candidate working database, each with a few monitor tables and staged flows (issue 25)."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.publish.guard import Guard, PublicationRefused

TABLES = ["monitor.screen", "reference.countries", "staging.trade_flows"]


def _flows(rows: dict[tuple[str, str, int], int]) -> str:
    """A SELECT giving ``n`` flow rows per (source, reporter, year)."""
    parts = [f"SELECT '{s}' AS source, '{r}' AS reporter, {y} AS year, range AS partner FROM range({n})"
             for (s, r, y), n in rows.items()]
    return " UNION ALL ".join(parts) if parts else \
        "SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS reporter, NULL::INTEGER AS year, 0 AS partner WHERE false"


def _fill(con, flows: dict, screen_rows: int, tables=TABLES) -> None:
    for schema in ("monitor", "reference", "staging", "meta"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    if "monitor.screen" in tables:
        con.execute(f"CREATE TABLE monitor.screen AS SELECT range AS id FROM range({screen_rows})")
    con.execute("CREATE TABLE reference.countries AS SELECT range AS id FROM range(5)")
    con.execute(f"CREATE TABLE staging.trade_flows AS {_flows(flows)}")


PUBLISHED = {("comext", "FR", 2023): 100, ("comext", "DE", 2023): 100, ("comext", "FR", 2024): 100,
             ("comtrade", "USA", 2023): 50}


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "geomonitor.duckdb"
    con = duckdb.connect(str(path))
    _fill(con, PUBLISHED, 40)
    con.execute("CREATE TABLE monitor.changes AS SELECT range AS id FROM range(2698)")
    con.execute("CREATE TABLE meta.publication AS SELECT '20260101T000000Z_data2024' AS snapshot_id")
    con.close()
    return path


def _candidate(flows: dict, screen_rows: int = 40, tables=TABLES):
    con = duckdb.connect()
    _fill(con, flows, screen_rows, tables)
    return con


def _kinds(verdict) -> list[tuple[str, str, int, int]]:
    return [(f.kind, f.subject, f.before, f.after) for f in verdict.findings]


def test_the_same_candidate_and_a_new_year_pass(published):
    assert _kinds(Guard().audit(_candidate(PUBLISHED), published, TABLES)) == []
    grown = {**PUBLISHED, ("comext", "FR", 2025): 30, ("comtrade", "USA", 2024): 60}
    verdict = Guard().audit(_candidate(grown, screen_rows=55), published, TABLES)
    assert _kinds(verdict) == [] and not verdict.refused and verdict.previous == "20260101T000000Z_data2024"


def test_an_empty_candidate_is_refused_even_with_allow_shrink_and_without_a_previous_publication(published, tmp_path):
    empty = _candidate({}, screen_rows=0)
    first = Guard(allow_shrink=True).audit(empty, tmp_path / "absent.duckdb", TABLES)
    assert _kinds(first) == [("no_flows", "staging.trade_flows", 0, 0)] and first.refused
    again = Guard(allow_shrink=True).audit(empty, published, TABLES)
    assert again.refused
    assert ("no_flows", "staging.trade_flows", 0, 0) in _kinds(again)
    assert ("source_gone", "comext", 300, 0) in _kinds(again) and ("source_gone", "comtrade", 50, 0) in _kinds(again)
    assert ("table_shrank", "monitor.screen", 40, 0) in _kinds(again)
    assert "a run without flows is never published" in again.message()


def test_a_reporter_year_a_source_year_and_a_source_that_disappear(published):
    flows = {("comext", "FR", 2023): 100, ("comext", "FR", 2024): 100}  # DE 2023 and all of Comtrade gone
    verdict = Guard().audit(_candidate(flows), published, TABLES)
    assert _kinds(verdict) == [
        ("source_gone", "comtrade", 50, 0),
        ("source_year_shrank", "comext 2023", 200, 100),
        ("reporter_year_gone", "comext DE 2023", 100, 0),
        ("table_shrank", "staging.trade_flows", 350, 200),
    ]
    assert verdict.refused
    message = verdict.message()
    assert message.splitlines()[0] == ("publication refused by the publication guard (compared with publication "
                                       "20260101T000000Z_data2024):")
    assert "  flows of comext DE 2023: 100 rows published, none in this run" in message
    assert "  flows of comext 2023: 200 rows published, 100 in this run (-50%)" in message
    assert "--allow-shrink" in message.splitlines()[-1]

    year_gone = {k: v for k, v in PUBLISHED.items() if k[2] != 2024}
    assert ("source_year_gone", "comext 2024", 100, 0) in _kinds(Guard().audit(_candidate(year_gone), published,
                                                                                 TABLES))


def test_the_limits_are_parameters_and_a_shrink_within_them_passes(published):
    # 40 -> 33 rows is -17.5%: within the default 20%, past a 10% limit
    smaller = {**PUBLISHED, ("comext", "FR", 2024): 85}  # comext 2024: -15%
    assert _kinds(Guard().audit(_candidate(smaller, screen_rows=33), published, TABLES)) == []
    strict = Guard(max_table_drop=0.1, max_source_year_drop=0.1).audit(_candidate(smaller, 33), published, TABLES)
    assert _kinds(strict) == [("source_year_shrank", "comext 2024", 100, 85), ("table_shrank", "monitor.screen", 40, 33)]


def test_a_table_that_disappears_and_allow_shrink_accepts_it(published):
    without = [t for t in TABLES if t != "monitor.screen"]
    refused = Guard().audit(_candidate(PUBLISHED, tables=without), published, without)
    assert _kinds(refused) == [("table_gone", "monitor.screen", 40, 0)] and refused.refused
    accepted = Guard(allow_shrink=True).audit(_candidate(PUBLISHED, tables=without), published, without)
    assert not accepted.refused
    assert accepted.record()["accepted"] == [{"kind": "table_gone", "subject": "monitor.screen", "rows_before": 40,
                                              "rows_after": 0}]
    assert accepted.record()["allow_shrink"] is True


def test_refused_is_an_exception_carrying_the_verdict(published):
    verdict = Guard().audit(_candidate({}, 0), published, TABLES)
    error = PublicationRefused(verdict)
    assert error.verdict is verdict and str(error) == verdict.message()


# --- the guard in the refresh job -------------------------------------------------------------------------------

from conftest import failure_messages, published_bytes, sdmx_rows  # noqa: E402


def _manifest(runner) -> dict:
    import json

    latest = runner.paths.latest_pointer.read_text().strip()
    return json.loads((runner.paths.snapshots / latest / "manifest.json").read_text())


def _guard_check(result):
    return next(c for c in result.get_asset_check_evaluations() if c.check_name == "publication_guard")


def test_a_shrink_is_refused_then_accepted_on_purpose_and_only_a_publication_calls_the_webhook(runner,
                                                                                              webhook_receiver):
    url = webhook_receiver.url
    runner.write("landing/comext/a.csv", sdmx_rows([("FR", "CN", "85051100", 1, "2024", 500),
                                                    ("DE", "CN", "85051100", 1, "2024", 300)]))
    assert runner.run(webhook_url=url).success
    # a refresh that adds a year is no shrink
    runner.write("landing/comext/b.csv", sdmx_rows([("FR", "CN", "85051100", 1, "2023", 400)]))
    grown = runner.run(webhook_url=url)
    assert grown.success, failure_messages(grown)
    assert _guard_check(grown).passed and _manifest(runner)["publication_guard"]["accepted"] == []
    assert len(webhook_receiver.bodies) == 2
    published = published_bytes(runner.paths.root)

    # Germany's 2024 withdrawn: refused, nothing published, no webhook
    runner.write("landing/comext/a.csv", sdmx_rows([("FR", "CN", "85051100", 1, "2024", 500)]))
    refused = runner.run(webhook_url=url)
    assert not refused.success
    check = _guard_check(refused)
    assert not check.passed and check.severity.value == "ERROR"
    assert "flows of comext DEU 2024: 1 rows published, none in this run" in check.metadata["findings"].value
    assert "--allow-shrink" in check.metadata["next_step"].value
    assert "publication refused by the publication guard" in failure_messages(refused)
    assert published_bytes(runner.paths.root) == published
    assert len(webhook_receiver.bodies) == 2

    accepted = runner.run(webhook_url=url, allow_shrink=True)
    assert accepted.success, failure_messages(accepted)
    check = _guard_check(accepted)
    assert not check.passed and check.severity.value == "WARN"  # shown, not blocking
    guard = _manifest(runner)["publication_guard"]
    assert guard["allow_shrink"] is True and guard["max_table_drop"] == 0.2
    assert {"kind": "reporter_year_gone", "subject": "comext DEU 2024", "rows_before": 1, "rows_after": 0} in \
        guard["accepted"]
    assert len(webhook_receiver.bodies) == 3 and webhook_receiver.bodies[-1]["snapshot_id"] == \
        runner.paths.latest_pointer.read_text().strip()


def test_the_embedded_default_run_again_and_with_one_more_year_publishes(default_rerun):
    # default_rerun: the job run again on a copy of the embedded default's folder (conftest, shared by the session)
    assert default_rerun.checks["publish/publication:publication_guard"] is True
    guard = _manifest(default_rerun)["publication_guard"]
    assert guard["accepted"] == [] and guard["previous_snapshot"] is not None and guard["flow_rows"] > 0
