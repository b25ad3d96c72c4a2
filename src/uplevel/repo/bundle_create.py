"""bundle create: the publisher's side of an offline update.

Diffs two trees of a product (levels A and B) and writes the jump between them as a bundle
file (formats/bundle.py), with the pristine bases of modified text files up to MERGE_MAX
so that merges work offline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.core.jump import BlobInfo, BundleDescriptor, diff_manifests, refuse_special
from uplevel.core.plan import MERGE_MAX
from uplevel.core.updateinfo import (
    UpdateInfo,
    check_channel,
    check_product,
    parse_advisory,
    parse_fix,
)
from uplevel.engine.scan import read_tree
from uplevel.errors import UsageError
from uplevel.formats.bundle import write_bundle
from uplevel.merge.text import is_text


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
    allow_special: bool = False,
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
        allow_special=allow_special,
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


def create_bundle(
    *,
    product: str,
    channel: str,
    old_tree: Path,
    new_tree: Path,
    from_level: int,
    to_level: int,
    updates: list[UpdateInfo],
    output: Path,
    allow_special: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BundleDescriptor:
    """Diff two trees and write a bundle holding the changed contents (and merge bases)."""
    check_product(product)
    check_channel(channel)
    if to_level <= from_level:
        raise UsageError("--to-level must be greater than --from-level")
    for tree in (old_tree, new_tree):
        if not tree.is_dir():
            raise UsageError(f"{tree} is not a directory")
    old, new = read_tree(old_tree, progress), read_tree(new_tree, progress)
    changes = diff_manifests(old, new)
    refuse_special(changes, allow=allow_special, what=f"the update from {old_tree} to {new_tree}")
    needed: dict[str, Path] = {}
    for p, e in changes.items():
        if e is not None and e.kind == "file":
            needed.setdefault(e.sha256, new_tree / p)
            before = old.get(p)
            if before is not None and before.kind == "file" and before.size <= MERGE_MAX:
                with (old_tree / p).open("rb") as f:
                    head = f.read(8192)
                if is_text(head):
                    needed.setdefault(before.sha256, old_tree / p)

    def describe(blobs: dict[str, BlobInfo]) -> BundleDescriptor:
        return BundleDescriptor(
            product=product,
            channel=channel,
            from_level=from_level,
            to_level=to_level,
            updates=tuple(updates),
            from_manifest=old,
            to_manifest_digest=new.digest,
            changes=changes,
            blobs=blobs,
        )

    return write_bundle(output, needed, describe)
