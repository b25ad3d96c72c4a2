"""Read trees into manifests: walk without following symlinks, hash files on all cores."""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from uplevel.core.manifest import Entry, Manifest
from uplevel.core.paths import STATE_DIR

MMAP_MIN = 1 << 16
WORKERS = os.cpu_count() or 1
PARALLEL_MIN = 256  # below this, starting workers costs more than it saves


def hash_file(path: Path | str) -> str:
    """sha256 of a file. Large files are hashed through mmap: no copy out of the page cache,
    which is as costly as the hashing itself here."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size < MMAP_MIN:
            return hashlib.sha256(f.read()).hexdigest()
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return hashlib.sha256(m).hexdigest()


def hash_many(paths: Iterable[Path], progress: Callable[[int], None] | None = None) -> list[str]:
    """Hash files on every core; results in input order. `progress` gets bytes per file.

    Worker processes, not threads: threads page-faulting the same address space contend on
    the kernel's memory map lock and were measured slower than one thread here.
    """
    plist = list(paths)
    if len(plist) < PARALLEL_MIN or WORKERS < 2:
        digests = []
        for p in plist:
            digests.append(hash_file(p))
            if progress:
                progress(os.lstat(p).st_size)
        return digests
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(WORKERS, mp_context=ctx) as pool:
        digests = []
        for p, digest in zip(plist, pool.map(hash_file, plist, chunksize=64), strict=True):
            digests.append(digest)
            if progress:
                progress(os.lstat(p).st_size)
        return digests


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
    skip: Callable[[str], bool] | None = None,
) -> Manifest:
    """The manifest of a tree on disk (special files such as sockets are refused).

    `stats`, when given, receives the lstat of every path read. Paths for which `skip` says
    True are left out, unread; a directory whose files were all skipped is recorded as
    the empty directory a pack ships (an unzipped pack's `logs/` before the server wrote to it).
    """
    items = list(walk(root))
    if skip is not None:
        items = _without(root, items, skip)
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


def _without(
    root: Path, items: list[tuple[str, os.stat_result]], skip: Callable[[str], bool]
) -> list[tuple[str, os.stat_result]]:
    kept = [(rel, st) for rel, st in items if not skip(rel)]
    covered = {rel for rel, _ in kept}
    for rel, _ in kept:
        while "/" in rel:
            rel = rel.rsplit("/", 1)[0]
            covered.add(rel)
    # The directory that holds skipped files (logs/ for logs/x.log) was in the pack, empty;
    # one holding only skipped directories (tmp/ for tmp/work/x) is the server's own.
    emptied = {
        parent
        for rel, _ in items
        if "/" in rel and skip(rel)
        for parent in (rel.rsplit("/", 1)[0],)
        if parent not in covered and not skip(parent)
    }
    return kept + [(d, os.lstat(root / d)) for d in sorted(emptied)]


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
