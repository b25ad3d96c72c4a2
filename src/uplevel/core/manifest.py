"""Typed values for what a home holds: entries and pristine manifests.

Pure: no filesystem access here. A manifest is the exact description of a tree
(every file with size, mode and sha256; symlinks with their target; empty
directories), and its digest names it in state files and bundles.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from uplevel.core import jsonstrict
from uplevel.errors import CorruptStateError, HomeError

MANIFEST_SCHEMA = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")
_encode_str = json.encoder.encode_basestring_ascii

Kind = Literal["file", "symlink", "dir"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One path of a tree. `mode` is the permission bits (st_mode & 0o7777)."""

    kind: Kind
    mode: int = 0
    size: int = 0
    sha256: str = ""
    target: str = ""  # symlinks only

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "file":
            return {
                "kind": "file",
                "mode": f"{self.mode:04o}",
                "size": self.size,
                "sha256": self.sha256,
            }
        if self.kind == "symlink":
            return {"kind": "symlink", "target": self.target}
        return {"kind": "dir", "mode": f"{self.mode:04o}"}

    @classmethod
    def for_bytes(cls, data: bytes, mode: int) -> Entry:
        """The entry of a file holding `data` (a merge result, a conflict helper)."""
        return cls(kind="file", mode=mode, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "entry") -> Entry:
        try:
            kind = d["kind"]
            if kind == "file":
                sha = d["sha256"]
                if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
                    raise ValueError(f"{where}.sha256 is not a sha256 hex digest")
                return cls(kind="file", mode=int(d["mode"], 8), size=int(d["size"]), sha256=sha)
            if kind == "symlink":
                return cls(kind="symlink", target=str(d["target"]))
            if kind == "dir":
                return cls(kind="dir", mode=int(d["mode"], 8))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from exc
        raise ValueError(f"{where}.kind must be file, symlink or dir, not {kind!r}")


class Manifest(Mapping[str, Entry]):
    """An immutable path → Entry map with a stable digest. Paths are relative, '/'-separated."""

    __slots__ = ("_digest", "_entries", "_json")

    def __init__(self, entries: Mapping[str, Entry] | Iterable[tuple[str, Entry]] = ()) -> None:
        self._entries: dict[str, Entry] = dict(sorted(dict(entries).items()))
        self._digest: str | None = None
        self._json: bytes | None = None

    def __getitem__(self, path: str) -> Entry:
        return self._entries[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self._entries.values())

    def to_json_bytes(self) -> bytes:
        """The canonical form: keys sorted, no spaces (computed once)."""
        if self._json is None:
            # Byte-identical to json.dumps(doc, sort_keys=True, separators=(",", ":")) (a test
            # pins this), written out by hand because it is on the hot path of every apply.
            enc = _encode_str
            parts = []
            for p, e in self._entries.items():
                if e.kind == "file":
                    body = (
                        f'"kind":"file","mode":"{e.mode:04o}","sha256":"{e.sha256}","size":{e.size}'
                    )
                elif e.kind == "symlink":
                    body = f'"kind":"symlink","target":{enc(e.target)}'
                else:
                    body = f'"kind":"dir","mode":"{e.mode:04o}"'
                parts.append(f"{enc(p)}:{{{body}}}")
            doc = '{"entries":{' + ",".join(parts) + f'}},"schema_version":{MANIFEST_SCHEMA}}}'
            self._json = doc.encode()
        return self._json

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON form: two equal trees have equal digests."""
        if self._digest is None:
            self._digest = hashlib.sha256(self.to_json_bytes()).hexdigest()
        return self._digest

    @classmethod
    def from_canonical_bytes(cls, data: bytes, digest: str, *, where: str) -> Manifest:
        """Load a manifest uplevel itself wrote: the bytes are checked against `digest`, so
        the per-entry validation of untrusted input can be skipped (it is the hot path of
        revert and migrate on a 13,000-file home)."""
        if hashlib.sha256(data).hexdigest() != digest:
            raise CorruptStateError(where, "contents do not match its digest")
        manifest = cls.from_json_bytes(data, where=where)
        manifest._json, manifest._digest = data, digest
        return manifest

    @classmethod
    def from_json_bytes(cls, data: bytes, *, where: str = "manifest") -> Manifest:
        try:
            doc = jsonstrict.loads(data)
        except ValueError as exc:
            raise HomeError(f"{where} is not valid JSON: {exc}") from exc
        return cls.from_dict(doc, where=where)

    @classmethod
    def from_dict(cls, doc: Any, *, where: str = "manifest") -> Manifest:
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict):
            raise HomeError(f"{where}: expected an object with 'entries'")
        version = doc.get("schema_version")
        if version != MANIFEST_SCHEMA:
            raise HomeError(
                f"{where}: schema_version {version!r} is not supported (this uplevel reads "
                f"{MANIFEST_SCHEMA})",
                hint="upgrade uplevel",
            )
        try:
            return cls(
                (p, Entry.from_dict(e, where=f"{where}.entries[{p!r}]"))
                for p, e in doc["entries"].items()
            )
        except ValueError as exc:
            raise HomeError(str(exc)) from exc

    def with_changes(self, changes: Mapping[str, Entry | None]) -> Manifest:
        new = dict(self._entries)
        for path, entry in changes.items():
            if entry is None:
                new.pop(path, None)
            else:
                new[path] = entry
        return Manifest(new)
