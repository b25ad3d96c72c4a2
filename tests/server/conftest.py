"""Fixtures for the server tests: a repository published with the real `uplevel repo` CLI,
tokens for every case of the access rule, and a real `uplevel serve` on a loopback port."""

from __future__ import annotations

import hashlib
import io
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli

AM = "wso2am-4.2.0"
IS = "wso2is-7.0.0"
STARTUP_SECONDS = 20


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


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish(tmp_path_factory.mktemp("published"))


# --- a running server -------------------------------------------------------------------


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    access_log: Path

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Signal the server, wait for it; (exit code, rest of stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, out, err


def start_server(repo: Path, workdir: Path, *args: str, scheme: str = "http") -> Server:
    """`python -m uplevel serve REPO --port 0 …`; the URL is read from its first line."""
    access_log = workdir / "access.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uplevel",
            "serve",
            str(repo),
            "--port",
            "0",
            "--access-log",
            str(access_log),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], STARTUP_SECONDS)
    line = proc.stdout.readline() if ready else ""
    m = re.search(rf"{scheme}://127\.0\.0\.1:[0-9]+", line)
    if m is None:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"uplevel serve did not print its URL: {line!r}{out}\n{err}")
    return Server(m.group(0), proc, access_log)


def wait_healthy(url: str, verify: ssl.SSLContext | bool = True) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}/health never answered 200")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def server(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(published.repo, tmp_path_factory.mktemp("server"))
    try:
        wait_healthy(srv.url)
        yield srv
    finally:
        code, _, err = srv.stop()
    assert code == 0, err


@pytest.fixture(scope="session")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_get(url: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (httpx would normalise `..` away)."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data
