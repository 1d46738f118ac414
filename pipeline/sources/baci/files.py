"""CEPII BACI's file names and layout, shared by the download (which tests a zip whole before it becomes current)
and the reader: the HS editions, the yearly CSV and edition zip names, the header, a zip's yearly members.
Neither reads rows nor touches the network."""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from pipeline.readers.inputs import InputError

HEADER = ["t", "i", "j", "k", "v", "q"]

# BACI names its HS editions by their year (sources.md 3); the project by Comtrade's H0..H6
EDITIONS = {"HS92": "H0", "HS96": "H1", "HS02": "H2", "HS07": "H3", "HS12": "H4", "HS17": "H5", "HS22": "H6"}
YEAR_FILE = re.compile(r"BACI_(?P<edition>HS\d\d)_Y(?P<year>\d{4})_(?P<release>V\d{6})\.csv", re.IGNORECASE)
ZIP_FILE = re.compile(r"BACI_(?P<edition>HS\d\d)_(?P<release>V\d{6})\.zip", re.IGNORECASE)
# what a damaged zip raises: a broken directory, a broken deflate stream, a cut file
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError)


def year_members(path: Path) -> list[str]:
    """The yearly flow CSVs of a BACI zip, in name order (InputError for a damaged or empty zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
            names = sorted(n for n in archive.namelist() if YEAR_FILE.fullmatch(Path(n).name))
    except ZIP_ERRORS as exc:
        raise InputError(f"{path}: damaged zip ({type(exc).__name__}: {exc})") from exc
    if damaged is not None:
        raise InputError(f"{path}: damaged zip: {damaged} fails its CRC check")
    if not names:
        raise InputError(f"{path}: the zip holds no BACI_<edition>_Y<year>_<release>.csv file")
    return names
