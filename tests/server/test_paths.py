"""Hostile paths: nothing outside REPO (a canary beside it, the keys inside it) is ever served.

Requests go out byte for byte over a raw socket, since HTTP clients normalise `..` away."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.support.published import Published
from tests.support.server import Server, bearer, raw_get

TRAVERSALS = [
    "/v1/metadata/../../canary.txt",
    "/v1/metadata/../repo.json",
    "/v1/metadata/..%2f..%2fcanary.txt",
    "/v1/metadata/%2e%2e/%2e%2e/canary.txt",
    "/v1/metadata/%2E%2E%2F%2E%2E%2Fcanary.txt",
    "/v1/metadata/.%2e/.%2e/canary.txt",
    "/v1/metadata/%252e%252e%252f%252e%252e%252fcanary.txt",
    "/v1/metadata/..%5c..%5ccanary.txt",
    "/v1/metadata/..\\..\\canary.txt",
    "/v1/metadata/timestamp.json%00.png",
    "/v1/metadata/%2fetc%2fpasswd",
    "/v1/metadata//etc/passwd",
    "/v1/metadata/%2F..%2Frepo.json",
    "/v1/blobs/../../canary.txt",
    "/v1/blobs/..%2F..%2Fcanary.txt",
    "/v1/targets/wso2am-4.2.0/full/0/../../../../../canary.txt",
    "/v1/targets/..%2f..%2f..%2f/full/0/x.manifest.json",
    "/v1/targets/wso2am-4.2.0/..%2f..%2fkeys/0/x",
    "/../canary.txt",
    "/v1/../../canary.txt",
    "/%2e%2e/canary.txt",
]


@pytest.mark.parametrize("target", TRAVERSALS)
@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_traversal_is_refused_with_400_and_nothing_leaks(
    published: Published, server: Server, target: str, with_token: bool
) -> None:
    headers = bearer(published.tokens["full"]) if with_token else {}
    status, raw = raw_get(server.url, target, headers)
    assert status == 400, raw[:300]
    assert published.canary.read_bytes() not in raw
    assert b"schema_version" not in raw  # repo.json
    assert b"PRIVATE KEY" not in raw


@pytest.mark.parametrize(
    "name",
    [
        "repo.json",
        "canary.txt",
        "1.root.json.pem",
        "1.ROOT.JSON",
        "0.root.json",
        "timestamp.json.bak",
        "-1.root.json",
        "1..root.json",
        "1.root.json%0A",
        "%20timestamp.json",
        "timestamp.json ",
    ],
)
def test_metadata_names_outside_the_pattern_are_400(
    published: Published, client: httpx.Client, name: str
) -> None:
    r = client.get(f"/v1/metadata/{name}", headers=bearer(published.tokens["full"]))
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"detail"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/blobs/" + "a" * 63,
        "/v1/blobs/" + "A" * 64,
        "/v1/blobs/" + "a" * 64 + ".zst",
        "/v1/blobs/" + "g" * 64,
        "/v1/targets/WSO2AM-4.2.0/full/0/" + "0" * 64 + ".manifest.json",
        "/v1/targets/wso2am-4.2.0/nightly/0/" + "0" * 64 + ".manifest.json",
        "/v1/targets/wso2am-4.2.0/full/01/" + "0" * 64 + ".manifest.json",
        "/v1/targets/wso2am-4.2.0/full/-1/" + "0" * 64 + ".manifest.json",
        "/v1/targets/wso2am-4.2.0/full/0/manifest.json",
        "/v1/targets/wso2am-4.2.0/full/0/" + "0" * 64 + ".keys.json",
    ],
)
def test_other_names_outside_their_patterns_are_400(
    published: Published, client: httpx.Client, path: str
) -> None:
    assert client.get(path, headers=bearer(published.tokens["full"])).status_code == 400


def _plant(link: Path, target: Path) -> None:
    if not link.is_symlink():
        os.symlink(target, link)


def test_symlinks_inside_the_repository_are_not_followed_out_of_their_area(
    published: Published, client: httpx.Client
) -> None:
    """A link under metadata/ to the canary, to a private key, or to repo.json is 404."""
    metadata = published.repo / "metadata"
    key = next((published.repo / "keys" / "timestamp").glob("*.pem"))
    _plant(metadata / "901.evil.json", published.canary)
    _plant(metadata / "902.evil.json", key)
    _plant(metadata / "903.evil.json", published.repo / "repo.json")
    _plant(metadata / "904.evil.json", Path("/etc/passwd"))
    token = bearer(published.tokens["full"])
    for n in range(901, 905):
        r = client.get(f"/v1/metadata/{n}.evil.json", headers=token)
        assert r.status_code == 404, r.text
        assert b"CANARY" not in r.content
        assert b"PRIVATE KEY" not in r.content


def test_a_fifo_in_the_repository_is_not_waited_on(
    published: Published, client: httpx.Client
) -> None:
    fifo = published.repo / "metadata" / "905.fifo.json"
    if not fifo.exists():
        os.mkfifo(fifo)
    r = client.get("/v1/metadata/905.fifo.json", headers=bearer(published.tokens["full"]))
    assert r.status_code == 404
