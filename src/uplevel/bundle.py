"""The bundle file: one or more updates of a product, from level A to level B, for offline apply.

Format (docs/bundle-format.md): a zip holding `uplevel-bundle.json` (the
descriptor) and `blobs/<sha256>` members, each the raw or zstd-compressed bytes
of one file content. Nothing in a member name is ever used as a path in a home:
paths come only from the descriptor, and every one is validated. Readers verify
each blob's sha256 and size while streaming it out, so tampered content is
refused before it could reach the home.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import zstandard

from uplevel.core.manifest import Entry, Manifest
from uplevel.core.paths import check_relative
from uplevel.core.updateinfo import CHANNELS, UpdateInfo, check_channel, check_product
from uplevel.engine import fsio
from uplevel.engine.scan import read_tree
from uplevel.errors import BundleError, UplevelError, UsageError

BUNDLE_FORMAT = "uplevel-bundle"
BUNDLE_SCHEMA = 1
DESCRIPTOR_NAME = "uplevel-bundle.json"
SIGNED_DESCRIPTOR = "uplevel-signed-bundle.json"
"""The member that marks a signed bundle (uplevel export; client/offline.py reads those)."""
BLOB_RE = re.compile(r"^blobs/([0-9a-f]{64})$")
MAX_DESCRIPTOR = 256 << 20
BASE_BLOB_LIMIT = 16 << 20
"""Old-level contents of modified text files up to this size ride along, so merges work offline."""


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


def is_signed_bundle(path: Path) -> bool:
    """True when `path` is a zip with a signed-bundle descriptor. Anything else (including an
    unreadable file) is left to the unsigned reader, which names the problem. Cheap: it reads
    only the zip's directory, so `apply` of an unsigned bundle never loads the TUF code."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(i.filename == SIGNED_DESCRIPTOR for i in zf.infolist())
    except (OSError, zipfile.BadZipFile):
        return False


def loads_strict(data: bytes | str) -> Any:
    """json.loads that refuses an object repeating a key (ValueError). Plain json keeps the
    last one silently, so two readers of one signed file could see different values."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise ValueError(f"key {k!r} appears twice")
            out[k] = v
        return out

    return json.loads(data, object_pairs_hook=pairs)


class Bundle:
    """An opened bundle file. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise BundleError(f"{path}: not a readable bundle ({exc})") from exc
        try:
            self.descriptor = self._read_descriptor()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def _read_descriptor(self) -> BundleDescriptor:
        names = [i.filename for i in self._zip.infolist()]
        seen: set[str] = set()
        for n in names:
            if n in seen:
                raise BundleError(f"{self.path}: member {n!r} appears twice")
            seen.add(n)
            if n != DESCRIPTOR_NAME and not BLOB_RE.match(n):
                raise BundleError(f"{self.path}: unexpected member {n!r}")
        if DESCRIPTOR_NAME not in seen:
            raise BundleError(f"{self.path}: no {DESCRIPTOR_NAME}; is this an uplevel bundle?")
        info = self._zip.getinfo(DESCRIPTOR_NAME)
        if info.file_size > MAX_DESCRIPTOR:
            raise BundleError(f"{self.path}: descriptor is implausibly large")
        try:
            doc = loads_strict(self._zip.read(DESCRIPTOR_NAME))
        except ValueError as exc:
            raise BundleError(f"{self.path}: descriptor is not valid JSON: {exc}") from exc
        desc = BundleDescriptor.from_dict(doc)
        for h in desc.blobs:
            if f"blobs/{h}" not in seen:
                raise BundleError(f"{self.path}: blob {h[:12]}… is listed but missing")
        return desc

    def has_blob(self, sha256: str) -> bool:
        return sha256 in self.descriptor.blobs

    def blob_chunks(self, sha256: str) -> Iterator[bytes]:
        """Stream a blob's bytes, verifying size and sha256 at the end (BundleError if wrong)."""
        import hashlib

        info = self.descriptor.blobs[sha256]
        h = hashlib.sha256()
        n = 0
        with self._zip.open(f"blobs/{sha256}") as raw:
            stream: IO[bytes] = raw
            if info.encoding == "zstd":
                stream = zstandard.ZstdDecompressor().stream_reader(raw)
            try:
                while chunk := stream.read(fsio.CHUNK):
                    n += len(chunk)
                    if n > info.size:
                        break
                    h.update(chunk)
                    yield chunk
            except (zstandard.ZstdError, zipfile.BadZipFile, EOFError) as exc:
                raise BundleError(f"blob {sha256[:12]}…: corrupt ({exc})") from exc
        if n != info.size or h.hexdigest() != sha256:
            raise BundleError(
                f"blob {sha256[:12]}… does not match its hash: the bundle was damaged or tampered with",
                hint="get the bundle again from its publisher",
            )

    def read_blob(self, sha256: str) -> bytes:
        return b"".join(self.blob_chunks(sha256))


# --- creating bundles (publisher side) ------------------------------------------------


def diff_manifests(old: Manifest, new: Manifest) -> dict[str, Entry | None]:
    """Paths whose entry differs: the new entry, or None where the path was removed."""
    changes: dict[str, Entry | None] = {p: None for p in old if p not in new}
    for p, e in new.items():
        if old.get(p) != e:
            changes[p] = e
    return changes


def _compress(data: bytes) -> tuple[bytes, str]:
    packed = zstandard.ZstdCompressor(level=3).compress(data)
    if len(packed) < len(data) * 0.95:
        return packed, "zstd"
    return data, "raw"


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
    progress: Callable[[int], None] | None = None,
) -> BundleDescriptor:
    """Diff two trees and write a bundle holding the changed contents (and merge bases)."""
    from uplevel.merge.text import is_text

    check_product(product)
    check_channel(channel)
    if to_level <= from_level:
        raise UsageError("--to-level must be greater than --from-level")
    for tree in (old_tree, new_tree):
        if not tree.is_dir():
            raise UsageError(f"{tree} is not a directory")
    old, new = read_tree(old_tree, progress), read_tree(new_tree, progress)
    changes = diff_manifests(old, new)
    needed: dict[str, Path] = {}
    for p, e in changes.items():
        if e is not None and e.kind == "file":
            needed.setdefault(e.sha256, new_tree / p)
            before = old.get(p)
            if before is not None and before.kind == "file" and before.size <= BASE_BLOB_LIMIT:
                head = (old_tree / p).open("rb").read(8192)
                if is_text(head):
                    needed.setdefault(before.sha256, old_tree / p)
    blobs: dict[str, BlobInfo] = {}
    tmp = output.with_name(output.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for sha, src in sorted(needed.items()):
            data = src.read_bytes()
            stored, encoding = _compress(data)
            blobs[sha] = BlobInfo(size=len(data), encoding=encoding)
            zf.writestr(zipfile.ZipInfo(f"blobs/{sha}", (1980, 1, 1, 0, 0, 0)), stored)
        desc = BundleDescriptor(
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
        info = zipfile.ZipInfo(DESCRIPTOR_NAME, (1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, json.dumps(desc.to_dict(), indent=1, sort_keys=True))
    with open(tmp, "rb+") as f:
        import os

        os.fsync(f.fileno())
    tmp.replace(output)
    return desc
