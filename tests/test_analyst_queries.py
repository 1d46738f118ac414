"""The analyst questions and the download examples of README.md, run exactly as README.md has them.

The SQL block under "Five questions" and the two Python blocks of the downloader section are read from
README.md (so the README and the test cannot drift) and run on a publication of the embedded default (real
extracts + synthetic demo world): each question must answer with rows, from one source, with names rather
than codes; the Python blocks read a restricted table from ``geomon serve`` on 127.0.0.1 with the token.
"""

import os
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.serve import make_server

README = Path(__file__).parents[1] / "README.md"
README_PORT = "127.0.0.1:8765"


def readme_block(after: str, language: str, nth: int = 0) -> str:
    """The ``nth`` fenced ``language`` block after the line ``after`` of README.md."""
    text = README.read_text(encoding="utf-8")
    start = text.index(after)
    blocks = re.findall(rf"^```{language}\n(.*?)^```$", text[start:], flags=re.S | re.M)
    return blocks[nth]


def readme_questions() -> dict[str, str]:
    """'1. EU27 products ...' -> its SQL, from the README's block of questions."""
    block = readme_block("### Five questions", "sql")
    parts = re.split(r"^-- (\d+\. .*)$", block, flags=re.M)[1:]
    return {title: sql.strip().rstrip(";") for title, sql in zip(parts[::2], parts[1::2])}


QUESTIONS = readme_questions()


@pytest.fixture(scope="module")
def published(default_world):
    """The embedded default's published file (conftest.default_world, built once per session), read-only."""
    con = default_world.published()
    yield con
    con.close()


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_question_answers_from_one_source_with_names(published, name):
    cursor = published.execute(QUESTIONS[name])
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert rows, f"{name}: no answer on the embedded default"
    # one source per question, and it is shown: never Comext EUR beside Comtrade USD, never a row twice
    assert "source" in columns and "currency" in columns, f"{name}: no source/currency column"
    assert len({r[columns.index("source")] for r in rows}) == 1, name
    assert len({r[columns.index("currency")] for r in rows}) == 1, name
    assert len(set(rows)) == len(rows), f"{name}: duplicate rows"
    for column in ("importer_name", "product", "top_supplier_name", "domain"):
        if column in columns:  # a name, never a bare code or slug
            values = [r[columns.index(column)] for r in rows]
            assert all(values), f"{name}: {column} has empty names"
            assert not any("_" in v for v in values if column == "domain"), values


def test_question_1_counts_a_product_in_each_of_its_domains(published):
    sql = next(q for t, q in QUESTIONS.items() if t.startswith("1."))
    got = {r[1]: r[2] for r in published.execute(sql).fetchall()}
    products = published.execute(
        "SELECT product_code FROM monitor.eu_dependencies WHERE dependent AND source = 'comext' AND year = 2024 "
        "AND top_supplier = 'CHN'").fetchall()
    codes = {c for (c,) in products}
    # every dependent product counted once per domain it sits in, and once when it sits in none
    n_pairs = published.execute(
        "SELECT count(*) FROM views.product_domains WHERE code IN (SELECT unnest(?::VARCHAR[]))", [sorted(codes)]
    ).fetchall()[0][0]
    n_none = len(codes - {c for (c,) in published.execute("SELECT DISTINCT code FROM views.product_domains").fetchall()})
    assert sum(got.values()) == n_pairs + n_none
    if "850511" in codes:  # permanent magnets, China's 85% on the demo world: a strategic domain, not none
        assert got.get("Rare earths and permanent magnets", 0) >= 1


def test_every_mart_has_a_view_with_all_its_columns(published):
    marts = [t for (t,) in published.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'monitor'").fetchall()]
    for mart in marts:
        base = [c for (c,) in published.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'monitor' AND table_name = ? "
            "ORDER BY column_index", [mart]).fetchall()]
        view = [c for (c,) in published.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'views' AND table_name = ? "
            "ORDER BY column_index", [mart]).fetchall()]
        assert view and [c for c in view if c in base] == base, mart  # nothing dropped, order kept
        n_view = published.execute(f"SELECT count(*) FROM views.{mart}").fetchall()[0][0]
        n_mart = published.execute(f"SELECT count(*) FROM monitor.{mart}").fetchall()[0][0]
        assert n_view == n_mart, mart


@pytest.fixture(scope="module")
def served(default_world):
    """`geomon serve`'s server on the embedded default's snapshots, on a free port of 127.0.0.1, with a token."""
    token = "analyst-test-token"
    server = make_server(default_world.paths.snapshots, "127.0.0.1", 0, token=token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    snapshot = default_world.paths.latest_pointer.read_text().strip()
    local = pl.read_parquet(default_world.paths.snapshots / snapshot / "monitor.eu_dependencies.parquet")
    try:
        yield f"127.0.0.1:{server.server_address[1]}", token, local
    finally:
        server.shutdown()
        server.server_close()


def run_readme_python(nth: int, address: str, token: str, monkeypatch) -> dict:
    """The README's ``nth`` Python block of the downloader section, with only the port changed."""
    code = readme_block("## For people who download", "python", nth)
    assert README_PORT in code
    monkeypatch.setenv("GEOMON_SERVE_TOKEN", token)
    scope: dict = {}
    exec(compile(code.replace(README_PORT, address), f"README.md python block {nth}", "exec"), scope)  # noqa: S102
    return scope


def test_readme_polars_example_reads_the_restricted_table_with_the_token(served, monkeypatch, capsys):
    address, token, local = served
    scope = run_readme_python(0, address, token, monkeypatch)
    assert scope["eu"].equals(local) and local.height > 0
    assert "product_code" in capsys.readouterr().out
    # the same code with a wrong token is refused
    with pytest.raises(urllib.error.HTTPError) as err:
        run_readme_python(0, address, "not-the-token", monkeypatch)
    assert err.value.code == 401


def _httpfs_available() -> bool:
    try:
        duckdb.connect().execute("LOAD httpfs")
        return True
    except duckdb.Error:
        return False


def test_readme_duckdb_example_reads_the_restricted_table_with_the_token(served, monkeypatch):
    if not _httpfs_available():
        pytest.skip("DuckDB's httpfs extension is not installed and cannot be downloaded here")
    address, token, local = served
    scope = run_readme_python(1, address, token, monkeypatch)
    want = local.filter(pl.col("dependent") & (pl.col("source") == "comext")).select("year", "product_code", "top_supplier")
    assert scope["eu_db"].sort(["year", "product_code"]).equals(want.sort(["year", "product_code"]))
    assert want.height > 0
