"""monitor.changes between two publications, the report's "What changed", and the publication webhook."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from conftest import failure_messages, sdmx_rows
from pipeline.publish.notify import post_summary

MEMBERS = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
           "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]


def _world(top: str, other: str) -> str:
    # every member reports (a complete bloc); DE imports 811292 from `top` 90 and `other` 10
    rows = [(m, "FR" if m == "DE" else "DE", "97030000", 1, "2024", 1) for m in MEMBERS]
    rows += [("DE", top, "81129200", 1, "2024", 90), ("DE", other, "81129200", 1, "2024", 10)]
    return sdmx_rows(rows)


class _Receiver(BaseHTTPRequestHandler):
    bodies: list = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.bodies, _Receiver.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver
    server.shutdown()
    server.server_close()


def test_a_change_of_top_supplier_is_listed_reported_and_posted(runner, receiver):
    url, got = receiver
    runner.write("landing/comext/a.csv", _world("CN", "US"))
    first = runner.run(webhook_url=url)
    assert first.success, failure_messages(first)
    con = runner.published()
    assert con.execute("SELECT count(*) FROM monitor.changes").fetchall() == [(0,)]  # nothing to compare with
    first_id = con.execute("SELECT snapshot_id FROM meta.publication").fetchall()[0][0]
    con.close()

    # the same product now comes mostly from the US: top supplier changes, the HHI stays 0.82
    runner.write("landing/comext/a.csv", _world("US", "CN"))
    second = runner.run(webhook_url=url)
    assert second.success, failure_messages(second)
    con = runner.published()
    rows = con.execute(
        "SELECT screen, reporter, product_code, change, top_supplier_before, top_supplier_now, "
        "previous_snapshot_id FROM monitor.changes WHERE reporter IN ('DEU', 'EU27') ORDER BY ALL").fetchall()
    # DEU's own screen, the bloc's, and DEU as an importer in the dependence on NL (its top partner)
    assert rows == [("dependence_on_nl", "DEU", "811292", "top_supplier_changed", "CHN", "USA", first_id),
                    ("ec_screen", "DEU", "811292", "top_supplier_changed", "CHN", "USA", first_id),
                    ("ec_screen", "EU27", "811292", "top_supplier_changed", "CHN", "USA", first_id)]
    second_id = con.execute("SELECT snapshot_id FROM meta.publication").fetchall()[0][0]
    report = (runner.paths.root / "report" / "index.html").read_text()
    opening = report[report.index('<section id="changes">'):report.index('<section id="headline">')]
    assert first_id in opening and "top supplier changed" in opening and "811292" in opening

    # one post per publication, the second with the counts of what changed
    assert [b["snapshot_id"] for b in got.bodies] == [first_id, second_id]
    assert got.bodies[1]["changes"]["top_supplier_changed"] == 3 and got.bodies[0]["changes"] == {}
    metadata = second.asset_materializations_for_node("publish__publication")[0].metadata
    assert metadata["changes"].value == {"top_supplier_changed": 3}
    assert metadata["webhook"].value.startswith("delivered")


def test_a_failing_webhook_never_fails_the_publication(runner, receiver):
    url, got = receiver
    got.status = 503
    runner.write("landing/comext/a.csv", _world("CN", "US"))
    result = runner.run(webhook_url=url, webhook_retries=1, webhook_timeout_s=2)
    assert result.success, failure_messages(result)
    metadata = result.asset_materializations_for_node("publish__publication")[0].metadata
    assert metadata["webhook"].value == "webhook not delivered after 2 attempt(s): attempt 2: HTTP 503"
    assert len(got.bodies) == 2
    # nobody listening at all: a connection error, logged, still published
    delivered, what = post_summary("http://127.0.0.1:9/hook", {"x": 1}, timeout_s=1, retries=0)
    assert not delivered and "ConnectError" in what
