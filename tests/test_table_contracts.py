"""One declaration per table (issue 27, item 1): a table's contract is its SQL header, and nothing else lists tables.

The header directives of pipeline/contracts.py (access class, workbook sheet and row filter, changes screens, report
sections, methodology section, a column only the table has) are read and checked at load time with errors naming
file and line; the publisher's consumers read them (pipeline/catalog.py). The proof: a toy screen added through one
SQL file is built, published, described, served and shown in the workbook with no other edit. And a published
column comment states the threshold the run used, never a default it did not use (item 3).
"""

from __future__ import annotations

import importlib
import json
import re
import shutil

import duckdb

import openpyxl
import polars as pl
import pytest

from conftest import Runner, SMALL_COMEXT, failure_messages, sdmx_rows
from pipeline import glossary, sql_models
from pipeline.paths import SQL_DIR
from pipeline.publish.access import PUBLIC, RESTRICTED, table_class
from pipeline.sql_models import ModelError, load_models

BODY = "SELECT 1 AS k, 2 AS v, true AS f"


def _write(root, relative: str, text: str):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _load(tmp_path, header: str, body: str = BODY):
    _write(tmp_path, "monitor/s.sql", f"-- a toy table\n{header}\n{body}")
    return load_models(tmp_path, set(), variables=set())


# --- the directives, read and checked at load time --------------------------------------------------------------

def test_every_contract_directive_is_read(tmp_path):
    (model,) = _load(tmp_path, "\n".join([
        "-- access: public",
        "-- sheet: Toy screen; filter f; order 3",
        "-- changes toy: keys k, k, v, k; flag f; top k; hhi v; where v > 1",
        "-- report: headline, supplier-loss",
        "-- methodology: 6 Screens (a toy)",
        "-- column f: True where the toy flags the row.",
        "-- grain: k",
    ]))
    contract = model.contract
    assert model.description == "a toy table" and model.grain == ("k",)
    assert contract.access_class == PUBLIC and contract.methodology == "6 Screens (a toy)"
    assert (contract.sheet.name, contract.sheet.filter, contract.sheet.order) == ("Toy screen", "f", 3)
    (screen,) = contract.changes
    assert (screen.screen, screen.keys, screen.flag, screen.top, screen.hhi, screen.where) == \
        ("toy", ("k", "k", "v", "k"), "f", "k", "v", "v > 1")
    assert contract.report == ("headline", "supplier-loss")
    assert contract.column_meaning("f") == "True where the toy flags the row."


def test_a_table_that_declares_nothing_is_restricted(tmp_path):
    (model,) = _load(tmp_path, "-- grain: k")
    assert model.contract.access is None and model.contract.access_class == RESTRICTED


@pytest.mark.parametrize("header, error", [
    ("-- access: secret", r"monitor/s\.sql:2: unknown access class 'secret'"),
    ("-- acess: public", r"monitor/s\.sql:2: looks like a directive but is not one"),
    ("-- access public", r"monitor/s\.sql:2: looks like a directive but is not one.*-- access: public"),
    ("-- sheets: Toy", r"monitor/s\.sql:2: looks like a directive but is not one.*-- sheet: <sheet name>"),
    ("-- colum f: a flag", r"monitor/s\.sql:2: looks like a directive but is not one.*-- column <name>"),
    ("-- reports: headline", r"monitor/s\.sql:2: looks like a directive but is not one.*-- report:"),
    ("-- sheet: Toy; filter nowhere", r"monitor/s\.sql:2: the sheet declaration names column 'nowhere'"),
    ("-- sheet: Toy; colour red", r"monitor/s\.sql:2: unknown sheet option 'colour red'"),
    ("-- sheet: README", r"monitor/s\.sql:2: 'README' is not a sheet name"),
    ("-- sheet: A sheet name far too long for Excel", r"monitor/s\.sql:2: .* is not a sheet name"),
    ("-- changes toy: keys k, v, k; flag f; top k; hhi v", r"monitor/s\.sql:2: keys are four columns"),
    ("-- changes toy: keys k, k, v, k; flag f; hhi v", r"monitor/s\.sql:2: the screen needs top"),
    ("-- changes toy: keys k, k, v, k; flag dependent; top k; hhi v",
     r"monitor/s\.sql:2: the changes declaration names column 'dependent'"),
    ("-- changes toy: keys k, k, v, k; flag f; top k; hhi v; where nowhere > 1",
     r"monitor/s\.sql:2: the changes declaration names column 'nowhere'"),
    ("-- changes: keys k, k, v, k; flag f; top k; hhi v", r"monitor/s\.sql:2: write '-- changes <screen>: keys"),
    ("-- column nowhere: a column", r"monitor/s\.sql:2: the column declaration names column 'nowhere'"),
    ("-- access: public\n-- access: restricted", r"monitor/s\.sql:3: a second 'access' declaration .*line 2"),
    ("-- report: headline; product", r"monitor/s\.sql:2: expected report section ids"),
])
def test_a_bad_declaration_is_an_error_naming_file_and_line(tmp_path, header, error):
    with pytest.raises(ModelError, match=error):
        _load(tmp_path, header)


