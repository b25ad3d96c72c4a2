"""HTTP validators and byte ranges (RFC 9110 §8.8, §13, §14), as pure functions.

No I/O: the file layer asks these what to send, so every header corner case is
tested without a socket. Only what uplevel's clients need is supported — one range
per request (`bytes=a-b`, `a-`, `-n`) and strong entity tags. Anything else in a
Range header is ignored and the whole file is sent, which RFC 9110 allows and which
is what nginx does with `max_ranges 1`, so both fronts answer alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*", re.IGNORECASE | re.ASCII)
_ENTITY_TAG = re.compile(r'(W/)?("[\x21\x23-\x7e\x80-\xff]*")')

Unsatisfiable = Literal["unsatisfiable"]
UNSATISFIABLE: Unsatisfiable = "unsatisfiable"


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` of a file, both inclusive (as Content-Range counts them)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def unsatisfied_content_range(size: int) -> str:
    return f"bytes */{size}"


def requested_range(header: str | None, size: int) -> ByteRange | Unsatisfiable | None:
    """The one range a Range header asks for in a file of `size` bytes.

    None means "send the whole file": no header, several ranges, or a malformed one.
    """
    if header is None:
        return None
    m = _RANGE.fullmatch(header)
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            return UNSATISFIABLE
        return ByteRange(max(0, size - n), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    end = size - 1 if not last else min(int(last), size - 1)
    return ByteRange(start, end)


def name_etag(content_name: str) -> str:
    """A strong tag for a content-addressed file: its name already changes with its bytes."""
    return f'"{content_name}"'


def stat_etag(mtime_ns: int, size: int) -> str:
    """A strong tag for a file replaced in place (metadata): nanosecond mtime and size.

    Nanoseconds, not nginx's seconds: the timestamp can be re-signed twice within a
    second at the same size, and a client must then not be told "not modified".
    """
    return f'"{mtime_ns:x}-{size:x}"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match says the client already has this representation (weak comparison)."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag == etag for _, tag in _ENTITY_TAG.findall(if_none_match))


def range_applies(if_range: str | None, etag: str) -> bool:
    """If-Range allows a partial answer: absent, or naming exactly this strong tag.

    A date or a weak tag cannot prove the client's part is of these bytes, so the
    whole file is sent instead (a resumed download then restarts rather than mixes).
    """
    if if_range is None:
        return True
    m = _ENTITY_TAG.fullmatch(if_range.strip())
    return m is not None and not m.group(1) and m.group(2) == etag
