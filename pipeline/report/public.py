"""The public edition of the report: the sections that show restricted tables are left out, and it says so.

Access classes (pipeline/publish/access.py) restrict the NL and EU vulnerability findings. The full report
shows them, so it is restricted; ``geomon export --public`` ships this edition instead. A section is left
out when any table it shows is restricted (a table declares the sections that show it in its SQL header,
``-- report: <section id>``; pipeline/catalog.py): its ``<section>`` and its navigation link are cut from the
template before it renders, its data is dropped from the JSON the charts read, and a note at the top names
what was left out.
"""

from __future__ import annotations

import re

# section id -> its title; the tables each shows declare it ('-- report: <section id>'); the sections no
# table names show public tables only
SECTIONS: dict[str, str] = {
    "changes": "What changed",
    "headline": "Headline (EU27 and NL screen totals)",
    "dependencies": "Dependencies (the EU27 and NL screens)",
    "product": "Product charts of the dependencies",
    "rolling": "Rolling 12 months",
    "supplier-loss": "If a supplier stopped",
    "crma": "CRMA benchmark (largest third-country share of EU27 imports per strategic raw material)",
    "cn8": "EC screen on CN8 codes (EU27 and NL)",
}


def left_out_sections(restricted_tables) -> list[str]:
    """The ids of the sections that show at least one of ``restricted_tables``, in page order."""
    from pipeline.catalog import report_tables  # the SQL headers, read when an edition is made

    restricted, shown = set(restricted_tables), report_tables()
    unknown = sorted(set(shown) - set(SECTIONS))
    if unknown:
        raise ValueError(f"SQL headers name report section(s) {unknown} that the report does not have: "
                         f"{', '.join(SECTIONS)}")
    return [s for s in SECTIONS if restricted & set(shown.get(s, ()))]


def public_content(page: dict, payload: dict, sections: list[str]) -> tuple[dict, dict]:
    """``page`` with the note that names ``sections``, and ``payload`` (the JSON the charts read) without their
    data; the template's public edition (``strip_sections``) does not render their part of ``page``."""
    page = {**page, "left_out": [SECTIONS[s] for s in sections]}
    payload = {**payload}
    if {"dependencies", "product"} & set(sections):
        page["split_rows"] = 0  # the methodology section counts the table's rows
        payload.update(products={}, initial_product=None)
    if "rolling" in sections:
        payload["rolling"] = {"products": {}, "layout": {}}
    dropped = tuple(prefix for s, prefix in (("headline", "headline-"), ("rolling", "rolling-"), ("crma", "crma-"))
                    if s in sections)
    payload["figures"] = {k: v for k, v in payload["figures"].items() if not (dropped and k.startswith(dropped))}
    return page, payload


def strip_sections(html: str, sections: list[str]) -> str:
    """The report template without the ``<section id=...>`` of ``sections`` and their navigation links
    (sections never nest in it, so the first ``</section>`` closes each)."""
    for s in sections:
        html, n = re.subn(rf'<section id="{re.escape(s)}">.*?</section>\n*', "", html, count=1, flags=re.S)
        if n != 1:
            raise ValueError(f"report template has no section {s!r} to leave out")
        html = re.sub(rf'\s*<a href="#{re.escape(s)}">[^<]*</a>', "", html)
    return html
