"""The public edition of the report (pipeline/report/public.py) draws in a browser and shows nothing restricted.

Rendered from the embedded default's published file with the sections of the default restricted tables left
out, as ``geomon export --public`` writes it, then opened offline in headless Chromium (the DevTools helper of
tests/test_report.py): the page must finish drawing without a script error (the dependency table its script
drives is gone) and hold none of the left-out sections or their data.
"""

import json
import re

import pytest

from pipeline.catalog import contracts, restricted_tables
from pipeline.report import write_report
from pipeline.report.public import SECTIONS, left_out_sections
from test_report import CHROMIUM, NO_CHROMIUM, _evaluate, _wait_for, browser  # noqa: F401 - browser is a fixture

PUBLIC_FACTS = """JSON.stringify({
  ready: document.documentElement.dataset.reportReady || null,
  note: (document.getElementById('public-edition') || {}).textContent || '',
  sections: Array.from(document.querySelectorAll('main > section')).map(s => s.id),
  figures: document.querySelectorAll('[data-figure]').length,
  drawnFigures: Array.from(document.querySelectorAll('[data-figure]')).filter(d => d.querySelector('.main-svg')).length,
  heatmaps: document.querySelectorAll('[id^=depends-] .hm, [id^=depends-] image').length
})"""


@pytest.fixture(scope="module")
def public_report(default_world, tmp_path_factory):
    sections = left_out_sections(restricted_tables(contracts()))
    path = tmp_path_factory.mktemp("public-report") / "index.html"
    write_report(default_world.paths.published_db, path, left_out=sections)
    return path, sections


def test_public_edition_leaves_the_restricted_sections_and_their_data_out(public_report):
    path, sections = public_report
    assert sections == ["changes", "headline", "dependencies", "product", "rolling", "supplier-loss", "crma", "cn8"]
    html = path.read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)[1])
    assert data["products"] == {} and data["initial_product"] is None and data["rolling"]["products"] == {}
    assert set(data["figures"]) and all(k.startswith("depends-") for k in data["figures"]), sorted(data["figures"])
    assert 'id="dependency-table"' not in html and 'id="loss-supplier"' not in html
    # the CRMA benchmark shows monitor.crma_benchmark (restricted): no section, no link, no figure
    assert '<section id="crma">' not in html and 'href="#crma"' not in html and "CRMA benchmark" in html
    for section in sections:
        assert SECTIONS[section] in html  # named in the note


def test_public_edition_draws_offline_without_a_script_error(public_report, browser):
    if not CHROMIUM:
        pytest.skip(NO_CHROMIUM)
    path, sections = public_report
    tools = browser
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    problems = []

    def watch(event):
        if event.get("sessionId") == session and event["method"] == "Runtime.exceptionThrown":
            problems.append(event["params"]["exceptionDetails"])

    tools.on_event(watch)
    tools.send("Runtime.enable", {}, session)
    tools.send("Page.navigate", {"url": path.resolve().as_uri()}, session)
    _wait_for(tools, session, "['true', 'error'].includes(document.documentElement && "
                              "document.documentElement.dataset.reportReady)")
    facts = json.loads(_evaluate(tools, session, PUBLIC_FACTS))
    assert facts["ready"] == "true" and problems == [], (facts, problems)
    assert "Public edition" in facts["note"]
    assert not set(sections) & set(facts["sections"]) and "depends-on" in facts["sections"]
    assert facts["figures"] >= 1 and facts["drawnFigures"] == facts["figures"] and facts["heatmaps"] >= 1, facts
