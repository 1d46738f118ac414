"""One typed Parquet file per input file, converted once per content: the cache both sources share.

A Comext month (``work/comext_parquet``) and a Comtrade file (``work/comtrade_parquet``: a bulk
reporter-year, an API page, a landing TSV) are converted by DuckDB the same way: the converter
writes the Parquet file under a temporary name and renames it into place only once its rows passed
the checks (:func:`pipeline.io.atomic_path`), and its report (rows, years or periods, seconds) is
kept as JSON beside it, so that a cache hit costs one small read and no scan. Small files converted
together (the API pages of a run) share one Parquet file: each file's report names it, and the rows
carry the file's key (``_part``). The name holds the
input's file name, its sha256 prefix and the converter's version: a new content or a new
converter is a new name, never an overwrite, and the conversion it replaces is deleted once the
new one is in place.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Protocol, TypeVar

from pipeline.io import atomic_write_text


class CachedReport(Protocol):
    """What a converter returns: a dataclass with at least these two fields."""

    parquet: str
    cached: bool


R = TypeVar("R", bound=CachedReport)


def _safe(file_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", file_name)


def cache_key(file_name: str, sha256: str, version: int) -> str:
    """``<file name>.<sha256 prefix>.v<version>``, with characters that are awkward in paths replaced."""
    return f"{_safe(file_name)}.{sha256[:16]}.v{version}"


def read_report(folder: Path, key: str, report_type: type[R]) -> R | None:
    """The conversion named ``key`` from its JSON report, if the report and the Parquet file it names are both
    in ``folder`` (a file's own ``<key>.parquet``, or the file of the batch it was converted in); else None.
    A report cut by a crash is not trusted."""
    report_file = folder / f"{key}.json"
    if not report_file.exists():
        return None
    try:
        report = report_type(**json.loads(report_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None  # a report cut by a crash, or from an older layout: convert again
    # by name in this folder, so that a moved data folder keeps its cache
    target = folder / Path(report.parquet).name
    if not target.exists():
        return None
    report.cached, report.parquet = True, str(target)
    return report


def write_report(folder: Path, key: str, report: CachedReport) -> None:
    """Keep ``report`` as ``<key>.json``, once its Parquet file is in place (written and renamed)."""
    atomic_write_text(folder / f"{key}.json", json.dumps(asdict(report), indent=1))


def cached(folder: Path, key: str, convert: Callable[[Path], R], report_type: type[R]) -> R:
    """The conversion named ``key`` in ``folder``: read from its JSON report when both files are there,
    else ``convert(target)`` (which must leave ``target`` complete and checked, or absent) and its
    report written beside it."""
    report = read_report(folder, key, report_type)
    if report is not None:
        return report
    folder.mkdir(parents=True, exist_ok=True)
    report = convert(folder / f"{key}.parquet")
    write_report(folder, key, report)
    return report


def drop_other_versions(folder: Path, file_name: str, key: str) -> int:
    """Delete the conversions of ``file_name`` other than ``key`` (older contents or converters)."""
    # the name, a sha256 prefix and a version, exactly: not another file whose name starts the same
    own = re.compile(re.escape(_safe(file_name)) + r"\.[0-9a-f]{16}\.v\d+")
    return prune(folder, keep={key}, only=lambda stem: own.fullmatch(stem) is not None)


def prune(folder: Path, keep: set[str], only: Callable[[str], bool] = lambda stem: True) -> int:
    """Delete the conversions (Parquet file and report) whose name is not in ``keep``, among those ``only``
    selects; returns how many Parquet files went."""
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        if path.suffix in (".parquet", ".json") and path.stem not in keep and only(path.stem):
            path.unlink(missing_ok=True)
            removed += path.suffix == ".parquet"
    return removed
