"""The report's rolling 12-month view (methodology section 8): per EU27 and NL product, the extra-EU HHI of
every 12-month window of monthly Comext beside the annual screen's HHI, and the products flagged on some
12-month window but in no calendar year. Read from the published tables; a publication without
``monitor.ec_screen_rolling`` (older code) gets an empty section."""

from __future__ import annotations

from pipeline.report.charts import EU_COLOR, plain_layout
from pipeline.report.formatting import reporter_label, source_label
from pipeline.report.queries import columns, rows
from pipeline.sources.registry import SOURCES

FIGURE_ID = "rolling-comext"  # the chart's first product is drawn as a fixed figure; the picker redraws it
DEPENDENT_COLOR = "#b3261e"
ANNUAL_COLOR = "#e0620d"

# the rolling screen is the monthly sources' (registry trait frequency 'M': Comext); their annual screen beside it
MONTHLY = "(" + ", ".join(f"'{s.name}'" for s in SOURCES if s.frequency == "M") + ")"
# EU27 and NL products dependent in some calendar year or some 12-month window of a monthly source
SHOWN = f"""
    SELECT reporter, product_code FROM monitor.ec_screen_rolling WHERE reporter IN ('EU27', 'NLD') AND dependent
    UNION
    SELECT reporter, product_code FROM monitor.ec_screen
    WHERE source IN {MONTHLY} AND reporter IN ('EU27', 'NLD') AND dependent
"""


def rolling_section(conn) -> tuple[dict, dict, dict]:
    """(the page's part, the script's part, the fixed figure to draw first) of the rolling section."""
    if not columns(conn, "monitor", "ec_screen_rolling"):
        return {"available": False}, {}, {}
    windows = rows(conn, f"""
        SELECT r.source, r.reporter, r.product_code, r.currency, r.period_end, r.hhi_extra, r.dependent, r.months_in_window,
               r.window_complete, r.bloc_complete, r.top_supplier, r.top_supplier_share, r.m_extra, r.c1_threshold,
               coalesce(p.description, r.product_code) AS product
        FROM monitor.ec_screen_rolling AS r
        SEMI JOIN ({SHOWN}) AS s ON s.reporter = r.reporter AND s.product_code = r.product_code
        LEFT JOIN reference.hs_products AS p ON p.code = r.product_code AND p.level = '6'
        ORDER BY r.reporter, r.product_code, r.period_end
    """)
    years = rows(conn, f"""
        SELECT e.reporter, e.product_code, e.year, e.hhi_extra, e.dependent, e.months_covered
        FROM monitor.ec_screen AS e
        SEMI JOIN ({SHOWN}) AS s ON s.reporter = e.reporter AND s.product_code = e.product_code
        WHERE e.source IN {MONTHLY}
        ORDER BY e.reporter, e.product_code, e.year
    """)
    only_windows = rows(conn, f"""
        SELECT r.reporter, r.product_code, coalesce(p.description, r.product_code) AS product,
               count(*) FILTER (WHERE r.dependent) AS windows_flagged,
               min(r.period_end) FILTER (WHERE r.dependent) AS first_flagged,
               max(r.period_end) FILTER (WHERE r.dependent) AS last_flagged,
               max(r.hhi_extra) FILTER (WHERE r.dependent) AS highest_hhi
        FROM monitor.ec_screen_rolling AS r
        LEFT JOIN reference.hs_products AS p ON p.code = r.product_code AND p.level = '6'
        WHERE r.reporter IN ('EU27', 'NLD')
        GROUP BY ALL
        HAVING count(*) FILTER (WHERE r.dependent) > 0 AND NOT EXISTS (
            SELECT 1 FROM monitor.ec_screen AS e WHERE e.source IN {MONTHLY} AND e.reporter = r.reporter
            AND e.product_code = r.product_code AND e.dependent)
        ORDER BY r.reporter, windows_flagged DESC, r.product_code
    """)
    by_key: dict[str, dict] = {}
    for w in windows:
        key = f"{w['reporter']}|{w['product_code']}"
        product = by_key.setdefault(key, {"reporter": w["reporter"], "product_code": w["product_code"],
                                          "product": w["product"], "source": w["source"],
                                          "currency": w["currency"], "windows": [],
                                          "years": []})
        product["windows"].append(w)
    for y in years:
        key = f"{y['reporter']}|{y['product_code']}"
        if key in by_key:
            by_key[key]["years"].append(y)
    figures = {key: rolling_figure(p) for key, p in sorted(by_key.items())}
    first = next((f"{r['reporter']}|{r['product_code']}" for r in only_windows), None) or next(iter(figures), None)
    # the script gets each product's traces and title, and the layout they share once
    layout = {k: v for k, v in figures[first]["layout"].items() if k != "title"} if first else {}
    script = {"layout": layout, "initial": first,
              "products": {key: {"title": f["layout"]["title"]["text"], "data": f["data"]} for key, f in figures.items()}}
    page = {
        "available": True,
        "options": [{"key": key, "label": f"{reporter_label(p['reporter'])} · {p['product_code']} "
                                          f"{p['product'][:80]}"} for key, p in sorted(by_key.items())],
        "initial": first,
        "only_windows": only_windows,
    }
    return page, script, ({FIGURE_ID: figures[first]} if first else {})


