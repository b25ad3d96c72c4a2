"""Is the product running? The one check every command that changes a home makes.

Read-only probes, never a lock taken: the profile's pid file names a live process, a
profile lock file (or an H2 1.x `*.lock.db`) exists, or a database file is held open.

Why the database probe: copying an H2 database that a live server has open gives a corrupt copy,
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
import stat
import struct
from collections.abc import Mapping
from pathlib import Path

from uplevel.core.profile import Profile
from uplevel.engine import fsio
from uplevel.errors import BusyError

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


_STOP_FIRST = "stop the server first, or pass --force if you are sure"


def check_stopped(
    root: Path,
    profile: Profile,
    *,
    force: bool,
    files: Mapping[str, os.stat_result] | None = None,
    which: str = "",
) -> None:
    """BusyError (exit 4) while the product of the home at `root` seems to run.

    Without `force`: the profile's pid file naming a live process, or a profile lock file.
    With `files` (every path of the home, as `migrate` walks it) also an H2 `*.lock.db`
    (unless `force`) and, always, a database file a live process holds locked right now:
    `--force` overrides the pid and lock files (both can be stale after a crash), never a
    held database, since a database copied while open is a corrupt copy. `which` names the
    home in the message when a command works on two."""
    where = f"{which} {root}: " if which else ""
    if not force:
        _check_profile(root, profile, where)
        locks = sorted(p for p in files or () if p.endswith(LOCK_SUFFIX))
        if locks:
            raise BusyError(
                f"{where}an H2 database is open: {locks[0]} exists",
                hint="stop the server first (a crashed server leaves it behind: then --force)",
            )
    for p in sorted(files or ()):
        if is_database(p) and files is not None and stat.S_ISREG(files[p].st_mode):
            pid = holder(root / p)
            if pid is not None:
                who = f"process {pid}" if pid else "another process"
                raise BusyError(
                    f"{where}the database {p} is open ({who} holds its lock)",
                    hint="stop the server first; a database copied while open is a corrupt "
                    "copy, so --force does not override this",
                )


PID_FILE_LIMIT = 4096
"""A pid file holds one number; anything larger is not one."""

PID_MAX = 1 << 22
"""Linux's highest possible pid (pid_max's ceiling): a larger number names no process."""


def _check_profile(home: Path, profile: Profile, where: str) -> None:
    if profile.pid_file:
        pid_path = home / profile.pid_file
        try:
            data = fsio.read_regular(pid_path, PID_FILE_LIMIT)
        except FileNotFoundError:
            data = b""
        except (OSError, ValueError) as exc:
            # Cannot tell whether the product runs: say so, never guess "stopped".
            raise BusyError(
                f"{where}cannot read the pid file {profile.pid_file} ({exc})",
                hint="if the product is stopped, remove that file or pass --force",
            ) from exc
        try:
            pid = int(data.split()[0])
        except (ValueError, IndexError):
            pid = 0  # not a pid: no process to find
        if 0 < pid <= PID_MAX and _alive(pid):
            raise BusyError(
                f"{where}the product is running (pid {pid} from {profile.pid_file})",
                hint=_STOP_FIRST,
            )
    for pat in profile.lock_files:
        for hit in sorted(home.glob(pat)):
            raise BusyError(
                f"{where}a database is open: {hit.relative_to(home)} exists", hint=_STOP_FIRST
            )


def _alive(pid: int) -> bool:
    """Whether `pid` is a live process; a zombie (exited, not yet reaped) is not running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return status[status.rfind(")") + 2 :][:1] != "Z"
