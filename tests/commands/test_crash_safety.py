"""Crash safety of the real CLI: a crash at any moment leaves the home old or new, never half.

What is proven here, always on real `uplevel` subprocesses:

1. Deterministic fault injection. For each operation (a merging apply, an apply that
   stops on conflicts, continue, abort, revert to level 0 in one go, the default
   one-step revert) the operation is first run once with UPLEVEL_STEP_LOG to learn its
   number of mutating steps N. Then, for EVERY k in 1..N, a fresh copy of the home is
   crashed with UPLEVEL_CRASH_AT_STEP=k (os._exit(137) just before step k), and any
   uplevel command (status, history or verify, in turn) must recover it so that:
   - the home (every path: kind, mode, sha256 or link target) equals exactly the old
     state or exactly the new state of the operation;
   - the level and pending-conflict state recorded match the state reached;
   - no byte the home lost relative to the old state is gone: it is in the backup
     store (or, while stopped on conflicts, in the transaction's backups);
   - after a rollback, the operation runs again to completion and reaches exactly the
     new state.
   k = N + 1 checks that the operation finishes normally when no crash comes.
2. SIGKILL of `uplevel apply` on a larger home at seeded random moments spread over
   the apply's duration: same old-or-new checks after `uplevel status`.
3. ENOSPC on a small tmpfs: the free-space pre-check refuses the update, and with the
   pre-check disabled a real ENOSPC while staging leaves the home, the store and the
   state exactly as they were, with a clear error and no transaction left behind.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.crash import (
    CRASH_EXIT,
    RECOVERY_COMMANDS,
    Outcome,
    check_home_is_whole,
    copy_home,
    diff,
    outcome_of,
    recover_with,
    txn_dir,
)
from tests.support.homes import (
    Sample,
    Snapshot,
    conflicting_change,
    customise,
    run_cli,
    snapshot,
    store_hashes,
)
from uplevel.core.paths import STATE_DIR
from uplevel.devtools.sample import PRODUCT, write_level

FINAL = "bin/api-manager.sh.final"
FINAL_BYTES = b"#!/bin/sh\n# resolved by the operator\nexec java -jar launcher.jar\n"
# Commands that must recover a crashed home; each crash point uses the next one.


# --- looking at a home ------------------------------------------------------------------


# --- 1. deterministic fault injection at every step ----------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    template: str  # which prepared home to start from (see `templates`)
    command: tuple[str, ...]  # without --home; "B1"/"B2" stand for the sample's bundles
    exit_code: int  # of an uninterrupted run
    # For abort: the template it returns to. What the stopped apply installed on top of it
    # (bundle contents, helper files) may go; the operator's .final must be kept.
    undoes: str | None = None

    def argv(self, sample: Sample, home: Path) -> list[str | Path]:
        bundles = {"B1": sample.bundles[1], "B2": sample.bundles[2]}
        return [bundles.get(a, a) for a in self.command] + ["--home", home]


SCENARIOS = [
    Scenario("apply-merge", "custom0", ("apply", "B1"), 0),
    Scenario("apply-stop-on-conflict", "conflict1", ("apply", "B2"), 3),
    Scenario("continue", "stopped", ("continue",), 0),
    Scenario("abort", "stopped", ("abort",), 0, undoes="conflict1"),
    Scenario("revert-to-level-0", "applied2", ("revert", "--level", "0"), 0),
    Scenario("revert-one-step", "applied2", ("revert",), 0),
]


@pytest.fixture(scope="session")
def templates(sample_source: Sample, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Adopted homes, made once, that each crash point copies."""
    maker = Sample(tmp_path_factory.mktemp("templates"), sample_source.trees, sample_source.bundles)
    custom0 = maker.home("custom0")
    customise(custom0)
    conflict1 = maker.home("conflict1", level=1)
    conflicting_change(conflict1)
    stopped = copy_home(conflict1, maker.root / "stopped")
    run_cli("apply", "--home", stopped, maker.bundles[2], check=3)
    (stopped / FINAL).write_bytes(FINAL_BYTES)
    applied2 = copy_home(custom0, maker.root / "applied2")
    run_cli("apply", "--home", applied2, maker.bundles[1], check=0)
    run_cli("apply", "--home", applied2, maker.bundles[2], check=0)
    return {"custom0": custom0, "conflict1": conflict1, "stopped": stopped, "applied2": applied2}


