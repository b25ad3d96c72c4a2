"""Manifests: the canonical form and digest are stable and exactly json.dumps's output."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from uplevel.core.manifest import Entry, Manifest

paths = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=12)
entries = st.one_of(
    st.builds(
        lambda m, n, h: Entry(kind="file", mode=m, size=n, sha256=h),
        st.integers(0, 0o7777),
        st.integers(0, 2**40),
        st.text("0123456789abcdef", min_size=64, max_size=64),
    ),
    st.builds(lambda t: Entry(kind="symlink", target=t), st.text(min_size=1, max_size=20)),
    st.builds(lambda m: Entry(kind="dir", mode=m), st.integers(0, 0o7777)),
)


@given(st.dictionaries(paths, entries, max_size=20))
def test_canonical_json_is_json_dumps_sorted_compact(items: dict[str, Entry]) -> None:
    m = Manifest(items)
    doc = {"schema_version": 1, "entries": {p: e.to_dict() for p, e in items.items()}}
    assert m.to_json_bytes() == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    again = Manifest.from_json_bytes(m.to_json_bytes())
    assert dict(again) == dict(m) and again.digest == m.digest


def test_digest_depends_on_every_field() -> None:
    base = Manifest({"a": Entry(kind="file", mode=0o644, size=1, sha256="0" * 64)})
    for other in (
        Entry(kind="file", mode=0o755, size=1, sha256="0" * 64),
        Entry(kind="file", mode=0o644, size=2, sha256="0" * 64),
        Entry(kind="file", mode=0o644, size=1, sha256="1" * 64),
        Entry(kind="symlink", target="x"),
    ):
        assert Manifest({"a": other}).digest != base.digest
