"""The SQL loader's cache covers the shared macros too (issue 28): a warm start parses no macro file with sqlglot
(whose DuckDB dialect alone took 0.1 s before the first step of every `geomon run`), gives the macros
``load_macros`` gives, and an edited macro file is checked again.

Each test points the cache at its own folder (``sql_models.CACHE_DIR``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline import sql_macros, sql_models
from pipeline.definitions import RAW_TABLES, REFERENCE_TABLES
from pipeline.paths import REPO_ROOT, SQL_DIR
from pipeline.sql_macros import MacroError, load_macros
from pipeline.sql_models import load_models

EXTERNAL = REFERENCE_TABLES | RAW_TABLES


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setattr(sql_models, "CACHE_DIR", folder)
    return folder


def _no_macro_parsing(monkeypatch):
    sql_macros._parsed.cache_clear()
    sql_models.parsed.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("sqlglot parsed a macro or model although the cache held its facts")

    monkeypatch.setattr(sql_macros.sqlglot, "parse_one", refuse)
    monkeypatch.setattr(sql_models.sqlglot, "parse_one", refuse)


def test_a_warm_load_parses_no_macro_and_gives_load_macros_macros(cache, monkeypatch):
    monkeypatch.setattr(sql_models, "CACHE_DIR", None)
    uncached = load_models(SQL_DIR, EXTERNAL)  # no cache: every macro through load_macros
    monkeypatch.setattr(sql_models, "CACHE_DIR", cache)
    cold = load_models(SQL_DIR, EXTERNAL)
    with monkeypatch.context() as patch:
        _no_macro_parsing(patch)
        warm = load_models(SQL_DIR, EXTERNAL)
    assert warm == cold == uncached
    # the macros a model's code version holds are load_macros' statements
    assert sum(1 for m in warm if m.macro_sql) > 3
    statements = {m.sql for m in load_macros(SQL_DIR).values()}
    assert all(any(sql in m.macro_sql for sql in statements) for m in warm if m.macro_sql)


def _toy(root, macro: str) -> None:
    (root / "macros").mkdir(parents=True, exist_ok=True)
    (root / "staging").mkdir(parents=True, exist_ok=True)
    (root / "macros" / "double_it.sql").write_text(macro, encoding="utf-8")
    (root / "staging" / "doubled.sql").write_text(
        "-- Values doubled by the shared rule.\n-- grain: n\nSELECT n, double_it(n) AS twice FROM raw.numbers\n",
        encoding="utf-8")


def test_an_edited_macro_is_checked_again(cache, tmp_path, monkeypatch):
    root = tmp_path / "models"
    _toy(root, "-- The doubling rule.\nCREATE MACRO double_it(x) AS x * 2\n")
    [first] = load_models(root, {"raw.numbers"})
    assert "x * 2" in first.macro_sql
    _toy(root, "-- The doubling rule.\nCREATE MACRO double_it(x) AS x + x\n")
    [second] = load_models(root, {"raw.numbers"})
    assert "x + x" in second.macro_sql and second.code_version != first.code_version
    # a broken file is refused with its name whatever the cache held for the file's earlier text
    _toy(root, "-- The doubling rule.\nCREATE MACRO triple_it(x) AS x * 3\n")
    with pytest.raises(MacroError, match="double_it.sql"):
        load_models(root, {"raw.numbers"})


@pytest.mark.pipeline
def test_a_warm_start_in_a_new_process_loads_no_sqlglot_dialect(tmp_path):
    """pipeline.definitions imported twice in fresh interpreters on one cache folder: the second never loads
    sqlglot's DuckDB dialect (a model step's tokenizer does, when a model is built)."""
    script = (
        "import sys; from pipeline import sql_models; sql_models.CACHE_DIR = __import__('pathlib').Path(sys.argv[1])\n"
        "import pipeline.definitions\n"
        "print('sqlglot.dialects.duckdb' in sys.modules)\n"
    )
    loaded = [subprocess.run([sys.executable, "-c", script, str(tmp_path / "cache")], cwd=REPO_ROOT,
                             capture_output=True, text=True, check=True).stdout.split()[-1] for _ in range(2)]
    assert loaded == ["True", "False"]
