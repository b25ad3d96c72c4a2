"""One publisher at a time: an exclusive flock on REPO/.lock.

Two publishers interleaving targets → snapshot → timestamp would sign versions
that skip or repeat; the server's timestamp refresh takes the same lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator

from uplevel.errors import BusyError
from uplevel.repo.layout import RepoLayout


@contextlib.contextmanager
def repo_lock(layout: RepoLayout) -> Iterator[None]:
    """Hold the repository's lock, or raise BusyError (exit 4) at once if another holds it."""
    fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise BusyError(
                f"another uplevel is publishing to {layout.root}"
                + (f" (pid {holder})" if holder else ""),
                hint="wait for it to finish, then run the command again",
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
