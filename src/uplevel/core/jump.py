"""The jump: one product's move from level A to level B, as a value.

Pure. A `BundleDescriptor` says which paths change (`changes`), the pristine tree it starts
from (`from_manifest`), the digest of the tree it ends at, the updates it carries and the
contents it needs (`blobs`). Every update uses one, whatever brought it: a bundle file
(formats/bundle.py), a signed bundle or the update server (client/). It validates itself
from a dict so that no reader trusts a path or a digest it did not check.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from uplevel.core.manifest import Entry, Manifest
from uplevel.core.paths import check_relative
from uplevel.core.updateinfo import CHANNELS, UpdateInfo, check_product
from uplevel.errors import BundleError, UplevelError, UsageError

BUNDLE_FORMAT = "uplevel-bundle"
BUNDLE_SCHEMA = 1


ALLOW_SPECIAL_HINT = (
    "a product home needs neither set-user/group-ID files nor symlinks out of the home; "
    "if this update really must install them, publish or apply it with --allow-special-files"
)


def special_changes(changes: dict[str, Entry | None]) -> list[str]:
    """What a change set installs that product homes never need: files with the set-user-ID or
    set-group-ID bit, and symlinks whose target is absolute or climbs out of the home."""
    found: list[str] = []
    for path, entry in sorted(changes.items()):
        if entry is None:
            continue
        if entry.kind == "file" and entry.mode & 0o6000:
            found.append(f"{path}: set-user-ID or set-group-ID file (mode {entry.mode:04o})")
        elif entry.kind == "symlink" and _leaves_home(path, entry.target):
            found.append(f"{path}: symlink to {entry.target!r}, outside the home")
    return found


def _leaves_home(path: str, target: str) -> bool:
    if target.startswith("/"):
        return True
    depth = path.count("/")  # directories above the link, inside the home
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def refuse_special(changes: dict[str, Entry | None], *, allow: bool, what: str) -> None:
    """BundleError naming every special entry, unless the operator or publisher allowed them."""
    found = special_changes(changes)
    if found and not allow:
        raise BundleError(
            f"{what} installs {len(found)} special file(s): " + "; ".join(found[:5]),
            hint=ALLOW_SPECIAL_HINT,
        )


@dataclass(frozen=True, kw_only=True)
class BlobInfo:
    size: int
    encoding: str  # "raw" | "zstd"


@dataclass(frozen=True, kw_only=True)
class BundleDescriptor:
    product: str
    channel: str
    from_level: int
    to_level: int
    updates: tuple[UpdateInfo, ...]
    from_manifest: Manifest
    to_manifest_digest: str
    changes: dict[str, Entry | None]
    blobs: dict[str, BlobInfo]

    @property
    def security(self) -> bool:
        return all(u.security for u in self.updates)

    def to_manifest(self) -> Manifest:
        """Pristine at to_level: from_manifest with the changes applied (computed once)."""
        cached: Manifest | None = self.__dict__.get("_to_manifest")
        if cached is None:
            cached = self.from_manifest.with_changes(self.changes)
            object.__setattr__(self, "_to_manifest", cached)
        return cached

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "schema_version": BUNDLE_SCHEMA,
            "product": self.product,
            "channel": self.channel,
            "from_level": self.from_level,
            "to_level": self.to_level,
            "updates": [u.to_dict() for u in self.updates],
            "from_manifest": json.loads(self.from_manifest.to_json_bytes()),
            "to_manifest_digest": self.to_manifest_digest,
            "changes": {p: (e.to_dict() if e else None) for p, e in sorted(self.changes.items())},
            "blobs": {
                h: {"size": b.size, "encoding": b.encoding} for h, b in sorted(self.blobs.items())
            },
        }

    @classmethod
    def from_dict(cls, d: Any) -> BundleDescriptor:
        if not isinstance(d, dict):
            raise BundleError("descriptor: expected a JSON object")
        if d.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"descriptor.format: {d.get('format')!r} is not {BUNDLE_FORMAT!r}")
        if d.get("schema_version") != BUNDLE_SCHEMA:
            raise BundleError(
                f"descriptor.schema_version: {d.get('schema_version')!r} is not supported "
                f"(this uplevel reads {BUNDLE_SCHEMA})",
                hint="upgrade uplevel",
            )
        product = d.get("product")
        if not isinstance(product, str):
            raise BundleError("descriptor.product: missing")
        try:
            check_product(product)
        except UsageError as exc:
            raise BundleError(f"descriptor.product: {exc.message}") from exc
        channel = d.get("channel")
        if channel not in CHANNELS:
            raise BundleError(
                f"descriptor.channel: {channel!r} is not one of {', '.join(CHANNELS)}"
            )
        levels = []
        for key in ("from_level", "to_level"):
            v = d.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise BundleError(f"descriptor.{key}: expected a non-negative integer, got {v!r}")
            levels.append(v)
        if levels[1] <= levels[0]:
            raise BundleError("descriptor.to_level must be greater than from_level")
        if not isinstance(d.get("updates"), list) or not d["updates"]:
            raise BundleError("descriptor.updates: expected a non-empty list")
        updates = tuple(
            UpdateInfo.from_dict(u, f"descriptor.updates[{i}]") for i, u in enumerate(d["updates"])
        )
        try:
            from_manifest = Manifest.from_dict(
                d.get("from_manifest"), where="descriptor.from_manifest"
            )
        except UplevelError as exc:
            raise BundleError(exc.message) from exc
        for p in from_manifest:
            check_relative(p, where="descriptor.from_manifest")
        if not isinstance(d.get("changes"), dict):
            raise BundleError("descriptor.changes: expected an object")
        changes: dict[str, Entry | None] = {}
        for p, e in d["changes"].items():
            check_relative(p, where="descriptor.changes")
            try:
                changes[p] = (
                    None if e is None else Entry.from_dict(e, where=f"descriptor.changes[{p!r}]")
                )
            except ValueError as exc:
                raise BundleError(str(exc)) from exc
        if not isinstance(d.get("blobs"), dict):
            raise BundleError("descriptor.blobs: expected an object")
        blobs = {}
        for h, b in d["blobs"].items():
            w = f"descriptor.blobs[{h!r}]"
            if not re.fullmatch(r"[0-9a-f]{64}", h) or not isinstance(b, dict):
                raise BundleError(f"{w}: not a sha256 digest with an object")
            if b.get("encoding") not in ("raw", "zstd") or not isinstance(b.get("size"), int):
                raise BundleError(f"{w}: needs size and encoding raw|zstd")
            blobs[h] = BlobInfo(size=b["size"], encoding=b["encoding"])
        for p, e in changes.items():
            if e is not None and e.kind == "file" and e.sha256 not in blobs:
                raise BundleError(
                    f"descriptor.changes[{p!r}]: its content {e.sha256[:12]}… is not in the bundle"
                )
        digest = d.get("to_manifest_digest")
        desc = cls(
            product=product,
            channel=channel,
            from_level=levels[0],
            to_level=levels[1],
            updates=updates,
            from_manifest=from_manifest,
            to_manifest_digest=str(digest),
            changes=changes,
            blobs=blobs,
        )
        if desc.to_manifest().digest != digest:
            raise BundleError(
                "descriptor.to_manifest_digest does not match from_manifest + changes: "
                "the bundle is inconsistent or was tampered with"
            )
        return desc


def diff_manifests(old: Manifest, new: Manifest) -> dict[str, Entry | None]:
    """Paths whose entry differs: the new entry, or None where the path was removed."""
    changes: dict[str, Entry | None] = {p: None for p in old if p not in new}
    for p, e in new.items():
        if old.get(p) != e:
            changes[p] = e
    return changes
