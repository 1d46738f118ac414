"""Turn the collected content into one self-contained HTML page.

Everything the page needs is inside it: the stylesheet and script shipped in
``static/``, plotly.js from the plotly package (inlined once), and the data as JSON.
A Content-Security-Policy in the page forbids loading anything from anywhere.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from pipeline.report import formatting

STATIC = Path(__file__).resolve().parent / "static"


def _inline_script(text: str) -> Markup:
    if "</script" in text.lower():
        raise ValueError("a script to inline contains '</script'")
    return Markup(text)


@lru_cache(maxsize=1)
def _plotly() -> Markup:
    """plotly.js (4.6 MB), read and checked once per process: every run writes two reports."""
    return _inline_script(get_plotlyjs())


def json_for_script(payload: dict) -> Markup:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' survive literally."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # one per process: the environment caches the compiled template (compiling it took 80 ms a report)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(STATIC),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for name in ("money", "share", "number", "ratio", "flag", "threshold", "domain_label", "reporter_label",
                 "source_label", "sortkey", "eu_reporters_only"):
        env.filters[name] = getattr(formatting, name)
    return env


def render_html(page: dict, payload: dict, left_out: list[str] | tuple[str, ...] = ()) -> str:
    """The page; ``left_out``: section ids the template's public edition drops (pipeline/report/public.py)."""
    if left_out:
        from pipeline.report.public import strip_sections

        source = (STATIC / "report.html.j2").read_text(encoding="utf-8")
        template = _environment().from_string(strip_sections(source, list(left_out)))
    else:
        template = _environment().get_template("report.html.j2")
    return template.render(
        **{"left_out": [], **page},
        css=Markup((STATIC / "report.css").read_text(encoding="utf-8")),
        report_js=_inline_script((STATIC / "report.js").read_text(encoding="utf-8")),
        plotly_js=_plotly(),
        data_json=json_for_script(payload),
    )
