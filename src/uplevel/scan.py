"""Read trees into manifests: walk without following symlinks, hash files on all cores.

hashlib releases the GIL on large buffers, so threads hash files in parallel.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from uplevel.model import Entry, Manifest
from uplevel.paths import STATE_DIR

CHUNK = 1 << 20
WORKERS = max(2, os.cpu_count() or 2)


def hash_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def hash_many(paths: Iterable[Path], progress: Callable[[int], None] | None = None) -> list[str]:
    """Hash files in parallel; results in input order. `progress` gets bytes done per file."""
    plist = list(paths)
    if len(plist) < 4:
        return [hash_file(p) for p in plist]
    with ThreadPoolExecutor(WORKERS) as pool:
        out = []
        for p, digest in zip(plist, pool.map(hash_file, plist, chunksize=16), strict=True):
            out.append(digest)
            if progress:
                progress(os.lstat(p).st_size)
        return out


@dataclass(frozen=True, slots=True)
class Stat:
    """What the stat cache compares (like git's index)."""

    kind: str
    mode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


def walk(root: Path, *, skip_state: bool = True) -> Iterator[tuple[str, os.stat_result]]:
    """Yield (relative path, lstat) for every file, symlink and *empty* directory under root.

    Hot path of `status`: one lstat per entry, directories told apart by d_type.
    """
    stack = [("", str(root))]
    while stack:
        rel, absdir = stack.pop()
        empty = True
        with os.scandir(absdir) as it:
            for de in it:
                empty = False
                relp = f"{rel}/{de.name}" if rel else de.name
                if de.is_dir(follow_symlinks=False):
                    if not (skip_state and relp == STATE_DIR):
                        stack.append((relp, de.path))
                else:
                    yield relp, de.stat(follow_symlinks=False)
        if rel and empty:
            yield rel, os.lstat(absdir)


def entry_from_stat(root: Path, rel: str, st: os.stat_result, sha256: str = "") -> Entry:
    if stat.S_ISLNK(st.st_mode):
        return Entry(kind="symlink", target=os.readlink(root / rel))
    if stat.S_ISDIR(st.st_mode):
        return Entry(kind="dir", mode=stat.S_IMODE(st.st_mode))
    return Entry(kind="file", mode=stat.S_IMODE(st.st_mode), size=st.st_size, sha256=sha256)


def read_tree(
    root: Path,
    progress: Callable[[int], None] | None = None,
    stats: dict[str, os.stat_result] | None = None,
) -> Manifest:
    """The manifest of a tree on disk (special files such as sockets are refused).

    `stats`, when given, receives the lstat of every path read."""
    items = list(walk(root))
    if stats is not None:
        stats.update(items)
    for rel, st in items:
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise ValueError(f"{root / rel}: not a file, symlink or directory")
    files = [rel for rel, st in items if stat.S_ISREG(st.st_mode)]
    digests = dict(zip(files, hash_many((root / f for f in files), progress), strict=True))
    return Manifest(
        (rel, entry_from_stat(root, rel, st, digests.get(rel, ""))) for rel, st in items
    )


def read_entry(root: Path, rel: str) -> Entry | None:
    """The entry at one path of a tree now, or None (hashes the file)."""
    try:
        st = os.lstat(root / rel)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(st.st_mode):
        return entry_from_stat(root, rel, st, hash_file(root / rel))
    if stat.S_ISDIR(st.st_mode):
        # A directory that now has children is not the "empty dir" entry a manifest holds,
        # but it exists; the planner treats it as a directory.
        return Entry(kind="dir", mode=stat.S_IMODE(st.st_mode))
    if stat.S_ISLNK(st.st_mode):
        return entry_from_stat(root, rel, st)
    raise ValueError(f"{root / rel}: not a file, symlink or directory")
