"""How numbers, codes and labels read on the page (used by the charts and the template)."""

from __future__ import annotations

from pipeline.sources.registry import SOURCES

# each registered source's label (pipeline/sources)
SOURCE_LABELS = {s.name: s.label for s in SOURCES}
REPORTER_LABELS = {"EU27": "EU27", "NLD": "Netherlands"}
NO_DOMAIN = "(no strategic domain)"


def source_label(source: str, currency: str | None = None) -> str:
    label = SOURCE_LABELS.get(source, source)
    return f"{label} ({currency})" if currency else label


def eu_reporters_only(source: str) -> bool:
    """Whether the source's reporters are the EU member states only (a registry trait: Comext)."""
    return any(s.eu_reporters_only for s in SOURCES if s.name == source)


def reporter_label(reporter: str) -> str:
    return REPORTER_LABELS.get(reporter, reporter)


def domain_label(domain: str | None) -> str:
    """'critical_raw_materials' -> 'Critical raw materials'; no domain -> a visible placeholder."""
    if not domain:
        return NO_DOMAIN
    return domain.replace("_", " ").capitalize()


def money(value: float | None, currency: str) -> str:
    """A value in its source currency, compact: 'EUR 1.35 bn', 'USD 29.7 m', 'EUR 812 k'."""
    if value is None:
        return "–"
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= size:
            return f"{currency} {value / size:.3g} {suffix}"
    return f"{currency} {value:,.0f}"


def share(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def ratio(value: float | None) -> str:
    """The C3 import/export ratio; null means no extra-EU exports at all (C3 passes)."""
    return "no exports" if value is None else f"{value:,.2f}"


def flag(value: bool | None) -> str:
    return {True: "✓", False: "✗"}.get(value, "–")


def threshold(values: list[float]) -> str:
    """A stored threshold; several values mean rows were computed with different settings."""
    if not values:
        return "–"
    return " / ".join(f"{v:g}" for v in values)


def sortkey(value: float | None, missing: str = "") -> str:
    """A compact numeric sort key for a table cell; ``missing`` for null (blank sorts last)."""
    return missing if value is None else f"{value:.6g}"