def installed_by_uplevel(sc: Scenario, templates: dict[str, Path], old: Outcome) -> tuple[str, ...]:
    """Paths of the old state that the transaction being undone put there (not the operator)."""
    if sc.undoes is None:
        return ()
    base = snapshot(templates[sc.undoes])
    return tuple(p for p in old.snap if old.snap[p] != base.get(p) and p != FINAL)


def reference_run(sc: Scenario, sample: Sample, template: Path, work: Path) -> tuple[int, Outcome]:
    """Run the operation once without a crash: its number of steps and its new state."""
    home = copy_home(template, work / "reference")
    log = work / "steps.log"
    r = run_cli(*sc.argv(sample, home), env={"UPLEVEL_STEP_LOG": str(log)})
    assert r.returncode == sc.exit_code, r.stdout + r.stderr
    steps = len(log.read_text().splitlines())
    assert steps > 0
    return steps, outcome_of(home)


def crash_and_recover(
    sc: Scenario,
    sample: Sample,
    home: Path,
    k: int,
    steps: int,
    old: Outcome,
    new: Outcome,
    disposable: tuple[str, ...],
) -> str:
    """Crash the operation before step k, recover, check old-or-new, finish it if rolled back."""
    r = run_cli(*sc.argv(sample, home), env={"UPLEVEL_CRASH_AT_STEP": str(k)})
    want = CRASH_EXIT if k <= steps else sc.exit_code
    assert r.returncode == want, f"exit {r.returncode}, expected {want}\n{r.stdout}{r.stderr}"
    level = recover_with(home, RECOVERY_COMMANDS[k % len(RECOVERY_COMMANDS)])
    reached = check_home_is_whole(home, old, new, level=level, disposable=disposable)
    if k > steps:
        assert reached == "new", "an uninterrupted run did not reach the new state"
    if reached == "old":
        again = run_cli(*sc.argv(sample, home))
        assert again.returncode == sc.exit_code, f"rerun: {again.stdout}{again.stderr}"
        assert outcome_of(home) == new, f"rerun differs from new: {diff(new.snap, snapshot(home))}"
    return reached


@pytest.mark.slow
@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda sc: sc.name)
def test_crash_at_every_step_leaves_old_or_new(
    sc: Scenario, sample: Sample, templates: dict[str, Path], tmp_path: Path
) -> None:
    template = templates[sc.template]
    old = outcome_of(template)
    steps, new = reference_run(sc, sample, template, tmp_path)
    assert old.snap != new.snap, "the operation must change the home for this test to mean much"
    disposable = installed_by_uplevel(sc, templates, old)
    failures: list[str] = []
    reached: dict[int, str] = {}
    for k in range(1, steps + 2):
        home = copy_home(template, tmp_path / f"crash-{k}")
        try:
            reached[k] = crash_and_recover(sc, sample, home, k, steps, old, new, disposable)
        except AssertionError as exc:
            failures.append(f"crash before step {k}/{steps}: {exc}")
        shutil.rmtree(home)
    assert not failures, f"{sc.name}: {len(failures)} crash point(s) failed\n" + "\n".join(failures)
    # Crash points on both sides of the commit point were exercised.
    assert {"old", "new"} <= set(reached.values()), reached


# --- 2. SIGKILL at random moments on a larger home ------------------------------------------

BIG_FILES = 300