def test_a_shared_column_keeps_its_one_meaning_in_the_glossary(tmp_path):
    with pytest.raises(ModelError, match=r"monitor/s\.sql:2: column 'value' already has its one meaning in "
                                         r"pipeline/glossary\.py"):
        _load(tmp_path, "-- column value: another meaning of value", "SELECT 1 AS value")


def test_a_sheet_belongs_to_one_table(tmp_path):
    _write(tmp_path, "monitor/a.sql", f"-- a\n-- sheet: Toy\n{BODY}")
    _write(tmp_path, "monitor/b.sql", f"-- b\n-- sheet: Toy\n{BODY}")
    with pytest.raises(ModelError, match=r"monitor/b\.sql: sheet 'Toy' is declared by .*monitor/a\.sql too"):
        load_models(tmp_path, set(), variables=set())


def test_description_lines_may_start_with_a_contract_word(tmp_path):
    """'report' and 'methodology' start sentences of real headers; only their colon form is a directive."""
    (model,) = _load(tmp_path, "-- methodology section 4: shares\n-- report), as the importer gives it")
    assert model.description == "a toy table\nmethodology section 4: shares\nreport), as the importer gives it"


# --- the project's declarations ---------------------------------------------------------------------------------

def test_access_classes_come_from_the_declarations(tmp_path, monkeypatch):
    """A new table is restricted until its header declares it public; a declared one is what it declares."""
    _write(tmp_path, "monitor/toy_new.sql", f"-- a new screen, no access declared\n{BODY}")
    _write(tmp_path, "monitor/toy_open.sql", f"-- a public toy\n-- access: public\n{BODY}")
    monkeypatch.setattr(sql_models, "EXTRA_MODEL_DIRS", (tmp_path,))
    assert table_class("monitor.toy_new") == RESTRICTED
    assert table_class("monitor.toy_open") == PUBLIC
    assert table_class("monitor.nowhere") == RESTRICTED and table_class("reference.countries") == PUBLIC
    # a user's list of restricted tables replaces the declarations
    assert table_class("monitor.toy_new", ["monitor.import_concentration"]) == PUBLIC


def test_the_vulnerability_findings_are_declared_restricted():
    """The NL and EU vulnerability findings (before issue 27 the access module's DEFAULT_RESTRICTED list)."""
    for table in ("monitor.eu_dependencies", "monitor.nl_dependencies", "monitor.ec_screen", "monitor.ec_screen_rolling",
                  "monitor.supplier_loss", "monitor.supplier_loss_by_domain", "monitor.trends", "monitor.changes",
                  "monitor.crma_benchmark", "monitor.bloc_vs_members", "monitor.ec_screen_cn8"):
        assert table_class(table) == RESTRICTED, table
    for table in ("monitor.import_concentration", "monitor.world_supply_screen", "monitor.dependence_on_nl",
                  "monitor.supplier_dependence", "monitor.domain_summary", "reference.countries"):
        assert table_class(table) == PUBLIC, table


def test_the_report_sections_the_tables_name_are_the_reports():
    from pipeline.catalog import contracts, restricted_tables
    from pipeline.report.public import left_out_sections

    assert left_out_sections(restricted_tables(contracts())) == [
        "changes", "headline", "dependencies", "product", "rolling", "supplier-loss", "crma", "cn8"]
    assert left_out_sections([]) == []


def test_every_project_model_loads_with_its_contract():
    from assets.reference import EXTERNAL_TABLES
    from pipeline.definitions import RAW_TABLES

    models = {m.table: m for m in load_models(SQL_DIR, EXTERNAL_TABLES | RAW_TABLES)}
    sheets = {m.contract.sheet.name: t for t, m in models.items() if m.contract.sheet}
    assert sheets["World supply screen"] == "monitor.world_supply_screen"
    assert models["monitor.world_supply_screen"].contract.sheet.filter == "flagged"
    assert {s.screen for s in models["monitor.supplier_dependence"].contract.changes} == {
        "dependence_on_nl", "dependence_on_eu"}
    assert all(m.contract.methodology for t, m in models.items() if t.startswith("monitor."))


