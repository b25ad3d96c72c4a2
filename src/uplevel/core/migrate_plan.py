"""The migration planner: per path of an old home, what `uplevel migrate` does with it.

Pure: it takes the old home's pristine manifest, the old home's entries, the new home's
entries and the product profile as values, and returns one decision per path; it never
reads the disk. Rules (docs/migrate.md):

- a path unchanged in OLD since its pristine level is left alone: NEW's version stays
  (an update may have replaced it; the old one must not come back);
- runtime data (profile `runtime`) that OLD changed or added is copied as it is;
- lock, trace, log and temporary files (profile `runtime_exclude`) and the pid file are
  never carried;
- any other file OLD changed or added (configuration, operator additions, the rest) is
  carried when NEW still has the old pristine version or nothing there; when NEW has
  another version too, both sides changed: a three-way merge (base: OLD's pristine,
  ours: OLD's file, theirs: NEW's file), or a conflict when that cannot work;
- what OLD deleted is reported, never deleted in NEW.

Files of OLD the caller did not hash carry an empty sha256; the caller promises to hash
every file whose size and mode equal its pristine or NEW entry, so an unhashed file is
known to differ from both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from uplevel.core.manifest import Entry
from uplevel.core.profile import Profile, matches_any

Action = Literal["copy", "carry", "merge", "conflict", "skip", "deleted"]
Category = Literal["runtime", "config", "addition", "other"]
ACTIONS: tuple[Action, ...] = ("copy", "carry", "merge", "conflict", "skip", "deleted")


@dataclass(frozen=True, kw_only=True)
class Item:
    path: str
    action: Action
    category: Category
    reason: str
    base: Entry | None  # OLD's pristine
    old: Entry | None  # what OLD holds
    new: Entry | None  # what NEW holds now

    @property
    def size(self) -> int:
        return self.old.size if self.old is not None and self.old.kind == "file" else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "action": self.action,
            "category": self.category,
            "reason": self.reason,
            "bytes": self.size,
        }


def excluded(profile: Profile, path: str) -> bool:
    """Profile.is_runtime_excluded, compiled (the planner asks it for every file of OLD)."""
    return matches_any(profile.runtime_exclude, path)


def category(profile: Profile, path: str) -> Category:
    """Which of the profile's path lists `path` belongs to (Profile.is_runtime, is_config,
    is_addition, in that order), with the globs compiled once."""
    if matches_any(profile.runtime, path) and not excluded(profile, path):
        return "runtime"
    if matches_any(profile.config, path):
        return "config"
    if matches_any(profile.additions, path):
        return "addition"
    return "other"


def differs(x: Entry | None, y: Entry | None) -> bool:
    """Whether two entries differ; a file with an unknown hash differs only by size or mode
    (see the module docstring: the caller hashed every file that could be equal)."""
    if x is None or y is None:
        return x is not y
    if x.kind != y.kind:
        return True
    if x.kind == "dir":
        return False
    if x.kind == "symlink":
        return x.target != y.target
    if x.size != y.size or x.mode != y.mode:
        return True
    if not x.sha256 or not y.sha256:
        raise ValueError("differs: a file of equal size and mode was not hashed")
    return x.sha256 != y.sha256


def needs_hash(old: Entry, base: Entry | None, new: Entry | None) -> bool:
    """Whether the planner must know the hash of OLD's file `old` to decide."""
    return any(
        e is not None and e.kind == "file" and e.size == old.size and e.mode == old.mode
        for e in (base, new)
    )


def decide(
    path: str,
    base: Entry | None,
    old: Entry | None,
    new: Entry | None,
    profile: Profile,
) -> Item:
    cat = category(profile, path)

    def item(action: Action, reason: str) -> Item:
        return Item(
            path=path, action=action, category=cat, reason=reason, base=base, old=old, new=new
        )

    if old is None:
        if base is None:
            return item("skip", "not in OLD")
        return item("deleted", "deleted in OLD; NEW keeps its own (migrate never deletes)")
    if excluded(profile, path):
        return item("skip", "never carried (the profile's runtime_exclude: lock, log, temporary)")
    if path == profile.pid_file:
        return item("skip", "the old server's pid file: never carried")
    if base is not None and not differs(old, base):
        if cat == "runtime":
            return item("skip", "unchanged in OLD since its level: NEW's version stays")
        return item("skip", "pristine in OLD: NEW's version stays")
    if new is not None and not differs(old, new):
        return item("skip", "already identical in NEW")
    if new is not None and new.kind == "dir":
        return item("conflict", f"a directory in NEW, a {old.kind} in OLD")
    if old.kind == "dir":
        if new is None:
            return item("carry", "empty directory added in OLD")
        return item("conflict", f"a directory in OLD, a {new.kind} in NEW")
    what = "changed" if base is not None else "added"
    if cat == "runtime":
        if new is not None and base is not None and differs(new, base):
            return item("copy", f"runtime data {what} in OLD (replaces NEW's newer version)")
        return item("copy", f"runtime data {what} in OLD")
    if new is None:
        if base is None:
            return item("carry", "added in OLD")
        return item("conflict", "changed in OLD, absent from NEW")
    if base is not None and not differs(new, base):
        return item("carry", "changed in OLD; NEW has the same pristine version")
    if base is None:
        return item("conflict", "added in OLD; NEW has a different file there")
    if base.kind == old.kind == new.kind == "file":
        return item("merge", "changed in OLD and in NEW")
    return item("conflict", f"changed on both sides ({old.kind} in OLD, {new.kind} in NEW)")


def plan_migration(
    base: Mapping[str, Entry],
    old: Mapping[str, Entry],
    new: Mapping[str, Entry | None],
    profile: Profile,
) -> list[Item]:
    """One Item per path of OLD's tree or pristine manifest, sorted by path.

    `old` holds OLD's entries (files, symlinks, empty directories, and directories that
    exist but are listed empty in `base`); `new` holds NEW's entry for every path of
    `old` (None when absent)."""
    out = []
    for path in sorted({*base, *old}):
        out.append(decide(path, base.get(path), old.get(path), new.get(path), profile))
    return out


def counts(items: list[Item]) -> dict[str, int]:
    return {a: sum(1 for i in items if i.action == a) for a in ACTIONS}
