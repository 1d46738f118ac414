"""The SQL-model factory: dependencies parsed from SQL, clear load-time errors."""

import pytest

from pipeline.paths import SQL_DIR
from pipeline.sql_models import ModelError, load_models, table_references


def test_ctes_are_not_dependencies_and_schemas_are_kept():
    sql = """
        WITH a AS (SELECT * FROM staging.trade_flows),
             b AS (SELECT * FROM a JOIN reference.countries AS c ON a.reporter = c.iso3)
        SELECT * FROM b WHERE b.x IN (SELECT x FROM raw.comext_bulk)
    """
    assert table_references(sql) == {"staging.trade_flows", "reference.countries", "raw.comext_bulk"}


def test_table_functions_are_not_dependencies():
    sql = "SELECT * FROM read_parquet('x/*.parquet') AS p JOIN monitor.a USING (k), read_csv('y.csv')"
    assert table_references(sql) == {"monitor.a"}


def test_unqualified_table_is_an_error_naming_the_file():
    with pytest.raises(ModelError, match=r"model\.sql: table 'flows' is neither a CTE nor schema-qualified"):
        table_references("SELECT * FROM flows", origin="model.sql")


def _write(root, rel, sql):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql)
    return path


def test_unknown_table_is_an_error_at_load(tmp_path):
    _write(tmp_path, "monitor/x.sql", "-- x\nSELECT * FROM staging.nowhere")
    with pytest.raises(ModelError, match=r"monitor/x\.sql: reads unknown table\(s\) \['staging.nowhere'\]"):
        load_models(tmp_path, external_tables=set())


def test_cycle_is_an_error_naming_the_files(tmp_path):
    _write(tmp_path, "staging/a.sql", "-- a\nSELECT * FROM staging.b")
    _write(tmp_path, "staging/b.sql", "-- b\nSELECT * FROM staging.a")
    with pytest.raises(ModelError, match=r"cycle between SQL models.*staging/(a|b)\.sql"):
        load_models(tmp_path, external_tables=set())


def test_model_without_description_is_refused(tmp_path):
    _write(tmp_path, "staging/a.sql", "SELECT 1 AS x")
    with pytest.raises(ModelError, match="start the model with a comment"):
        load_models(tmp_path, external_tables=set())


def test_models_are_ordered_and_directives_parsed(tmp_path):
    _write(tmp_path, "monitor/m.sql", "-- mart\n-- grain: k\n-- check positive: v > 0\nSELECT * FROM staging.s")
    _write(tmp_path, "staging/s.sql", "-- staged\nSELECT * FROM raw.r")
    models = load_models(tmp_path, external_tables={"raw.r"})
    assert [m.table for m in models] == ["staging.s", "monitor.m"]
    mart = models[1]
    assert mart.grain == ("k",) and mart.checks[0].name == "positive" and mart.checks[0].predicate == "v > 0"
    assert mart.description == "mart"


def test_code_version_changes_with_the_sql(tmp_path):
    path = _write(tmp_path, "staging/s.sql", "-- staged\nSELECT 1 AS x")
    before = load_models(tmp_path, set())[0].code_version
    path.write_text("-- staged\nSELECT 2 AS x")
    assert load_models(tmp_path, set())[0].code_version != before


def test_a_shared_macro_is_not_a_model_and_its_text_versions_the_models_that_call_it(tmp_path):
    import duckdb

    from pipeline.sql_macros import prepare_session

    macro = _write(tmp_path, "macros/twice.sql", "-- twice a value\nCREATE MACRO twice(v) AS v * 2")
    _write(tmp_path, "staging/s.sql", "-- calls it\nSELECT twice(21) AS x")
    _write(tmp_path, "staging/t.sql", "-- does not\nSELECT 1 AS y")
    before = {m.table: m.code_version for m in load_models(tmp_path, set())}
    assert sorted(before) == ["staging.s", "staging.t"]
    macro.write_text("-- three times a value, under the old name\nCREATE MACRO twice(v) AS v * 3")
    after = {m.table: m.code_version for m in load_models(tmp_path, set())}
    assert after["staging.s"] != before["staging.s"] and after["staging.t"] == before["staging.t"]
    con = duckdb.connect()
    prepare_session(con, {}, tmp_path)
    model = next(m for m in load_models(tmp_path, set()) if m.table == "staging.s")
    assert con.execute(model.sql).fetchall() == [(63,)]
    # a TEMP macro: nothing of it is stored in the database the models are built in
    assert con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'twice' "
                       "AND database_name <> 'temp'").fetchone() == (0,)


