"""Use cases that decide who signs: create a repository, rotate a role's keys, re-sign.

Keys are written before any metadata names them, and retired keys are deleted
only after the metadata that drops them is durable, so a crash at any point
leaves a repository whose newest root can still be signed for.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.engine import fsio
from uplevel.errors import UsageError
from uplevel.repo import db
from uplevel.repo.config import CHAIN_ROLES, ROLES, RepoConfig, check_role
from uplevel.repo.keys import KeyStore
from uplevel.repo.layout import LOCK_NAME, RepoLayout
from uplevel.repo.lock import repo_lock
from uplevel.repo.metadata import TufMetadata, check_root_signatures, now_utc, sign
from uplevel.repo.state import durable_makedirs, load_keys
from uplevel.repo.tufapi import Metadata, Root


@dataclass(frozen=True, kw_only=True)
class InitResult:
    repo: str
    keys: dict[str, list[str]]
    thresholds: dict[str, int]
    expires_days: dict[str, int]
    root_key_dir: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class RotateResult:
    repo: str
    role: str
    old_keys: list[str]
    new_keys: list[str]
    root_version: int
    versions: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class ResignResult:
    repo: str
    versions: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def init_repo(
    repo_dir: Path,
    *,
    expires_days: dict[str, int],
    thresholds: dict[str, int],
    root_key_dir: Path | None = None,
) -> InitResult:
    """Create a repository: keys for the four roles, version 1 of each role's metadata."""
    if repo_dir.exists() and set(os.listdir(repo_dir)) - {LOCK_NAME}:
        raise UsageError(
            f"{repo_dir} already exists and is not empty",
            hint="choose a new directory (a half-created one can be removed and made again)",
        )
    key_dir = root_key_dir.absolute() if root_key_dir else None
    config = RepoConfig(
        expires_days=dict(expires_days),
        thresholds=dict(thresholds),
        root_key_dir=str(key_dir) if key_dir else None,
    )
    durable_makedirs(repo_dir)
    layout = RepoLayout(repo_dir)
    with repo_lock(layout):
        for d in (layout.metadata, layout.targets, layout.blobs):
            durable_makedirs(d)
        keys = KeyStore(layout, key_dir)
        root = Root(expires=now_utc() + config.expiry("root"), consistent_snapshot=True)
        signers = {}
        for role in ROLES:
            signers[role] = keys.generate(role, thresholds[role])
            for signer in signers[role]:
                root.add_key(signer.public_key, role)
            root.roles[role].threshold = thresholds[role]
        root_md = Metadata(root)
        sign(root_md, signers["root"])
        tuf = TufMetadata(layout, config, keys)
        tuf.write_root(root_md)
        tuf.publish(root=root, initial=True)
        db.create_db(layout.db)
        fsio.write_durable(layout.config, config.to_bytes())
    return InitResult(
        repo=str(repo_dir),
        keys={r: [s.public_key.keyid for s in signers[r]] for r in ROLES},
        thresholds=config.thresholds,
        expires_days=config.expires_days,
        root_key_dir=config.root_key_dir,
    )


def rotate_key(repo_dir: Path, role: str, *, root_key_dir: Path | None = None) -> RotateResult:
    """Replace every key of `role` with as many new ones (its threshold is kept).

    Writes root version N+1 listing the new keys, signed by the current root keys
    (and, for root itself, by the new ones too, so clients that trust root N follow
    the chain); then re-signs `role` and the roles after it (targets → snapshot →
    timestamp). The retired private keys are deleted last.
    """
    check_role(role)
    layout = RepoLayout(repo_dir)
    config = RepoConfig.load(layout.config)
    keys = load_keys(layout, config, root_key_dir)
    with repo_lock(layout):
        tuf = TufMetadata(layout, config, keys)
        trusted = tuf.root().signed
        root_signers = keys.signers("root", trusted)
        old_keyids = list(trusted.roles[role].keyids)
        new_signers = keys.generate(role, trusted.roles[role].threshold)
        new_root = copy.deepcopy(trusted)
        new_root.version += 1
        new_root.expires = now_utc() + config.expiry("root")
        for keyid in old_keyids:
            new_root.revoke_key(keyid, role)
        for signer in new_signers:
            new_root.add_key(signer.public_key, role)
        md = Metadata(new_root)
        sign(md, root_signers + (new_signers if role == "root" else []))
        check_root_signatures(trusted, md)
        tuf.write_root(md)
        versions = {} if role == "root" else tuf.publish(root=new_root, start=role)
        keys.remove(role, old_keyids)
    return RotateResult(
        repo=str(repo_dir),
        role=role,
        old_keys=old_keyids,
        new_keys=[s.public_key.keyid for s in new_signers],
        root_version=new_root.version,
        versions={"root": new_root.version, **versions},
    )


def resign(repo_dir: Path, start: str = "targets") -> ResignResult:
    """Re-sign `start` and the roles after it with fresh expiry dates (for a periodic job:
    the snapshot and targets metadata expire too, not only the timestamp)."""
    if start not in CHAIN_ROLES:
        raise UsageError(f"role {start!r} is not one of {', '.join(CHAIN_ROLES)}")
    layout = RepoLayout(repo_dir)
    config = RepoConfig.load(layout.config)
    keys = load_keys(layout, config, None)
    with repo_lock(layout):
        tuf = TufMetadata(layout, config, keys)
        versions = tuf.publish(root=tuf.root().signed, start=start)
    return ResignResult(repo=str(repo_dir), versions=versions)
