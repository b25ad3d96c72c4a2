"""Serving bytes: Range (206/416), resumed downloads, ETag and If-None-Match (304), If-Range,
headers, and what a repository's stored blobs look like on the wire."""

from __future__ import annotations

import random
import re

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.published import AM, Published
from tests.support.server import bearer


@pytest.fixture
def auth(published: Published) -> dict[str, str]:
    return bearer(published.tokens["full"])


def blob_url(published: Published, name: str) -> str:
    return f"/v1/blobs/{published.blobs[name].sha256}"


def test_whole_blob_with_length_tag_and_encoding(
    published: Published, client: httpx.Client
) -> None:
    for name, token in (("big", "full"), ("toml", "full"), ("identity", "other_product")):
        blob = published.blobs[name]
        r = client.get(blob_url(published, name), headers=bearer(published.tokens[token]))
        assert r.status_code == 200
        assert r.content == blob.stored
        assert int(r.headers["content-length"]) == len(blob.stored)
        assert r.headers["x-uplevel-encoding"] == blob.encoding
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["accept-ranges"] == "bytes"
        assert r.headers["etag"] == f'"{blob.path.name}"'
    assert published.blobs["big"].encoding == "raw"
    assert published.blobs["toml"].encoding == "zstd"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, None),
        ("bytes=-100", -100, None),
        ("bytes=5-5", 5, 5),
        ("bytes=1000-999999999999", 1000, None),
        ("bytes=-999999999999", 0, None),
        ("BYTES = 7 - 9", 7, 9),
    ],
)
def test_single_ranges_are_206_with_content_range(
    published: Published,
    client: httpx.Client,
    auth: dict[str, str],
    header: str,
    first: int,
    last: int | None,
) -> None:
    data = published.blobs["big"].stored
    size = len(data)
    r = client.get(blob_url(published, "big"), headers={**auth, "Range": header})
    assert r.status_code == 206
    start = first if first >= 0 else size + first
    end = size - 1 if last is None else last
    assert r.content == data[start : end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert int(r.headers["content-length"]) == end - start + 1


@pytest.mark.parametrize("template", ["bytes={size}-", "bytes=-0", "bytes={size}-{after}"])
def test_unsatisfiable_ranges_are_416_without_content(
    published: Published, client: httpx.Client, auth: dict[str, str], template: str
) -> None:
    size = len(published.blobs["big"].stored)
    header = template.format(size=size, after=size + 1)
    r = client.get(blob_url(published, "big"), headers={**auth, "Range": header})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"
    assert set(r.json()) == {"detail"}


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-9", "bytes=9-2", "items=0-9", "bytes=", "bytes=-", "bytes=a-b"]
)
def test_multiple_or_malformed_ranges_get_the_whole_file(
    published: Published, client: httpx.Client, auth: dict[str, str], header: str
) -> None:
    r = client.get(blob_url(published, "big"), headers={**auth, "Range": header})
    assert r.status_code == 200
    assert r.content == published.blobs["big"].stored


def _expected(header: str, size: int) -> tuple[int, int, int]:
    """(status, first, last) for `bytes=a-b` / `a-` / `-n` / `-`, worked out independently."""
    m = re.fullmatch(r"bytes=([0-9]*)-([0-9]*)", header)
    assert m is not None
    a, b = m.group(1), m.group(2)
    if not a and not b:
        return 200, 0, size - 1
    if not a:
        n = int(b)
        return (416, 0, 0) if n == 0 else (206, max(0, size - n), size - 1)
    if b and int(b) < int(a):
        return 200, 0, size - 1
    if int(a) >= size:
        return 416, 0, 0
    return 206, int(a), size - 1 if not b else min(int(b), size - 1)


@given(header=st.from_regex(r"\Abytes=[0-9]{0,6}-[0-9]{0,6}\Z"))
@settings(max_examples=80, deadline=None)
def test_any_single_range_is_answered_exactly(
    published: Published, client: httpx.Client, header: str
) -> None:
    blob = published.blobs["identity"]
    data = blob.stored
    r = client.get(
        f"/v1/blobs/{blob.sha256}",
        headers={**bearer(published.tokens["other_product"]), "Range": header},
    )
    status, first, last = _expected(header, len(data))
    assert r.status_code == status, header
    if status == 206:
        assert r.headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
        assert r.content == data[first : last + 1]
    elif status == 416:
        assert r.headers["content-range"] == f"bytes */{len(data)}"
    else:
        assert r.content == data


def test_a_download_resumed_in_random_pieces_reassembles_the_blob(
    published: Published, client: httpx.Client, auth: dict[str, str]
) -> None:
    data = published.blobs["big"].stored
    rng = random.Random(1234)
    received = bytearray()
    etag = None
    while len(received) < len(data):
        step = rng.choice([1, 17, 4096, 65536, 262144, 262145, 1 << 20])
        headers = {**auth, "Range": f"bytes={len(received)}-{len(received) + step - 1}"}
        if etag is not None:
            headers["If-Range"] = etag
        r = client.get(blob_url(published, "big"), headers=headers)
        assert r.status_code == 206
        etag = r.headers["etag"]
        received += r.content
    assert bytes(received) == data


def test_resuming_with_a_stale_tag_restarts_the_download(
    published: Published, client: httpx.Client, auth: dict[str, str]
) -> None:
    headers = {**auth, "Range": "bytes=10-", "If-Range": '"not-this-one"'}
    r = client.get(blob_url(published, "big"), headers=headers)
    assert r.status_code == 200
    assert r.content == published.blobs["big"].stored
    weak = {**auth, "Range": "bytes=10-", "If-Range": f"W/{r.headers['etag']}"}
    assert client.get(blob_url(published, "big"), headers=weak).status_code == 200


@pytest.mark.parametrize("kind", ["blob", "metadata", "target"])
def test_if_none_match_gives_304_without_body(
    published: Published, client: httpx.Client, auth: dict[str, str], kind: str
) -> None:
    path = {
        "blob": blob_url(published, "toml"),
        "metadata": "/v1/metadata/1.root.json",
        "target": published.target_url(AM, "full", 0, "manifest.json"),
    }[kind]
    first = client.get(path, headers=auth)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    for value in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        again = client.get(path, headers={**auth, "If-None-Match": value})
        assert again.status_code == 304, value
        assert again.content == b""
        assert again.headers["etag"] == etag
    changed = client.get(path, headers={**auth, "If-None-Match": '"other"'})
    assert changed.status_code == 200
    assert changed.content == first.content


def test_if_none_match_does_not_bypass_authorization(
    published: Published, client: httpx.Client
) -> None:
    path = blob_url(published, "toml")
    r = client.get(path, headers={"If-None-Match": "*"})
    assert r.status_code == 401


def test_metadata_tags_follow_the_file_and_caching_fits_each_kind(
    published: Published, client: httpx.Client, auth: dict[str, str]
) -> None:
    ts = client.get("/v1/metadata/timestamp.json", headers=auth)
    assert ts.headers["content-type"] == "application/json"
    assert ts.headers["cache-control"] == "private, no-cache"
    st = (published.repo / "metadata/timestamp.json").stat()
    assert ts.headers["etag"] == f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    versioned = client.get("/v1/metadata/1.root.json", headers=auth)
    assert "immutable" in versioned.headers["cache-control"]
    assert versioned.content == (published.repo / "metadata/1.root.json").read_bytes()
    root = client.get("/v1/metadata/root.json", headers=auth)
    assert root.status_code == 200
    assert root.headers["cache-control"] == "private, no-cache"


def test_health_needs_no_token(client: httpx.Client) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
