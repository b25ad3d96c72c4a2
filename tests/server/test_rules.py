"""The pure rules of the server: path refusal, URI classification for nginx, byte ranges and
entity tags. Property tests check them over generated input."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uplevel.server import names
from uplevel.server.conditional import (
    UNSATISFIABLE,
    ByteRange,
    name_etag,
    not_modified,
    range_applies,
    requested_range,
    stat_etag,
)

SHA = "ab" * 32


@pytest.mark.parametrize(
    "path",
    [
        "/v1/metadata/../x",
        "/v1/metadata/%2e%2e/x",
        "/v1/metadata/%2E%2e/x",
        "/v1/metadata/.%2E/x",
        "/v1/metadata/%252e%252e/x",
        "/v1/metadata/%25252e%25252e/x",
        "/v1/metadata/a\\b",
        "/v1/metadata/a%5cb",
        "/v1/metadata/a%00b",
        "/v1/metadata/a\x00b",
        "/v1/metadata//etc/passwd",
        "/v1/metadata/%2fetc",
        "/v1/metadata/a%2Fb",
        "v1/metadata/x",
        "",
    ],
)
def test_refusal_catches_every_spelling_of_escape(path: str) -> None:
    assert names.refusal(path) is not None


@pytest.mark.parametrize(
    "path",
    ["/health", "/v1/metadata/1.root.json", f"/v1/blobs/{SHA}", "/v1/targets/a-1.0%2B1/full/0/x"],
)
def test_refusal_lets_plain_paths_through(path: str) -> None:
    assert names.refusal(path) is None


@given(st.text(alphabet="./%25ec\\x0-", max_size=30))
def test_nothing_refusal_accepts_decodes_to_a_climb(tail: str) -> None:
    path = "/v1/metadata/" + tail
    if names.refusal(path) is None:
        decoded = path
        for _ in range(5):
            decoded = unquote(decoded)
        assert ".." not in decoded and "\\" not in decoded and "\x00" not in decoded


def test_classify_names_each_kind_of_content() -> None:
    md = names.classify("/v1/metadata/3.snapshot.json?x=1")
    assert md == names.Resource(kind="metadata", name="3.snapshot.json")
    target = names.classify(f"/v1/targets/wso2am-4.2.0/security/12/{SHA}.update.json")
    assert target is not None
    assert (target.kind, target.product, target.channel, target.level) == (
        "target",
        "wso2am-4.2.0",
        "security",
        12,
    )
    blob = names.classify(f"/v1/blobs/{SHA}")
    assert blob is not None and blob.sha256 == SHA
    # Percent-encoding a legal character names the same file, as nginx decodes it.
    encoded = names.classify(
        "/v1/targets/" + quote("wso2am-4.2.0+1", safe="") + "/full/0/" + SHA + ".manifest.json"
    )
    assert encoded is not None and encoded.product == "wso2am-4.2.0+1"


@pytest.mark.parametrize(
    "uri",
    [
        "/v1/metadata/./1.root.json",
        "/v1/metadata/1.root.json/",
        "/v1/metadata/1.root.json%0a",
        "/v1/metadata/%ff.json",
        f"/v1/blobs/{SHA}.zst",
        f"/v1/blobs/{SHA.upper()}",
        f"/v1/targets/wso2am-4.2.0/full/01/{SHA}.manifest.json",
        f"/v1/targets/wso2am-4.2.0/beta/0/{SHA}.manifest.json",
        "/v1/auth",
        "/repo.json",
    ],
)
def test_classify_refuses_anything_else(uri: str) -> None:
    assert names.classify(uri) is None


def test_patterns_match_whole_values_only() -> None:
    assert names.matches(names.METADATA_NAME, "timestamp.json")
    assert not names.matches(names.METADATA_NAME, "timestamp.json\n")
    assert names.matches(names.LEVEL, "0") and not names.matches(names.LEVEL, "00")


# --- ranges and tags --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, ByteRange(0, 0)),
        ("bytes=2-", 10, ByteRange(2, 9)),
        ("bytes=-3", 10, ByteRange(7, 9)),
        ("bytes=-30", 10, ByteRange(0, 9)),
        ("bytes=5-100", 10, ByteRange(5, 9)),
        ("bytes=10-", 10, UNSATISFIABLE),
        ("bytes=-0", 10, UNSATISFIABLE),
        ("bytes=0-", 0, UNSATISFIABLE),
        ("bytes=-1", 0, UNSATISFIABLE),
        ("bytes=3-2", 10, None),
        ("bytes=0-1,3-4", 10, None),
        ("bytes=١-٢", 10, None),  # non-ASCII digits are not digits here
        ("lines=0-1", 10, None),
    ],
)
def test_requested_range(header: str | None, size: int, expected: object) -> None:
    assert requested_range(header, size) == expected


@given(
    header=st.one_of(
        st.from_regex(r"\Abytes=[0-9]{0,12}-[0-9]{0,12}\Z"),
        st.text(max_size=30),
    ),
    size=st.integers(min_value=0, max_value=10**12),
)
def test_any_range_is_inside_the_file_or_refused(header: str, size: int) -> None:
    got = requested_range(header, size)
    if isinstance(got, ByteRange):
        assert 0 <= got.start <= got.end < size
        assert got.length == got.end - got.start + 1
    else:
        assert got in (None, UNSATISFIABLE)


def test_entity_tags() -> None:
    tag = name_etag(SHA)
    assert tag == f'"{SHA}"'
    assert stat_etag(0x10, 0x20) == '"10-20"'
    assert not_modified(tag, tag) and not_modified(f"W/{tag}", tag)
    assert not_modified(f'"x", {tag}', tag) and not_modified("*", tag)
    assert not not_modified('"x"', tag) and not not_modified(None, tag)
    assert range_applies(None, tag) and range_applies(tag, tag)
    assert not range_applies(f"W/{tag}", tag)
    assert not range_applies("Wed, 21 Oct 2015 07:28:00 GMT", tag)
    assert not range_applies(f"{tag}, {tag}", tag)
