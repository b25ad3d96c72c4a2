"""Update descriptors: what one numbered update says about itself (pure, validated).

Field errors name the exact field (`updates[0].advisories[1].severity`) so a
publisher can fix a descriptor without reading code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from uplevel.errors import BundleError, UsageError

PRODUCT_RE = re.compile(r"^[a-z0-9][a-z0-9_.+]*(?:-[a-z0-9_.+]+)*-[0-9][0-9A-Za-z_.+]*$")
SEVERITIES = ("low", "medium", "high", "critical")
CHANNELS = ("full", "security")


def check_product(name: str) -> str:
    if not PRODUCT_RE.match(name):
        raise UsageError(f"product {name!r} is not NAME-VERSION (for example wso2am-4.2.0)")
    return name


def check_channel(name: str) -> str:
    if name not in CHANNELS:
        raise UsageError(f"channel {name!r} is not one of {', '.join(CHANNELS)}")
    return name


@dataclass(frozen=True, kw_only=True)
class Fix:
    id: str
    summary: str


@dataclass(frozen=True, kw_only=True)
class Advisory:
    id: str
    severity: str


@dataclass(frozen=True, kw_only=True)
class UpdateInfo:
    level: int
    title: str
    description: str = ""
    security: bool = False
    fixes: tuple[Fix, ...] = ()
    advisories: tuple[Advisory, ...] = ()
    instructions: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "title": self.title,
            "description": self.description,
            "security": self.security,
            "fixes": [{"id": f.id, "summary": f.summary} for f in self.fixes],
            "advisories": [{"id": a.id, "severity": a.severity} for a in self.advisories],
            "instructions": self.instructions,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> UpdateInfo:
        if not isinstance(d, dict):
            raise BundleError(f"{where}: expected an object")
        level = _int(d, "level", where)
        title = _str(d, "title", where)
        fixes = []
        for i, f in enumerate(_list(d, "fixes", where)):
            w = f"{where}.fixes[{i}]"
            if not isinstance(f, dict):
                raise BundleError(f"{w}: expected an object")
            fixes.append(Fix(id=_str(f, "id", w), summary=_str(f, "summary", w)))
        advisories = []
        for i, a in enumerate(_list(d, "advisories", where)):
            w = f"{where}.advisories[{i}]"
            if not isinstance(a, dict):
                raise BundleError(f"{w}: expected an object")
            sev = _str(a, "severity", w)
            if sev not in SEVERITIES:
                raise BundleError(f"{w}.severity: {sev!r} is not one of {', '.join(SEVERITIES)}")
            advisories.append(Advisory(id=_str(a, "id", w), severity=sev))
        security = d.get("security", False)
        if not isinstance(security, bool):
            raise BundleError(f"{where}.security: expected true or false")
        return cls(
            level=level,
            title=title,
            description=_str(d, "description", where, default=""),
            security=security,
            fixes=tuple(fixes),
            advisories=tuple(advisories),
            instructions=_str(d, "instructions", where, default=""),
        )


def parse_fix(text: str) -> Fix:
    fid, sep, summary = text.partition("=")
    if not sep or not fid.strip():
        raise UsageError(f"--fix {text!r}: expected ID=summary")
    return Fix(id=fid.strip(), summary=summary.strip())


def parse_advisory(text: str) -> Advisory:
    aid, sep, sev = text.partition("=")
    sev = sev.strip().lower()
    if not sep or not aid.strip() or sev not in SEVERITIES:
        raise UsageError(f"--advisory {text!r}: expected ID=severity ({'|'.join(SEVERITIES)})")
    return Advisory(id=aid.strip(), severity=sev)


def _missing(where: str, key: str) -> BundleError:
    return BundleError(f"{where}.{key}: missing")


def _int(d: dict[str, Any], key: str, where: str) -> int:
    v = d.get(key)
    if v is None:
        raise _missing(where, key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise BundleError(f"{where}.{key}: expected a non-negative integer, got {v!r}")
    return v


def _str(d: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    v = d.get(key, default)
    if v is None:
        raise _missing(where, key)
    if not isinstance(v, str):
        raise BundleError(f"{where}.{key}: expected a string, got {type(v).__name__}")
    return v


def _list(d: dict[str, Any], key: str, where: str) -> list[Any]:
    v = d.get(key, [])
    if not isinstance(v, list):
        raise BundleError(f"{where}.{key}: expected a list")
    return v
