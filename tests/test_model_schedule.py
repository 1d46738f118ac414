"""The order the SQL models step hands out its models (assets/models.py: critical_first): of the models whose
inputs are built, the one heading the longest chain of models below it goes first, so the step's span is not
stretched by short side models taking a worker while the long chain waits."""

from __future__ import annotations

from pathlib import Path

from assets.models import critical_first
from pipeline.definitions import model_assets
from pipeline.paths import SQL_DIR
from pipeline.sql_models import SqlModel, load_models


def _model(name: str, *deps: str, sql: str = "SELECT 1") -> SqlModel:
    return SqlModel(path=Path(f"{name}.sql"), layer="monitor", name=name, sql=sql, description=name,
                    deps=frozenset(f"monitor.{d}" for d in deps))


def test_the_head_of_the_longest_chain_goes_first_ties_in_dependency_order():
    # in dependency order: two leaves that end no chain, then the head of a chain of three, and its chain
    models = [_model("root"), _model("leaf_a", "root"), _model("leaf_b", "root"), _model("head", "root"),
              _model("middle", "head"), _model("tail", "middle", "leaf_b")]
    order = [m.name for m in critical_first(models)]
    assert order == ["root", "head", "leaf_b", "middle", "leaf_a", "tail"]
    # every model still comes after its inputs
    assert all(order.index(d.split(".")[1]) < order.index(m.name) for m in models for d in m.deps)


def test_the_projects_long_chain_is_handed_out_before_the_side_models():
    from pipeline.definitions import RAW_TABLES, REFERENCE_TABLES

    models = load_models(SQL_DIR, REFERENCE_TABLES | RAW_TABLES)
    order = [m.table for m in critical_first(models)]
    assert sorted(order) == sorted(m.table for m in models) and model_assets
    # ready together once annual_flows is built: the chain import_concentration -> supplier_dependence ->
    # look_through_shares -> indirect_dependencies before the rolling screen and the models that end no chain
    for side in ("monitor.ec_screen_rolling", "monitor.crma_benchmark", "monitor.ec_screen_cn8",
                 "monitor.supplier_loss"):
        assert order.index("monitor.import_concentration") < order.index(side)
    assert order.index("monitor.supplier_dependence") < order.index("monitor.supplier_loss")
    # the two heads of the longest chain (both feed hs_split_weights -> annual_flows) go first
    assert set(order[:2]) == {"staging.hs_conversion", "staging.trade_flows"}


def test_a_chain_is_as_long_as_its_models_sql_not_their_count():
    # three one-line models below `small` against two models of a page of SQL each below `large`
    page = "SELECT 1 AS x\n" + "UNION ALL SELECT 1\n" * 60
    models = [_model("root"), _model("small", "root"), _model("s2", "small"), _model("s3", "s2"),
              _model("large", "root", sql=page), _model("l2", "large", sql=page)]
    order = [m.name for m in critical_first(models)]
    assert order.index("large") < order.index("small") and order.index("l2") < order.index("s2")


def test_look_through_shares_goes_before_the_small_models_under_dependence_on_eu():
    from pipeline.definitions import RAW_TABLES, REFERENCE_TABLES

    order = [m.table for m in critical_first(load_models(SQL_DIR, REFERENCE_TABLES | RAW_TABLES))]
    # ready together once supplier_dependence is built; the look-through and what reads it are the long chain
    assert order.index("monitor.look_through_shares") < order.index("monitor.dependence_on_eu")
    assert order.index("monitor.indirect_dependencies") < order.index("monitor.supplier_loss_by_domain")
