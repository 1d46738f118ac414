"""The report's screens beyond the single-step EC screen (issue 29, methodology section 8): the CRMA 65%
benchmark as small multiples (``monitor.crma_benchmark``, restricted) with the Netherlands' shares beside the
EU27's and the latest rolling 12 months (``monitor.crma_benchmark_rolling``); two short count tables, bloc
versus member states (``monitor.bloc_member_counts``, after MERICS) and supplier headroom
(``monitor.supplier_headroom_by_year``, after the OECD); and the EC screen on CN8 codes
(``monitor.ec_screen_cn8``, restricted, after IW Koeln). Read from the published tables; a publication without
them (older code) gets sections that say so."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pipeline.report.charts import EU_COLOR, FONT, NL_COLOR, _layout, _spec
from pipeline.report.formatting import source_label
from pipeline.report.queries import columns, rows
from pipeline.sources.registry import preference

FIGURE_PREFIX = "crma-"  # + the source: a figure holds one source (and currency)
COLUMNS = 4  # panels per row of the small multiples
STAGE_COLORS = {"extraction": NL_COLOR, "processing": EU_COLOR}
OTHER_STAGE_COLORS = ["#2a9d8f", "#7a5195", "#6c757d"]
BENCHMARK_COLOR = "#b3261e"
PARTNERS_SHOWN = 10
CN8_SHOWN = 10  # dependent CN8 codes listed per reporter


def crma_section(conn, benchmark: list[float]) -> tuple[dict, dict]:
    """(the page's part, {figure id: spec}) of the CRMA benchmark section. ``benchmark``: the published
    parameter's values (queries.thresholds); the rows must have been computed with exactly that one value."""
    if not columns(conn, "monitor", "crma_benchmark"):
        return {"available": False}, {}
    sources = dict(conn.execute("SELECT source, count(*) FROM monitor.crma_benchmark WHERE reporter = 'EU27' "
                                "GROUP BY source").fetchall())
    # one source per chart: the first with EU27 rows in the registry's preference (Comext: EUR, monthly, CN8 behind
    # the HS6; then UN Comtrade; then BACI)
    source = next((name for name in preference() if sources.get(name)), None)
    if source is None:
        return {"available": True, "source": None}, {}
    found = rows(conn, """
        SELECT year, material, stage, currency, top_supplier, top_share, benchmark, over_benchmark, year_complete,
               m_extra, codes_shared
        FROM monitor.crma_benchmark WHERE reporter = 'EU27' AND source = ?
        ORDER BY material, stage, year
    """, [source])
    used = sorted({r["benchmark"] for r in found})
    if len(benchmark) != 1 or used != benchmark:
        raise ValueError(f"monitor.crma_benchmark rows use the benchmark {used}, the publication's parameter is "
                         f"{benchmark}: the report draws one line")
    over = rows(conn, """
        SELECT material, stage, year, top_supplier, top_share, top_share_change_3y, codes_shared
        FROM monitor.crma_benchmark WHERE reporter = 'EU27' AND source = $1 AND over_benchmark
          AND year = (SELECT max(year) FROM monitor.crma_benchmark
                      WHERE reporter = 'EU27' AND source = $1 AND year_complete)
        ORDER BY top_share DESC, material, stage
    """, [source])
    currency = found[0]["currency"]
    page = {"available": True, "source": source, "source_label": source_label(source, currency),
            "benchmark": benchmark[0], "materials": len({r["material"] for r in found}), "over": over,
            "figure_id": FIGURE_PREFIX + source,
            # the other sources with rows in the table, and whether the chart shows the preferred source (else
            # the only one with EU27 rows)
            "others_too": [source_label(name) for name in preference() if name != source and sources.get(name)],
            "first_choice": source == preference()[0],
            "nl": nl_rows(conn, source), "rolling": rolling_rows(conn)}
    return page, {FIGURE_PREFIX + source: crma_figure(found, benchmark[0], source, currency)}


def nl_rows(conn, source: str) -> list[dict]:
    """The Netherlands' CRMA rows (its non-EU imports) in its latest complete year of ``source``, beside the
    EU27's share of the same material, stage and year; largest share first."""
    return rows(conn, """
        WITH latest AS (
            SELECT max(year) AS year FROM monitor.crma_benchmark
            WHERE reporter = 'NLD' AND source = $1 AND year_complete
        )
        SELECT n.year, n.material, n.stage, n.top_supplier, n.top_share, n.over_benchmark, n.m_extra, n.currency,
               n.codes_shared, n.caveat, e.top_supplier AS eu_top_supplier, e.top_share AS eu_top_share
        FROM monitor.crma_benchmark AS n
        JOIN latest USING (year)
        LEFT JOIN monitor.crma_benchmark AS e
            ON e.source = n.source AND e.reporter = 'EU27' AND e.year = n.year AND e.material = n.material
           AND e.stage = n.stage
        WHERE n.reporter = 'NLD' AND n.source = $1
        ORDER BY n.top_share DESC, n.material, n.stage
    """, [source])


def rolling_rows(conn) -> list[dict] | None:
    """The EU27's CRMA rows of the latest complete 12-month window (monthly Comext), largest share first; None
    for a publication without the rolling table."""
    if not columns(conn, "monitor", "crma_benchmark_rolling"):
        return None
    return rows(conn, """
        WITH latest AS (
            SELECT max(period_end) AS period_end FROM monitor.crma_benchmark_rolling
            WHERE reporter = 'EU27' AND window_complete AND bloc_complete
        )
        SELECT period_start, period_end, material, stage, top_supplier, top_share, over_benchmark, m_extra, currency
        FROM monitor.crma_benchmark_rolling
        JOIN latest USING (period_end)
        WHERE reporter = 'EU27'
        ORDER BY top_share DESC, material, stage
    """)


def crma_figure(found: list[dict], benchmark: float, source: str, currency: str) -> dict:
    """One panel per material: its largest third country's share per stage over the years, and the benchmark."""
    materials = sorted({r["material"] for r in found})
    stages = sorted({r["stage"] for r in found})
    colors = {s: STAGE_COLORS.get(s) or OTHER_STAGE_COLORS[i % len(OTHER_STAGE_COLORS)] for i, s in enumerate(stages)}
    years = sorted({r["year"] for r in found})
    n_rows = math.ceil(len(materials) / COLUMNS)
    fig = make_subplots(rows=n_rows, cols=COLUMNS, subplot_titles=[m.replace("_", " ") for m in materials],
                        shared_xaxes="all", shared_yaxes="all", vertical_spacing=0.25 / n_rows,
                        horizontal_spacing=0.04)
    in_legend: set[str] = set()  # each stage once, where it first appears
    for i, material in enumerate(materials):
        row, col = i // COLUMNS + 1, i % COLUMNS + 1
        fig.add_trace(go.Scatter(
            x=[years[0] - 0.3, years[-1] + 0.3], y=[benchmark, benchmark], mode="lines", meta="benchmark",
            name=f"benchmark ({benchmark:.0%})", legendgroup="benchmark", showlegend=i == 0, hoverinfo="skip",
            line={"color": BENCHMARK_COLOR, "dash": "dash", "width": 1.5}), row=row, col=col)
        for stage in stages:
            series = [r for r in found if r["material"] == material and r["stage"] == stage]
            if not series:
                continue
            fig.add_trace(go.Scatter(
                x=[r["year"] for r in series], y=[round(r["top_share"], 5) for r in series], mode="lines+markers",
                name=stage, legendgroup=stage, showlegend=stage not in in_legend, meta="share",
                line={"color": colors[stage], "width": 2},
                marker={"size": [9 if r["over_benchmark"] else 5 for r in series], "color": colors[stage]},
                customdata=[f"{r['top_supplier']}{' (over the benchmark)' if r['over_benchmark'] else ''}"
                            + ("" if r["year_complete"] else ", incomplete year: never flagged") for r in series],
                hovertemplate=f"{material} · {stage}<br>%{{x}}: %{{customdata}} %{{y:.0%}}<extra></extra>",
            ), row=row, col=col)
            in_legend.add(stage)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", gridcolor="#e6e9ee", dtick=0.25)
    fig.update_xaxes(dtick=1, tickformat="d", range=[years[0] - 0.5, years[-1] + 0.5])
    fig.update_annotations(font={"size": 12, "family": FONT["family"]})
    fig.update_layout(_layout(
        title={"text": f"Largest third country's share of extra-EU imports, EU27: {source_label(source, currency)}",
               "x": 0, "xanchor": "left"},
        height=110 + 190 * n_rows, margin={"l": 50, "r": 30, "t": 90, "b": 40},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 0.985, "yanchor": "top",
                "yref": "container"},
    ))
    return _spec(fig)


