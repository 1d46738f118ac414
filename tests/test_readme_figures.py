"""README.md's figures of a run match a fresh run of the embedded default (issue 26: they had gone stale).

The block between the readme-figures markers is what ``make readme-figures`` writes; here it is compared with
the block the test session's run of the embedded default (conftest.default_world, as `geomon run` publishes)
gives. A drift fails with the command that rewrites it.
"""

import pytest

from pipeline import readme_figures


def test_readme_figures_match_a_fresh_run(default_world):
    readme = readme_figures.README.read_text(encoding="utf-8")
    fresh = readme_figures.figures_block(default_world.paths.root)
    start = readme.index(readme_figures.START)
    current = readme[start:readme.index(readme_figures.END) + len(readme_figures.END)]
    assert current == fresh, "README.md's figures drifted from a fresh run: run `make readme-figures`"


def test_replace_block_rewrites_only_the_block_and_refuses_a_readme_without_one():
    text = f"intro\n{readme_figures.START}\nold\n{readme_figures.END}\noutro\n"
    new = f"{readme_figures.START}\nnew\n{readme_figures.END}"
    assert readme_figures.replace_block(text, new) == f"intro\n{new}\noutro\n"
    with pytest.raises(ValueError, match="README.md: needs exactly one"):
        readme_figures.replace_block("no block here", new)
