"""UN Comtrade v1 API: the client resource, the request planner and plan execution.

Layers, top to bottom:

* :class:`ComtradeClient` - Dagster resource with the settings (base URL, key,
  timeouts, rate, limits). ``client.open_session(log=...)`` gives a
  :class:`ComtradeSession` that speaks to the endpoints: final data
  (``data/v1/get``), the keyless preview (``public/v1/preview``), data
  availability (``getDa``), reference files and the premium bulk files. Without
  a key it uses the public endpoints and says so once.
* :func:`plan_requests` / :func:`split_request` - a user's ask (reporters x years
  x flows x product level, optionally partners) becomes calls that stay under
  the record cap and the URL limit; a page that comes back full is split (by
  reporter/year/flow, then HS2 chapter, then partner, then code) - never
  silently truncated.
* :func:`sync_plan` - executes a plan against a page folder: each finished call
  is stored as gzip JSON (URL without key, retrieval time, count, the request);
  stored pages are never fetched again, so a rerun after any failure resumes
  and a finished plan makes no calls. Reporter-years whose release changed
  (``getDa``) have their pages archived and refetched.

Folder layout (``pages`` = ``<data dir>/raw/comtrade``)::

    pages/<request id>.json.gz        one finished call: the API envelope + url, retrieved_at, count, request
    pages/_split_<request id>.json    a call that came back full: its true count and the calls replacing it
    pages/_availability.json          last seen release per reporter:period (getDa)
    pages/_plan.json                  the last plan run (read by the revision sensor)
    pages/_calls.json                 calls made per UTC day (the daily budget)
    pages/_release.json               sidecar for the raw reader (not synthetic)
    ../comtrade_archive/<stamp>/      pages replaced by a revision or a changed plan, kept for comparison
    ../comtrade_reference/            cached reference files (HS.json, partnerAreas.json)

Files starting with ``_`` are ignored by the raw reader, so only pages become rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.clients.http import (
    FetchError,
    Fetched,
    FetchPolicy,
    Fetcher,
    PayloadProblem,
    QuotaExhausted,
    atomic_write_bytes,
    read_raw_json,
    utc_now,
    write_raw_json,
)

KEY_HEADER = "Ocp-Apim-Subscription-Key"
KEY_ENV = "COMTRADE_API_KEY"
RELEASE_LABEL = "UN Comtrade v1 API pages retrieved by geomonitor"
PREVIEW_CAP = 500
KEYED_CAP = 100_000
_SERVER_CAPS = {PREVIEW_CAP, KEYED_CAP, 250_000}  # preview, free key, premium getFinalData
MAX_URL = 4096

TYPE_CODES = {"C", "S"}
FREQ_CODES = {"A"}  # monthly plans are not supported yet
CL_CODES = {"HS", "H0", "H1", "H2", "H3", "H4", "H5", "H6"}
FLOW_CODES = {"M", "X", "RM", "RX", "MIP", "MOP", "XIP", "XOP", "DX", "FM"}
LEVELS = {"TOTAL": 0, "AG2": 2, "AG4": 4, "AG6": 6}
# Upper bounds used only to pack small calls together (codes per level in the combined HS list, partner areas).
_LEVEL_BOUND = {0: 1, 2: 99, 4: 1_300, 6: 7_000}
_PARTNER_BOUND = 300
_ID_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class PlanError(ValueError):
    """A plan that cannot be built or executed as asked (bad values, a page that cannot be split further)."""


# --------------------------------------------------------------------------- requests and plans


@dataclass(frozen=True)
class DataRequest:
    """One call of ``data/v1/get`` (or the preview): a cartesian product of its lists.

    ``cmd`` is ``("TOTAL",)``, one ``AGn`` level, or explicit HS codes;
    ``partners`` None means every partner (World 0 included).
    """

    reporters: tuple[int, ...]
    periods: tuple[str, ...]
    flows: tuple[str, ...]
    cmd: tuple[str, ...]
    partners: tuple[int, ...] | None = None
    type_code: str = "C"
    freq: str = "A"
    cl: str = "HS"

    def as_dict(self) -> dict:
        return {"type": self.type_code, "freq": self.freq, "cl": self.cl, "reporters": list(self.reporters),
                "periods": list(self.periods), "flows": list(self.flows), "cmd": list(self.cmd),
                "partners": None if self.partners is None else list(self.partners)}

    @classmethod
    def from_dict(cls, d: dict) -> "DataRequest":
        return cls(reporters=tuple(int(r) for r in d["reporters"]), periods=tuple(str(p) for p in d["periods"]),
                   flows=tuple(d["flows"]), cmd=tuple(str(c) for c in d["cmd"]),
                   partners=None if d.get("partners") is None else tuple(int(p) for p in d["partners"]),
                   type_code=d.get("type", "C"), freq=d.get("freq", "A"), cl=d.get("cl", "HS"))

    @property
    def level(self) -> int | None:
        """The AG level when ``cmd`` is one ``AGn`` (0 for TOTAL), else None (explicit codes)."""
        if len(self.cmd) == 1 and self.cmd[0] in LEVELS:
            return LEVELS[self.cmd[0]]
        return None

    @property
    def id(self) -> str:
        digest = hashlib.sha1(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:12]

        def short(values, unit):
            values = [str(v) for v in values]
            return "-".join(values) if len(values) <= 2 else f"{len(values)}{unit}"

        cmd = self.cmd[0] if self.level is not None else f"{len(self.cmd)}cmd{self.cmd[0]}"
        partners = "all" if self.partners is None else short(self.partners, "ptn")
        name = (f"{self.type_code}{self.freq}{self.cl}_{short(self.periods, 'per')}_r{short(self.reporters, 'rep')}_"
                f"{short(self.flows, 'flw')}_{cmd}_p{partners}_{digest}")
        return _ID_SAFE.sub("_", name)

    def label(self) -> str:
        """Words for logs and errors: which reporters, periods, flows, products and partners."""
        def few(values):
            values = [str(v) for v in values]
            return ",".join(values) if len(values) <= 4 else f"{','.join(values[:3])},... ({len(values)})"

        cmd = self.cmd[0] if self.level is not None else f"{len(self.cmd)} codes {self.cmd[0]}..{self.cmd[-1]}"
        partners = "all partners" if self.partners is None else f"partners {few(self.partners)}"
        return (f"Comtrade {self.type_code}/{self.freq}/{self.cl} reporter {few(self.reporters)} period "
                f"{few(self.periods)} flow {few(self.flows)} {cmd} {partners}")

    def params(self, max_records: int, count_only: bool = False) -> dict[str, str]:
        params = {
            "reporterCode": ",".join(str(r) for r in self.reporters),
            "period": ",".join(self.periods),
            "flowCode": ",".join(self.flows),
            "cmdCode": ",".join(self.cmd),
        }
        if self.partners is not None:
            params["partnerCode"] = ",".join(str(p) for p in self.partners)
        params.update({"partner2Code": "0", "customsCode": "C00", "motCode": "0", "breakdownMode": "classic",
                       "includeDesc": "true", "format": "JSON", "maxRecords": str(int(max_records))})
        if count_only:
            params["countOnly"] = "true"
        return params

    def covers(self, reporter: int, period: str) -> bool:
        return reporter in self.reporters and str(period) in self.periods

    def overlaps(self, other: "DataRequest") -> bool:
        """Whether some record could be returned by both requests."""
        if (self.type_code, self.freq, self.cl) != (other.type_code, other.freq, other.cl):
            return False
        if not (set(self.reporters) & set(other.reporters) and set(self.periods) & set(other.periods)
                and set(self.flows) & set(other.flows)):
            return False
        if self.partners is not None and other.partners is not None and not set(self.partners) & set(other.partners):
            return False
        return bool(_cmd_set(self) & _cmd_set(other)) or _cmd_levels_meet(self, other)


def _cmd_set(req: DataRequest) -> set[str]:
    return set() if req.level not in (None, 0) else set(req.cmd)


def _cmd_levels_meet(a: DataRequest, b: DataRequest) -> bool:
    la, lb = a.level, b.level
    if la and lb:
        return la == lb
    if la:
        return any(len(c) == la for c in b.cmd)
    if lb:
        return any(len(c) == lb for c in a.cmd)
    return False


def url_for(base: str, params: dict[str, str]) -> str:
    """The exact URL sent: commas stay literal, which keeps long code lists under the URL limit."""
    return f"{base}?{urlencode(params, safe=',')}"


@dataclass(frozen=True)
class PlanSpec:
    """What a user asks for: reporters x years x flows at one product level, all or some partners."""

    reporters: tuple[int, ...]
    years: tuple[int, ...]
    flows: tuple[str, ...] = ("M",)
    level: str = "AG6"
    partners: tuple[int, ...] | None = None
    type_code: str = "C"
    freq: str = "A"
    cl: str = "HS"

    @classmethod
    def build(cls, *, reporters: Iterable[Any], years: Iterable[Any], flows: Iterable[Any] = ("M",),
              level: str = "AG6", partners: Iterable[Any] | None = None, type_code: str = "C", freq: str = "A",
              cl: str = "HS", this_year: int | None = None) -> "PlanSpec":
        """Validated and normalised (sorted, de-duplicated); every problem is named."""
        this_year = this_year or utc_now().year
        problems: list[str] = []
        reps = _codes(reporters, "reporter", problems, allow_zero=False)
        yrs: list[int] = []
        for y in years:
            if isinstance(y, bool) or not isinstance(y, (int, str)) or not str(y).strip().isdigit():
                problems.append(f"year {y!r} is not a number")
            elif not 1962 <= int(y) <= this_year:
                problems.append(f"year {y} is outside 1962..{this_year}")
            else:
                yrs.append(int(y))
        fl = []
        for f in flows:
            code = str(f).strip().upper()
            if code not in FLOW_CODES:
                problems.append(f"flow {f!r} is not one of {sorted(FLOW_CODES)}")
            else:
                fl.append(code)
        lvl = str(level).strip().upper()
        if lvl not in LEVELS:
            problems.append(f"level {level!r} is not one of {sorted(LEVELS)}")
        ptn = None if partners is None or not list(partners) else _codes(partners, "partner", problems, allow_zero=True)
        if type_code not in TYPE_CODES:
            problems.append(f"type {type_code!r} is not one of {sorted(TYPE_CODES)}")
        if freq not in FREQ_CODES:
            problems.append(f"frequency {freq!r} is not supported (annual 'A' only)")
        if cl not in CL_CODES:
            problems.append(f"classification {cl!r} is not one of {sorted(CL_CODES)}")
        if not reps and not problems:
            problems.append("no reporter given")
        if not yrs and not problems:
            problems.append("no year given")
        if not fl and not problems:
            problems.append("no flow given")
        if problems:
            raise PlanError("invalid Comtrade plan: " + "; ".join(problems))
        return cls(reporters=tuple(sorted(set(reps))), years=tuple(sorted(set(yrs))), flows=tuple(sorted(set(fl))),
                   level=lvl, partners=None if ptn is None else tuple(sorted(set(ptn))),
                   type_code=type_code, freq=freq, cl=cl)

    def as_dict(self) -> dict:
        return {"reporters": list(self.reporters), "years": list(self.years), "flows": list(self.flows),
                "level": self.level, "partners": None if self.partners is None else list(self.partners),
                "type_code": self.type_code, "freq": self.freq, "cl": self.cl}

    def reporter_years(self) -> list[str]:
        return [f"{r}:{y}" for r in self.reporters for y in self.years]


def _codes(values: Iterable[Any], what: str, problems: list[str], allow_zero: bool) -> list[int]:
    out = []
    for v in values:
        text = str(v).strip()
        if isinstance(v, bool) or not text.isdigit() or len(text) > 3:
            problems.append(f"{what} code {v!r} is not a Comtrade numeric code (1 to 3 digits)")
            continue
        if int(text) == 0 and not allow_zero:
            problems.append(f"{what} code 0 is World, not a {what}")
            continue
        out.append(int(text))
    return out


def plan_requests(spec: PlanSpec, *, record_cap: int, base_url: str, max_url: int = MAX_URL) -> list[DataRequest]:
    """The first calls of a plan: one per reporter x year x flow, packed together when even a full answer
    (every product of the level for every partner) cannot reach ``record_cap``; every URL under ``max_url``."""
    if record_cap < 1:
        raise PlanError("record_cap must be >= 1")
    level_n = LEVELS[spec.level]
    partners = len(spec.partners) if spec.partners is not None else _PARTNER_BOUND
    per_combo = _LEVEL_BOUND[level_n] * partners
    fit = max(1, int(record_cap * 0.8) // per_combo)
    periods = [str(y) for y in spec.years]
    reps, flows = list(spec.reporters), list(spec.flows)

    def make(r, p, f):
        return DataRequest(reporters=tuple(r), periods=tuple(p), flows=tuple(f), cmd=(spec.level,),
                           partners=spec.partners, type_code=spec.type_code, freq=spec.freq, cl=spec.cl)

    out: list[DataRequest] = []
    per_call_all = len(reps) * len(flows)
    if fit >= per_call_all:
        years_per_call = min(12, fit // per_call_all)
        for i in range(0, len(periods), years_per_call):
            out.append(make(reps, periods[i:i + years_per_call], flows))
    elif fit >= len(flows):
        step = fit // len(flows)
        for p in periods:
            for i in range(0, len(reps), step):
                out.append(make(reps[i:i + step], [p], flows))
    else:
        for p in periods:
            for f in flows:
                for i in range(0, len(reps), fit):
                    out.append(make(reps[i:i + fit], [p], [f]))
    fitted: list[DataRequest] = []
    for req in out:
        fitted.extend(_fit_url(req, base_url, record_cap, max_url))
    return fitted


def _fit_url(req: DataRequest, base_url: str, cap: int, max_url: int) -> list[DataRequest]:
    """``req`` itself if its URL fits, else halves of its longest list until every URL fits."""
    if len(url_for(base_url, req.params(cap, count_only=True))) <= max_url:
        return [req]
    lists = {"reporters": req.reporters, "periods": req.periods, "flows": req.flows, "cmd": req.cmd,
             "partners": req.partners or ()}
    name, values = max(lists.items(), key=lambda kv: len(",".join(map(str, kv[1]))))
    if len(values) < 2:
        raise PlanError(f"{req.label()}: the URL exceeds {max_url} characters and cannot be split")
    half = len(values) // 2
    parts = [_replace(req, name, values[:half]), _replace(req, name, values[half:])]
    return [r for part in parts for r in _fit_url(part, base_url, cap, max_url)]


def _replace(req: DataRequest, name: str, values) -> DataRequest:
    d = req.as_dict()
    d[name] = list(values)
    return DataRequest.from_dict(d)


@dataclass(frozen=True)
class Codes:
    """The code lists splitting needs: HS codes by level (from Comtrade's combined HS.json) and partner areas."""

    hs: dict[int, tuple[str, ...]]
    partners: tuple[int, ...]

    @classmethod
    def from_reference(cls, hs_json: dict, partner_json: dict) -> "Codes":
        by_level: dict[int, set[str]] = {2: set(), 4: set(), 6: set()}
        for row in hs_json.get("results", []):
            code = str(row.get("id", "")).strip()
            if code.isdigit() and len(code) in by_level:
                by_level[len(code)].add(code)
        partners: set[int] = set()
        for row in partner_json.get("results", []):
            raw = row.get("PartnerCode", row.get("partnerCode", row.get("id")))
            if str(raw).strip().isdigit():
                partners.add(int(raw))
        if not all(by_level.values()):
            raise PlanError("HS reference has no codes at some level (2, 4 or 6 digits)")
        if not partners:
            raise PlanError("partner reference lists no partner code")
        return cls(hs={k: tuple(sorted(v)) for k, v in by_level.items()}, partners=tuple(sorted(partners)))


def split_request(req: DataRequest, codes: Codes, *, base_url: str, cap: int, max_url: int = MAX_URL,
                  parts: int = 2) -> list[DataRequest]:
    """Calls that together return exactly what ``req`` asks for, each smaller: one per period / flow, then
    reporters, then HS2 chapters, then partners, then codes. ``parts`` (from the true count, e.g.
    ``ceil(total / (0.75 * cap))``) says into how many calls to cut at least, where the dimension allows.
    Raises PlanError when ``req`` is one reporter, period, flow, partner and code (nothing left to split)."""
    k = max(2, int(parts))
    if len(req.periods) > 1:
        out = [_replace(req, "periods", [p]) for p in req.periods]
    elif len(req.flows) > 1:
        out = [_replace(req, "flows", [f]) for f in req.flows]
    elif len(req.reporters) > 1:
        out = [_replace(req, "reporters", g) for g in _chunks(list(req.reporters), k)]
    elif req.level and req.level in codes.hs:
        groups = _chapter_groups(list(codes.hs[req.level]), req, base_url, cap, max_url)
        while len(groups) < k:  # cut the largest group that spans several chapters
            splittable = [g for g in groups if len({c[:2] for c in g}) > 1]
            if not splittable:
                break
            largest = max(splittable, key=len)
            i = groups.index(largest)
            groups[i:i + 1] = _by_chapter(largest, 2)
        out = [_replace(req, "cmd", g) for g in groups]
    elif req.level is None and len({c[:2] for c in req.cmd}) > 1:
        out = [_replace(req, "cmd", g) for g in _by_chapter(list(req.cmd), k)]
    elif req.partners is None:
        out = [_replace(req, "partners", g) for g in _chunks(list(codes.partners), k)]
    elif len(req.partners) > 1:
        out = [_replace(req, "partners", g) for g in _chunks(list(req.partners), k)]
    elif req.level is None and len(req.cmd) > 1:
        out = [_replace(req, "cmd", g) for g in _chunks(list(req.cmd), k)]
    else:
        raise PlanError(f"{req.label()}: the page is full at {cap} records and the call cannot be split further; "
                        "raise the record cap (a key allows 100,000) rather than lose records")
    return [r for part in out for r in _fit_url(part, base_url, cap, max_url)]


def _chunks(values: list, k: int) -> list[list]:
    """``values`` cut into ``min(k, len)`` runs of near-equal length, order kept."""
    k = max(1, min(k, len(values)))
    size, extra = divmod(len(values), k)
    out, i = [], 0
    for j in range(k):
        n = size + (1 if j < extra else 0)
        out.append(values[i:i + n])
        i += n
    return out


def _by_chapter(cmd: list[str], k: int) -> list[list[str]]:
    """Codes cut into about ``k`` groups of whole HS2 chapters with similar code counts (a single chapter is cut
    plainly)."""
    chapters: dict[str, list[str]] = {}
    for code in cmd:
        chapters.setdefault(code[:2], []).append(code)
    if len(chapters) < 2:
        return _chunks(cmd, k)
    k = min(k, len(chapters))
    target = len(cmd) / k
    groups: list[list[str]] = []
    current: list[str] = []
    for _, chapter_codes in sorted(chapters.items()):
        # close the group when this chapter would take it further from the target size than it is now
        if current and len(groups) < k - 1 and \
                abs(len(current) + len(chapter_codes) - target) > abs(len(current) - target):
            groups.append(current)
            current = []
        current += chapter_codes
    if current:
        groups.append(current)
    return groups


def _chapter_groups(level_codes: list[str], req: DataRequest, base_url: str, cap: int, max_url: int) -> list[list[str]]:
    """Whole HS2 chapters packed into code lists whose URLs fit; a chapter too long for one URL goes by HS4."""
    probe = _replace(req, "cmd", ["0"])
    room = max_url - len(url_for(base_url, probe.params(cap, count_only=True))) - 1
    if room < 50:
        raise PlanError(f"{req.label()}: no room left in the URL for product codes")
    chapters: dict[str, list[str]] = {}
    for code in level_codes:
        chapters.setdefault(code[:2], []).append(code)
    units: list[list[str]] = []
    for chapter_codes in chapters.values():
        if _joined(chapter_codes) <= room:
            units.append(chapter_codes)
        else:  # split this chapter along its HS4 headings
            headings: dict[str, list[str]] = {}
            for code in chapter_codes:
                headings.setdefault(code[:4], []).append(code)
            units.extend(_pack(list(headings.values()), room))
    return _pack(units, room)


def _joined(codes: list[str]) -> int:
    return sum(len(c) for c in codes) + max(0, len(codes) - 1)


def _pack(units: list[list[str]], room: int) -> list[list[str]]:
    groups: list[list[str]] = []
    current: list[str] = []
    for unit in units:
        if current and _joined(current + unit) > room:
            groups.append(current)
            current = []
        if _joined(unit) > room:  # a single unit still too long: cut it plainly
            for code in unit:
                if current and _joined(current + [code]) > room:
                    groups.append(current)
                    current = []
                current.append(code)
        else:
            current = current + unit
    if current:
        groups.append(current)
    return groups


# --------------------------------------------------------------------------- the resource and its session


class ComtradeClient(ConfigurableResource):
    """UN Comtrade v1 API settings. The key comes from ``EnvVar("COMTRADE_API_KEY")``; empty = keyless preview."""

    base_url: str = Field(default="https://comtradeapi.un.org", description="API host, no trailing slash.")
    api_key: str = Field(default="", description="Subscription key (sent as the Ocp-Apim-Subscription-Key header). "
                         "Empty: the public preview endpoints (500 records per call).")
    timeout_s: float = Field(default=120.0, description="Per-request timeout (connect/read/write/pool), seconds.")
    requests_per_second: float = Field(default=0.2, description="Throttle: starts of calls per second (retries "
                                       "count); comtradr uses 1 per 6 s, 429s are retried after their Retry-After.")
    max_attempts: int = Field(default=6, description="Attempts per call before it is reported as failed.")
    backoff_base_s: float = Field(default=2.0, description="First retry wait; doubles each retry, with jitter.")
    backoff_max_s: float = Field(default=120.0, description="Longest retry wait without a Retry-After.")
    max_retry_after_s: float = Field(default=900.0, description="Longer Retry-After waits stop the run (resumable).")
    max_records_per_call: int = Field(default=0, description="Record cap per call; 0 = 100,000 with a key, 500 without.")
    daily_call_limit: int = Field(default=500, description="Calls per UTC day (all runs together); 0 = no limit.")
    max_url_length: int = Field(default=MAX_URL, description="Longest URL sent.")
    verify_split_counts: bool = Field(default=True, description="On a full page, ask the true count (countOnly) and "
                                      "check that the calls replacing it return exactly that many records.")

    @property
    def has_key(self) -> bool:
        return bool(self.api_key and self.api_key.strip())

    def record_cap(self) -> int:
        """Records per call: the configured cap, never above what the endpoint serves (500 without a key)."""
        if not self.has_key:
            return min(self.max_records_per_call or PREVIEW_CAP, PREVIEW_CAP)
        return self.max_records_per_call if self.max_records_per_call > 0 else KEYED_CAP

    def open_session(self, *, log: Any = None, call_budget: int | None = None, transport=None, sleep=time.sleep,
                     clock=time.monotonic, now=utc_now, rng=None) -> "ComtradeSession":
        """A live session (an httpx client); use it in a ``with`` block. Test hooks: transport, sleep, clock."""
        key = self.api_key.strip() if self.has_key else ""
        policy = FetchPolicy(requests_per_second=self.requests_per_second, timeout_s=self.timeout_s,
                             max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_s,
                             backoff_max_s=self.backoff_max_s, max_retry_after_s=self.max_retry_after_s,
                             call_budget=call_budget)
        fetcher = Fetcher(policy, headers={KEY_HEADER: key} if key else None, secrets=[key] if key else [],
                          log=log, transport=transport, sleep=sleep, clock=clock, now=now, rng=rng)
        if not key and log is not None:
            log.info(f"no {KEY_ENV} set: using the keyless public preview endpoints "
                     f"({PREVIEW_CAP} records per call; bulk files unavailable)")
        return ComtradeSession(self, fetcher, keyed=bool(key))


class ComtradeSession:
    """The endpoints of the v1 API over one :class:`Fetcher`."""

    def __init__(self, settings: ComtradeClient, fetcher: Fetcher, keyed: bool):
        self.settings, self.fetcher, self.keyed = settings, fetcher, keyed
        self.base = settings.base_url.rstrip("/")
        self.cap = settings.record_cap()

    def __enter__(self) -> "ComtradeSession":
        return self

    def __exit__(self, *exc) -> None:
        self.fetcher.close()

    def _path(self, kind: str, type_code: str, freq: str, cl: str) -> str:
        for value in (type_code, freq, cl):
            if not re.fullmatch(r"[A-Za-z0-9]{1,6}", value):
                raise PlanError(f"invalid path parameter {value!r}")
        return f"{self.base}/{kind}/{type_code}/{freq}/{cl}"

    def data_base(self, type_code: str, freq: str, cl: str) -> str:
        kind = "data/v1/get" if self.keyed else "public/v1/preview"
        return self._path(kind, type_code, freq, cl)

    def data_url(self, req: DataRequest) -> str:
        return self.data_base(req.type_code, req.freq, req.cl)

    def fetch_data(self, req: DataRequest, *, expect_data: bool = False) -> tuple[dict, Fetched]:
        """One page of final data, checked: a ``data`` list whose length matches ``count``, and records where
        ``expect_data`` says there must be some."""

        def check(fetched: Fetched) -> None:
            payload = fetched.json()
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
                raise PayloadProblem("the body has no 'data' list", kind="malformed", retryable=True)
            count, n = payload.get("count"), len(payload["data"])
            if isinstance(count, int) and count != n:
                raise PayloadProblem(f"the body announces {count} records but holds {n}", kind="truncated",
                                     retryable=True)
            if expect_data and n == 0:
                raise PayloadProblem("no records, but the data availability lists this reporter and year",
                                     kind="empty", retryable=True)

        fetched = self.fetcher.get(url_for(self.data_url(req), req.params(self.cap)), name=req.label(), check=check)
        return fetched.json(), fetched

    def count(self, req: DataRequest) -> int:
        """The true number of records of ``req`` (countOnly), whatever the cap."""

        def check(fetched: Fetched) -> None:
            if _count_of(fetched.json()) is None:
                raise PayloadProblem("countOnly answer has no count", kind="malformed", retryable=True)

        fetched = self.fetcher.get(url_for(self.data_url(req), req.params(self.cap, count_only=True)),
                                   name=f"count of {req.label()}", check=check)
        return int(_count_of(fetched.json()))

    def availability(self, reporters: Iterable[int], years: Iterable[int], *, type_code: str = "C",
                     freq: str = "A", cl: str = "HS") -> list[dict]:
        """``getDa`` rows (reporterCode, period, lastReleased, datasetChecksum, totalRecords, ...)."""
        kind = "data/v1/getDa" if self.keyed else "public/v1/getDa"
        base = self._path(kind, type_code, freq, cl)
        reps, periods = sorted(set(reporters)), sorted({str(y) for y in years})
        rows: list[dict] = []
        step = 50
        for i in range(0, len(reps), step):
            chunk = reps[i:i + step]
            params = {"reporterCode": ",".join(map(str, chunk)), "period": ",".join(periods)}
            fetched = self.fetcher.get(url_for(base, params), name=f"data availability of reporters "
                                       f"{chunk[0]}..{chunk[-1]} for {periods[0]}..{periods[-1]}",
                                       check=_needs_data_list)
            rows.extend(fetched.json()["data"])
        return rows

    def reference(self, name: str) -> dict:
        """A reference file, e.g. ``HS``, ``partnerAreas``, ``Reporters``, ``ListofReferences``."""
        if not re.fullmatch(r"[A-Za-z0-9_]{1,40}", name):
            raise PlanError(f"invalid reference file name {name!r}")
        fetched = self.fetcher.get(f"{self.base}/files/v1/app/reference/{name}.json", name=f"reference {name}")
        payload = fetched.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list) or not payload["results"]:
            raise FetchError(f"reference {name}", fetched.url, "empty", "no 'results' list", fetched.status, fetched.attempts)
        return payload

    def bulk_files(self, *, reporter: int | None = None, period: str | int | None = None, type_code: str = "C",
                   freq: str = "A", cl: str = "HS", published_from: str | None = None,
                   published_to: str | None = None) -> list[dict]:
        """Bulk file availability (premium key): rows with ``fileUrl``, ``publicationDate``, ``reporterCode``..."""
        self._need_key("bulk file listing")
        params = {"reporterCode": reporter, "period": period, "publishedDateFrom": published_from,
                  "publishedDateTo": published_to}
        problems: list[str] = []
        if reporter is not None:
            _codes([reporter], "reporter", problems, allow_zero=False)
        if period is not None and not re.fullmatch(r"\d{4}(\d{2})?", str(period)):
            problems.append(f"period {period!r} is not YYYY or YYYYMM")
        for d in (published_from, published_to):
            if d is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(d)):
                problems.append(f"date {d!r} is not YYYY-MM-DD")
        if problems:
            raise PlanError("; ".join(problems))
        query = {k: str(v) for k, v in params.items() if v is not None}
        url = self._path("bulk/v1/get", type_code, freq, cl)
        fetched = self.fetcher.get(url_for(url, query) if query else url, name="bulk file listing",
                                   check=_needs_data_list)
        return fetched.json()["data"]

    def download_bulk(self, entry: dict, dest_dir: str | os.PathLike) -> Path:
        """Download one listed bulk file (gzip) into ``dest_dir``, atomically; returns its path."""
        self._need_key("bulk file download")
        file_url = str(entry.get("fileUrl", ""))
        reporter = entry.get("reporterCode")
        if file_url.startswith(("http://", "https://")):
            url = file_url
        elif re.fullmatch(r"[0-9a-fA-F]{16,128}", file_url) and str(reporter).isdigit():
            url = f"{self.base}/bulk/v1/file/{int(reporter)}/{file_url}"
        else:
            raise PlanError("bulk entry needs a fileUrl (URL or hash) and a numeric reporterCode")
        published = str(entry.get("publicationDate", ""))[:10]
        name = (f"COMTRADE-FINAL-{entry.get('typeCode', 'C')}{entry.get('freqCode', 'A')}{int(reporter):03d}"
                f"{entry.get('period', '')}{entry.get('classificationCode', '')}[{published}].gz")
        fetched = self.fetcher.get(url, name=f"bulk file {name}", expect="bytes")
        return atomic_write_bytes(Path(dest_dir) / re.sub(r"[^A-Za-z0-9_.\[\]-]", "_", name), fetched.content)

    def _need_key(self, what: str) -> None:
        if not self.keyed:
            raise PlanError(f"{what} needs a (premium) {KEY_ENV}; none is set")


