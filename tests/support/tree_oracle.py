"""An independent oracle for the tree merges (JSON, YAML): each side parsed by a loader the
engine does not use, flattened to settings by key path, then every one-sided change must be
in the merge and every two-sided difference kept at the operator's value."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from uplevel.merge.result import MergeResult


def leaves(v: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    """Every non-mapping value by its key path (lists are leaves)."""
    if isinstance(v, dict) and (v or not path):
        out: dict[tuple[Any, ...], Any] = {}
        for k, x in v.items():
            out.update(leaves(x, (*path, k)))
        return out
    return {path: json.dumps(v, sort_keys=True, default=str)}


def at(side: dict[tuple[Any, ...], Any], p: tuple[Any, ...]) -> Any:
    """The setting at `p` on one side: a leaf, the leaves of a mapping under it, or None."""
    if p in side:
        return "map:[]" if side[p] == "{}" else side[p]
    sub = sorted((q[len(p) :], v) for q, v in side.items() if q[: len(p)] == p)
    return "map:" + repr(sub) if sub else None


def is_container(v: str | None) -> bool:
    return v is not None and v.startswith(("[", "map:"))


def check_merge(
    base: bytes, ours: bytes, theirs: bytes, result: MergeResult, load: Callable[[bytes], Any]
) -> set[tuple[Any, ...]]:
    """Every one-sided change is in the merge; returns the leaf paths both sides changed."""
    b, o, t, m = (leaves(load(x)) for x in (base, ours, theirs, result.merged))
    both: set[tuple[Any, ...]] = set()
    every = set(b) | set(o) | set(t)
    for p in every:
        if any(p[:n] in every for n in range(len(p))):
            p = next(p[:n] for n in range(len(p)) if p[:n] in every)  # judge at the parent
        bv, ov, tv, mv = at(b, p), at(o, p), at(t, p), at(m, p)
        if all(v is None or is_container(v) for v in (bv, ov, tv)) and ov and tv:
            continue  # containers on all sides: merged entry by entry, checked against tree
        if ov == bv:
            # (or a delete/change conflict on an enclosing mapping, which keeps ours)
            assert mv == tv or (result.conflicts and mv == ov), p
        elif tv in (bv, ov):
            assert mv == ov, p
        else:
            both.add(p)
            assert mv == ov, p  # the operator's value is kept on conflict
    return both
