"""The report's figures written as plain JSON (issue 28: building one plotly object per product took about half
of the report's CPU time) are exactly what plotly's own validation writes for them; and the page is a function of
the published rows, not of the order a build stored them in."""

import json

import duckdb
import plotly.graph_objects as go
import pytest

from pipeline.report import rolling
from pipeline.report.charts import NONE_TEMPLATE

WINDOW = {"period_end": "2024-06", "hhi_extra": 0.512345678, "dependent": True, "window_complete": True,
          "bloc_complete": True, "top_supplier": "CHN", "top_supplier_share": 0.705, "months_in_window": 12,
          "c1_threshold": 0.4}


def _validated(spec: dict) -> dict:
    """The spec after plotly's validation: what the report wrote when it built plotly objects."""
    return json.loads(go.Figure(spec["data"], layout={**spec["layout"], "template": "none"}).to_json())


def _product(windows: list[dict], years: list[dict]) -> dict:
    return {"reporter": "EU27", "product_code": "850511", "product": "Magnets", "source": "comext",
            "currency": "EUR", "windows": windows, "years": years}


@pytest.mark.parametrize("product", [
    _product([WINDOW, {**WINDOW, "period_end": "2024-07", "hhi_extra": 0.3, "dependent": False,
                       "window_complete": False, "months_in_window": 7, "top_supplier": None}],
             [{"year": 2023, "hhi_extra": 0.45, "dependent": True, "months_covered": 12},
              {"year": 2024, "hhi_extra": 0.2, "dependent": False, "months_covered": 7}]),
    # no annual year, one window without an HHI, an incomplete bloc
    _product([{**WINDOW, "hhi_extra": None}, {**WINDOW, "bloc_complete": False, "dependent": False}], []),
    # nothing to draw: no threshold line either
    _product([{**WINDOW, "hhi_extra": None}], [{"year": 2024, "hhi_extra": None, "dependent": False,
                                                "months_covered": 12}]),
], ids=["windows-and-years", "no-years", "nothing-drawn"])
def test_a_rolling_figure_is_plotlys_validated_json_without_building_plotly_objects(product, monkeypatch):
    for name in ("Figure", "Scatter"):  # no plotly object is built for it
        monkeypatch.setattr(go, name, lambda *a, **k: pytest.fail("rolling_figure built a plotly object"))
    spec = rolling.rolling_figure(product)
    monkeypatch.undo()
    assert spec == _validated(spec)
    assert spec["layout"]["template"] == NONE_TEMPLATE


def test_every_rolling_figure_of_the_embedded_default_is_plotlys_validated_json(default_world):
    with duckdb.connect(str(default_world.paths.published_db), read_only=True) as conn:
        _, script, first = rolling.rolling_section(conn)
    assert len(script["products"]) > 10
    for key, product in script["products"].items():
        spec = {"data": product["data"], "layout": {**script["layout"], "title": {"text": product["title"],
                                                                                    "x": 0, "xanchor": "left"}}}
        assert spec == _validated(spec), key
    assert [_validated(spec) == spec for spec in first.values()] == [True]


@pytest.mark.parametrize("stored", [["semiconductors", "digital_high_tech"], ["digital_high_tech", "semiconductors"]])
def test_domains_losing_the_same_value_are_listed_in_one_order_whatever_the_files_row_order(stored):
    """One HS6 product in two domains gives both the same value at risk (the embedded default: NL's
    semiconductors and digital_high_tech, USD 23,553,439 each); two builds stored them in either order, and the
    report listed them as stored, so a refresh and a full build published different pages."""
    from pipeline.report.indirect import supplier_loss

    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA monitor; CREATE SCHEMA reference")
    conn.execute("CREATE TABLE reference.countries (iso3 VARCHAR, name VARCHAR)")
    conn.execute("CREATE TABLE reference.hs_products (code VARCHAR, level VARCHAR, description VARCHAR)")
    conn.execute("CREATE TABLE monitor.supplier_loss (year INTEGER, supplier VARCHAR, importer VARCHAR, "
                 "product_code VARCHAR, share_at_risk DOUBLE, coverage DOUBLE, supplier_world_export_share DOUBLE, "
                 "single_point_of_failure BOOLEAN, value_at_risk DOUBLE)")
    conn.execute("CREATE TABLE monitor.supplier_loss_by_domain (year INTEGER, supplier VARCHAR, importer VARCHAR, "
                 "currency VARCHAR, domain VARCHAR, value_at_risk DOUBLE, products_at_risk BIGINT, "
                 "single_points_of_failure BIGINT)")
    conn.execute("INSERT INTO monitor.supplier_loss_by_domain VALUES "
                 "(2024, 'CHN', 'NLD', 'USD', 'all_products', 50000000, 5, 0)")
    for domain in stored:
        conn.execute("INSERT INTO monitor.supplier_loss_by_domain VALUES "
                     "(2024, 'CHN', 'NLD', 'USD', ?, 23553439, 2, 0)", [domain])
    [china] = supplier_loss(conn)["suppliers"]
    assert [d["domain"] for d in china["domains"]] == ["digital_high_tech", "semiconductors", "all_products"]
