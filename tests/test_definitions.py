"""The whole graph loads, with the contracts every asset must keep."""

from dagster import AssetKey

from pipeline.definitions import defs


def test_definitions_load_and_lineage_comes_from_sql():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for expected in ["raw/comtrade_records", "raw/comext_sdmx", "raw/comext_bulk", "raw/demo_world",
                     "reference/area_codes", "staging/trade_flows", "staging/annual_flows", "staging/product_domains",
                     "monitor/import_concentration", "publish/publication"]:
        assert expected in keys
    parents = {k.to_user_string() for k in graph.get(AssetKey(["staging", "trade_flows"])).parent_keys}
    assert parents == {"raw/comtrade_records", "raw/comext_sdmx", "raw/comext_bulk", "raw/baci_flows",
                       "reference/area_codes"}


def test_every_asset_is_documented_and_every_writer_is_in_the_duckdb_pool():
    graph = defs.resolve_asset_graph()
    writers = [k for k in graph.get_all_asset_keys()
               if "warehouse" in defs.resolve_assets_def(k).required_resource_keys]
    assert len(writers) >= 15
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key.to_user_string()} has no description"
        writes_duckdb = "warehouse" in defs.resolve_assets_def(key).required_resource_keys
        if writes_duckdb:
            assert node.pools == {"duckdb_writer"}, key.to_user_string()


def test_mart_checks_are_blocking():
    graph = defs.resolve_asset_graph()
    specs = list(graph.get(AssetKey(["monitor", "import_concentration"])).check_keys)
    names = {k.name for k in specs}
    assert {"unique_grain", "hhi_bounds"} <= names
    # ... and they are blocking: a failure stops everything downstream, the publication included
    asset = graph.get(AssetKey(["monitor", "import_concentration"])).assets_def
    # the mart's own checks (its asset definition is the one multi-asset of every model: assets/models.py)
    key = AssetKey(["monitor", "import_concentration"])
    blocking = {s.name: s.blocking for s in asset.check_specs if s.asset_key == key}
    assert blocking["unique_grain"] is True and blocking["hhi_bounds"] is True
    assert all(blocking.values())  # every check of this mart is blocking (tests/graph_snapshot.json: all checks)
    job = defs.resolve_job_def("refresh")
    assert job is not None


def test_schedules_follow_each_sources_rhythm():
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["comext_monthly"].cron_schedule == "0 6 15 * *"
    assert schedules["comtrade_weekly"].cron_schedule == "0 6 * * 1"
    comext = defs.resolve_job_def("comext_refresh").asset_layer.selected_asset_keys
    assert AssetKey(["raw", "comext_bulk"]) in comext and AssetKey(["publish", "publication"]) in comext
    assert AssetKey(["raw", "comtrade_records"]) not in comext


def test_raw_inputs_have_freshness_policies():
    graph = defs.resolve_asset_graph()
    for key in (["raw", "comext_bulk"], ["raw", "comext_sdmx"], ["raw", "comtrade_records"], ["raw", "baci_flows"]):
        assert graph.get(AssetKey(key)).freshness_policy is not None
