"""The rolling_update playbook of the uplevel.fleet collection, run by the real ansible-core
on four local nodes, each with its own home and a real stand-in server process.

Batches are `[1, 2]`: node1 alone, then node2 and node3 together, then node4. node2 is
health-checked by a command, the others by their own URL (a port per node, set per host
like a WSO2 port offset); the profile's own health URL points at no node at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import CONF, NODES, Fleet, make_fleet, recap, tree_digest, uplevel

pytestmark = pytest.mark.slow

Customise = dict[str, Callable[[Path], None]]


def add_setting(line: str) -> Callable[[Path], None]:
    def change(home: Path) -> None:
        conf = home / CONF
        conf.write_text(conf.read_text() + line + "\n")

    return change


def set_threads(value: int) -> Callable[[Path], None]:
    def change(home: Path) -> None:
        conf = home / CONF
        conf.write_text(conf.read_text().replace("threads = 8", f"threads = {value}"))

    return change


@pytest.fixture
def fleet_factory(tmp_path: Path) -> Iterator[Callable[..., Fleet]]:
    made: list[Fleet] = []

    def make(customise: Customise, **options: Any) -> Fleet:
        made.append(make_fleet(tmp_path, customise, **options))
        return made[-1]

    yield make
    for fleet in made:
        fleet.kill_standins()


def level(fleet: Fleet, node: str) -> int:
    doc = uplevel("status", "--home", fleet.homes[node], env=fleet.env)
    assert doc["ok"], doc
    result = doc["result"]
    assert isinstance(result, dict)
    assert result["pending"] is None
    return int(result["level"])


def running_version(fleet: Fleet, node: str) -> str:
    return str(fleet.wait_healthy(node)["version"])


def output(r: object) -> str:
    return f"{getattr(r, 'stdout', '')}\n{getattr(r, 'stderr', '')}"


def test_rollout_batch_by_batch_then_a_second_run_changes_nothing(
    fleet_factory: Callable[..., Fleet],
) -> None:
    fleet = fleet_factory({})
    first_pids = {n: fleet.pid(n) for n in NODES}

    r = fleet.playbook()
    assert r.returncode == 0, output(r)
    counters = recap(r.stdout)
    for node in NODES:
        assert counters[node]["failed"] == 0
        assert counters[node]["changed"] == 3, counters  # stop, update, start
        assert level(fleet, node) == 1
        assert running_version(fleet, node) == "core level 1"
        assert fleet.pid(node) != first_pids[node]
    assert "node4: updated: level 0 -> 1, 1 update(s) (0 security), 4 file(s), healthy" in r.stdout

    # One stop and one start per node, in batches: node1 is back before node2 and node3
    # stop; those two are both stopped before either starts; node4 waits for both.
    events = [e for e in fleet.event_lines() if e[4] not in first_pids.values() or e[1] == "stop"]
    when = {(what, node): t for t, what, node, _, _ in events}
    assert len(events) == 8, events
    assert when["stop", "node1"] < when["start", "node1"]
    assert when["start", "node1"] < min(when["stop", "node2"], when["stop", "node3"])
    assert max(when["stop", "node2"], when["stop", "node3"]) < min(
        when["start", "node2"], when["start", "node3"]
    )
    assert max(when["start", "node2"], when["start", "node3"]) < when["stop", "node4"]
    assert when["stop", "node4"] < when["start", "node4"]

    # The node's own port (a local change) survived the merge with the update.
    assert f"port = {fleet.ports['node1']}" in (fleet.homes["node1"] / CONF).read_text()

    updated_pids = {n: fleet.pid(n) for n in NODES}
    digests = {n: tree_digest(fleet.homes[n]) for n in NODES}
    events_before = fleet.event_lines()
    again = fleet.playbook()
    assert again.returncode == 0, output(again)
    counters = recap(again.stdout)
    assert {n: c["changed"] for n, c in counters.items()} == dict.fromkeys(NODES, 0)
    assert again.stdout.count("already at level 1, nothing to do") == 4
    assert fleet.event_lines() == events_before  # no stand-in stopped or started
    assert {n: fleet.pid(n) for n in NODES} == updated_pids
    assert {n: tree_digest(fleet.homes[n]) for n in NODES} == digests


def test_update_that_breaks_node3_health_reverts_it_and_stops_the_rollout(
    fleet_factory: Callable[..., Fleet],
) -> None:
    # node3 was tuned with a bigger minimum heap; the update caps the heap below it. Both
    # changes merge cleanly, and the stand-in (like a JVM given -Xms > -Xmx) is unhealthy.
    fleet = fleet_factory({"node3": add_setting("min_heap_mb = 1024")})
    node3_conf = (fleet.homes["node3"] / CONF).read_bytes()
    node4_pid = fleet.pid("node4")
    node4_digest = tree_digest(fleet.homes["node4"])

    r = fleet.playbook()
    assert r.returncode == 2, output(r)
    text = output(r)
    assert (
        "node3: the update from level 0 to 1 failed. Wait until the health URL answers failed: "
        "Status code was 503"
    ) in text
    assert "min_heap_mb 1024 is above max_heap_mb 512" in text
    assert "The node was reverted to level 0, started and is healthy." in text

    counters = recap(r.stdout)
    assert counters["node3"]["failed"] == 1 and counters["node3"]["rescued"] == 1
    assert counters["node1"]["failed"] == counters["node2"]["failed"] == 0
    assert "node4" not in counters  # its batch never ran

    for node in ("node1", "node2"):
        assert level(fleet, node) == 1
        assert running_version(fleet, node) == "core level 1"
    assert level(fleet, "node3") == 0
    assert running_version(fleet, "node3") == "core level 0"
    assert (fleet.homes["node3"] / CONF).read_bytes() == node3_conf
    assert [e[1:4] for e in fleet.event_lines() if e[2] == "node3"][1:] == [
        ("stop", "node3", "core level 0"),
        ("start", "node3", "core level 1"),
        ("stop", "node3", "core level 1"),
        ("start", "node3", "core level 0"),
    ]

    assert level(fleet, "node4") == 0
    assert fleet.pid("node4") == node4_pid
    assert [e[1] for e in fleet.event_lines() if e[2] == "node4"] == ["start"]
    assert tree_digest(fleet.homes["node4"]) == node4_digest


def test_node_whose_update_would_stop_on_conflicts_keeps_running_its_level(
    fleet_factory: Callable[..., Fleet],
) -> None:
    # node1 raised `threads` to 32; the update raises it to 16: a true conflict.
    fleet = fleet_factory({"node1": set_threads(32)})
    pids = {n: fleet.pid(n) for n in NODES}
    digests = {n: tree_digest(fleet.homes[n]) for n in NODES}

    r = fleet.playbook()
    assert r.returncode == 2, output(r)
    text = " ".join(output(r).split())
    assert (
        "node1: the update from level 0 to 1 would stop on conflicts: "
        "conf/server.toml: server.threads (base 8, local 32, update 16). "
        "The node was not stopped or changed; it still runs level 0."
    ) in text
    assert set(recap(r.stdout)) == {"node1"}
    assert {n: fleet.pid(n) for n in NODES} == pids
    assert [e[1] for e in fleet.event_lines()] == ["start"] * 4
    assert {n: tree_digest(fleet.homes[n]) for n in NODES} == digests
    assert running_version(fleet, "node1") == "core level 0"


def test_check_mode_changes_nothing_on_any_node(
    fleet_factory: Callable[..., Fleet],
) -> None:
    fleet = fleet_factory({})
    del fleet.extra["uplevel_serial"]  # the playbook's default batches: [1, "25%"]
    pids = {n: fleet.pid(n) for n in NODES}
    digests = {n: tree_digest(fleet.homes[n]) for n in NODES}

    r = fleet.playbook("--check")
    assert r.returncode == 0, output(r)
    assert r.stdout.count("PLAY [Rolling update with uplevel]") == 4  # 1, then 25% of 4
    counters = recap(r.stdout)
    assert {n: c["changed"] for n, c in counters.items()} == dict.fromkeys(NODES, 1)
    assert r.stdout.count("would update: level 0 -> 1, 1 update(s) (0 security), 4 file(s)") == 4
    assert {n: tree_digest(fleet.homes[n]) for n in NODES} == digests
    assert {n: fleet.pid(n) for n in NODES} == pids
    assert [e[1] for e in fleet.event_lines()] == ["start"] * 4
    for node in NODES:
        assert level(fleet, node) == 0


def test_node_whose_stop_command_does_not_stop_it_keeps_running_its_level(
    fleet_factory: Callable[..., Fleet],
) -> None:
    # node1's stop command is broken (it returns 0 and stops nothing): uplevel must not
    # touch a running home, so the update fails, and the node is left as it was, running.
    fleet = fleet_factory(
        {}, host_vars={"node1": {"uplevel_stop_command": "true", "uplevel_stop_timeout": 1}}
    )
    pids = {n: fleet.pid(n) for n in NODES}
    digests = {n: tree_digest(fleet.homes[n]) for n in NODES}

    r = fleet.playbook()
    assert r.returncode == 2, output(r)
    text = " ".join(output(r).split())
    assert "node1: the update from level 0 to 1 failed. Update (once the product's process" in text
    assert f"still runs (pid {pids['node1']} in standin.pid) 1 s after it was asked to stop" in text
    assert "The node is still at level 0 (its home was not changed) and healthy." in text
    assert set(recap(r.stdout)) == {"node1"}
    assert {n: fleet.pid(n) for n in NODES} == pids
    assert [e[1] for e in fleet.event_lines()] == ["start"] * 4  # never stopped or started
    assert {n: tree_digest(fleet.homes[n]) for n in NODES} == digests
    assert running_version(fleet, "node1") == "core level 0"
