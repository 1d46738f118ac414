"""``demo_world.files_of_year``: a year's demo files are found by asking each registered source's demo-world writer
(the module that names them) for the year of each file in its folder; the refresh tests and the bench's refresh
case replace exactly those files."""

from __future__ import annotations

from pipeline.demo_world import files_of_year

NAMES = {
    "comtrade": [
        "SYNTHETIC_comtrade_v1_C_A_HS_528_2023_M_p1.json.gz",
        "SYNTHETIC_comtrade_v1_C_A_HS_842_2022_X_p2.json.gz",
        # a bulk file of data year 2023 whose name also holds its release date in 2024
        "SYNTHETIC_COMTRADE-FINAL-CA5282023H6[2024-06-30].gz",
        "_release.json",
        "notes_2023.txt",  # not the writer's
    ],
    "comext": ["SYNTHETIC_full_v2_202301.csv", "SYNTHETIC_full_v2_202312.csv", "SYNTHETIC_full_v2_202401.csv",
               "full_v2_202305.csv"],  # the last: a real Comext file beside the demo's, never the demo's
    "baci": ["SYNTHETIC_BACI_HS17_Y2023_V202501.csv"],  # BACI has no demo-world writer: nothing of its folder
}


def _landing(tmp_path):
    for source, names in NAMES.items():
        (tmp_path / source).mkdir()
        for name in names:
            (tmp_path / source / name).write_text("x")
    return tmp_path


def test_a_years_files_are_each_writers_files_of_that_year_and_nothing_else(tmp_path):
    landing = _landing(tmp_path)
    got = [p.relative_to(landing).as_posix() for p in files_of_year(landing, 2023)]
    assert got == ["comext/SYNTHETIC_full_v2_202301.csv", "comext/SYNTHETIC_full_v2_202312.csv",
                   "comtrade/SYNTHETIC_COMTRADE-FINAL-CA5282023H6[2024-06-30].gz",
                   "comtrade/SYNTHETIC_comtrade_v1_C_A_HS_528_2023_M_p1.json.gz"]


def test_a_bulk_files_release_year_is_not_its_data_year(tmp_path):
    landing = _landing(tmp_path)
    assert [p.name for p in files_of_year(landing, 2024)] == ["SYNTHETIC_full_v2_202401.csv"]
    assert [p.name for p in files_of_year(landing, 2022)] == ["SYNTHETIC_comtrade_v1_C_A_HS_842_2022_X_p2.json.gz"]
    assert files_of_year(landing, 2021) == []
