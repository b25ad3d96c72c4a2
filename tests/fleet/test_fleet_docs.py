"""docs/fleet.md's site playbook, taken from the page unchanged, run on the four local nodes.

The page's inventory names real hosts; here the same groups (control-plane, km, tm, gateway)
hold the local nodes, one each, and each node names its product as the page's gateways do
(`uplevel_product`), so the playbook copies that product's bundle by the page's file name.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.fleet import NODES, PRODUCT, make_fleet, recap, run_playbook, uplevel

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs/fleet.md"
GROUPS = ("control-plane", "km", "tm", "gateway")


def yaml_block(first_line: str) -> str:
    """The ```yaml block of docs/fleet.md that starts with `first_line`."""
    for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S):
        if block.startswith(first_line):
            return str(block)
    raise AssertionError(f"no yaml block starting with {first_line!r} in {DOC}")


def test_site_update_playbook_runs_as_written(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path)
    try:
        site = tmp_path / "site-update.yml"
        site.write_text(yaml_block("# site-update.yml"))
        shutil.copy(fleet.bundle, tmp_path / f"{PRODUCT}-0-to-7.bundle")  # the page's name
        inventory = json.loads(fleet.inventory.read_text())
        hosts = inventory["all"]["children"]["standin"]["hosts"]
        inventory = {
            "all": {
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                },
                "children": {
                    group: {"hosts": {node: {**hosts[node], "uplevel_product": PRODUCT}}}
                    for group, node in zip(GROUPS, NODES, strict=True)
                },
            }
        }
        (tmp_path / "inventory.yml").write_text(json.dumps(inventory))
        extra = {k: v for k, v in fleet.extra.items() if k != "uplevel_bundle"}
        r = run_playbook(tmp_path, tmp_path / "inventory.yml", site, extra)
        assert r.returncode == 0, r.stdout + r.stderr
        counters = recap(r.stdout)
        assert {n: c["failed"] for n, c in counters.items()} == dict.fromkeys(NODES, 0)
        for node in NODES:
            doc = uplevel("status", "--home", fleet.homes[node], env=fleet.env)
            assert doc["result"]["level"] == 1, doc  # type: ignore[index]
        # Batches ([1, 2]) follow the pattern's group order: the control plane alone first,
        # km and tm together, the gateway last.
        stops = [n for _, what, n, _, _ in fleet.event_lines() if what == "stop"]
        assert stops[0] == "node1" and set(stops[1:3]) == {"node2", "node3"}
        assert stops[3:] == ["node4"]
    finally:
        fleet.kill_standins()
