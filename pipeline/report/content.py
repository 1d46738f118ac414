"""Gather everything the page shows from the published monitor, in one read-only pass.

The result has two parts: ``page`` (what the HTML template renders as text and tables)
and ``payload`` (the JSON the page's script reads: figure specs and per-product series).
"""

from __future__ import annotations

from collections import defaultdict

from pipeline.report import beyond, changes, charts, indirect, queries, rolling
from pipeline.report.formatting import domain_label, reporter_label, source_label
from pipeline.report.supplier_shares import product_key, supplier_shares


def collect(conn, manifest: dict | None = None) -> tuple[dict, dict]:
    pub = queries.publication(conn)
    sources = queries.sources(conn)
    synthetic = bool(pub["synthetic"]) or any(s["synthetic"] for s in sources) \
        or bool((manifest or {}).get("synthetic")) or queries.any_synthetic_row(conn)
    years = queries.report_years(conn)
    headline_years = {y["source"]: y["year"] for y in years}
    currencies = _currencies(conn)
    figures: dict[str, dict] = {}

    headline = _headline(conn, years, currencies, figures)
    deps = queries.dependencies(conn, headline_years)
    history = queries.product_history(conn)
    names = queries.country_names(conn)
    hhi = {(product_key(r["source"], r["reporter"], r["product_code"]), r["year"]): r["hhi_extra"] for r in history}
    shares = supplier_shares(conn, hhi, names)
    products = _products(deps, history, shares.products)
    heatmaps = _heatmaps(conn, headline_years, currencies, figures)
    rolling_page, rolling_payload, rolling_figure = rolling.rolling_section(conn)
    figures.update(rolling_figure)
    thresholds = queries.thresholds(conn)
    crma_page, crma_figures = beyond.crma_section(conn, thresholds.get("crma_benchmark", []))
    figures.update(crma_figures)

    page = {
        "publication": pub,
        "synthetic": synthetic,
        "synthetic_note": pub["synthetic_note"] or (manifest or {}).get("synthetic_note")
        or "some inputs are synthetic demo data",
        "sources": sources,
        "thresholds": thresholds,
        "years": years,
        "headline": headline,
        "dependencies": [_table_row(r) for r in deps],
        "table_sources": sorted({r["source"] for r in deps}),
        "table_domains": sorted({domain_label(r["domain"]) for r in deps}),
        "heatmaps": heatmaps,
        "vintages": queries.classifications(conn),
        "share_mismatches": shares.mismatches,
        "split_rows": sum(1 for r in deps if r["split_dependent"]),
        "changes": changes.what_changed(conn),
        "dictionary": queries.dictionary(conn),
        "hidden": indirect.hidden_dependencies(conn),
        "hidden_on": indirect.hidden_dependence_on_supplier(conn),
        "loss": indirect.supplier_loss(conn),
        "rolling": rolling_page,
        "crma": crma_page,
        "counts": beyond.counts_section(conn),
        "cn8": beyond.cn8_section(conn),
    }
    payload = {
        "figures": figures,
        "templates": charts.product_chart_templates(),
        "products": products,
        "currencies": currencies,
        "rolling": rolling_payload,
        "initial_product": product_key(deps[0]["source"], deps[0]["reporter"], deps[0]["product_code"])
        if deps else None,
    }
    return page, payload


def _currencies(conn) -> dict[str, str]:
    found = conn.execute("SELECT source, list(DISTINCT currency) FROM monitor.ec_screen GROUP BY source").fetchall()
    out = {}
    for source, currencies in found:
        if len(currencies) != 1:
            raise ValueError(f"{source} rows carry several currencies {currencies}; the report shows one per source")
        out[source] = currencies[0]
    return out


def _headline(conn, years: list[dict], currencies: dict[str, str], figures: dict) -> list[dict]:
    totals = {(r["source"], r["reporter"], r["year"]): r for r in queries.screen_totals(conn)}
    partners = {(r["source"], r["year"]): r for r in queries.dependent_partner_counts(conn)}
    summary = defaultdict(list)
    for r in queries.domain_summary(conn):
        summary[(r["source"], r["year"])].append(r)
    out = []
    for y in years:
        source, year = y["source"], y["year"]
        currency = currencies.get(source, "")
        domains = summary.get((source, year), [])
        figure_id = f"headline-{source}"
        if domains:
            figures[figure_id] = charts.headline_figure(domains, source, currency, year)
        out.append({
            "source": source, "source_label": source_label(source, currency), "currency": currency, "year": year,
            "later_years": y["later_years"] or [],
            "eu": totals.get((source, "EU27", year)), "nl": totals.get((source, "NLD", year)),
            "partners": partners.get((source, year), {"on_nl": 0, "on_eu": 0}),
            "domains": sorted(domains, key=lambda r: r["domain"]),
            "figure_id": figure_id if domains else None,
        })
    return out


def _heatmaps(conn, headline_years: dict[str, int], currencies: dict[str, str], figures: dict) -> list[dict]:
    out = []
    for supplier in ("NLD", "EU27"):
        found = defaultdict(list)
        for r in queries.dependence_on(conn, supplier, headline_years):
            found[r["source"]].append(r)
        for source, year in sorted(headline_years.items()):
            currency = currencies.get(source, "")
            spec = charts.dependence_heatmap(found.get(source, []), supplier, source, currency, year)
            figure_id = f"depends-{supplier}-{source}"
            if spec:
                figures[figure_id] = spec
            out.append({
                "supplier": supplier, "supplier_label": reporter_label(supplier), "source": source,
                "source_label": source_label(source, currency), "year": year,
                "figure_id": figure_id if spec else None,
                "countries": len({r["importer"] for r in found.get(source, [])}),
            })
    return out


def _table_row(r: dict) -> dict:
    return {
        **r,
        "key": product_key(r["source"], r["reporter"], r["product_code"]),
        "reporter_label": reporter_label(r["reporter"]),
        "domain_label": domain_label(r["domain"]),
        "flagged_text": ", ".join(str(y) for y in r["flagged_years"]),
    }


def _products(deps: list[dict], history: list[dict], shares: dict[str, dict]) -> dict[str, dict]:
    by_key = defaultdict(list)
    for h in history:
        by_key[product_key(h["source"], h["reporter"], h["product_code"])].append({
            "year": h["year"], "hhi": _round(h["hhi_extra"]), "dependent": h["dependent"], "top": h["top_supplier"],
            "top_share": _round(h["top_supplier_share"]), "m_extra": _round(h["m_extra"], 0),
            "n": h["n_suppliers_extra"],
            "c1": h["c1_threshold"], "months": h["months_covered"],
        })
    out = {}
    for r in deps:
        key = product_key(r["source"], r["reporter"], r["product_code"])
        out[key] = {
            "label": f"{r['product_code']} {r['description'] or ''}".strip(),
            "reporter": r["reporter"], "reporter_label": reporter_label(r["reporter"]),
            "source": r["source"], "source_label": source_label(r["source"], r["currency"]),
            "currency": r["currency"],
            "caveat": r["caveat"],
            "history": by_key.get(key, []),
            "shares": _rounded_shares(shares.get(key)),
        }
    return out


def _round(value: float | None, digits: int = 5) -> float | None:
    """Enough digits for a chart; keeps the page small."""
    return None if value is None else round(value, digits)


def _rounded_shares(shares: dict | None) -> dict | None:
    if shares is None:
        return None
    years = [{**y, "shares": [_round(s) for s in y["shares"]], "other": _round(y["other"]),
              "total": _round(y["total"], 0)} for y in shares["years"]]
    return {**shares, "years": years}
