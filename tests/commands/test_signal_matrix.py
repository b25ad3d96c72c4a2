"""The signal matrix: SIGINT, SIGTERM and SIGKILL at spread-out moments of every command that
changes a home (apply, update, revert, continue, migrate), on real `uplevel` subprocesses.

Each command is first run once with UPLEVEL_STEP_LOG to learn its N mutating steps and the
step that writes state.json last (the commit). Then, at moments spread over the run (the
first step, a third and two thirds in, just before, at and after the commit, the last), a
fresh copy of the home is run with UPLEVEL_SIGNAL_AT_STEP=k:SIG (the process signals
itself just before step k), and the exit code must agree with the home:

- SIGINT/SIGTERM: 128 + signal (130/143) and the home exactly as it was, nothing left for
  the next command to recover; or the command's own exit code (the interrupt came after
  the commit point), the home exactly at the new state, and a note that it came late;
- SIGKILL: the next command recovers, the home is old or new (never half), and its note
  says what was done: rolled back, finished committing, or the level the home is at.

Both outcomes must occur for SIGINT and SIGTERM (the first step rolls back, the last step
completes), so the matrix cannot pass by never interrupting.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.crash import (
    Outcome,
    check_home_is_whole,
    copy_home,
    outcome_of,
    txn_dir,
)
from tests.support.homes import Sample, conflicting_change, customise, run_cli, snapshot
from tests.support.migrate import World, build_world

pytestmark = pytest.mark.slow

SIGNALS = ("INT", "TERM", "KILL")
FINAL = "bin/api-manager.sh.final"


@dataclass
class Case:
    """One command on one prepared home; `argv` has "HOME" where the home goes."""

    name: str
    template: Path
    argv: list[str | Path]
    exit_code: int
    env: dict[str, str]

    def run(self, home: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
        args = [home if a == "HOME" else a for a in self.argv]
        r = run_cli(*args, env={**self.env, **(env or {})})
        return r.returncode, r.stderr


def moments(log: list[str]) -> list[int]:
    steps = len(log)
    commit = max(n for n, line in enumerate(log, 1) if line.endswith("state.json"))
    picked = {1, steps // 3, 2 * steps // 3, commit - 1, commit, commit + 1, steps}
    return sorted(k for k in picked if 1 <= k <= steps)


def next_note(home: Path) -> str:
    """What the next command (status) says it did to the home, if anything."""
    r = run_cli("status", "--home", home, "--json")
    assert r.returncode == 0 and r.json["error"] is None, r.stderr
    return " ".join(line for line in r.stderr.splitlines() if line.startswith("note:"))


def run_matrix(case: Case, tmp: Path) -> dict[str, int]:
    before = outcome_of(case.template)
    reference = copy_home(case.template, tmp / "reference")
    log_path = tmp / "steps.log"
    code, err = case.run(reference, {"UPLEVEL_STEP_LOG": str(log_path)})
    assert code == case.exit_code, err
    log = log_path.read_text().splitlines()
    after = outcome_of(reference)
    assert after.snap != before.snap
    failures: list[str] = []
    seen: dict[str, set[str]] = {sig: set() for sig in SIGNALS}
    runs = 0
    for k in moments(log):
        for sig in SIGNALS:
            runs += 1
            home = copy_home(case.template, tmp / f"{sig}-{k}")
            try:
                seen[sig].add(check_one(case, home, k, sig, before, after))
            except AssertionError as exc:
                failures.append(f"{case.name} SIG{sig} before step {k}/{len(log)}: {exc}")
            shutil.rmtree(home)
    assert not failures, f"{len(failures)}/{runs} failed\n" + "\n".join(failures)
    for sig in ("INT", "TERM"):
        assert seen[sig] == {"old", "new"}, f"SIG{sig}: only {seen[sig]}"
    return {"runs": runs, "steps": len(log)}


def check_one(case: Case, home: Path, k: int, sig: str, before: Outcome, after: Outcome) -> str:
    code, err = case.run(home, {"UPLEVEL_SIGNAL_AT_STEP": f"{k}:{sig}"})
    if sig == "KILL":
        assert code == -signal.SIGKILL, f"exit {code}\n{err}"
        note = next_note(home)
        level = int(run_cli("status", "--home", home, "--json").json["result"]["level"])
        reached = check_home_is_whole(home, before, after, level=level)
        expected = before if reached == "old" else after
        if "rolled back" in note:
            assert reached == "old", note
        if "finished committing" in note:
            assert reached == "new", note
        if note:
            assert f"level {expected.level}" in note, note
        assert "not changed" not in note or reached == "old", note
        return reached
    interrupted = 128 + signal.Signals[f"SIG{sig}"]
    assert "this is a bug" not in err, err
    if code == interrupted:
        assert snapshot(home) == before.snap, "interrupted, yet the home changed"
        assert txn_dir(home).exists() == before.pending, "interrupted, txn/ left behind"
        assert f"interrupted by SIG{sig}" in err, err
        assert next_note(home) == "", "the interrupted command left recovery to the next one"
        return "old"
    assert code == case.exit_code, f"exit {code}, expected {interrupted} or {case.exit_code}\n{err}"
    assert snapshot(home) == after.snap, "completed, yet the home is not at the new state"
    assert outcome_of(home).level == after.level
    assert f"SIG{sig} arrived after the commit point" in err, err
    assert next_note(home) == ""
    return "new"


# --- the homes ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def homes(sample_source: Sample, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    maker = Sample(tmp_path_factory.mktemp("signal"), sample_source.trees, sample_source.bundles)
    custom0 = maker.home("custom0")
    customise(custom0)
    stopped = maker.home("stopped", level=1)
    conflicting_change(stopped)
    run_cli("apply", "--home", stopped, maker.bundles[2], check=3)
    (stopped / FINAL).write_bytes(b"#!/bin/sh\n# resolved by the operator\n")
    applied2 = copy_home(custom0, maker.root / "applied2")
    run_cli("apply", "--home", applied2, maker.bundles[1], check=0)
    run_cli("apply", "--home", applied2, maker.bundles[2], check=0)
    return {"custom0": custom0, "stopped": stopped, "applied2": applied2}


LOCAL: dict[str, Callable[[Sample, dict[str, Path]], tuple[str, list[str | Path], int]]] = {
    "apply": lambda s, h: ("custom0", ["apply", s.bundles[1], "--home", "HOME"], 0),
    "revert": lambda s, h: ("applied2", ["revert", "--home", "HOME"], 0),
    "continue": lambda s, h: ("stopped", ["continue", "--home", "HOME"], 0),
}


@pytest.mark.parametrize("command", sorted(LOCAL))
def test_signal_matrix_local(
    command: str, sample_source: Sample, homes: dict[str, Path], tmp_path: Path
) -> None:
    template, argv, code = LOCAL[command](sample_source, homes)
    result = run_matrix(Case(command, homes[template], argv, code, {}), tmp_path)
    print(f"signal matrix {command}: {result}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("signal-migrate"), with_databases=False)


def test_signal_matrix_migrate(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    template = world.new_home(tmp_path)
    argv: list[str | Path] = ["migrate", "--from", old, "--to", "HOME", "--repo", world.repo]
    result = run_matrix(Case("migrate", template, argv, 0, {}), tmp_path)
    print(f"signal matrix migrate: {result}")


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    from tests.client.test_online import Published, _init, _publish
    from tests.support.server import serving

    root = tmp_path_factory.mktemp("signal-online")
    repo, trees = _publish(root)
    token = run_cli(
        "repo", "token", "create", repo, "--subscriber", "acme", "--product", "wso2am-*",
        "--channel", "full", "--json", check=0,
    ).json["result"]["token"]  # fmt: skip
    with serving(repo) as url:
        published = Published(repo, trees, url, token)
        home = root / "home"
        shutil.copytree(trees[0], home, symlinks=True)
        _init(published, home, "--level", "0")
        yield home, published.env()


def test_signal_matrix_update(online: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    template, env = online
    argv: list[str | Path] = ["update", "--home", "HOME", "--level", "1"]
    result = run_matrix(Case("update", template, argv, 0, env), tmp_path)
    print(f"signal matrix update: {result}")
