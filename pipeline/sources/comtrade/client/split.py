"""Splitting a call whose page came back full: by period, flow, reporter, HS2 chapter, partner, then code,
so that the calls together return exactly what the full one asked for."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.sources.comtrade.client.plan import MAX_URL, DataRequest, PlanError, _fit_url, _replace, url_for


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

