"""A repository opened for publishing, and the one path by which new levels are published.

`open_repo` takes the lock, so everything read through an OpenRepo (the newest
level of a channel, its pristine tree) stays true until the new levels are
written. `publish_levels` writes in the order that keeps readers consistent:
blobs → target documents → database rows → targets → snapshot → timestamp.
"""

from __future__ import annotations

import contextlib
import copy
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from uplevel.core.manifest import Entry, Manifest
from uplevel.core.updateinfo import UpdateInfo
from uplevel.engine import fsio
from uplevel.errors import PublisherError
from uplevel.repo import db
from uplevel.repo.blobs import BlobStore
from uplevel.repo.config import RepoConfig
from uplevel.repo.documents import (
    MANIFEST_DOC,
    UPDATE_DOC,
    LevelManifest,
    LevelUpdate,
    StoredBlob,
    channel_levels,
    parse_target_path,
    target_path,
)
from uplevel.repo.keys import KeyStore
from uplevel.repo.layout import RepoLayout
from uplevel.repo.lock import repo_lock
from uplevel.repo.metadata import TufMetadata, read_published
from uplevel.repo.tufapi import Metadata, TargetFile, Targets


@dataclass(frozen=True, kw_only=True)
class NewLevel:
    """One level of one channel about to be published."""

    product: str
    channel: str
    level: int
    from_level: int | None
    manifest: Manifest
    changes: Mapping[str, Entry | None]
    info: UpdateInfo


def published_levels(targets: Targets) -> set[tuple[str, str, int]]:
    """(product, channel, level) of every manifest.json the targets metadata names."""
    out = set()
    for path in targets.targets:
        name = parse_target_path(path)
        if name and name.document == MANIFEST_DOC:
            out.add((name.product, name.channel, name.level))
    return out


def load_keys(layout: RepoLayout, config: RepoConfig, root_key_dir: Path | None) -> KeyStore:
    configured = Path(config.root_key_dir) if config.root_key_dir else None
    return KeyStore(layout, root_key_dir or configured)


def durable_makedirs(path: Path) -> None:
    """Create `path` and missing parents, each made durable in its parent directory."""
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        fsio.mkdir(d)
        fsio.fsync_dir(d.parent)


class OpenRepo:
    """A repository with its lock held. Build with `open_repo`."""

    def __init__(self, layout: RepoLayout, config: RepoConfig, keys: KeyStore) -> None:
        self.layout = layout
        self.config = config
        self.tuf = TufMetadata(layout, config, keys)
        self.blobs = BlobStore(layout)
        self.db: sqlite3.Connection = db.connect(layout.db)
        self.targets_md: Metadata[Targets] = self.tuf.targets()

    def levels(self, product: str, channel: str) -> list[int]:
        return channel_levels(self.targets_md.signed.targets, product, channel)

    def read_target(self, path: str) -> bytes:
        """A published target document's bytes, checked against the signed targets metadata."""
        return read_published(self.layout, self.targets_md.signed, path, str(self.layout.root))

    def pristine(self, product: str, channel: str) -> LevelManifest | None:
        """The newest level's manifest.json of a channel, or None if the channel has none."""
        levels = self.levels(product, channel)
        if not levels:
            return None
        path = target_path(product, channel, levels[-1], MANIFEST_DOC)
        return LevelManifest.from_bytes(self.read_target(path), where=path)

    def blob_map(self, manifest: Manifest) -> dict[str, StoredBlob]:
        out: dict[str, StoredBlob] = {}
        for path, e in manifest.items():
            if e.kind == "file" and e.sha256 not in out:
                stored = self.blobs.stored(e.sha256, e.size)
                if stored is None:
                    raise PublisherError(
                        f"the content of {path} ({e.sha256[:12]}…) is not in blobs/"
                    )
                out[e.sha256] = stored
        return out

    def _write_target(self, path: str, data: bytes) -> TargetFile:
        info = TargetFile.from_data(path, data, ["sha256"])
        disk = self.layout.target_file(path, info.hashes["sha256"])
        if not disk.exists():
            durable_makedirs(disk.parent)
            fsio.write_durable(disk, data)
        return info

    def publish_levels(self, levels: list[NewLevel], *, profile: str | None = None) -> int:
        """Publish new levels (and, with `profile`, register their product); return the new
        targets metadata version."""
        self.blobs.flush()
        now = int(time.time())
        targets = copy.deepcopy(self.targets_md.signed)
        rows: list[tuple[str, str, int, str, int, str, int]] = []
        blob_rows: list[tuple[str, str, str]] = []
        for lv in levels:
            manifest_doc = LevelManifest(
                product=lv.product,
                channel=lv.channel,
                level=lv.level,
                manifest=lv.manifest,
                blobs=self.blob_map(lv.manifest),
            )
            update_doc = LevelUpdate(
                product=lv.product,
                channel=lv.channel,
                level=lv.level,
                from_level=lv.from_level,
                update=lv.info,
                changes=dict(sorted(lv.changes.items())),
            )
            for name, data in (
                (MANIFEST_DOC, manifest_doc.to_bytes()),
                (UPDATE_DOC, update_doc.to_bytes()),
            ):
                path = target_path(lv.product, lv.channel, lv.level, name)
                targets.targets[path] = self._write_target(path, data)
            rows.append(
                (
                    lv.product,
                    lv.channel,
                    lv.level,
                    lv.manifest.digest,
                    int(lv.info.security),
                    lv.info.title,
                    now,
                )
            )
            blob_rows.extend((sha, lv.product, lv.channel) for sha in manifest_doc.blobs)
        with self.db:
            if profile is not None:
                self.db.execute(
                    "INSERT INTO products (product, profile, created_at) VALUES (?, ?, ?)",
                    (levels[0].product, profile, now),
                )
            self.db.executemany("INSERT INTO levels VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self.db.executemany("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?)", blob_rows)
        root = self.tuf.root().signed
        versions = self.tuf.publish(root=root, targets=targets)
        self.targets_md = self.tuf.targets()
        return versions["targets"]

    def close(self) -> None:
        self.db.close()


@contextlib.contextmanager
def open_repo(repo_dir: Path, *, root_key_dir: Path | None = None) -> Iterator[OpenRepo]:
    """Lock a repository for publishing; rows of levels never signed are forgotten first."""
    layout = RepoLayout(repo_dir)
    config = RepoConfig.load(layout.config)
    with repo_lock(layout):
        repo = OpenRepo(layout, config, load_keys(layout, config, root_key_dir))
        try:
            db.forget_unpublished(repo.db, published_levels(repo.targets_md.signed))
            yield repo
        finally:
            repo.close()
