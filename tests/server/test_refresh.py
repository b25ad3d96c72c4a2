"""The running server re-signs timestamp.json when less than half of its lifetime is left."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.support.homes import run_cli
from tests.support.published import create_token
from tests.support.server import bearer, start_server, wait_healthy
from uplevel.engine import fsio
from uplevel.repo.config import RepoConfig
from uplevel.repo.keys import KeyStore
from uplevel.repo.layout import RepoLayout
from uplevel.repo.lock import repo_lock
from uplevel.repo.metadata import TufMetadata, sign
from uplevel.repo.tufapi import Metadata


def shorten_timestamp(repo: Path, seconds: int) -> int:
    """Re-sign timestamp.json (version + 1) to expire in `seconds`, with the repository's own
    timestamp key: what a server finds when it was down for most of a lifetime."""
    layout = RepoLayout(repo)
    tuf = TufMetadata(layout, RepoConfig.load(layout.config), KeyStore(layout, None))
    md = tuf.timestamp()
    md.signed.version += 1
    md.signed.expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
    sign(md, tuf.keys.signers("timestamp", tuf.root().signed))
    fsio.write_durable(layout.timestamp_json, md.to_bytes())
    return int(md.signed.version)


def served_timestamp(client: httpx.Client, token: str) -> dict[str, object]:
    r = client.get("/v1/metadata/timestamp.json", headers=bearer(token))
    assert r.status_code == 200
    signed: dict[str, object] = json.loads(r.content)["signed"]
    return signed


def test_a_timestamp_near_expiry_is_resigned_while_serving(tmp_path: Path) -> None:
    repo = tmp_path / "REPO"
    run_cli("repo", "init", repo, "--json", check=0)
    token, _, _ = create_token(repo, "*", "full")
    short = shorten_timestamp(repo, seconds=600)  # 10 minutes of a 1-day lifetime
    publisher = contextlib.ExitStack()  # a publisher holds the lock as the server starts
    publisher.enter_context(repo_lock(RepoLayout(repo)))
    server = start_server(repo, tmp_path, "--refresh-interval", "0.2")
    try:
        wait_healthy(server.url)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            time.sleep(0.6)
            assert served_timestamp(client, token)["version"] == short  # it waits, and serves
            publisher.close()
            deadline = time.monotonic() + 15
            while (signed := served_timestamp(client, token))["version"] == short:
                assert time.monotonic() < deadline, "timestamp.json was never re-signed"
                time.sleep(0.1)
            assert signed["version"] == short + 1
            expires = datetime.fromisoformat(str(signed["expires"]).replace("Z", "+00:00"))
            assert expires - datetime.now(UTC) > timedelta(hours=23)
            # The new version verifies with the timestamp key of the served root.
            root = Metadata.from_bytes(
                client.get("/v1/metadata/1.root.json", headers=bearer(token)).content
            )
            new = Metadata.from_bytes(
                client.get("/v1/metadata/timestamp.json", headers=bearer(token)).content
            )
            root.signed.verify_delegate("timestamp", new.signed_bytes, new.signatures)
            # A fresh timestamp is left alone: more than half of its lifetime is left.
            time.sleep(1.0)
            assert served_timestamp(client, token)["version"] == short + 1
    finally:
        publisher.close()
        code, _, err = server.stop()
    assert code == 0, err
    assert "a publisher holds the repository lock" in err
    assert f"re-signed timestamp.json as version {short + 1}" in err
