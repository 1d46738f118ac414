"""The SQL loader's cache of what sqlglot read from each model (issue 27 loose ends) and from the shared macro files
(issue 28: sqlglot's DuckDB dialect alone took 0.1 s before the first step of every `geomon run`): a warm start
parses nothing, gives the same models and macros as a cold one, never hides a load-time error, and checks an
edited macro file again.

Each test points the cache at its own folder (``sql_models.CACHE_DIR``), so none depends on the project's cache.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline import sql_macros, sql_models
from pipeline.definitions import RAW_TABLES, REFERENCE_TABLES
from pipeline.paths import REPO_ROOT, SQL_DIR
from pipeline.sql_macros import MacroError, load_macros
from pipeline.sql_models import ModelError, load_models

EXTERNAL = REFERENCE_TABLES | RAW_TABLES


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setattr(sql_models, "CACHE_DIR", folder)
    return folder


def _no_parsing(monkeypatch):
    """Make any sqlglot parse of a model fail the test (a warm load must read facts from the cache)."""
    sql_models.parsed.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("sqlglot parsed a model although the cache held its facts")

    monkeypatch.setattr(sql_models.sqlglot, "parse_one", refuse)


def _write(root, rel, sql):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql, encoding="utf-8")
    return path


def test_a_warm_load_parses_nothing_and_gives_the_cold_loads_models(cache, monkeypatch):
    monkeypatch.setattr(sql_models, "CACHE_DIR", None)
    uncached = load_models(SQL_DIR, EXTERNAL)
    monkeypatch.setattr(sql_models, "CACHE_DIR", cache)
    cold = load_models(SQL_DIR, EXTERNAL)
    assert list(cache.iterdir()), "a successful cold load writes the cache"
    _no_parsing(monkeypatch)
    warm = load_models(SQL_DIR, EXTERNAL)
    assert warm == cold == uncached
    # the derived facts themselves, not just the models: dependencies and macros (code versions) are the same
    assert [(m.table, m.deps, m.code_version) for m in warm] == [(m.table, m.deps, m.code_version) for m in uncached]


@pytest.mark.pipeline
def test_a_warm_start_in_a_new_process_parses_nothing_and_loads_no_sqlglot_dialect(tmp_path):
    """The real start-up path: pipeline.definitions imported twice in fresh interpreters on one cache folder. The
    second parses nothing and never loads sqlglot's DuckDB dialect (a model step's tokenizer does, when a model
    is built). One pair of interpreters answers both (two tests started a pair each before): the counters only
    wrap the loader's two sqlglot entry points and call them."""
    script = (
        "import sys; from pipeline import sql_models; sql_models.CACHE_DIR = __import__('pathlib').Path(sys.argv[1])\n"
        "calls = []\n"
        "def counted(function):\n"
        "    return lambda *a, **k: calls.append(1) or function(*a, **k)\n"
        # what the loader reads from a model with sqlglot goes through these two
        "sql_models.parsed = counted(sql_models.parsed)\n"
        "sql_models.table_references = counted(sql_models.table_references)\n"
        "import pipeline.definitions\n"
        "print(len(calls), 'sqlglot.dialects.duckdb' in sys.modules)\n"
    )
    outputs = [subprocess.run([sys.executable, "-c", script, str(tmp_path / "cache")], cwd=REPO_ROOT,
                              capture_output=True, text=True, check=True).stdout.split()[-2:] for _ in range(2)]
    counts, loaded = [int(n) for n, _ in outputs], [d for _, d in outputs]
    assert counts[0] > 30 and counts[1] == 0, counts
    assert loaded == ["True", "False"]