def _needs_data_list(fetched: Fetched) -> None:
    payload = fetched.json()
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise PayloadProblem("the body has no 'data' list", kind="malformed", retryable=True)


def _count_of(payload: Any) -> int | None:
    if isinstance(payload, dict):
        if isinstance(payload.get("count"), int) and not payload.get("data"):
            return payload["count"]
        data = payload.get("data")
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict) and isinstance(data[0].get("count"), int):
            return data[0]["count"]
        if isinstance(payload.get("count"), int):
            return payload["count"]
    return None


# --------------------------------------------------------------------------- the page folder


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True).encode("utf-8"))


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


class PageStore:
    """The page folder (see the module docstring); one writer at a time."""

    def __init__(self, pages: str | os.PathLike, archive: str | os.PathLike | None = None,
                 reference: str | os.PathLike | None = None):
        self.dir = Path(pages)
        self.archive_root = Path(archive) if archive else self.dir.parent / f"{self.dir.name}_archive"
        self.reference_dir = Path(reference) if reference else self.dir.parent / f"{self.dir.name}_reference"

    # pages and split markers
    def page_path(self, req: DataRequest) -> Path:
        return self.dir / f"{req.id}.json.gz"

    def split_path(self, req: DataRequest) -> Path:
        return self.dir / f"_split_{req.id}.json"

    def has_page(self, req: DataRequest) -> bool:
        return self.page_path(req).is_file()

    def write_page(self, req: DataRequest, payload: dict, fetched: Fetched, secrets: Iterable[str]) -> Path:
        count = len(payload["data"])
        path = write_raw_json(self.page_path(req), payload, url=fetched.url, retrieved_at=fetched.retrieved_at,
                              count=count, extra={"request": req.as_dict()}, secrets=secrets)
        self._append_index({"file": path.name, "count": count, "retrieved_at": fetched.retrieved_at,
                            "request": req.as_dict()})
        return path

    # the page index: one JSON line per written page, so no run has to reopen every page
    def _append_index(self, entry: dict) -> None:
        with open(self.dir / "_pages.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")  # no fsync: a lost line is rebuilt from the page

    def index(self) -> dict[str, dict]:
        """file name -> {"count", "request", ...} for every page on disk (pages missing from the index are read)."""
        entries: dict[str, dict] = {}
        lines = 0
        try:
            with open(self.dir / "_pages.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    lines += 1
                    try:
                        entry = json.loads(line)
                        entries[entry["file"]] = entry
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut by a crash
        except FileNotFoundError:
            pass
        present = {p.name for p in self.dir.glob("*.json.gz") if not p.name.startswith(".")} if self.dir.is_dir() else set()
        entries = {name: e for name, e in entries.items() if name in present}
        for name in sorted(present - set(entries)):
            try:
                page = read_raw_json(self.dir / name)
                entry = {"file": name, "count": int(page.get("count") or len(page.get("data") or [])),
                         "retrieved_at": page.get("retrieved_at"), "request": page["request"]}
            except (KeyError, ValueError, OSError, TypeError, EOFError):
                continue  # not one of ours (a hand-dropped page): left alone
            entries[name] = entry
            self._append_index(entry)
        if lines > 2 * len(entries) + 100:  # mostly stale lines (archived pages): rewrite
            atomic_write_bytes(self.dir / "_pages.jsonl", "".join(
                json.dumps(e, sort_keys=True) + "\n" for e in entries.values()).encode("utf-8"))
        return entries

    def page_count(self, req: DataRequest, index: dict[str, dict]) -> int:
        entry = index.get(self.page_path(req).name)
        if entry is None:
            return int(read_raw_json(self.page_path(req)).get("count") or 0)
        return int(entry["count"])

    def read_split(self, req: DataRequest) -> dict | None:
        marker = _read_json(self.split_path(req), None)
        if marker is None:
            return None
        marker["children"] = [DataRequest.from_dict(c) for c in marker["children"]]
        return marker

    def write_split(self, req: DataRequest, children: list[DataRequest], total: int | None, full_count: int) -> None:
        _write_json(self.split_path(req), {"request": req.as_dict(), "total": total, "full_page_count": full_count,
                                           "children": [c.as_dict() for c in children],
                                           "split_at": utc_now().isoformat(timespec="seconds")})

    def stored(self) -> dict[str, tuple[Path, DataRequest]]:
        """Every stored page and split marker: id -> (file, request)."""
        out: dict[str, tuple[Path, DataRequest]] = {}
        if not self.dir.is_dir():
            return out
        for name, entry in self.index().items():
            out[name] = (self.dir / name, DataRequest.from_dict(entry["request"]))
        for path in sorted(self.dir.glob("_split_*.json")):
            try:
                req = DataRequest.from_dict(_read_json(path, {})["request"])
            except (KeyError, ValueError, TypeError):
                continue
            out[path.name] = (path, req)
        return out

    def archive(self, paths: list[Path], reason: dict) -> Path | None:
        """Move files to a new archive folder with a note of why; returns the folder."""
        if not paths:
            return None
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        target = self.archive_root / stamp
        target.mkdir(parents=True, exist_ok=False)
        _write_json(target / "_reason.json", {**reason, "files": sorted(p.name for p in paths)})
        for path in paths:
            shutil.move(str(path), str(target / path.name))
        return target

    # small state files
    def load(self, name: str, default: Any) -> Any:
        return _read_json(self.dir / name, default)

    def save(self, name: str, obj: Any) -> None:
        _write_json(self.dir / name, obj)

    def calls_today(self, today: str) -> int:
        return int(self.load("_calls.json", {}).get(today, 0))

    def add_calls(self, today: str, n: int) -> None:
        if n:
            ledger = self.load("_calls.json", {})
            ledger = {k: v for k, v in ledger.items() if k >= today[:4]}  # keep this year's days only
            ledger[today] = int(ledger.get(today, 0)) + n
            self.save("_calls.json", ledger)

    def write_sidecar(self) -> None:
        path = self.dir / "_release.json"
        wanted = {"synthetic": False, "release": RELEASE_LABEL}
        if _read_json(path, None) != wanted:
            _write_json(path, wanted)

    def codes(self, session: ComtradeSession) -> Codes:
        """HS and partner code lists from the cached reference files, fetched once when missing."""
        loaded = {}
        for name in ("HS", "partnerAreas"):
            cached = self.reference_dir / f"{name}.json.gz"
            if cached.is_file():
                loaded[name] = read_raw_json(cached)
            else:
                payload = session.reference(name)
                write_raw_json(cached, payload, url=f"{session.base}/files/v1/app/reference/{name}.json",
                               retrieved_at=utc_now().isoformat(timespec="seconds"), count=len(payload["results"]),
                               secrets=session.fetcher.secrets)
                loaded[name] = payload
        return Codes.from_reference(loaded["HS"], loaded["partnerAreas"])


# --------------------------------------------------------------------------- revisions


def release_marks(rows: Iterable[dict]) -> dict[str, str]:
    """``"reporter:period" -> release mark`` from getDa rows (lastReleased, checksum and classification of
    every dataset of that reporter and period)."""
    parts: dict[str, list[str]] = {}
    for row in rows:
        try:
            key = f"{int(row['reporterCode'])}:{str(row['period'])[:4]}"
        except (KeyError, TypeError, ValueError):
            continue
        parts.setdefault(key, []).append(
            f"{row.get('classificationCode', '')}@{row.get('lastReleased', '')}#{row.get('datasetChecksum', '')}")
    return {k: "|".join(sorted(v)) for k, v in parts.items()}


def changed_releases(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Reporter-years seen before whose release mark differs now (new reporter-years are not revisions)."""
    return sorted(k for k, mark in new.items() if k in old and old[k] != mark)


# --------------------------------------------------------------------------- plan execution


@dataclass
class PlanResult:
    planned: int = 0           # first calls of the plan
    pages_stored: int = 0      # pages written by this run
    pages_present: int = 0     # pages of the plan already on disk at start (skipped, no call)
    splits: int = 0            # full pages that were split by this run
    http_calls: int = 0        # HTTP attempts, retries and count/availability/reference calls included
    records_fetched: int = 0   # records in the pages written by this run
    records_total: int = 0     # records in all pages of the plan
    complete: bool = False
    stopped: str = ""          # why the run stopped early (quota, budget, failures)
    failures: list[str] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)      # reporter:year refetched after a new release
    archived_files: int = 0
    revision_check_failed: str = ""
    retries: dict = field(default_factory=dict)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def sync_plan(
    session: ComtradeSession,
    spec: PlanSpec,
    store: PageStore,
    *,
    check_revisions: bool = True,
    codes: Codes | None = None,
    log: Any = None,
    max_consecutive_failures: int = 3,
    clock: Callable[[], float] = time.monotonic,
) -> PlanResult:
    """Bring the page folder in line with ``spec``; stop cleanly on a quota or budget (everything stored is kept).

    Order: archive stored pages that overlap the plan but are not part of it (a changed plan would otherwise
    duplicate records); with ``check_revisions``, ask getDa and archive the pages of reporter-years released
    anew; then fetch every call of the plan that has no page yet, splitting full pages; finally check that
    every split returned exactly the true count.
    """
    started = clock()
    result = PlanResult()
    say = (lambda level, msg: getattr(log, level)(session.fetcher.redact(msg))) if log is not None else (lambda *a: None)
    store.dir.mkdir(parents=True, exist_ok=True)
    store.write_sidecar()
    store.save("_plan.json", spec.as_dict())
    roots = plan_requests(spec, record_cap=session.cap, base_url=session.data_base(spec.type_code, spec.freq, spec.cl),
                          max_url=session.settings.max_url_length)
    result.planned = len(roots)
    today = utc_now().strftime("%Y-%m-%d")
    calls_before = session.fetcher.stats.attempts
    try:
        result.archived_files += _archive_conflicts(store, roots, say)
        rows = None
        if check_revisions:
            try:
                rows = session.availability(spec.reporters, spec.years, type_code=spec.type_code, freq=spec.freq,
                                            cl=spec.cl)
            except QuotaExhausted:
                raise
            except FetchError as exc:  # fetch anyway; the next run checks again (checked_at is not moved)
                result.revision_check_failed = session.fetcher.redact(str(exc))
                say("warning", f"data availability check failed, revisions not checked this run: {exc}")
        if rows is not None:
            marks = release_marks(rows)
            for key in spec.reporter_years():
                marks.setdefault(key, "")  # not available yet: a later release shows up as a change
            sizes: dict[str, int] = {}
            for r in rows:
                key = f"{int(r['reporterCode'])}:{str(r['period'])[:4]}"
                sizes[key] = sizes.get(key, 0) + int(r.get("totalRecords") or 0)
            for key in spec.reporter_years():
                sizes.setdefault(key, 0)
            seen = store.load("_availability.json", {"releases": {}})
            changed = changed_releases(seen.get("releases", {}), marks)
            if changed:
                result.revised = changed
                result.archived_files += _archive_revised(store, changed, seen.get("releases", {}), marks, say)
            # recorded after archiving: a crash in between re-archives, never keeps a stale page as current
            store.save("_availability.json", {"checked_at": utc_now().isoformat(timespec="seconds"),
                                              "releases": {**seen.get("releases", {}), **marks},
                                              "records": {**seen.get("records", {}), **sizes}})
        # reporter-years that getDa (now or at the last check) says hold records: an empty answer there is a failure
        known = store.load("_availability.json", {}).get("records", {})
        expected = {k for k, n in known.items() if int(n or 0) > 0}
        _execute(session, store, roots, result, expected, codes, say, max_consecutive_failures)
    except QuotaExhausted as exc:
        result.stopped = f"{exc.kind}: {exc}"
        say("warning", f"stopping cleanly: {exc}; everything stored so far is kept and a rerun resumes")
    finally:
        made = session.fetcher.stats.attempts - calls_before
        store.add_calls(today, made)
        result.http_calls = made
        result.retries = dict(session.fetcher.stats.retries)
        result.elapsed_s = round(clock() - started, 3)
    if not result.stopped and result.failures:
        result.stopped = f"{len(result.failures)} call(s) failed"
    result.complete = not result.stopped and not result.failures
    if result.complete:
        _verify_splits(store, roots)
    result.records_total = _records_in_plan(store, roots)
    return result


def _expand(store: PageStore, roots: list[DataRequest]) -> Iterable[tuple[DataRequest, str]]:
    """Every call of the plan known so far: (request, 'page' | 'split' | 'todo'), depth first.

    A 'todo' call that the consumer splits before asking for the next one (it writes the split
    marker) has its parts walked next, so plan execution is this same walk."""
    queue = deque(roots)
    seen: set[str] = set()
    guard = 0
    while queue:
        guard += 1
        if guard > 10_000_000:
            raise PlanError("plan expansion does not end (split markers form a loop?)")
        req = queue.popleft()
        if req.id in seen:
            continue
        seen.add(req.id)
        if store.has_page(req):
            yield req, "page"
            continue
        marker = store.read_split(req)
        if marker is not None:
            yield req, "split"
            queue.extendleft(reversed(marker["children"]))
            continue
        yield req, "todo"
        marker = store.read_split(req)
        if marker is not None:
            queue.extendleft(reversed(marker["children"]))


def _archive_conflicts(store: PageStore, roots: list[DataRequest], say) -> int:
    known = set()
    for req, state in _expand(store, roots):
        known.add(store.page_path(req).name)
        known.add(store.split_path(req).name)
    stale = [path for name, (path, req) in store.stored().items()
             if name not in known and any(req.overlaps(root) for root in roots)]
    if stale:
        target = store.archive(stale, {"reason": "the plan changed: these calls overlap the new plan's calls"})
        say("warning", f"{len(stale)} stored file(s) of an earlier plan overlap this plan; moved to {target}")
    return len(stale)


def _archive_revised(store: PageStore, changed: list[str], old: dict, new: dict, say) -> int:
    wanted = [(int(k.split(":")[0]), k.split(":")[1]) for k in changed]
    files = [path for path, req in store.stored().values() if any(req.covers(r, p) for r, p in wanted)]
    target = store.archive(files, {"reason": "new release in getDa", "reporter_years": changed,
                                   "previous": {k: old.get(k) for k in changed}, "current": {k: new[k] for k in changed}})
    say("info", f"new releases for {len(changed)} reporter-year(s) {changed[:10]}: {len(files)} file(s) archived "
        f"to {target}; they are refetched")
    return len(files)


def _execute(session, store, roots, result, expected, codes, say, max_consecutive_failures) -> None:
    consecutive = 0
    secrets = session.fetcher.secrets
    for req, state in _expand(store, roots):
        if state == "page":
            result.pages_present += 1
        if state != "todo":
            continue
        expect = (req.partners is None and req.level is not None and set(req.flows) <= {"M", "X"}
                  and all(f"{r}:{p}" in expected for r in req.reporters for p in req.periods))
        try:
            payload, fetched = session.fetch_data(req, expect_data=expect)
            n = len(payload["data"])
            # a page at the cap, or at a cap some tier of the API enforces whatever we asked, may be cut short
            if n >= session.cap or n in _SERVER_CAPS:
                total = session.count(req) if session.settings.verify_split_counts else None
                if total is not None and total <= n:
                    store.write_page(req, payload, fetched, secrets)  # exactly full, nothing missing
                    result.pages_stored += 1
                    result.records_fetched += n
                else:
                    if codes is None:
                        codes = store.codes(session)
                    parts = 2 if total is None else -(-total * 4 // (3 * session.cap))  # ceil(total / 0.75 cap)
                    children = split_request(req, codes, base_url=session.data_url(req), cap=session.cap,
                                             max_url=session.settings.max_url_length, parts=parts)
                    store.write_split(req, children, total, n)
                    result.splits += 1
                    # the walk in _expand reads the marker and takes these parts next
                    say("info", f"{req.label()}: page full ({n:,} records"
                        f"{'' if total is None else f' of {total:,}'}); split into {len(children)} calls")
            else:
                store.write_page(req, payload, fetched, secrets)
                result.pages_stored += 1
                result.records_fetched += n
            consecutive = 0
        except QuotaExhausted:
            raise
        except (FetchError, PlanError) as exc:
            consecutive += 1
            result.failures.append(session.fetcher.redact(str(exc)))
            say("error", f"call failed, continuing with the rest of the plan: {exc}")
            if consecutive >= max_consecutive_failures:
                result.stopped = f"{consecutive} calls failed in a row; last: {session.fetcher.redact(str(exc))}"
                say("error", f"stopping: {result.stopped}")
                return


def _leaf_count(store: PageStore, req: DataRequest, index: dict, depth: int = 0) -> int:
    if depth > 64:
        raise PlanError(f"{req.label()}: split markers nest too deep")
    if store.has_page(req):
        return store.page_count(req, index)
    marker = store.read_split(req)
    if marker is None:
        raise PlanError(f"{req.label()}: neither a page nor a split marker is stored")
    return sum(_leaf_count(store, child, index, depth + 1) for child in marker["children"])


def _subtree_files(store: PageStore, req: DataRequest, depth: int = 0) -> list[Path]:
    if depth > 64:
        return []
    if store.has_page(req):
        return [store.page_path(req)]
    marker = store.read_split(req)
    if marker is None:
        return []
    return [store.split_path(req)] + [p for c in marker["children"] for p in _subtree_files(store, c, depth + 1)]


def _verify_splits(store: PageStore, roots: list[DataRequest]) -> None:
    """Every split's calls together hold exactly the count the API gave for the call they replace.

    On a mismatch the split and its pages are archived together with the cached reference lists, so no partial
    reporter-year stays in the page folder and the next run splits again with fresh lists; then it raises."""
    index = store.index()
    for req, state in list(_expand(store, roots)):
        if state != "split":
            continue
        marker = store.read_split(req)
        if marker is None or marker.get("total") is None:
            continue
        got = _leaf_count(store, req, index)
        if got != marker["total"]:
            files = _subtree_files(store, req)
            files += [p for p in store.reference_dir.glob("*.json.gz")]
            target = store.archive(files, {"reason": "split calls do not add up to the API's count",
                                           "request": req.as_dict(), "counted": marker["total"], "stored": got})
            raise PlanError(
                f"{req.label()}: the calls it was split into hold {got:,} records but the API counted "
                f"{marker['total']:,}: the reference code lists used to split miss codes, or a revision landed "
                f"meanwhile. Its {len(files)} file(s) and the cached reference lists were moved to {target}; "
                "the next run fetches them again.")


def _records_in_plan(store: PageStore, roots: list[DataRequest]) -> int:
    index = store.index()
    return sum(store.page_count(req, index) for req, state in _expand(store, roots) if state == "page")


def revision_check_due(store: PageStore, spec: PlanSpec, max_age_hours: float, now: datetime | None = None) -> bool:
    """Whether to ask getDa now: never if ``max_age_hours`` < 0, always if 0, else when the last check is older
    or some reporter-year of the plan was never checked."""
    if max_age_hours < 0:
        return False
    seen = store.load("_availability.json", {})
    checked = seen.get("checked_at")
    if max_age_hours == 0 or not checked:
        return True
    if any(k not in seen.get("releases", {}) for k in spec.reporter_years()):
        return True
    age = ((now or utc_now()) - datetime.fromisoformat(checked)).total_seconds() / 3600
    return age >= max_age_hours


def last_plan(pages: str | os.PathLike) -> dict | None:
    """The plan the asset ran last (for the revision sensor), or None."""
    return _read_json(Path(pages) / "_plan.json", None)


def last_releases(pages: str | os.PathLike) -> dict[str, str]:
    return _read_json(Path(pages) / "_availability.json", {}).get("releases", {})
