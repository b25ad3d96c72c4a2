"""The TUF metadata of a repository: read the newest versions, sign them, write them in order.

What is published is what `timestamp.json` names: timestamp → N.snapshot.json →
M.targets.json. New versions are written targets → snapshot → timestamp, each
durable before the next, so a publisher killed halfway leaves only files that
nothing names yet (the next publish overwrites them) and readers never see a
timestamp naming a snapshot that is not there. Root versions form the chain
`1.root.json, 2.root.json, …`; `root.json` is a copy of the newest.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from uplevel.engine import fsio
from uplevel.errors import PublisherError, UplevelError
from uplevel.repo.config import CHAIN_ROLES, RepoConfig
from uplevel.repo.keys import KeyStore
from uplevel.repo.layout import RepoLayout
from uplevel.repo.lock import repo_lock
from uplevel.repo.tufapi import (
    DeserializationError,
    LengthOrHashMismatchError,
    Metadata,
    MetaFile,
    Root,
    Signer,
    Snapshot,
    Targets,
    Timestamp,
    UnsignedMetadataError,
)

_ROOT_FILE = re.compile(r"^([1-9][0-9]*)\.root\.json$")
R = TypeVar("R", Root, Timestamp, Snapshot, Targets)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def sign(md: Metadata[Any], signers: Sequence[Signer]) -> None:
    """Replace md's signatures with one from each signer."""
    md.signatures.clear()
    for signer in signers:
        md.sign(signer, append=True)


def serialize(md: Metadata[Any]) -> bytes:
    return md.to_bytes()


def _load(path: Path, cls: type[R]) -> Metadata[R]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PublisherError(
            f"{path} is missing: the repository is damaged",
            hint="restore the metadata directory from a backup",
        ) from None
    try:
        md = Metadata[Any].from_bytes(data)
    except DeserializationError as exc:
        raise PublisherError(f"{path}: not valid TUF metadata ({exc})") from exc
    if not isinstance(md.signed, cls):
        raise PublisherError(f"{path}: holds {md.signed.type} metadata, not {cls.type}")
    return cast(Metadata[R], md)


class TufMetadata:
    """Read and write the four top-level roles of one repository (the caller holds the lock)."""

    def __init__(self, layout: RepoLayout, config: RepoConfig, keys: KeyStore) -> None:
        self.layout = layout
        self.config = config
        self.keys = keys

    # --- reading ----------------------------------------------------------------------

    def root_version(self) -> int:
        versions = [
            int(m.group(1))
            for p in self.layout.metadata.iterdir()
            if (m := _ROOT_FILE.match(p.name))
        ]
        if not versions:
            raise PublisherError(
                f"{self.layout.metadata}: no root metadata; the repository is damaged"
            )
        return max(versions)

    def root(self) -> Metadata[Root]:
        return _load(self.layout.versioned("root", self.root_version()), Root)

    def timestamp(self) -> Metadata[Timestamp]:
        return _load(self.layout.timestamp_json, Timestamp)

    def snapshot(self) -> Metadata[Snapshot]:
        version = self.timestamp().signed.snapshot_meta.version
        return _load(self.layout.versioned("snapshot", version), Snapshot)

    def targets(self) -> Metadata[Targets]:
        version = self.snapshot().signed.meta["targets.json"].version
        return _load(self.layout.versioned("targets", version), Targets)

    # --- writing ----------------------------------------------------------------------

    def write_root(self, md: Metadata[Root]) -> None:
        """Write root version N as N.root.json, then refresh the root.json copy."""
        data = serialize(md)
        fsio.write_durable(self.layout.versioned("root", md.signed.version), data)
        fsio.write_durable(self.layout.root_json, data)

    def _expires(self, role: str) -> datetime:
        return now_utc() + self.config.expiry(role)

    def _sign_and_write(self, body: R, root: Root) -> MetaFile:
        """Give `body` a fresh expiry, sign it with its role's keys, write it durably."""
        role = body.type
        body.expires = self._expires(role)
        md = Metadata(body)
        sign(md, self.keys.signers(role, root))
        data = serialize(md)
        path = (
            self.layout.timestamp_json
            if role == "timestamp"
            else self.layout.versioned(role, body.version)
        )
        fsio.write_durable(path, data)
        return MetaFile.from_data(body.version, data, ["sha256"])

    def publish(
        self,
        *,
        root: Root,
        targets: Targets | None = None,
        start: str = "targets",
        initial: bool = False,
    ) -> dict[str, int]:
        """Write new versions of `start` and every role after it; return their versions.

        `targets` replaces the targets content (its version and expiry are set here);
        without it the current targets are re-signed. `initial` writes version 1 of
        each role for a new repository.
        """
        roles = CHAIN_ROLES[CHAIN_ROLES.index(start) :]
        versions: dict[str, int] = {}
        written: MetaFile | None = None  # the role just written, named by the next one
        if "targets" in roles:
            old_t = None if initial else self.targets().signed
            body = targets or (copy.deepcopy(old_t) if old_t else Targets())
            body.version = old_t.version + 1 if old_t else 1
            written = self._sign_and_write(body, root)
            versions["targets"] = body.version
        if "snapshot" in roles:
            old_s = None if initial else self.snapshot().signed
            snap = copy.deepcopy(old_s) if old_s else Snapshot()
            snap.version = old_s.version + 1 if old_s else 1
            if written is not None:
                snap.meta["targets.json"] = written
            written = self._sign_and_write(snap, root)
            versions["snapshot"] = snap.version
        old_ts = None if initial else self.timestamp().signed
        ts = copy.deepcopy(old_ts) if old_ts else Timestamp()
        ts.version = old_ts.version + 1 if old_ts else 1
        if written is not None:
            ts.snapshot_meta = written
        self._sign_and_write(ts, root)
        versions["timestamp"] = ts.version
        return versions


