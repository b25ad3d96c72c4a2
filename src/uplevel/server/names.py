"""What a request may name: strict patterns for every path parameter, and the traversal rule.

Pure (no I/O). Every file the server opens is built from parts that matched one of
these patterns, and every request path first passes `refusal`, so a name can never
climb out of the repository however it is spelled (`..`, `%2e%2e`, `%252e%252e`,
a backslash, a NUL, an encoded or doubled slash). The same rules classify the
original URI that nginx asks about (`/v1/auth`), so nginx never serves a file
that uplevel did not see and approve under the very same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from uplevel.core.updateinfo import PRODUCT_RE

SHA256 = r"^[0-9a-f]{64}$"
PRODUCT = PRODUCT_RE.pattern
CHANNEL = r"^(?:full|security)$"
LEVEL = r"^(?:0|[1-9][0-9]{0,8})$"
TARGET_FILE = r"^[0-9a-f]{64}\.(?:manifest|update)\.json$"
METADATA_NAME = r"^(?:root|timestamp|[1-9][0-9]{0,9}\.[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.json$"
"""`timestamp.json`, `root.json` (the newest root, for bootstrapping), `N.<role>.json`."""

_MAX_DECODE_ROUNDS = 4
"""Percent-decoding is repeated so that double-encoded dots (`%252e`) are caught too."""


def _inner(pattern: str) -> str:
    return pattern.removeprefix("^").removesuffix("$")


_METADATA_URI = re.compile(rf"/v1/metadata/(?P<name>{_inner(METADATA_NAME)})")
_TARGET_URI = re.compile(
    rf"/v1/targets/(?P<product>{_inner(PRODUCT)})/(?P<channel>{_inner(CHANNEL)})"
    rf"/(?P<level>{_inner(LEVEL)})/(?P<file>{_inner(TARGET_FILE)})"
)
_BLOB_URI = re.compile(rf"/v1/blobs/(?P<sha256>{_inner(SHA256)})")


def matches(pattern: str, value: str) -> bool:
    """`value` matches the whole pattern (no trailing-newline leniency of `$`)."""
    return re.fullmatch(_inner(pattern), value) is not None


def refusal(raw_path: str) -> str | None:
    """Why a request path must be refused before routing, or None when it is acceptable.

    `raw_path` is the path exactly as the client sent it (still percent-encoded).
    """
    if not raw_path.startswith("/"):
        return "the path is not absolute"
    stages = [raw_path]
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(stages[-1], errors="surrogateescape")
        if decoded == stages[-1]:
            break
        stages.append(decoded)
    for stage in stages:
        if "\x00" in stage:
            return "the path contains a NUL byte"
        if "\\" in stage:
            return "the path contains a backslash"
        if ".." in stage:
            return "the path contains '..'"
        if "//" in stage:
            return "the path contains an empty or absolute segment"
        if stage.count("/") != raw_path.count("/"):
            return "the path contains an encoded slash"
    return None


@dataclass(frozen=True, kw_only=True)
class Resource:
    """A content file of the HTTP API, named by its validated parts."""

    kind: Literal["metadata", "target", "blob"]
    name: str = ""
    product: str | None = None
    channel: str | None = None
    level: int | None = None
    sha256: str | None = None


def classify(uri: str) -> Resource | None:
    """The resource an original request URI names, or None when it names none (or unsafely).

    Used for nginx `auth_request`: the URI is `$request_uri` (path and query, still
    encoded). nginx serves the decoded, normalised path; refusing anything that
    normalisation would change makes the two names identical.
    """
    path = uri.split("?", 1)[0].split("#", 1)[0]
    if refusal(path) is not None:
        return None
    path = unquote(path, errors="replace")  # bad UTF-8 becomes U+FFFD: matches nothing
    if m := _METADATA_URI.fullmatch(path):
        return Resource(kind="metadata", name=m["name"])
    if m := _TARGET_URI.fullmatch(path):
        return Resource(
            kind="target",
            name=m["file"],
            product=m["product"],
            channel=m["channel"],
            level=int(m["level"]),
        )
    if m := _BLOB_URI.fullmatch(path):
        return Resource(kind="blob", name=m["sha256"], sha256=m["sha256"])
    return None
