"""Three-way merge of Java .properties files (log4j2.properties and the like), key by key.

A setting is a key; its value is the key's value as `java.util.Properties.load` reads it
(escapes decoded, continuation lines joined), so `a=1`, `a : 1` and `a 1` are the same
setting and formatting-only edits never conflict. A key given more than once takes its last
value, as Java does. List values such as log4j2's `appenders = A, B` are plain values: both
sides changing one differently is a conflict.

The parser keeps the exact bytes of every logical line (a key with its continuation lines, a
comment, a blank line), so everything the merge does not touch stays byte-for-byte as it is
in `ours`. The line merge (`merge_text`) is tried first and kept only if it is clean and reads
back to exactly the setting-level result. Otherwise `ours` is edited line by line: changed
values take upstream's line, deleted keys go, and upstream's comment and blank lines (added,
removed, edited; a key it commented out or uncommented) are replayed at the place they have
upstream, whatever the operator changed next to them, in clean and conflicted merges alike.
A setting only one side touched is never a conflict; a conflict keeps only that setting at the
operator's value. A UTF-8 BOM is no part of the first key; the result has one if `ours` has.

Pure: bytes in, MergeResult out. The only inputs refused (UnparsableInput) are those Java
refuses too (a malformed `\\uXXXX` escape) and binary data (a NUL byte); and, as a safety net,
an edited file that would not read back as the merged settings is refused as "merged" (the
caller then merges lines and says why) rather than returned with a change missing.
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
_BOM = b"\xef\xbb\xbf"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


@dataclass(frozen=True)
class _Item:
    """One logical line: its exact bytes, and its key and value if it is not a comment/blank."""

    raw: bytes
    key: str | None
    value: str | None
    open: bool = False  # a key line that ends the file on a continuation backslash


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
    # A BOM (a file saved on Windows) is not part of the first key: strip it from every side,
    # give the result the one ours has.
    bom = _BOM if ours.startswith(_BOM) else b""
    base, ours, theirs = _strip_bom(base), _strip_bom(ours), _strip_bom(theirs)
    b, o, t = _parse(base, "base"), _parse(ours, "ours"), _parse(theirs, "theirs")
    target, conflicts = _merge_settings(b.settings, o.settings, t.settings)
    # A clean line merge carries every line change of both sides; it is kept when it also
    # reads back to the setting-level result (a moved or duplicated key can fool it).
    text = merge_text(base, ours, theirs)
    if text.clean and _reads_as(text.merged, target):
        merged = text.merged
    else:
        merged = _apply(b, o, t, target, ours)
        if not _reads_as(merged, target):  # never hand back a file that lost a setting
            raise UnparsableInput("merged", "the edited file does not read back as merged")
    return MergeResult(merged=bom + merged, conflicts=tuple(conflicts), format=FORMAT)


def parse_properties(data: bytes) -> dict[str, str]:
    """The settings of a .properties file (key -> value, last occurrence wins)."""
    return dict(_parse(_strip_bom(data), "input").settings)


def _strip_bom(data: bytes) -> bytes:
    return data[len(_BOM) :] if data.startswith(_BOM) else data


def _reads_as(data: bytes, settings: dict[str, str]) -> bool:
    try:
        return _parse(data, "merged").settings == settings
    except UnparsableInput:
        return False


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
    """Edit ours' lines so that they read as `target` and carry upstream's comment lines.

    Lines are matched base↔ours and base↔theirs (a key line by its key, a comment or blank
    line by its text). Upstream's edits are then replayed on ours: a changed value takes
    upstream's line in place (so does a line upstream only re-spaced and ours left alone), a
    deleted key or comment line goes, and the lines upstream added go where they are upstream:
    comment lines that lead in to a line ours has go right before it; a run that starts with a
    key goes right after the line before it upstream; any other run (a block that starts with a
    comment or blank line) goes after the lines the operator added at that place too, so it
    never splits them from what they follow.
    """
    eol = _first_eol(ours) or _first_eol(b"".join(i.raw for i in t.items)) or b"\n"
    bo = _match(b.items, o.items)  # base index -> ours index
    tb = {j: i for i, j in _match(b.items, t.items).items()}  # theirs index -> base index
    ours_old = set(bo.values())
    pieces: list[_Item | None] = list(o.items)  # None: removed; theirs' line: upstream's value

    # Keys whose value must change or go: the operator did not touch them, upstream did.
    for key, value in o.settings.items():
        if target.get(key) == value:
            # a line upstream only re-spaced and the operator left alone reads as upstream's
            if key in t.settings and key in b.settings:
                mine, old, new = (d.items[d.last_index(key)] for d in (o, b, t))
                if _same_line(mine, old) and not _same_line(new, old):
                    pieces[o.last_index(key)] = new
            continue
        last = o.last_index(key)
        for i, item in enumerate(o.items):
            if item.key == key and i != last:
                pieces[i] = None
        pieces[last] = t.items[t.last_index(key)] if key in target else None

    # Comment and blank lines of base that upstream removed (or edited: the new text is added).
    removed_upstream = set(range(len(b.items))) - set(tb.values())
    for bi in removed_upstream:
        oi = bo.get(bi)
        if oi is not None and o.items[oi].key is None:
            pieces[oi] = None

    # The same comment line added by both sides is added once.
    both_added = _match_added(o, t, ours_old, set(tb))

    def inserted(j: int, item: _Item) -> bool:
        if item.key is None:
            return j not in tb and j not in both_added
        return item.key in target and item.key not in o.settings and j == t.last_index(item.key)

    def in_ours(j: int, item: _Item) -> int | None:
        if item.key is not None:
            keep = item.key in o.settings and item.key in target
            return o.last_index(item.key) if keep else None
        oi = bo.get(tb[j]) if j in tb else both_added.get(j)
        return oi if oi is not None and pieces[oi] is not None else None

    # Upstream's new lines in runs; a run is placed by the lines around it upstream.
    runs: list[tuple[int, list[_Item], int | None]] = []  # (ours before, run, ours after)
    anchor: int = -1
    run: list[_Item] | None = None
    for j, item in enumerate(t.items):
        if inserted(j, item):
            if run is None:
                run = []
                runs.append((anchor, run, None))
            run.append(item)
            continue
        pos = in_ours(j, item)
        if pos is not None:
            if run is not None:
                runs[-1] = (anchor, run, pos)
            anchor, run = pos, None

    before: dict[int, list[_Item]] = {}  # ours index -> upstream lines right before it
    after: dict[int, list[_Item]] = {}  # ours index -> upstream lines right after it (-1: top)
    for prev, added, nxt in runs:
        if nxt is not None and all(x.key is None for x in added):
            # comment lines lead in to what follows them upstream
            before.setdefault(nxt, []).extend(added)
        elif added[0].key is not None:
            after.setdefault(prev, []).extend(added)
        else:
            # a block that starts with a comment or blank line goes after the lines the
            # operator added at the same place, so it never splits them from what they follow
            k = prev
            while k + 1 < len(pieces) and (k + 1 not in ours_old or pieces[k + 1] is None):
                k += 1
            after.setdefault(k, []).extend(added)

    out: list[tuple[_Item, bool]] = [(x, False) for x in after.get(-1, [])]  # (line, ours')
    for i, piece in enumerate(pieces):
        out.extend((x, False) for x in before.get(i, []))
        if piece is not None:
            out.append((piece, piece is o.items[i]))
        out.extend((x, False) for x in after.get(i, []))
    lines: list[bytes] = []
    for n, (item, own) in enumerate(out):
        raw = _close(item.raw) if item.open and n < len(out) - 1 else item.raw
        lines.append(raw if own else _adopt(raw, eol))
    return _join(lines, eol, keep_final_newline=ours.endswith((b"\n", b"\r")) or not ours)


def _same_line(a: _Item, b: _Item) -> bool:
    """The same bytes, whatever the line endings."""
    return _EOL.sub(b"\n", a.raw).rstrip(b"\n") == _EOL.sub(b"\n", b.raw).rstrip(b"\n")


def _close(raw: bytes) -> bytes:
    """A key line that ends the file on a continuation backslash, without it: Java reads the
    same value, and a line put after it no longer joins it."""
    body = raw.rstrip(b"\r\n")
    return body[:-1] + raw[len(body) :]


def _signature(item: _Item) -> tuple[str, str | bytes]:
    """What makes two lines the same line: a key line's key, a comment's text."""
    if item.key is not None:
        return ("key", item.key)
    return ("line", item.raw.rstrip(b"\r\n"))


def _match(a: tuple[_Item, ...], b: tuple[_Item, ...]) -> dict[int, int]:
    """Index in `a` -> index in `b` of the lines a line diff pairs up."""
    matcher = difflib.SequenceMatcher(
        None, [_signature(i) for i in a], [_signature(i) for i in b], autojunk=False
    )
    pairs: dict[int, int] = {}
    for i, j, n in matcher.get_matching_blocks():
        pairs.update(zip(range(i, i + n), range(j, j + n), strict=True))
    return pairs


def _match_added(o: _Doc, t: _Doc, ours_old: set[int], theirs_old: set[int]) -> dict[int, int]:
    """Theirs index -> ours index of comment lines (not blank ones) that both sides added."""
    ours_new = [i for i, x in enumerate(o.items) if i not in ours_old and _is_comment(x)]
    theirs_new = [j for j, x in enumerate(t.items) if j not in theirs_old and _is_comment(x)]
    pairs = _match(tuple(t.items[j] for j in theirs_new), tuple(o.items[i] for i in ours_new))
    return {theirs_new[j]: ours_new[i] for j, i in pairs.items()}


def _is_comment(item: _Item) -> bool:
    return item.key is None and bool(item.raw.strip())


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
        items.append(_Item(b"".join(lines[i:j]), key, value, open=n))
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
