"""The offline HTML report: figures from the published tables, currencies kept apart, the synthetic
banner, a self-contained page, the Dagster asset, and a headless Chromium that renders it with the
network blocked."""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from conftest import REPO, Runner, copy_data, ephemeral_instance, failure_messages, sdmx_rows
from pipeline.report import write_report
from pipeline.report.render import json_for_script


# ---------------------------------------------------------------- reading a rendered page

class _Page(HTMLParser):
    """The parts of the page the tests look at: the data JSON, table rows, scripts, links, the banner."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self.scripts, self.links, self.figures, self.ids = [], [], [], [], set()
        self.csp = None
        self._in_data = False
        self._data = []
        self.banner = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "tr" and "data-key" in a:
            self.rows.append(a)
        if tag == "script":
            self.scripts.append(a)
            self._in_data = a.get("id") == "report-data"
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a["content"]
        for attr in ("src", "href", "action", "poster", "srcset"):
            if attr in a:
                self.links.append((tag, attr, a[attr]))
        if "data-figure" in a:
            self.figures.append(a["data-figure"])
        if a.get("id") == "synthetic-banner":
            self.banner = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self._data.append(data)

    @property
    def payload(self) -> dict:
        return json.loads("".join(self._data))


def read_page(path: Path) -> tuple[str, _Page]:
    text = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    return text, page


# ---------------------------------------------------------------- a small hand-computed world

def _small_world(runner: Runner):
    rows = [
        # 811292 (critical raw materials), 2024: DE and FR import from outside the EU, NL too; one intra-EU flow
        ("DE", "CN", "81129200", 1, "2024", 300), ("DE", "US", "81129200", 1, "2024", 100),
        ("FR", "CN", "81129200", 1, "2024", 300), ("FR", "JP", "81129200", 1, "2024", 100),
        ("NL", "CN", "81129200", 1, "2024", 90), ("NL", "US", "81129200", 1, "2024", 10),
        ("DE", "FR", "81129200", 1, "2024", 50),
        ("DE", "QV", "81129200", 1, "2024", 40),  # unspecified partner: never a supplier
        # 2023: DE alone, two equal suppliers (HHI 0.5 > 0.4)
        ("DE", "CN", "81129200", 1, "2023", 100), ("DE", "US", "81129200", 1, "2023", 100),
        # 850511: five suppliers, HHI 0.4 exactly: not dependent, so not in the table
        ("DE", "CN", "85051100", 1, "2024", 600), ("DE", "US", "85051100", 1, "2024", 100),
        ("DE", "JP", "85051100", 1, "2024", 100), ("DE", "KR", "85051100", 1, "2024", 100),
        ("DE", "IN", "85051100", 1, "2024", 100),
    ]
    # every member state reports something both years (works of art bought from another member: not
    # screened), so the EU27 bloc is complete and can be flagged (methodology section 5)
    members = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
               "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]
    rows += [(m, "FR" if m == "DE" else "DE", "97030000", 1, year, 1) for m in members for year in ("2023", "2024")]
    runner.write("landing/comext/a.csv", sdmx_rows(rows))
    result = runner.run()
    assert result.success, failure_messages(result)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    runner = Runner(tmp_path_factory.mktemp("report-small") / "data", mp)
    _small_world(runner)
    yield runner
    mp.undo()


@pytest.mark.pipeline
def test_supplier_shares_and_hhi_are_the_hand_computed_ones(small, tmp_path):
    result = write_report(small.paths.published_db, tmp_path / "index.html")
    _, page = read_page(result.path)
    products = page.payload["products"]
    assert set(products) == {"comext|EU27|811292", "comext|NLD|811292"}

    eu = products["comext|EU27|811292"]
    assert eu["currency"] == "EUR" and eu["source"] == "comext"
    assert eu["shares"]["suppliers"] == ["CHN", "USA", "JPN"]  # by share summed over the years
    by_year = {y["year"]: y for y in eu["shares"]["years"]}
    assert by_year[2024]["shares"] == pytest.approx([690 / 900, 110 / 900, 100 / 900], abs=1e-5)
    assert by_year[2024]["total"] == 900 and by_year[2024]["n_suppliers"] == 3
    assert by_year[2023]["shares"] == pytest.approx([0.5, 0.5, 0.0], abs=1e-5)
    hhi = {h["year"]: h["hhi"] for h in eu["history"]}
    assert hhi[2024] == pytest.approx((690 ** 2 + 110 ** 2 + 100 ** 2) / 900 ** 2, abs=1e-5)
    assert hhi[2023] == pytest.approx(0.5, abs=1e-9)
    assert [h["dependent"] for h in eu["history"]] == [True, True]

    nl = products["comext|NLD|811292"]
    assert nl["shares"]["suppliers"] == ["CHN", "USA"]
    assert nl["shares"]["years"][0]["shares"] == pytest.approx([0.9, 0.1])
    assert "quasi-transit" in nl["caveat"]
    assert result.share_mismatches == () and result.products_charted == 2


@pytest.mark.pipeline
def test_table_and_headline_come_from_the_published_tables(small, tmp_path):
    result = write_report(small.paths.published_db, tmp_path / "index.html")
    text, page = read_page(result.path)
    assert [(r["data-reporter"], r["data-key"]) for r in page.rows] == [
        ("EU27", "comext|EU27|811292"), ("NLD", "comext|NLD|811292")]
    # 850511 was screened but never dependent: not in the table
    assert "850511" not in {r["data-key"].split("|")[2] for r in page.rows}
    con = duckdb.connect(str(small.paths.published_db), read_only=True)
    expected = con.execute("SELECT eu_dependent_products, nl_dependent_products FROM monitor.domain_summary "
                           "WHERE source = 'comext' AND year = 2024 AND domain = 'critical_raw_materials'").fetchall()
    con.close()
    assert expected == [(1, 1)]
    # 811292 counts in both of its domains (CRMA Annex I and II); 850511 screened, never dependent
    assert result.dependent_by_domain == {"comext": {"critical_raw_materials": (1, 1), "strategic_raw_materials": (1, 1),
                                                     "rare_earth_magnets": (0, 0)}}
    assert result.headline_years == {"comext": 2024}
    # the figure for the headline names its one source and currency
    headline = page.payload["figures"]["headline-comext"]
    assert "Eurostat Comext (EUR), 2024" in headline["layout"]["title"]["text"]
    assert [t["x"] for t in headline["data"]] == [[0, 1, 1], [0, 1, 1]]  # EU27 and NL bars of the three domains
    # thresholds shown are the ones stored in the screen rows
    assert "C1 concentration: HHI of non-EU suppliers above</td><td class=\"num\">0.4<" in text


@pytest.mark.pipeline
def test_no_banner_on_real_data_and_banner_when_the_manifest_says_synthetic(small, tmp_path):
    plain = write_report(small.paths.published_db, tmp_path / "plain.html")
    text, page = read_page(plain.path)
    assert plain.synthetic is False and not page.banner and "SYNTHETIC DATA" not in text
    flagged = write_report(small.paths.published_db, tmp_path / "flagged.html",
                           manifest={"synthetic": True, "synthetic_note": "demo"})
    text, page = read_page(flagged.path)
    assert flagged.synthetic is True and page.banner and "SYNTHETIC DATA" in text


@pytest.mark.pipeline
def test_a_publication_without_supplier_shares_is_refused_clearly(small, tmp_path):
    """The shares come from monitor.supplier_shares alone: a file published without it (older code) gets no
    report, and `geomon report` says why instead of re-deriving the shares by other rules."""
    from pipeline.paths import DataPaths
    from pipeline.publish import ReportError, write_latest_report
    from pipeline.report import MissingSharesError

    paths = DataPaths(tmp_path / "data")
    paths.root.mkdir()
    shutil.copyfile(small.paths.published_db, paths.published_db)
    shutil.copytree(small.paths.snapshots, paths.snapshots)
    con = duckdb.connect(str(paths.published_db))
    con.execute("DROP TABLE monitor.supplier_shares")
    con.close()
    with pytest.raises(MissingSharesError, match="no monitor.supplier_shares"):
        write_report(paths.published_db, tmp_path / "index.html")
    with pytest.raises(ReportError, match="no monitor.supplier_shares.*publish again"):
        write_latest_report(paths)
    assert not (tmp_path / "index.html").exists() and not (paths.root / "report").exists()


def test_json_in_the_page_cannot_close_its_script():
    payload = {"label": "</script><script>alert(1)</script> & <!--"}
    text = str(json_for_script(payload))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == payload


# ---------------------------------------------------------------- the default (partly synthetic) world

@pytest.fixture(scope="module")
def demo(default_world, tmp_path_factory):
    """A copy of the embedded default (conftest.default_world, built once per session): these tests write
    the report into the data folder and change a byte of the snapshot."""
    mp = pytest.MonkeyPatch()
    runner = copy_data(default_world.paths.root, tmp_path_factory.mktemp("report-demo") / "data", mp)
    runner.materializations = default_world.materializations
    yield runner
    mp.undo()


@pytest.fixture(scope="module")
def demo_report(demo):
    """The report as the Dagster asset writes it."""
    from dagster import materialize

    from assets.report import monitor_report
    from pipeline.resources import DataFolder

    result = materialize([monitor_report], resources={"data": DataFolder(root=str(demo.paths.root))},
                         instance=ephemeral_instance(), raise_on_error=False)
    assert result.success, failure_messages(result)
    metadata = result.asset_materializations_for_node("publish__monitor_report")[0].metadata
    return demo.paths.root / "report" / "index.html", metadata


def test_asset_writes_the_latest_report_with_metadata(demo, demo_report):
    path, metadata = demo_report
    assert path.is_file()
    assert metadata["bytes"].value == path.stat().st_size
    latest = demo.paths.latest_pointer.read_text().strip()
    assert metadata["snapshot_id"].value == latest and metadata["synthetic"].value is True
    assert metadata["supplier_share_mismatches"].value == 0
    # the calibrated demo world flags a few per cent of products (EC 2021: 2.6%): some dozens of rows
    assert metadata["products_with_supplier_chart"].value == metadata["dependency_table_rows"].value > 15
    table = metadata["dependent_products_per_domain"].value
    for domain in ("critical_raw_materials", "medical", "food_security", "digital_high_tech"):
        assert f"| {domain} |" in table
    assert path.as_uri() == metadata["open"].value


def test_demo_report_is_synthetic_self_contained_and_keeps_currencies_apart(demo, demo_report):
    path, _ = demo_report
    text, page = read_page(path)
    assert page.banner and "SYNTHETIC DATA" in text
    # nothing is loaded from anywhere: no src, no stylesheet link, anchors only within the page
    assert all(not s.get("src") for s in page.scripts)
    assert all(tag == "a" and attr == "href" and value.startswith("#") for tag, attr, value in page.links), page.links
    assert "default-src 'none'" in page.csp and "connect-src 'none'" in page.csp
    payload = page.payload
    assert set(page.figures) <= set(payload["figures"])
    # one source, one currency per figure
    for name, fig in payload["figures"].items():
        title = fig["layout"]["title"]["text"]
        assert ("(EUR)" in title) != ("(USD)" in title), name
        assert ("comext" in name) == ("(EUR)" in title), name
    for key, product in payload["products"].items():
        assert product["currency"] == {"comext": "EUR", "comtrade": "USD"}[key.split("|")[0]]
    # every row of the EU and NL screens that was ever dependent is in the table, once
    con = duckdb.connect(str(demo.paths.published_db), read_only=True)
    expected = {f"{s}|{r}|{p}" for s, r, p in con.execute(
        "SELECT DISTINCT source, reporter, product_code FROM monitor.ec_screen "
        "WHERE reporter IN ('EU27', 'NLD') AND dependent").fetchall()}
    con.close()
    keys = [r["data-key"] for r in page.rows]
    assert len(keys) == len(set(keys)) and set(keys) == expected


def test_refresh_publishes_the_report_inside_the_snapshot(demo):
    """Wiring: the refresh job renders the report into the snapshot before the swap (listed in the manifest,
    so `geomon verify` passes) and the monitor_report asset writes the same bytes to data/report/."""
    from pipeline.publish import verify_snapshot

    snapshot = demo.paths.snapshots / demo.paths.latest_pointer.read_text().strip()
    manifest = json.loads((snapshot / "manifest.json").read_text())
    listed = manifest["files"]["report/index.html"]
    copy = snapshot / "report" / "index.html"
    assert copy.stat().st_size == listed["bytes"] and verify_snapshot(demo.paths) == []
    events = demo.materializations["publish__monitor_report"]
    assert len(events) == 1 and events[0]["matches_snapshot_copy"] is True
    assert (demo.paths.root / "report" / "index.html").read_bytes() == copy.read_bytes()
    _, page = read_page(copy)
    assert page.banner and manifest["synthetic"] is True
    # a changed byte in the report is caught like one in a table
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    try:
        assert [p for p in verify_snapshot(demo.paths) if "report/index.html" in p and "sha256" in p]
    finally:
        data[len(data) // 2] ^= 0x01
        copy.write_bytes(bytes(data))


def test_cli_report_writes_and_opens_the_page(demo, tmp_path):
    opened = tmp_path / "opened.txt"
    opener = tmp_path / "opener.sh"
    opener.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    opener.chmod(0o755)
    env = {**os.environ, "BROWSER": str(opener)}
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "--data-dir", str(demo.paths.root), "report", "--open"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    page = demo.paths.root / "report" / "index.html"
    assert str(page) in out.stdout and "SYNTHETIC" in out.stdout
    assert opened.read_text().strip() == page.as_uri()
    empty = subprocess.run([sys.executable, "-m", "pipeline.cli", "--data-dir", str(tmp_path / "none"), "report"],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert empty.returncode == 2 and "no snapshot" in empty.stderr


def test_same_database_gives_the_same_bytes(demo, tmp_path):
    first = write_report(demo.paths.published_db, tmp_path / "a.html")
    second = write_report(demo.paths.published_db, tmp_path / "b.html")
    assert first.sha256 == second.sha256 and first.bytes == second.bytes


# ---------------------------------------------------------------- the browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = ("CHROMIUM NOT INSTALLED: the browser test of the HTML report did NOT run. "
               "Install Debian's chromium (`apt-get install -y chromium`, as .ci/run does) to run it.")


def _high_pipe() -> tuple[int, int]:
    """A pipe whose ends are numbered 10 or more, so that moving them to fds 3 and 4 cannot clobber them
    (bash, unlike dash, redirects fds above 9)."""
    import fcntl

    ends = []
    for fd in os.pipe():
        ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return ends[0], ends[1]


class DevTools:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (no port, no websocket)."""

    def __init__(self, binary: str, profile: Path, flags: list[str], log: Path):
        to_browser_r, self._to_browser = _high_pipe()
        self._from_browser, from_browser_w = _high_pipe()
        # the browser reads commands on fd 3 and writes answers on fd 4
        with open(log, "wb") as stderr:
            self.proc = subprocess.Popen(
                ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}', binary, *flags,
                 f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
                pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next = 0
        self._answers: dict[int, queue.Queue] = {}
        self.events: list[dict] = []
        self._handlers = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    self._answers.setdefault(message["id"], queue.Queue()).put(message)
                else:
                    self.events.append(message)
                    for handler in list(self._handlers):
                        handler(message)

    def on_event(self, handler):
        self._handlers.append(handler)

    def post(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        """Send a command without waiting for its answer (safe from the event thread)."""
        with self._lock:
            self._next += 1
            ident = self._next
            self._answers.setdefault(ident, queue.Queue())
            message = {"id": ident, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return ident

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30):
        ident = self.post(method, params, session)
        answer = self._answers[ident].get(timeout=timeout)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - the browser may already be gone
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)


BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
    "--disable-extensions", "--no-default-browser-check", "--mute-audio", "--hide-scrollbars",
    # the network is blocked twice: no name resolves, and every connection goes to a proxy that is not there
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--window-size=1400,1000",
]

# What the page looks like once drawn: counted in the browser, returned as JSON.
DOM_FACTS = """JSON.stringify({
  ready: document.documentElement.dataset.reportReady || null,
  banner: (document.getElementById('synthetic-banner') || {}).textContent || '',
  plots: document.querySelectorAll('.js-plotly-plot').length,
  svgs: document.querySelectorAll('.js-plotly-plot .main-svg').length,
  figures: document.querySelectorAll('[data-figure]').length,
  drawnFigures: Array.from(document.querySelectorAll('[data-figure]')).filter(d => d.querySelector('.main-svg')).length,
  headlineBars: document.querySelectorAll('[id^=headline-] .trace.bars .point').length,
  heatmaps: document.querySelectorAll('[id^=depends-] .hm, [id^=depends-] image').length,
  shareBars: document.querySelectorAll('#chart-shares .trace.bars .point path').length,
  hhiPoints: document.querySelectorAll('#chart-hhi .scatterlayer .point').length,
  sharesTitle: (document.querySelector('#chart-shares .gtitle') || {}).textContent || '',
  productTitle: document.getElementById('product-title').textContent,
  selected: document.getElementById('product-select').value,
  rows: document.querySelectorAll('#dependency-table tbody tr').length,
  visibleRows: Array.from(document.querySelectorAll('#dependency-table tbody tr')).filter(r => !r.hidden).length,
  count: document.getElementById('row-count').textContent,
  valueHead: document.querySelector('#dependency-table .value-head').textContent,
  options: document.getElementById('product-select').options.length,
  scrollHeight: document.documentElement.scrollHeight
})"""


