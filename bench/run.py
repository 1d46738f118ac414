"""The benchmark of issues 7 and 18: ``python -m bench.run [--scales 0.1 1 10]`` (``make bench``).

Per scale factor, in one run on one machine (each measurement in its own child process,
with wall time, CPU time, peak RSS and the load average before and after):

  gen    the demo world in Comtrade bulk format (``pipeline.demo_world``; not a target)
  stage  Comtrade bulk TSV -> one typed Parquet file of import flows (once; not a target)
  input floor  every landing file read once into a DuckDB table under the memory limit (Comext
         archives unpacked as the pipeline unpacks them; bench/input_floor.py); end to end over it
         is ``e2e_over_input_floor`` (issue 28)
  (d)    end to end: ``geomon run --sources landing`` on the demo files in <tmp>/landing,
         landing files to published snapshot, with every Dagster step's time and peak RSS
  (a)    the floor: bench/floor.sql on the Parquet (DECIMAL(38,3) sums like the pipeline;
         also with plain doubles), as CREATE TABLE in the run's warehouse file
  (b)    monitor.import_concentration's own SQL on the same file: like for like (Comtrade,
         HS6, partner scope 'all': the floor's rows) and in full (every level and scope)
  (c)    pandas (bench/pandas_baseline.py) and polars, lazily (bench/polars_baseline.py), on the
         Parquet: what an analyst would write instead; reported beside the mart, no target
  check  floor = mart (like for like), pandas = mart, polars = mart: same keys, |HHI diff| <= 1e-12
  profile every SQL model rebuilt with its build / metadata / checks timed apart and
         DuckDB's top operators; the Comtrade ingestion split into hashing, parsing, inserting

plus once: ``make run`` on the embedded default (fresh data folder), and with
``--refresh-scale S``: 10 years at scale S loaded, one year's files changed, rerun.

SF <= 1 is one year (2023) at that demo scale (scale 1.0 = ~9M Comtrade rows); SF > 1 is
that many years at scale 1.0. Results: bench/results/bench_<UTC time>.json and .md, the
markdown with every target of TARGETS and its verdict (bench/report.py).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from bench import queries
from bench.harness import Measured, loadavg, machine, measure
from pipeline.cli.parser import Parser
from pipeline.demo_world import files_of_year

BENCH_DIR = Path(__file__).resolve().parent
REPO_DEFAULT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
CHILD = BENCH_DIR / "child.py"
BASELINES = ("pandas", "polars")  # bench/child.py commands, run in this order after the queries

# Issue 18. pandas (and polars) are reported with no target: pandas was only 2.7x slower than
# the floor itself, so a ratio to it said nothing about this pipeline.
TARGETS = {
    "e2e_sf1_s": 60.0,                 # (d) at SF1, at most
    "e2e_sf1_rss_gb": 3.0,             # (d) at SF1, peak RSS below
    "refresh_over_single_year": 1.3,   # one changed year of ten / one year alone, wall and CPU, at most
    "mart_over_floor_sf1": 1.5,        # (b)/(a) like for like at SF1, at most
    "mart_full_over_floor_sf1": 4.0,   # the whole mart (all levels, both scopes)/(a) at SF1, at most
    "sf10_memory_limit": "2GB",        # (d) at SF10 under this DuckDB memory_limit ...
    "sf10_e2e_min": 12.0,              # ... completes in less than this
    "sf10_rss_gb": 3.0,                # ... with peak RSS below this
    "make_run_s": 15.0,                # `make run` on the embedded default, at most
    "e2e_over_input_floor": 3.0,       # issue 28: (d) over the input floor at SF1 and SF10, at most
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')} load {loadavg()[0]:.1f}] {msg}", file=sys.stderr, flush=True)


def sf_plan(sf: float) -> tuple[float, list[int]]:
    """(demo scale, years): SF <= 1 is one year at that scale; SF n > 1 is n years at scale 1."""
    if sf <= 1:
        return sf, [2023]
    if sf != int(sf):
        raise ValueError("scale factors above 1 are whole numbers of years at scale 1.0")
    return 1.0, list(range(2024 - int(sf), 2024))


def parse_memory_limits(items: list[str]) -> dict[str, str]:
    """['2GB'] -> {'*': '2GB'}; ['5=2GB'] -> {'5': '2GB'}."""
    out = {}
    for item in items:
        sf, _, limit = item.rpartition("=")
        out[_sf_key(float(sf)) if sf else "*"] = limit
    return out


def _sf_key(sf: float) -> str:
    return f"{sf:g}"


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def best(times: list[float]) -> float:
    return min(times) if times else float("nan")


class Bench:
    def __init__(self, args):
        self.args = args
        self.repo = Path(args.repo).resolve()
        self.python = args.python or sys.executable
        self.work = Path(args.workdir or tempfile.mkdtemp(prefix="geomon-bench-")).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.logs = self.work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.memory_limits = parse_memory_limits(args.memory_limit)

    # -------------------------------------------------------------- helpers
    def child(self, command: str, name: str, *extra: str, timeout_s: float | None = None) -> Measured:
        out = self.logs / f"{name}.json"
        argv = [self.python, str(CHILD), command, "--repo", str(self.repo), "--out", str(out), *extra]
        m = measure(argv, cwd=self.repo, out=out, log=self.logs / f"{name}.log", timeout_s=timeout_s)
        if m.returncode != 0:
            log(f"{name}: exit {m.returncode}; last output:\n{m.stderr_tail[-1500:]}")
        return m

    def memory_limit(self, sf: float) -> str:
        return self.memory_limits.get(_sf_key(sf), self.memory_limits.get("*", ""))

    def duck_args(self, sf: float, data: Path) -> list[str]:
        args = ["--temp-dir", str(data / "work" / "duckdb_tmp")]
        if self.memory_limit(sf):
            args += ["--memory-limit", self.memory_limit(sf)]
        if self.args.threads:
            args += ["--threads", str(self.args.threads)]
        return args

    def generate(self, landing: Path, scale: float, years: list[int], name: str, seed: int | None = None) -> dict:
        planted = landing / "planted.json"
        if self.args.reuse_landing and seed is None and planted.exists():
            manifest = json.loads(planted.read_text())
            if manifest.get("scale") == scale and manifest.get("years") == years:
                # the same world (default seed) from an earlier --keep run: the generator is deterministic
                log(f"{name}: reusing the demo world in {landing} (--reuse-landing)")
                return {"reused": str(landing), "rows_comtrade": manifest["rows"]["comtrade"],
                        "rows_comext": manifest["rows"]["comext"], "files": len(manifest["files"]),
                        "bytes": dir_bytes(landing), "wall_s": 0.0}
        argv = [self.python, "-m", "pipeline.demo_world", str(landing), "--scale", str(scale),
                "--years", *map(str, years), "--format", "bulk"]
        if seed is not None:
            argv += ["--seed", str(seed)]
        m = measure(argv, cwd=self.repo, log=self.logs / f"{name}.log")
        if m.returncode != 0:
            raise RuntimeError(f"demo generation failed:\n{m.stderr_tail}")
        manifest = json.loads((landing / "planted.json").read_text())
        return {**m.summary(), "rows_comtrade": manifest["rows"]["comtrade"],
                "rows_comext": manifest["rows"]["comext"], "files": len(manifest["files"]),
                "bytes": dir_bytes(landing)}

    def pipeline(self, data: Path, sf: float, name: str, sources: str = "landing", *extra: str) -> dict:
        argv = ["--data-dir", str(data), "--sources", sources, *extra]
        if self.memory_limit(sf):
            argv += ["--memory-limit", self.memory_limit(sf)]
        if self.args.threads:
            argv += ["--threads", str(self.args.threads)]
        m = self.child("pipeline", name, *argv, timeout_s=self.args.timeout_min * 60 if self.args.timeout_min else None)
        res = m.result
        steps = []
        for s in res.get("steps", []):
            start, end = s.get("start"), s.get("end")
            steps.append({
                "step": s["step"], "status": s.get("status", "?"),
                "duration_s": round(s.get("duration_s", (end or 0) - (start or 0)), 3),
                "peak_rss_mb": round(peak / 2**20, 1) if start and end and (peak := m.peak_between(start, end)) else None,
                **({"error": s["error"]} if "error" in s else {}),
                **({"within": s["within"]} if "within" in s else {}),
            })
        timed_out = bool(self.args.timeout_min) and m.wall_s >= self.args.timeout_min * 60
        return {**m.summary(), "success": bool(res.get("success")) and m.returncode == 0,
                **({"timed_out_after_min": self.args.timeout_min} if timed_out else {}),
                "import_s": round(res.get("import_s", 0), 3), "run_s": round(res.get("run_s", 0), 3),
                "failed_checks": res.get("failed_checks", []), "steps": steps}

    # -------------------------------------------------------------- one scale factor
    def run_scale(self, sf: float) -> dict:
        scale, years = sf_plan(sf)
        root = self.work / f"sf{_sf_key(sf)}"
        data = root / "data"
        landing = data / "landing"
        parquet = root / "comtrade_imports.parquet"
        out: dict = {"sf": sf, "demo_scale": scale, "years": years, "memory_limit": self.memory_limit(sf) or None,
                     "threads": self.args.threads or None, "repeats": self.args.repeats}
        key = _sf_key(sf)
        try:
            free = shutil.disk_usage(self.work).free
            log(f"SF{key}: generating the demo world (scale {scale}, years {years}); {free / 2**30:.0f} GB free")
            out["generate"] = self.generate(landing, scale, years, f"sf{key}_generate")
            if out["generate"].get("reused"):
                for leftover in data.iterdir():  # the earlier run's warehouse and publication: build afresh
                    if leftover.is_dir() and leftover != landing:
                        shutil.rmtree(leftover)
                    elif leftover.is_file():
                        leftover.unlink()
            log(f"SF{key}: {out['generate']['rows_comtrade']:,} Comtrade + {out['generate']['rows_comext']:,} "
                f"Comext rows, {out['generate']['bytes'] / 2**20:.0f} MB in {out['generate']['wall_s']:.0f} s")

            m = self.child("stage", f"sf{key}_stage", "--landing", str(landing), "--parquet", str(parquet))
            out["stage"] = {**m.summary(), **m.result}
            log(f"SF{key}: staged {m.result.get('rows', 0):,} import rows to Parquet in {m.wall_s:.1f} s")

            # the input floor (issue 28): every landing file read once into a DuckDB table, under the
            # pipeline's memory limit; its own scratch file, so the run's warehouse is not touched
            log(f"SF{key}: input floor (every landing file read once into a DuckDB file)")
            m = self.child("input_floor", f"sf{key}_input_floor", "--landing", str(landing),
                           "--db", str(root / "input_floor.duckdb"), *self.duck_args(sf, data))
            out["input_floor"] = {**m.summary(), **m.result}
            log(f"SF{key}: input floor {m.result.get('rows', 0):,} rows in {m.result.get('total_s', float('nan')):.1f} s")

            log(f"SF{key}: (d) geomon run --sources landing")
            e2e = self.pipeline(data, sf, f"sf{key}_e2e")
            rows_in = out["generate"]["rows_comtrade"] + out["generate"]["rows_comext"]
            e2e["rows_per_s"] = round(rows_in / e2e["wall_s"])
            out["e2e"] = e2e
            floor_s = out["input_floor"].get("total_s")
            out["e2e_over_input_floor"] = round(e2e["wall_s"] / floor_s, 2) if floor_s and e2e["success"] else None
            log(f"SF{key}: e2e {'OK' if e2e['success'] else 'FAILED'} in {e2e['wall_s']:.1f} s, "
                f"peak RSS {e2e['peak_rss_mb']:.0f} MB, {out['e2e_over_input_floor']}x the input floor")
            db = data / "work" / "warehouse.duckdb"
            if not e2e["success"] or not db.exists():
                out["error"] = "pipeline run failed: " + json.dumps(e2e.get("failed_checks")) + \
                    "".join(s.get("error", "") for s in e2e["steps"])[-2000:]
                return out
            out["tables"] = self.table_rows(db)
            for step in e2e["steps"]:
                rows = out["tables"].get(step["step"].replace("__", "."))
                if rows and step["duration_s"]:
                    step["rows"] = rows
                    step["rows_per_s"] = round(rows / step["duration_s"])

            if self.args.e2e_only:
                return out
            duck = self.duck_args(sf, data)
            reps = ["--repeats", str(self.args.repeats)]
            for name in ("floor", "floor_double", "mart_hs6_columns", "mart_hs6", "mart_full"):
                log(f"SF{key}: query {name} x{self.args.repeats}")
                m = self.child("query", f"sf{key}_{name}", "--db", str(db), "--parquet", str(parquet),
                               "--name", name, *reps, *duck)
                r = m.result
                t = best(r.get("times_s", []))
                out[name] = {**m.summary(), "times_s": [round(x, 3) for x in r.get("times_s", [])],
                             "best_s": round(t, 3), "median_s": round(statistics.median(r["times_s"]), 3) if r.get("times_s") else None,
                             "rows_out": r.get("rows"), "rows_in": r.get("input_rows"),
                             "rows_per_s": round(r["input_rows"] / t) if r.get("input_rows") and t == t else None}

            for lib in BASELINES:
                # no result file from an earlier run (--keep) may stand in for a skipped or failed one
                (root / f"{lib}_result.parquet").unlink(missing_ok=True)
                if getattr(self.args, f"skip_{lib}"):
                    out[lib] = {"skipped": f"--skip-{lib}"}
                    continue
                log(f"SF{key}: {lib} x{self.args.repeats}")
                m = self.child(lib, f"sf{key}_{lib}", "--parquet", str(parquet),
                               "--result", str(root / f"{lib}_result.parquet"), *reps)
                r = m.result
                if r.get("times_s"):
                    t = best(r["times_s"])
                    details = {k: r[k] for k in ("pandas", "string_dtype", "polars", "threads") if k in r}
                    out[lib] = {**m.summary(), "times_s": [round(x, 3) for x in r["times_s"]],
                                "best_s": round(t, 3), "median_s": round(statistics.median(r["times_s"]), 3),
                                "rows_out": r["rows"], "rows_in": out["stage"].get("rows"),
                                "rows_per_s": round(out["stage"]["rows"] / t), **details}
                else:
                    out[lib] = {**m.summary(), "error": m.stderr_tail[-1500:]}

            out["checks"] = self.compare(db, {lib: root / f"{lib}_result.parquet" for lib in BASELINES})
            out["ratios"] = self.ratios(out)
            log(f"SF{key}: ratios {out['ratios']}; same rows: {out['checks'].get('same_rows')}")

            if not self.args.no_profile:
                log(f"SF{key}: profile (models, checks, ingestion)")
                m = self.child("profile", f"sf{key}_profile", "--db", str(db),
                               "--plans-dir", str(root / "plans"), *duck)
                out["profile"] = {**m.summary(), **m.result}
                m = self.child("ingest", f"sf{key}_ingest", "--landing", str(landing), *duck)
                out["ingest_profile"] = {**m.summary(), **m.result}
            return out
        finally:
            if not self.args.keep:
                shutil.rmtree(root, ignore_errors=True)

    def table_rows(self, db: Path) -> dict[str, int]:
        con = duckdb.connect(str(db), read_only=True)
        try:
            # raw.comtrade_records is a view over Parquet files
            names = con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() "
                                "WHERE schema_name IN ('raw', 'staging', 'monitor') UNION ALL "
                                "SELECT schema_name || '.' || view_name FROM duckdb_views() "
                                "WHERE schema_name = 'raw' AND NOT internal").fetchall()
            return {n: con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0] for (n,) in names}
        finally:
            con.close()

    def compare(self, db: Path, baseline_results: dict[str, Path]) -> dict:
        con = duckdb.connect(str(db), read_only=True)
        try:
            cols = ", ".join(queries.KEY + queries.MEASURES)
            mart = f"SELECT {cols} FROM bench.mart_hs6"
            checks = {
                "floor_vs_mart": queries.compare(con, f"SELECT {cols} FROM bench.floor", mart),
                "floor_vs_mart_columns": queries.compare(con, f"SELECT {cols} FROM bench.floor",
                                                         f"SELECT {cols} FROM bench.mart_hs6_columns"),
                "floor_double_vs_mart": queries.compare(con, f"SELECT {cols} FROM bench.floor_double", mart),
                "mart_hs6_vs_mart_full": queries.compare(
                    con, mart, f"SELECT {cols} FROM bench.mart_full WHERE source = 'comtrade' "
                    "AND product_level = 'HS6' AND partner_scope = 'all'"),
            }
            # a baseline that failed or was skipped left no file: nothing to compare
            for lib, result in baseline_results.items():
                if result.exists():
                    checks[f"{lib}_vs_mart"] = queries.compare(
                        con, f"SELECT {cols} FROM read_parquet({queries.sql_string(result)})", mart)
        finally:
            con.close()
        checks["same_rows"] = {
            "floor_vs_mart": queries.same_rows(checks["floor_vs_mart"]),
            "floor_vs_mart_columns": queries.same_rows(checks["floor_vs_mart_columns"]),
            "floor_double_vs_mart": queries.same_rows(checks["floor_double_vs_mart"], value_tol=1e-9),
            "mart_hs6_vs_mart_full": queries.same_rows(checks["mart_hs6_vs_mart_full"], hhi_tol=0, value_tol=0),
            # the baselines sum doubles, the mart DECIMAL(38, 3): values agree to 1e-9, HHI to 1e-12
            **{f"{lib}_vs_mart": queries.same_rows(checks[f"{lib}_vs_mart"], value_tol=1e-9)
               for lib in baseline_results if f"{lib}_vs_mart" in checks},
        }
        return checks

    @staticmethod
    def ratios(out: dict) -> dict:
        def r(a, b):
            return round(a / b, 2) if a and b else None

        # like for like: the mart's SQL giving the floor's rows and columns; the mart's own rows
        # (every column) are timed too, and compared with the same floor
        floor, mart = out["floor"].get("best_s"), out["mart_hs6_columns"].get("best_s")
        return {
            "mart_over_floor": r(mart, floor),
            "mart_all_columns_over_floor": r(out["mart_hs6"].get("best_s"), floor),
            "mart_over_floor_double": r(mart, out["floor_double"].get("best_s")),
            "mart_full_over_floor": r(out["mart_full"].get("best_s"), floor),
            "mart_full_over_mart_hs6": r(out["mart_full"].get("best_s"), mart),
            **{f"{lib}_over_{ref}": r(out.get(lib, {}).get("best_s"), t)
               for lib in BASELINES for ref, t in (("mart", mart), ("floor", floor))},
        }

    # -------------------------------------------------------------- once per invocation
    def make_run(self) -> dict:
        """`make run`: all default sources (sample, demo at its default scale, landing) on a fresh folder."""
        data = self.work / "make_run" / "data"
        try:
            log("make run: geomon run on the embedded default, fresh data folder")
            res = self.pipeline(data, 0, "make_run", "sample,demo,landing")
            log(f"make run: {'OK' if res['success'] else 'FAILED'} in {res['wall_s']:.1f} s")
            return res
        finally:
            if not self.args.keep:
                shutil.rmtree(data.parent, ignore_errors=True)

    def refresh(self, scale: float, single_year: dict | None) -> dict:
        """10 years at ``scale`` loaded; one year's files change (another seed); rerun."""
        root = self.work / f"refresh{_sf_key(scale)}"
        data, landing = root / "data", root / "data" / "landing"
        years = list(range(2015, 2025))
        changed = years[-1]
        out: dict = {"scale": scale, "years": years, "changed_year": changed}
        try:
            log(f"refresh: generating {len(years)} years at scale {scale}")
            out["generate"] = self.generate(landing, scale, years, "refresh_generate")
            out["initial"] = self.pipeline(data, scale, "refresh_initial")
            log(f"refresh: initial load {out['initial']['wall_s']:.1f} s")
            alt = root / "changed"
            self.generate(alt, scale, [changed], "refresh_generate_changed", seed=20261129)
            # by the year in the name: a bulk file's name also holds its release date, a year later
            for path in files_of_year(landing, changed):
                path.unlink()
            for path in files_of_year(alt, changed):
                shutil.copy2(path, landing / path.parent.name / path.name)
            out["refresh"] = self.pipeline(data, scale, "refresh_rerun")
            log(f"refresh: rerun after one changed year {out['refresh']['wall_s']:.1f} s")
            if single_year is None:
                sroot = root / "single"
                self.generate(sroot / "data" / "landing", scale, [changed], "refresh_single_generate")
                single_year = self.pipeline(sroot / "data", scale, "refresh_single")
            out["single_year"] = {k: single_year[k] for k in ("wall_s", "cpu_s", "peak_rss_mb", "load_before", "load_after")}
            out["refresh_over_single_year"] = round(out["refresh"]["wall_s"] / single_year["wall_s"], 2)
            # CPU seconds are less sensitive than wall time to what else runs on the machine
            out["refresh_over_single_year_cpu"] = round(out["refresh"]["cpu_s"] / single_year["cpu_s"], 2)
            return out
        finally:
            if not self.args.keep:
                shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.1],
                        help="scale factors (SF1 = one year, ~9M Comtrade rows; SF5 = five such years)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each query / baseline (best is used)")
    # 2 GB everywhere by default: the pipeline's own default (pipeline.resources.Warehouse), so the queries and
    # the profile run as the pipeline does; without it the SF1 profile took DuckDB's 80% of RAM and was killed
    parser.add_argument("--memory-limit", nargs="*", default=["2GB"],
                        help="DuckDB memory_limit for the pipeline and the queries: LIMIT for every scale or "
                             "SF=LIMIT for one (default: 2GB, the pipeline's own; SF10 under 2 GB is a target)")
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: one per core)")
    parser.add_argument("--repo", default=str(REPO_DEFAULT), help="checkout whose pipeline is measured")
    parser.add_argument("--python", help="interpreter for the children (default: this one)")
    parser.add_argument("--workdir", help="where demo files and databases go (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--reuse-landing", action="store_true",
                        help="with --workdir: use the demo files an earlier --keep run left there (same scale and "
                             "years) instead of generating them again (SF10: 6 minutes, 16 GB)")
    parser.add_argument("--no-make-run", action="store_true", help="skip the `make run` measurement")
    parser.add_argument("--no-profile", action="store_true", help="skip the per-model and ingestion profiles")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--skip-polars", action="store_true")
    parser.add_argument("--timeout-min", type=float, help="stop a pipeline run (and call it failed) after this long")
    parser.add_argument("--e2e-only", action="store_true", help="per scale: generate and (d) only (for SF5)")
    parser.add_argument("--refresh-scale", type=float,
                        help="also measure a one-year refresh with 10 years loaded at this demo scale")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--label", help="what is measured, when --repo is not a git checkout")
    args = parser.parse_args(argv)

    bench = Bench(args)
    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"issue": 18, "machine": machine(), "repo": str(bench.repo), "code": code_version(bench.repo),
                    "targets": TARGETS, "args": vars(args), "work_dir": str(bench.work), "scales": {}}
    log(f"work folder {bench.work}; repo {bench.repo}; results -> {results_dir}")
    out_json = results_dir / f"bench_{bench.stamp}.json"
    try:
        for sf in args.scales:
            report["scales"][_sf_key(sf)] = bench.run_scale(sf)
            out_json.write_text(json.dumps(report, indent=1, default=str))
        if not args.no_make_run:
            report["make_run"] = bench.make_run()
        if args.refresh_scale:
            single = report["scales"].get(_sf_key(args.refresh_scale), {}).get("e2e")
            report["refresh"] = bench.refresh(args.refresh_scale, single if single and single.get("success") else None)
    finally:
        report["machine"]["load_at_end"] = loadavg()
        out_json.write_text(json.dumps(report, indent=1, default=str))
        if not args.keep and not args.workdir:
            shutil.rmtree(bench.work, ignore_errors=True)
    from bench.report import markdown, verdicts  # noqa: PLC0415

    report["verdicts"] = verdicts(report)
    out_json.write_text(json.dumps(report, indent=1, default=str))
    text = markdown(report)
    out_json.with_suffix(".md").write_text(text)
    print(text)
    log(f"results: {out_json} and {out_json.with_suffix('.md')}")
    return 0


def code_version(repo: Path) -> dict:
    """The commit measured and whether the working tree differed from it."""
    import subprocess  # noqa: PLC0415

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(repo), *a], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD") or None,
            "dirty_files": [line[3:] for line in git("status", "--porcelain").splitlines()
                            if not line[3:].startswith("bench/")] or None}


if __name__ == "__main__":
    raise SystemExit(main())
