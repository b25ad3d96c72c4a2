"""`uplevel serve` as an operator runs it: TLS, graceful stop on SIGTERM/SIGINT, usage
errors, and the JSON access log (which never holds a token)."""

from __future__ import annotations

import datetime
import json
import signal
import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest

from tests.support.homes import run_cli
from tests.support.published import Published
from tests.support.server import Server, bearer, start_server, wait_healthy
from tests.support.tuf import self_signed_cert


def test_https_and_a_clean_stop_on_sigint(published: Published, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    server = start_server(
        published.repo, tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), scheme="https"
    )
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        wait_healthy(server.url, verify=trust)
        r = httpx.get(
            f"{server.url}/v1/metadata/1.root.json",
            headers=bearer(published.tokens["full"]),
            verify=trust,
        )
        assert r.status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(server.url.replace("https://", "http://") + "/health", timeout=3)
    finally:
        code, out, err = server.stop(signal.SIGINT)
    assert code == 0, err
    assert out.strip() == "uplevel serve: stopped"
    assert "Traceback" not in err


def test_sigterm_lets_a_download_in_flight_finish(published: Published, tmp_path: Path) -> None:
    server = start_server(published.repo, tmp_path)
    blob = published.blobs["big"]
    try:
        wait_healthy(server.url)
        url = f"{server.url}/v1/blobs/{blob.sha256}"
        with httpx.stream("GET", url, headers=bearer(published.tokens["full"])) as r:
            chunks = r.iter_bytes(65536)
            received = bytearray(next(chunks))
            server.proc.send_signal(signal.SIGTERM)
            for chunk in chunks:
                received += chunk
        assert bytes(received) == blob.stored
    finally:
        code, _, err = server.stop()
    assert code == 0, err


def test_tls_options_go_together(published: Published, tmp_path: Path) -> None:
    cert, _ = self_signed_cert(tmp_path)
    r = run_cli("serve", published.repo, "--port", "0", "--tls-cert", cert)
    assert r.returncode == 2
    assert "--tls-cert and --tls-key go together" in r.stderr


def test_a_directory_that_is_no_repository_is_a_usage_error(tmp_path: Path) -> None:
    r = run_cli("serve", tmp_path, "--port", "0")
    assert r.returncode == 2
    assert "not an uplevel repository" in r.stderr
    assert "uplevel repo init" in r.stderr


def test_a_port_in_use_fails_with_the_reason(published: Published) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_cli("serve", published.repo, "--port", str(port))
    assert r.returncode == 1
    assert "in use" in r.stderr


def _new_log_lines(path: Path, offset: int, count: int) -> list[dict[str, object]]:
    """The access lines written after `offset` (a line is written once its response is sent,
    so the last ones may lag the client by a moment)."""
    deadline = time.monotonic() + 5
    while True:
        with path.open("rb") as f:
            f.seek(offset)
            lines = [json.loads(line) for line in f.read().decode().splitlines()]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_access_log_has_one_json_line_per_request_and_never_a_token(
    published: Published, server: Server, client: httpx.Client
) -> None:
    blob = published.blobs["toml"]
    token = published.tokens["full"]
    offset = server.access_log.stat().st_size
    client.get(f"/v1/blobs/{blob.sha256}", headers={**bearer(token), "Range": "bytes=0-9"})
    client.get(f"/v1/blobs/{blob.sha256}", headers=bearer(published.tokens["revoked"]))
    client.get(f"/v1/blobs/{blob.sha256}")
    client.get(
        "/v1/auth", headers={**bearer(token), "X-Original-URI": f"/v1/blobs/{blob.sha256}?auth"}
    )
    lines = _new_log_lines(server.access_log, offset, 4)
    assert [(line["path"], line["status"], line["token_id"]) for line in lines] == [
        (f"/v1/blobs/{blob.sha256}", 206, published.token_ids["full"]),
        (f"/v1/blobs/{blob.sha256}", 403, published.token_ids["revoked"]),
        (f"/v1/blobs/{blob.sha256}", 401, None),
        ("/v1/auth", 204, published.token_ids["full"]),
    ]
    assert lines[3]["original_uri"] == f"/v1/blobs/{blob.sha256}?auth"
    first = lines[0]
    assert set(first) == {
        "time",
        "client",
        "method",
        "path",
        "status",
        "bytes",
        "duration_ms",
        "token_id",
    }
    assert first["bytes"] == 10
    assert first["method"] == "GET"
    assert first["client"] == "127.0.0.1"
    assert float(str(first["duration_ms"])) >= 0
    datetime.datetime.fromisoformat(str(first["time"]))
    text = server.access_log.read_text()
    for secret in published.tokens.values():
        assert secret not in text
        assert secret[4:20] not in text
