"""A first build of a year-partitioned model over small inputs is one statement over every year, and gives
what the per-year builds give (issue 28: 84 narrowed per-year statements of a `make run`)."""

from __future__ import annotations

import duckdb
import pytest

from pipeline import incremental
from pipeline.incremental import Incremental
from pipeline.sql_models import load_models

# running sums of two years, and a window that runs one year past the data (as a 12-month window ending after
# the last month would): the per-year builds never build that year, so the whole build must leave it out too
TWO_YEARS = """-- two-year sums
-- partition: year, lookback 1
SELECT year, sum(v) OVER (ORDER BY year RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS two_years
FROM (SELECT year, sum(value) AS v FROM staging.src GROUP BY year
      UNION ALL SELECT year + 1, 0 FROM staging.src WHERE year = (SELECT max(year) FROM staging.src))
"""
# a global aggregate gives one row even over no input: the per-year path's empty table must stay empty
GLOBAL = """-- one row of totals per year, or the year's only row
-- partition: year
SELECT max(year) AS year, sum(value) AS total FROM staging.src
"""
PER_YEAR = """-- per-year counts
-- partition: year
SELECT year, count(*) AS n, sum(value) AS total FROM staging.src GROUP BY year
"""


class Recording:
    """A DuckDB connection that remembers the statements it was given."""

    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self.conn, self.statements = conn, []

    def execute(self, sql, *args):
        self.statements.append(sql)
        return self.conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.conn, name)


def _model(tmp_path, text):
    path = tmp_path / "monitor" / "toy.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    (model,) = load_models(tmp_path, {"staging.src"}, variables=set())
    return model


def _build(model, rows):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA monitor")
    con.execute("CREATE TABLE staging.src (year INTEGER, value INTEGER)")
    con.executemany("INSERT INTO staging.src VALUES (?, ?)", rows)
    recording = Recording(con)
    builds = Incremental(recording, {"staging.src", model.table}, {})
    for year in sorted({y for y, _ in rows}):  # what the upstream build of each year records
        con.execute("INSERT INTO meta.model_builds VALUES ('staging.src', ?, 'v', ?, ?, now()::TIMESTAMP)",
                    [year, f"fp{year}", f"fp{year}"])
    outcome = builds.build(model)
    table = con.execute(f"SELECT * FROM {model.table} ORDER BY ALL").fetchall()
    inserts = [s for s in recording.statements if s.lstrip().upper().startswith(f"INSERT INTO {model.table.upper()}")]
    return outcome, table, inserts


ROWS = [(2022, 1), (2023, 10), (2023, 5), (2024, 100)]


@pytest.mark.parametrize("text, expected", [
    (TWO_YEARS, [(2022, 1), (2023, 16), (2024, 115)]),
    (PER_YEAR, [(2022, 1, 1), (2023, 2, 15), (2024, 1, 100)]),
])
def test_a_first_build_of_small_inputs_is_one_statement_with_the_per_year_rows(tmp_path, monkeypatch, text, expected):
    model = _model(tmp_path, text)
    outcome, table, inserts = _build(model, ROWS)
    assert inserts == []  # no per-year INSERT: one CREATE ... AS over every year
    assert table == expected
    assert outcome.summary() == "every year rebuilt: [2022, 2023, 2024]"
    assert outcome.scope() == "true" and [y for y, _ in outcome.pending] == [2022, 2023, 2024]

    # the same model built one year at a time (inputs above the limit) gives the same table
    monkeypatch.setattr(incremental, "WHOLE_BUILD_ROWS", 0)
    outcome_by_year, table_by_year, inserts_by_year = _build(model, ROWS)
    assert len(inserts_by_year) == 3
    assert table_by_year == table
    assert outcome_by_year.pending == outcome.pending


def test_a_refresh_still_rebuilds_only_the_stale_year(tmp_path):
    model = _model(tmp_path, TWO_YEARS)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA monitor")
    con.execute("CREATE TABLE staging.src AS SELECT * FROM (VALUES (2022, 1), (2023, 10), (2024, 100)) AS t(year, value)")
    recording = Recording(con)
    builds = Incremental(recording, {"staging.src", model.table}, {})

    def upstream(year, fingerprint):
        con.execute("DELETE FROM meta.model_builds WHERE table_name = 'staging.src' AND year = ?", [year])
        con.execute("INSERT INTO meta.model_builds VALUES ('staging.src', ?, 'v', ?, ?, now()::TIMESTAMP)",
                    [year, fingerprint, fingerprint])

    for y in (2022, 2023, 2024):
        upstream(y, f"fp{y}")
    builds.record(model, builds.build(model))
    recording.statements.clear()
    con.execute("UPDATE staging.src SET value = 200 WHERE year = 2024")
    upstream(2024, "fp2024b")
    outcome = builds.build(model)
    assert outcome.summary() == "changed years rebuilt: [2024]"
    assert [s for s in recording.statements if s.startswith("INSERT INTO monitor.toy")] == [
        s for s in recording.statements if s.startswith("INSERT INTO monitor.toy") and "2024" in s]
    assert len([s for s in recording.statements if s.startswith("INSERT INTO monitor.toy")]) == 1
    assert con.execute("SELECT * FROM monitor.toy ORDER BY 1").fetchall() == [(2022, 1), (2023, 11), (2024, 210)]


