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


def test_project_models_load():
    from assets.reference import EXTERNAL_TABLES
    from pipeline.definitions import RAW_TABLES

    tables = [m.table for m in load_models(SQL_DIR, EXTERNAL_TABLES | RAW_TABLES)]
    assert "monitor.import_concentration" in tables
    assert tables.index("staging.trade_flows") < tables.index("monitor.import_concentration")
