"""CEPII BACI files -> ``raw.baci_flows``: one row per line of a yearly CSV, typed, with the reason a line is bad.

Layouts (sources.md section 3):

* ``BACI_HS17_Y2021_V202301.csv``: one year of one HS edition and release, header ``t,i,j,k,v,q``: ``t`` year,
  ``i`` exporter and ``j`` importer (Comtrade-style numeric codes of BACI's country dictionary), ``k`` the HS6
  product (text: its leading zero is part of the code), ``v`` value in thousand USD, ``q`` quantity in metric
  tonnes (``NA`` or empty when missing, about 2% of rows);
* ``BACI_HS17_V202301.zip``: CEPII's download of one HS edition, holding one such CSV per year (and the
  dictionaries, which are not flow rows). It is unpacked once per content into ``work/baci_unzipped/``.

Exactness: ``v`` and ``q`` are read as text and cast to ``DECIMAL(18, 6)``; a value with more than six
decimals is refused rather than rounded, so ``v * 1000`` (USD) and ``q * 1000`` (kg) are exact three-decimal
figures like every other value of the project, with no float on the way.

Every check runs in the one SQL pass that types the rows: a line that is bad gets a ``problem`` (the reason,
naming the column, the value and, inside a zip, the member file); the raw store's row rule quarantines the
file at its first bad line (file, line, reason), and a well-formed file has ``problem`` null on every row.
The header is checked before any row is read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import duckdb

from pipeline.io import sql_string
from pipeline.paths import REFERENCE_DIR
from pipeline.readers.inputs import InputError, InputFile, first_line
from pipeline.sources.baci.files import EDITIONS, HEADER, YEAR_FILE, ZIP_FILE, year_members

TABLE = "raw.baci_flows"
# the year a row belongs to (SQL over the raw columns): the unit of incremental rebuilds
YEAR_OF_ROW = "t"
DICTIONARY = REFERENCE_DIR / "baci_country_codes_V202301.csv"

COLUMNS: dict[str, str] = {
    "t": "INTEGER", "i": "INTEGER", "j": "INTEGER", "k": "VARCHAR", "v": "DECIMAL(18, 6)", "q": "DECIMAL(18, 6)",
    # from the file name: the HS edition of k (H0 = HS 1992 .. H6 = HS 2022) and BACI's release
    "hs_edition": "VARCHAR", "baci_release": "VARCHAR",
    # the member of a zip the row comes from (null for a plain CSV), and why the row is bad (null: it is not)
    "member": "VARCHAR", "problem": "VARCHAR",
}
ROW_RULE = "problem"



def detect(path: Path) -> str | None:
    """'year_csv' or 'edition_zip' by BACI's file names; anything else (the dictionaries, READMEs) is not
    flow data."""
    if YEAR_FILE.fullmatch(path.name):
        return "year_csv"
    if ZIP_FILE.fullmatch(path.name):
        return "edition_zip"
    return None


def edition_of(name: str) -> str:
    """'BACI_HS17_...' -> 'H5'; an edition BACI does not publish is bad input."""
    found = YEAR_FILE.fullmatch(name) or ZIP_FILE.fullmatch(name)
    edition = found["edition"].upper() if found else ""
    if edition not in EDITIONS:
        raise InputError(f"{name}: HS edition {edition or '?'} is none of BACI's ({', '.join(EDITIONS)})")
    return EDITIONS[edition]


def _check_header(line: str, where: str) -> None:
    header = [c.strip().strip('"') for c in line.lstrip("\ufeff").split(",")]
    if header != HEADER:
        raise InputError(f"{where}: line 1: header {','.join(header)[:120]!r} is not BACI's t,i,j,k,v,q")


def validate(conn: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    """Refuse empty files, damaged zips and headers that are not t,i,j,k,v,q before any row is read."""
    if f.size == 0:
        raise InputError(f"{f.path}: empty file (0 bytes), expected a BACI {f.fmt}")
    edition_of(f.path.name)
    if f.fmt == "year_csv":
        _check_header(first_line(f.path), str(f.path))
        return
    with zipfile.ZipFile(f.path) as archive:
        for name in year_members(f.path):
            with archive.open(name) as member:
                line = member.readline().decode("utf-8-sig", errors="replace").strip()
            _check_header(line, f"{f.path}: {name}")


def _release(f: InputFile, name: str) -> str:
    found = YEAR_FILE.fullmatch(name) or ZIP_FILE.fullmatch(name)
    if f.release.endswith("(release not stated)"):
        return f"CEPII BACI {found['release'].upper()} {found['edition'].upper()}"
    return f.release


def _member_select(csv: Path, f: InputFile, member: str | None) -> str:
    """The typed rows of one yearly CSV, with ``_line`` (the header is line 1) and each row's ``problem``."""
    name = Path(member).name if member else f.path.name
    found = YEAR_FILE.fullmatch(name)
    year, edition = int(found["year"]), edition_of(name)
    where = f"{name}: " if member else ""
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in HEADER) + "}"
    number = r"[0-9]+(\.[0-9]{1,6})?"
    # every check in one CASE: the first that fails names the column, the value and the rule
    return f"""
        SELECT TRY_CAST(r.t AS INTEGER) AS t, TRY_CAST(r.i AS INTEGER) AS i, TRY_CAST(r.j AS INTEGER) AS j, r.k,
               TRY_CAST(r.v AS DECIMAL(18, 6)) AS v,
               CASE WHEN r.q IN ('', 'NA') THEN NULL ELSE TRY_CAST(r.q AS DECIMAL(18, 6)) END AS q,
               '{edition}' AS hs_edition, '{found["release"].upper()}' AS baci_release,
               {sql_string(member) if member else 'NULL::VARCHAR'} AS member, r._line,
               {sql_string(_release(f, name))} AS release,
               CASE
                 WHEN r.t IS DISTINCT FROM '{year}'
                   THEN {sql_string(where)} || 't ' || coalesce('''' || r.t || '''', 'missing')
                        || ' is not the year {year} of the file name'
                 WHEN NOT coalesce(regexp_full_match(r.i, '[0-9]{{1,3}}'), false)
                   THEN {sql_string(where)} || 'exporter i ' || coalesce('''' || r.i || '''', 'missing')
                        || ' is not a numeric country code'
                 WHEN NOT coalesce(regexp_full_match(r.j, '[0-9]{{1,3}}'), false)
                   THEN {sql_string(where)} || 'importer j ' || coalesce('''' || r.j || '''', 'missing')
                        || ' is not a numeric country code'
                 WHEN ci.country_code IS NULL
                   THEN {sql_string(where)} || 'exporter i ' || r.i || ' is not in BACI''s country dictionary '
                        || '(data/reference/{DICTIONARY.name})'
                 WHEN cj.country_code IS NULL
                   THEN {sql_string(where)} || 'importer j ' || r.j || ' is not in BACI''s country dictionary '
                        || '(data/reference/{DICTIONARY.name})'
                 WHEN NOT coalesce(regexp_full_match(r.k, '[0-9]{{6}}'), false)
                   THEN {sql_string(where)} || 'product k ' || coalesce('''' || r.k || '''', 'missing')
                        || ' is not a six-digit HS code (a lost leading zero shortens it)'
                 WHEN NOT coalesce(regexp_full_match(r.v, '{number}'), false)
                   THEN {sql_string(where)} || 'value v ' || coalesce('''' || r.v || '''', 'missing')
                        || ' is not a non-negative number of thousand USD with at most six decimals'
                 WHEN r.q NOT IN ('', 'NA') AND NOT regexp_full_match(r.q, '{number}')
                   THEN {sql_string(where)} || 'quantity q ''' || r.q
                        || ''' is not a non-negative number of tonnes with at most six decimals, NA or empty'
               END AS problem
        FROM (
            SELECT trim(t) AS t, trim(i) AS i, trim(j) AS j, trim(k) AS k, trim(v) AS v,
                   coalesce(trim(q), '') AS q, row_number() OVER () + 1 AS _line
            FROM read_csv({sql_string(csv)}, header=true, delim=',', quote='"', auto_detect=false,
                          columns={columns})
        ) AS r
        LEFT JOIN read_csv({sql_string(DICTIONARY)}, header=true, auto_detect=false,
                           columns={{'country_code': 'VARCHAR', 'country_name_abbreviation': 'VARCHAR',
                                     'country_name_full': 'VARCHAR', 'iso_2digit_alpha': 'VARCHAR',
                                     'iso_3digit_alpha': 'VARCHAR'}}) AS ci ON ci.country_code = r.i
        LEFT JOIN read_csv({sql_string(DICTIONARY)}, header=true, auto_detect=false,
                           columns={{'country_code': 'VARCHAR', 'country_name_abbreviation': 'VARCHAR',
                                     'country_name_full': 'VARCHAR', 'iso_2digit_alpha': 'VARCHAR',
                                     'iso_3digit_alpha': 'VARCHAR'}}) AS cj ON cj.country_code = r.j"""


def unpacked(f: InputFile, cache: Path) -> dict[str, Path]:
    """The yearly CSVs of a zip, unpacked once per content into ``cache/<sha256 prefix>/`` (member -> path)."""
    folder = cache / f.sha256[:16]
    members = year_members(f.path)
    done = folder / "_complete"
    if not done.exists():
        tmp = folder.with_name(folder.name + ".tmp")
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        with zipfile.ZipFile(f.path) as archive:
            for name in members:
                target = tmp / Path(name).name
                with archive.open(name) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
        (tmp / "_complete").touch()
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        tmp.rename(folder)
    return {name: folder / Path(name).name for name in members}


def selector(cache: Path):
    """``select_for(file)`` for :func:`pipeline.readers.raw_store.sync_raw_table`: a yearly CSV as it is, a zip
    through its members unpacked under ``cache``."""

    def select(f: InputFile) -> str:
        if f.fmt == "year_csv":
            return _member_select(f.path, f, None)
        return "\nUNION ALL\n".join(_member_select(path, f, name) for name, path in unpacked(f, cache).items())

    return select
