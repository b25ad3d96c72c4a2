"""repo.json: how long each role's metadata lives, how many keys sign it, where root keys are.

Also parses the command-line forms (`root=365d,targets=90d`, `targets=2`, `90d`) so
that every spelling error is a UsageError naming the bad part.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from uplevel.errors import PublisherError, UsageError

CONFIG_SCHEMA = 1
ROLES = ("root", "targets", "snapshot", "timestamp")
CHAIN_ROLES = ("targets", "snapshot", "timestamp")
"""The online roles, in the order they are re-signed: each names the version of the one before."""
DEFAULT_EXPIRES_DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1}
MAX_THRESHOLD = 16
_DURATION = re.compile(r"^([1-9][0-9]*)([smhdw]?)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True, kw_only=True)
class RepoConfig:
    expires_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_EXPIRES_DAYS))
    thresholds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLES, 1))
    root_key_dir: str | None = None

    def expiry(self, role: str) -> timedelta:
        return timedelta(days=self.expires_days[role])

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": CONFIG_SCHEMA,
            "expires_days": {r: self.expires_days[r] for r in ROLES},
            "thresholds": {r: self.thresholds[r] for r in ROLES},
            "root_key_dir": self.root_key_dir,
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=1) + "\n").encode()

    @classmethod
    def from_dict(cls, doc: Any, *, where: str) -> RepoConfig:
        if not isinstance(doc, dict):
            raise PublisherError(f"{where}: expected a JSON object")
        if doc.get("schema_version") != CONFIG_SCHEMA:
            raise PublisherError(
                f"{where}.schema_version: {doc.get('schema_version')!r} is not supported "
                f"(this uplevel reads {CONFIG_SCHEMA})",
                hint="upgrade uplevel",
            )
        maps: list[dict[str, int]] = []
        for key in ("expires_days", "thresholds"):
            value = doc.get(key)
            if not isinstance(value, dict) or set(value) != set(ROLES):
                raise PublisherError(f"{where}.{key}: expected an object with {', '.join(ROLES)}")
            for role, n in value.items():
                if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                    raise PublisherError(f"{where}.{key}.{role}: expected a positive integer")
            maps.append(dict(value))
        key_dir = doc.get("root_key_dir")
        if key_dir is not None and not isinstance(key_dir, str):
            raise PublisherError(f"{where}.root_key_dir: expected a path or null")
        return cls(expires_days=maps[0], thresholds=maps[1], root_key_dir=key_dir)

    @classmethod
    def load(cls, path: Path) -> RepoConfig:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UsageError(
                f"{path.parent} is not an uplevel repository (no {path.name})",
                hint=f"create one with `uplevel repo init {path.parent}`",
            ) from None
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise PublisherError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_dict(doc, where=str(path))


def parse_duration(text: str, *, option: str) -> timedelta:
    """`90d`, `12h`, `30m`, `2w`, `45s`; a bare number means days."""
    m = _DURATION.match(text.strip())
    if not m:
        raise UsageError(f"{option} {text!r}: expected a duration such as 90d, 12h or 2w")
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2) or "d"])


def parse_expires(spec: str | None) -> dict[str, int]:
    """`root=365d,targets=90d` → the defaults with those roles replaced (whole days)."""
    days = dict(DEFAULT_EXPIRES_DAYS)
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        role, sep, value = part.partition("=")
        role = role.strip()
        if not sep or role not in ROLES:
            raise UsageError(
                f"--expires {part!r}: expected ROLE=DURATION with ROLE one of {', '.join(ROLES)}"
            )
        delta = parse_duration(value, option=f"--expires {role}")
        if delta.total_seconds() % 86400:
            raise UsageError(f"--expires {part!r}: metadata lifetimes are whole days (e.g. 7d)")
        days[role] = delta.days
    return days


def parse_thresholds(specs: Iterable[str]) -> dict[str, int]:
    """`targets=2` (repeatable) → the default of 1 per role with those replaced."""
    thresholds = dict.fromkeys(ROLES, 1)
    for spec in specs:
        role, sep, value = spec.partition("=")
        role = role.strip()
        if not sep or role not in ROLES or not value.strip().isdigit():
            raise UsageError(
                f"--threshold {spec!r}: expected ROLE=N with ROLE one of {', '.join(ROLES)}"
            )
        n = int(value)
        if not 1 <= n <= MAX_THRESHOLD:
            raise UsageError(f"--threshold {spec!r}: N must be between 1 and {MAX_THRESHOLD}")
        thresholds[role] = n
    return thresholds


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def describe(mapping: Mapping[str, int]) -> str:
    return ", ".join(f"{r}={mapping[r]}" for r in ROLES)