def counts_section(conn) -> dict:
    """The short count tables: bloc versus member states (the EU side per source and year, and the third
    countries most dependent on the bloc in each source's latest year), and supplier headroom per year."""
    out = {"bloc": None, "partners": None, "headroom": None}
    if columns(conn, "monitor", "bloc_member_counts"):
        out["bloc"] = rows(conn, """
            SELECT source, year, products, bloc_dependent, members_dependent, bloc_only, members_only,
                   bloc_and_members
            FROM monitor.bloc_member_counts WHERE side = 'eu' ORDER BY source, year
        """)
        out["partners"] = rows(conn, f"""
            WITH latest AS (
                SELECT * FROM monitor.bloc_member_counts WHERE side = 'partner'
                QUALIFY year = max(year) OVER (PARTITION BY source)
            )
            SELECT b.source, b.year, b.importer, coalesce(c.name, b.importer) AS importer_name, b.bloc_dependent,
                   b.members_dependent, b.bloc_only, b.members_only
            FROM latest AS b
            LEFT JOIN reference.countries AS c ON c.iso3 = b.importer
            WHERE b.bloc_dependent > 0 OR b.members_dependent > 0
            QUALIFY row_number() OVER (PARTITION BY b.source ORDER BY b.bloc_dependent DESC,
                                       b.members_dependent DESC, b.importer) <= {PARTNERS_SHOWN}
            ORDER BY b.source, b.bloc_dependent DESC, b.members_dependent DESC, b.importer
        """)
    if columns(conn, "monitor", "supplier_headroom_by_year"):
        out["headroom"] = rows(conn, """
            SELECT source, year, importers, cases, concentrated_cases, concentrated_share, china_top_cases,
                   china_share_of_concentrated, potential_min_share
            FROM monitor.supplier_headroom_by_year ORDER BY source, year
        """)
    return out


