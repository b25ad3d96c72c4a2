"""Local changes: how a home differs from its pristine manifest.

`status` uses a stat cache (like git's index): a file whose size, mtime, ctime
and inode match the cache keeps its cached hash; only the rest is hashed. A file
modified in the same instant the cache was written could keep a stale hash
("racy git"), so entries whose mtime is not safely older than the cache are
always re-hashed. `verify` hashes everything.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uplevel import fsio
from uplevel.home import Home
from uplevel.model import Manifest
from uplevel.scan import hash_many, walk

STATCACHE_SCHEMA = 1
RACY_NS = 2_000_000_000


@dataclass(frozen=True, kw_only=True)
class LocalChanges:
    modified: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    hashed_files: int = 0
    hashed_bytes: int = 0
    checked_files: int = 0

    @property
    def clean(self) -> bool:
        return not (self.modified or self.added or self.deleted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "modified": list(self.modified),
            "added": list(self.added),
            "deleted": list(self.deleted),
        }


@dataclass
class _Cache:
    pristine: str
    entries: dict[str, list[Any]] = field(
        default_factory=dict
    )  # path → [size, mtime, ctime, ino, sha]
    dirty: bool = False


def _load_cache(home: Home, pristine: str) -> _Cache:
    try:
        doc = json.loads(home.statcache.read_bytes())
        if doc.get("schema_version") == STATCACHE_SCHEMA and doc.get("pristine") == pristine:
            return _Cache(pristine, doc["entries"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    return _Cache(pristine, dirty=True)


def _save_cache(home: Home, cache: _Cache) -> None:
    doc = {"schema_version": STATCACHE_SCHEMA, "pristine": cache.pristine, "entries": cache.entries}
    fsio.write_durable(home.statcache, json.dumps(doc, separators=(",", ":")).encode())


def compare(
    home: Home,
    pristine: Manifest,
    *,
    use_cache: bool,
    save_cache: bool = True,
    progress: Callable[[int], None] | None = None,
) -> LocalChanges:
    """Modified / added / deleted paths of the home relative to `pristine`."""
    root = home.root
    cache = _load_cache(home, pristine.digest) if use_cache else _Cache(pristine.digest)
    now_ns = time.time_ns()
    seen: set[str] = set()
    modified: list[str] = []
    added: list[str] = []
    to_hash: list[tuple[str, os.stat_result]] = []
    checked = 0
    for rel, st in walk(root):
        checked += 1
        seen.add(rel)
        entry = pristine.get(rel)
        if entry is None:
            added.append(rel)
            continue
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISREG(st.st_mode):
            if entry.kind != "file" or entry.size != st.st_size or entry.mode != mode:
                modified.append(rel)
                continue
            c = cache.entries.get(rel)
            if (
                use_cache
                and c is not None
                and c[:4] == [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
                and st.st_mtime_ns < now_ns - RACY_NS
            ):
                if c[4] != entry.sha256:
                    modified.append(rel)
                continue
            to_hash.append((rel, st))
        elif stat.S_ISLNK(st.st_mode):
            if entry.kind != "symlink" or os.readlink(root / rel) != entry.target:
                modified.append(rel)
        elif entry.kind != "dir":
            modified.append(rel)
    digests = hash_many((root / rel for rel, _ in to_hash), progress)
    for (rel, st), digest in zip(to_hash, digests, strict=True):
        cache.entries[rel] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, digest]
        cache.dirty = True
        if digest != pristine[rel].sha256:
            modified.append(rel)
    deleted = [p for p in pristine if p not in seen and not _dir_present(root, p, pristine)]
    if use_cache and save_cache and cache.dirty:
        stale = [p for p in cache.entries if p not in seen]
        for p in stale:
            del cache.entries[p]
        _save_cache(home, cache)
    return LocalChanges(
        modified=tuple(sorted(modified)),
        added=tuple(sorted(added)),
        deleted=tuple(sorted(deleted)),
        hashed_files=len(to_hash),
        hashed_bytes=sum(st.st_size for _, st in to_hash),
        checked_files=checked,
    )


def _dir_present(root: Path, path: str, pristine: Manifest) -> bool:
    """An empty directory of the manifest that now has files in it is still there."""
    return pristine[path].kind == "dir" and fsio.is_dir_nofollow(root / path)
