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
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO

import zstandard

from uplevel.core.jsonstrict import loads_strict
from uplevel.core.jump import BlobInfo, BundleDescriptor
from uplevel.engine import fsio
from uplevel.errors import BundleError

DESCRIPTOR_NAME = "uplevel-bundle.json"
SIGNED_DESCRIPTOR = "uplevel-signed-bundle.json"
"""The member that marks a signed bundle (uplevel export; client/offline.py reads those)."""
BLOB_RE = re.compile(r"^blobs/([0-9a-f]{64})$")
MAX_DESCRIPTOR = 256 << 20


def is_signed_bundle(path: Path) -> bool:
    """True when `path` is a zip with a signed-bundle descriptor. Anything else (including an
    unreadable file) is left to the unsigned reader, which names the problem. Cheap: it reads
    only the zip's directory, so `apply` of an unsigned bundle never loads the TUF code."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(i.filename == SIGNED_DESCRIPTOR for i in zf.infolist())
    except (OSError, zipfile.BadZipFile):
        return False


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


def _compress(data: bytes) -> tuple[bytes, str]:
    packed = zstandard.ZstdCompressor(level=3).compress(data)
    if len(packed) < len(data) * 0.95:
        return packed, "zstd"
    return data, "raw"


def write_bundle(
    output: Path,
    contents: Mapping[str, Path],
    describe: Callable[[dict[str, BlobInfo]], BundleDescriptor],
) -> BundleDescriptor:
    """Write the contents (sha256 → file holding it, compressed where that pays) and the
    descriptor `describe` makes from them; the bundle appears at `output` only whole
    (fsio.durable_output). One content is in memory at a time."""
    blobs: dict[str, BlobInfo] = {}
    with (
        fsio.durable_output(output) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf,
    ):
        for sha, src in sorted(contents.items()):
            data = src.read_bytes()
            stored, encoding = _compress(data)
            blobs[sha] = BlobInfo(size=len(data), encoding=encoding)
            zf.writestr(zipfile.ZipInfo(f"blobs/{sha}", (1980, 1, 1, 0, 0, 0)), stored)
        desc = describe(blobs)
        info = zipfile.ZipInfo(DESCRIPTOR_NAME, (1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, json.dumps(desc.to_dict(), indent=1, sort_keys=True))
    return desc