def cn8_section(conn) -> dict:
    """The EC screen on CN8 codes (EU27 and NL): per year and reporter the codes at or above the minimum, screened
    and dependent; and the largest dependent codes of each reporter's latest complete year with their HS6 row."""
    if not columns(conn, "monitor", "ec_screen_cn8"):
        return {"available": False}
    counts = rows(conn, """
        SELECT year, reporter, count(*) AS codes, count(*) FILTER (WHERE screened) AS screened,
               count(*) FILTER (WHERE dependent) AS dependent, bool_and(year_complete) AS year_complete
        FROM monitor.ec_screen_cn8
        GROUP BY year, reporter
        ORDER BY year, reporter DESC
    """)
    minimum = rows(conn, "SELECT DISTINCT min_value, currency FROM monitor.ec_screen_cn8 ORDER BY 1")
    top = rows(conn, f"""
        WITH latest AS (
            SELECT reporter, max(year) AS year FROM monitor.ec_screen_cn8 WHERE year_complete GROUP BY reporter
        )
        SELECT c.reporter, c.year, c.cn8, c.product_code, coalesce(p.description, '') AS product, c.top_supplier,
               c.top_supplier_share, c.hhi_extra, c.m_extra, c.currency, c.converted_split
        FROM monitor.ec_screen_cn8 AS c
        JOIN latest USING (reporter, year)
        LEFT JOIN reference.hs_products AS p ON p.code = coalesce(c.product_code_target, c.product_code)
        WHERE c.dependent
        QUALIFY row_number() OVER (PARTITION BY c.reporter ORDER BY c.m_extra DESC, c.cn8) <= {CN8_SHOWN}
        ORDER BY c.reporter DESC, c.m_extra DESC, c.cn8
    """)
    return {"available": True, "counts": counts, "top": top, "minimum": minimum}
