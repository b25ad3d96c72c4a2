"""Every mutating filesystem step of uplevel goes through this module.

Why one place: durability (temp file in the same directory, fsync, rename, fsync
the directory) is done once and right, and fault injection can count steps. With
UPLEVEL_CRASH_AT_STEP=k in the environment, the process dies with os._exit(137)
(no cleanup, like SIGKILL) just before its k-th mutating step; tests use this to
crash at every step and check that recovery leaves the home old or new, never
half. UPLEVEL_SIGNAL_AT_STEP=k:NAME (NAME: INT, TERM or KILL) sends the process that
signal just before its k-th step instead: how the signal matrix interrupts a command at a
known moment. UPLEVEL_STEP_LOG=FILE appends a line per step (how tests count steps).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from uplevel.errors import NotEnoughSpaceError, UnsafePathError, UplevelError

_crash_at = int(os.environ.get("UPLEVEL_CRASH_AT_STEP", "0") or 0)
_step_log = os.environ.get("UPLEVEL_STEP_LOG")
_signal_at = os.environ.get("UPLEVEL_SIGNAL_AT_STEP", "").partition(":")
_steps = 0

CHUNK = 1 << 20


def set_crash_at(step: int) -> None:
    """For in-process (forked) fault injection: die before the given step (0 = never)."""
    global _crash_at, _steps
    _crash_at, _steps = step, 0


def step(what: str) -> None:
    """Count one mutating step; die here if fault injection asks for it."""
    global _steps
    _steps += 1
    if _step_log:
        with open(_step_log, "a") as log:
            log.write(f"{_steps} {what}\n")
    if _crash_at and _steps == _crash_at:
        os._exit(137)
    if _signal_at[2] and _steps == int(_signal_at[0]):
        import signal

        os.kill(os.getpid(), signal.Signals[f"SIG{_signal_at[2]}"])


@contextlib.contextmanager
def _space_errors(what: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NotEnoughSpaceError(
                f"no space left while {what}", hint="free disk space and run the command again"
            ) from exc
        raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_fd(fd: int) -> None:
    """fsync a file uplevel is writing piecewise (a download's part), so what arrived so far
    survives a crash."""
    os.fsync(fd)


def write_durable(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Atomically replace `path` with `data`: temp file beside it, fsync, rename, fsync dir."""
    step(f"write {path}")
    tmp = path.with_name(f".{path.name}.uplevel-tmp")
    with _space_errors(f"writing {path}"):
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchmod(fd, mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    fsync_dir(path.parent)


def write_new(path: Path, chunks: Iterator[bytes] | list[bytes], *, mode: int) -> None:
    """Create `path` (which must not exist) from chunks and fsync it; the caller fsyncs the dir."""
    step(f"create {path}")
    with _space_errors(f"writing {path}"):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        os.close(fd)


@contextlib.contextmanager
def durable_output(dest: Path, *, mode: int = 0o644) -> Iterator[Path]:
    """A new output file (a bundle, a pack) that appears at `dest` only whole.

    Yields a temp path beside `dest` for the caller to write; when the block ends normally
    the temp file is fsynced, renamed over `dest` and the directory fsynced. On an error the
    temp file goes and an existing `dest` is untouched. `mode` is masked by the umask."""
    step(f"create {dest}")
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(name)
    try:
        try:
            umask = os.umask(0o022)
            os.umask(umask)
            os.fchmod(fd, mode & ~umask)
        finally:
            os.close(fd)
        with _space_errors(f"writing {dest}"):
            yield tmp
            with open(tmp, "rb+") as written:
                os.fsync(written.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(dest.parent)


def symlink(target: str, path: Path) -> None:
    step(f"symlink {path}")
    os.symlink(target, path)


def rename(src: Path | str, dst: Path | str) -> None:
    """rename(2); refuses to replace an existing dst so that every step can be undone."""
    step(f"rename {src} -> {dst}")
    if os.path.lexists(dst):
        raise UplevelError(f"refusing to overwrite {dst} (it appeared during the update)")
    os.rename(src, dst)


def replace(src: Path, dst: Path) -> None:
    """rename(2) over an existing dst: only for files whose contents are identical (store)."""
    step(f"replace {src} -> {dst}")
    os.replace(src, dst)


def mkdir(path: Path | str, mode: int = 0o755) -> None:
    step(f"mkdir {path}")
    with _space_errors(f"creating {path}"):
        os.mkdir(path, mode)
    os.chmod(path, mode)


def rmdir(path: Path | str) -> None:
    step(f"rmdir {path}")
    os.rmdir(path)


def unlink(path: Path) -> None:
    step(f"unlink {path}")
    os.unlink(path)


def chmod(path: Path, mode: int) -> None:
    step(f"chmod {path}")
    os.chmod(path, mode)


def remove_tree(path: Path) -> None:
    """Remove uplevel's own scratch directories (never a path in the home proper)."""
    if os.path.lexists(path):
        step(f"remove tree {path}")
        shutil.rmtree(path)


def makedirs(path: Path) -> None:
    """Create uplevel's own directories (state, store); not journaled."""
    if not path.is_dir():
        step(f"makedirs {path}")
        path.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def exclusive_lock(path: Path, *, busy: str, hint: str) -> Iterator[None]:
    """Hold an flock on `path` (its content: our pid), or raise BusyError (exit 4) at once.

    One uplevel per home and one publisher per repository: the lock goes away with the
    process, so a crash never leaves a stale lock behind."""
    from uplevel.errors import BusyError

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise BusyError(busy + (f" (pid {holder})" if holder else ""), hint=hint) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a file uplevel does not own (a pid file, a lock file), read with bounds.

    Opened non-blocking and checked with fstat, so a FIFO or a device put in its place
    (`ln -s /dev/zero wso2carbon.pid`) is refused at once instead of blocking or reading
    without end; more than `limit` bytes is refused too. Raises OSError (FileNotFoundError
    when absent) or ValueError (not a regular file, too large)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data


def is_dir_nofollow(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def check_in_home(home: Path, path: str, known_dirs: set[str] | None = None) -> None:
    """Refuse `path` if any existing parent directory in the home is a symlink or not a dir
    (lstat only): a bundle must never make uplevel write outside the home, however the home's
    directories are linked.

    `known_dirs` memoises parents already found to be real directories within one check.
    """
    root = str(home)
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        rel = "/".join(parts[:i])
        if known_dirs is not None and rel in known_dirs:
            continue
        try:
            st = os.lstat(f"{root}/{rel}")
        except FileNotFoundError:
            return  # the rest will be created by uplevel as real directories
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePathError(
                f"{path}: its parent {rel} is a symlink in the home; uplevel never writes through symlinks",
                hint="replace the symlink with a real directory, or remove the path from the update",
            )
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"{path}: its parent {rel} is not a directory in the home")
        if known_dirs is not None:
            known_dirs.add(rel)
