"""The markdown tables for the README, from a bench/results/bench_*.json report.

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


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def markdown(report: dict) -> str:
    mach = report["machine"]
    scales = report["scales"]
    keys = list(scales)
    code = report.get("code") or {}
    lines = [
        f"Benchmark of {mach['date_utc']} on {mach['nproc']} cores ({mach['cpu_model']}), {mach['ram_gb']} GB RAM; "
        f"load average (1 min) {mach['load_at_start'][0]} at start, {mach.get('load_at_end', ['?'])[0]} at end; "
        f"DuckDB {mach['versions']['duckdb']}, pandas {mach['versions'].get('pandas')}, "
        f"Python {mach['versions']['python']}; code {(code.get('commit') or report.get('args', {}).get('label') or '?')[:12]}"
        + (" + uncommitted changes" if code.get("dirty_files") else "") + ".",
        "Times are wall seconds (queries and pandas: best of "
        f"{report['args'].get('repeats')}); rows/s on the rows each step reads; peak RSS of the measuring "
        "process; (load a/b) = 1-minute load average before/after that measurement.",
        "",
        "| | " + " | ".join(f"SF{k}" for k in keys) + " | target |",
        "|---|" + "---|" * len(keys) + "---|",
    ]

    def row(label: str, cells: list[str], target: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")

    get = lambda k, *path: _dig(scales[k], *path)  # noqa: E731
    row("input rows (Comtrade + Comext)", [
        f"{_f(get(k, 'generate', 'rows_comtrade'), '{:,}')} + {_f(get(k, 'generate', 'rows_comext'), '{:,}')}"
        for k in keys])
    row("staged Parquet (Comtrade import rows)", [_f(get(k, "stage", "rows"), "{:,}") for k in keys])
    row("(a) floor: hand-written HHI query, DECIMAL", [_cell(get(k, "floor")) for k in keys])
    row("(a') floor with DOUBLE sums", [_cell(get(k, "floor_double")) for k in keys])
    row("(b) mart SQL like for like (Comtrade, HS6, scope all; the floor's columns)",
        [_cell(get(k, "mart_hs6_columns")) for k in keys])
    row("(b') mart SQL, the same rows with all 24 of its columns", [_cell(get(k, "mart_hs6")) for k in keys])
    row("(b) mart SQL in full (HS6/4/2/domain, all + extra-EU)", [_cell(get(k, "mart_full")) for k in keys])
    row("(b) import_concentration Dagster step (build + checks)", [
        _f(_step(scales[k], "monitor__import_concentration", "duration_s")) + " s, "
        + _f(_step(scales[k], "monitor__import_concentration", "peak_rss_mb"), "{:.0f}") + " MB" for k in keys])
    row("(b)/(a) like for like", [_f(get(k, "ratios", "mart_over_floor"), "{:.2f}") for k in keys],
        f"<= {report['targets']['mart_over_floor_sf1']} at SF1: "
        + _verdict(_ok(scales.get("1"), lambda s: s["ratios"]["mart_over_floor"] <= report["targets"]["mart_over_floor_sf1"])))
    row("(b')/(a) all columns", [_f(get(k, "ratios", "mart_all_columns_over_floor"), "{:.2f}") for k in keys])
    row("(c) pandas", [_cell(get(k, "pandas")) for k in keys])
    row("(c)/(b)", [_f(get(k, "ratios", "pandas_over_mart"), "{:.2f}") for k in keys],
        f">= {report['targets']['pandas_over_mart']}: " + _verdict(_all(
            [get(k, "ratios", "pandas_over_mart") for k in keys], lambda r: r >= report["targets"]["pandas_over_mart"])))
    row("same rows: floor = mart, pandas = mart (HHI to 1e-12)", [
        _same(get(k, "checks", "same_rows")) for k in keys])
    row("(d) end to end `geomon run`, landing -> snapshot", [
        ("FAILED " if not get(k, "e2e", "success") else "")
        + f"{_f(get(k, 'e2e', 'wall_s'))} s (CPU {_f(get(k, 'e2e', 'cpu_s'))} s), "
        f"{_rate(get(k, 'e2e', 'rows_per_s'))} rows/s, {_f(get(k, 'e2e', 'peak_rss_mb'), '{:.0f}')} MB "
        f"(load {_load(get(k, 'e2e') or {})})" + (f", memory_limit {scales[k]['memory_limit']}" if scales[k].get("memory_limit") else "")
        for k in keys],
        f"SF1 < {report['targets']['e2e_sf1_s']:.0f} s: " + _verdict(_ok(scales.get("1"), lambda s: s["e2e"]["success"] and s["e2e"]["wall_s"] < report["targets"]["e2e_sf1_s"]))
        + f"; < {report['targets']['e2e_sf1_rss_gb']:.0f} GB: "
        + _verdict(_ok(scales.get("1"), lambda s: s["e2e"]["peak_rss_mb"] < report["targets"]["e2e_sf1_rss_gb"] * 1024))
        + (f"; SF5 with {report['targets']['sf5_memory_limit']}: " + _verdict(_ok(scales.get("5"), lambda s: s["e2e"]["success"]))
           if "5" in scales else ""))
    lines.append("")
    mr = report.get("make_run")
    if mr:
        lines.append(f"`make run` (embedded default, fresh data folder): {'OK' if mr['success'] else 'FAILED'} in "
                     f"{mr['wall_s']:.1f} s (CPU {mr['cpu_s']:.1f} s), peak RSS {mr['peak_rss_mb']:.0f} MB, "
                     f"load {_load(mr)}; target < {report['targets']['make_run_s']:.0f} s: "
                     f"{_verdict(mr['success'] and mr['wall_s'] < report['targets']['make_run_s'])}.")
    rf = report.get("refresh")
    if rf and "refresh_over_single_year" in rf:
        lines.append(f"Refresh of one changed year with {len(rf['years'])} years loaded (scale {rf['scale']}): "
                     f"{rf['refresh']['wall_s']:.1f} s vs {rf['single_year']['wall_s']:.1f} s for a single-year run = "
                     f"{rf['refresh_over_single_year']:.2f}x by wall time, "
                     f"{rf.get('refresh_over_single_year_cpu', float('nan')):.2f}x by CPU time "
                     f"(load {_load(rf['refresh'])} vs {_load(rf['single_year'])}; initial load of the 10 years "
                     f"{rf['initial']['wall_s']:.1f} s); target "
                     f"<= {report['targets']['refresh_over_single_year']}x: "
                     f"{_verdict(max(rf['refresh_over_single_year'], rf.get('refresh_over_single_year_cpu', 0)) <= report['targets']['refresh_over_single_year'])}.")
    lines += ["", *step_table(report)]
    return "\n".join(lines) + "\n"


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
        overhead.append(f"{e['wall_s'] - sum(s['duration_s'] for s in e['steps']):.1f} s "
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


def _ok(scale: dict | None, test) -> bool | None:
    if not scale:
        return None
    try:
        return bool(test(scale))
    except (KeyError, TypeError):
        return False


def _all(values, test) -> bool | None:
    values = [v for v in values if v is not None]
    return all(test(v) for v in values) if values else None


def _same(same: dict | None) -> str:
    if not same:
        return "–"
    bad = [k for k, v in same.items() if not v]
    return "yes" if not bad else "**NO**: " + ", ".join(bad)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
