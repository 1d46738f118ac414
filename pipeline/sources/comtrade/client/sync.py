"""A plan executed against the page folder: each finished call is stored, stored pages are never fetched
again (a rerun after any failure resumes, a finished plan makes no calls), full pages are split, and
reporter-years whose release changed (``getDa``) have their pages archived and refetched."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from pipeline.sources.comtrade.client.plan import DataRequest, PlanError, PlanSpec, plan_requests
from pipeline.sources.comtrade.client.session import SERVER_CAPS, ComtradeSession
from pipeline.sources.comtrade.client.split import Codes, split_request
from pipeline.sources.comtrade.client.store import PageStore
from pipeline.clients.http import FetchError, QuotaExhausted, utc_now
from pipeline.clients.secrets import speaker
from pipeline.clients.landing import read_json
from pipeline.clients.progress import current as current_progress


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
    refetch: bool = False,
    codes: Codes | None = None,
    log: Any = None,
    max_consecutive_failures: int = 3,
    clock: Callable[[], float] = time.monotonic,
) -> PlanResult:
    """Bring the page folder in line with ``spec``; stop cleanly on a quota or budget (everything stored is kept).

    Order: archive stored pages that overlap the plan but are not part of it (a changed plan would otherwise
    duplicate records); with ``check_revisions``, ask getDa and archive the pages of reporter-years released
    anew (or, with ``refetch``, every reporter-year of the plan); then fetch every call of the plan that has
    no page yet, splitting full pages; finally check that every split returned exactly the true count.
    """
    started = clock()
    result = PlanResult()
    say = speaker(log, session.fetcher.secrets)
    store.dir.mkdir(parents=True, exist_ok=True)
    store.write_sidecar()
    record_plan(store, spec)
    roots = plan_requests(spec, record_cap=session.cap, base_url=session.data_base(spec.type_code, spec.freq, spec.cl),
                          max_url=session.max_url_length)
    result.planned = len(roots)
    today = utc_now().strftime("%Y-%m-%d")
    calls_before = session.fetcher.stats.attempts
    try:
        result.archived_files += _archive_conflicts(store, roots, say)
        if refetch:
            result.archived_files += archive_reporter_years(
                store, spec.reporter_years(), {"reason": "refetch asked for (force)"}, say)
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


def archive_reporter_years(store: PageStore, keys: list[str], reason: dict, say) -> int:
    """Move every stored page and split marker holding a ``reporter:year`` of ``keys`` to the archive."""
    wanted = [(int(k.split(":")[0]), k.split(":")[1]) for k in keys]
    files = [path for path, req in store.stored().values() if any(req.covers(r, p) for r, p in wanted)]
    if files:
        target = store.archive(files, {**reason, "reporter_years": keys})
        say("info", f"{reason['reason']}: {len(files)} file(s) of {len(keys)} reporter-year(s) archived to {target}; "
            "they are fetched again")
    return len(files)


def _archive_revised(store: PageStore, changed: list[str], old: dict, new: dict, say) -> int:
    return archive_reporter_years(store, changed, {
        "reason": "new release in getDa", "previous": {k: old.get(k) for k in changed},
        "current": {k: new[k] for k in changed}}, say)


def record_plan(store: PageStore, spec: PlanSpec) -> None:
    """``_plan.json``: the standing plan (reporters, flows, level, partners) and every year run with it, so
    that a year partition run without configuration, and the revision sensor, know what to ask for."""
    new = spec.as_dict()
    old = store.load("_plan.json", {}) or {}
    same = all(old.get(k) == v for k, v in new.items() if k != "years")
    years = sorted(set(old.get("years") or []) | set(new["years"])) if same else new["years"]
    store.save("_plan.json", {**new, "years": years})


def release_dates(store: PageStore, reporters: Iterable[int], year: int) -> dict[int, str]:
    """``reporter -> lastReleased`` (getDa, as last seen) of the given reporters for ``year``; '' if none seen."""
    marks = store.load("_availability.json", {}).get("releases", {})
    out = {}
    for r in reporters:
        dates = [part.split("@", 1)[1].split("#", 1)[0] for part in marks.get(f"{r}:{year}", "").split("|")
                 if "@" in part]
        out[int(r)] = max(dates) if dates else ""
    return out


def _execute(session, store, roots, result, expected, codes, say, max_consecutive_failures) -> None:
    consecutive = 0
    secrets = session.fetcher.secrets
    progress = current_progress()
    progress.plan(len(roots), what="calls")
    for req, state in _expand(store, roots):
        if state == "page":
            result.pages_present += 1
            progress.advance(skipped=True)
        if state == "split":
            marker = store.read_split(req)
            progress.grow(len(marker["children"]) if marker else 0)
            progress.advance(skipped=True)
        if state != "todo":
            continue
        expect = (req.partners is None and req.level is not None and set(req.flows) <= {"M", "X"}
                  and all(f"{r}:{p}" in expected for r in req.reporters for p in req.periods))
        try:
            payload, fetched = session.fetch_data(req, expect_data=expect)
            n = len(payload["data"])
            # a page at the cap, or at a cap some tier of the API enforces whatever we asked, may be cut short
            if n >= session.cap or n in SERVER_CAPS:
                total = session.count(req) if session.verify_split_counts else None
                if total is not None and total <= n:
                    store.write_page(req, payload, fetched, secrets)  # exactly full, nothing missing
                    result.pages_stored += 1
                    result.records_fetched += n
                    progress.advance(records=n, nbytes=len(fetched.content))
                else:
                    if codes is None:
                        codes = store.codes(session)
                    parts = 2 if total is None else -(-total * 4 // (3 * session.cap))  # ceil(total / 0.75 cap)
                    children = split_request(req, codes, base_url=session.data_url(req), cap=session.cap,
                                             max_url=session.max_url_length, parts=parts)
                    store.write_split(req, children, total, n)
                    result.splits += 1
                    progress.grow(len(children))
                    progress.advance(nbytes=len(fetched.content))
                    # the walk in _expand reads the marker and takes these parts next
                    say("info", f"{req.label()}: page full ({n:,} records"
                        f"{'' if total is None else f' of {total:,}'}); split into {len(children)} calls")
            else:
                store.write_page(req, payload, fetched, secrets)
                result.pages_stored += 1
                result.records_fetched += n
                progress.advance(records=n, nbytes=len(fetched.content))
            consecutive = 0
        except QuotaExhausted:
            raise
        except (FetchError, PlanError) as exc:
            consecutive += 1
            result.failures.append(session.fetcher.redact(str(exc)))
            progress.note(f"call failed: {session.fetcher.redact(str(exc))[:200]}")
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
    return read_json(Path(pages) / "_plan.json", None)


def last_releases(pages: str | os.PathLike) -> dict[str, str]:
    return read_json(Path(pages) / "_availability.json", {}).get("releases", {})