def write_big_level(root: Path, level: int) -> None:
    """The sample at `level` plus BIG_FILES files of 50-200 KB; level 1 replaces ~80% of them,
    removes ~10% and adds a few."""
    write_level(root, level)
    lib = root / "repository/components/dropins"
    lib.mkdir(parents=True)
    sizes = random.Random("sizes")
    for i in range(BIG_FILES):
        size = sizes.randrange(50_000, 200_000)
        version = 0
        if level == 1:
            if i % 10 == 0:
                continue  # removed by the update
            version = 0 if i % 10 == 1 else 1  # ~80% replaced
        data = random.Random(f"big-{i}-{version}").randbytes(size)
        (lib / f"bundle_{i:03d}.jar").write_bytes(data)
    if level == 1:
        for i in range(10):
            (lib / f"added_{i}.jar").write_bytes(random.Random(f"added-{i}").randbytes(80_000))


def make_bundle(src: Path, dst: Path, out: Path, from_level: int, to_level: int) -> Path:
    run_cli(
        "bundle", "create", "--product", PRODUCT, "--from-tree", src, "--to-tree", dst,
        "--from-level", str(from_level), "--to-level", str(to_level), "-o", out, check=0,
    )  # fmt: skip
    return out


def adopt(tree: Path, home: Path, level: int = 0) -> Path:
    copy_home(tree, home)
    run_cli("init", "--home", home, "--product", PRODUCT, "--level", str(level), check=0)
    return home


