"""Local changes: how a home differs from its pristine manifest.

`status` keeps an index like git's: per pristine path, the stat data seen last
time (size, mtime, ctime, inode, mode) and whether the path then matched
pristine. A path whose stat data is unchanged keeps its verdict without being
read, and a warm status with nothing changed never even loads the manifest. A
file modified in the same instant the index was written could keep a stale
verdict ("racy git"), so entries whose mtime is not safely older than the index
are always re-checked. The index is a cache: marshal format, tied to the Python
version and the pristine digest; anything unexpected means "rebuild it".
`verify` ignores the index and hashes everything.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.core.manifest import Entry, Manifest
from uplevel.engine import fsio
from uplevel.engine.home import Home
from uplevel.engine.scan import hash_many, walk
from uplevel.errors import UplevelError

INDEX_SCHEMA = 1
RACY_NS = 50_000_000
"""A verdict counts only for a file whose mtime and ctime are this much older than the index
that holds it: a change in the same clock tick as the stat we recorded could otherwise keep
size, times and inode (git's "racy clean"). Far above any filesystem's timestamp tick."""

StatKey = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, ino, st_mode


@dataclass(frozen=True, kw_only=True)
class LocalChanges:
    modified: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    hashed_files: int = 0
    hashed_bytes: int = 0
    checked_files: int = 0
    runtime_files: int = 0  # runtime data (Profile.is_runtime_data): counted, never compared
    runtime_bytes: int = 0
    notes: tuple[str, ...] = ()  # for the operator (a stat cache that could not be saved)

    @property
    def clean(self) -> bool:
        return not (self.modified or self.added or self.deleted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "modified": list(self.modified),
            "added": list(self.added),
            "deleted": list(self.deleted),
        }


def _key(st: os.stat_result) -> StatKey:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode)


@dataclass
class _Index:
    entries: dict[str, Any]  # path → (StatKey, matched pristine) or None (not checked yet)
    written_ns: int  # when it was saved: see RACY_NS

    def trusted(self, path: str, st: os.stat_result) -> bool | None:
        """The recorded verdict if the stat data still matches and is not racy, else None."""
        known = self.entries.get(path)
        if known is None or known[0] != _key(st):
            return None
        limit = self.written_ns - RACY_NS
        if st.st_mtime_ns >= limit or st.st_ctime_ns >= limit:
            return None
        return bool(known[1])


def load_index(home: Home, pristine: str) -> _Index | None:
    """The home's stat index if it was written for `pristine` by this Python, else None."""
    try:
        header, written_ns, entries = marshal.loads(home.statcache.read_bytes())
        if header == (INDEX_SCHEMA, sys.implementation.cache_tag, pristine):
            return _Index(dict(entries), int(written_ns))
    except (OSError, ValueError, EOFError, TypeError):
        pass
    return None


def _save_index(home: Home, pristine: str, entries: dict[str, Any]) -> None:
    header = (INDEX_SCHEMA, sys.implementation.cache_tag, pristine)
    fsio.write_durable(home.statcache, marshal.dumps((header, time.time_ns(), entries)))


def compare(
    home: Home,
    pristine_digest: str,
    *,
    use_index: bool,
    save_index: bool = True,
    progress: Callable[[int], None] | None = None,
    runtime: Callable[[str], bool] | None = None,
) -> LocalChanges:
    """Modified / added / deleted paths of the home relative to the pristine manifest.

    Paths `runtime` names are what the server writes, not the operator: they are counted
    (files and bytes present) and never read, and a missing one is no deletion."""
    root = home.root
    manifest: Manifest | None = None

    def pristine() -> Manifest:
        nonlocal manifest
        if manifest is None:
            manifest = home.load_manifest(pristine_digest)
        return manifest

    loaded = load_index(home, pristine_digest) if use_index else None
    dirty = loaded is None
    if loaded is None:
        loaded = _Index(dict.fromkeys(pristine(), None), 0)  # every pristine path, unchecked
    index = loaded.entries
    seen: set[str] = set()
    modified: list[str] = []
    added: list[str] = []
    to_hash: list[tuple[str, os.stat_result]] = []
    runtime_files = runtime_bytes = 0
    for rel, st in walk(root):
        seen.add(rel)
        if runtime is not None and runtime(rel):
            if not stat.S_ISDIR(st.st_mode):
                runtime_files += 1
                runtime_bytes += st.st_size if stat.S_ISREG(st.st_mode) else 0
            continue
        if rel not in index:
            added.append(rel)
            continue
        key = _key(st)
        verdict = loaded.trusted(rel, st) if use_index else None
        if verdict is not None:
            if not verdict:
                modified.append(rel)
            continue
        dirty = True
        verdict = _same_without_hash(root, rel, st, pristine()[rel])
        if verdict is None:  # same size and mode: only the bytes can tell
            to_hash.append((rel, st))
        else:
            index[rel] = (key, verdict)
            if not verdict:
                modified.append(rel)
    digests = hash_many((root / rel for rel, _ in to_hash), progress)
    for (rel, st), digest in zip(to_hash, digests, strict=True):
        clean = digest == pristine()[rel].sha256
        index[rel] = (_key(st), clean)
        if not clean:
            modified.append(rel)
    # An empty directory of the manifest that now has files in it is still there.
    deleted = [
        p
        for p in index
        if p not in seen
        and not (runtime is not None and runtime(p))
        and not (pristine()[p].kind == "dir" and fsio.is_dir_nofollow(root / p))
    ]
    notes: tuple[str, ...] = ()
    if use_index and save_index and dirty:
        try:
            _save_index(home, pristine_digest, index)
        except (OSError, UplevelError) as exc:  # disk full, read-only: only a cache is lost
            notes = (
                f"could not save the stat cache {home.statcache} ({exc}); "
                "the result is complete, the next run hashes again",
            )
    return LocalChanges(
        notes=notes,
        modified=tuple(sorted(modified)),
        added=tuple(sorted(added)),
        deleted=tuple(sorted(deleted)),
        hashed_files=len(to_hash),
        hashed_bytes=sum(st.st_size for _, st in to_hash),
        checked_files=len(seen),
        runtime_files=runtime_files,
        runtime_bytes=runtime_bytes,
    )


def _same_without_hash(root: Path, rel: str, st: os.stat_result, entry: Entry) -> bool | None:
    """True/False when the stat data (or link target) decides; None when the file must be hashed."""
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        if entry.kind != "file" or entry.size != st.st_size or entry.mode != mode:
            return False
        return None
    if stat.S_ISLNK(st.st_mode):
        return entry.kind == "symlink" and os.readlink(root / rel) == entry.target
    return entry.kind == "dir"


def seed_index(home: Home, manifest: Manifest, stats: dict[str, os.stat_result]) -> None:
    """At adoption every path is pristine by definition: the first status starts warm."""
    entries = {p: (_key(stats[p]), True) if p in stats else None for p in manifest}
    _save_index(home, manifest.digest, entries)


def rebase_index(
    home: Home, old_digest: str, new: Manifest, touched: set[str], settled: set[str]
) -> None:
    """After a transaction moved the home to pristine `new`: keep the verdicts of every path
    the transaction did not touch (same bytes, same pristine entry), record the paths it
    `settled` (installed exactly as `new` has them), forget the rest. A cache: when there is
    nothing to carry over, it is simply rebuilt by the next status."""
    index = load_index(home, old_digest)
    if index is None:
        return
    entries = {p: None if p in touched else index.entries.get(p) for p in new}
    for p in settled:
        if p in entries:
            try:
                entries[p] = (_key(os.lstat(home.root / p)), True)
            except OSError:
                entries[p] = None
    _save_index(home, new.digest, entries)


def current_entries(home: Home, paths: list[str], pristine: Manifest) -> dict[str, Entry | None]:
    """The home's entry at each path; a path the index proves pristine is not read again."""
    from uplevel.engine.scan import read_entry

    index = load_index(home, pristine.digest)
    out: dict[str, Entry | None] = {}
    for p in paths:
        if index is not None and index.entries.get(p) is not None:
            try:
                st = os.lstat(home.root / p)
            except (FileNotFoundError, NotADirectoryError):
                out[p] = None
                continue
            if index.trusted(p, st):
                out[p] = pristine[p]
                continue
        out[p] = read_entry(home.root, p)
    return out
