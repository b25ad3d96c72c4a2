"""The two target documents of each level, and the names of TUF target paths.

    <product>/<channel>/<N>/manifest.json   the pristine tree at level N and its blobs
    <product>/<channel>/<N>/update.json     what level N changed, with its descriptor

Pure (no I/O). The publisher writes these; the client reads them after TUF has
verified their bytes, so `from_bytes` still checks every field: a signed document
from a buggy publisher must fail with the field's name, not deep inside an apply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from uplevel.core.jsonstrict import loads_strict
from uplevel.core.manifest import Entry, Manifest
from uplevel.core.paths import check_relative
from uplevel.core.updateinfo import CHANNELS, UpdateInfo, check_product
from uplevel.errors import BundleError, UplevelError

DOCUMENT_SCHEMA = 1
MANIFEST_DOC = "manifest.json"
UPDATE_DOC = "update.json"
ENCODINGS = ("raw", "zstd")
_TARGET = re.compile(r"^([^/]+)/(full|security)/(0|[1-9][0-9]*)/(manifest\.json|update\.json)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def target_path(product: str, channel: str, level: int, document: str) -> str:
    """The TUF target path of a level's document, e.g. `wso2am-4.2.0/full/3/manifest.json`."""
    return f"{product}/{channel}/{level}/{document}"


@dataclass(frozen=True)
class TargetName:
    product: str
    channel: str
    level: int
    document: str


def parse_target_path(path: str) -> TargetName | None:
    """The parts of a document's target path, or None for any other path."""
    m = _TARGET.match(path)
    if not m:
        return None
    return TargetName(m.group(1), m.group(2), int(m.group(3)), m.group(4))


def channel_levels(target_paths: Iterable[str], product: str, channel: str) -> list[int]:
    """Levels of a channel that have a manifest.json target, ascending."""
    levels = set()
    for path in target_paths:
        name = parse_target_path(path)
        if name and (name.product, name.channel, name.document) == (product, channel, MANIFEST_DOC):
            levels.add(name.level)
    return sorted(levels)


