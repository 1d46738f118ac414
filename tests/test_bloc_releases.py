"""The EU27 bloc rows of staging.annual_flows carry the union of their member states' releases (methodology
section 10: what each row rests on), whether the members rest on one release or on several.

A rewrite of how annual_flows gathers the bloc's releases (issue 28 tried one that compares the members' lists
by their least and greatest and takes a full union only where they differ) must keep both cases below."""

import pytest

from sql_harness import Harness

# Comtrade codes: Germany, France, Italy (EU members), China
DEU, FRA, ITA, CHN = 276, 251, 380, 156


@pytest.fixture(scope="module")
def flows():
    h = Harness()
    # 850760 (lithium-ion batteries): three members on two releases (two of them on the same one)
    h.add_comtrade([(DEU, "M", CHN, "850760", 2023, 500.0), (ITA, "M", CHN, "850760", 2023, 250.5)],
                   release="COMTRADE-FINAL-2024-06-30")
    h.add_comtrade([(FRA, "M", CHN, "850760", 2023, 100.25)], release="COMTRADE-FINAL-2024-05-31")
    h.build("staging.annual_flows")
    return {r["product_code_native"]: r for r in h.rows(
        "SELECT product_code_native, value, releases FROM staging.annual_flows "
        "WHERE reporter = 'EU27' AND partner = 'CHN' AND flow = 'import'")}


def test_a_bloc_row_whose_members_rest_on_different_releases_lists_each_once_sorted(flows):
    row = flows["850760"]
    assert row["releases"] == ["COMTRADE-FINAL-2024-05-31", "COMTRADE-FINAL-2024-06-30"]
    assert float(row["value"]) == 850.75


def test_members_on_one_release_give_that_release_alone():
    h = Harness()
    h.add_comtrade([(DEU, "M", CHN, "850760", 2023, 500.0), (FRA, "M", CHN, "850760", 2023, 100.0),
                    (ITA, "M", CHN, "850760", 2023, 50.0)], release="COMTRADE-FINAL-2024-06-30")
    h.build("staging.annual_flows")
    rows = h.rows("SELECT releases, value FROM staging.annual_flows WHERE reporter = 'EU27' AND partner = 'CHN'")
    assert [r["releases"] for r in rows] == [["COMTRADE-FINAL-2024-06-30"]]
    assert float(rows[0]["value"]) == 650.0
