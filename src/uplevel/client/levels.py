"""Published levels of a product, and their blobs, from a local repository or a server.

What migrate needs when a home does not hold its own pristine files: the list of a
channel's levels, each level's pristine manifest, and the bytes of a few pristine
files (the base of a three-way merge). Two sources give the same three things:

- LocalRepository: a repository directory (`--repo DIR`), read without its lock
  (publishing never rewrites a published document or blob). Each document is
  checked against the hash the signed targets metadata gives it, each blob against
  its name.
- ServerRepository: an update server (`--server URL`) through client.remote.Remote,
  so documents are TUF-verified and blobs are checked against the verified manifest.
  Trust comes from a root pinned in a home (copied, never modified), else from the
  server on first use.

Never writes into a home.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from uplevel.errors import PublisherError
from uplevel.repo.documents import LevelManifest, channel_levels, read_level_manifest


class LevelSource(Protocol):
    """A publisher's levels: what migrate reads pristine trees and files from."""

    label: str

    def levels(self, product: str, channel: str) -> list[int]: ...

    def level_manifest(self, product: str, channel: str, level: int) -> LevelManifest: ...

    def blobs(self, product: str, channel: str, level: int, shas: set[str]) -> dict[str, bytes]:
        """The verified bytes of each content named that the repository holds (sha256 →
        bytes); `level` is the one whose pristine tree names them."""
        ...

    def close(self) -> None: ...


class LocalRepository:
    def __init__(self, repo_dir: Path) -> None:
        from uplevel.repo.config import RepoConfig
        from uplevel.repo.layout import RepoLayout
        from uplevel.repo.metadata import TufMetadata
        from uplevel.repo.state import load_keys

        self.layout = RepoLayout(repo_dir)
        self.label = str(repo_dir)
        if not self.layout.config.is_file():
            raise PublisherError(
                f"{repo_dir} is not an uplevel repository (no {self.layout.config.name})"
            )
        config = RepoConfig.load(self.layout.config)
        self.targets = TufMetadata(self.layout, config, load_keys(self.layout, config, None))
        self._targets = self.targets.targets().signed
        self._signed = self._targets.targets

    def levels(self, product: str, channel: str) -> list[int]:
        return channel_levels(self._signed, product, channel)

    def _target(self, name: str) -> bytes:
        from uplevel.repo.metadata import read_published

        return read_published(self.layout, self._targets, name, self.label)

    def level_manifest(self, product: str, channel: str, level: int) -> LevelManifest:
        return read_level_manifest(self._target, product, channel, level)

    def blobs(self, product: str, channel: str, level: int, shas: set[str]) -> dict[str, bytes]:
        from uplevel.repo.blobs import BlobStore, blob_file

        store = BlobStore(self.layout)
        return {sha: store.read(sha) for sha in sorted(shas) if blob_file(self.layout.root, sha)}

    def close(self) -> None:
        pass


class ServerRepository:
    def __init__(
        self,
        url: str,
        *,
        pinned_root: Path | None,
        token_file: Path | None = None,
        ca_bundle: Path | None = None,
    ) -> None:
        from uplevel.client.credentials import resolve_token
        from uplevel.client.remote import Remote

        self.label = url.rstrip("/")
        self._scratch = Path(tempfile.mkdtemp(prefix="uplevel-migrate-"))
        self.remote = Remote(
            url=url,
            metadata_dir=self._scratch / "tuf",
            token=resolve_token(url, token_file),
            ca_bundle=ca_bundle,
        )
        try:
            if pinned_root is not None and (pinned_root / "root.json").is_file():
                shutil.copytree(pinned_root, self.remote.metadata_dir, symlinks=True)
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

    def blobs(self, product: str, channel: str, level: int, shas: set[str]) -> dict[str, bytes]:
        if level not in self.levels(product, channel):
            return {}
        stored = self.level_manifest(product, channel, level).blobs
        # A few merge bases: straight into memory, each checked against the verified manifest.
        return {
            sha: self.remote.blob_bytes(sha, stored[sha]) for sha in sorted(shas) if sha in stored
        }

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)
