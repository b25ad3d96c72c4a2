"""Content-addressed file contents: `blobs/<aa>/<sha256>` raw, or `<sha256>.zst` when zstd
level 3 saves at least 5 %.

Each content is written once and shared by every level and product that has it.
Contents are checked against their sha256 and size before they are stored, so the
store can never hold bytes under a wrong name. Directory fsyncs are batched:
call `flush()` before publishing metadata that names the new blobs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import zstandard

from uplevel.engine import fsio
from uplevel.errors import BundleError
from uplevel.repo.documents import StoredBlob
from uplevel.repo.layout import RepoLayout

ZSTD_LEVEL = 3
MIN_SAVING = 0.05
BLOB_MODE = 0o444


def compress(data: bytes) -> tuple[bytes, str]:
    """The bytes to store and their encoding: zstd only when it saves at least 5 %."""
    packed = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)
    if len(packed) <= len(data) * (1 - MIN_SAVING):
        return packed, "zstd"
    return data, "raw"


def decompress(data: bytes, size: int) -> bytes:
    """Decompress a stored blob of `size` bytes. A frame that declares more is refused before
    any allocation: zstandard ignores `max_output_size` when the frame states its own size,
    so a hostile frame could otherwise make us allocate whatever it claims."""
    declared = zstandard.frame_content_size(data)
    if declared > size:
        raise zstandard.ZstdError(f"the frame declares {declared} bytes, more than {size}")
    return zstandard.ZstdDecompressor().decompress(data, max_output_size=size + 1)


def blob_file(repo_dir: Path, sha256: str) -> tuple[Path, str] | None:
    """For the server: where a blob's stored bytes are and their encoding, or None."""
    layout = RepoLayout(repo_dir)
    for compressed, encoding in ((False, "raw"), (True, "zstd")):
        path = layout.blob(sha256, compressed=compressed)
        if path.is_file():
            return path, encoding
    return None


class BlobStore:
    def __init__(self, layout: RepoLayout) -> None:
        self.layout = layout
        self._dirty: set[Path] = set()
        self.written = 0
        """How many new contents this store has written (the rest were there already)."""

    def stored(self, sha256: str, size: int) -> StoredBlob | None:
        """How a content is stored, or None if it is not (size: the uncompressed size)."""
        found = blob_file(self.layout.root, sha256)
        if found is None:
            return None
        path, encoding = found
        return StoredBlob(size=size, encoding=encoding, stored_size=path.stat().st_size)

    def put(self, sha256: str, data: bytes, *, where: str) -> StoredBlob:
        """Store `data` under its sha256 unless it is there already; `where` names it in errors."""
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BundleError(
                f"{where}: its content does not match sha256 {sha256[:12]}…",
                hint="the source of the update is damaged; make it again",
            )
        existing = self.stored(sha256, len(data))
        if existing is not None:
            return existing
        stored, encoding = compress(data)
        final = self.layout.blob(sha256, compressed=encoding == "zstd")
        directory = final.parent
        if not directory.is_dir():
            fsio.makedirs(directory)
            self._dirty.add(directory.parent)
        tmp = directory / f".{final.name}.tmp"  # one publisher at a time: the repository lock
        if os.path.lexists(tmp):
            fsio.unlink(tmp)  # left by a publisher that was killed
        fsio.write_new(tmp, [stored], mode=BLOB_MODE)
        fsio.replace(tmp, final)
        self._dirty.add(directory)
        self.written += 1
        return StoredBlob(size=len(data), encoding=encoding, stored_size=len(stored))

    def flush(self) -> None:
        """Make the names of every blob written so far durable."""
        for directory in sorted(self._dirty, key=lambda p: len(p.parts), reverse=True):
            fsio.fsync_dir(directory)
        self._dirty.clear()

    def read(self, sha256: str) -> bytes:
        """A blob's content (decompressed), checked against its sha256."""
        found = blob_file(self.layout.root, sha256)
        if found is None:
            raise BundleError(f"blob {sha256[:12]}… is missing from {self.layout.blobs}")
        path, encoding = found
        data = path.read_bytes()
        if encoding == "zstd":
            data = zstandard.ZstdDecompressor().decompress(data)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BundleError(f"{path}: damaged (its content does not match its name)")
        return data
