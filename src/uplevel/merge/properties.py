"""Three-way merge of Java .properties files (log4j2.properties and the like), key by key.

A setting is a key; its value is the key's value as `java.util.Properties.load` reads it
(escapes decoded, continuation lines joined), so `a=1`, `a : 1` and `a 1` are the same
setting and formatting-only edits never conflict. A key given more than once takes its last
value, as Java does. List values such as log4j2's `appenders = A, B` are plain values: both
sides changing one differently is a conflict.

The parser keeps the exact bytes of every logical line (a key with its continuation lines, a
comment, a blank line), so everything the merge does not touch stays byte-for-byte as it is
in `ours`. When there is no setting-level conflict, the line merge (`merge_text`) is tried
first and kept only if it is clean and reads back to exactly the setting-level result: it
carries upstream's comments and layout (lines upstream commented out, blocks it added).
Otherwise `ours` is edited key by key: changed values take upstream's line, deleted keys are
removed (replaced by upstream's commented-out line when upstream commented the key out), and
added keys go after the key that precedes them upstream, with the comment and blank lines
upstream put right before them.

Pure: bytes in, MergeResult out. The only inputs refused (UnparsableInput) are those Java
refuses too (a malformed `\\uXXXX` escape) and binary data (a NUL byte).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property

from uplevel.merge.result import MergeResult, SettingConflict, UnparsableInput
from uplevel.merge.text import merge_text

FORMAT = "properties"

_PHYSICAL = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)?")
_EOL = re.compile(rb"\r\n|\r|\n")
_WS = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


@dataclass(frozen=True)
class _Item:
    """One logical line: its exact bytes, and its key and value if it is not a comment/blank."""

    raw: bytes
    key: str | None
    value: str | None


@dataclass(frozen=True)
class _Doc:
    items: tuple[_Item, ...]
    settings: dict[str, str]  # key -> value of its last occurrence

    @cached_property
    def _last(self) -> dict[str, int]:
        return {item.key: i for i, item in enumerate(self.items) if item.key is not None}

    def last_index(self, key: str) -> int:
        return self._last[key]


def merge_properties(base: bytes, ours: bytes, theirs: bytes) -> MergeResult:
    """Merge three versions of a .properties file; conflicts keep the operator's value."""
    if ours == theirs or theirs == base:
        return MergeResult(merged=ours, conflicts=(), format=FORMAT)
    if ours == base:
        return MergeResult(merged=theirs, conflicts=(), format=FORMAT)
    b, o, t = _parse(base, "base"), _parse(ours, "ours"), _parse(theirs, "theirs")
    target, conflicts = _merge_settings(b.settings, o.settings, t.settings)
    # Upstream with the operator's value wherever they conflict: the line merge of that
    # carries upstream's comments and layout even when there are conflicts.
    resolved = theirs
    if conflicts:
        wanted = dict(t.settings)
        for c in conflicts:
            wanted.pop(c.path, None)
            if c.ours is not None:
                wanted[c.path] = c.ours
        resolved = _apply(b, t, o, wanted, theirs)
    text = merge_text(base, ours, resolved)
    if text.clean:
        try:
            if _parse(text.merged, "merged").settings == target:
                return MergeResult(merged=text.merged, conflicts=tuple(conflicts), format=FORMAT)
        except UnparsableInput:
            pass
    merged = _apply(b, o, t, target, ours)
    return MergeResult(merged=merged, conflicts=tuple(conflicts), format=FORMAT)


def parse_properties(data: bytes) -> dict[str, str]:
    """The settings of a .properties file (key -> value, last occurrence wins)."""
    return dict(_parse(data, "input").settings)


# --- setting-level merge ---------------------------------------------------------------


def _merge_settings(
    b: dict[str, str], o: dict[str, str], t: dict[str, str]
) -> tuple[dict[str, str], list[SettingConflict]]:
    """The merged settings (ours' value on conflict) and the conflicts, in ours' then theirs' order."""
    target: dict[str, str] = {}
    conflicts: list[SettingConflict] = []
    for key in _ordered_keys(o, t, b):
        bv, ov, tv = b.get(key), o.get(key), t.get(key)
        if ov == tv or tv == bv:
            value = ov
        elif ov == bv:
            value = tv
        else:
            value = ov
            conflicts.append(SettingConflict(path=key, base=bv, ours=ov, theirs=tv))
        if value is not None:
            target[key] = value
    return target, conflicts


def _ordered_keys(*maps: dict[str, str]) -> list[str]:
    seen: dict[str, None] = {}
    for m in maps:
        seen.update(dict.fromkeys(m))
    return list(seen)


# --- applying the result to ours -------------------------------------------------------


