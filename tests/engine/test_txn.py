"""The journaled transaction directly: prepare touches nothing in the home, execute and
commit land the change, rollback and crash recovery bring back the home's exact bytes."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.homes import Snapshot, snapshot
from uplevel.commands.adopt import adoption, write_adoption
from uplevel.core.manifest import Entry, Manifest
from uplevel.engine import fsio
from uplevel.engine.home import Home, State
from uplevel.engine.scan import read_tree
from uplevel.engine.txn import Change, Transaction, open_transaction, recover

PRODUCT = "wso2am-4.2.0"
NEW_CONF = b"port = 9443\n"
NEW_JAR = b"new jar\n"


def adopted(tmp_path: Path) -> tuple[Home, State, Manifest]:
    root = tmp_path / "home"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "server.toml").write_bytes(b"port = 8443\n")
    (root / "lib").mkdir()
    (root / "lib" / "old.jar").write_bytes(b"old jar\n")
    manifest = read_tree(root)
    home = Home(root)
    state = adoption(PRODUCT, "full", 1, manifest)
    write_adoption(home, state, manifest)
    return home, state, manifest


def prepare(home: Home, pristine: Manifest) -> tuple[Transaction, Manifest]:
    """Level 1 → 2: server.toml replaced, old.jar removed, lib/new/new.jar added."""
    conf = Entry.for_bytes(NEW_CONF, 0o644)
    jar = Entry.for_bytes(NEW_JAR, 0o644)
    changes = [
        Change(path="conf/server.toml", before=pristine["conf/server.toml"], after=conf),
        Change(path="lib/old.jar", before=pristine["lib/old.jar"], after=None),
        Change(path="lib/new/new.jar", before=None, after=jar),
    ]
    new = pristine.with_changes({c.path: c.after for c in changes})
    contents = {conf.sha256: NEW_CONF, jar.sha256: NEW_JAR}
    txn = Transaction.prepare(
        home,
        kind="apply",
        changes=changes,
        content=lambda c: [contents[c.after.sha256]] if c.after else [],
        from_level=1,
        to_level=2,
        to_pristine=new.digest,
        target_dirs=lambda d: d in new and new[d].kind == "dir",
    )
    return txn, new


def test_prepare_leaves_the_home_untouched_and_commit_lands_the_change(tmp_path: Path) -> None:
    home, state, pristine = adopted(tmp_path)
    before = snapshot(home.root)
    txn, new = prepare(home, pristine)
    assert snapshot(home.root) == before  # only txn/ under uplevel's state changed
    txn.execute()
    committed = txn.commit(state, before=lambda: home.save_manifest(new))
    assert (home.root / "conf/server.toml").read_bytes() == NEW_CONF
    assert (home.root / "lib/new/new.jar").read_bytes() == NEW_JAR
    assert not (home.root / "lib/old.jar").exists()
    assert not home.txn_dir.exists()
    assert home.load_state() == committed and committed.transactions[-1].id == txn.j.id
    assert (home.records / f"{txn.j.id}.json").is_file()
    assert home.has_object(pristine["lib/old.jar"].sha256)  # the backup, for revert


def test_rollback_brings_back_the_exact_bytes(tmp_path: Path) -> None:
    home, _, pristine = adopted(tmp_path)
    before: Snapshot = snapshot(home.root)
    txn, _ = prepare(home, pristine)
    txn.execute()
    assert snapshot(home.root) != before
    txn.rollback()
    txn.finish()
    assert snapshot(home.root) == before


def test_a_crash_in_the_middle_of_execute_is_rolled_back_by_recovery(tmp_path: Path) -> None:
    home, state, pristine = adopted(tmp_path)
    before = snapshot(home.root)
    txn, _ = prepare(home, pristine)
    assert len(txn.j.ops) > 2
    pid = os.fork()
    if pid == 0:
        try:
            fsio.set_crash_at(2)  # the first step runs, the second never does
            txn.execute()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 137
    assert snapshot(home.root) != before  # half done
    assert open_transaction(home) is not None
    recovered, note = recover(home, home.load_state())
    assert note is not None and "rolled back" in note
    assert snapshot(home.root) == before
    assert recovered.level == state.level and not home.txn_dir.exists()
