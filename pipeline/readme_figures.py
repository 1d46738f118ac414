"""The README's figures of a run, written from a fresh run so that they cannot go stale.

README.md holds the figures a run of the embedded default produces (the EU27 screen's dependent share per
source and year, the rows of ``monitor.import_concentration``, the report's size) in one block between
``<!-- readme-figures:start -->`` and ``<!-- readme-figures:end -->``. ``make readme-figures`` runs the
embedded default into a fresh folder and rewrites that block from it::

    python -m pipeline.readme_figures --data <a published data folder> [--check]

``--check`` rewrites nothing and exits 1 when the block differs from the run's figures;
``tests/test_readme_figures.py`` does the same against the test session's run of the embedded default.
"""

from __future__ import annotations

import json
import sys
from contextlib import closing
from pathlib import Path

import duckdb

from pipeline.cli.parser import Parser
from pipeline.paths import DataPaths
from pipeline.summary import EU27_DEPENDENT_SHARE

START = "<!-- readme-figures:start -->"
END = "<!-- readme-figures:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def figures_block(root: Path) -> str:
    """The block (markers included) for the publication in the data folder ``root``."""
    paths = DataPaths(root)
    with closing(duckdb.connect(str(paths.published_db), read_only=True)) as con:
        shares = con.execute(EU27_DEPENDENT_SHARE).fetchall()
        rows = con.execute("SELECT count(*) FROM monitor.import_concentration").fetchall()[0][0]
    snapshot = paths.snapshots / paths.latest_pointer.read_text().strip()
    manifest = json.loads((snapshot / "manifest.json").read_text())
    report = manifest.get("files", {}).get("report/index.html", {}).get("bytes")
    lines = [START, "What `make run` publishes on the embedded default (this block is written by",
             "`make readme-figures` from a fresh run; `tests/test_readme_figures.py` fails when it drifts):", ""]
    lines += ["- EU27 screen (EC 2021 C1-C3), dependent of screened HS6 products:"]
    for source in sorted({s[0] for s in shares}):
        years = [f"{year}: {dep:,} of {scr:,} ({dep / scr:.1%})" + ("" if complete else ", bloc incomplete")
                 for src, year, scr, dep, complete, _ in shares if src == source]
        lines += [f"  - {source}: " + "; ".join(years)]
    lines += [f"- `monitor.import_concentration`: {rows:,} rows"]
    if report is not None:
        lines += [f"- the report (`report/index.html`): {report / 1e6:.1f} MB"]
    return "\n".join(lines + [END])


def replace_block(text: str, block: str, where: str = "README.md") -> str:
    """``text`` with its figures block replaced by ``block``; an error naming the file when it has none."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start or text.count(START) != 1:
        raise ValueError(f"{where}: needs exactly one {START} ... {END} block")
    return text[:start] + block + text[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a data folder a run has published")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--check", action="store_true", help="exit 1 when the README's block differs")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    try:
        new = replace_block(text, figures_block(args.data), str(args.readme))
    except (ValueError, OSError, duckdb.Error) as exc:
        print(f"readme-figures: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print(f"readme-figures: {args.readme}'s figures differ from the run in {args.data}; "
                  "run `make readme-figures`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
    print(f"readme-figures: {args.readme} {'rewritten' if new != text else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
