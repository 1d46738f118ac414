"""Invariants of the concentration figures, as property tests over random supplier sets (issue 9)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sql_harness import Harness

# supplier countries outside the EU, and member states
SUPPLIERS = ["CN", "US", "JP", "KR", "IN", "BR", "TR", "VN", "CH", "NO", "GB", "CA"]
MEMBERS = ["DE", "FR", "IT", "NL", "ES", "PL", "BE", "AT"]

values = st.integers(min_value=1, max_value=10**9)
supplier_sets = st.dictionaries(st.sampled_from(SUPPLIERS), values, min_size=1, max_size=len(SUPPLIERS))
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_HARNESS = []


def harness() -> Harness:
    """One in-memory database for the whole module (reference data loads once), emptied per example."""
    if not _HARNESS:
        _HARNESS.append(Harness())
    return _HARNESS[0].reset()


def _hhi(rows, reporter="FR"):
    h = harness()
    h.add_sdmx([(reporter, p, "85051100", 1, "2024", v) for p, v in rows])
    h.build("monitor.import_concentration")
    out = h.rows("SELECT hhi, n_suppliers, top1_share FROM monitor.import_concentration WHERE product_level = 'HS6' "
                 "AND partner_scope = 'all'")
    assert len(out) == 1
    return out[0]


@SETTINGS
@given(supplier_sets, st.randoms(use_true_random=False))
def test_hhi_ignores_partner_order_and_stays_within_bounds(suppliers, rnd):
    rows = list(suppliers.items())
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    a, b = _hhi(rows), _hhi(shuffled)
    assert a == b
    n = len(rows)
    assert a["n_suppliers"] == n
    assert 1 / n - 1e-12 <= a["hhi"] <= 1 + 1e-12
    expected = sum(v * v for v in suppliers.values()) / sum(suppliers.values()) ** 2
    assert a["hhi"] == pytest.approx(expected, rel=1e-12)


@SETTINGS
@given(supplier_sets, st.integers(min_value=2, max_value=1000))
def test_hhi_ignores_scaling_all_values(suppliers, factor):
    base = _hhi(list(suppliers.items()))
    scaled = _hhi([(p, v * factor) for p, v in suppliers.items()])
    assert scaled["hhi"] == pytest.approx(base["hhi"], rel=1e-12)
    assert scaled["top1_share"] == pytest.approx(base["top1_share"], rel=1e-12)


@SETTINGS
@given(st.dictionaries(st.sampled_from(SUPPLIERS), values, min_size=2, max_size=len(SUPPLIERS)), st.data())
def test_merging_two_suppliers_never_lowers_hhi(suppliers, data):
    first, second = data.draw(st.lists(st.sampled_from(sorted(suppliers)), min_size=2, max_size=2, unique=True))
    merged = {p: v for p, v in suppliers.items() if p != second}
    merged[first] += suppliers[second]
    assert _hhi(list(merged.items()))["hhi"] >= _hhi(list(suppliers.items()))["hhi"] - 1e-12


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(MEMBERS), st.sampled_from(SUPPLIERS + MEMBERS), values),
                min_size=1, max_size=30))
def test_eu27_extra_imports_equal_the_member_sum(flows):
    h = harness()
    h.add_sdmx([(r, p, "85051100", 1, "2024", v) for r, p, v in flows if r != p] or [("DE", "CN", "85051100", 1,
                                                                                    "2024", 1)])
    h.build("monitor.import_concentration")
    bloc = h.rows("SELECT allocated_value, internal_value FROM monitor.import_concentration WHERE reporter = 'EU27' "
                  "AND product_level = 'HS6'")
    members = h.rows("SELECT sum(allocated_value) AS v FROM monitor.import_concentration WHERE reporter <> 'EU27' "
                     "AND product_level = 'HS6' AND partner_scope = 'extra_eu'")
    extra = sum(v for r, p, v in flows if r != p and p in SUPPLIERS)
    intra = sum(v for r, p, v in flows if r != p and p in MEMBERS)
    if extra or intra:
        assert bloc[0]["allocated_value"] == members[0]["v"] == extra
        assert bloc[0]["internal_value"] == intra


@settings(max_examples=5, deadline=None)
@given(supplier_sets)
def test_rebuilding_on_the_same_inputs_gives_identical_tables(suppliers):
    h = harness()
    h.add_sdmx([("FR", p, "85051100", 1, "2024", v) for p, v in suppliers.items()]
               + [("DE", p, "85051100", 1, "2023", v) for p, v in suppliers.items()])
    h.build("monitor.trends")
    tables = ["staging.trade_flows", "staging.annual_flows", "monitor.import_concentration", "monitor.ec_screen",
              "monitor.trends"]
    first = {t: h.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    h.build("monitor.trends")
    assert first == {t: h.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
