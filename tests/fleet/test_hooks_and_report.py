"""The rolling_update role's pre_update / post_update hooks, with a stand-in load balancer on
127.0.0.1 that the hooks drain nodes from and return them to, and the level_report play,
all run by the real ansible-core on the four local nodes."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.client.test_online import _publish
from tests.support.fleet import CONF, NODES, make_fleet, recap, run_playbook
from tests.support.homes import run_cli
from tests.support.server import serving
from uplevel.devtools.sample import PRODUCT as SAMPLE

pytestmark = pytest.mark.slow


class LoadBalancer(ThreadingHTTPServer):
    """POST /pool/NODE/drain and /pool/NODE/add; every call logged with its time."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pool = set(NODES)
        self.log: list[tuple[float, str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: LoadBalancer

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "pool" or parts[2] not in ("drain", "add"):
            self.send_error(404)
            return
        _, node, action = parts
        self.server.log.append((time.time(), action, node))
        (self.server.pool.discard if action == "drain" else self.server.pool.add)(node)
        body = json.dumps(sorted(self.server.pool)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def lb() -> Iterator[LoadBalancer]:
    server = LoadBalancer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


HOOK = """---
- name: {action} {{{{ inventory_hostname }}}} (stand-in load balancer)
  ansible.builtin.uri:
    url: "{{{{ lb_url }}}}/pool/{{{{ inventory_hostname }}}}/{action}"
    method: POST
    status_code: 200
"""


def test_hooks_drain_and_return_each_node_around_its_update(
    tmp_path: Path, lb: LoadBalancer
) -> None:
    # node3's update breaks its health (as in test_rolling_update): it is reverted, healthy,
    # and returned to the pool; node4's batch never starts, so it is never drained.
    def heap(home: Path) -> None:
        (home / CONF).write_text((home / CONF).read_text() + "min_heap_mb = 1024\n")

    fleet = make_fleet(tmp_path, {"node3": heap})
    try:
        for action in ("drain", "add"):
            (tmp_path / f"{action}.yml").write_text(HOOK.format(action=action))
        first = {n: fleet.pid(n) for n in NODES}
        r = fleet.playbook(
            uplevel_pre_update=str(tmp_path / "drain.yml"),
            uplevel_post_update=str(tmp_path / "add.yml"),
            lb_url=lb.url,
        )
        assert r.returncode == 2, r.stdout + r.stderr
        assert "node4" not in recap(r.stdout)
        calls = {(action, node): t for t, action, node in lb.log}
        assert sorted(calls) == sorted(
            (a, n) for a in ("drain", "add") for n in ("node1", "node2", "node3")
        )
        assert lb.pool == set(NODES)  # every node back, node3 on its old level
        events = fleet.event_lines()
        for node in ("node1", "node2", "node3"):
            stops = [t for t, what, n, _, pid in events if n == node and what == "stop"]
            starts = [
                t
                for t, what, n, _, pid in events
                if n == node and what == "start" and pid != first[n]
            ]
            # Out of the pool before the product stops; back only after its last start
            # (and the health gate that follows it).
            assert calls["drain", node] < min(stops), node
            assert calls["add", node] > max(starts), node
        assert "The node was reverted to level 0, started and is healthy." in r.stdout + r.stderr
    finally:
        fleet.kill_standins()


def test_level_report_prints_one_table(tmp_path: Path) -> None:
    def local_jar(home: Path) -> None:
        (home / "lib/driver.jar").write_bytes(b"operator's own")

    fleet = make_fleet(tmp_path, {"node2": local_jar}, start=False)
    r = run_playbook(
        tmp_path, fleet.inventory, "uplevel.fleet.level_report", {"uplevel_report_check": False}
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r.stdout).keys() == set(NODES)
    table = r.stdout.split('"msg": [', 1)[1].split("]", 1)[0]
    rows = [json.loads(line.rstrip(",")).split() for line in table.strip().splitlines()]
    assert rows[0] == ["node", "product", "level", "latest", "security", "local"]
    local = {"node1": 1, "node2": 2, "node3": 1, "node4": 1}  # each node's own port (+ jar)
    assert rows[1:] == [[n, "standin-1.0.0", "0", "-", "-", str(local[n])] for n in NODES]


@pytest.mark.e2e
def test_level_report_asks_the_server_what_security_updates_are_pending(tmp_path: Path) -> None:
    """Homes that follow a real `uplevel serve`: level 2 of the sample is a security fix."""
    repo, trees = _publish(tmp_path / "pub")
    token = run_cli(
        "repo", "token", "create", repo, "--subscriber", "fleet", "--product", "wso2am-*",
        "--channel", "full", "--json", check=0,
    ).json["result"]["token"]  # fmt: skip
    with serving(repo) as url:
        hosts = {}
        for node, lvl in (("behind", 1), ("current", 3)):
            home = tmp_path / node
            shutil.copytree(trees[lvl], home, symlinks=True)
            run_cli(
                "init", "--home", home, "--product", SAMPLE, "--server", url, "--level", str(lvl),
                env={"UPLEVEL_TOKEN": token}, check=0,
            )  # fmt: skip
            hosts[node] = {"uplevel_home": str(home)}
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(
            json.dumps(
                {
                    "all": {
                        "hosts": hosts,
                        "vars": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                        },
                    }
                }
            )
        )
        r = run_playbook(
            tmp_path, inventory, "uplevel.fleet.level_report",
            {"uplevel_env": {"UPLEVEL_TOKEN": token}},
        )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    table = r.stdout.split('"msg": [', 1)[1].split("]", 1)[0]
    rows = [json.loads(line.rstrip(",")).split() for line in table.strip().splitlines()]
    assert rows[1:] == [
        ["behind", SAMPLE, "1", "3", "1", "0"],
        ["current", SAMPLE, "3", "3", "0", "0"],
    ]
