"""Four local "nodes" for the fleet tests and benchmark: a tiny product at levels 0 and 1, a
bundle between them, its profile, four adopted homes each with its own port (a local
change, like a WSO2 port offset), a stand-in server per home, and a YAML inventory that
runs the `uplevel.fleet` collection with `ansible_connection=local`.

Every stand-in this file starts is killed by `Fleet.kill_standins` (tests call it at
teardown), found from the pid files and from the events log, checked by command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import free_port

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "tests" / "fleet" / "standin.py"
BIN = Path(sys.executable).parent
UPLEVEL = BIN / "uplevel"
ANSIBLE_PLAYBOOK = BIN / "ansible-playbook"
PRODUCT = "standin-1.0.0"
CONF = "conf/server.toml"
PID_FILE = "standin.pid"
NODES = ("node1", "node2", "node3", "node4")
STATE = "updates/uplevel"


def write_level(tree: Path, level: int) -> None:
    """The stand-in product's pristine tree: level 1 raises `threads` and caps the heap."""
    (tree / "conf").mkdir(parents=True)
    (tree / "lib").mkdir()
    lines = ["[server]", "port = 9763", f"threads = {16 if level else 8}"]
    if level:
        lines.append("max_heap_mb = 512")
    (tree / CONF).write_text("\n".join(lines) + "\n")
    (tree / "conf/log.properties").write_text(f"root.level = {'WARN' if level else 'INFO'}\n")
    (tree / "lib/core.txt").write_text(f"core level {level}\n")
    (tree / "lib/core.jar").write_bytes(hashlib.sha256(f"jar{level}".encode()).digest() * 512)
    (tree / "README.txt").write_text("Stand-in product for the uplevel fleet tests.\n")


def uplevel(*args: str | Path, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run `uplevel … --json` and return the envelope (any exit code)."""
    p = subprocess.run(
        [str(UPLEVEL), *map(str, args), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    doc = json.loads(p.stdout)
    assert isinstance(doc, dict)
    return doc


def tree_digest(home: Path) -> dict[str, str]:
    """sha256 (or link target, or mode of a dir) of every entry of a home, uplevel's state
    and the stand-in's pid file and log included: what "nothing changed" is checked on.
    Left out: the lock file and `statcache.bin`, a cache every `uplevel status` may rewrite
    (docs/state-format.md), which is not content of the home."""
    out: dict[str, str] = {}
    for path in sorted(home.rglob("*")):
        rel = path.relative_to(home).as_posix()
        if rel in (f"{STATE}/lock", f"{STATE}/statcache.bin"):
            continue
        st = path.lstat()
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            out[rel] = f"dir:{st.st_mode:o}"
        else:
            out[rel] = f"{st.st_mode:o}:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class Fleet:
    root: Path
    homes: dict[str, Path]
    ports: dict[str, int]
    bundle: Path
    profiles: Path
    events: Path
    inventory: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {"UPLEVEL_PROFILES": str(self.profiles)}

    # --- the stand-ins ---------------------------------------------------------------

    def start(self, node: str) -> None:
        subprocess.run(
            [sys.executable, str(STANDIN), "start", "--events", str(self.events)],
            cwd=self.homes[node],
            check=True,
        )

    def health(self, node: str) -> tuple[int, dict[str, object]]:
        """(HTTP status, body) of the node's stand-in; (0, {}) when nothing answers."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.ports[node]}/health", timeout=2
            ) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
        except OSError:
            return 0, {}

    def wait_healthy(self, node: str, timeout: float = 10) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code, body = self.health(node)
            if code == 200:
                return body
            time.sleep(0.05)
        raise AssertionError(f"{node} not healthy after {timeout} s: {self.health(node)}")

    def pid(self, node: str) -> int | None:
        try:
            return int((self.homes[node] / PID_FILE).read_text())
        except (OSError, ValueError):
            return None

    def event_lines(self) -> list[tuple[float, str, str, str, int]]:
        """(time, start|stop, node, version, pid) in the order they happened."""
        by_port = {str(p): n for n, p in self.ports.items()}
        out = []
        if self.events.exists():
            for line in self.events.read_text().splitlines():
                t, what, port, *version, pid = line.split()
                out.append((float(t), what, by_port[port], " ".join(version), int(pid)))
        return sorted(out)

    def kill_standins(self) -> None:
        pids = {self.pid(n) for n in self.homes} | {e[4] for e in self.event_lines()}
        for pid in pids - {None}:
            assert pid is not None
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(STANDIN).encode() in cmdline:
                os.kill(pid, signal.SIGKILL)

    # --- ansible ---------------------------------------------------------------------

    def playbook(self, *args: str, **extra: object) -> subprocess.CompletedProcess[str]:
        """Run the collection's rolling_update playbook (by its FQCN) on the four nodes."""
        return run_playbook(
            self.root,
            self.inventory,
            "uplevel.fleet.rolling_update",
            {**self.extra, **extra},
            *args,
        )


