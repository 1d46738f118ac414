"""The markdown for the README from a bench/results/bench_*.json report: every target with its
verdict (met, missed by how much, or not measured), then the measurements per scale and the steps.

    python -m bench.report bench/results/bench_<stamp>.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _f(x, fmt="{:.1f}", none="–"):
    return none if x is None else fmt.format(x)


def _rate(x):
    if not x:
        return "–"
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.0f}k"


def _load(m: dict) -> str:
    return f"{m.get('load_before', ['?'])[0]}/{m.get('load_after', ['?'])[0]}"


def _cell(m: dict | None, time_key: str = "best_s") -> str:
    """'12.3 s, 456k rows/s, 789 MB (load 2.1/2.3)'."""
    if not m:
        return "–"
    if m.get("skipped"):
        return "skipped"
    if "error" in m and time_key not in m:
        return "failed"
    t = m.get(time_key, m.get("wall_s"))
    return (f"{_f(t, '{:.2f}' if t is not None and t < 10 else '{:.1f}')} s, {_rate(m.get('rows_per_s'))} rows/s, {_f(m.get('peak_rss_mb'), '{:.0f}')} MB "
            f"(load {_load(m)})")


def markdown(report: dict) -> str:
    mach = report["machine"]
    scales = report["scales"]
    keys = list(scales)
    code = report.get("code") or {}
    targets = _targets(report)
    versions = mach["versions"]
    lines = [
        f"Benchmark of {mach['date_utc']} on {mach['nproc']} cores ({mach['cpu_model']}), {mach['ram_gb']} GB RAM; "
        f"load average (1 min) {mach['load_at_start'][0]} at start, {mach.get('load_at_end', ['?'])[0]} at end; "
        f"DuckDB {versions['duckdb']}, pandas {versions.get('pandas')}, polars {versions.get('polars')}, "
        f"Python {versions['python']}; code {(code.get('commit') or report.get('args', {}).get('label') or '?')[:12]}"
        + (" + uncommitted changes" if code.get("dirty_files") else "") + ".",
        "Times are wall seconds (queries, pandas and polars: best of "
        f"{report['args'].get('repeats')}); rows/s on the rows each step reads; peak RSS of the measuring "
        "process; (load a/b) = 1-minute load average before/after that measurement.",
        "",
        *target_table(report),
        "",
        "| | " + " | ".join(f"SF{k}" for k in keys) + " | target |",
        "|---|" + "---|" * len(keys) + "---|",
    ]

    def row(label: str, cells: list[str], target: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")

    get = lambda k, *path: _dig(scales[k], *path)  # noqa: E731
    ratio = lambda name: [_f(get(k, "ratios", name), "{:.2f}") for k in keys]  # noqa: E731
    row("input rows (Comtrade + Comext)", [
        f"{_f(get(k, 'generate', 'rows_comtrade'), '{:,}')} + {_f(get(k, 'generate', 'rows_comext'), '{:,}')}"
        for k in keys])
    row("staged Parquet (Comtrade import rows)", [_f(get(k, "stage", "rows"), "{:,}") for k in keys])
    row("(a) floor: hand-written HHI query, DECIMAL", [_cell(get(k, "floor")) for k in keys])
    row("(a') floor with DOUBLE sums", [_cell(get(k, "floor_double")) for k in keys])
    row("(b) mart SQL like for like (Comtrade, HS6, scope all; the floor's columns)",
        [_cell(get(k, "mart_hs6_columns")) for k in keys])
    row("(b') mart SQL, the same rows with all 24 of its columns", [_cell(get(k, "mart_hs6")) for k in keys])
    row("(b*) the whole mart SQL (HS6/4/2/domain, all + extra-EU)", [_cell(get(k, "mart_full")) for k in keys])
    row("import_concentration Dagster step of (d) (build + checks)", [
        _f(_step(scales[k], "monitor__import_concentration", "duration_s")) + " s, "
        + _f(_step(scales[k], "monitor__import_concentration", "peak_rss_mb"), "{:.0f}") + " MB" for k in keys])
    row("(b)/(a) like for like", ratio("mart_over_floor"), f"<= {targets['mart_over_floor_sf1']} at SF1")
    row("(b')/(a) all columns", ratio("mart_all_columns_over_floor"))
    row("(b*)/(a) the whole mart", ratio("mart_full_over_floor"), f"<= {targets['mart_full_over_floor_sf1']} at SF1")
    row("(c) pandas (bench/pandas_baseline.py)", [_cell(get(k, "pandas")) for k in keys])
    row("(c') polars, lazy (bench/polars_baseline.py)", [_cell(get(k, "polars")) for k in keys])
    row("(c)/(b), (c)/(a): pandas over mart, over floor", [
        f"{_f(get(k, 'ratios', 'pandas_over_mart'), '{:.2f}')}, {_f(get(k, 'ratios', 'pandas_over_floor'), '{:.2f}')}"
        for k in keys], "none (retired)")
    row("(c')/(b), (c')/(a): polars over mart, over floor", [
        f"{_f(get(k, 'ratios', 'polars_over_mart'), '{:.2f}')}, {_f(get(k, 'ratios', 'polars_over_floor'), '{:.2f}')}"
        for k in keys], "none")
    row("same rows as the mart: floor, pandas, polars (HHI to 1e-12)", [
        _same(get(k, "checks", "same_rows")) for k in keys])
    row("(d) end to end `geomon run`, landing -> snapshot", [
        ("FAILED " if not get(k, "e2e", "success") else "")
        + f"{_f(get(k, 'e2e', 'wall_s'))} s (CPU {_f(get(k, 'e2e', 'cpu_s'))} s), "
        f"{_rate(get(k, 'e2e', 'rows_per_s'))} rows/s, {_f(get(k, 'e2e', 'peak_rss_mb'), '{:.0f}')} MB "
        f"(load {_load(get(k, 'e2e') or {})})" + (f", memory_limit {scales[k]['memory_limit']}" if scales[k].get("memory_limit") else "")
        for k in keys],
        f"SF1 <= {targets['e2e_sf1_s']:.0f} s, < {targets['e2e_sf1_rss_gb']:g} GB; SF10 with "
        f"{targets['sf10_memory_limit']} < {targets['sf10_e2e_min']:g} min, < {targets['sf10_rss_gb']:g} GB")
    row("input floor: every landing file read once into a DuckDB table (Comext unpacked + Comtrade)", [
        f"{_f(get(k, 'input_floor', 'total_s'))} s (CPU {_f(get(k, 'input_floor', 'cpu_s'))} s; Comext "
        f"{_f(get(k, 'input_floor', 'comext', 'unpack_s'))} s unpack + {_f(get(k, 'input_floor', 'comext', 'read_s'))} s "
        f"read, Comtrade {_f(get(k, 'input_floor', 'comtrade', 'read_s'))} s), "
        f"{_f(get(k, 'input_floor', 'rows'), '{:,}')} rows, {_f(get(k, 'input_floor', 'peak_rss_mb'), '{:.0f}')} MB "
        f"(load {_load(get(k, 'input_floor') or {})})" for k in keys])
    row("(d) end to end / input floor", [_f(get(k, "e2e_over_input_floor"), "{:.2f}") for k in keys],
        f"<= {targets.get('e2e_over_input_floor', '–')} at SF1 and SF10")
    row("Comtrade files -> typed Parquet (raw.comtrade_records, fresh cache; then all cached)", [
        _cell(get(k, "ingest_profile"), "sync_s") + f"; cached {_f(get(k, 'ingest_profile', 'sync_cached_s'), '{:.2f}')} s"
        for k in keys])
    lines += ["", *step_table(report)]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- targets

def _targets(report: dict) -> dict:
    """The report's targets; one written before a target existed is judged against today's value of it."""
    from bench.run import TARGETS  # noqa: PLC0415 (run.py imports this module)

    return {**TARGETS, **report["targets"]}


def _over(value: float, limit: float, *, strict: bool = False, unit: str = "", fmt: str = "{:.1f}") -> str:
    """'met', or '**missed** by <value - limit><unit> (<n>% over)'; ``strict``: the target is value < limit."""
    if value < limit or (value == limit and not strict):
        return "met"
    return f"**missed** by {fmt.format(value - limit)}{unit} ({value / limit - 1:.0%} over)"


def _elsewhere(scales: dict, show) -> str:
    """What the scales of this run measured instead, e.g. 'this run: SF0.1 21.5 s'."""
    cells = []
    for k, s in scales.items():
        try:
            cells.append(f"SF{k} {show(s)}")
        except (KeyError, TypeError):
            continue
    return "this run: " + ", ".join(cells) if cells else "–"


def sf30_estimate(scales: dict) -> dict | None:
    """A linear extrapolation of the end-to-end wall time to SF30 from the scales that completed.

    Only SF >= 1 when the run has any: below that, start-up and fixed work dominate. Two or more
    scale factors: the least-squares line wall = fixed + per_sf * SF (the fixed part is start-up
    and work that does not grow with the data). One: proportional to it, which scales the fixed
    part too. None when no end-to-end run succeeded.
    """
    points = sorted((s["sf"], s["e2e"]["wall_s"]) for s in scales.values() if (s.get("e2e") or {}).get("success"))
    if not points:
        return None
    caveat = ""
    if any(sf >= 1 for sf, _ in points):
        points = [(sf, wall) for sf, wall in points if sf >= 1]
    else:
        caveat = "; only scales below SF1, where fixed costs dominate: far off"
    sfs = {sf for sf, _ in points}
    if len(sfs) == 1:
        sf, wall = points[0]
        return {"sf30_s": wall * 30 / sf, "from": [sf], "method": f"proportional to SF{sf:g}{caveat}"}
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    per_sf = (sum((x - mean_x) * (y - mean_y) for x, y in points)
              / sum((x - mean_x) ** 2 for x, _ in points))
    fixed = mean_y - per_sf * mean_x
    return {"sf30_s": fixed + per_sf * 30, "from": sorted(sfs), "fixed_s": fixed, "per_sf_s": per_sf,
            "method": f"least-squares line {fixed:.1f} s + {per_sf:.1f} s per SF{caveat}"}


def verdicts(report: dict) -> list[dict]:
    """Every target of issue 18 with what this run measured and the verdict: 'met', '**missed** by
    how much', or 'not measured' and why (a scale the run did not include is not a pass)."""
    t, scales = _targets(report), report["scales"]
    out: list[dict] = []

    def add(target: str, measured: str, verdict: str) -> None:
        out.append({"target": target, "measured": measured, "verdict": verdict})

    # --- SF1 end to end
    sf1 = scales.get("1")
    e2e1 = (sf1 or {}).get("e2e")
    wall_target = f"SF1 end to end (landing files to verified snapshot) <= {t['e2e_sf1_s']:g} s"
    rss_target = f"SF1 end to end, peak RSS < {t['e2e_sf1_rss_gb']:g} GB"
    if not e2e1:
        why = "not measured: " + ("no SF1 in this run" if not sf1 else "SF1 stopped before (d)")
        add(wall_target, _elsewhere(scales, lambda s: f"{s['e2e']['wall_s']:.1f} s"), why)
        add(rss_target, _elsewhere(scales, lambda s: f"{s['e2e']['peak_rss_mb'] / 1024:.2f} GB"), why)
    else:
        failed = "" if e2e1["success"] else "FAILED after "
        add(wall_target, f"{failed}{e2e1['wall_s']:.1f} s (CPU {e2e1['cpu_s']:.1f} s, load {_load(e2e1)})",
            _over(e2e1["wall_s"], t["e2e_sf1_s"], unit=" s") if e2e1["success"] else "**missed**: the run failed")
        rss = e2e1["peak_rss_mb"] / 1024
        add(rss_target, f"{rss:.2f} GB", _over(rss, t["e2e_sf1_rss_gb"], strict=True, unit=" GB", fmt="{:.2f}"))

    # --- end to end over the input floor (issue 28), at SF1 and SF10
    if "e2e_over_input_floor" in t:
        for key in ("1", "10"):
            scale = scales.get(key) or {}
            target = f"end to end <= {t['e2e_over_input_floor']:g}x the input floor at SF{key}"
            value, floor = scale.get("e2e_over_input_floor"), scale.get("input_floor") or {}
            if value is None:
                add(target, _elsewhere(scales, lambda s: f"{s['e2e_over_input_floor']:.2f}x"),
                    f"not measured: no successful SF{key} end to end with its input floor in this run")
            else:
                add(target, f"{value:.2f}x: {scale['e2e']['wall_s']:.1f} s vs {floor['total_s']:.1f} s "
                    f"({floor['rows']:,} rows)", _over(value, t["e2e_over_input_floor"], unit="x", fmt="{:.2f}"))

    # --- refresh
    rf = report.get("refresh")
    for kind, key in (("wall", "refresh_over_single_year"), ("CPU", "refresh_over_single_year_cpu")):
        target = f"refresh, one changed year of ten <= {t['refresh_over_single_year']:g}x a single-year run ({kind})"
        if not rf:
            add(target, "–", "not measured: no --refresh-scale")
        elif key not in rf:
            add(target, "–", "**missed**: the refresh measurement did not finish")
        else:
            field = "wall_s" if kind == "wall" else "cpu_s"
            ok = rf["initial"]["success"] and rf["refresh"]["success"]
            add(target, f"{rf[key]:.2f}x: {rf['refresh'][field]:.1f} s vs {rf['single_year'][field]:.1f} s "
                f"(demo scale {rf['scale']:g}, load {_load(rf['refresh'])} vs {_load(rf['single_year'])})",
                _over(rf[key], t["refresh_over_single_year"], unit="x", fmt="{:.2f}") if ok
                else "**missed**: a pipeline run failed")

    # --- the mart against the floor, at SF1
    for name, same, target in (
        ("mart_over_floor", "floor_vs_mart_columns",
         f"import_concentration like for like <= {t['mart_over_floor_sf1']:g}x the floor at SF1"),
        ("mart_full_over_floor", "mart_hs6_vs_mart_full",
         f"the whole import_concentration (all levels, both scopes) <= {t['mart_full_over_floor_sf1']:g}x "
         "the floor at SF1"),
    ):
        limit = t["mart_over_floor_sf1" if name == "mart_over_floor" else "mart_full_over_floor_sf1"]
        value = _dig(sf1, "ratios", name)
        if value is None:
            add(target, _elsewhere(scales, lambda s, n=name: f"{s['ratios'][n]:.2f}x"),
                "not measured: " + ("no SF1 in this run" if not sf1 else "no queries at SF1"))
        elif not _dig(sf1, "checks", "same_rows", same):
            add(target, f"{value:.2f}x", f"**missed**: the rows differ ({same})")
        else:
            add(target, f"{value:.2f}x", _over(value, limit, unit="x", fmt="{:.2f}"))

    # --- SF10 under the memory limit
    sf10 = scales.get("10")
    e2e10 = (sf10 or {}).get("e2e")
    lim = t["sf10_memory_limit"]
    targets10 = (f"SF10 end to end with DuckDB memory_limit {lim}: completes",
                 f"SF10 end to end with memory_limit {lim} < {t['sf10_e2e_min']:g} min",
                 f"SF10 end to end with memory_limit {lim}, peak RSS < {t['sf10_rss_gb']:g} GB")
    if not e2e10 or sf10.get("memory_limit") != lim:
        why = ("not measured: no SF10 in this run" if not sf10 else "not measured: SF10 stopped before (d)"
               if not e2e10 else f"not measured: SF10 ran with memory_limit {sf10.get('memory_limit')}")
        for target in targets10:
            add(target, "–", why)
    else:
        done = e2e10["success"]
        timed_out = f" (stopped after {e2e10['timed_out_after_min']:g} min)" if e2e10.get("timed_out_after_min") else ""
        add(targets10[0], ("completed" if done else "FAILED") + timed_out, "met" if done else "**missed**")
        minutes = e2e10["wall_s"] / 60
        add(targets10[1], f"{minutes:.1f} min (CPU {e2e10['cpu_s'] / 60:.1f} min, load {_load(e2e10)})",
            _over(minutes, t["sf10_e2e_min"], strict=True, unit=" min") if done else "**missed**: the run failed")
        rss = e2e10["peak_rss_mb"] / 1024
        add(targets10[2], f"{rss:.2f} GB", _over(rss, t["sf10_rss_gb"], strict=True, unit=" GB", fmt="{:.2f}"))

    # --- SF30: an estimate, not a measurement
    est = sf30_estimate(scales)
    add("SF30 end to end: estimated, stated (no limit)",
        "not estimated: no end-to-end run completed" if est is None else
        f"about {est['sf30_s'] / 60:.0f} min ({est['sf30_s']:.0f} s): a linear extrapolation "
        f"from SF{', SF'.join(f'{x:g}' for x in est['from'])} ({est['method']}), not a measurement",
        "estimate")

    # --- make run
    mr = report.get("make_run")
    target = f"`make run` on the embedded default (fresh data folder) <= {t['make_run_s']:g} s"
    if not mr:
        add(target, "–", "not measured: --no-make-run")
    else:
        add(target, ("" if mr["success"] else "FAILED after ") + f"{mr['wall_s']:.1f} s (CPU {mr['cpu_s']:.1f} s, "
            f"{mr['peak_rss_mb']:.0f} MB, load {_load(mr)})",
            _over(mr["wall_s"], t["make_run_s"], unit=" s") if mr["success"] else "**missed**: the run failed")

    # --- the analysts' baselines: reported, no target
    for lib in ("pandas", "polars"):
        def show(s, lib=lib):
            if s[lib].get("skipped"):
                return "skipped"
            if s[lib].get("best_s") is None:
                return "failed"
            same = _dig(s, "checks", "same_rows", f"{lib}_vs_mart")
            return (f"{s[lib]['best_s']:.2f} s = {_f(s['ratios'][f'{lib}_over_mart'], '{:.2f}')}x the mart, "
                    f"{_f(s['ratios'][f'{lib}_over_floor'], '{:.2f}')}x the floor"
                    + ("" if same else ", **rows differ from the mart**"))
        add(f"{lib} baseline on the same rows: reported beside the mart and the floor",
            _elsewhere(scales, show).removeprefix("this run: "),
            "no target" + (" (the pandas target is retired, issue 18)" if lib == "pandas" else ""))
    return out