def _apply(b: _Doc, o: _Doc, t: _Doc, target: dict[str, str], ours: bytes) -> bytes:
    """Edit ours' lines so that they read as `target`, borrowing upstream's lines."""
    eol = _first_eol(ours) or _first_eol(b"".join(i.raw for i in t.items)) or b"\n"
    pieces: list[bytes | None] = [item.raw for item in o.items]  # None: removed
    after: dict[int, list[bytes]] = {}  # ours index -> lines inserted after it (-1: at the top)
    comment_outs: dict[str, bytes] | None = None  # read on first need

    # Keys whose value must change or go: the operator did not touch them, upstream did.
    for key, value in o.settings.items():
        if target.get(key) == value:
            continue
        last = o.last_index(key)
        for i, item in enumerate(o.items):
            if item.key == key and i != last:
                pieces[i] = None
        if key in target:
            pieces[last] = _adopt(t.items[t.last_index(key)].raw, eol)
        else:
            if comment_outs is None:
                comment_outs = _commented_out(t, o)
            comment = comment_outs.get(key)
            pieces[last] = None if comment is None else _adopt(comment, eol)

    # Keys upstream added: after the key that precedes them upstream, with their lead-in.
    new_in_theirs = _new_items(b, t)
    anchor = -1
    pending: list[bytes] = []  # comment/blank lines upstream added since its last key
    for j, item in enumerate(t.items):
        if item.key is None:
            pending = [*pending, item.raw] if j in new_in_theirs else []
            continue
        if item.key in target and item.key not in o.settings and j == t.last_index(item.key):
            after.setdefault(anchor, []).extend(_adopt(r, eol) for r in [*pending, item.raw])
        elif item.key in o.settings and item.key in target:
            anchor = o.last_index(item.key)
        pending = []

    out: list[bytes] = [*after.get(-1, [])]
    for i, piece in enumerate(pieces):
        if piece is not None:
            out.append(piece)
        out.extend(after.get(i, []))
    return _join(out, eol, keep_final_newline=ours.endswith((b"\n", b"\r")) or not ours)


def _commented_out(t: _Doc, o: _Doc) -> dict[str, bytes]:
    """Per key, upstream's first comment line that comments it out and that ours lacks."""
    ours_lines = {item.raw for item in o.items}
    found: dict[str, bytes] = {}
    for item in t.items:
        if item.key is None and item.raw not in ours_lines:
            text = item.raw.lstrip(b" \t\f")
            if text[:1] in (b"#", b"!"):
                try:
                    inner = _parse(text.lstrip(b"#! \t\f"), "comment").items
                except UnparsableInput:
                    continue
                if len(inner) == 1 and inner[0].key is not None:
                    found.setdefault(inner[0].key, item.raw)
    return found


def _new_items(b: _Doc, t: _Doc) -> set[int]:
    """Indexes of theirs' items that are not matched to a base item by a line diff."""
    matcher = difflib.SequenceMatcher(
        None, [i.raw for i in b.items], [i.raw for i in t.items], autojunk=False
    )
    old: set[int] = set()
    for _, j, n in matcher.get_matching_blocks():
        old.update(range(j, j + n))
    return set(range(len(t.items))) - old


def _join(pieces: list[bytes], eol: bytes, *, keep_final_newline: bool) -> bytes:
    """Join logical lines in ours' line ending; end with a newline only if ours did."""
    if not pieces:
        return b""
    out = [p if p.endswith((b"\n", b"\r")) else p + eol for p in pieces]
    data = b"".join(out)
    if not keep_final_newline:
        data = data[: -len(eol)] if data.endswith(eol) else data.rstrip(b"\r\n")
    return data


def _adopt(raw: bytes, eol: bytes) -> bytes:
    """Upstream's line in ours' line ending."""
    return _EOL.sub(eol, raw)


def _first_eol(data: bytes) -> bytes | None:
    m = _EOL.search(data)
    return m.group() if m else None


# --- parser ----------------------------------------------------------------------------


def _parse(data: bytes, side: str) -> _Doc:
    """Split into logical lines as java.util.Properties.load does, keeping their bytes."""
    if b"\0" in data:
        raise UnparsableInput(side, "binary data (NUL byte), not a .properties file")
    try:
        data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "latin-1"  # the Java default for .properties
    lines = [m.group() for m in _PHYSICAL.finditer(data) if m.group()]
    items: list[_Item] = []
    settings: dict[str, str] = {}
    i = 0
    while i < len(lines):
        first = lines[i].decode(encoding).rstrip("\r\n")
        start = first.lstrip(_WS)
        if not start or start[0] in "#!":
            items.append(_Item(lines[i], None, None))
            i += 1
            continue
        logical, n = _strip_continuation(first)
        j = i + 1
        while n and j < len(lines):
            nxt, n = _strip_continuation(lines[j].decode(encoding).rstrip("\r\n"))
            logical += nxt.lstrip(_WS)
            j += 1
        try:
            key, value = _split_key_value(logical)
        except ValueError as exc:
            raise UnparsableInput(side, f"line {i + 1}: {exc}") from None
        items.append(_Item(b"".join(lines[i:j]), key, value))
        settings.pop(key, None)
        settings[key] = value
        i = j
    return _Doc(tuple(items), settings)


def _strip_continuation(line: str) -> tuple[str, bool]:
    """The line without its continuation backslash, and whether it continues."""
    n = len(line) - len(line.rstrip("\\"))
    return (line[:-1], True) if n % 2 else (line, False)


def _split_key_value(line: str) -> tuple[str, str]:
    """Key and value of one logical line, escapes decoded (ValueError on a bad \\uXXXX)."""
    i = len(line) - len(line.lstrip(_WS))
    k = i
    while k < len(line) and line[k] not in "=:" + _WS:
        k += 2 if line[k] == "\\" else 1
    k = min(k, len(line))
    v = k
    while v < len(line) and line[v] in _WS:
        v += 1
    if v < len(line) and line[v] in "=:":
        v += 1
        while v < len(line) and line[v] in _WS:
            v += 1
    return _unescape(line[i:k]), _unescape(line[v:])


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(text):
            break  # a lone backslash at the very end reads as nothing
        e = text[i + 1]
        if e == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("malformed \\uxxxx encoding")
            out.append(chr(int(digits, 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(e, e))
            i += 2
    return "".join(out)
