"""The snapshot's Excel workbook opens with openpyxl and polars, its sheets hold exactly the Parquet tables' rows,
its README sheet shows the SYNTHETIC banner, and the manifest lists and checks it; DICTIONARY.md covers every column."""

import json
import zipfile

import openpyxl
import polars as pl
import pytest

from pipeline import catalog
from pipeline.publish import verify_snapshot
from pipeline.publish.excel import WORKBOOK_YEARS, workbook_name

# the sheets as the tables' SQL headers declare them: sheet -> table, and the row filters
SHEETS = {name: table for name, (table, _) in catalog.sheets().items()}
SHEET_FILTERS = {name: sheet.filter for name, (_, sheet) in catalog.sheets().items() if sheet.filter}


@pytest.fixture(scope="module")
def snapshot(default_world):
    """The embedded default's latest snapshot (conftest.default_world, built once per session; read-only)."""
    folder = default_world.paths.snapshots / default_world.paths.latest_pointer.read_text().strip()
    return default_world, folder, json.loads((folder / "manifest.json").read_text())


def test_workbook_sheets_match_the_parquet_tables(snapshot):
    runner, folder, manifest = snapshot
    path = folder / workbook_name(manifest["snapshot_id"])
    listed = manifest["files"][path.name]
    assert listed["access"] == "restricted" and set(listed["sheets"]) == set(SHEETS)
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames[:2] == ["README", "Columns"] and set(book.sheetnames[2:]) == set(SHEETS)
    for sheet, table in SHEETS.items():
        parquet = pl.read_parquet(folder / manifest["tables"][table]["file"])
        if "year" in parquet.columns and parquet.height:  # the latest WORKBOOK_YEARS years
            parquet = parquet.filter(pl.col("year") > parquet["year"].max() - WORKBOOK_YEARS)
        if sheet in SHEET_FILTERS:  # the every-importer screens: their flagged rows
            assert parquet.height > parquet[SHEET_FILTERS[sheet]].sum() > 0, sheet
            parquet = parquet.filter(pl.col(SHEET_FILTERS[sheet]))
        parquet_rows = parquet.height
        ws = book[sheet]
        assert ws.max_row - 1 == parquet_rows == listed["sheets"][sheet]["rows"], sheet
        if sheet in ("EU27 dependencies", "Domain summary"):  # polars reads it too (openpyxl engine)
            # read_only: openpyxl streams the one sheet instead of loading every sheet of the workbook
            frame = pl.read_excel(path, sheet_name=sheet, engine="openpyxl", engine_options={"read_only": True})
            assert frame.height == parquet_rows, sheet
    book.close()
    assert verify_snapshot(runner.paths) == []


def test_crma_benchmark_sheet_and_no_supplier_headroom_sheet(snapshot):
    """Issue 29: the CRMA benchmark sheet holds its table's rows (no row filter: it is small). Supplier headroom
    has no sheet: most of its rows are concentrated, so a world year would be the 940,000-row workbook again."""
    _, folder, manifest = snapshot
    assert SHEETS["CRMA benchmark"] == "monitor.crma_benchmark" and "CRMA benchmark" not in SHEET_FILTERS
    assert "monitor.supplier_headroom" not in SHEETS.values()
    sheets = manifest["files"][workbook_name(manifest["snapshot_id"])]["sheets"]
    assert sheets["CRMA benchmark"]["rows"] > 0 and "where" not in sheets["CRMA benchmark"]


def test_names_formats_and_frozen_header(snapshot):
    _, folder, manifest = snapshot
    path = folder / workbook_name(manifest["snapshot_id"])
    book = openpyxl.load_workbook(path, read_only=True)
    ws = book["EU27 dependencies"]
    rows = ws.iter_rows(min_row=1, max_row=2)
    header, first = [c.value for c in next(rows)], next(rows)
    assert "product" in header and "top_supplier_name" in header and "domain_label" in header
    assert "top_supplier" not in header and "domain" not in header  # names instead of codes
    formats = {h: c.number_format for h, c in zip(header, first)}
    assert formats["top_supplier_share"] == "0.0%" and formats["m_extra"] == "#,##0"
    book.close()
    # frozen header and an Excel table (filter buttons) on every data sheet, read from the file itself
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        frozen = [n for n in sheets if 'ySplit="1"' in z.read(n).decode()]
        tables = [n for n in z.namelist() if n.startswith("xl/tables/table")]
    assert len(frozen) == len(sheets) and len(tables) == len(SHEETS) + 1  # + the Columns sheet


def test_readme_sheet_shows_the_synthetic_banner_and_sources(snapshot):
    _, folder, manifest = snapshot
    book = openpyxl.load_workbook(folder / workbook_name(manifest["snapshot_id"]), read_only=True)
    text = "\n".join(str(v) for row in book["README"].iter_rows(values_only=True) for v in row if v)
    assert manifest["synthetic"] and "SYNTHETIC DATA" in text
    assert manifest["snapshot_id"] in text and "Attribution" in text and "quasi-transit" in text
    assert "Threshold ec_c1_hhi" in text and "Latest complete year" in text
    columns = list(book["Columns"].iter_rows(values_only=True))
    assert columns[0][:4] == ("sheet", "column", "meaning", "unit")
    assert all(r[2] for r in columns[1:]), [r for r in columns[1:] if not r[2]]


def test_dictionary_covers_every_published_column(snapshot):
    _, folder, manifest = snapshot
    text = (folder / "DICTIONARY.md").read_text()
    assert manifest["files"]["DICTIONARY.md"]["access"] == "public"
    for table, meta in manifest["tables"].items():
        assert f"## {table}" in text
        for field in meta["schema"]:
            assert f"| `{field['name']}` |" in text
            assert catalog.describe(field["name"], table), f"{table}.{field['name']} has no meaning"
    assert "methodology: 6 Screens" in text and "USD (comtrade) / EUR (comext)" in text


def test_latest_complete_year_per_source(snapshot):
    runner, _, manifest = snapshot
    with runner.published() as con:
        rows = dict(con.execute("SELECT source, latest_complete_year FROM meta.latest_complete_year").fetchall())
    assert rows == {r["source"]: r["latest_complete_year"] for r in manifest["latest_complete_year"]}
    assert rows["comext"] == 2024  # the real 2025 extract has two months for most members
