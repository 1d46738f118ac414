"""The registered sources, in the order their rows, jobs and subcommands are listed (see pipeline/sources).

Adding a source: its folder ``pipeline/sources/<name>/`` with a ``SOURCE``, and one line in
:func:`_registered`.
"""

from __future__ import annotations

from pipeline.sources import Source


def _registered() -> tuple[Source, ...]:
    from pipeline.sources.baci import SOURCE as BACI
    from pipeline.sources.comext import SOURCE as COMEXT
    from pipeline.sources.comtrade import SOURCE as COMTRADE

    return (COMTRADE, COMEXT, BACI)


SOURCES: tuple[Source, ...] = _registered()
BY_NAME: dict[str, Source] = {s.name: s for s in SOURCES}


def source(name: str) -> Source:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no source {name!r}; registered: {', '.join(BY_NAME)}") from None


def raw_years() -> dict[str, str]:
    """Every source's raw tables with their year-of-row SQL."""
    return {table: year for s in SOURCES for table, year in s.raw_tables.items()}
