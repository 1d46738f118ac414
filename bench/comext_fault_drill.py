"""The Comext file-service fault drill: ``geomon fetch comext`` against the local fake Eurostat file service
(tests/fake_comext.py, 127.0.0.1) while it misbehaves, then a revision that arrives damaged.

Every ``--fault-every``-th download request gets the next fault in turn: 429 (Retry-After 0), 500, 502, 503,
a stall past the client's timeout, a connection cut inside the body, and a 206 that ends early on a cleanly
closed stream (with a Content-Length that matches the short body, or close-delimited). One month is served
with a damaged packed stream (7z headers intact) on its first pass. The drill runs five fetches:

1. all months, faults everywhere: exits 1 naming the damaged month; every other month is stored;
2. again: the damaged month is tried again and stored; exit 0;
3. Eurostat revises the first month and the new version arrives damaged: exit 1, the held copy and
   ``_release.json`` are untouched (byte for byte);
4. again: the revision is stored; exit 0;
5. again: nothing changed, no download.

It passes when all of that holds, every stored file equals the served one byte for byte, each fault kind
was injected at least once and the refused downloads sit in the quarantine folder with their reasons.
Writes bench/results/comext_fault_drill.json.

    .venv/bin/python bench/comext_fault_drill.py [--months 6] [--rows 20000] [--fault-every 2]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from fake_comext import DRILL_FAULTS, FakeComext, month_archive  # noqa: E402
from pipeline.cli.parser import Parser


def run_drill(folder: Path, *, months: int = 4, rows: int = 3000, fault_every: int = 2, chunk_kb: int = 32,
              timeout_s: float = 0.3) -> dict:
    """The five fetches above in ``folder``; the figures and checks as a dict (``passed`` says it all)."""
    from pipeline.cli import main
    from pipeline.sources.comext.client.store import ComextRawStore

    periods = [202401 + i for i in range(months)]
    archives = {p: month_archive(folder / "served", p, rows, seed=p).read_bytes() for p in periods}
    names = {p: f"full_v2_{p}.7z" for p in periods}
    data = folder / "data"
    store = ComextRawStore.at(data)
    config = folder / "drill.json"
    config.write_text(json.dumps({"resources": {"comext_api": {"config": {
        "timeout_s": timeout_s, "max_attempts": 8, "backoff_base_s": 0.01, "backoff_max_s": 0.05,
        "max_retry_after_s": 5, "chunk_mb": chunk_kb / 1024, "requests_per_second": 0}}}}))
    first, last = (f"{p // 100}-{p % 100:02d}" for p in (periods[0], periods[-1]))
    steps: list[dict] = []
    started = time.perf_counter()
    with FakeComext(fault_every=fault_every) as fake:
        fake.faults.stall_s = timeout_s * 2
        for p in periods:
            fake.put(names[p], archives[p], f"{p // 100}-{p % 100 + 1:02d}-15T11:00:00")
        argv = ["--data-dir", str(data), "fetch", "comext", "--months", f"{first}..{last}",
                "--base-url", f"{fake.base}/files", "--config", str(config), "--no-progress"]

        def fetch(label: str) -> dict:
            before, t0 = len(fake.requests("download")), time.perf_counter()
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(argv)
            step = {"step": label, "exit": code, "downloads": len(fake.requests("download")) - before,
                    "seconds": round(time.perf_counter() - t0, 2),
                    # the summary line and the reason lines under it, not Dagster's tracebacks
                    "said": [line.strip() for line in err.getvalue().splitlines()
                             if re.match(r"geomon fetch|  \d{4}-\d{2}: ", line)]}
            steps.append(step)
            return step

        damaged, revised = periods[1], periods[0]
        fake.faults.corrupt = {names[damaged]: 1}
        one = fetch("faults everywhere, one month damaged")
        two = fetch("the damaged month again")
        held = (store.root / "bulk" / names[revised]).read_bytes()
        sidecar = store.sidecar.read_bytes()
        fake.put(names[revised], archives[revised], "2024-09-15T11:00:00")
        fake.faults.corrupt = {names[revised]: 1}
        three = fetch("a revision arrives damaged")
        untouched = (store.root / "bulk" / names[revised]).read_bytes() == held and store.sidecar.read_bytes() == sidecar
        four = fetch("the revision again")
        five = fetch("nothing changed")
        injected = dict(fake.faults_injected)
        requests = len(fake.requests("download"))
    stored_equal = all((store.root / "bulk" / names[p]).read_bytes() == archives[p] for p in periods)
    quarantined = sorted(store.quarantine.glob("*.7z"))
    reasons = [json.loads(q.with_name(q.name + ".reason.json").read_text())["reason"] for q in quarantined]
    named = lambda step, p: any(f"month {p // 100}-{p % 100:02d}" in s and names[p] in s for s in step["said"])  # noqa: E731
    checks = {
        "damaged month fails the first fetch, named": one["exit"] == 1 and named(one, damaged),
        "damaged month stored by the second fetch": two["exit"] == 0 and two["downloads"] > 0,
        "damaged revision fails, named": three["exit"] == 1 and named(three, revised),
        "held copy and _release.json untouched by it": untouched,
        "revision stored by the next fetch": four["exit"] == 0
        and store.held_bulk()[names[revised]]["last_modified"] == "2024-09-15T11:00:00",
        "no download when nothing changed": five["exit"] == 0 and five["downloads"] == 0,
        "stored files equal the served ones": stored_equal,
        "every fault kind injected": all(injected.get(k) for k in DRILL_FAULTS),
        "refused downloads quarantined with a reason": len(quarantined) == 2 and all(reasons),
    }
    return {"months": months, "rows_per_month": rows, "archive_bytes": sum(map(len, archives.values())),
            "chunk_kb": chunk_kb, "fault_every": fault_every, "timeout_s": timeout_s, "faults_injected": injected,
            "download_requests": requests, "steps": steps, "quarantine_reasons": reasons, "checks": checks,
            "wall_time_s": round(time.perf_counter() - started, 2), "passed": all(checks.values())}


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--rows", type=int, default=20000, help="rows per generated month (default 20000)")
    parser.add_argument("--fault-every", type=int, default=2, help="every n-th download request is faulted")
    parser.add_argument("--chunk-kb", type=int, default=64, help="bytes per range request, in KB (default 64)")
    parser.add_argument("--timeout", type=float, default=0.3, help="client timeout in seconds (default 0.3)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "comext_fault_drill.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="comext_drill_") as tmp:
        figures = run_drill(Path(tmp), months=args.months, rows=args.rows, fault_every=args.fault_every,
                            chunk_kb=args.chunk_kb, timeout_s=args.timeout)
    figures["run_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    figures["machine"] = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{figures['months']} months of {figures['rows_per_month']:,} rows ({figures['archive_bytes']:,} bytes of 7z), "
          f"{figures['download_requests']} download requests, faults injected {figures['faults_injected']}")
    for step in figures["steps"]:
        print(f"  {step['step']}: exit {step['exit']}, {step['downloads']} download request(s), {step['seconds']} s")
    for check, ok in figures["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {check}")
    print(f"{'PASSED' if figures['passed'] else 'FAILED'} in {figures['wall_time_s']} s; written to {out}")
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
