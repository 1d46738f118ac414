"""Plotly figure specs for the report, as plain JSON-able dicts.

Figures whose data is fixed (headline counts, dependence heatmaps) are complete here.
The two product charts change with the selected product: this module gives their
layout and trace styles, and the page's script only binds a product's numbers to them.
Counts and shares are unitless; anything in money names its currency, and no figure
holds values of two sources.
"""

from __future__ import annotations

import json

import plotly.graph_objects as go

from pipeline.report.formatting import domain_label, money, reporter_label, share, source_label

EU_COLOR = "#1f4e9c"
NL_COLOR = "#e0620d"
YEAR_COLORS = ["#d3dff0", "#a9c1e3", "#7ea0d3", "#5580c0", "#2f5fa8", "#0b2a5c"]  # latest year darkest
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13, "color": "#1c2430"}
HEATMAP_ROWS = 15


def _layout(**overrides) -> dict:
    base = {
        "template": "none",
        "font": FONT,
        "margin": {"l": 60, "r": 40, "t": 50, "b": 50},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"font": {"family": FONT["family"]}},
        "modebar": {"orientation": "v"},  # beside the plot, not over its title
    }
    base.update(overrides)
    return base


# What plotly writes for ``"template": "none"`` (plotly 7.1): figures written as plain JSON carry it expanded,
# as plotly's validation does (tests/test_report_figures.py checks it against the installed plotly)
NONE_TEMPLATE = {"data": {"scatter": [{"type": "scatter"}]}}


def plain_layout(**overrides) -> dict:
    """``_layout`` as plotly's validation writes it, for figures built as plain JSON."""
    return {**_layout(**overrides), "template": NONE_TEMPLATE}


def _spec(fig: go.Figure) -> dict:
    """The figure as plain JSON (validated by plotly on the way)."""
    return json.loads(fig.to_json())


def headline_figure(summary: list[dict], source: str, currency: str, year: int) -> dict:
    """Dependent HS6 products per strategic domain, EU27 beside NL, one source and year."""
    rows = sorted(summary, key=lambda r: (r["eu_dependent_products"] + r["nl_dependent_products"], r["domain"]))
    labels = [domain_label(r["domain"]) for r in rows]
    traces = []
    for reporter, color, prefix in (("EU27", EU_COLOR, "eu"), ("NLD", NL_COLOR, "nl")):
        traces.append(go.Bar(
            orientation="h", name=f"{reporter_label(reporter)} dependent", y=labels, marker_color=color,
            x=[r[f"{prefix}_dependent_products"] for r in rows],
            customdata=[[r[f"{prefix}_products_screened"], money(r[f"{prefix}_import_value_at_stake"], currency)]
                        for r in rows],
            hovertemplate="%{y}: %{x} dependent of %{customdata[0]} screened<br>extra-EU imports in them: "
                          "%{customdata[1]}<extra>" + reporter_label(reporter) + "</extra>",
        ))
    fig = go.Figure(traces, layout=_layout(
        title={"text": f"Dependent HS6 products per domain: {source_label(source, currency)}, {year}"},
        barmode="group", height=120 + 45 * max(len(rows), 1),
        margin={"l": 170, "r": 40, "t": 50, "b": 45},
        xaxis={"title": {"text": "HS6 products (count)"}, "gridcolor": "#e6e9ee", "rangemode": "tozero"},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"},
    ))
    return _spec(fig)