# --- meanings state the thresholds used (issue 27, item 3) --------------------------------------------------------

def test_a_meaning_names_the_threshold_the_run_used_never_a_default():
    used = {"low_confidence_unallocated_share": 0.25, "depends_share": 0.6, "depends_top_hhi": 0.45}
    assert "(low_confidence_unallocated_share = 0.25)" in glossary.describe("low_confidence", used)
    assert "depends_share = 0.6" in glossary.describe("depends_on_nl", used)
    assert "depends_top_hhi = 0.45" in glossary.describe("depends_on_nl", used)
    # without the run's values (the Dagster UI's column schema): the setting's name, no number
    assert glossary.describe("low_confidence").endswith("(low_confidence_unallocated_share).")
    settings = sql_models.settings_names()
    for column, template in glossary.COLUMNS.items():
        assert set(glossary.placeholders(template)) <= settings, (column, template)
        text = glossary.describe(column)
        assert "{" not in text and not re.search(r"default \d", text), (column, text)


def test_a_description_names_settings_it_knows(tmp_path):
    (model,) = load_models(_write(tmp_path, "monitor/s.sql", f"-- flagged above {{ec_c1_hhi}}\n{BODY}").parents[1],
                           set(), variables={"ec_c1_hhi"})
    assert model.description == "flagged above ec_c1_hhi"  # the Dagster UI's text: the setting's name
    _write(tmp_path, "monitor/s.sql", f"-- a toy\n-- column f: above {{ec_c1_hi}}\n{BODY}")
    with pytest.raises(ModelError, match=r"monitor/s\.sql:2: \{ec_c1_hi\} is not a setting"):
        load_models(tmp_path, set(), variables={"ec_c1_hhi"})


# --- the proof: a toy screen through one SQL file ----------------------------------------------------------------

TOY_SCREEN = """-- A toy screen for a test: the EC screen's rows, flagged where the extra-EU HHI passes the C1 threshold.
-- access: public
-- sheet: Toy screen; filter toy_flag; order 9
-- methodology: 6 Screens (a test's toy table)
-- column toy_flag: hhi_extra > {ec_c1_hhi}: the toy's flag.
-- changes toy_screen: keys source, reporter, year, product_code; flag toy_flag; top top_supplier; hhi hhi_extra
-- grain: source, reporter, year, product_code
SELECT source, reporter, year, product_code, top_supplier, hhi_extra,
       hhi_extra > getvariable('ec_c1_hhi') AS toy_flag
FROM monitor.ec_screen
"""
TOY_SECRET = """-- A toy table that declares no access class.
-- grain: source, reporter, year, product_code
SELECT source, reporter, year, product_code, dependent FROM monitor.ec_screen
"""
USED = {"low_confidence_unallocated_share": 0.25, "ec_c1_hhi": 0.35}


@pytest.fixture(scope="module")
def toy_world(tmp_path_factory):
    """One refresh run (SMALL_COMEXT) with two toy tables added through their SQL files alone, in a folder the
    loader reads beside dbt_like_sql (sql_models.EXTRA_MODEL_DIRS), at non-default thresholds."""
    import pipeline.definitions

    folder = tmp_path_factory.mktemp("toy")
    _write(folder, "models/monitor/toy_screen.sql", TOY_SCREEN)
    _write(folder, "models/monitor/toy_secret.sql", TOY_SECRET)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sql_models, "EXTRA_MODEL_DIRS", (folder / "models",))
        importlib.reload(pipeline.definitions)  # its assets are made from the models when it is loaded
        try:
            runner = Runner(folder / "data", mp)
            runner.write("landing/comext/good.csv", sdmx_rows(SMALL_COMEXT))
            result = runner.run(**USED)
            assert result.success, failure_messages(result)
            snapshot = runner.paths.snapshots / runner.paths.latest_pointer.read_text().strip()
            yield runner, snapshot, json.loads((snapshot / "manifest.json").read_text())
        finally:
            mp.undo()
            importlib.reload(pipeline.definitions)


