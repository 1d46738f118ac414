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


def preference() -> list[str]:
    """Source names in the order a headline prefers them when several sources hold the same figure: the finest
    native product level first (Comext's CN8 before an HS6 source), then monthly before annual, then registry
    order (Comtrade's own reporting before BACI's reconciled matrix)."""
    detail = {"CN8": 0, "HS6": 1}
    ranked = sorted(enumerate(SOURCES), key=lambda p: (detail.get(p[1].native_level, 9), p[1].frequency != "M", p[0]))
    return [s.name for _, s in ranked]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def trait_macros() -> dict[str, str]:
    """The registry's traits as SQL macros the models call instead of naming a source (pipeline/sql_macros.py
    defines them on every model connection and hashes their text into the code version of the models that
    call them, so a changed trait rebuilds exactly those):

    * ``source_currency(src)``, ``source_frequency(src)`` ('M' / 'A'), ``source_native_level(src)`` ('CN8' /
      'HS6'): null for a source that is not registered;
    * ``source_caveat(src, rep)``: the note on a reporter's rows of a source (Comext's NLD quasi-transit), else
      null;
    * ``source_world(src)``: whether the source's reporters make the world (world exports, world-supply screen);
    * ``source_intra_eu_partner(src, partner)``: whether a partner code of the source that is no country is
      intra-EU trade (false for a source without such codes; null only where the partner is).
    """
    def by_source(name: str, attribute: str) -> str:
        cases = " ".join(f"WHEN {_sql_text(s.name)} THEN {_sql_text(getattr(s, attribute))}" for s in SOURCES)
        return f"CREATE MACRO {name}(src) AS CASE src {cases} END"

    caveats = " ".join(f"WHEN src = {_sql_text(s.name)} AND rep = {_sql_text(reporter)} THEN {_sql_text(note)}"
                       for s in SOURCES for reporter, note in sorted(s.caveats.items()))
    return {
        "source_currency": by_source("source_currency", "currency"),
        "source_frequency": by_source("source_frequency", "frequency"),
        "source_native_level": by_source("source_native_level", "native_level"),
        "source_caveat": f"CREATE MACRO source_caveat(src, rep) AS CASE {caveats or 'WHEN false THEN NULL'} END",
        "source_world": "CREATE MACRO source_world(src) AS coalesce(CASE src "
                        + " ".join(f"WHEN {_sql_text(s.name)} THEN {str(s.world_matrix).lower()}" for s in SOURCES)
                        + " END, false)",
        "source_intra_eu_partner": "CREATE MACRO source_intra_eu_partner(src, partner) AS CASE "
                                   + " ".join(f"WHEN src = {_sql_text(s.name)} THEN partner IN "
                                              f"({', '.join(_sql_text(c) for c in s.intra_eu_partners)})"
                                              for s in SOURCES if s.intra_eu_partners)
                                   + " ELSE false END",
    }
