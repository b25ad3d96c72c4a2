"""The real CLI in subprocesses: help, the --json envelope, exit codes, refusals, status, prune."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.crash import state_json
from tests.support.homes import (
    Sample,
    Snapshot,
    conflicting_change,
    customise,
    run_cli,
    snapshot,
    store_hashes,
)
from tests.support.migrate import held_open, make_database, needs_h2
from uplevel.devtools.sample import PRODUCT

ENVELOPE = {"uplevel", "command", "ok", "exit_code", "result", "error"}
STATE = "updates/uplevel"
LOCK = f"{STATE}/lock"
TOML = "repository/conf/deployment.toml"
LOG4J = "repository/conf/log4j2.properties"
SH = "bin/api-manager.sh"


def state_snapshot(home: Path) -> Snapshot:
    snap = snapshot(home, include_state=True)
    snap.pop(LOCK, None)
    return snap


def envelope(r: Any, command: str, exit_code: int) -> dict[str, Any]:
    """The one JSON document on stdout, with exactly the envelope keys, for `command`."""
    assert r.returncode == exit_code, (r.returncode, r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    assert isinstance(doc, dict)
    assert set(doc) == ENVELOPE, sorted(doc)
    assert doc["uplevel"] == 1
    assert doc["command"] == command
    assert doc["exit_code"] == exit_code
    assert doc["ok"] is (exit_code == 0)
    return doc


def ok_envelope(r: Any, command: str, exit_code: int = 0) -> dict[str, Any]:
    doc = envelope(r, command, exit_code)
    assert doc["error"] is None
    assert isinstance(doc["result"], dict)
    return doc["result"]  # type: ignore[no-any-return]


def error_envelope(r: Any, command: str, exit_code: int, type_: str) -> dict[str, Any]:
    doc = envelope(r, command, exit_code)
    assert doc["result"] is None
    err = doc["error"]
    assert set(err) == {"type", "message", "hint"}
    assert err["type"] == type_
    assert isinstance(err["message"], str) and err["message"]
    return err  # type: ignore[no-any-return]


@contextmanager
def held_lock(home: Path, holder: str = "") -> Iterator[None]:
    fd = os.open(home / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if holder:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{holder}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(p.pid, 0)
    return p.pid


# --- help and usage -------------------------------------------------------------------------

COMMANDS = [
    ("init", "Adopt a home"),
    ("status", "Level, channel"),
    ("verify", "Hash every file"),
    ("history", "What was applied"),
    ("apply", "In-place update"),
    ("continue", "Finish an update"),
    ("abort", "Undo an update"),
    ("revert", "Back to an earlier level"),
    ("prune", "Delete backups"),
    ("bundle", "Publisher"),
    ("bundle create", "Make a bundle"),
]


@pytest.mark.parametrize(("command", "summary"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_help_of_every_command(command: str, summary: str) -> None:
    r = run_cli(*command.split(), "--help")
    assert r.returncode == 0, r.stderr
    assert f"uplevel {command} [OPTIONS]" in r.stdout
    assert summary in r.stdout
    assert r.stderr == ""
    if command not in ("bundle",):
        assert "--json" in r.stdout
    assert run_cli(*command.split(), "-h").stdout == r.stdout


def test_top_level_help_lists_every_command_and_exit_codes() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for command, _ in COMMANDS:
        if " " not in command:
            assert f"  {command} " in r.stdout, command
    flat = " ".join(r.stdout.split())
    assert "3 stopped on conflicts" in flat and "4 the product runs" in flat
    v = run_cli("--version")
    assert v.returncode == 0 and "0.1.0" in v.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["init", "--product", PRODUCT, "--channel", "bogus"], "Invalid value for '--channel'"),
        (["init", "--level", "0"], "Missing option '--product'"),
        (["init", "--product", PRODUCT, "--level", "zero"], "Invalid value for '--level'"),
        (["bundle", "create", "--from-tree", ".", "--to-tree", ".", "--from-level", "0",
          "--to-level", "1", "-o", "x"], "Missing option '--product'"),
        (["apply", "--on-conflict", "maybe", "x.bundle"], "Invalid value for '--on-conflict'"),
        (["apply", "no-such-file.bundle"], "does not exist"),
        (["apply"], "Missing argument 'BUNDLE'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["status", "--bogus-flag"], "No such option"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(sample: Sample, args: list[str], needle: str) -> None:
    home = sample.root / "plain"
    shutil.copytree(sample.trees[0], home, symlinks=True)
    before = snapshot(home, include_state=True)
    r = run_cli(
        *args[:1],
        *(["--home", str(home)] if args[0] not in ("bundle", "frobnicate") else []),
        *args[1:],
    )
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert needle in r.stderr
    assert snapshot(home, include_state=True) == before  # nothing adopted or created


def test_use_case_usage_errors_exit_2(sample: Sample) -> None:
    home = sample.root / "plain"
    shutil.copytree(sample.trees[0], home, symlinks=True)
    r = run_cli("init", "--home", home, "--product", "not a product")
    assert r.returncode == 2 and "NAME-VERSION" in r.stderr
    r = run_cli("init", "--home", home, "--product", PRODUCT, "--level", "-1")
    assert r.returncode == 2 and "--level" in r.stderr
    err = error_envelope(
        run_cli("init", "--home", home, "--product", "Bad Name", "--json"), "init", 2, "UsageError"
    )
    assert "NAME-VERSION" in err["message"]
    assert not (home / "updates").exists()
    r = run_cli("status", "--home", sample.root / "nowhere")
    assert r.returncode == 2 and "is not a directory" in r.stderr


# --- init and non-adopted homes ---------------------------------------------------------------


def test_init_twice_is_refused(sample: Sample) -> None:
    home = sample.home()
    before = state_snapshot(home)
    r = run_cli("init", "--home", home, "--product", PRODUCT, "--level", "1")
    assert r.returncode == 1
    assert "already adopted" in r.stderr
    assert "hint: see `uplevel status`" in r.stderr
    assert state_snapshot(home) == before
    st = ok_envelope(run_cli("status", "--home", home, "--json"), "status")
    assert st["level"] == 0


def test_init_json_and_uplevel_home_env(sample: Sample) -> None:
    home = sample.root / "envhome"
    shutil.copytree(sample.trees[0], home, symlinks=True)
    r = run_cli("init", "--product", PRODUCT, "--json", env={"UPLEVEL_HOME": str(home)})
    res = ok_envelope(r, "init")
    assert res["home"] == str(home.resolve())
    assert (res["product"], res["level"], res["channel"]) == (PRODUCT, 0, "full")
    assert res["files"] == sum(1 for v in snapshot(home).values() if v[0] == "file")
    st = ok_envelope(run_cli("status", "--json", env={"UPLEVEL_HOME": str(home)}), "status")
    assert st["local_changes"] == {"modified": [], "added": [], "deleted": []}


@pytest.mark.parametrize("command", ["status", "history", "verify"])
def test_non_adopted_home_needs_init(sample: Sample, command: str) -> None:
    home = sample.root / "plain"
    shutil.copytree(sample.trees[0], home, symlinks=True)
    before = snapshot(home, include_state=True)
    r = run_cli(command, "--home", home)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "is not an uplevel home" in r.stderr
    assert "hint:" in r.stderr and "uplevel init" in r.stderr
    err = error_envelope(run_cli(command, "--home", home, "--json"), command, 1, "HomeError")
    assert "not an uplevel home" in err["message"]
    assert err["hint"] is not None and "uplevel init" in err["hint"]
    assert snapshot(home, include_state=True) == before  # no state dir, no lock file created


# --- the --json envelope -------------------------------------------------------------------------


def test_json_envelopes_of_each_command(sample: Sample) -> None:
    home = sample.home()
    st = ok_envelope(run_cli("status", "--home", home, "--json"), "status")
    assert st["level"] == 0 and st["busy"] is False and st["pending"] is None
    v = ok_envelope(run_cli("verify", "--home", home, "--json"), "verify")
    assert v["pristine"] is True and v["files_hashed"] > 0
    h = ok_envelope(run_cli("history", "--home", home, "--json"), "history")
    assert [e["event"] for e in h["events"]] == ["init"]

    dry = ok_envelope(
        run_cli("apply", "--home", home, "--dry-run", sample.bundles[1], "--json"), "apply"
    )
    assert dry["status"] == "dry-run"
    a = ok_envelope(run_cli("apply", "--home", home, sample.bundles[1], "--json"), "apply")
    assert (a["status"], a["from_level"], a["to_level"]) == ("applied", 0, 1)
    assert {d["path"] for d in a["plan"]} == {d["path"] for d in dry["plan"]}
    assert a["updates"][0]["title"] == "update 1"

    customise(home)
    v = envelope(run_cli("verify", "--home", home, "--json"), "verify", 1)
    assert v["error"] is None and v["result"]["pristine"] is False
    assert TOML in v["result"]["local_changes"]["modified"]

    rv = ok_envelope(run_cli("revert", "--home", home, "--json"), "revert")
    assert (rv["status"], rv["from_level"], rv["to_level"]) == ("reverted", 1, 0)
    assert len(rv["reverted_transactions"]) == 1


def test_json_envelope_of_conflicts_and_errors(sample: Sample) -> None:
    home = sample.home(level=1)
    conflicting_change(home)
    doc = envelope(run_cli("apply", "--home", home, sample.bundles[2], "--json"), "apply", 3)
    assert doc["error"] is None and doc["result"]["status"] == "conflicts"
    assert [c["path"] for c in doc["result"]["conflicts"]] == [SH]
    # a changing command while conflicts are pending: an error envelope with a hint
    err = error_envelope(
        run_cli("revert", "--home", home, "--json"), "revert", 1, "PendingTransactionError"
    )
    assert "stopped on conflicts" in err["message"]
    assert "uplevel continue" in err["hint"] and "uplevel abort" in err["hint"]
    ab = ok_envelope(run_cli("abort", "--home", home, "--json"), "abort")
    assert ab["status"] == "aborted" and ab["level"] == 1
    # a bundle that does not start at this home's level
    home0 = sample.home("home0")
    err = error_envelope(
        run_cli("apply", "--home", home0, sample.bundles[2], "--json"), "apply", 1, "BundleError"
    )
    assert "from level 1 to 2" in err["message"] and "at level 0" in err["message"]
    assert err["hint"] == "apply the bundles in order, or get one that starts at this home's level"
    # nothing to revert
    err = error_envelope(run_cli("revert", "--home", home0, "--json"), "revert", 2, "UsageError")
    assert "nothing to revert" in err["message"]


# --- status and verify ----------------------------------------------------------------------------


def test_status_reports_modified_added_deleted(sample: Sample) -> None:
    home = sample.home()
    customise(home)  # deployment.toml modified, components/lib/mysql-connector.jar added
    (home / LOG4J).unlink()
    os.chmod(home / SH, 0o700)  # mode only
    (home / "bin/wso2server.sh").unlink()
    os.symlink("elsewhere.sh", home / "bin/wso2server.sh")  # retargeted symlink
    shipped = ok_envelope(run_cli("status", "--home", home, "--json"), "status")["runtime_data"]
    # Runtime data, not a local change: counted apart (the shipped H2 database and webapps too).
    (home / "repository/logs/wso2carbon.log").write_text("log\n")  # into a pristine empty dir
    (home / "bin/extra.sh").write_text("#!/bin/sh\n")
    want = {
        "modified": sorted([TOML, SH, "bin/wso2server.sh"]),
        "added": sorted(["repository/components/lib/mysql-connector.jar", "bin/extra.sh"]),
        "deleted": [LOG4J],
    }
    runtime = {"files": shipped["files"] + 1, "bytes": shipped["bytes"] + 4}
    st = ok_envelope(run_cli("status", "--home", home, "--json"), "status")
    assert st["local_changes"] == want
    assert st["runtime_data"] == runtime
    v = envelope(run_cli("verify", "--home", home, "--json"), "verify", 1)
    assert v["result"]["local_changes"] == want
    assert v["result"]["runtime_data"] == runtime
    hidden = ok_envelope(run_cli("status", "--home", home, "--no-runtime", "--json"), "status")
    assert hidden["runtime_data"] is None and hidden["local_changes"] == want
    human = run_cli("status", "--home", home)
    assert human.returncode == 0
    assert "local changes: 3 modified, 2 added, 1 deleted" in human.stdout
    assert f"runtime data (not compared): {runtime['files']} files" in human.stdout
    assert "runtime data" not in run_cli("verify", "--home", home, "--no-runtime").stdout
    assert f"  modified  {TOML}" in human.stdout
    assert f"  deleted   {LOG4J}" in human.stdout
    assert "  added     bin/extra.sh" in human.stdout
    assert "wso2carbon.log" not in human.stdout
    # the second run (with the stat cache) says the same
    assert (
        ok_envelope(run_cli("status", "--home", home, "--json"), "status")["local_changes"] == want
    )


def test_status_stat_cache_does_not_hide_same_size_change(sample: Sample) -> None:
    home = sample.home()
    old = time.time() - 3600
    for dirpath, dirnames, filenames in os.walk(home):
        dirnames[:] = [d for d in dirnames if d != "updates"]
        for name in filenames:
            os.utime(os.path.join(dirpath, name), (old, old), follow_symlinks=False)
    st = ok_envelope(run_cli("status", "--home", home, "--json"), "status")
    assert st["local_changes"] == {"modified": [], "added": [], "deleted": []}
    assert (home / STATE / "statcache.bin").is_file()  # a stat cache is in use from here on

    # touched, not changed: still clean
    os.utime(home / "README.txt")
    st = ok_envelope(run_cli("status", "--home", home, "--json"), "status")
    assert st["local_changes"]["modified"] == []

    # changed, same size, mtime set back: only the ctime tells
    log4j = home / LOG4J
    before = os.stat(log4j)
    data = log4j.read_bytes()
    assert b"rootLogger.level = INFO" in data
    log4j.write_bytes(data.replace(b"rootLogger.level = INFO", b"rootLogger.level = WARN"))
    os.utime(log4j, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(log4j)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    st = ok_envelope(run_cli("status", "--home", home, "--json"), "status")
    assert st["local_changes"]["modified"] == [LOG4J]
    assert run_cli("verify", "--home", home).returncode == 1


def test_verify_exit_codes(sample: Sample) -> None:
    home = sample.home()
    r = run_cli("verify", "--home", home)
    assert r.returncode == 0 and "the home is pristine" in r.stdout
    (home / "README.txt").write_text("changed\n")
    r = run_cli("verify", "--home", home)
    assert r.returncode == 1
    assert "differs from pristine: 1 modified, 0 added, 0 deleted" in r.stdout
    assert "  modified  README.txt" in r.stdout
    (home / "README.txt").write_bytes((sample.trees[0] / "README.txt").read_bytes())
    assert run_cli("verify", "--home", home).returncode == 0


# --- busy: another uplevel, a running product -------------------------------------------------------


def test_lock_held_apply_refused_status_answers(sample: Sample) -> None:
    home = sample.home()
    before = state_snapshot(home)
    with held_lock(home, holder="4242"):
        r = run_cli("apply", "--home", home, sample.bundles[1])
        assert r.returncode == 4, (r.stdout, r.stderr)
        assert "another uplevel is working on" in r.stderr and "pid 4242" in r.stderr
        err = error_envelope(
            run_cli("apply", "--home", home, sample.bundles[1], "--json"), "apply", 4, "BusyError"
        )
        assert err["hint"] == "wait for it to finish"
        for cmd in (["revert"], ["prune"], ["abort"], ["continue"]):
            assert run_cli(*cmd, "--home", home).returncode == 4, cmd
        st = ok_envelope(run_cli("status", "--home", home, "--json"), "status")
        assert st["busy"] is True
        assert any("another uplevel" in n for n in st["notes"])
        assert st["level"] == 0
        human = run_cli("status", "--home", home)
        assert human.returncode == 0 and "another uplevel" in human.stderr
        assert run_cli("history", "--home", home).returncode == 0
        assert run_cli("verify", "--home", home).returncode == 0
        assert state_snapshot(home) == before
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    assert snapshot(home) == snapshot(sample.trees[1])


def test_running_product_pid_refuses_apply_unless_forced(sample: Sample) -> None:
    home = sample.home()
    pid = os.getpid()
    (home / "wso2carbon.pid").write_text(f"{pid}\n")
    before = state_snapshot(home)
    r = run_cli("apply", "--home", home, sample.bundles[1])
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert f"pid {pid}" in r.stderr and "wso2carbon.pid" in r.stderr
    assert "--force" in r.stderr
    assert run_cli("revert", "--home", home).returncode == 4
    assert state_snapshot(home) == before
    run_cli("apply", "--home", home, sample.bundles[1], "--force", check=0)
    assert (home / "wso2carbon.pid").read_text() == f"{pid}\n"
    st = ok_envelope(run_cli("status", "--home", home, "--json"), "status")
    assert st["level"] == 1 and st["local_changes"]["added"] == []  # runtime data, apart


def _live_scratch(home: Path) -> None:
    """What a running (or crashed) server leaves in its home: pid, H2 lock, logs, tmp."""
    (home / "wso2carbon.pid").write_text(f"{os.getpid()}\n")
    (home / "repository/database/WSO2AM_DB.lock.db").write_bytes(b"lock")
    (home / "repository/logs/wso2carbon.log").write_text("started\n")
    (home / "tmp/work/x.tmp").parent.mkdir(parents=True)
    (home / "tmp/work/x.tmp").write_bytes(b"scratch")


@pytest.mark.parametrize("server", ["pid", "lock"])
def test_init_refuses_a_running_home_unless_forced(sample: Sample, server: str) -> None:
    home = sample.root / "home"
    shutil.copytree(sample.trees[0], home, symlinks=True)
    if server == "pid":
        (home / "wso2carbon.pid").write_text(f"{os.getpid()}\n")
        needle = f"pid {os.getpid()}"
    else:
        (home / "repository/database/WSO2AM_DB.lock.db").write_bytes(b"lock")
        needle = "WSO2AM_DB.lock.db"
    before = snapshot(home, include_state=True)
    err = error_envelope(
        run_cli("init", "--home", home, "--product", PRODUCT, "--json"), "init", 4, "BusyError"
    )
    assert needle in err["message"]
    assert snapshot(home, include_state=True) == before  # not adopted, nothing written
    ok_envelope(run_cli("init", "--home", home, "--product", PRODUCT, "--force", "--json"), "init")


@needs_h2
def test_init_refuses_a_home_whose_h2_database_is_open(sample: Sample) -> None:
    """H2 2.x leaves no lock file: the live lock on the .mv.db is what says "running"."""
    home = sample.root / "home"
    shutil.copytree(sample.trees[0], home, symlinks=True)
    make_database(home / "repository/database", "WSO2SHARED_DB", [(1, "PizzaAPI")])
    with held_open(home / "repository/database/WSO2SHARED_DB"):
        err = error_envelope(
            run_cli("init", "--home", home, "--product", PRODUCT, "--json"), "init", 4, "BusyError"
        )
        assert "repository/database/WSO2SHARED_DB.mv.db is open" in err["message"]
        assert not (home / STATE).exists()
    run_cli("init", "--home", home, "--product", PRODUCT, check=0)  # stopped: adopted


def test_init_never_records_runtime_scratch_as_pristine(sample: Sample) -> None:
    """Adopted with its pid, lock, log and tmp files, a home records the same pristine tree as
    the clean pack (so signed bundles of the published level still apply), and none of them
    ever shows as a local change; apply and revert leave them alone."""
    clean = sample.home("clean")
    home = sample.root / "home"
    shutil.copytree(sample.trees[0], home, symlinks=True)
    _live_scratch(home)
    run_cli("init", "--home", home, "--product", PRODUCT, "--force", check=0)
    assert state_json(home)["pristine"] == state_json(clean)["pristine"]
    st = ok_envelope(run_cli("status", "--home", home, "--json"), "status")
    assert st["local_changes"] == {"modified": [], "added": [], "deleted": []}
    clean_runtime = ok_envelope(run_cli("status", "--home", clean, "--json"), "status")
    assert st["runtime_data"]["files"] == clean_runtime["runtime_data"]["files"] + 4
    (home / "repository/logs/wso2carbon.log").write_text("started\nstopped\n")
    (home / "wso2carbon.pid").unlink()
    (home / "repository/database/WSO2AM_DB.lock.db").unlink()
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    run_cli("revert", "--home", home, check=0)
    assert (home / "repository/logs/wso2carbon.log").read_text() == "started\nstopped\n"
    assert (home / "tmp/work/x.tmp").read_bytes() == b"scratch"
    v = envelope(run_cli("verify", "--home", home, "--json"), "verify", 0)
    assert v["result"]["pristine"] is True


def test_stale_pid_does_not_block(sample: Sample) -> None:
    home = sample.home()
    (home / "wso2carbon.pid").write_text(f"{dead_pid()}\n")
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    run_cli("revert", "--home", home, check=0)


def test_h2_lock_file_refuses_apply(sample: Sample) -> None:
    home = sample.home()
    (home / "repository/database/WSO2AM_DB.lock.db").write_bytes(b"lock")
    before = state_snapshot(home)
    r = run_cli("apply", "--home", home, sample.bundles[1])
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert "repository/database/WSO2AM_DB.lock.db" in r.stderr
    assert state_snapshot(home) == before
    assert run_cli("status", "--home", home).returncode == 0  # looking is fine
    run_cli("apply", "--home", home, sample.bundles[1], "--force", check=0)


# --- prune and history ----------------------------------------------------------------------------


def _object_sizes(home: Path) -> dict[str, int]:
    objects = home / STATE / "objects"
    return {p.name: p.stat().st_size for p in objects.glob("*/*")}


def test_prune_frees_bytes_then_revert_below_is_refused(sample: Sample) -> None:
    home = sample.home()
    customise(home)
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    at_1 = snapshot(home)
    run_cli("apply", "--home", home, sample.bundles[2], check=0)
    sizes = _object_sizes(home)
    assert sizes and set(sizes) == store_hashes(home)

    dry = run_cli("prune", "--home", home, "--dry-run")
    assert dry.returncode == 0
    assert f"would free {sum(sizes.values()):,} bytes ({len(sizes)} backups)" in dry.stdout
    assert _object_sizes(home) == sizes  # dry run deletes nothing

    res = ok_envelope(run_cli("prune", "--home", home, "--keep-level", "1", "--json"), "prune")
    left = _object_sizes(home)
    gone = set(sizes) - set(left)
    assert gone and left
    assert res["freed_bytes"] == sum(sizes[h] for h in gone) > 0
    assert res["removed_objects"] == len(gone)
    assert res["kept_objects"] == len(left)
    assert res["keep_level"] == 1 and res["dry_run"] is False

    before = state_snapshot(home)
    r = run_cli("revert", "--home", home, "--level", "0")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "backup store no longer holds" in r.stderr
    assert "pruned" in r.stderr
    assert state_snapshot(home) == before
    assert not (home / STATE / "txn").exists()

    run_cli("revert", "--home", home, check=0)  # level 1 is still reachable
    assert snapshot(home) == at_1

    full = run_cli("prune", "--home", home)
    assert full.returncode == 0 and "freed " in full.stdout
    assert store_hashes(home) == set()
    before = state_snapshot(home)
    r = run_cli("revert", "--home", home)
    assert r.returncode == 1 and "backup store no longer holds" in r.stderr
    assert state_snapshot(home) == before


def test_history_lists_events_in_order(sample: Sample) -> None:
    home = sample.home()
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    run_cli("apply", "--home", home, sample.bundles[2], check=0)
    run_cli("revert", "--home", home, check=0)
    h = ok_envelope(run_cli("history", "--home", home, "--json"), "history")
    assert h["level"] == 1 and h["product"] == PRODUCT
    got = [(e["event"], e["from_level"], e["to_level"]) for e in h["events"]]
    assert got == [("init", 0, 0), ("applied", 0, 1), ("applied", 1, 2), ("reverted", 2, 1)]
    assert [e.get("titles") for e in h["events"] if e["event"] == "applied"] == [
        ["update 1"],
        ["update 2"],
    ]
    assert [e["time"] for e in h["events"]] == sorted(e["time"] for e in h["events"])
    human = run_cli("history", "--home", home)
    assert human.returncode == 0
    lines = human.stdout.splitlines()
    assert lines[0] == f"{PRODUCT}, now at level 1"
    events = [ln.split()[1] for ln in lines[1:]]
    assert events == ["init", "applied", "applied", "reverted"]
    assert "update 2" in lines[3] and "1 → 2" in lines[3]
