"""``definitions(comtrade_key=...)`` hands the Comtrade key to Comtrade's definitions only.

Each registered source's ``source_definitions`` (``assets/<name>/__init__.py``) is called by
``pipeline/definitions.py``; a keyword of ``definitions`` reaches a source only if the source declares it
(``Source.definition_options``), so a secret never travels through another source's code, its logs or errors.
"""

from __future__ import annotations

import importlib

import pytest

from pipeline.definitions import definitions
from pipeline.sources.registry import SOURCES

KEY = "planted-key-7f3a"


@pytest.fixture
def calls(monkeypatch) -> dict[str, dict]:
    """Every registered source's source_definitions, wrapped to record the keywords it was called with."""
    seen: dict[str, dict] = {}
    for source in SOURCES:
        module, _, attribute = source.assets.partition(":")
        loaded = importlib.import_module(module)
        real = getattr(loaded, attribute)

        def spy(*args, _real=real, _name=source.name, **options):
            assert not args
            seen[_name] = dict(options)
            return _real(**options)

        monkeypatch.setattr(loaded, attribute, spy)
    return seen


def test_only_comtrade_receives_the_comtrade_key(calls):
    defs = definitions(data_dir="/nonexistent/data", comtrade_key=KEY)
    assert set(calls) == {s.name for s in SOURCES} >= {"comtrade", "comext", "baci"}
    assert calls["comtrade"] == {"comtrade_key": KEY}
    for name, options in calls.items():
        if name != "comtrade":
            assert options == {}, f"{name}'s definitions were called with {sorted(options)}"
            assert KEY not in repr(options)
    # and Comtrade's client resource holds the key it was given
    assert defs.resources["comtrade"].key.value == KEY


def test_the_keyless_preview_and_the_environments_key_still_reach_comtrade(calls):
    definitions(data_dir="/nonexistent/data", comtrade_key="")
    assert calls["comtrade"] == {"comtrade_key": ""}
    calls.clear()
    definitions(data_dir="/nonexistent/data")  # None: the client reads the environment's key when it opens
    assert calls["comtrade"] == {"comtrade_key": None}
    assert all(options == {} for name, options in calls.items() if name != "comtrade")


def test_a_source_declaring_an_option_definitions_does_not_have_fails_clearly(monkeypatch):
    import dataclasses

    from pipeline import definitions as module

    odd = dataclasses.replace(SOURCES[1], definition_options=("comext_token",))
    monkeypatch.setattr(module, "SOURCES", (SOURCES[0], odd, *SOURCES[2:]))
    with pytest.raises(ValueError, match="comext.*comext_token"):
        module.definitions(data_dir="/nonexistent/data", comtrade_key="")
