"""One Dagster instance for the shell and the UI (issue 15): a `geomon run` shows in `make dev` with its
materializations and check results, and Ctrl-C in the terminal stops every process `make dev` started.

`make dev` runs as a user runs it: on a pseudo-terminal (Ctrl-C is the terminal's interrupt character, sent
to the whole foreground process group, not a signal sent to one process), on a free port, against a data
folder the CLI has just published to.
"""

import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import REPO

QUERY = """{ assetNodes { assetKey { path }
  assetMaterializations(limit: 1) { runId }
  assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { runId status } } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session(leader: int) -> list[str]:
    """The processes of the terminal session ``make dev`` leads (zombies, already dead, left out)."""
    table = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True).stdout
    return [line for line in table.splitlines()
            if line.split(None, 3)[1] == str(leader) and not line.split(None, 3)[2].startswith("Z")]


@pytest.mark.skipif(shutil.which("make") is None or not (REPO / ".venv" / "bin" / "dagster").exists(),
                    reason="LOUD SKIP: needs make and the project's .venv (`make test` creates both)")
def test_the_ui_shows_a_cli_run_and_ctrl_c_stops_everything(cli_publication, tmp_path):
    data = tmp_path / "data"  # a `geomon run` published here and recorded in data/dagster_home
    shutil.copytree(cli_publication, data, symlinks=True)
    env = {**os.environ, "COMTRADE_API_KEY": ""}
    env.pop("DAGSTER_HOME", None)  # make dev's instance is the data folder's, as on a user's machine

    port = _free_port()
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a login-like terminal session running `make dev`
        os.chdir(REPO)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execvpe("make", ["make", "dev", f"DATA={data}", f"DEV_PORT={port}"], env)
    printed = bytearray()

    def read(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([terminal], [], [], 0.1)
            if ready:
                try:
                    printed.extend(os.read(terminal, 65536))
                except OSError:
                    return

    try:
        answer, deadline = None, time.monotonic() + 120
        while answer is None and time.monotonic() < deadline:
            read(0.5)
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", json.dumps({"query": QUERY}).encode(),
                                                 {"Content-Type": "application/json"})
                answer = json.loads(urllib.request.urlopen(request, timeout=5).read())["data"]
            except (OSError, KeyError, TypeError, ValueError):
                answer = None  # not up yet, or the code location still loading
        assert answer is not None, "make dev did not answer:\n" + printed.decode(errors="replace")[-2000:]

        nodes = {"/".join(n["assetKey"]["path"]): n for n in answer["assetNodes"]}
        shown = {key for key, n in nodes.items() if n["assetMaterializations"]}
        assert {"monitor/import_concentration", "staging/annual_flows", "publish/publication"} <= shown
        cli_runs = {nodes[key]["assetMaterializations"][0]["runId"] for key in shown}
        assert len(cli_runs) == 1  # every materialization shown is the CLI run's
        checks = [c for n in nodes.values() for c in (n["assetChecksOrError"] or {}).get("checks", [])]
        executed = [c["executionForLatestMaterialization"] for c in checks if c["executionForLatestMaterialization"]]
        assert len(executed) > 20 and {e["runId"] for e in executed} == cli_runs
        assert {e["status"] for e in executed} == {"SUCCEEDED"}

        assert len(_session(pid)) >= 4  # make, dagster dev, the webserver, the daemon, the code server
        os.write(terminal, b"\x03")  # Ctrl-C
        deadline = time.monotonic() + 30
        while _session(pid) and time.monotonic() < deadline:
            read(0.5)
        assert _session(pid) == [], "left running 30 s after Ctrl-C:\n" + "\n".join(_session(pid))
    finally:
        for line in _session(pid):
            os.kill(int(line.split()[0]), signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(terminal)
