"""Staging contents for a transaction: verified chunks, and copies of another tree's files
(reflinked, hardlinked or copied, hashed on the way and refused if the source changes)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from uplevel.core.manifest import Entry
from uplevel.engine import fsio
from uplevel.engine.scan import hash_file
from uplevel.errors import UplevelError


class Verified:
    """Chunks whose source checks size and sha256 itself (raising at the end if wrong), so
    staging does not hash them a second time."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)


class CopyOf:
    """Content: the file at `source` (another home's), hashed while it is copied, so a
    change may leave `after.sha256` empty and learn it here (the journal, written after
    staging, then records it). Refused if `source` changes while it is read (a running
    server). With `link`, the staged file is a reflink (FICLONE) of `source`, else a
    hardlink, when both are on one filesystem; no byte is copied, so none is read (the
    entry records UNREAD_SHA256 unless the plan knew the hash). `how` says what was done:
    copied, reflinked or hardlinked.

    Staged copies are not fsynced one by one: one syncfs(2) of the filesystem makes them
    all durable before the journal is written (thousands of fsyncs cost seconds)."""

    def __init__(self, source: Path, *, link: bool = False) -> None:
        self.source = source
        self.link = link
        self.how = ""
        # As root (the usual way to run uplevel over a server's files), a copy keeps the
        # owner of the original: a server running as its own user must be able to write
        # its databases and index in the new home.
        self.keep_owner = os.geteuid() == 0


COPY_WORKERS = min(4, os.cpu_count() or 1)
UNREAD_SHA256 = "0" * 64
"""The sha256 a transaction records for a file it linked from another tree without reading it
(`migrate --link`): the record says what it did, not a hash nobody computed."""
FICLONE = 0x40049409  # _IOW(0x94, 9, int)


_NO_REFLINK: set[int] = set()  # devices that refused FICLONE
SMALL_COPY = 1 << 20  # below this a file is copied through one buffer, hashed on the way


def copy_verified(path: str, planned: Entry, copy: CopyOf, staged: Path) -> Entry:
    """Stage `copy.source` at `staged`; return its entry with the sha256 of the staged bytes
    (checked against `planned.sha256` when the plan knew it). Refused if the source is not
    the size planned or changes while it is read (a server still writing it)."""
    import errno
    import hashlib

    fsio.step(f"copy {copy.source} -> {staged}")
    src = os.open(copy.source, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        before = os.fstat(src)
        copy.how = ""
        if copy.link:
            try:
                if before.st_dev in _NO_REFLINK:
                    raise OSError(errno.EOPNOTSUPP, "no reflinks on this file system")
                _reflink(src, staged)
                copy.how = "reflinked"
            except OSError as exc:
                if exc.errno in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.EXDEV):
                    _NO_REFLINK.add(before.st_dev)  # ext4 and the like: don't ask per file
                try:
                    os.link(copy.source, staged, follow_symlinks=False)
                    copy.how = "hardlinked"
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                        raise
            if copy.how:
                # No byte was copied, so none needs checking: the staged name is OLD's inode
                # (or a copy-on-write clone of it). Reading it only to record a hash would make
                # --link as slow as the data is large; the record says "not read" instead.
                sha, size = planned.sha256 or UNREAD_SHA256, os.fstat(src).st_size
        if not copy.how:
            copy.how = "copied"
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                if before.st_size < SMALL_COPY:
                    data = _read_all(src, before.st_size)
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    sha, size = hashlib.sha256(data).hexdigest(), len(data)
                else:
                    # In the kernel, then the staged file read back and hashed: what is
                    # verified is what will be installed.
                    _copy_fd(src, fd, before.st_size)
                    sha, size = "", 0
                os.fchmod(fd, planned.mode)
                if copy.keep_owner:
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, before.st_uid, before.st_gid)
            finally:
                os.close(fd)
            if not sha:
                sha, size = hash_file(staged), os.stat(staged).st_size
        after = os.fstat(src)
    finally:
        os.close(src)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or (
        size != planned.size
    ):
        raise UplevelError(
            f"{path}: changed while it was copied (is the old server running?); nothing was changed",
            hint="stop the server that uses the old home and run the command again",
        )
    if planned.sha256 and sha not in (planned.sha256, UNREAD_SHA256):
        raise UplevelError(f"{path}: the copy does not match its hash; nothing was changed")
    return Entry(kind="file", mode=planned.mode, size=size, sha256=sha)


def _read_all(fd: int, size: int) -> bytes:
    """The whole file, `size` bytes as fstat said: one read(2) asking for one byte more
    returns it all and proves the end (a short read of a regular file is its end; a file
    that shrank or grew meanwhile then fails the caller's size and mtime checks)."""
    first = os.read(fd, size + 1)
    if len(first) <= size:
        return first
    parts = [first]
    while chunk := os.read(fd, SMALL_COPY):
        parts.append(chunk)
    return b"".join(parts)


def _copy_fd(src: int, dst: int, size: int) -> None:
    """Copy `src` to `dst` with copy_file_range(2) (in the kernel), read/write if refused."""
    done = 0
    try:
        while True:
            n = os.copy_file_range(src, dst, max(size - done, fsio.CHUNK))
            if n == 0:
                return
            done += n
    except OSError:
        if done:
            raise
    while chunk := os.read(src, fsio.CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]


def _reflink(src: int, staged: Path) -> None:
    """A copy-on-write clone of the open file `src` (btrfs, XFS, …); OSError where not
    supported."""
    import fcntl

    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.ioctl(fd, FICLONE, src)
        os.fchmod(fd, stat.S_IMODE(os.fstat(src).st_mode))
    except OSError:
        os.close(fd)
        os.unlink(staged)
        raise
    os.close(fd)
