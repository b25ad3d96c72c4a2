"""The update planner: per path, what happens to a home going from pristine A to pristine B.

Pure: it takes manifests and the home's current entries as values and returns
decisions; it never reads the disk. Rules (PRODUCT.md, issue "in-place engine"):
unchanged locally → take the new pristine; changed locally only → keep; changed
on both sides → merge (text) or conflict; deleted by the operator and changed
upstream → conflict; added upstream where the operator created something
different → conflict. Paths that A→B does not touch (operator-added files among
them) are never part of a plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from uplevel.core.manifest import Entry, Manifest

MERGE_MAX = 16 << 20
"""The largest content merged in memory. An update carries (or fetches) the pristine base of
a modified file only up to this size; a larger file changed on both sides is a conflict."""

Action = Literal["take", "remove", "keep", "merge", "conflict", "noop"]


@dataclass(frozen=True, kw_only=True)
class Decision:
    path: str
    action: Action
    base: Entry | None  # pristine at the old level
    upstream: Entry | None  # pristine at the new level
    local: Entry | None  # what the home holds now
    result: Entry | None = None  # take: what to install (content of one side, merged mode)
    reason: str = ""

    @property
    def changes_home(self) -> bool:
        return self.action in ("take", "remove", "merge")


def same(x: Entry | None, y: Entry | None) -> bool:
    """Entry equality where any two directories are the same (manifests list only empty ones)."""
    if x is None or y is None:
        return x is y
    if x.kind == "dir" and y.kind == "dir":
        return True
    return x == y


def changed_paths(old: Manifest, new: Manifest) -> list[str]:
    paths = {p for p in old if p not in new}
    paths.update(p for p, e in new.items() if not same(old.get(p), e))
    return sorted(paths)


def _has_children(manifest: Manifest, path: str) -> bool:
    prefix = path + "/"
    return any(p.startswith(prefix) for p in manifest)


def decide(path: str, a: Entry | None, b: Entry | None, local: Entry | None) -> Decision:
    """The decision for one path given base `a`, upstream `b` and the home's `local`."""

    def d(action: Action, reason: str, result: Entry | None = None) -> Decision:
        return Decision(
            path=path, action=action, base=a, upstream=b, local=local, result=result, reason=reason
        )

    if same(local, b):
        return d("noop", "already as upstream")
    if same(local, a):
        if b is None:
            return d("remove", "removed upstream")
        return d("take", "changed upstream only", b)
    # From here on the operator changed this path.
    if a is None:
        return d("conflict", "added upstream; the home has a different file there")
    if b is None:
        if local is None:
            return d("noop", "deleted on both sides")
        return d("conflict", "changed locally, removed upstream")
    if local is None:
        return d("conflict", "deleted locally, changed upstream")
    if a.kind == b.kind == local.kind == "file":
        mode = local.mode if local.mode != a.mode else b.mode
        if local.sha256 == a.sha256:  # only the mode changed locally
            return d("take", "content changed upstream, mode kept", _file(b, mode))
        if b.sha256 == a.sha256:  # only the mode changed upstream
            if mode == local.mode:
                return d("keep", "changed locally only")
            return d("take", "mode changed upstream, content kept", _file(local, mode))
        return d("merge", "changed on both sides", _file(b, mode))
    return d("conflict", f"changed on both sides ({local.kind} here, {b.kind} upstream)")


def _file(content: Entry, mode: int) -> Entry:
    return Entry(kind="file", mode=mode, size=content.size, sha256=content.sha256)


def plan_update(old: Manifest, new: Manifest, local: Mapping[str, Entry | None]) -> list[Decision]:
    """Decisions for every path that differs between `old` and `new` pristine trees.

    `local` must hold the home's current entry (or None) for each such path.
    """
    out = []
    for path in changed_paths(old, new):
        a, b = old.get(path), new.get(path)
        if a is not None and a.kind == "dir" and b is None and _has_children(new, path):
            # An empty directory that upstream fills: it stays, its new files are planned.
            continue
        out.append(decide(path, a, b, local.get(path)))
    return out
