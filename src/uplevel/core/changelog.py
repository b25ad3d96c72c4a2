"""The changelog between two levels, from the updates' descriptors (pure: values in, values out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uplevel.core.manifest import Entry
from uplevel.core.updateinfo import SEVERITIES, UpdateInfo


@dataclass(frozen=True, kw_only=True)
class LevelNotes:
    """One level's update as the repository describes it."""

    info: UpdateInfo
    changes: dict[str, Entry | None]


@dataclass(frozen=True, kw_only=True)
class Changelog:
    product: str
    channel: str
    from_level: int
    to_level: int
    levels: tuple[LevelNotes, ...]
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def security_count(self) -> int:
        return sum(1 for n in self.levels if n.info.security)

    @property
    def highest_severity(self) -> str | None:
        found = {a.severity for n in self.levels for a in n.info.advisories}
        return next((s for s in reversed(SEVERITIES) if s in found), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "channel": self.channel,
            "from_level": self.from_level,
            "to_level": self.to_level,
            "security_updates": self.security_count,
            "highest_severity": self.highest_severity,
            "updates": [n.info.to_dict() for n in self.levels],
            "files": {
                "added": list(self.added),
                "changed": list(self.changed),
                "removed": list(self.removed),
            },
        }

    def to_markdown(self) -> str:
        out = [
            f"# {self.product}: level {self.from_level} → {self.to_level} ({self.channel} channel)",
            "",
            f"{len(self.levels)} update(s), {self.security_count} security"
            + (f", highest severity: {self.highest_severity}" if self.highest_severity else ""),
            "",
        ]
        for n in self.levels:
            u = n.info
            out.append(f"## Level {u.level}: {u.title}" + (" [security]" if u.security else ""))
            if u.description:
                out += ["", u.description]
            if u.fixes:
                out += ["", "Fixes:"] + [f"- {f.id}: {f.summary}" for f in u.fixes]
            if u.advisories:
                out += ["", "Security advisories:"] + [
                    f"- {a.id} ({a.severity})" for a in u.advisories
                ]
            if u.instructions:
                out += ["", "Instructions:", "", u.instructions.rstrip()]
            out.append("")
        for label, paths in (
            ("Added", self.added),
            ("Changed", self.changed),
            ("Removed", self.removed),
        ):
            if paths:
                out += [f"## {label} files ({len(paths)})", ""] + [f"- `{p}`" for p in paths] + [""]
        return "\n".join(out)


def changelog(
    *,
    product: str,
    channel: str,
    from_level: int,
    to_level: int,
    levels: list[LevelNotes],
    old: dict[str, Entry],
    new: dict[str, Entry],
) -> Changelog:
    """Net file changes come from the two pristine trees, not by adding up the levels: a file
    changed at level 4 and removed at level 6 is just removed."""
    added = sorted(p for p in new if p not in old)
    removed = sorted(p for p in old if p not in new)
    changed = sorted(p for p in new if p in old and old[p] != new[p])
    return Changelog(
        product=product,
        channel=channel,
        from_level=from_level,
        to_level=to_level,
        levels=tuple(sorted(levels, key=lambda n: n.info.level)),
        added=tuple(added),
        changed=tuple(changed),
        removed=tuple(removed),
    )
