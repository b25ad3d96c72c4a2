"""uplevel.client.fetch against real sockets on 127.0.0.1: token, limits, errors, resume, proxies, TLS."""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from tuf.api.exceptions import (
    DownloadError,
    DownloadHTTPError,
    DownloadLengthMismatchError,
    SlowRetrievalError,
)

from tests.support.tuf import (
    ConnectProxy,
    Server,
    closed_port,
    endless,
    serving,
    tls_server,
)
from uplevel.client.fetch import FetchConfig, Fetcher, ProxySettings

BLOB = bytes(range(256)) * 400  # 100 KiB: several chunks
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()
DIRECT = FetchConfig(proxies_from_env=False, timeout=5)


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set the proxy variables they mean; none leak in from the machine."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    h.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **headers}.items():
        h.send_header(name.replace("_", "-"), value)
    h.end_headers()
    h.wfile.write(body)


# --- requests, errors, limits --------------------------------------------------------


def test_bearer_token_is_sent_and_never_shown(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    server.files["/doc"] = b"hello"
    config = FetchConfig(token="upl_s3cret", proxies_from_env=False)
    with caplog.at_level(logging.DEBUG):
        assert Fetcher(config).get(f"{server.url}/doc", max_length=5) == b"hello"
    assert server.log[-1].headers["authorization"] == "Bearer upl_s3cret"
    assert "upl_s3cret" not in repr(config) + caplog.text
    Fetcher(DIRECT).get(f"{server.url}/doc", max_length=5)
    assert "authorization" not in server.log[-1].headers


def test_http_error_status_is_download_http_error(server: Server) -> None:
    with pytest.raises(DownloadHTTPError) as info:
        Fetcher(DIRECT).get(f"{server.url}/missing", max_length=10)
    assert info.value.status_code == 404


def test_redirect_is_not_followed(server: Server) -> None:
    """The token must reach only the configured server."""
    server.routes["/moved"] = lambda h: _send(h, 302, b"", Location=f"{server.url}/elsewhere")
    fetcher = Fetcher(FetchConfig(token="t", proxies_from_env=False))
    with pytest.raises(DownloadHTTPError) as info:
        fetcher.get(f"{server.url}/moved", max_length=10)
    assert info.value.status_code == 302
    assert server.paths() == ["/moved"]


def test_refused_connection_and_bad_scheme_are_download_errors() -> None:
    fetcher = Fetcher(DIRECT)
    with pytest.raises(DownloadError):
        fetcher.get(f"http://127.0.0.1:{closed_port()}/x", max_length=10)
    with pytest.raises(DownloadError):
        fetcher.get("file:///etc/passwd", max_length=10)
    with pytest.raises(DownloadError):  # python-tuf's public entry point
        list(fetcher.fetch(f"http://127.0.0.1:{closed_port()}/x"))


def test_silent_server_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog), never answers
        port = silent.getsockname()[1]
        with pytest.raises(SlowRetrievalError):
            Fetcher(FetchConfig(proxies_from_env=False, timeout=0.3)).get(
                f"http://127.0.0.1:{port}/x", max_length=10
            )


def test_declared_length_over_the_limit_is_refused_before_the_body(server: Server) -> None:
    server.files["/big"] = b"x" * 2000
    with pytest.raises(DownloadLengthMismatchError, match="announces 2000"):
        Fetcher(DIRECT).get(f"{server.url}/big", max_length=1000)
    with pytest.raises(DownloadLengthMismatchError):
        Fetcher(DIRECT).download_bytes(f"{server.url}/big", 1999)
    assert Fetcher(DIRECT).download_bytes(f"{server.url}/big", 2000) == b"x" * 2000


def test_endless_data_is_cut_off(server: Server) -> None:
    sent: list[int] = []
    done = threading.Event()
    server.routes["/endless"] = endless(sent, done)
    with pytest.raises(DownloadLengthMismatchError):
        Fetcher(DIRECT).download_bytes(f"{server.url}/endless", 16384)
    assert done.wait(10)
    assert sent[0] < 64 << 20


