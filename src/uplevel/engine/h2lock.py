"""Is a database file held open by a running server? Read-only probes, never a lock taken.

Why this exists: copying an H2 database that a live server has open gives a corrupt copy,
and H2 2.x leaves no `*.lock.db` beside its `*.mv.db` (H2 1.x did, with the old `*.h2.db`
format). What H2 2.x does (FILE_LOCK=FILE, its default, as 2.1.214 does) is lock the
`.mv.db` itself through Java's `FileChannel.tryLock`, which on Linux is a POSIX record
lock (fcntl F_SETLK) over the whole file. F_GETLK asks the kernel whether a write lock
could be taken, without taking one: the answer names the process that holds a
conflicting lock. Locks held by this very process are not reported (POSIX semantics),
which is fine: uplevel never opens a database.

Never raises for an unreadable or vanished file: the caller's copy will fail on it
loudly enough; this module only answers "held by pid N" or "not held".
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

DATABASE_SUFFIXES = (".mv.db", ".h2.db")
"""H2 2.x (`NAME.mv.db`) and H2 1.x (`NAME.h2.db`) database files."""

LOCK_SUFFIX = ".lock.db"
"""What an open (or crashed) H2 1.x database leaves beside it."""

# struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
# (native alignment pads after the two shorts).
_FLOCK = "hhqqi"


def is_database(path: str) -> bool:
    return path.endswith(DATABASE_SUFFIXES)


def holder(path: Path) -> int | None:
    """The pid of a process holding a POSIX lock on `path` (0 if the kernel does not say
    which, e.g. a lock held over NFS), or None when nothing holds one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        try:
            answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
        except OSError:
            return _probe_shared(fd)
        l_type, _, _, _, pid = struct.unpack(_FLOCK, answer)
        if l_type == fcntl.F_UNLCK:
            return None
        return int(pid)
    finally:
        os.close(fd)


def _probe_shared(fd: int) -> int | None:
    """Fallback where F_GETLK is refused: try a shared lock and let it go at once."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return 0
    fcntl.lockf(fd, fcntl.LOCK_UN)
    return None
