"""Crash safety of `uplevel migrate`: killed before any of its mutating steps, NEW ends up
exactly as it was or exactly fully migrated, never half.

As in test_crash_safety (whose checks this reuses): a reference run with UPLEVEL_STEP_LOG
counts the N mutating steps; then for EVERY k in 1..N+1 a fresh copy of NEW is migrated
with UPLEVEL_CRASH_AT_STEP=k (os._exit(137) just before step k, like SIGKILL), a read-only
command (status, history, verify in turn) recovers it, and NEW must be byte for byte the
old or the new state, with its level, pending conflicts and backups to match. A home
rolled back is then migrated again and must reach the new state. OLD never changes.

Three migrations: one that copies, carries and merges; one that stops on conflicts; one
with --link (hardlinks on ext4, reflinks where the file system has them). Each moves
directories NEW lacks into place as whole staged trees (one rename step each), so the
crash points include "staged, not yet renamed" and "just renamed".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.crash import (
    CRASH_EXIT,
    RECOVERY_COMMANDS,
    check_home_is_whole,
    copy_home,
    diff,
    outcome_of,
    recover_with,
)
from tests.support.homes import run_cli, snapshot
from tests.support.migrate import CONF, TRUSTSTORE, World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("migrate-crash"), with_databases=False)


def _conflicting(old: Path) -> None:
    conf = old / CONF
    conf.write_text(
        conf.read_text().replace(
            "[apim.analytics]",
            "[apim.throttling]\nenable_data_publishing = false\n\n[apim.analytics]",
        )
    )
    (old / TRUSTSTORE).write_bytes(b"operator's truststore\x00")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("conflicts", "link"),
    [(False, False), (True, False), (False, True)],
    ids=["merging", "stop-on-conflicts", "link"],
)
def test_crash_at_every_step_of_migrate_leaves_new_old_or_migrated(
    world: World, tmp_path: Path, conflicts: bool, link: bool
) -> None:
    old = world.old_home(tmp_path)
    if conflicts:
        _conflicting(old)
    template = world.new_home(tmp_path)
    old_snap = snapshot(old)
    argv = ["migrate", "--from", old, "--to", "HOME", "--repo", world.repo]
    if link:  # hardlinks into NEW: a rollback must unlink them and leave OLD's files alone
        argv.append("--link")
    exit_code = 3 if conflicts else 0

    def run(home: Path, env: dict[str, str] | None = None) -> int:
        return run_cli(*[home if a == "HOME" else a for a in argv], env=env).returncode

    before = outcome_of(template)
    reference = copy_home(template, tmp_path / "reference")
    log = tmp_path / "steps.log"
    assert run(reference, {"UPLEVEL_STEP_LOG": str(log)}) == exit_code
    lines = log.read_text().splitlines()
    steps = len(lines)
    # Directories NEW lacks (the tenants, the solr index) are staged whole and moved in by
    # one rename each: the loop below crashes before that step and just after it.
    trees = [n for n, line in enumerate(lines, 1) if "/txn/stage/t" in line and " -> " in line]
    assert trees, "no directory tree was moved into NEW in one step"
    assert any(f"/txn/stage/t0 -> {reference}/" in lines[n - 1] for n in trees), lines
    after = outcome_of(reference)
    assert after.snap != before.snap and after.pending == conflicts
    failures: list[str] = []
    reached: dict[int, str] = {}
    for k in range(1, steps + 2):
        home = copy_home(template, tmp_path / f"crash-{k}")
        try:
            got = run(home, {"UPLEVEL_CRASH_AT_STEP": str(k)})
            want = CRASH_EXIT if k <= steps else exit_code
            assert got == want, f"exit {got}, expected {want}"
            level = recover_with(home, RECOVERY_COMMANDS[k % len(RECOVERY_COMMANDS)])
            reached[k] = check_home_is_whole(home, before, after, level=level)
            if k > steps:
                assert reached[k] == "new", "an uninterrupted run did not migrate"
            if reached[k] == "old":
                assert run(home) == exit_code, "the migrate run again after recovery failed"
                assert snapshot(home) == after.snap, diff(after.snap, snapshot(home))
        except AssertionError as exc:
            failures.append(f"crash before step {k}/{steps}: {exc}")
        shutil.rmtree(home)
    assert not failures, f"{len(failures)} crash point(s) failed\n" + "\n".join(failures)
    assert {"old", "new"} <= set(reached.values()), reached
    assert snapshot(old) == old_snap, "migrate changed OLD"
    if conflicts:  # the stopped migrate still settles: continue takes the operator's side
        r = run_cli("continue", "--home", reference, "--take", "local", "--json", check=0)
        assert r.json["result"]["status"] == "applied"
