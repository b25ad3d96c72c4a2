"""Private signing keys on disk: `keys/<role>/<keyid>.pem` (root: `<root_key_dir>/<keyid>.pem`).

PEM PKCS8 ed25519 keys through securesystemslib's CryptoSigner, files 0600 in
directories 0700. A key file holds no public part of its own: the public key
comes from the root metadata, which is what decides whether a key signs a role, so
a stray or stale file is never used.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from uplevel.engine import fsio
from uplevel.errors import UplevelError, UsageError
from uplevel.repo.layout import RepoLayout
from uplevel.repo.tufapi import CryptoSigner, Root, SSlibKey

KEY_FILE_MODE = 0o600
KEY_DIR_MODE = 0o700


class KeyStore:
    """Where a repository's private keys are, and how to make, load and retire them."""

    def __init__(self, layout: RepoLayout, root_key_dir: Path | None) -> None:
        self.layout = layout
        self.root_key_dir = root_key_dir

    def dir_for(self, role: str) -> Path:
        if role == "root" and self.root_key_dir is not None:
            return self.root_key_dir
        return self.layout.keys / role

    def key_file(self, role: str, keyid: str) -> Path:
        return self.dir_for(role) / f"{keyid}.pem"

    def generate(self, role: str, count: int) -> list[CryptoSigner]:
        """Make `count` new ed25519 keys for `role` and write them (0600) before they are used."""
        directory = self.dir_for(role)
        if directory.parent == self.layout.keys:
            _private_dir(self.layout.keys)
        _private_dir(directory)
        signers = [CryptoSigner.generate_ed25519() for _ in range(count)]
        for signer in signers:
            path = directory / f"{signer.public_key.keyid}.pem"
            fsio.write_new(path, [signer.private_bytes], mode=KEY_FILE_MODE)
        fsio.fsync_dir(directory)
        return signers

    def signers(self, role: str, root: Root) -> list[CryptoSigner]:
        """Signers for every key the root lists for `role`; at least the threshold must load."""
        wanted = root.roles[role]
        found: list[CryptoSigner] = []
        for keyid in wanted.keyids:
            path = self.key_file(role, keyid)
            try:
                pem = path.read_bytes()
            except FileNotFoundError:
                continue
            public = root.keys[keyid]
            if not isinstance(public, SSlibKey):
                raise UplevelError(f"root metadata: key {keyid} of {role} is not a plain key")
            try:
                private = load_pem_private_key(pem, None)
                found.append(CryptoSigner(private, public))
            except (ValueError, TypeError) as exc:
                raise UplevelError(
                    f"{path}: not the private key of {role} key {keyid} ({exc})",
                    hint="restore the key file from your backup",
                ) from exc
        if len(found) < wanted.threshold:
            where = self.dir_for(role)
            offline = role == "root" and self.root_key_dir is not None
            raise UsageError(
                f"{role} needs {wanted.threshold} key(s) to sign but {len(found)} of "
                f"{len(wanted.keyids)} were found in {where}",
                hint=(
                    "mount the offline root key directory, or pass --root-key-dir"
                    if offline
                    else f"restore the key files of {role} into {where}"
                ),
            )
        return found

    def remove(self, role: str, keyids: list[str]) -> None:
        """Delete retired private keys (after the metadata that drops them is written)."""
        for keyid in keyids:
            path = self.key_file(role, keyid)
            if path.exists():
                fsio.unlink(path)
        if keyids and self.dir_for(role).is_dir():
            fsio.fsync_dir(self.dir_for(role))


def _private_dir(path: Path) -> None:
    """Create `path` (and parents) and make sure only the owner can list it."""
    if not path.is_dir():
        fsio.makedirs(path)
    if stat.S_IMODE(os.stat(path).st_mode) != KEY_DIR_MODE:
        fsio.chmod(path, KEY_DIR_MODE)
    fsio.fsync_dir(path.parent)
