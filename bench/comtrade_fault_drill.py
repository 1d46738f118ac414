"""The Comtrade fault drill: a plan of >= 500 calls against the local fake API with random faults.

Runs the real client (pipeline/sources/comtrade/client/) against tests/fake_comtrade.py
on 127.0.0.1: 10% of requests get a 429 (with Retry-After), a 500/502 HTML/503,
a timeout, a reset connection or a truncated body. Prints the calls per second
achieved against the configured rate, checks that the stored pages hold exactly
the fake's records (no duplicate, none missing) and that a second run makes no
call, and writes bench/results/comtrade_fault_drill.json.

    .venv/bin/python bench/comtrade_fault_drill.py [--rate 50] [--reporters 60] [--retry-after 1]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from fake_comtrade import run_drill  # noqa: E402
from pipeline.cli.parser import Parser


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="configured requests per second (default 50)")
    parser.add_argument("--reporters", type=int, default=60, help="reporters; calls = reporters x 5 years x 2 flows")
    parser.add_argument("--fault-rate", type=float, default=0.10, help="share of requests given a fault (default 0.10)")
    parser.add_argument("--big-share", type=float, default=0.10,
                        help="share of reporter-year-flows larger than one page, split by chapter (default 0.10)")
    parser.add_argument("--retry-after", default="1", help="Retry-After the fake sends with a 429, seconds (default 1)")
    parser.add_argument("--timeout", type=float, default=0.5, help="client timeout in seconds (default 0.5)")
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "comtrade_fault_drill.json"))
    args = parser.parse_args(argv)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="comtrade_drill_") as tmp:
        figures = run_drill(Path(tmp), rate=args.rate, fault_rate=args.fault_rate, seed=args.seed,
                            reporters=args.reporters, big_share=args.big_share, retry_after=args.retry_after,
                            timeout_s=args.timeout)
    figures["total_time_s"] = round(time.perf_counter() - started, 2)
    figures["run_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    figures["machine"] = {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count()}
    figures["settings"] = vars(args)

    ok = (figures["complete"] and figures["duplicates"] == 0 and figures["missing"] == 0
          and figures["unexpected"] == 0 and figures["second_run_http_calls"] == 0
          and figures["max_released_in_any_1s"] <= args.rate)
    figures["passed"] = ok
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    print(f"plan: {figures['plan_calls']} calls planned, {figures['http_requests']} HTTP requests made "
          f"({figures['splits']} full pages split, {figures['pages_stored']} pages stored)")
    print(f"faults injected: {figures['faults_injected']} ({figures['fault_share']:.1%}) {figures['faults_by_kind']}")
    print(f"records: fake {figures['records_in_fake']:,}, stored {figures['records_stored']:,}, "
          f"duplicates {figures['duplicates']}, missing {figures['missing']}, unexpected {figures['unexpected']}")
    print(f"rate: configured {args.rate:g}/s, achieved {figures['achieved_rate_per_s']}/s on average "
          f"(retry waits included); in any 1 s window at most {figures['max_released_in_any_1s']} calls let go by "
          f"the throttle (smallest gap {figures['min_gap_between_releases_ms']} ms), "
          f"{figures['max_requests_in_any_1s']} sent, {figures['max_arrivals_in_any_1s']} arrived at the fake")
    print(f"wall time {figures['wall_time_s']} s; second run: {figures['second_run_http_calls']} calls")
    print(f"{'PASSED' if ok else 'FAILED'}; written to {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
