"""Benchmark the fleet rollout: what the Ansible playbook costs per node over uplevel alone.

Usage: .venv/bin/python benchmarks/fleet_bench.py [--repeat 3] [--workdir DIR] [--no-write]

The set-up is the fleet tests' (tests/support/fleet.py): four local nodes, each a home of a
small stand-in product at level 0 with its own port, a real stand-in server process per
node, and a bundle to level 1. Each repeat builds fresh fleets and times, in the same run:

- the `uplevel.fleet.rolling_update` playbook (default batches `[1, "25%"]`, one node at a
  time here), from `ansible-playbook` start to exit;
- a plain shell loop doing the same per node: the profile's stop command, `uplevel apply`,
  the start command, and `curl` on the health URL every 0.5 s (the playbook's probe delay
  here) until it answers 200;
- `uplevel apply` alone on the four homes, products stopped beforehand (untimed);
- the playbook again on the updated fleet (nothing to do), and `uplevel status` on the four
  homes, what that run has to find out.

Every run must leave each node at level 1 and its stand-in answering as level 1 (the
no-op run: not restarted), or the benchmark stops. The orchestration overhead per node is
(playbook - shell loop) / 4. Results go to the "## Fleet rollout" section of
benchmarks/RESULTS.md (only that section; `--no-write` leaves the file alone).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.support.fleet import (  # noqa: E402
    ANSIBLE_PLAYBOOK,
    NODES,
    UPLEVEL,
    Fleet,
    make_fleet,
    recap,
)

HEADING = "## Fleet rollout"
PROBE_DELAY = 0.5


class BenchError(RuntimeError):
    """A run did not do what it must: say what and stop."""


def timed(fn: Callable[[], None]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def check_updated(fleet: Fleet, what: str) -> None:
    for node in NODES:
        body = fleet.wait_healthy(node)
        if body["version"] != "core level 1":
            raise BenchError(f"{what}: {node} runs {body['version']}, not level 1")
        status = subprocess.run(
            [str(UPLEVEL), "status", "--home", str(fleet.homes[node]), "--json"],
            capture_output=True, text=True, env={**os.environ, **fleet.env}, check=False,
        )  # fmt: skip
        if '"level": 1' not in status.stdout:
            raise BenchError(f"{what}: {node} is not at level 1: {status.stdout[-500:]}")


def playbook(fleet: Fleet, expect_changed: int) -> None:
    fleet.extra.pop("uplevel_serial", None)  # the playbook's default batches
    r = fleet.playbook()
    if r.returncode != 0:
        raise BenchError(f"playbook failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    changed = {n: c["changed"] for n, c in recap(r.stdout).items()}
    if changed != dict.fromkeys(NODES, expect_changed):
        raise BenchError(f"playbook changed {changed}, expected {expect_changed} per node")


def shell_loop(fleet: Fleet) -> None:
    profile = (fleet.profiles / "standin.toml").read_text()
    stop = profile.split('stop = "', 1)[1].split('"', 1)[0]
    start = profile.split('start = "', 1)[1].split('"', 1)[0]
    script = ["set -e"]
    for node in NODES:
        home, url = fleet.homes[node], f"http://127.0.0.1:{fleet.ports[node]}/health"
        script += [
            f"cd {home}",
            stop,
            f"{UPLEVEL} apply {fleet.bundle} --home {home} --json > /dev/null",
            start,
            f"until curl -fs -o /dev/null {url}; do sleep {PROBE_DELAY}; done",
        ]
    subprocess.run(["bash", "-c", "\n".join(script)], check=True, env={**os.environ, **fleet.env})


def apply_alone(fleet: Fleet) -> None:
    for node in NODES:
        subprocess.run(
            [str(UPLEVEL), "apply", str(fleet.bundle), "--home", str(fleet.homes[node]),
             "--json"],
            check=True, capture_output=True, env={**os.environ, **fleet.env},
        )  # fmt: skip


def status_all(fleet: Fleet) -> None:
    for node in NODES:
        subprocess.run(
            [str(UPLEVEL), "status", "--home", str(fleet.homes[node]), "--json"],
            check=True, capture_output=True, env={**os.environ, **fleet.env},
        )  # fmt: skip


def fresh(work: Path, name: str) -> Fleet:
    root = work / name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return make_fleet(root)


def one_repeat(work: Path, samples: dict[str, list[float]]) -> None:
    fleets: list[Fleet] = []
    try:
        fleet = fresh(work, "playbook")
        fleets.append(fleet)
        samples["playbook"].append(timed(lambda: playbook(fleet, 3)))
        check_updated(fleet, "playbook")
        pids = {n: fleet.pid(n) for n in NODES}
        samples["playbook_noop"].append(timed(lambda: playbook(fleet, 0)))
        if {n: fleet.pid(n) for n in NODES} != pids:
            raise BenchError("the up-to-date run restarted a stand-in")
        samples["status"].append(timed(lambda: status_all(fleet)))

        shell = fresh(work, "shell")
        fleets.append(shell)
        samples["shell"].append(timed(lambda: shell_loop(shell)))
        check_updated(shell, "shell loop")

        alone = fresh(work, "apply")
        fleets.append(alone)
        alone.kill_standins()
        for node in NODES:
            (alone.homes[node] / "standin.pid").unlink(missing_ok=True)
        samples["apply"].append(timed(lambda: apply_alone(alone)))
    finally:
        for f in fleets:
            f.kill_standins()


def ansible_version() -> str:
    out = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "--version"], capture_output=True, text=True, check=False
    ).stdout
    return out.splitlines()[0].strip() if out else "?"


def section(samples: dict[str, list[float]], facts: dict[str, str], repeat: int) -> str:
    med = {k: statistics.median(v) for k, v in samples.items()}
    n = len(NODES)
    rows = [
        ("playbook `uplevel.fleet.rolling_update` (stop, update, start, health gate)",
         "playbook"),
        ("shell loop: stop; `uplevel apply`; start; curl health every 0.5 s", "shell"),
        ("`uplevel apply` alone (products already stopped)", "apply"),
        ("playbook again, fleet up to date (changed=0, nothing restarted)", "playbook_noop"),
        ("`uplevel status --json` on each home", "status"),
    ]  # fmt: skip
    lines = [
        HEADING,
        "",
        "Produced by `benchmarks/fleet_bench.py` (`./dev bench-fleet`): four local nodes",
        "(`ansible_connection=local`), each a home with a real stand-in server, updated from",
        "level 0 to 1 by a bundle; every timing is of a fresh fleet, all in the same run,",
        f'median of {repeat}. Batches are the playbook\'s default `[1, "25%"]` (one node at a',
        "time for four nodes), like the shell loop.",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines += [
        "",
        "| run (4 nodes) | median | per node | samples (s) |",
        "| --- | ---: | ---: | --- |",
    ]
    for label, key in rows:
        samples_text = ", ".join(f"{s:.2f}" for s in samples[key])
        lines.append(f"| {label} | {med[key]:.2f} s | {med[key] / n:.2f} s | {samples_text} |")
    over_shell = (med["playbook"] - med["shell"]) / n
    over_apply = (med["playbook"] - med["apply"]) / n
    noop_over = (med["playbook_noop"] - med["status"]) / n
    lines += [
        "",
        f"- **Orchestration overhead per node: {over_shell:.2f} s** (playbook − shell loop,",
        "  divided by 4): Ansible's module runs (each task ships and starts a Python module),",
        "  the dry-run plan and profile read before the stop, the argument validation, and",
        "  the per-batch play set-up.",
        f"- Over `uplevel apply` alone: {over_apply:.2f} s per node, which also counts the",
        "  stop, start and health wait any safe rollout needs.",
        f"- Up-to-date fleet: {med['playbook_noop'] / n:.2f} s per node for a run that changes",
        f"  nothing ({noop_over:.2f} s per node over `uplevel status`).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="fresh fleets per measure (>= 3)")
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/uplevel-fleet-bench"))
    ap.add_argument("--no-write", action="store_true", help="do not touch benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    if args.repeat < 3:
        ap.error("--repeat must be at least 3 (medians)")
    for tool in (ANSIBLE_PLAYBOOK, UPLEVEL):
        if not tool.exists():
            print(f"fleet_bench: {tool} is missing: run ./dev bench-fleet", file=sys.stderr)
            return 2
    if not shutil.which("curl"):
        print(
            "fleet_bench: curl is needed for the shell loop: apt-get install curl", file=sys.stderr
        )
        return 2
    import report

    load_at_start = os.getloadavg()[0]
    samples: dict[str, list[float]] = {
        k: [] for k in ("playbook", "playbook_noop", "status", "shell", "apply")
    }
    try:
        for _ in range(args.repeat):
            one_repeat(args.workdir, samples)
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"fleet_bench: {exc}", file=sys.stderr)
        return 1
    facts = report.machine_facts(args.workdir)
    for key in ("rsync", "git", "sha256sum"):
        facts.pop(key, None)
    facts["ansible"] = ansible_version()
    facts["load (1 min)"] = f"{load_at_start:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    text = section(samples, facts, args.repeat)
    print(text)
    if not args.no_write:
        report.write_section(HERE / "RESULTS.md", HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
