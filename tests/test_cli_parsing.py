"""geomon's command line: no prefix matching, and a misspelt flag is an error naming the closest (issue 25)."""

import pytest

from pipeline.cli import _parser


def _error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(list(argv))
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_prefix_of_a_flag_is_not_taken_for_the_flag(capsys):
    # --source used to be read as --sources (argparse's prefix matching)
    assert _error(capsys, "run", "--source", "landing") == \
        "geomon run: error: unrecognized argument --source; did you mean --sources?"
    assert _error(capsys, "run", "--full") == "geomon run: error: unrecognized argument --full; did you mean --full-rebuild?"


def test_a_misspelt_flag_is_named_before_what_follows_from_it(capsys):
    # without --latest, argparse's own message was that one of --months --latest is required
    assert _error(capsys, "fetch", "comext", "--lates", "2") == \
        "geomon fetch comext: error: unrecognized argument --lates; did you mean --latest?"
    assert _error(capsys, "status", "--jsn") == "geomon status: error: unrecognized argument --jsn; did you mean --json?"
    assert _error(capsys, "run", "--nothing-like-it") == "geomon run: error: unrecognized argument --nothing-like-it"


def test_correct_flags_still_parse():
    args = _parser().parse_args(["run", "--sources", "landing,api", "--allow-shrink"])
    assert args.sources == ["landing", "api"] and args.allow_shrink
    assert _parser().parse_args(["fetch", "comext", "--latest", "2"]).latest == 2
