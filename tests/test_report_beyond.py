"""The report's issue-29 leftovers on the embedded default: the Netherlands' CRMA shares beside the EU27's, the
EU27's latest rolling 12 months of the CRMA benchmark, and the EC screen on CN8 codes (counts per year for NL and
the EU27, the largest dependent codes with the HS6 row each belongs to). Each table on the page is checked
against the published tables, and the page draws them in headless Chromium with no console error (the DevTools
helper of tests/test_report.py).
"""

from __future__ import annotations

import html as html_lib
import json
import re

import duckdb
import pytest

from pipeline.report import write_report
from test_report import CHROMIUM, NO_CHROMIUM, _evaluate, _open_report, browser, demo, demo_report  # noqa: F401

LABELS = {"EU27": "EU27", "NLD": "Netherlands"}


def _table(page: str, css_class: str) -> list[list[str]]:
    """The body rows of ``<table class="css_class">`` as lists of cell texts (tags stripped)."""
    found = re.search(rf'<table class="{css_class}">(.*?)</table>', page, re.S)
    assert found, f"no table {css_class} in the page"
    body = re.search(r"<tbody>(.*?)</tbody>", found[1], re.S)[1]
    return [[html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture(scope="module")
def published(default_world, tmp_path_factory):
    path = tmp_path_factory.mktemp("report-beyond") / "index.html"
    write_report(default_world.paths.published_db, path)
    con = duckdb.connect(str(default_world.paths.published_db), read_only=True)
    yield path.read_text(encoding="utf-8"), con
    con.close()


def test_cn8_section_counts_per_year_and_reporter(published):
    page, con = published
    expected = con.execute("""
        SELECT year, reporter, count(*), count(*) FILTER (WHERE screened), count(*) FILTER (WHERE dependent),
               bool_and(year_complete)
        FROM monitor.ec_screen_cn8 GROUP BY ALL ORDER BY year, reporter DESC""").fetchall()
    assert {r[1] for r in expected} == {"EU27", "NLD"}, expected  # both reporters screened on the default
    assert any(r[4] > 0 for r in expected), expected  # and some CN8 code is dependent
    got = _table(page, "cn8-table")
    assert got == [[f"{y}{'' if complete else ' (incomplete)'}", LABELS[r], f"{n:,}", f"{s:,}", f"{d:,}"]
                   for y, r, n, s, d, complete in expected]


def test_cn8_section_lists_the_largest_dependent_codes_with_their_hs6(published):
    page, con = published
    expected = con.execute("""
        WITH latest AS (SELECT reporter, max(year) AS year FROM monitor.ec_screen_cn8 WHERE year_complete
                        GROUP BY reporter)
        SELECT reporter, year, cn8, top_supplier FROM monitor.ec_screen_cn8 JOIN latest USING (reporter, year)
        WHERE dependent ORDER BY reporter DESC, m_extra DESC, cn8""").fetchall()
    shown = {r: [e for e in expected if e[0] == r][:10] for r in ("NLD", "EU27")}
    assert shown["NLD"] and shown["EU27"], expected
    got = _table(page, "cn8-top-table")
    assert [(row[0], int(row[1]), row[2], row[5]) for row in got] == [
        (LABELS[r], y, cn8, top) for r in ("NLD", "EU27") for r_, y, cn8, top in shown[r]]
    # every code sits under the HS6 row of its own first six digits
    assert all(row[3] == row[2][:6] and len(row[2]) == 8 for row in got), got


def test_crma_section_shows_nl_beside_the_eu27_and_the_latest_12_months(published):
    page, con = published
    source = "comext" if con.execute("SELECT count(*) FROM monitor.crma_benchmark WHERE reporter = 'EU27' "
                                      "AND source = 'comext'").fetchall()[0][0] else "comtrade"
    nl = con.execute("""
        SELECT n.material, n.stage, n.top_supplier, e.top_supplier FROM monitor.crma_benchmark AS n
        LEFT JOIN monitor.crma_benchmark AS e ON e.reporter = 'EU27' AND e.source = n.source AND e.year = n.year
             AND e.material = n.material AND e.stage = n.stage
        WHERE n.reporter = 'NLD' AND n.source = ? AND n.year = (SELECT max(year) FROM monitor.crma_benchmark
                                                                WHERE reporter = 'NLD' AND source = ? AND year_complete)
        ORDER BY n.top_share DESC, n.material, n.stage""", [source, source]).fetchall()
    assert nl, "the default world has NL CRMA rows"
    got = _table(page, "crma-nl-table")
    assert [(row[0], row[1], row[2]) for row in got] == [(m.replace("_", " "), s, top) for m, s, top, _ in nl]
    window = con.execute("""
        SELECT period_end, material, stage, top_supplier, over_benchmark FROM monitor.crma_benchmark_rolling
        WHERE reporter = 'EU27' AND period_end = (SELECT max(period_end) FROM monitor.crma_benchmark_rolling
                                                  WHERE reporter = 'EU27' AND window_complete AND bloc_complete)
        ORDER BY top_share DESC, material, stage""").fetchall()
    assert window, "the default world has complete 12-month windows"
    rolled = _table(page, "crma-rolling-table")
    assert [(row[0], row[1], row[2], row[4]) for row in rolled] == [
        (m.replace("_", " "), s, top, "✓" if over else "✗") for _, m, s, top, over in window]
    assert f"to {window[0][0]}," in page


def test_public_edition_leaves_the_cn8_section_out(default_world, tmp_path):
    from pipeline.catalog import contracts, restricted_tables
    from pipeline.report.public import left_out_sections

    sections = left_out_sections(restricted_tables(contracts()))
    assert "cn8" in sections
    path = tmp_path / "index.html"
    write_report(default_world.paths.published_db, path, left_out=sections)
    page = path.read_text(encoding="utf-8")
    assert '<section id="cn8">' not in page and 'href="#cn8"' not in page and "cn8-top-table" not in page
    assert "crma-nl-table" not in page and "crma-rolling-table" not in page


BEYOND_FACTS = """JSON.stringify((() => {
  const rows = sel => Array.from(document.querySelectorAll(sel + ' tbody tr'));
  const shown = sel => rows(sel).filter(r => r.getBoundingClientRect().height > 0).length;
  return {
    ready: document.documentElement.dataset.reportReady || null,
    cn8: rows('#cn8 .cn8-table').length, cn8Shown: shown('#cn8 .cn8-table'),
    cn8Top: rows('#cn8 .cn8-top-table').length, cn8TopShown: shown('#cn8 .cn8-top-table'),
    nl: rows('#crma .crma-nl-table').length, nlShown: shown('#crma .crma-nl-table'),
    rolling: rows('#crma .crma-rolling-table').length,
    link: !!document.querySelector('nav a[href="#cn8"], a[href="#cn8"]')
  };
})())"""


@pytest.mark.browser
def test_browser_draws_the_nl_crma_and_cn8_tables_without_console_error(demo, demo_report, browser):
    if not CHROMIUM:
        pytest.skip(NO_CHROMIUM)
    path, _ = demo_report
    con = duckdb.connect(str(demo.paths.published_db), read_only=True)
    counts = con.execute("SELECT count(DISTINCT (year, reporter)) FROM monitor.ec_screen_cn8").fetchall()[0][0]
    con.close()
    tools = browser
    session, problems = _open_report(tools, path)
    facts = json.loads(_evaluate(tools, session, BEYOND_FACTS))
    assert facts["ready"] == "true", facts
    assert facts["cn8"] == facts["cn8Shown"] == counts > 0, facts
    assert facts["cn8Top"] == facts["cn8TopShown"] > 0 and facts["nl"] == facts["nlShown"] > 0, facts
    assert facts["rolling"] > 0 and facts["link"], facts
    assert problems == [], problems