def target_table(report: dict) -> list[str]:
    lines = ["Targets (issue 18), from this run only (see the load averages):", "",
             "| target | measured | verdict |", "|---|---|---|"]
    for v in verdicts(report):  # recomputed: the JSON's copy is what the run itself said
        lines.append(f"| {v['target']} | {v['measured']} | {v['verdict']} |")
    return lines


def step_table(report: dict) -> list[str]:
    scales = report["scales"]
    keys = [k for k in scales if scales[k].get("e2e", {}).get("steps")]
    if not keys:
        return []
    order: list[str] = []
    for k in keys:
        for s in scales[k]["e2e"]["steps"]:
            if s["step"] not in order:
                order.append(s["step"])
    lines = ["Dagster steps of (d) (wall s, peak RSS MB during the step; profile = the same model rebuilt "
             "alone on the finished warehouse, DuckDB profiler on: build / metadata+preview / checks, s):", "",
             "| step | " + " | ".join(f"SF{k}" for k in keys) + " |", "|---|" + "---|" * len(keys)]
    for name in order:
        cells = []
        for k in keys:
            s = next((x for x in scales[k]["e2e"]["steps"] if x["step"] == name), None)
            if s is None:
                cells.append("–")
                continue
            cell = f"{s['duration_s']:.1f} s, {_f(s.get('peak_rss_mb'), '{:.0f}')} MB"
            prof = next((m for m in scales[k].get("profile", {}).get("models", [])
                         if m["table"] == name.replace("__", ".")), None)
            if prof:
                cell += (f" ({prof['build_s']:.1f} / {prof['metadata_s']:.1f} / "
                         f"{sum(prof['checks_s'].values()):.1f})")
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    overhead = []
    for k in keys:
        e = scales[k]["e2e"]
        overhead.append(f"{e['wall_s'] - sum(s['duration_s'] for s in e['steps'] if 'within' not in s):.1f} s "
                        f"(imports {e['import_s']:.1f} s)")
    lines.append("| outside steps (start-up, Dagster, summary) | " + " | ".join(overhead) + " |")
    return lines


def _dig(d, *path):
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _step(scale: dict, step: str, field: str):
    for s in (scale.get("e2e") or {}).get("steps", []):
        if s["step"] == step:
            return s.get(field)
    return None


def _same(same: dict | None) -> str:
    if not same:
        return "–"
    bad = [k for k, v in same.items() if not v]
    return "yes" if not bad else "**NO**: " + ", ".join(bad)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
