"""add-update: append the next level to the channels an update belongs to.

Every source of an update (a bundle, two trees, a WUM update zip) comes down to
`add_update_from_changes`: the changed paths, the tree they apply to, and a way to
get each new content by sha256. An update must apply to each target channel's
own pristine tree: for every changed path the channel's current entry must equal
the update's "before" entry. Everything is checked before the first byte is
written, so a refused update leaves the repository as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.core.jump import diff_manifests, refuse_special
from uplevel.core.manifest import Entry, Manifest
from uplevel.core.paths import check_relative
from uplevel.core.updateinfo import Advisory, Fix, UpdateInfo, check_product
from uplevel.engine.scan import read_tree
from uplevel.errors import UplevelError, UsageError
from uplevel.formats.bundle import Bundle
from uplevel.repo.state import NewLevel, OpenRepo, open_repo


@dataclass(frozen=True, kw_only=True)
class UpdateDetails:
    """What an update says about itself; its level is given per channel when it is published."""

    title: str
    description: str = ""
    fixes: tuple[Fix, ...] = ()
    advisories: tuple[Advisory, ...] = ()
    instructions: str = ""

    def info(self, level: int, security: bool) -> UpdateInfo:
        return UpdateInfo(
            level=level,
            title=self.title,
            description=self.description,
            security=security,
            fixes=self.fixes,
            advisories=self.advisories,
            instructions=self.instructions,
        )


@dataclass(frozen=True, kw_only=True)
class AddUpdateResult:
    repo: str
    product: str
    title: str
    security: bool
    levels: dict[str, int]
    added: int
    modified: int
    removed: int
    blobs_written: int
    targets_version: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def describe(entry: Entry | None) -> str:
    if entry is None:
        return "absent"
    if entry.kind == "file":
        return f"a file {entry.sha256[:12]}… ({entry.size} bytes, mode {entry.mode:04o})"
    if entry.kind == "symlink":
        return f"a symlink to {entry.target!r}"
    return f"an empty directory (mode {entry.mode:04o})"


def _plan_channel(
    repo: OpenRepo,
    product: str,
    channel: str,
    changes: Mapping[str, Entry | None],
    base: Manifest,
    details: UpdateDetails,
    security: bool,
) -> NewLevel:
    """The next level of one channel, or UplevelError naming the first path that does not fit."""
    current = repo.pristine(product, channel)
    if current is None:
        raise UsageError(
            f"product {product} is not in {repo.layout.root}",
            hint=f"add its base pack first: `uplevel repo add-product {repo.layout.root} "
            f"--pack ZIP --product {product}`",
        )
    for path in sorted(changes):
        have, expect = current.manifest.get(path), base.get(path)
        if have != expect:
            raise UplevelError(
                f"the update does not apply to the {channel} channel at level {current.level}: "
                f"{path} is {describe(have)} there, but the update expects {describe(expect)}",
                hint=f"make the update from the {channel} channel's level {current.level} tree"
                + (" (a security update must not depend on non-security ones)" if security else ""),
            )
    new = current.manifest.with_changes(changes)
    own_changes = diff_manifests(current.manifest, new)
    if not own_changes:
        raise UsageError(
            f"the update changes nothing in the {channel} channel at level {current.level}"
        )
    level = current.level + 1
    return NewLevel(
        product=product,
        channel=channel,
        level=level,
        from_level=current.level,
        manifest=new,
        changes=own_changes,
        info=details.info(level, security),
    )


def add_update_from_changes(
    repo: Path,
    product: str,
    changes: Mapping[str, Entry | None],
    base: Manifest,
    contents: Callable[[str], bytes],
    info: UpdateDetails,
    security: bool,
    *,
    allow_special: bool = False,
) -> AddUpdateResult:
    """Publish an update given as changes against `base`; `contents(sha256)` returns the bytes
    of each new file content (checked against the sha256 and size before it is stored).

    Security updates get the next level of both channels, others of `full` only. Set-ID files
    and symlinks out of the home are refused unless `allow_special` (subscribers trust what is
    signed, so the check is here).
    """
    check_product(product)
    refuse_special(dict(changes), allow=allow_special, what=f"this update of {product}")
    if not changes:
        raise UsageError("the update changes nothing")
    for path in changes:
        check_relative(path, where="update changes")
    channels = ("full", "security") if security else ("full",)
    with open_repo(repo) as r:
        plans = [_plan_channel(r, product, ch, changes, base, info, security) for ch in channels]
        for path, entry in sorted(changes.items()):
            if entry is not None and entry.kind == "file":
                if r.blobs.stored(entry.sha256, entry.size) is not None:
                    continue
                data = contents(entry.sha256)
                if len(data) != entry.size:
                    raise UplevelError(
                        f"{path}: its content has {len(data)} bytes, not {entry.size}",
                        hint="the source of the update is damaged; make it again",
                    )
                r.blobs.put(entry.sha256, data, where=path)
        version = r.publish_levels(plans)
        full = plans[0].changes
        return AddUpdateResult(
            repo=str(repo),
            product=product,
            title=info.title,
            security=security,
            levels={p.channel: p.level for p in plans},
            added=sum(1 for p, e in full.items() if e is not None and p not in base),
            modified=sum(1 for p, e in full.items() if e is not None and p in base),
            removed=sum(1 for e in full.values() if e is None),
            blobs_written=r.blobs.written,
            targets_version=version,
        )


def add_update_from_bundle(
    repo: Path,
    *,
    product: str,
    bundle: Path,
    security: bool = False,
    title: str = "",
    description: str = "",
    fixes: tuple[Fix, ...] = (),
    advisories: tuple[Advisory, ...] = (),
    instructions: str = "",
    allow_special: bool = False,
) -> AddUpdateResult:
    """Publish the one update a verified bundle carries; empty fields take the bundle's values,
    and the update is a security one if the bundle says so or `security` is set."""
    with Bundle(bundle) as b:
        desc = b.descriptor
        if desc.product != product:
            raise UsageError(f"{bundle} is an update of {desc.product}, not of {product}")
        if len(desc.updates) != 1:
            raise UsageError(
                f"{bundle} carries {len(desc.updates)} updates; the repository takes one at a time",
                hint="make one bundle per update",
            )
        u = desc.updates[0]
        details = UpdateDetails(
            title=title or u.title,
            description=description or u.description,
            fixes=fixes or u.fixes,
            advisories=advisories or u.advisories,
            instructions=instructions or u.instructions,
        )
        return add_update_from_changes(
            repo,
            product,
            desc.changes,
            desc.from_manifest,
            b.read_blob,
            details,
            security or u.security,
            allow_special=allow_special,
        )


def add_update_from_trees(
    repo: Path,
    *,
    product: str,
    old_tree: Path,
    new_tree: Path,
    details: UpdateDetails,
    security: bool = False,
    allow_special: bool = False,
) -> AddUpdateResult:
    """Publish the difference between two pristine trees (OLD: before, NEW: after)."""
    for tree in (old_tree, new_tree):
        if not tree.is_dir():
            raise UsageError(f"{tree} is not a directory")
    try:
        old, new = read_tree(old_tree), read_tree(new_tree)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    changes = diff_manifests(old, new)
    sources = {e.sha256: p for p, e in new.items() if e.kind == "file"}

    def contents(sha256: str) -> bytes:
        return (new_tree / sources[sha256]).read_bytes()

    return add_update_from_changes(
        repo, product, changes, old, contents, details, security, allow_special=allow_special
    )