def ansible_env(root: Path) -> dict[str, str]:
    """Environment for ansible-core: the repository as collections path, its temp and home
    directories under `root`, no colour, no config file from the working directory."""
    tmp = root / "ansible-tmp"
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp / "remote"),
        "ANSIBLE_HOME": str(tmp / "home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
    }
    env.pop("ANSIBLE_CONFIG", None)
    return env


def run_playbook(
    root: Path, inventory: Path, playbook: str | Path, variables: dict[str, object], *args: str
) -> subprocess.CompletedProcess[str]:
    vars_file = root / "extra-vars.json"
    vars_file.write_text(json.dumps(variables))
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook), "-e", f"@{vars_file}", *args],
        capture_output=True,
        text=True,
        cwd=root,
        env=ansible_env(root),
        timeout=300,
    )


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counters per host: {"node1": {"ok": 10, "changed": 3, ...}}."""
    out: dict[str, dict[str, int]] = {}
    lines = output.split("PLAY RECAP", 1)[1].splitlines()[1:]
    for line in lines:
        if " : " not in line:
            continue
        host, counters = line.split(" : ", 1)
        out[host.strip()] = {k: int(v) for k, v in (c.split("=") for c in counters.split())}
    return out


def make_fleet(
    root: Path,
    customise: dict[str, Callable[[Path], None]] | None = None,
    *,
    health_command_nodes: tuple[str, ...] = ("node2",),
    host_vars: dict[str, dict[str, object]] | None = None,
    start: bool = True,
) -> Fleet:
    """Four homes at level 0, each adopted, with its own port and any `customise` local
    change, their stand-ins started and healthy, and the inventory written."""
    trees = {n: root / f"level{n}" for n in (0, 1)}
    for n, tree in trees.items():
        write_level(tree, n)
    bundle = root / "standin-0-to-1.bundle"
    doc = uplevel(
        "bundle", "create", "--product", PRODUCT, "--from-tree", trees[0], "--to-tree",
        trees[1], "--from-level", "0", "--to-level", "1", "--title", "threads and heap cap",
        "-o", bundle,
    )  # fmt: skip
    assert doc["ok"], doc
    profiles = root / "profiles"
    profiles.mkdir()
    events = root / "events.log"
    py, standin = sys.executable, STANDIN
    (profiles / "standin.toml").write_text(
        f"""name = "standin"
description = "Stand-in server of the fleet tests"
products = ["standin-*"]
pid_file = "{PID_FILE}"
config = ["conf/**"]
start = "{py} {standin} start --events {events}"
stop = "{py} {standin} stop"
health_url = "http://127.0.0.1:9763/health"
health_timeout = 2
"""
    )
    fleet = Fleet(
        root=root,
        homes={n: root / "nodes" / n for n in NODES},
        ports={n: free_port() for n in NODES},
        bundle=bundle,
        profiles=profiles,
        events=events,
        inventory=root / "inventory.yml",
        extra={
            "uplevel_bundle": str(bundle),
            "uplevel_env": {"UPLEVEL_PROFILES": str(profiles)},
            "uplevel_serial": [1, 2],
            "uplevel_health_delay": 0.5,
        },
    )
    hosts: dict[str, dict[str, object]] = {}
    for node, home in fleet.homes.items():
        shutil.copytree(trees[0], home)
        doc = uplevel("init", "--home", home, "--product", PRODUCT, env=fleet.env)
        assert doc["ok"], doc
        conf = home / CONF
        conf.write_text(conf.read_text().replace("9763", str(fleet.ports[node])))
        if customise and node in customise:
            customise[node](home)
        host: dict[str, object] = {"uplevel_home": str(home)}
        if node in health_command_nodes:
            host["uplevel_health_command"] = f"{py} {standin} health"
        else:
            host["uplevel_health_url"] = f"http://127.0.0.1:{fleet.ports[node]}/health"
        hosts[node] = {**host, **(host_vars or {}).get(node, {})}
    inventory = {
        "all": {
            "children": {
                "standin": {
                    "hosts": hosts,
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                    },
                }
            }
        }
    }
    fleet.inventory.write_text(json.dumps(inventory, indent=1))
    if start:
        for node in NODES:
            fleet.start(node)
        for node in NODES:
            fleet.wait_healthy(node)
    return fleet