def test_an_edited_model_is_read_again_and_its_error_raised_with_file_and_line(cache, tmp_path, monkeypatch):
    root = tmp_path / "models"
    _write(root, "staging/s.sql", "-- staged\nSELECT 1 AS k, 2 AS v")
    path = _write(root, "monitor/m.sql", "-- mart\n-- grain: k\nSELECT k, v FROM staging.s")
    assert [m.table for m in load_models(root, set())] == ["staging.s", "monitor.m"]
    path.write_text("-- mart\n-- grain: k\nSELECT v FROM staging.s", encoding="utf-8")
    for _ in range(2):  # the error comes back every time: an erroring load is never cached
        with pytest.raises(ModelError, match=r"monitor/m\.sql:2: grain column\(s\) \['k'\] are not produced"):
            load_models(root, set())
    # an upstream edit changes what a downstream star produces, with the downstream file unchanged
    path.write_text("-- mart\n-- grain: k\nSELECT * FROM staging.s", encoding="utf-8")
    load_models(root, set())
    _write(root, "staging/s.sql", "-- staged\nSELECT 2 AS v")
    with pytest.raises(ModelError, match=r"monitor/m\.sql:2: grain column\(s\) \['k'\]"):
        load_models(root, set())


def test_an_erroring_load_writes_no_cache(cache, tmp_path):
    root = tmp_path / "models"
    _write(root, "staging/s.sql", "-- staged\nSELECT 1 AS k")
    _write(root, "monitor/m.sql", "-- mart\nSELECT * FROM staging.nowhere")
    with pytest.raises(ModelError, match=r"monitor/m\.sql: reads unknown table\(s\) \['staging.nowhere'\]"):
        load_models(root, set())
    assert not cache.exists() or not any(cache.iterdir())


def test_an_unparsable_model_is_an_error_even_after_its_table_was_cached(cache, tmp_path):
    root = tmp_path / "models"
    path = _write(root, "staging/s.sql", "-- staged\nSELECT 1 AS k")
    load_models(root, set())
    path.write_text("-- staged\nSELECT 1 AS k FROM flows", encoding="utf-8")
    with pytest.raises(ModelError, match=r"staging/s\.sql: table 'flows' is neither a CTE nor schema-qualified"):
        load_models(root, set())


@pytest.mark.parametrize("content", [b"not json {", b"[1, 2]", b'{"version": 3}', None])
def test_a_broken_or_foreign_cache_is_ignored(cache, monkeypatch, content):
    monkeypatch.setattr(sql_models, "CACHE_DIR", None)
    expected = load_models(SQL_DIR, EXTERNAL)
    monkeypatch.setattr(sql_models, "CACHE_DIR", cache)
    load_models(SQL_DIR, EXTERNAL)
    (file,) = cache.iterdir()
    if content is None:  # right version, entries of the wrong shape: every one of them is recomputed
        data = json.loads(file.read_text())
        data["facts"] = {key: {"deps": 7, "columns": "x"} for key in data["facts"]}
        content = json.dumps(data).encode()
    file.write_bytes(content)
    assert load_models(SQL_DIR, EXTERNAL) == expected
    _no_parsing(monkeypatch)  # and the cache was written afresh
    assert load_models(SQL_DIR, EXTERNAL) == expected


def test_an_unwritable_cache_folder_only_costs_the_parse(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(sql_models, "CACHE_DIR", blocker / "cache")
    assert [m.table for m in load_models(SQL_DIR, EXTERNAL)] == [m.table for m in load_models(SQL_DIR, EXTERNAL)]
    assert blocker.read_text() == "not a folder"


def test_saving_leaves_no_temporary_files_and_other_roots_entries_survive(cache, tmp_path, monkeypatch):
    """A test's toy models must not push the project's models out of the cache (they share one file)."""
    one, two = tmp_path / "one", tmp_path / "two"
    _write(one, "staging/a.sql", "-- a\nSELECT 1 AS k")
    _write(two, "staging/b.sql", "-- b\nSELECT 2 AS v")
    expected = load_models(one, set())
    load_models(two, set())
    (file,) = cache.iterdir()  # one file, replaced atomically: no temporary file is left behind
    _no_parsing(monkeypatch)
    assert load_models(one, set()) == expected


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
