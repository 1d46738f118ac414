"""The generator's command line (``python -m pipeline.demo_world OUT_DIR``): write a demo world, say what was written."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Sequence

import pipeline.demo_world as package
from pipeline.cli.parser import Parser
from pipeline.demo_world.build import generate
from pipeline.sources.registry import source


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(prog="python -m pipeline.demo_world", description=package.__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--years", type=int, nargs="+", default=[2022, 2023, 2024])
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--format", dest="comtrade_format", choices=("json", "bulk"), default="json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    manifest = generate(args.out_dir, scale=args.scale, years=args.years, seed=args.seed,
                        comtrade_format=args.comtrade_format)
    size = sum((args.out_dir / f).stat().st_size for f in manifest["files"])
    counts = ", ".join(f"{n:,} {source(name).label} rows" for name, n in manifest["rows"].items()
                       if not name.endswith("_by_year"))
    print(f"{manifest['release']}: {counts}, {len(manifest['files'])} files, "
          f"{size / 1e6:.1f} MB in {time.perf_counter() - started:.1f}s -> {args.out_dir}", file=sys.stderr)
    return 0

