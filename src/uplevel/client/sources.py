"""Published levels of a product, and their contents, from a repository directory or a server.

What `pack` (whole levels) and `migrate` (pristine trees, a few merge bases) read. Two
sources give the same things with the same verification, so a repository directory is
trusted exactly as far as the server that would serve it:

- RepositoryDirectory (`--repo DIR`), read without its lock (publishing never rewrites a
  published document or blob): the targets metadata must be signed by the repository's
  root, each level document must match the hash the targets metadata gives it, and each
  blob its name.
- ServerLevels (`--server URL`), through client.remote.Remote: python-tuf verifies every
  document, and blobs are checked against the verified manifest. Trust comes from a root
  file, else a root pinned in a home (copied, never modified), else the server on first use.

Never writes into a home.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from uplevel.engine import fsio
from uplevel.errors import BundleError, PublisherError, UsageError
from uplevel.formats.packwriter import IN_MEMORY_MAX
from uplevel.repo.documents import (
    LevelManifest,
    LevelUpdate,
    StoredBlob,
    channel_levels,
    read_level_manifest,
    read_level_update,
)

Chunks = Callable[[str, int], Iterable[bytes]]
"""(sha256, size) → the content's bytes, in chunks."""


class LevelSource(Protocol):
    """A publisher's levels, verified: a repository directory or an update server."""

    origin: str  # the directory or URL, for messages
    server: str | None  # the URL when it is a server
    workers: int  # contents read at once
    stream_large: bool  # contents over IN_MEMORY_MAX are read twice rather than held

    def levels(self, product: str, channel: str) -> list[int]: ...

    def level_manifest(self, product: str, channel: str, level: int) -> LevelManifest: ...

    def level_update(self, product: str, channel: str, level: int) -> LevelUpdate: ...

    def trusted_root(self) -> tuple[int, bytes] | None:
        """(version, bytes) of the root the metadata was verified against."""
        ...

    def blobs(self, product: str, channel: str, level: int, shas: set[str]) -> dict[str, bytes]:
        """The verified bytes of each content named that the source holds (sha256 → bytes);
        `level` is the one whose pristine tree names them."""
        ...

    def content(self, blobs: dict[str, StoredBlob]) -> Chunks: ...

    def close(self) -> None: ...


class RepositoryDirectory:
    workers = 2
    stream_large = True

    def __init__(self, repo_dir: Path) -> None:
        from uplevel.repo.config import RepoConfig
        from uplevel.repo.layout import RepoLayout
        from uplevel.repo.metadata import TufMetadata
        from uplevel.repo.state import load_keys

        if not repo_dir.is_dir():
            raise UsageError(f"--repo {repo_dir}: no such directory")
        self.layout = RepoLayout(repo_dir)
        self.origin = str(repo_dir.resolve())
        self.server: str | None = None
        if not self.layout.config.is_file():
            raise PublisherError(
                f"{repo_dir} is not an uplevel repository (no {self.layout.config.name})"
            )
        config = RepoConfig.load(self.layout.config)
        tuf = TufMetadata(self.layout, config, load_keys(self.layout, config, None))
        root = tuf.root()
        self.targets = tuf.targets()
        try:
            root.signed.verify_delegate(
                "targets", self.targets.signed_bytes, self.targets.signatures
            )
        except Exception as exc:
            raise PublisherError(
                f"{repo_dir}: the targets metadata is not signed by the repository's root ({exc})",
                hint="the repository is damaged; restore metadata/ from a backup",
            ) from exc
        self._root = (root.signed.version, self.layout.versioned("root", root.signed.version))

    def levels(self, product: str, channel: str) -> list[int]:
        return channel_levels(self.targets.signed.targets, product, channel)

    def _get(self, name: str) -> bytes:
        from uplevel.repo.metadata import read_published

        return read_published(self.layout, self.targets.signed, name, self.origin)

    def level_manifest(self, product: str, channel: str, level: int) -> LevelManifest:
        return read_level_manifest(self._get, product, channel, level)

    def level_update(self, product: str, channel: str, level: int) -> LevelUpdate:
        return read_level_update(self._get, product, channel, level)

    def trusted_root(self) -> tuple[int, bytes] | None:
        from uplevel.client.tufclient import validate_root

        version, path = self._root
        data = path.read_bytes()
        validate_root(data)
        return version, data

    def blobs(self, product: str, channel: str, level: int, shas: set[str]) -> dict[str, bytes]:
        from uplevel.repo.blobs import BlobStore, blob_file

        store = BlobStore(self.layout)
        return {sha: store.read(sha) for sha in sorted(shas) if blob_file(self.layout.root, sha)}

    def content(self, blobs: dict[str, StoredBlob]) -> Chunks:
        from uplevel.repo.blobs import blob_file, decompress

        def chunks(sha256: str, size: int) -> Iterator[bytes]:
            import zstandard

            found = blob_file(self.layout.root, sha256)
            if found is None:
                raise BundleError(
                    f"blob {sha256[:12]}… is missing from {self.layout.blobs}",
                    hint="the repository is damaged; no pack was written",
                )
            path, encoding = found
            if size <= IN_MEMORY_MAX:  # one read, one buffer: no joining of chunks
                stored = path.read_bytes()
                if encoding == "raw":
                    yield stored
                    return
                try:
                    yield decompress(stored, size)
                except zstandard.ZstdError as exc:
                    raise BundleError(f"{path}: damaged (corrupt zstd data: {exc})") from exc
                return
            with open(path, "rb") as f:
                reader = f if encoding == "raw" else zstandard.ZstdDecompressor().stream_reader(f)
                left = size + 1  # one byte more than expected is enough to refuse it
                while left > 0 and (chunk := reader.read(min(fsio.CHUNK, left))):
                    left -= len(chunk)
                    yield chunk

        return chunks

    def close(self) -> None:
        pass


