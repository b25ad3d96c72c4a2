"""A real `uplevel serve` on 127.0.0.1 (the one start-up every test uses), free ports, and
raw HTTP for what httpx would normalise."""

from __future__ import annotations

import contextlib
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_SECONDS = 20


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    access_log: Path | None

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Signal the server, wait for it; (exit code, rest of stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, out, err or ""


def start_server(
    repo: Path, workdir: Path | None, *args: str | Path, scheme: str | None = "http"
) -> Server:
    """`python -m uplevel serve REPO --port 0 ARGS…`; the URL is read from its first line.

    With `workdir` the access log goes to workdir/access.log and stderr is captured (see
    Server.stop); without, both go to this process's stderr (a long test cannot fill a pipe
    nobody reads). `scheme` checks the URL's scheme (None: either)."""
    access_log = workdir / "access.log" if workdir is not None else None
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uplevel",
            "serve",
            str(repo),
            "--port",
            "0",
            *(["--access-log", str(access_log)] if access_log is not None else []),
            *map(str, args),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if workdir is not None else None,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], STARTUP_SECONDS)
    line = proc.stdout.readline() if ready else ""
    m = re.search(rf" at ({scheme or 'https?'}://\S+)$", line.rstrip("\n"))
    if m is None:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"uplevel serve did not print its URL: {line!r}{out}\n{err}")
    return Server(m.group(1), proc, access_log)


@contextlib.contextmanager
def serving(repo: Path, *options: str | Path) -> Iterator[str]:
    """Run `uplevel serve REPO --port 0 OPTIONS…` for the block and yield the URL it prints."""
    server = start_server(repo, None, *options, scheme=None)
    try:
        yield server.url
    finally:
        server.stop()


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
