"""A TOML file as a sequence of units, each with the identity the merge matches it by.

A unit is one setting (`key = value`, however many lines its value spans), one table
header (`[a.b]`, `[[a.b]]`), or one other line (a comment, a blank line). A setting's
identity is its full path (`database.apim_db.url`, `gw.environment[name=Default].type`),
whatever its value, spelling or inline comment; a header's is its table (an array-of-tables
header names its element by the element's identity); any other line is itself. The TOML
engine merges these sequences with diff3, so an operator's edit of one setting never
touches, and never conflicts with, upstream's edits of its neighbours.

Pure: bytes in, units out. Text that this reader does not understand raises
UnitsUnreadable, and the engine then merges without units.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

_Seg = Any  # a key (str) or an element id, as the TOML engine spells them
_Path = tuple[_Seg, ...]


class UnitsUnreadable(ValueError):
    """The file uses TOML this reader does not split into units."""


@dataclass(frozen=True, slots=True)
class Unit:
    kind: str  # "setting" | "header" | "line"
    ident: Hashable  # what the diff matches on
    path: _Path  # a setting's path; a header's table path; () for a line
    text: bytes  # the physical line(s), line ends included


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_HEADER = re.compile(rb"^[ \t]*(\[\[?)")


def split_units(
    data: bytes,
    rules: dict[tuple[str, ...], tuple[str, ...] | None],
    element_id: Any,
) -> list[Unit]:
    """The units of `data`. `rules` and `element_id` are the engine's identity rules for
    arrays of tables, so that element ids here equal the engine's setting paths."""
    lines = data.splitlines(keepends=True)
    units: list[Unit] = []
    table: _Path = ()
    # the element segment currently open for each array of tables (by its instance path)
    current: dict[_Path, _Seg] = {}
    counts: dict[_Path, int] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        text = line.decode("utf-8")
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            units.append(Unit("line", ("line", text.rstrip()), (), line))
            i += 1
            continue
        if _HEADER.match(line):
            aot = stripped.startswith("[[")
            keys, _ = _read_key(stripped[2 if aot else 1 :], "]]" if aot else "]")
            prefix = _resolve(tuple(keys[:-1]), current)
            inst = (*prefix, keys[-1])
            if aot:
                schema = tuple(k for k in inst if isinstance(k, str))
                body = _element_body(lines, i + 1)
                fields = rules.get(schema)
                index = counts.get(inst, 0)
                counts[inst] = index + 1
                seg = element_id(body, index, fields)
                current = {k: v for k, v in current.items() if k[: len(inst)] != inst}
                current[inst] = seg
                table = (*inst, seg)
                units.append(Unit("header", ("aot", table), table, line))
            else:
                table = inst
                units.append(Unit("header", ("table", table), table, line))
            i += 1
            continue
        keys, rest = _read_key(stripped, "=")
        end = _value_end(lines, i, rest)
        path = (*table, *keys)
        units.append(Unit("setting", ("setting", path), path, b"".join(lines[i:end])))
        i = end
    return units


def _resolve(keys: tuple[str, ...], current: dict[_Path, _Seg]) -> _Path:
    """A header's parent keys with the open element of each array of tables they cross."""
    out: _Path = ()
    for key in keys:
        out = (*out, key)
        if out in current:
            out = (*out, current[out])
    return out


def _element_body(lines: list[bytes], start: int) -> dict[str, Any]:
    """The direct settings of an array-of-tables element (its lines up to the next header)."""
    chunk: list[bytes] = []
    for line in lines[start:]:
        if _HEADER.match(line):
            break
        chunk.append(line)
    try:
        return tomllib.loads(b"".join(chunk).decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UnitsUnreadable(str(exc)) from None


def _read_key(text: str, stop: str) -> tuple[list[str], str]:
    """A dotted key at the start of `text`, up to `stop`; returns the keys and what follows."""
    keys: list[str] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text):
            raise UnitsUnreadable(f"no {stop!r} after a key: {text!r}")
        ch = text[pos]
        if ch in "\"'":
            end = text.find(ch, pos + 1)
            while ch == '"' and end > 0 and _escaped(text, end):
                end = text.find(ch, end + 1)
            if end < 0:
                raise UnitsUnreadable(f"unterminated quoted key: {text!r}")
            raw = text[pos : end + 1]
            keys.append(tomllib.loads(f"k = {raw}")["k"] if ch == '"' else raw[1:-1])
            pos = end + 1
        else:
            m = _BARE_KEY.match(text, pos)
            if not m:
                raise UnitsUnreadable(f"not a key: {text!r}")
            keys.append(m.group())
            pos = m.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if text.startswith(stop, pos):
            return keys, text[pos + len(stop) :]
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        raise UnitsUnreadable(f"unexpected text in a key: {text!r}")


def _escaped(text: str, pos: int) -> bool:
    n = 0
    while pos - n - 1 >= 0 and text[pos - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _value_end(lines: list[bytes], i: int, rest: str) -> int:
    """The index of the line after the value that starts with `rest` on line i."""
    value = rest.lstrip()
    for quote in ('"""', "'''"):
        if value.startswith(quote):
            if value.find(quote, 3) >= 0 and _closed(value, quote):
                return i + 1
            j = i + 1
            while j < len(lines):
                if _closed(value + "\n" + b"".join(lines[i + 1 : j + 1]).decode("utf-8"), quote):
                    return j + 1
                j += 1
            raise UnitsUnreadable("unterminated multi-line string")
    if value.startswith(("[", "{")):
        depth = 0
        j = i
        text = value
        while True:
            depth = _depth(text, depth)
            if depth <= 0:
                return j + 1
            j += 1
            if j >= len(lines):
                raise UnitsUnreadable("unterminated array or inline table")
            text = lines[j].decode("utf-8")
    return i + 1


def _closed(text: str, quote: str) -> bool:
    """Whether a multi-line string that opens `text` is closed within it."""
    try:
        tomllib.loads("k = " + text)
    except tomllib.TOMLDecodeError:
        return False
    return True


def _depth(text: str, depth: int) -> int:
    """Bracket depth after `text`, skipping strings and comments."""
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "#":
            break
        if ch in "\"'":
            end = text.find(ch, pos + 1)
            while ch == '"' and end > 0 and _escaped(text, end):
                end = text.find(ch, end + 1)
            pos = len(text) if end < 0 else end + 1
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        pos += 1
    return depth