def rolling_figure(p: dict) -> dict:
    """One product: the rolling HHI line (dependent windows marked), the annual HHI of each calendar year at its
    December (the window ending in December is that year), and the C1 threshold.

    Written as the plain JSON plotly's validation gives (tests/test_report_figures.py compares the two): the
    report has one such figure per product shown (46 on the embedded default), and building each as plotly
    objects took about half of the report's CPU time."""
    windows = [w for w in p["windows"] if w["hhi_extra"] is not None]
    years = [y for y in p["years"] if y["hhi_extra"] is not None]
    months = [w["period_end"] for w in windows]
    c1 = p["windows"][0]["c1_threshold"]
    span = sorted(months + [f"{y['year']}-12" for y in years])
    traces = []
    if span:
        traces.append({"type": "scatter", "x": [span[0], span[-1]], "y": [c1, c1], "mode": "lines",
                       "name": f"C1 threshold ({c1:g})", "hoverinfo": "skip",
                       "line": {"color": DEPENDENT_COLOR, "dash": "dash", "width": 1.5}})
    traces.append({
        "type": "scatter", "x": months, "y": [round(w["hhi_extra"], 5) for w in windows], "mode": "lines+markers",
        "name": "12 months ending in the month",
        "line": {"color": EU_COLOR, "width": 2.5},
        "marker": {"size": [9 if w["dependent"] else 5 for w in windows],
                   "color": [DEPENDENT_COLOR if w["dependent"] else EU_COLOR for w in windows]},
        "customdata": [_window_hover(w) for w in windows],
        "hovertemplate": "12 months to %{x|%b %Y}: HHI %{y:.3f}<br>%{customdata}<extra></extra>",
    })
    traces.append({
        "type": "scatter", "x": [f"{y['year']}-12" for y in years], "y": [round(y["hhi_extra"], 5) for y in years],
        "mode": "markers", "name": "calendar year (annual screen)",
        "marker": {"symbol": "diamond-open", "size": 14, "line": {"width": 2.5}, "color": ANNUAL_COLOR},
        "customdata": [f"{y['year']}: {'DEPENDENT (C1-C3)' if y['dependent'] else 'not dependent'}"
                       + (f", {y['months_covered']} months only" if y["months_covered"] < 12 else "")
                       for y in years],
        "hovertemplate": "%{customdata}<br>HHI %{y:.3f}<extra></extra>",
    })
    title = (f"Rolling 12-month HHI · {reporter_label(p['reporter'])} · {p['product_code']} · "
             f"{source_label(p['source'], p['currency'])}")
    return {"data": traces, "layout": plain_layout(
        title={"text": title, "x": 0, "xanchor": "left"}, height=420,
        yaxis={"title": {"text": "HHI (0-1), extra-EU suppliers"}, "range": [0, 1.05], "gridcolor": "#e6e9ee"},
        xaxis={"title": {"text": "last month of the window"}, "type": "date", "tickformat": "%b %Y"},
        legend={"orientation": "h", "y": -0.25},
    )}


def _window_hover(w: dict) -> str:
    state = "DEPENDENT (C1-C3, 12 months)" if w["dependent"] else "not dependent"
    if not w["window_complete"]:
        state += f"; {w['months_in_window']} month(s) of data: never flagged"
    elif w["bloc_complete"] is False:
        state += "; incomplete bloc: never flagged"
    top = f"top supplier {w['top_supplier']} {round(100 * w['top_supplier_share'])}%" if w["top_supplier"] else ""
    return f"{state}<br>{top}"