def start_apply(home: Path, bundle: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "uplevel", "apply", "--home", str(home), str(bundle)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


class StepLog:
    """Follows the UPLEVEL_STEP_LOG of a running apply."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = ""

    def has(self, marker: str) -> bool:
        if self.path.exists():
            with open(self.path) as f:
                f.seek(len(self.text))
                self.text += f.read()
        return marker in self.text


# Moments of an apply: (name, marker in the step log that starts it, number of kills).
PHASES = (
    ("prepare", None, 4),  # from the start: planning, staging new contents
    ("execute", " rename ", 3),  # the first step in the home proper
    ("finish", "/state.json", 3),  # the commit point; then backups move into the store
)
KILLS = sum(kills for _, _, kills in PHASES)


def wait_for(proc: subprocess.Popen, log: StepLog, marker: str | None) -> None:
    while marker is not None and proc.poll() is None and not log.has(marker):
        time.sleep(0.001)


def timed_apply(home: Path, bundle: Path, log_path: Path) -> dict[str, float]:
    """Run one apply to completion and return how long each phase of PHASES lasted."""
    log = StepLog(log_path)
    start = time.monotonic()
    proc = start_apply(home, bundle, {"UPLEVEL_STEP_LOG": str(log_path)})
    begins = []
    for _, marker, _ in PHASES:
        wait_for(proc, log, marker)
        begins.append(time.monotonic() - start)
    assert proc.wait(timeout=60) == 0
    ends = [*begins[1:], time.monotonic() - start]
    return {
        name: end - begin for (name, _, _), begin, end in zip(PHASES, begins, ends, strict=True)
    }


def kill_apply(home: Path, bundle: Path, log_path: Path, marker: str | None, delay: float) -> int:
    """Start `uplevel apply`, SIGKILL it `delay` seconds after `marker` shows in its step
    log (after the start if None); return its exit status."""
    proc = start_apply(home, bundle, {"UPLEVEL_STEP_LOG": str(log_path)})
    wait_for(proc, StepLog(log_path), marker)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_old_or_new(tmp_path: Path) -> None:
    trees = {}
    for level in (0, 1):
        trees[level] = tmp_path / f"big{level}"
        trees[level].mkdir()
        write_big_level(trees[level], level)
    bundle = make_bundle(trees[0], trees[1], tmp_path / "big-1.bundle", 0, 1)
    template = adopt(trees[0], tmp_path / "template")
    customise(template)
    old = outcome_of(template)

    reference = copy_home(template, tmp_path / "reference")
    os.sync()  # so that the apply's fsyncs do not also flush the copy: steadier timings
    durations = timed_apply(reference, bundle, tmp_path / "reference.log")
    new = outcome_of(reference)
    assert new.level == 1 and old.snap != new.snap

    rng = random.Random(1137)
    moments = [
        (name, marker, rng.uniform(0, durations[name]))
        for name, marker, kills in PHASES
        for _ in range(kills)
    ]
    killed = 0
    seen: list[str] = []
    for i, (phase, marker, delay) in enumerate(moments):
        home = copy_home(template, tmp_path / f"kill-{i}")
        os.sync()
        status = kill_apply(home, bundle, tmp_path / f"kill-{i}.log", marker, delay)
        killed += status == -signal.SIGKILL
        level = recover_with(home, ("status", "--json"))
        reached = check_home_is_whole(home, old, new, level=level)
        seen.append(f"{phase}+{delay:.3f}s: exit {status}, {reached}")
        if reached == "old":
            run_cli("apply", "--home", home, bundle, check=0)
            assert outcome_of(home) == new, diff(new.snap, snapshot(home))
        shutil.rmtree(home)
    # The kills really interrupted the apply, in every phase but the short last one.
    assert killed >= KILLS - 3, f"only {killed} of {KILLS} runs were killed mid-way: {seen}"


# --- 3. ENOSPC on a small tmpfs --------------------------------------------------------------

TMPFS_SIZE = "1m"  # the sample home and its state fit; three 400 KB new files do not


@contextlib.contextmanager
def small_tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    mountpoint.mkdir()
    p = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {p.stderr.strip() or p.returncode}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


@dataclass(frozen=True)
class SpaceCase:
    level0: Path
    level1: Path
    bundle: Path


@pytest.fixture(scope="module")
def space_case(tmp_path_factory: pytest.TempPathFactory) -> SpaceCase:
    """The sample at level 0, and a bundle to level 1 that adds 1.2 MB of new contents."""
    root = tmp_path_factory.mktemp("space")
    level0, level1 = root / "level0", root / "level1"
    for tree, level in ((level0, 0), (level1, 1)):
        tree.mkdir()
        write_level(tree, level)
    for i in range(3):
        jar = level1 / f"repository/components/plugins/org.wso2.big_{i}.jar"
        jar.write_bytes(random.Random(f"space-{i}").randbytes(400_000))
    return SpaceCase(level0, level1, make_bundle(level0, level1, root / "space-1.bundle", 0, 1))


@dataclass(frozen=True)
class Untouched:
    """What must not change when an update fails: the home, state.json, the store."""

    snap: Snapshot
    state: bytes
    store: set[str]

    @classmethod
    def of(cls, home: Path) -> Untouched:
        state = (home / STATE_DIR / "state.json").read_bytes()
        return cls(snapshot(home), state, store_hashes(home))


@pytest.mark.parametrize(
    "env",
    [{}, {"UPLEVEL_SKIP_SPACE_CHECK": "1"}],
    ids=["refused-by-pre-check", "real-enospc-while-staging"],
)
def test_no_space_leaves_home_as_it_was(
    tmp_path: Path, space_case: SpaceCase, env: dict[str, str]
) -> None:
    with small_tmpfs(tmp_path / "mnt", TMPFS_SIZE) as mnt:
        home = adopt(space_case.level0, mnt / "home")
        before = Untouched.of(home)
        r = run_cli("apply", "--json", "--home", home, space_case.bundle, env=env)
        assert r.returncode == 1, r.stdout + r.stderr
        error = r.json["error"]
        assert error["type"] == "NotEnoughSpaceError", error
        expected = "no space left" if env else "not enough free space"
        assert expected in error["message"], error
        assert Untouched.of(home) == before, diff(before.snap, snapshot(home))
        assert not txn_dir(home).exists(), "a transaction was left behind"
        assert recover_with(home, ("status", "--json")) == 0
        assert Untouched.of(home).snap == before.snap
        # With room made, the same update goes through to the exact level-1 tree.
        subprocess.run(["mount", "-o", "remount,size=16m", str(mnt)], check=True)
        run_cli("apply", "--home", home, space_case.bundle, check=0)
        assert outcome_of(home) == Outcome(snapshot(space_case.level1), 1, False)
