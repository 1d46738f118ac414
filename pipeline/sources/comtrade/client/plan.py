"""Comtrade requests and plans: a user's ask (reporters x years x flows x product level, optionally
partners) becomes the first calls of a plan, each under the record cap and the URL limit.

A page that comes back full is split by :mod:`pipeline.sources.comtrade.client.split`, never silently truncated.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urlencode

from pipeline.clients.http import utc_now

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

