"""The glossary's source-dependent meanings come from the source registry: every registered source (CEPII BACI
too) is named with its currency, and a new source needs no edit of pipeline/glossary.py."""

from __future__ import annotations

from dataclasses import replace

from pipeline import glossary
from pipeline.sources.registry import SOURCES, source


def test_source_and_currency_name_every_registered_source_with_its_currency():
    baci = source("baci")
    assert (baci.label, baci.currency) == ("CEPII BACI", "USD")
    for registered in SOURCES:
        assert f"'{registered.name}' ({registered.label}, {registered.currency})" in glossary.COLUMNS["source"]
        assert f"{registered.currency} for {registered.label}" in glossary.COLUMNS["currency"]
        assert f"{registered.currency} ({registered.name})" in glossary.currency("value")
    assert glossary.currency("reporter") == ""


def test_a_new_source_is_described_without_editing_the_glossary():
    toy = replace(SOURCES[0], name="toy", label="Toy Statistics Office", currency="JPY")
    meanings = glossary.source_meanings((*SOURCES, toy))
    assert meanings["source"].endswith("or 'toy' (Toy Statistics Office, JPY).")
    assert "JPY for Toy Statistics Office; never mixed." in meanings["currency"]
    assert meanings["value_currency"].endswith("/ JPY (toy)")
