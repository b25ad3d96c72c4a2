"""The open-database probe: a POSIX record lock held by another process is seen (with its
pid), no lock is taken, and nothing else counts. (The real H2 case is in
tests/commands/test_migrate.py; this one needs no Java.)"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from uplevel.engine.running import holder, is_database

LOCKER = """
import fcntl, sys, time
f = open(sys.argv[1], "r+b")
fcntl.lockf(f, fcntl.LOCK_EX)  # what Java's FileChannel.tryLock does on Linux
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_lock_held_by_another_process_is_seen_with_its_pid(tmp_path: Path) -> None:
    db = tmp_path / "WSO2AM_DB.mv.db"
    db.write_bytes(b"H2 database")
    assert holder(db) is None
    p = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "locked"
        assert holder(db) == p.pid
        assert holder(db) == p.pid  # probing twice: the probe itself took no lock
    finally:
        assert p.stdin is not None
        p.stdin.close()
        p.wait(timeout=10)
    deadline = time.monotonic() + 5
    while holder(db) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert holder(db) is None


def test_missing_files_and_names() -> None:
    assert holder(Path("/nonexistent/x.mv.db")) is None
    assert is_database("repository/database/WSO2AM_DB.mv.db")
    assert is_database("repository/database/WSO2CARBON_DB.h2.db")
    assert not is_database("repository/database/WSO2AM_DB.lock.db")
    assert not is_database("repository/database/WSO2AM_DB.trace.db")
