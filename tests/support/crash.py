"""Crash injection: run a command that dies before its k-th mutating step (fsio), then check that recovery leaves the home old or new, never half."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.support.homes import (
    Snapshot,
    run_cli,
    snapshot,
    store_hashes,
)
from uplevel.core.paths import STATE_DIR

CRASH_EXIT = 137


RECOVERY_COMMANDS = (("status", "--json"), ("history", "--json"), ("verify", "--json"))


def outcome_of(home: Path) -> Outcome:
    state = state_json(home)
    return Outcome(snapshot(home), state["level"], state["pending"] is not None)


def diff(a: Snapshot, b: Snapshot, limit: int = 8) -> list[str]:
    paths = sorted(p for p in a.keys() | b.keys() if a.get(p) != b.get(p))
    return [f"{p}: {a.get(p)} -> {b.get(p)}" for p in paths[:limit]]


def check_home_is_whole(
    home: Path, old: Outcome, new: Outcome, *, level: int, disposable: tuple[str, ...] = ()
) -> str:
    """Assert old-or-new exactly, matching level/pending, and no lost byte; return which."""
    snap = snapshot(home)
    reached = which_state(snap, old, new)
    expected = old if reached == "old" else new
    assert level == expected.level, (
        f"reported level {level}, the {reached} state is {expected.level}"
    )
    assert state_json(home)["level"] == expected.level
    assert (state_json(home)["pending"] is not None) == expected.pending, f"pending in {reached}"
    assert txn_dir(home).exists() == expected.pending, f"txn/ left behind in the {reached} state"
    lost = file_hashes(old.snap, exclude=disposable) - file_hashes(snap)
    missing = lost - kept_hashes(home)
    assert not missing, f"{len(missing)} replaced or removed file(s) not kept: {sorted(missing)}"
    return reached


def recover_with(home: Path, command: tuple[str, ...]) -> int:
    """Run a read-only command on a crashed home; it must recover and report the level."""
    r = run_cli(*command, "--home", home)
    envelope = r.json
    assert envelope["error"] is None, f"{command[0]} failed after the crash: {envelope['error']}"
    assert r.returncode in ((0, 1) if command[0] == "verify" else (0,)), r.stderr
    return int(envelope["result"]["level"])


def copy_home(template: Path, dst: Path) -> Path:
    shutil.copytree(template, dst, symlinks=True)
    return dst


@dataclass(frozen=True)
class Outcome:
    """A state a home can be in: its files, its level, and whether conflicts are pending."""

    snap: Snapshot
    level: int
    pending: bool


def state_json(home: Path) -> dict:
    return json.loads((home / STATE_DIR / "state.json").read_bytes())


def txn_dir(home: Path) -> Path:
    return home / STATE_DIR / "txn"


def file_hashes(snap: Snapshot, exclude: tuple[str, ...] = ()) -> set[str]:
    return {h for p, (kind, _, h) in snap.items() if kind == "file" and p not in exclude}


def kept_hashes(home: Path) -> set[str]:
    """Bytes uplevel still holds: the backup store, plus the backups of a stopped transaction."""
    held = store_hashes(home)
    backup = txn_dir(home) / "backup"
    if backup.is_dir():
        held |= {hashlib.sha256(p.read_bytes()).hexdigest() for p in backup.iterdir()}
    return held


def which_state(snap: Snapshot, old: Outcome, new: Outcome) -> str:
    if snap == old.snap:
        return "old"
    if snap == new.snap:
        return "new"
    raise AssertionError(
        "the home is neither the old nor the new state\n"
        f"  vs old: {diff(old.snap, snap)}\n  vs new: {diff(new.snap, snap)}"
    )