@pytest.mark.pipeline
def test_a_toy_screen_is_published_through_its_sql_file_alone(toy_world):
    runner, snapshot, manifest = toy_world
    # the manifest and its access classes: as declared, and restricted where nothing is declared
    toy, secret = manifest["tables"]["monitor.toy_screen"], manifest["tables"]["monitor.toy_secret"]
    assert toy["access"] == PUBLIC and secret["access"] == RESTRICTED and toy["rows"] > 0
    assert "monitor.toy_secret" in manifest["access"]["restricted_tables"]
    assert "monitor.toy_screen" not in manifest["access"]["restricted_tables"]
    meanings = {f["name"]: f["description"] for f in toy["schema"]}
    assert meanings["toy_flag"] == "hhi_extra > ec_c1_hhi = 0.35: the toy's flag."
    # the analysts' view, with names beside the codes, and the column comments of the published file
    with runner.published() as con:
        view = con.sql("SELECT * FROM views.toy_screen").pl()
        comments = dict(con.execute(
            "SELECT table_name || '.' || column_name, comment FROM duckdb_columns() WHERE schema_name = 'monitor' "
            "AND column_name IN ('toy_flag', 'low_confidence')").fetchall())
    assert view.height == toy["rows"] and {"reporter_name", "product"} <= set(view.columns)
    assert comments["toy_screen.toy_flag"] == "hhi_extra > ec_c1_hhi = 0.35: the toy's flag."
    # the dictionary
    dictionary = (snapshot / "DICTIONARY.md").read_text()
    assert "## monitor.toy_screen" in dictionary and "methodology: 6 Screens (a test's toy table)" in dictionary
    assert "| `toy_flag` | bool | true/false | - | hhi_extra > ec_c1_hhi = 0.35: the toy's flag. |" in dictionary
    # the workbook: its sheet, holding the rows where its filter is true
    book_name = next(n for n in manifest["files"] if n.endswith(".xlsx"))
    assert manifest["files"][book_name]["sheets"]["Toy screen"] == {
        "table": "monitor.toy_screen", "rows": int(pl.read_parquet(snapshot / toy["file"])["toy_flag"].sum()),
        "truncated": False, "years": [2024], "where": "toy_flag"}
    book = openpyxl.load_workbook(snapshot / book_name, read_only=True)
    assert book.sheetnames[-1] == "Toy screen"
    assert any(row[:2] == ("Toy screen", "toy_flag") for row in book["Columns"].iter_rows(values_only=True))
    book.close()


@pytest.mark.pipeline
def test_a_published_comment_states_the_threshold_the_run_used(toy_world):
    runner, snapshot, manifest = toy_world
    with runner.published() as con:
        (comment,) = con.execute("SELECT comment FROM duckdb_columns() WHERE schema_name = 'monitor' AND "
                                 "table_name = 'import_concentration' AND column_name = 'low_confidence'").fetchone()
    assert comment == ("True when unallocated_share exceeds the low-confidence threshold "
                       "(low_confidence_unallocated_share = 0.25).")
    schema = {f["name"]: f["description"] for f in manifest["tables"]["monitor.import_concentration"]["schema"]}
    assert schema["low_confidence"] == comment
    # a table's own description too: the EC screen's C1 at the run's 0.35, C2 at its default
    with runner.published() as con:
        (table_comment,) = con.execute("SELECT comment FROM duckdb_tables() WHERE schema_name = 'monitor' "
                                       "AND table_name = 'ec_screen'").fetchone()
    assert "hhi_extra > c1_threshold (ec_c1_hhi = 0.35)" in table_comment
    assert "> c2_threshold (ec_c2_extra_share = 0.5)" in table_comment and "{" not in table_comment
    assert manifest["tables"]["monitor.ec_screen"]["description"] == table_comment
    assert "(low_confidence_unallocated_share = 0.25)" in (snapshot / "DICTIONARY.md").read_text()


@pytest.mark.pipeline
def test_monitor_changes_compares_the_toy_screen(toy_world, tmp_path):
    """The toy's '-- changes' declaration makes it a screen of monitor.changes: against a previous publication where
    its flag was the other way, each of its flagged rows is newly dependent, and no other screen moved."""
    from pipeline.publish.changes import build_changes

    runner, snapshot, manifest = toy_world
    previous = tmp_path / "previous.duckdb"
    shutil.copy(runner.paths.published_db, previous)
    with duckdb.connect(str(previous)) as con:
        con.execute("UPDATE monitor.toy_screen SET toy_flag = NOT toy_flag")
    flagged = int(pl.read_parquet(snapshot / manifest["tables"]["monitor.toy_screen"]["file"])["toy_flag"].sum())
    with duckdb.connect(str(runner.paths.warehouse)) as con:
        counts = build_changes(con, previous, "next", 0.1)
        moved = con.execute("SELECT screen, change, count(*) FROM monitor.changes GROUP BY ALL").fetchall()
    assert flagged > 0 and moved == [("toy_screen", "newly_dependent", flagged)] and counts == {"newly_dependent": flagged}