def dependence_heatmap(rows: list[dict], supplier: str, source: str, currency: str, year: int) -> dict | None:
    """Countries that depend on ``supplier``: HS6 products per strategic domain, the most dependent first."""
    if not rows:
        return None
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["importer"]] = totals.get(r["importer"], 0) + r["products"]
    importers = sorted(totals, key=lambda i: (-totals[i], i))[:HEATMAP_ROWS]
    domains = sorted({r["domain"] for r in rows})
    cell = {(r["importer"], r["domain"]): r for r in rows}
    names = {r["importer"]: r["importer_name"] for r in rows}
    z, text, hover = [], [], []
    for imp in importers:
        z.append([cell[(imp, d)]["products"] if (imp, d) in cell else 0 for d in domains])
        text.append([str(cell[(imp, d)]["products"]) if (imp, d) in cell else "" for d in domains])
        hover.append([_heat_hover(cell.get((imp, d)), supplier, currency) for d in domains])
    who = reporter_label(supplier)
    fig = go.Figure(go.Heatmap(
        z=z, x=[domain_label(d) for d in domains], y=[f"{names[i]} ({i})" for i in importers],
        text=text, texttemplate="%{text}", customdata=hover,
        hovertemplate="%{y}<br>%{x}<br>%{customdata}<extra></extra>",
        colorscale=[[0, "#f4f6f9"], [1, NL_COLOR if supplier == "NLD" else EU_COLOR]], zmin=0,
        colorbar={"title": {"text": "HS6<br>products"}}, xgap=2, ygap=2,
    ), layout=_layout(
        title={"text": f"Countries depending on {who}: {source_label(source, currency)}, {year}"},
        height=170 + 26 * len(importers), margin={"l": 210, "r": 40, "t": 110, "b": 20},
        yaxis={"autorange": "reversed"}, xaxis={"side": "top"},
    ))
    return _spec(fig)


def _heat_hover(r: dict | None, supplier: str, currency: str) -> str:
    if r is None:
        return "no dependent product"
    codes = ", ".join(r["product_codes"][:6]) + (" …" if len(r["product_codes"]) > 6 else "")
    return (f"{r['products']} HS6 product(s): {codes}<br>highest {reporter_label(supplier)} share: "
            f"{share(r['max_share'])}<br>imports from {reporter_label(supplier)}: "
            f"{money(r['imports_from_supplier'], currency)}")


def product_chart_templates() -> dict:
    """Layouts and trace styles of the two product charts; the script fills in x, y and titles."""
    shares = go.Figure(layout=_layout(
        barmode="group", height=400, margin={"l": 60, "r": 40, "t": 50, "b": 100},
        yaxis={"title": {"text": "share of extra-EU imports"}, "tickformat": ".0%", "range": [0, 1],
               "gridcolor": "#e6e9ee"},
        xaxis={"tickangle": -25},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    ))
    hhi = go.Figure(layout=_layout(
        height=400, margin={"l": 60, "r": 40, "t": 50, "b": 50},
        yaxis={"title": {"text": "HHI (0-1), extra-EU suppliers"}, "range": [0, 1.05], "gridcolor": "#e6e9ee"},
        xaxis={"title": {"text": "year"}, "dtick": 1, "tickformat": "d"},
        legend={"orientation": "h", "y": -0.2},
    ))
    return {
        "shares_layout": _spec(shares)["layout"],
        "hhi_layout": _spec(hhi)["layout"],
        "year_colors": YEAR_COLORS,
        "share_bar": {"type": "bar", "hovertemplate": "%{x}<br>%{y:.1%} of extra-EU imports<br>%{customdata}"
                                                      "<extra>%{fullData.name}</extra>"},
        "hhi_line": {"type": "scatter", "mode": "lines+markers", "name": "HHI (extra-EU)",
                     "line": {"color": EU_COLOR, "width": 3}, "marker": {"size": 11},
                     "hovertemplate": "%{x}: HHI %{y:.3f}<br>%{customdata}<extra></extra>"},
        "top_share_line": {"type": "scatter", "mode": "lines+markers", "name": "top supplier's share",
                           "line": {"color": "#7a8699", "dash": "dot"},
                           "hovertemplate": "%{x}: top supplier %{y:.1%}<extra></extra>"},
        "threshold_line": {"type": "scatter", "mode": "lines", "name": "C1 threshold",
                           "line": {"color": "#b3261e", "dash": "dash", "width": 1.5}, "hoverinfo": "skip"},
        "dependent_marker": {"color": "#b3261e", "symbol": "diamond", "size": 14},
    }
