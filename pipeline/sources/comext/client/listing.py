"""The file service's CSV listing of bulk files (name, size in bytes, last-modified date), and which
months to (re)fetch: a changed last-modified date or size is a revision."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

from pipeline.sources.comext.client import ComextError

FILES_URL = "https://ec.europa.eu/eurostat/api/dissemination/files"
PRODUCTS_DIR = "comext/COMEXT_DATA/PRODUCTS"
MONTHLY_FILE = re.compile(r"^full_v2_(\d{4})(0[1-9]|1[0-2])\.7z$")
ANNUAL_FILE = re.compile(r"^full_v2_(\d{4})52\.7z$")


@dataclass(frozen=True)
class ListedFile:
    name: str
    size: int | None
    last_modified: str | None
    type: str = ""

    @property
    def month(self) -> str | None:
        """``YYYY-MM`` for a monthly ``full_v2_YYYYMM.7z``, ``YYYY`` for the annual ``full_v2_YYYY52.7z``."""
        m = MONTHLY_FILE.match(self.name)
        if m:
            return f"{m.group(1)}-{m.group(2)}"
        a = ANNUAL_FILE.match(self.name)
        return a.group(1) if a else None


def _date_column(columns: list[str]) -> str | None:
    for col in columns:
        if re.search(r"DATE|MODIF|UPDATE", col, re.IGNORECASE):
            return col
    return None


def parse_listing(text: str, *, source: str = "file listing") -> list[ListedFile]:
    """The file service's CSV listing (``format=csv&sizeFormat=NONE&dateFormat=ISO``).

    ``NAME`` is required; ``SIZE`` must be whole bytes; the last-modified
    column (its exact name is not documented: the first column naming DATE,
    MODIF or UPDATE) must exist, because revisions are found with it.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    upper = {c.upper(): c for c in columns}
    if "NAME" not in upper:
        raise ComextError(f"{source}: line 1: no NAME column (columns: {columns})")
    date_col = _date_column(columns)
    if date_col is None:
        raise ComextError(f"{source}: line 1: no last-modified column (columns: {columns}); "
                          "revisions cannot be detected without it")
    size_col, type_col = upper.get("SIZE"), upper.get("TYPE")
    out: list[ListedFile] = []
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        name = row.get(upper["NAME"], "")
        if not name:
            raise ComextError(f"{source}: line {line}: empty NAME")
        size_text = row.get(size_col, "") if size_col else ""
        if size_text and not size_text.isdigit():
            raise ComextError(f"{source}: line {line}: SIZE {size_text!r} of {name} is not a byte count")
        out.append(ListedFile(name=name.rsplit("/", 1)[-1], size=int(size_text) if size_text else None,
                              last_modified=row.get(date_col) or None, type=row.get(type_col, "") if type_col else ""))
    return out


def monthly_files(listing: list[ListedFile], *, annual: bool = False) -> dict[str, ListedFile]:
    """``{month: file}`` of the ``full_v2_YYYYMM.7z`` files (and ``full_v2_YYYY52.7z`` with ``annual``)."""
    return {f.month: f for f in listing
            if f.month and (MONTHLY_FILE.match(f.name) or (annual and ANNUAL_FILE.match(f.name)))}


def changed_months(listing: dict[str, ListedFile], held: dict[str, dict], *, track_from: str = "",
                   months: list[str] | None = None) -> dict[str, str]:
    """Months to (re)fetch, each with the reason: ``revised`` or ``new``.

    ``held`` maps file names to what was fetched (``last_modified``, ``size``).
    A held month whose listed date or size differs is revised; a month not held
    is new when it is in ``months`` or not before ``track_from`` (``YYYY-MM``;
    empty = only months asked for by name).
    """
    wanted = set(months or [])
    out: dict[str, str] = {}
    for month, listed in sorted(listing.items()):
        mine = held.get(listed.name)
        if mine is not None:
            if mine.get("last_modified") != listed.last_modified or (
                listed.size is not None and mine.get("size") not in (None, listed.size)
            ):
                out[month] = "revised"
        elif month in wanted or (track_from and len(month) == 7 and month >= track_from):
            out[month] = "new"
    return out


def parse_listed_date(value: str) -> datetime:
    """The listing's ISO date as a naive datetime in its own clock (the offset is dropped, not applied)."""
    return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).replace(tzinfo=None)

