"""The SQL models' step writes rows in any order (DuckDB's preserve_insertion_order off while its models build,
issue 28), and leaves the setting as it found it for whatever shares the database instance afterwards."""

from __future__ import annotations

import duckdb
import pytest

from conftest import Runner, failure_messages
from pipeline import demo_world


@pytest.mark.pipeline
def test_models_build_without_insertion_order_and_the_setting_is_restored(tmp_path, monkeypatch):
    import assets.models

    seen: dict[str, bool] = {}
    build = assets.models.Incremental.build

    def observed(self, model):
        # the setting each model's statements run under, read on the model's own cursor
        seen[model.table] = self.conn.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
        return build(self, model)

    monkeypatch.setattr(assets.models.Incremental, "build", observed)
    runner = Runner(tmp_path / "run", monkeypatch)
    demo_world.generate(runner.paths.root / "landing", scale=0.001, years=(2023,), comtrade_format="bulk")
    result = runner.run(warehouse_only=True)
    assert result.success, failure_messages(result)
    assert len(seen) >= 30 and "staging.trade_flows" in seen
    assert not any(seen.values()), {t: v for t, v in seen.items() if v}
    # the rows are all there, whatever their order
    with runner.warehouse() as con:
        assert con.execute("SELECT count(*) FROM staging.trade_flows").fetchall()[0][0] > 0


def test_the_setting_is_restored_after_an_error(tmp_path):
    """A failed step leaves the instance's setting as it was (a held warehouse connection is shared)."""
    from assets.models import _any_insertion_order

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(RuntimeError), _any_insertion_order(con):
        assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0] is False
        raise RuntimeError("a model failed")
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0] is True
