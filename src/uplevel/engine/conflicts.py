"""A conflict: the record a stopped apply or migrate keeps, and the helper files beside it.

Both stop the same way. For each conflicting path f the transaction's journal records the
three sides (pristine base, upstream, local), the mode f.final will get and the settings
that conflicted; beside f it leaves f.original (the pristine base), f.new (upstream) and
f.merge (the merge attempt, where there is one), and `uplevel continue` takes f.final.
Helpers are never written over an existing file: the operator's files are never lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.core.manifest import Entry
from uplevel.engine.txn import Change
from uplevel.errors import UplevelError
from uplevel.merge.result import MergeResult

HELPER_SUFFIXES = (".original", ".new", ".merge")


@dataclass(frozen=True, kw_only=True)
class ConflictRecord:
    """One conflicting path, as the journal keeps it and `--json` shows it."""

    path: str
    reason: str
    base: Entry | None
    upstream: Entry | None
    local: Entry | None
    mode: int  # the mode f.final gets
    helpers: tuple[str, ...] = ()
    outcome: MergeResult | None = None  # the merge that found the conflicting settings

    def to_dict(self) -> dict[str, Any]:
        def e(x: Entry | None) -> dict[str, Any] | None:
            return x.to_dict() if x else None

        return {
            "path": self.path,
            "reason": self.reason,
            "base": e(self.base),
            "upstream": e(self.upstream),
            "local": e(self.local),
            "mode": self.mode,
            "helpers": list(self.helpers),
            "format": self.outcome.format if self.outcome else None,
            "settings": [c.to_dict() for c in self.outcome.conflicts] if self.outcome else [],
        }


def helper_files(
    root: Path,
    path: str,
    *,
    original: bytes | None,
    new: bytes | None,
    merge: bytes | None,
    where: str = "",
) -> dict[str, bytes]:
    """f.original, f.new and f.merge for the conflict on `path` (those there are bytes for),
    by path in the home at `root`; UplevelError if one of them exists there already."""
    out: dict[str, bytes] = {}
    for suffix, data in zip(HELPER_SUFFIXES, (original, new, merge), strict=True):
        if data is None:
            continue
        helper = path + suffix
        if os.path.lexists(root / helper):
            raise UplevelError(
                f"cannot leave {helper} for the conflict on {path}: that file already exists{where}",
                hint="move it away and run the command again",
            )
        out[helper] = data
    return out


def helper_change(path: str, data: bytes) -> Change:
    """The transaction's change that creates a helper file (removed again by continue)."""
    return Change(path=path, before=None, after=Entry.for_bytes(data, 0o644), helper=True)