def check_root_signatures(trusted: Root, new: Metadata[Root]) -> None:
    """A new root must satisfy the old root's threshold and its own (what clients check)."""
    try:
        trusted.verify_delegate("root", new.signed_bytes, new.signatures)
        new.signed.verify_delegate("root", new.signed_bytes, new.signatures)
    except UnsignedMetadataError as exc:
        raise UplevelError(
            f"new root version {new.signed.version} is not signed well enough: {exc}",
            hint="check that the root key files match the root metadata",
        ) from exc


def refresh_timestamp(repo_dir: Path, *, if_less_than_half_left: bool) -> int | None:
    """Re-sign timestamp.json (version + 1, a full new lifetime) with the online timestamp key.

    For the server: with `if_less_than_half_left`, nothing happens (None) while more
    than half of the current timestamp's lifetime is left. Returns the new version.
    Raises BusyError while a publisher holds the repository lock (it is about to
    write a fresh timestamp anyway).
    """
    layout = RepoLayout(repo_dir)
    config = RepoConfig.load(layout.config)
    keys = KeyStore(layout, Path(config.root_key_dir) if config.root_key_dir else None)
    tuf = TufMetadata(layout, config, keys)
    lifetime: timedelta = config.expiry("timestamp")

    def fresh() -> bool:
        return (
            bool(if_less_than_half_left)
            and tuf.timestamp().signed.expires - now_utc() > lifetime / 2
        )

    # Look before locking: the server checks every few minutes, and a check must not make
    # a publisher that starts at that moment fail with BusyError.
    if fresh():
        return None
    with repo_lock(layout):
        if fresh():  # a publisher signed a new timestamp meanwhile
            return None
        return tuf.publish(root=tuf.root().signed, start="timestamp")["timestamp"]


def read_published(layout: RepoLayout, targets: Targets, name: str, where: str) -> bytes:
    """A published target document's bytes from the repository directory, checked against
    the length and sha256 the signed targets metadata gives it (PublisherError otherwise)."""
    info = targets.targets.get(name)
    if info is None:
        raise PublisherError(f"{where}: {name} is not published")
    disk = layout.target_file(name, info.hashes["sha256"])
    try:
        data = disk.read_bytes()
        info.verify_length_and_hashes(data)
    except (FileNotFoundError, LengthOrHashMismatchError) as exc:
        raise PublisherError(
            f"{disk}: missing or not what the targets metadata signs ({exc})",
            hint="the repository is damaged; restore targets/ from a backup",
        ) from exc
    return data