def _dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _loads(data: bytes, where: str) -> dict[str, Any]:
    try:
        doc = loads_strict(data)
    except (ValueError, BundleError) as exc:
        raise BundleError(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise BundleError(f"{where}: expected a JSON object")
    if doc.get("schema_version") != DOCUMENT_SCHEMA:
        raise BundleError(
            f"{where}.schema_version: {doc.get('schema_version')!r} is not supported "
            f"(this uplevel reads {DOCUMENT_SCHEMA})",
            hint="upgrade uplevel",
        )
    return doc


def _head(doc: dict[str, Any], where: str) -> tuple[str, str, int]:
    product, channel, level = doc.get("product"), doc.get("channel"), doc.get("level")
    if not isinstance(product, str):
        raise BundleError(f"{where}.product: missing")
    try:
        check_product(product)
    except UplevelError as exc:
        raise BundleError(f"{where}.product: {exc.message}") from exc
    if channel not in CHANNELS:
        raise BundleError(f"{where}.channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    if not isinstance(level, int) or isinstance(level, bool) or level < 0:
        raise BundleError(f"{where}.level: expected a non-negative integer")
    return product, channel, level


@dataclass(frozen=True, kw_only=True)
class StoredBlob:
    """How one file content is stored in blobs/: `size` uncompressed, `stored_size` on disk."""

    size: int
    encoding: str
    stored_size: int

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "encoding": self.encoding, "stored_size": self.stored_size}


@dataclass(frozen=True, kw_only=True)
class LevelManifest:
    """manifest.json: the pristine tree of a channel at a level, and every blob it names."""

    product: str
    channel: str
    level: int
    manifest: Manifest
    blobs: dict[str, StoredBlob]

    def to_bytes(self) -> bytes:
        return _dumps(
            {
                "schema_version": DOCUMENT_SCHEMA,
                "product": self.product,
                "channel": self.channel,
                "level": self.level,
                "manifest": json.loads(self.manifest.to_json_bytes()),
                "blobs": {h: b.to_dict() for h, b in sorted(self.blobs.items())},
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, where: str = MANIFEST_DOC) -> LevelManifest:
        doc = _loads(data, where)
        product, channel, level = _head(doc, where)
        try:
            manifest = Manifest.from_dict(doc.get("manifest"), where=f"{where}.manifest")
        except UplevelError as exc:
            raise BundleError(exc.message) from exc
        for path in manifest:
            check_relative(path, where=f"{where}.manifest")
        raw_blobs = doc.get("blobs")
        if not isinstance(raw_blobs, dict):
            raise BundleError(f"{where}.blobs: expected an object")
        blobs = {}
        for sha, b in raw_blobs.items():
            w = f"{where}.blobs[{sha!r}]"
            if not _SHA256.match(sha) or not isinstance(b, dict):
                raise BundleError(f"{w}: not a sha256 digest with an object")
            sizes = [b.get("size"), b.get("stored_size")]
            if b.get("encoding") not in ENCODINGS or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes
            ):
                raise BundleError(f"{w}: needs size, stored_size and encoding raw|zstd")
            blobs[sha] = StoredBlob(
                size=b["size"], encoding=b["encoding"], stored_size=b["stored_size"]
            )
        for path, entry in manifest.items():
            if entry.kind == "file":
                blob = blobs.get(entry.sha256)
                if blob is None or blob.size != entry.size:
                    raise BundleError(
                        f"{where}.manifest.entries[{path!r}]: its content is not in {where}.blobs"
                    )
        return cls(product=product, channel=channel, level=level, manifest=manifest, blobs=blobs)


@dataclass(frozen=True, kw_only=True)
class LevelUpdate:
    """update.json: what a level changed from the one before (level 0: the base pack)."""

    product: str
    channel: str
    level: int
    from_level: int | None
    update: UpdateInfo
    changes: dict[str, Entry | None]

    def to_bytes(self) -> bytes:
        return _dumps(
            {
                "schema_version": DOCUMENT_SCHEMA,
                "product": self.product,
                "channel": self.channel,
                "level": self.level,
                "from_level": self.from_level,
                "update": self.update.to_dict(),
                "changes": {p: (e.to_dict() if e else None) for p, e in self.changes.items()},
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, where: str = UPDATE_DOC) -> LevelUpdate:
        doc = _loads(data, where)
        product, channel, level = _head(doc, where)
        from_level = doc.get("from_level")
        if level == 0:
            if from_level is not None:
                raise BundleError(f"{where}.from_level: must be null at level 0")
        elif (
            not isinstance(from_level, int)
            or isinstance(from_level, bool)
            or not (0 <= from_level < level)
        ):
            raise BundleError(f"{where}.from_level: expected an integer below level {level}")
        update = UpdateInfo.from_dict(doc.get("update"), f"{where}.update")
        if update.level != level:
            raise BundleError(f"{where}.update.level: {update.level} is not level {level}")
        raw_changes = doc.get("changes")
        if not isinstance(raw_changes, dict):
            raise BundleError(f"{where}.changes: expected an object")
        changes: dict[str, Entry | None] = {}
        for path, e in raw_changes.items():
            check_relative(path, where=f"{where}.changes")
            try:
                changes[path] = (
                    None if e is None else Entry.from_dict(e, where=f"{where}.changes[{path!r}]")
                )
            except ValueError as exc:
                raise BundleError(str(exc)) from exc
        return cls(
            product=product,
            channel=channel,
            level=level,
            from_level=from_level,
            update=update,
            changes=changes,
        )


def read_level_manifest(
    get_target: Callable[[str], bytes], product: str, channel: str, level: int
) -> LevelManifest:
    """A level's verified manifest.json through `get_target` (TUF-verified bytes by name),
    refused if the document speaks of another product, channel or level."""
    name = target_path(product, channel, level, MANIFEST_DOC)
    doc = LevelManifest.from_bytes(get_target(name), where=name)
    _check_names(name, (doc.product, doc.channel, doc.level), (product, channel, level))
    return doc


def read_level_update(
    get_target: Callable[[str], bytes], product: str, channel: str, level: int
) -> LevelUpdate:
    """A level's verified update.json (see read_level_manifest)."""
    name = target_path(product, channel, level, UPDATE_DOC)
    doc = LevelUpdate.from_bytes(get_target(name), where=name)
    _check_names(name, (doc.product, doc.channel, doc.level), (product, channel, level))
    return doc


def _check_names(name: str, says: tuple[str, str, int], wanted: tuple[str, str, int]) -> None:
    if says != wanted:
        raise BundleError(f"{name}: the document says {says[0]}/{says[1]}/{says[2]}")
