"""A repository with two products published through the real CLI, and subscriber tokens for every case of the access rule."""

from __future__ import annotations

import hashlib
import io
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.homes import run_cli

AM = "wso2am-4.2.0"


IS = "wso2is-7.0.0"


@dataclass
class StoredBlob:
    content: bytes
    sha256: str
    path: Path  # the stored file, raw or .zst
    encoding: str

    @property
    def stored(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class Published:
    """A repository with two products (level 0 each) and one token per case."""

    repo: Path
    canary: Path  # a file outside REPO that must never be served
    tokens: dict[str, str] = field(default_factory=dict)
    token_ids: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, StoredBlob] = field(default_factory=dict)

    def target(self, product: str, channel: str, level: int, document: str) -> Path:
        found = sorted(
            (self.repo / "targets" / product / channel / str(level)).glob(f"*.{document}")
        )
        assert len(found) == 1, found
        return found[0]

    def target_url(self, product: str, channel: str, level: int, document: str) -> str:
        path = self.target(product, channel, level, document)
        return f"/v1/targets/{product}/{channel}/{level}/{path.name}"


def _pack(path: Path, top: str, files: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(f"{top}/{name}", data)
    path.write_bytes(buf.getvalue())
    return path


def _stored(repo: Path, content: bytes) -> StoredBlob:
    sha = hashlib.sha256(content).hexdigest()
    raw = repo / "blobs" / sha[:2] / sha
    packed = raw.with_name(f"{sha}.zst")
    path, encoding = (raw, "raw") if raw.exists() else (packed, "zstd")
    assert path.exists(), f"blob {sha} not stored"
    return StoredBlob(content, sha, path, encoding)


def create_token(
    repo: Path, product: str, channel: str, *extra: str
) -> tuple[str, str, int | None]:
    """(token, id, expires_at) made with `uplevel repo token create --json`."""
    r = run_cli(
        "repo",
        "token",
        "create",
        repo,
        "--subscriber",
        "tests",
        "--product",
        product,
        "--channel",
        channel,
        *extra,
        "--json",
        check=0,
    ).json["result"]
    return r["token"], r["id"], r["expires"]


def publish(root: Path) -> Published:
    repo = root / "REPO"
    canary = root / "canary.txt"
    canary.write_bytes(b"CANARY-" + os.urandom(8).hex().encode() + b"\n")
    run_cli("repo", "init", repo, "--json", check=0)
    # The expired token first, so its second of life passes while the rest is built.
    expired, expired_id, expires_at = create_token(repo, "wso2am-*", "full", "--expires", "1s")
    am_files = {
        "lib/big.jar": os.urandom(3 * 1024 * 1024 + 12345),  # incompressible: stored raw
        "repository/conf/deployment.toml": b'[server]\nhostname = "localhost"\n' * 400,
        "bin/api-manager.sh": b"#!/bin/sh\nexec java -Xms256m -jar lib/big.jar\n",
    }
    is_files = {"lib/identity.jar": os.urandom(20_000)}
    for product, files in ((AM, am_files), (IS, is_files)):
        pack = _pack(root / f"{product}.zip", product, files)
        run_cli(
            "repo", "add-product", repo, "--pack", pack, "--product", product, "--json", check=0
        )
    pub = Published(repo=repo, canary=canary)
    pub.blobs = {
        "big": _stored(repo, am_files["lib/big.jar"]),
        "toml": _stored(repo, am_files["repository/conf/deployment.toml"]),
        "identity": _stored(repo, is_files["lib/identity.jar"]),
    }
    for name, product, channel in (
        ("full", "wso2am-*", "full"),
        ("security", "wso2am-*", "security"),
        ("other_product", "wso2is-*", "full"),
        ("revoked", "wso2am-*", "full"),
    ):
        pub.tokens[name], pub.token_ids[name], _ = create_token(repo, product, channel)
    run_cli("repo", "token", "revoke", repo, pub.token_ids["revoked"], "--json", check=0)
    pub.tokens["expired"], pub.token_ids["expired"] = expired, expired_id
    assert expires_at is not None
    time.sleep(max(0.0, expires_at + 0.05 - time.time()))
    return pub
