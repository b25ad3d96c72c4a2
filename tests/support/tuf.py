"""Real servers on 127.0.0.1 and a real signed TUF repository, for the fetch and TUF tests.

`Server` serves a dict of path → bytes and records every request; a path can be
given a `Route` instead (a function that writes the whole answer) to play a
hostile or broken server. `Repo` builds root/targets/snapshot/timestamp plus a
delegated role `dev` with python-tuf's metadata API and publishes them into a
Server the way a consistent-snapshot repository lays them out.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from securesystemslib.signer import CryptoSigner, Signer  # type: ignore[attr-defined]
from tuf.api.metadata import (  # type: ignore[attr-defined]
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

Route = Callable[[BaseHTTPRequestHandler], None]
_HANGUPS = (ConnectionError, ssl.SSLError, TimeoutError)


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def do_GET(self) -> None:
        self.server.log.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.server.routes.get(self.path)
        if route is not None:
            route(self)
            return
        body = self.server.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], _HANGUPS):  # clients hanging up is part of the tests
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def paths(self) -> list[str]:
        return [r.path for r in self.log]


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def endless(sent: list[int], done: threading.Event) -> Route:
    """A route that streams bytes until the client hangs up (capped at 1 GiB)."""

    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        chunk, total = b"x" * 65536, 0
        try:
            while total < 1 << 30:
                h.wfile.write(chunk)
                total += len(chunk)
        except OSError:
            pass
        finally:
            h.close_connection = True
            sent.append(total)
            done.set()

    return route


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def tls_server(directory: Path) -> tuple[Server, Path]:
    """An HTTPS Server and the CA bundle that trusts it."""
    cert, key = self_signed_cert(directory)
    server = Server()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server, cert


class ConnectProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy that only tunnels (CONNECT) and records what it was asked."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TunnelHandler)
        self.requests: list[str] = []

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], _HANGUPS):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _TunnelHandler(socketserver.StreamRequestHandler):
    server: ConnectProxy

    def handle(self) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            byte = self.rfile.read(1)
            if not byte:
                return
            head += byte
        self.server.requests.append(head.decode("latin-1"))
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            _pipe(self.connection, upstream)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    while True:
        readable, _, _ = select.select([a, b], [], [], 10)
        if not readable:
            return
        for src in readable:
            data = src.recv(65536)
            if not data:
                return
            (b if src is a else a).sendall(data)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, never listening, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --- a signed TUF repository ---------------------------------------------------------

TOP_TARGET = "top.txt"
DEV_TARGET = "dev/artifact.bin"


def _expiry(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Repo:
    """A four-role repository with a delegated role `dev`, published into `server.files`.

    Every publish_* signs the current object and stores the bytes under the
    consistent-snapshot name; `published` keeps every version's bytes so a test
    can serve old ones again (rollback) or swap files (mix-and-match).
    """

    server: Server
    signers: dict[str, list[Signer]] = field(default_factory=dict)
    published: dict[str, dict[int, bytes]] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role in ("root", "timestamp", "snapshot", "targets", "dev"):
            self.signers[role] = [CryptoSigner.generate_ed25519()]
        root = Root(expires=_expiry(365), consistent_snapshot=True)
        for role in ("root", "timestamp", "snapshot", "targets"):
            root.add_key(self.signers[role][0].public_key, role)
        self.root = Metadata(root)
        dev_key = self.signers["dev"][0].public_key
        delegations = Delegations(
            keys={dev_key.keyid: dev_key},
            roles={
                "dev": DelegatedRole(
                    name="dev",
                    keyids=[dev_key.keyid],
                    threshold=1,
                    terminating=True,
                    paths=["dev/*"],
                )
            },
        )
        self.targets = Metadata(Targets(expires=_expiry(90), delegations=delegations))
        self.dev = Metadata(Targets(expires=_expiry(90)))
        self.snapshot = Metadata(Snapshot(expires=_expiry(7)))
        self.timestamp = Metadata(Timestamp(expires=_expiry(1)))
        self.add_target("targets", TOP_TARGET, b"the top-level artifact\n")
        self.add_target("dev", DEV_TARGET, b"\x00delegated artifact bytes\xff" * 10)
        self.publish_root()
        self.publish_all()

    @property
    def root_bytes(self) -> bytes:
        return self.published["root"][1]

    def add_target(self, role: str, path: str, content: bytes) -> None:
        md = self.targets if role == "targets" else self.dev
        info = TargetFile.from_data(path, content, ["sha256"])
        md.signed.targets[path] = info
        dirname, sep, basename = path.rpartition("/")
        self.server.files[f"/targets/{dirname}{sep}{sha256(content)}.{basename}"] = content
        self.contents[path] = content

    def target_url_path(self, path: str) -> str:
        dirname, sep, basename = path.rpartition("/")
        return f"/targets/{dirname}{sep}{sha256(self.contents[path])}.{basename}"

    def sign(self, md: Metadata[Root] | Metadata[Targets] | Metadata[Snapshot] | Metadata[Timestamp], role: str, signers: list[Signer] | None = None) -> bytes:  # fmt: skip
        md.signatures.clear()
        for signer in signers if signers is not None else self.signers[role]:
            md.sign(signer, append=True)
        return md.to_bytes()

    def _store(self, role: str, version: int, data: bytes, *, versioned: bool = True) -> None:
        self.published.setdefault(role, {})[version] = data
        name = f"/metadata/{version}.{role}.json" if versioned else f"/metadata/{role}.json"
        self.server.files[name] = data

    def publish_root(self, signers: list[Signer] | None = None) -> bytes:
        data = self.sign(self.root, "root", signers)
        self._store("root", self.root.signed.version, data)
        return data

    def publish_targets(self, role: str = "targets") -> bytes:
        md = self.targets if role == "targets" else self.dev
        data = self.sign(md, role)
        self._store(role, md.signed.version, data)
        self.snapshot.signed.meta[f"{role}.json"] = MetaFile(
            md.signed.version, len(data), {"sha256": sha256(data)}
        )
        return data

    def publish_snapshot(self) -> bytes:
        data = self.sign(self.snapshot, "snapshot")
        self._store("snapshot", self.snapshot.signed.version, data)
        self.timestamp.signed.snapshot_meta = MetaFile(
            self.snapshot.signed.version, len(data), {"sha256": sha256(data)}
        )
        return data

    def publish_timestamp(self, signers: list[Signer] | None = None) -> bytes:
        data = self.sign(self.timestamp, "timestamp", signers)
        self._store("timestamp", self.timestamp.signed.version, data, versioned=False)
        return data

    def publish_all(self) -> None:
        self.publish_targets("dev")
        self.publish_targets("targets")
        self.publish_snapshot()
        self.publish_timestamp()

    def new_version(self) -> None:
        """Publish version + 1 of targets, snapshot and timestamp (legitimately)."""
        self.targets.signed.version += 1
        self.snapshot.signed.version += 1
        self.timestamp.signed.version += 1
        self.publish_targets("targets")
        self.publish_snapshot()
        self.publish_timestamp()


CLIENT = Path(sys.executable).parent / "uplevel-tuf-client"


PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without proxy settings (the servers are on loopback)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARS}
    env.update(extra)
    return env


def tree(directory: Path) -> dict[str, bytes | str]:
    """Every entry under directory: file bytes, or 'dir' / 'link -> target'."""
    out: dict[str, bytes | str] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_symlink():
            out[rel] = f"link -> {os.readlink(path)}"
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = path.read_bytes()
    return out


@dataclass
class Client:
    """The console script run the way the tuf-conformance suite runs it."""

    metadata_dir: Path
    target_dir: Path
    server: Server

    def run(self, *args: str | Path, env: dict[str, str] | None = None) -> int:
        proc = subprocess.run(
            [str(CLIENT), *map(str, args)],
            capture_output=True,
            text=True,
            env=env or clean_env(),
            timeout=60,
        )
        self.last_stderr = proc.stderr
        return proc.returncode

    def init(self, root: bytes) -> int:
        root_file = self.metadata_dir.parent / "initial_root.json"
        root_file.write_bytes(root)
        return self.run("--metadata-dir", self.metadata_dir, "init", root_file)

    def refresh(self, env: dict[str, str] | None = None) -> int:
        return self.run(
            "--metadata-url",
            f"{self.server.url}/metadata",
            "--metadata-dir",
            self.metadata_dir,
            "refresh",
            env=env,
        )

    def download(self, *names: str) -> int:
        named = [arg for name in names for arg in ("--target-name", name)]
        return self.run(
            "--metadata-url",
            f"{self.server.url}/metadata",
            "--metadata-dir",
            self.metadata_dir,
            *named,
            "--target-dir",
            self.target_dir,
            "--target-base-url",
            f"{self.server.url}/targets",
            "download",
        )
