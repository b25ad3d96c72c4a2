"""txn/journal.json and the transaction record: what a transaction writes before its first
step, so that recovery can finish or undo it from the disk alone."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uplevel.core import jsonstrict
from uplevel.core.manifest import Entry
from uplevel.errors import CorruptStateError, HomeError

JOURNAL_SCHEMA = 1
RECORD_SCHEMA = 1


@dataclass(frozen=True, kw_only=True)
class Change:
    """One path of the home going from `before` (now) to `after`."""

    path: str
    before: Entry | None
    after: Entry | None
    helper: bool = (
        False  # f.original / f.new / f.merge: not part of the record, removed by continue
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "helper": self.helper,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        return cls(
            path=d["path"],
            before=Entry.from_dict(d["before"]) if d["before"] else None,
            after=Entry.from_dict(d["after"]) if d["after"] else None,
            helper=bool(d.get("helper")),
        )


Content = Callable[[Change], Iterable[bytes]]
"""Gives the bytes of `change.after` (a file); must raise if they are not available."""


@dataclass
class Journal:
    """txn/journal.json: everything recovery needs, written before the first step."""

    id: str
    kind: str  # apply | revert
    phase: str  # executing | stopped | continuing | aborting
    from_level: int
    to_level: int
    to_pristine: str
    changes: list[Change]
    ops: list[list[Any]]
    backups: dict[str, str]  # backup slot → sha256 of the file moved there
    keep: dict[str, str] = field(default_factory=dict)  # stage slot → sha256 to store, not install
    stop_index: int = 0  # ops before this belong to the stopped part
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    dirs_created: list[str] = field(default_factory=list)
    dirs_removed: dict[str, int] = field(default_factory=dict)
    resolved: list[Change] = field(default_factory=list)  # conflict paths, as continue settles them

    def to_bytes(self) -> bytes:
        d = {
            "schema_version": JOURNAL_SCHEMA,
            "id": self.id,
            "kind": self.kind,
            "phase": self.phase,
            "from_level": self.from_level,
            "to_level": self.to_level,
            "to_pristine": self.to_pristine,
            "changes": [c.to_dict() for c in self.changes],
            "ops": self.ops,
            "backups": self.backups,
            "keep": self.keep,
            "stop_index": self.stop_index,
            "conflicts": self.conflicts,
            "meta": self.meta,
            "dirs_created": self.dirs_created,
            "dirs_removed": self.dirs_removed,
            "resolved": [c.to_dict() for c in self.resolved],
        }
        return dumps(d)

    @classmethod
    def load(cls, path: Path) -> Journal:
        try:
            d = jsonstrict.loads(path.read_bytes())
        except ValueError as exc:
            raise CorruptStateError(path, f"not valid JSON ({exc})") from exc
        if not isinstance(d, dict):
            raise CorruptStateError(path, "not a JSON object")
        if d.get("schema_version") != JOURNAL_SCHEMA:
            raise HomeError(f"{path}: journal schema {d.get('schema_version')!r} is not supported")
        d.pop("schema_version")
        try:
            d["changes"] = [Change.from_dict(c) for c in d["changes"]]
            d["resolved"] = [Change.from_dict(c) for c in d.get("resolved", [])]
            return cls(**d)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptStateError(path, f"malformed ({type(exc).__name__}: {exc})") from exc


def dumps(doc: dict[str, Any]) -> bytes:
    """Journals and records: indented while small (read by people), compact when they list
    thousands of paths (the indenting encoder is pure Python, ~10x slower)."""
    if len(doc.get("changes", ())) > 200:
        return json.dumps(doc, separators=(",", ":")).encode()
    return json.dumps(doc, indent=1).encode()