@pytest.mark.parametrize("text, error", [
    ("CREATE MACRO twice(v) AS v * 2", "start the macro with a comment"),
    ("-- twice\nCREATE MACRO double_it(v) AS v * 2", r"twice\.sql:2: the macro is named 'double_it'"),
    ("-- twice\nSELECT 2", r"twice\.sql:2: a macro file holds one 'CREATE MACRO"),
    ("-- twice\nCREATE MACRO twice(v) AS v * getvariable('ec_c1_hhi')", "a macro reads its arguments only"),
])
def test_a_bad_macro_file_is_an_error_naming_it(tmp_path, text, error):
    from pipeline.sql_macros import MacroError

    _write(tmp_path, "macros/twice.sql", text)
    _write(tmp_path, "staging/s.sql", "-- staged\nSELECT 1 AS x")
    with pytest.raises(MacroError, match=error):
        load_models(tmp_path, set())


def test_the_project_macros_are_called_by_the_models_that_share_their_rule():
    """Each project macro exists because more than one model applies its rule."""
    from assets.reference import EXTERNAL_TABLES
    from pipeline.definitions import RAW_TABLES
    from pipeline.sql_macros import load_macros

    models = load_models(SQL_DIR, EXTERNAL_TABLES | RAW_TABLES)
    for name, macro in load_macros(SQL_DIR).items():
        callers = [m.table for m in models if macro.sql in m.macro_sql]
        if macro.path.parent.name == "macros":
            assert len(callers) >= 2, (name, callers)
        else:  # the source registry's trait macros exist so that no model names a source: each is used
            assert callers, (name, callers)


def test_no_monitor_model_names_a_source():
    """The marts ask the registry's traits (source_caveat, source_frequency, ...) instead of testing
    source = 'comext': a source's name appears only in its own staging SQL (issue 27's rule)."""
    import re

    from pipeline.sources.registry import SOURCES

    names = "|".join(s.name for s in SOURCES)
    for path in sorted((SQL_DIR / "monitor").glob("*.sql")):
        body = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                         if not line.lstrip().startswith("--"))
        assert not re.search(rf"'({names})'", body), path.name


def test_project_models_load():
    from assets.reference import EXTERNAL_TABLES
    from pipeline.definitions import RAW_TABLES

    tables = [m.table for m in load_models(SQL_DIR, EXTERNAL_TABLES | RAW_TABLES)]
    assert "monitor.import_concentration" in tables
    assert tables.index("staging.trade_flows") < tables.index("monitor.import_concentration")


# --- typos are load-time errors naming the file and line (never a silent description line or NULL) ------------

@pytest.mark.parametrize("line", [
    "-- grains: k",                      # a letter too many
    "-- gain: k",                        # a letter too few
    "-- Grain k",                        # no colon
    "-- check positive v > 0",           # no colon
    "-- chek positive: v > 0",           # misspelt
    "-- checks positive: v > 0",         # plural
    "-- warning positive: v > 0",        # longer form
    "-- asert none: SELECT 1 WHERE false",
    "-- partiton: year",
    "-- partition year",
    "-- warn positive:",                 # nothing after the colon
])
def test_a_line_that_looks_like_a_directive_is_an_error_naming_file_and_line(tmp_path, line):
    _write(tmp_path, "staging/s.sql", f"-- staged\n{line}\nSELECT 1 AS k, 2 AS v")
    with pytest.raises(ModelError, match=r"staging/s\.sql:2: (looks like a directive but is not one|"
                                         r"a warn needs a name|only '-- partition: year')"):
        load_models(tmp_path, set(), variables=set())


def test_description_lines_that_merely_mention_a_word_stay_description(tmp_path):
    _write(tmp_path, "staging/s.sql", "-- staged rows; each check below is blocking\n-- Note: grains are keys\n"
                                      "-- grain: k\nSELECT 1 AS k")
    (model,) = load_models(tmp_path, set(), variables=set())
    assert model.description == "staged rows; each check below is blocking\nNote: grains are keys"
    assert model.grain == ("k",)


def test_a_directive_after_the_sql_has_begun_is_an_error(tmp_path):
    _write(tmp_path, "staging/s.sql", "-- staged\nSELECT 1 AS k\n-- check positive: k > 0\n")
    with pytest.raises(ModelError, match=r"staging/s\.sql:3: directive after the SQL has begun"):
        load_models(tmp_path, set(), variables=set())


def test_unknown_getvariable_is_an_error_naming_file_line_and_the_settings(tmp_path):
    _write(tmp_path, "monitor/m.sql", "-- mart\n-- grain: k\nSELECT 1 AS k,\n"
                                      "       v > getvariable('ec_c1_hhl') AS flagged FROM (SELECT 1 AS v)")
    with pytest.raises(ModelError, match=r"monitor/m\.sql:4: getvariable\('ec_c1_hhl'\) is not a setting.*ec_c1_hhi"):
        load_models(tmp_path, set())  # the default: the settings handed to SQL (pipeline.resources.Thresholds)


