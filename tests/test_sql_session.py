"""A model step's DuckDB session: only the settings and shared macros its SQL and checks name.

Every model step used to set all 20 settings and create all 11 macros (31 statements, about 1 ms each under
load) before its own SQL; most models use none or a few."""

import duckdb
import pytest

from pipeline.paths import SQL_DIR
from pipeline.settings import ScreenThresholds
from pipeline.sql_macros import prepare_session


class Counting:
    """A connection that counts the statements run through it."""

    def __init__(self, conn):
        self.conn, self.statements = conn, 0

    def execute(self, *args, **kwargs):
        self.statements += 1
        return self.conn.execute(*args, **kwargs)


def _models():
    from pipeline.definitions import RAW_TABLES, REFERENCE_TABLES
    from pipeline.sql_models import load_models

    return load_models(SQL_DIR, REFERENCE_TABLES | RAW_TABLES)


def test_only_the_named_settings_and_macros_are_prepared():
    conn = duckdb.connect()
    settings = ScreenThresholds().sql_variables()
    prepare_session(conn, settings, for_sql="SELECT ec_screened(m, x), getvariable('ec_c1_hhi') FROM t")
    assert conn.execute("SELECT ec_screened(1, 0), ec_screened(0, 0), getvariable('ec_c1_hhi'), "
                        "getvariable('ec_c2_extra_share')").fetchall() == [(True, False, settings["ec_c1_hhi"], None)]
    with pytest.raises(duckdb.CatalogException, match="hs_split_part"):
        conn.execute("SELECT hs_split_part(1, NULL, 0, 1)")


def test_a_model_that_calls_no_macro_and_reads_no_setting_prepares_nothing():
    conn = Counting(duckdb.connect())
    prepare_session(conn, ScreenThresholds().sql_variables(), for_sql="SELECT 1 AS x FROM staging.trade_flows")
    assert conn.statements == 0


def test_a_macro_calling_another_macro_brings_it_along(tmp_path):
    (tmp_path / "macros").mkdir()
    (tmp_path / "macros" / "twice.sql").write_text("-- twice a value\nCREATE MACRO twice(v) AS v * 2")
    (tmp_path / "macros" / "quad.sql").write_text("-- four times a value\nCREATE MACRO quad(v) AS twice(twice(v))")
    conn = duckdb.connect()
    prepare_session(conn, {}, tmp_path, for_sql="SELECT quad(3)")
    assert conn.execute("SELECT quad(3)").fetchall() == [(12,)]


def test_every_project_model_gets_exactly_the_settings_and_macros_its_sql_and_checks_name():
    """A check may read a setting its model's SELECT does not (staging.annual_flows' on_target_axis reads
    hs_target_edition): the session covers the checks too."""
    settings = ScreenThresholds().sql_variables()
    macros = ("hs_split_part", "ec_screened", "ec_dependent", "source_frequency", "source_caveat", "source_world")
    models = _models()
    annual = next(m for m in models if m.table == "staging.annual_flows")
    assert "hs_target_edition" in " ".join(c.predicate for c in annual.checks)
    for model in models:
        conn = duckdb.connect()
        prepare_session(conn, settings, for_sql=model.session_sql)
        text = model.session_sql.lower()
        for name in settings:
            is_set = conn.execute(f"SELECT getvariable('{name}')").fetchall()[0][0] is not None
            assert is_set == (f"getvariable('{name}')" in text), (model.table, name)
        for macro in macros:
            created = conn.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = ?",
                                   [macro]).fetchall()[0][0] > 0
            assert created == (f"{macro}(" in text), (model.table, macro)


def test_intra_eu_partner_codes_are_a_trait_of_the_source_that_has_them():
    # methodology section 3: Comext's non-country partners QR, QV and QY are intra-EU trade; no other
    # registered source has such codes, so the same code from another source is no intra-EU partner
    con = duckdb.connect()
    prepare_session(con, ScreenThresholds().sql_variables(), for_sql="SELECT source_intra_eu_partner('comext', 'QV')")
    rows = con.execute(
        "SELECT src, partner, source_intra_eu_partner(src, partner) FROM (VALUES ('comext', 'QR'), ('comext', 'QV'), "
        "('comext', 'QY'), ('comext', 'QS'), ('comext', 'DEU'), ('comtrade', 'QV'), ('baci', 'QR'), ('comext', NULL)) "
        "AS t(src, partner) ORDER BY ALL").fetchall()
    assert rows == [("baci", "QR", False), ("comext", "DEU", False), ("comext", "QR", True), ("comext", "QS", False),
                    ("comext", "QV", True), ("comext", "QY", True), ("comext", None, None), ("comtrade", "QV", False)]