class ServerLevels:
    workers = 4  # downloads overlap
    stream_large = False  # a content is downloaded once, into memory (as `uplevel update` does)

    def __init__(
        self,
        url: str,
        *,
        token_file: Path | None = None,
        ca_bundle: Path | None = None,
        root_file: Path | None = None,
        pinned: Path | None = None,
    ) -> None:
        """`root_file` (the operator's), else `pinned` (a home's TUF directory, copied), else
        trust on first use; the metadata lives in a scratch directory until close()."""
        from uplevel.client.remote import home_remote

        self._scratch = Path(tempfile.mkdtemp(prefix="uplevel-levels-"))
        self.remote = home_remote(self._scratch / "tuf", url, token_file, ca_bundle)
        self.origin = self.remote.url
        self.server: str | None = self.remote.url
        try:
            if root_file is not None:
                self.remote.refresh(root_file.read_bytes())
            elif pinned is not None and (pinned / "root.json").is_file():
                shutil.copytree(pinned, self.remote.metadata_dir, symlinks=True)
                self.remote.refresh()
            else:
                self.remote.refresh(self.remote.fetch_initial_root())
        except BaseException:
            self.close()
            raise

    def levels(self, product: str, channel: str) -> list[int]:
        return self.remote.levels(product, channel)

    def level_manifest(self, product: str, channel: str, level: int) -> LevelManifest:
        return self.remote.level_manifest(product, channel, level)

    def level_update(self, product: str, channel: str, level: int) -> LevelUpdate:
        return self.remote.level_update(product, channel, level)

    def trusted_root(self) -> tuple[int, bytes] | None:
        from tuf.api.metadata import Metadata, Root  # type: ignore[attr-defined]

        data = (self.remote.metadata_dir / "root.json").read_bytes()
        return Metadata[Root].from_bytes(data).signed.version, data

    def blobs(self, product: str, channel: str, level: int, shas: set[str]) -> dict[str, bytes]:
        if level not in self.levels(product, channel):
            return {}
        stored = self.level_manifest(product, channel, level).blobs
        # A few merge bases: straight into memory, each checked against the verified manifest.
        return {
            sha: self.remote.blob_bytes(sha, stored[sha]) for sha in sorted(shas) if sha in stored
        }

    def content(self, blobs: dict[str, StoredBlob]) -> Chunks:
        remote = self.remote

        def chunks(sha256: str, size: int) -> Iterator[bytes]:
            yield remote.blob_bytes(sha256, blobs[sha256])

        return chunks

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)