def test_unknown_getvariable_in_a_check_is_an_error_too(tmp_path):
    _write(tmp_path, "monitor/m.sql", "-- mart\n-- check low: v < getvariable('nope')\nSELECT 1 AS v")
    with pytest.raises(ModelError, match=r"monitor/m\.sql:2: getvariable\('nope'\) is not a setting"):
        load_models(tmp_path, set(), variables={"ec_c1_hhi"})


def test_getvariable_needs_a_literal_name(tmp_path):
    _write(tmp_path, "monitor/m.sql", "-- mart\nSELECT getvariable(name) AS v FROM (SELECT 'x' AS name)")
    with pytest.raises(ModelError, match=r"monitor/m\.sql:2: getvariable\(\) takes a setting's name"):
        load_models(tmp_path, set(), variables={"x"})


def test_known_getvariable_loads(tmp_path):
    _write(tmp_path, "monitor/m.sql", "-- mart\nSELECT 1 > GETVARIABLE( 'EC_C1_HHI' ) AS flagged")
    assert load_models(tmp_path, set())[0].table == "monitor.m"


def test_grain_column_the_model_does_not_produce_is_an_error(tmp_path):
    _write(tmp_path, "staging/s.sql", "-- staged\nSELECT 1 AS k, 2 AS v")
    _write(tmp_path, "monitor/m.sql", "-- mart\n\n-- grain: k, yaer\nWITH a AS (SELECT * EXCLUDE (v) FROM staging.s)\n"
                                      "SELECT a.*, 2024 AS year FROM a")
    with pytest.raises(ModelError, match=r"monitor/m\.sql:3: grain column\(s\) \['yaer'\] are not produced by the "
                                         r"model; its columns: k, year"):
        load_models(tmp_path, set(), variables=set())


def test_grain_is_checked_through_stars_ctes_subqueries_and_unions(tmp_path):
    _write(tmp_path, "staging/s.sql", "-- staged\nSELECT 1 AS k, 2 AS v, 3 AS w")
    _write(tmp_path, "monitor/m.sql",
           "-- mart\n-- grain: k, y, z\nWITH a AS (SELECT * EXCLUDE (w) FROM staging.s), b(z) AS (SELECT 1)\n"
           "SELECT a.* RENAME (v AS y), b.* FROM a, (SELECT * FROM b) AS b UNION ALL SELECT 1, 2, 3")
    assert load_models(tmp_path, set(), variables=set())[1].grain == ("k", "y", "z")
    _write(tmp_path, "monitor/m.sql", "-- mart\n-- grain: k, w\nWITH a AS (SELECT * EXCLUDE (w) FROM staging.s)\n"
                                      "SELECT * FROM a")
    with pytest.raises(ModelError, match=r"monitor/m\.sql:2: grain column\(s\) \['w'\]"):
        load_models(tmp_path, set(), variables=set())


def test_grain_over_columns_the_sql_does_not_tell_is_left_to_the_run(tmp_path):
    # a star over a raw table: the loader does not know its columns, the unique_grain check runs on the rows
    _write(tmp_path, "monitor/m.sql", "-- mart\n-- grain: k\nSELECT * FROM raw.r")
    assert load_models(tmp_path, {"raw.r"}, variables=set())[0].grain == ("k",)


def test_static_columns_of_every_project_model_are_duckdbs():
    """The columns load_models reads from the SQL (to check grains) are the ones DuckDB builds, for every
    project model (so every project grain is checked at load)."""
    import sqlglot

    from pipeline.sql_models import output_columns
    from sql_harness import Harness

    h = Harness()
    columns = {}
    for table, model in h.models.items():
        columns[table] = output_columns(sqlglot.parse_one(model.sql, read="duckdb"), columns)
        h.con.execute(f"CREATE OR REPLACE TABLE {table} AS {model.sql}")
        built = {d[0].lower() for d in h.con.execute(f"SELECT * FROM {table} LIMIT 0").description}
        assert columns[table] is not None and columns[table] == built, table


@pytest.mark.parametrize("header, error", [
    ("-- grain: k\n-- grain: v", r"staging/s\.sql:3: a second grain directive \(the first is on line 2\)"),
    ("-- check positive: k > 0\n-- warn positive: v > 0", r"staging/s\.sql:3: a second check named 'positive'"),
    ("-- grain: k + 1", r"staging/s\.sql:2: grain columns are plain column names"),
])
def test_a_directive_given_twice_or_malformed_is_an_error(tmp_path, header, error):
    _write(tmp_path, "staging/s.sql", f"-- staged\n{header}\nSELECT 1 AS k, 2 AS v")
    with pytest.raises(ModelError, match=error):
        load_models(tmp_path, set(), variables=set())