def _evaluate(tools: DevTools, session: str, expression: str):
    result = tools.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, session)
    if "exceptionDetails" in result:
        raise AssertionError(f"page script failed: {result['exceptionDetails']}")
    return result["result"].get("value")


def _facts(tools, session) -> dict:
    return json.loads(_evaluate(tools, session, DOM_FACTS))


def _wait_for(tools, session, expression: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _evaluate(tools, session, expression):
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {expression}: {_facts(tools, session)}")


def _open_report(tools: DevTools, path: Path) -> tuple[str, list]:
    """A new tab on the report at ``path``, once the page says it is ready (or failed): its session, and the list
    of console errors and warnings, exceptions and error/warning log entries the page printed (it keeps growing
    while the tab is open)."""
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    problems = []

    def watch(event):
        if event.get("sessionId") != session:
            return
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert", "warning"):
            problems.append(params)
        elif method == "Runtime.exceptionThrown" or (method == "Log.entryAdded"
                                                     and params["entry"]["level"] in ("error", "warning")):
            problems.append(params)

    tools.on_event(watch)
    for domain in ("Runtime", "Log", "Page"):
        tools.send(f"{domain}.enable", {}, session)
    tools.send("Page.navigate", {"url": path.resolve().as_uri()}, session)
    _wait_for(tools, session, "['true', 'error'].includes(document.documentElement && "
                              "document.documentElement.dataset.reportReady)")
    return session, problems


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM:
        pytest.skip(NO_CHROMIUM)
    tools = DevTools(CHROMIUM, tmp_path / "profile", BROWSER_FLAGS, tmp_path / "chromium.log")
    try:
        yield tools
    finally:
        tools.close()


@pytest.mark.browser
def test_browser_renders_the_report_offline(demo, demo_report, browser, tmp_path):
    path, _ = demo_report
    url = path.resolve().as_uri()
    tools = browser
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    requests, blocked, problems = [], [], []

    def watch(event):
        if event.get("sessionId") != session:
            return
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            requests.append(params["request"]["url"])
        elif method == "Fetch.requestPaused":
            # answered from the reader thread, so the page never waits on the test
            if params["request"]["url"] == url:
                tools.post("Fetch.continueRequest", {"requestId": params["requestId"]}, session)
            else:
                blocked.append(params["request"]["url"])
                tools.post("Fetch.failRequest", {"requestId": params["requestId"], "errorReason": "BlockedByClient"},
                           session)
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert", "warning"):
            problems.append(f"console.{params['type']}: " + " ".join(str(a.get("value", a.get("description")))
                                                                      for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            problems.append(f"exception: {params['exceptionDetails']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            entry = params["entry"]
            problems.append(f"log {entry['level']}: {entry['text']} {entry.get('url', '')}")

    tools.on_event(watch)
    for domain in ("Runtime", "Log", "Network", "Page"):
        tools.send(f"{domain}.enable", {}, session)
    tools.send("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session)
    tools.send("Emulation.setDeviceMetricsOverride",
               {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False}, session)
    tools.send("Page.navigate", {"url": url}, session)
    _wait_for(tools, session, "['true', 'error'].includes(document.documentElement && "
                              "document.documentElement.dataset.reportReady)")
    facts = _facts(tools, session)

    # every chart drew: the fixed figures, both product charts, bars, heatmap cells, the HHI series
    assert facts["ready"] == "true", facts
    assert "SYNTHETIC DATA" in facts["banner"]
    assert facts["figures"] >= 4 and facts["drawnFigures"] == facts["figures"], facts
    assert facts["plots"] == facts["figures"] + 2 and facts["svgs"] >= facts["plots"], facts
    assert facts["headlineBars"] >= 12 and facts["heatmaps"] >= 1, facts
    assert facts["shareBars"] >= 3 and facts["hhiPoints"] >= 3, facts
    assert facts["rows"] > 15 and facts["options"] == facts["rows"], facts
    assert facts["valueHead"] == "Extra-EU imports (EUR)"

    shot = tools.send("Page.captureScreenshot", {"format": "png"}, session)["data"]
    import base64

    png = base64.b64decode(shot)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    (tmp_path / "report-top.png").write_bytes(png)
    _evaluate(tools, session, "document.getElementById('product').scrollIntoView(); true")
    product_png = base64.b64decode(tools.send("Page.captureScreenshot", {"format": "png"}, session)["data"])
    if os.environ.get("GEOMON_REPORT_SCREENSHOTS"):  # keep them, e.g. for the README
        out = Path(os.environ["GEOMON_REPORT_SCREENSHOTS"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "report-top.png").write_bytes(png)
        (out / "report-product.png").write_bytes(product_png)

    # the table filters, sorts and drives the product charts
    _evaluate(tools, session, """(() => { const f = document.getElementById('filters');
        f.elements.q.value = 'china'; f.dispatchEvent(new Event('input')); return true; })()""")
    filtered = _facts(tools, session)
    assert 0 < filtered["visibleRows"] < facts["visibleRows"], filtered
    suppliers_ok = _evaluate(tools, session, """Array.from(document.querySelectorAll('#dependency-table tbody tr'))
        .filter(r => !r.hidden).every(r => (r.textContent + ' ' + r.dataset.names).toLowerCase().includes('china'))""")
    assert suppliers_ok
    _evaluate(tools, session, """(() => { const f = document.getElementById('filters');
        f.elements.q.value = ''; f.querySelector('input[value=comtrade]').click(); return true; })()""")
    switched = _facts(tools, session)
    assert switched["valueHead"] == "Extra-EU imports (USD)" and switched["visibleRows"] > 0
    order = _evaluate(tools, session, """(() => {
        const heads = Array.from(document.querySelectorAll('#dependency-table th'));
        heads.find(t => t.textContent.trim() === 'HS6').querySelector('button').click();
        const rows = Array.from(document.querySelectorAll('#dependency-table tbody tr'));
        return rows.map(r => r.cells[1].textContent); })()""")
    assert order == sorted(order)
    before = switched["sharesTitle"]
    clicked = _evaluate(tools, session, """new Promise(resolve => {
        const row = Array.from(document.querySelectorAll('#dependency-table tbody tr')).find(r => !r.hidden);
        row.click(); setTimeout(() => resolve(row.dataset.key), 500); })""")
    after = _facts(tools, session)
    assert clicked.startswith("comtrade|") and after["selected"] == clicked
    assert clicked.split("|")[2] in after["productTitle"]
    assert after["sharesTitle"] != before and "UN Comtrade (USD)" in after["sharesTitle"], (before, after)
    assert after["shareBars"] >= 1

    # nothing but the page itself was requested, nothing was blocked, nothing complained
    others = [u for u in requests if u != url and not u.startswith(("data:", "blob:"))]
    assert others == [] and blocked == [], (others, blocked)
    assert url in requests
    assert problems == [], problems


def test_hidden_dependencies_and_supplier_loss_sections(demo, tmp_path):
    """Methodology section 8 on the demo world: the planted hidden dependency (NL gallium, CHN behind TUR
    and CHE) is listed, and the supplier picker offers the planted single point of failure (COD, cobalt)."""
    result = write_report(demo.paths.published_db, tmp_path / "index.html")
    text, _ = read_page(result.path)
    hidden = text[text.index('<section id="hidden">'):text.index('<section id="supplier-loss">')]
    assert "upper bound" in hidden
    gallium = [line for line in hidden.split("<tr>") if "811292" in line]
    assert any(">NL<" in row and "CHN" in row for row in gallium), gallium
    loss = text[text.index('<section id="supplier-loss">'):text.index('<section id="sources">')]
    assert '<option value="COD">' in loss or 'data-supplier="COD"' in loss
    assert "260500" in loss  # cobalt ores: COD holds more than half of world exports


def test_the_report_carries_the_data_dictionary(demo, tmp_path):
    """Every published monitor table and column is explained in the report (from the glossary's comments)."""
    result = write_report(demo.paths.published_db, tmp_path / "index.html")
    text, _ = read_page(result.path)
    section = text[text.index('<section id="dictionary">'):]
    con = duckdb.connect(str(demo.paths.published_db), read_only=True)
    columns = con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'monitor' "
                          "AND database_name = current_database()").fetchall()
    con.close()
    assert len(columns) > 100
    for table, column in columns:
        assert f"<code>monitor.{table}</code>" in section and f"<code>{column}</code>" in section, (table, column)
    assert "<code>hhi</code></td><td>DOUBLE</td>" in section


# The CRMA section's chart, read from plotly's own figure in the page
CRMA_FACTS = """JSON.stringify((() => {
  const gd = document.querySelector('#crma .js-plotly-plot');
  if (!gd) { return null; }
  const lines = gd.data.filter(t => t.meta === 'benchmark');
  return {
    title: (gd.querySelector('.gtitle') || {}).textContent || '',
    panels: gd.querySelectorAll('.cartesianlayer > .subplot').length,
    drawnLines: gd.querySelectorAll('.scatterlayer .trace .js-line').length,
    benchmarkLines: lines.length,
    benchmarkYs: [].concat(...lines.map(t => Array.from(t.y))),
    shareTraces: gd.data.filter(t => t.meta !== 'benchmark').length
  };
})())"""


@pytest.mark.browser
def test_browser_draws_the_crma_small_multiples_at_the_published_benchmark(demo, demo_report, browser):
    """Issue 29: one panel per strategic raw material of the EU27 (Comext when it has rows), each with the
    benchmark line at the published parameter's value, drawn with no console error."""
    path, _ = demo_report
    con = duckdb.connect(str(demo.paths.published_db), read_only=True)
    benchmark = con.execute("SELECT value FROM meta.parameters WHERE name = 'crma_benchmark'").fetchall()[0][0]
    by_source = dict(con.execute("SELECT source, count(DISTINCT material) FROM monitor.crma_benchmark "
                                 "WHERE reporter = 'EU27' GROUP BY source").fetchall())
    con.close()
    source = "comext" if by_source.get("comext") else "comtrade"
    assert by_source.get(source, 0) >= 2, by_source  # small multiples: the demo world has several materials
    tools = browser
    session, problems = _open_report(tools, path)
    facts = json.loads(_evaluate(tools, session, CRMA_FACTS) or "null")
    assert facts is not None, "no CRMA chart in the page"
    assert facts["panels"] == by_source[source] == facts["benchmarkLines"], facts
    assert facts["benchmarkYs"] and all(y == pytest.approx(benchmark) for y in facts["benchmarkYs"]), facts
    assert facts["shareTraces"] >= by_source[source] and facts["drawnLines"] > facts["benchmarkLines"], facts
    assert ("Eurostat Comext" if source == "comext" else "UN Comtrade") in facts["title"], facts
    assert problems == [], problems