def test_the_per_year_path_starts_from_an_empty_table(tmp_path, monkeypatch):
    """The empty table of the model's shape is made from the SQL over no input rows, where a global aggregate
    still gives one row (of nulls): it must not stay in the table beside the years' rows."""
    model = _model(tmp_path, GLOBAL)
    monkeypatch.setattr(incremental, "WHOLE_BUILD_ROWS", 0, raising=False)  # (before issue 28: always per year)
    _, table, inserts = _build(model, [(2023, 10), (2024, 100), (2024, 1)])
    assert len(inserts) == 2
    assert table == [(2023, 10), (2024, 101)]


def test_a_models_checks_are_counted_in_one_statement_with_the_same_verdicts(tmp_path):
    """The grain (duplicates, nulls) and every declared check of a step are counted by one DuckDB statement
    (they were one each: 131 statements a `make run`), with the counts each would give on its own."""
    import assets.models as models
    from pipeline.incremental import BuildOutcome

    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "t.sql").write_text(
        "-- a toy table\n-- grain: year, k\n-- check positive: v > 0\n-- warn small: v < 50\n"
        "-- assert no_big: SELECT year, k FROM staging.t WHERE v > 100\nSELECT * FROM raw.r")
    (model,) = load_models(tmp_path, {"raw.r"})
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.t AS SELECT * FROM (VALUES (2021, 'a', 1), (2021, 'a', 2), (2021, 'b', -1), "
                "(2022, 'a', 500), (2022, 'b', 60), (2023, NULL, 4)) AS v(year, k, v)")
    recording = Recording(con)
    results = models.run_checks(recording, model, BuildOutcome(True, None, [], True, []))
    counts = [s for s in recording.statements if "count(*)" in s]
    assert len(counts) == 1, counts
    verdicts = {r.check_name: (r.passed, {k: v.value for k, v in r.metadata.items() if k in (
        "duplicate_keys", "null_keys", "failing_rows")}) for r in results}
    assert verdicts == {
        "unique_grain": (False, {"duplicate_keys": 1, "null_keys": 1}),
        "positive": (False, {"failing_rows": 1}),
        "small": (False, {"failing_rows": 2}),
        "no_big": (False, {"failing_rows": 1}),
    }


def test_the_build_record_of_every_year_is_one_statement(tmp_path):
    """record() wrote one INSERT per rebuilt year, each its own commit (a WAL sync each: 108 of them in a
    `make run`, 2.3 s of the model steps in a profile under load); now one statement for all of them, with the
    same rows: a later build of the same inputs rebuilds nothing."""
    model = _model(tmp_path, PER_YEAR)
    rows = [(y, y - 2000) for y in range(2015, 2025)]
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA monitor")
    con.execute("CREATE TABLE staging.src (year INTEGER, value INTEGER)")
    con.executemany("INSERT INTO staging.src VALUES (?, ?)", rows)
    builds = Incremental(con, {"staging.src", model.table}, {})
    for year in range(2015, 2025):
        con.execute("INSERT INTO meta.model_builds VALUES ('staging.src', ?, 'v', ?, ?, now()::TIMESTAMP)",
                    [year, f"fp{year}", f"fp{year}"])
    outcome = builds.build(model)
    recording = Recording(con)
    builds.conn = recording
    builds.record(model, outcome)
    assert len([s for s in recording.statements if "meta.model_builds" in s]) == 1, recording.statements
    assert con.execute("SELECT year, code_version, input_fp = output_fp FROM meta.model_builds "
                       "WHERE table_name = ? ORDER BY year", [model.table]).fetchall() == [
        (y, model.code_version, True) for y in range(2015, 2025)]
    assert [fp for _, fp in outcome.pending] == [fp for (fp,) in con.execute(
        "SELECT input_fp FROM meta.model_builds WHERE table_name = ? ORDER BY year", [model.table]).fetchall()]
    assert not builds.build(model).rebuilt  # what was recorded is what the next build compares with