def test_limit_is_enforced_while_reading(server: Server) -> None:
    """limit + 1 bytes then silence: refused at once, not after waiting for a whole chunk."""
    release = threading.Event()

    def trickle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(b"y" * 101)
        h.wfile.flush()
        release.wait(10)
        h.close_connection = True

    server.routes["/trickle"] = trickle
    try:
        with pytest.raises(DownloadLengthMismatchError):
            Fetcher(FetchConfig(proxies_from_env=False, timeout=3)).get(
                f"{server.url}/trickle", max_length=100
            )
    finally:
        release.set()


# --- blob downloads --------------------------------------------------------------------


def _range_server(server: Server, *, truncate_first: bool, honour_range: bool = True) -> None:
    """/blob: the first answer is cut after half the bytes; later ones honour Range."""
    calls = {"n": 0}

    def route(h: BaseHTTPRequestHandler) -> None:
        calls["n"] += 1
        match = re.fullmatch(r"bytes=(\d+)-", h.headers.get("Range", ""))
        if truncate_first and calls["n"] == 1:
            h.send_response(200)
            h.send_header("Content-Length", str(len(BLOB)))
            h.end_headers()
            h.wfile.write(BLOB[: len(BLOB) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
        elif match and honour_range:
            start = int(match[1])
            _send(h, 206, BLOB[start:], Content_Range=f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}")
        else:
            _send(h, 200, BLOB)

    server.routes["/blob"] = route


def test_interrupted_blob_download_resumes_with_range(server: Server, tmp_path: Path) -> None:
    _range_server(server, truncate_first=True)
    dest = tmp_path / BLOB_SHA
    part = tmp_path / f"{BLOB_SHA}.part"
    fetcher = Fetcher(FetchConfig(token="tok", proxies_from_env=False))
    url = f"{server.url}/blob"
    with pytest.raises(DownloadError):
        fetcher.download_to(url, dest, expected_sha256=BLOB_SHA, expected_size=len(BLOB))
    assert not dest.exists()
    assert part.read_bytes() == BLOB[: len(BLOB) // 2]

    fetcher.download_to(url, dest, expected_sha256=BLOB_SHA, expected_size=len(BLOB))
    assert dest.read_bytes() == BLOB
    assert not part.exists()
    assert "range" not in server.log[0].headers
    assert server.log[1].headers["range"] == f"bytes={len(BLOB) // 2}-"
    assert {r.headers["authorization"] for r in server.log} == {"Bearer tok"}


def test_truncated_stream_is_a_download_error_for_python_tuf_too(server: Server) -> None:
    """Errors in the middle of the body, not only at connect, come out as DownloadError."""
    _range_server(server, truncate_first=True)
    with pytest.raises(DownloadError):
        list(Fetcher(DIRECT).fetch(f"{server.url}/blob"))


def test_empty_blob_needs_no_request(server: Server, tmp_path: Path) -> None:
    empty_sha = hashlib.sha256(b"").hexdigest()
    Fetcher(DIRECT).download_to(
        f"{server.url}/never", tmp_path / "e", expected_sha256=empty_sha, expected_size=0
    )
    assert (tmp_path / "e").read_bytes() == b""
    assert server.log == []


def test_server_ignoring_range_restarts_the_part(server: Server, tmp_path: Path) -> None:
    _range_server(server, truncate_first=False, honour_range=False)
    dest = tmp_path / "blob"
    (tmp_path / "blob.part").write_bytes(b"stale prefix from another try")
    Fetcher(DIRECT).download_to(
        f"{server.url}/blob", dest, expected_sha256=BLOB_SHA, expected_size=len(BLOB)
    )
    assert dest.read_bytes() == BLOB
    assert not (tmp_path / "blob.part").exists()


@pytest.fixture
def bad_blobs(server: Server) -> Iterator[Server]:
    server.files["/wrong-bytes"] = bytes(reversed(BLOB))  # right size, wrong sha256
    server.files["/too-long"] = BLOB + b"tail"
    sent: list[int] = []
    server.routes["/endless"] = endless(sent, threading.Event())
    yield server


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/wrong-bytes", DownloadError),
        ("/too-long", DownloadLengthMismatchError),
        ("/endless", DownloadLengthMismatchError),
    ],
)
def test_blob_mismatch_is_refused_and_the_part_removed(
    bad_blobs: Server, tmp_path: Path, path: str, error: type[Exception]
) -> None:
    dest = tmp_path / "blob"
    with pytest.raises(error):
        Fetcher(DIRECT).download_to(
            f"{bad_blobs.url}{path}", dest, expected_sha256=BLOB_SHA, expected_size=len(BLOB)
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_corrupt_part_is_detected_after_resume_and_removed(server: Server, tmp_path: Path) -> None:
    _range_server(server, truncate_first=False)
    dest = tmp_path / "blob"
    half = len(BLOB) // 2
    (tmp_path / "blob.part").write_bytes(b"\xff" * half)  # right length, wrong bytes
    with pytest.raises(DownloadError, match="sha256"):
        Fetcher(DIRECT).download_to(
            f"{server.url}/blob", dest, expected_sha256=BLOB_SHA, expected_size=len(BLOB)
        )
    assert list(tmp_path.iterdir()) == []
    assert server.log[0].headers["range"] == f"bytes={half}-"


# --- proxies and TLS -------------------------------------------------------------------


def test_no_proxy_sends_loopback_direct(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    server.files["/doc"] = b"direct"
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert Fetcher().get(f"{server.url}/doc", max_length=10) == b"direct"


def test_http_proxy_is_used_when_no_proxy_does_not_match(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.files["/doc"] = b"direct"
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NO_PROXY", "example.com")
    with pytest.raises(DownloadError):
        Fetcher().get(f"{server.url}/doc", max_length=10)
    assert server.log == []


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    server, ca_bundle = tls_server(tmp_path)
    server.files["/doc"] = b"over tls"
    with serving(server):
        yield server, ca_bundle


def test_https_proxy_tunnels_to_a_verified_server(
    https_server: tuple[Server, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, ca_bundle = https_server
    proxy = ConnectProxy()
    with serving(proxy):
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")  # not for https
        fetcher = Fetcher(FetchConfig(token="upl_tok", ca_bundle=ca_bundle))
        assert fetcher.get(f"{server.url}/doc", max_length=100) == b"over tls"
    port = server.server_address[1]
    assert len(proxy.requests) == 1
    assert re.match(rf"CONNECT 127\.0\.0\.1:{port} HTTP/1\.[01]\r\n", proxy.requests[0])
    assert "upl_tok" not in proxy.requests[0]  # the token travels inside the tunnel only
    assert server.log[-1].headers["authorization"] == "Bearer upl_tok"


def test_tls_is_verified_by_default(https_server: tuple[Server, Path]) -> None:
    server, _ = https_server
    with pytest.raises(DownloadError):
        Fetcher(DIRECT).get(f"{server.url}/doc", max_length=100)
    assert server.log == []


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "bypass"),
    [
        ("example.com", "example.com", 443, True),
        ("example.com", "api.example.com", 443, True),
        (".example.com", "api.example.com", 443, True),
        ("*.example.com", "api.example.com", 443, True),
        ("example.com", "badexample.com", 443, False),
        ("EXAMPLE.com", "Api.Example.COM", 443, True),
        ("*", "anything.org", 80, True),
        ("a.org, 127.0.0.1", "127.0.0.1", 8080, True),
        ("127.0.0.1:8080", "127.0.0.1", 8080, True),
        ("127.0.0.1:8080", "127.0.0.1", 9090, False),
        ("[::1]:8080", "[::1]", 8080, True),
        ("::1", "[::1]", 8080, True),
        ("", "127.0.0.1", 80, False),
    ],
)
def test_no_proxy_matching(no_proxy: str, host: str, port: int, bypass: bool) -> None:
    settings = ProxySettings.from_environ({"HTTPS_PROXY": "proxy:3128", "NO_PROXY": no_proxy})
    assert settings.bypasses(host, port) is bypass
    assert settings.proxy_for("https", host, port) == (None if bypass else "http://proxy:3128")


def test_lowercase_proxy_variables_win_and_scheme_selects_the_proxy() -> None:
    settings = ProxySettings.from_environ(
        {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2", "HTTP_PROXY": "h:3"}
    )
    assert settings.proxy_for("https", "a.org", None) == "http://lower:1"
    assert settings.proxy_for("http", "a.org", None) == "http://h:3"
    assert ProxySettings.from_environ({}).proxy_for("https", "a.org", None) is None
