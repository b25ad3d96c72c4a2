"""bundle create: the publisher's side of an offline update."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.bundle import create_bundle
from uplevel.core.updateinfo import UpdateInfo, parse_advisory, parse_fix


@dataclass(frozen=True, kw_only=True)
class BundleCreateResult:
    output: str
    product: str
    channel: str
    from_level: int
    to_level: int
    added: int
    modified: int
    removed: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def bundle_create(
    *,
    product: str,
    from_tree: Path,
    to_tree: Path,
    from_level: int,
    to_level: int,
    channel: str = "full",
    title: str = "",
    description: str = "",
    security: bool = False,
    fixes: tuple[str, ...] = (),
    advisories: tuple[str, ...] = (),
    instructions: Path | None = None,
    output: Path,
    progress: Callable[[int], None] | None = None,
) -> BundleCreateResult:
    info = UpdateInfo(
        level=to_level,
        title=title or f"{product} level {to_level}",
        description=description,
        security=security,
        fixes=tuple(parse_fix(f) for f in fixes),
        advisories=tuple(parse_advisory(a) for a in advisories),
        instructions=instructions.read_text() if instructions else "",
    )
    desc = create_bundle(
        product=product,
        channel=channel,
        old_tree=from_tree,
        new_tree=to_tree,
        from_level=from_level,
        to_level=to_level,
        updates=[info],
        output=output,
        progress=progress,
    )
    old = desc.from_manifest
    return BundleCreateResult(
        output=str(output),
        product=product,
        channel=channel,
        from_level=from_level,
        to_level=to_level,
        added=sum(1 for p, e in desc.changes.items() if e is not None and p not in old),
        modified=sum(1 for p, e in desc.changes.items() if e is not None and p in old),
        removed=sum(1 for e in desc.changes.values() if e is None),
        bytes=output.stat().st_size,
    )
