"""Measuring child processes: wall time, CPU time, peak RSS, an RSS timeline, the load around it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _rss_tree_bytes(pid: int) -> int:
    """RSS of a process and its descendants, from /proc (0 once it has exited)."""
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
    return total


@dataclass
class Measured:
    argv: list[str]
    returncode: int
    wall_s: float
    cpu_s: float             # user + system of the child and its waited-for descendants
    max_rss_bytes: int       # ru_maxrss of the child (largest single process), else the /proc peak
    polled_peak_rss_bytes: int
    load_before: list[float]
    load_after: list[float]
    started_at: float        # time.time() at spawn
    rss_timeline: list[tuple[float, int]] = field(default_factory=list)  # (time.time(), bytes)
    result: dict = field(default_factory=dict)  # what the child wrote to its --out file
    stderr_tail: str = ""

    def summary(self) -> dict:
        return {
            "wall_s": round(self.wall_s, 3), "cpu_s": round(self.cpu_s, 3),
            "peak_rss_mb": round(max(self.max_rss_bytes, self.polled_peak_rss_bytes) / 2**20, 1),
            "load_before": self.load_before, "load_after": self.load_after, "returncode": self.returncode,
        }

    def peak_between(self, start: float, end: float) -> int | None:
        """Peak RSS sampled in [start, end]; None when no sample fell inside (a step shorter than the poll)."""
        inside = [rss for t, rss in self.rss_timeline if start <= t <= end]
        return max(inside) if inside else None


def measure(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, out: Path | None = None,
            poll_s: float = 0.1, timeout_s: float | None = None, log: Path | None = None) -> Measured:
    """Run ``argv`` in a child process and measure it. ``out``: a JSON file the child writes."""
    if out is not None and out.exists():
        out.unlink()
    load_before = loadavg()
    stderr_path = log or Path(os.devnull)
    with open(stderr_path, "wb") as err:
        started_at = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=str(cwd), env={**os.environ, **(env or {})},
                                stdout=err, stderr=subprocess.STDOUT)
        timeline: list[tuple[float, int]] = []
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                timeline.append((time.time(), _rss_tree_bytes(proc.pid)))
                done.wait(poll_s)

        sampler = threading.Thread(target=poll, daemon=True)
        sampler.start()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()  # only our own child, by its pid
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = json.loads(out.read_text()) if out is not None and out.exists() else {}
    tail = ""
    if log is not None and log.exists():
        tail = log.read_text(errors="replace")[-3000:]
    return Measured(
        argv=argv, returncode=proc.returncode, wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_bytes=usage.ru_maxrss * 1024, polled_peak_rss_bytes=max((r for _, r in timeline), default=0),
        load_before=load_before, load_after=loadavg(), started_at=started_at, rss_timeline=timeline,
        result=result, stderr_tail=tail,
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    import duckdb  # noqa: PLC0415 (versions of what is measured)

    versions = {"python": platform.python_version(), "duckdb": duckdb.__version__}
    for name in ("polars", "pyarrow", "pandas", "numpy", "dagster"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(), "cpu_model": _cpu_model(), "ram_gb": round(mem / 2**30, 1),
        "platform": platform.platform(), "executable": sys.executable, "versions": versions,
        "load_at_start": loadavg(),
    }
