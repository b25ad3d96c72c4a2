"""What every three-way merge engine returns (pure values).

A format engine (merge/toml.py, xml.py, yaml.py, json.py, properties.py) takes
base, ours and theirs as bytes and returns a MergeResult, or raises
UnparsableInput when one side does not parse, so the caller can fall back to
the line merge and say so. Conflicts name the setting (`database.apim_db.url`,
`/Server/Security/KeyStore/Password`, `log4j2.appender.X.fileName`) and carry
the three values as text (None: the setting is absent on that side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class UnparsableInput(ValueError):
    """One of the three inputs is not valid in the engine's format (`side` says which)."""

    def __init__(self, side: str, message: str) -> None:
        super().__init__(f"{side}: {message}")
        self.side = side


@dataclass(frozen=True, kw_only=True)
class SettingConflict:
    path: str
    base: str | None
    ours: str | None
    theirs: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "base": self.base, "ours": self.ours, "theirs": self.theirs}


@dataclass(frozen=True, kw_only=True)
class MergeResult:
    """`merged` keeps the operator's value wherever there is a conflict (structured formats)
    or holds conflict markers (the line merge)."""

    merged: bytes
    conflicts: tuple[SettingConflict, ...]
    format: str
    fallback: str | None = None  # why the structured merge was not used, if it was not

    @property
    def clean(self) -> bool:
        return not self.conflicts

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "clean": self.clean,
            "conflicts": [c.to_dict() for c in self.conflicts],
            "fallback": self.fallback,
        }
