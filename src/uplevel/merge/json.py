"""Three-way merge of JSON files by structure, keeping the operator's text.

The values merge with `tree.merge_values`; the output is the operator's file
(`ours`) with only the settings that changed rewritten in place: untouched
members, comments, whitespace, key order and escapes stay byte for byte. New
members go after the member that precedes them upstream, in the operator's
indentation and separator style. JSON with comments (`//`, `/* */`) and
trailing commas, as WSO2's Jaggery `site.json` files use, is accepted; comment
lines upstream added, removed or edited are carried like settings are. A UTF-8
BOM is as ours has it.
Duplicate keys are refused (UnparsableInput): which one wins is undefined.
"""

from __future__ import annotations

import json as _json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from uplevel.merge import tree
from uplevel.merge.result import MergeResult, UnparsableInput

FORMAT = "json"
_MAX_DEPTH = 200
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


# ---------------------------------------------------------------- syntax tree


@dataclass
class _Entry:
    """An object member or array item: `start` is the key (or value) start."""

    start: int
    key: str | None
    node: _Node
    comma: int | None = None  # offset of the comma that follows, if any


@dataclass
class _Node:
    kind: str  # "object" | "array" | "scalar"
    start: int
    end: int
    value: Any = None  # the plain value of the whole node
    entries: list[_Entry] = field(default_factory=list)


class _ParseError(Exception):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> _ParseError:
        line = self.text.count("\n", 0, self.pos) + 1
        col = self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1
        return _ParseError(f"{what} at line {line} column {col}")

    def skip(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                nl = text.find("\n", self.pos)
                self.pos = n if nl < 0 else nl + 1
            elif text.startswith("/*", self.pos):
                close = text.find("*/", self.pos + 2)
                if close < 0:
                    raise self.fail("unterminated comment")
                self.pos = close + 2
            else:
                return

    def document(self) -> _Node:
        self.skip()
        node = self.value(0)
        self.skip()
        if self.pos != len(self.text):
            raise self.fail("unexpected data after the document")
        return node

    def value(self, depth: int) -> _Node:
        if depth > _MAX_DEPTH:
            raise self.fail("nesting too deep")
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of input")
        c = self.text[self.pos]
        if c == "{":
            return self.container(depth, "object", "}")
        if c == "[":
            return self.container(depth, "array", "]")
        start = self.pos
        if c == '"':
            value = self.string()
            return _Node("scalar", start, self.pos, value)
        m = _NUMBER.match(self.text, self.pos)
        if m and m.end() > start:
            self.pos = m.end()
            return _Node("scalar", start, self.pos, _json.loads(m.group()))
        for word, val in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return _Node("scalar", start, self.pos, val)
        raise self.fail(f"unexpected character {c!r}")

    def string(self) -> str:
        start = self.pos
        i = start + 1
        text, n = self.text, len(self.text)
        while i < n and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        if i >= n:
            raise self.fail("unterminated string")
        self.pos = i + 1
        try:
            result = _json.loads(text[start : i + 1])
        except ValueError as exc:
            raise self.fail(f"bad string ({exc.args[0] if exc.args else exc})") from None
        assert isinstance(result, str)
        return result

    def container(self, depth: int, kind: str, close: str) -> _Node:
        node = _Node(kind, self.pos, self.pos)
        self.pos += 1
        values: Any = {} if kind == "object" else []
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail("unexpected end of input")
            if self.text[self.pos] == close:
                break
            if node.entries and node.entries[-1].comma is None:
                raise self.fail(f"expected ',' or {close!r}")
            entry_start = self.pos
            key: str | None = None
            if kind == "object":
                if self.text[self.pos] != '"':
                    raise self.fail("expected a string key")
                key = self.string()
                if key in values:
                    raise self.fail(f"duplicate key {key!r}")
                self.skip()
                if not self.text.startswith(":", self.pos):
                    raise self.fail("expected ':'")
                self.pos += 1
                self.skip()
            child = self.value(depth + 1)
            entry = _Entry(entry_start, key, child)
            node.entries.append(entry)
            if key is None:
                values.append(child.value)
            else:
                values[key] = child.value
            self.skip()
            if self.text.startswith(",", self.pos):
                entry.comma = self.pos
                self.pos += 1
        self.pos += 1
        node.end = self.pos
        node.value = values
        return node


def _decode(data: bytes, side: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnparsableInput(side, f"not UTF-8: {exc}") from None


def _parse(data: bytes, side: str) -> tuple[str, _Node]:
    text = _decode(data, side)
    try:
        return text, _Parser(text).document()
    except _ParseError as exc:
        raise UnparsableInput(side, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise UnparsableInput(side, "invalid JSON: nesting too deep") from None


# ---------------------------------------------------------------- style


@dataclass(frozen=True)
class _Style:
    nl: str
    unit: str  # one level of indentation
    colon: str  # between key and value
    multiline: bool


def _line_indent(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _own_line(text: str, pos: int) -> bool:
    start = text.rfind("\n", 0, pos) + 1
    return text[start:pos].strip(" \t\ufeff") == ""


def _walk(node: _Node) -> list[_Node]:
    out = [node]
    for e in node.entries:
        out.extend(_walk(e.node))
    return out


def _style(text: str, root: _Node) -> _Style:
    units: Counter[str] = Counter()
    colons: Counter[str] = Counter()
    for node in _walk(root):
        for e in node.entries:
            if e.key is not None:
                gap = text[e.start : e.node.start]
                sep = gap[len(_json.dumps(e.key)) :] if gap.startswith('"') else ""
                if sep.strip() == ":" and "\n" not in sep:
                    colons[sep] += 1
            if _own_line(text, e.start):
                outer, inner = _line_indent(text, node.start), _line_indent(text, e.start)
                if inner.startswith(outer) and len(inner) > len(outer):
                    units[inner[len(outer) :]] += 1
    return _Style(
        nl="\r\n" if "\r\n" in text else "\n",
        unit=units.most_common(1)[0][0] if units else "  ",
        colon=colons.most_common(1)[0][0] if colons else ": ",
        multiline="\n" in text.strip(),
    )


# ---------------------------------------------------------------- writing


def _scalar(value: Any) -> str:
    try:
        out = _json.dumps(value, ensure_ascii=False)
        out.encode("utf-8")
    except UnicodeEncodeError:
        out = _json.dumps(value)
    return out


class _Writer:
    def __init__(self, text: str, style: _Style, donor_text: str) -> None:
        self.text = text
        self.style = style
        self.donor_text = donor_text

    # new text for a value, at a line indented by `indent`
    def serialize(self, value: Any, donor: _Node | None, indent: str) -> str:
        if donor is not None and not tree.same(donor.value, value):
            donor = None
        if isinstance(value, dict):
            if not value:
                return "{}"
            inner = indent + self.style.unit
            by_key = {e.key: e.node for e in donor.entries} if donor is not None else {}
            parts = [
                inner + _scalar(k) + self.style.colon + self.serialize(v, by_key.get(k), inner)
                for k, v in value.items()
            ]
            return self._wrap("{", "}", parts, indent)
        if isinstance(value, list):
            if not value:
                return "[]"
            inner = indent + self.style.unit
            nodes = [e.node for e in donor.entries] if donor is not None else []
            parts = [
                inner + self.serialize(v, nodes[i] if i < len(nodes) else None, inner)
                for i, v in enumerate(value)
            ]
            return self._wrap("[", "]", parts, indent)
        if donor is not None and donor.kind == "scalar":
            return self.donor_text[donor.start : donor.end]
        return _scalar(value)

    def _wrap(self, open_: str, close: str, parts: list[str], indent: str) -> str:
        if not self.style.multiline:
            return open_ + ", ".join(p.strip(" \t") for p in parts) + close
        nl = self.style.nl
        return open_ + nl + ("," + nl).join(parts) + nl + indent + close

    # ours' text for `node`, rewritten to hold `want`
    def render(self, node: _Node, want: Any, donor: _Node | None) -> str:
        if tree.same(node.value, want):
            return self.text[node.start : node.end]
        odd = any(
            e.comma is not None and "\n" in self.text[e.node.end : e.comma] for e in node.entries
        )
        if odd:  # comma-first layout: rewrite this container whole
            pass
        elif node.kind == "object" and isinstance(want, dict):
            return self._object(node, want, donor)
        elif node.kind == "array" and isinstance(want, list):
            return self._array(node, want, donor)
        return self.serialize(want, donor, _line_indent(self.text, node.start))

    def _object(self, node: _Node, want: dict[str, Any], donor: _Node | None) -> str:
        mine = {e.key: i for i, e in enumerate(node.entries)}
        theirs = (
            {e.key: e.node for e in donor.entries}
            if donor is not None and donor.kind == "object"
            else {}
        )
        order = tree.order_keys(list(mine), list(want), want)
        blocks: list[tuple[int | None, str]] = []
        for k in order:
            assert isinstance(k, str)
            i = mine.get(k)
            if i is not None:
                e = node.entries[i]
                head = self.text[e.start : e.node.start]
                blocks.append((i, head + self.render(e.node, want[k], theirs.get(k))))
            else:
                indent = self._child_indent(node)
                body = self.serialize(want[k], theirs.get(k), indent)
                blocks.append((None, _scalar(k) + self.style.colon + body))
        return self._assemble(node, blocks)

    def _array(self, node: _Node, want: list[Any], donor: _Node | None) -> str:
        mine = [e.node.value for e in node.entries]
        to_mine = {j: i for i, j in tree.align(mine, want) if j is not None}
        to_donor: dict[int, int] = {}
        if donor is not None and donor.kind == "array":
            donor_items = [e.node.value for e in donor.entries]
            to_donor = {
                j: i for i, j in tree.align(donor_items, want) if j is not None and i is not None
            }
        blocks: list[tuple[int | None, str]] = []
        for j, value in enumerate(want):
            d = to_donor.get(j)
            d_node = donor.entries[d].node if donor is not None and d is not None else None
            i = to_mine.get(j)
            if i is not None:
                blocks.append((i, self.render(node.entries[i].node, value, d_node)))
            else:
                blocks.append((None, self.serialize(value, d_node, self._child_indent(node))))
        return self._assemble(node, blocks)

    def _child_indent(self, node: _Node) -> str:
        for e in node.entries:
            if _own_line(self.text, e.start):
                return _line_indent(self.text, e.start)
        return _line_indent(self.text, node.start) + self.style.unit

    def _assemble(self, node: _Node, blocks: list[tuple[int | None, str]]) -> str:
        """Open bracket, the blocks with their original surroundings, close bracket.

        Each kept entry carries the text before it from its line start (comments above
        it, indentation) and after it up to its line end (comma, end-of-line comment).
        """
        text, nl = self.text, self.style.nl
        open_, close = text[node.start], text[node.end - 1]
        entries = node.entries
        if not blocks:
            return open_ + close
        if not entries:
            if not self.style.multiline:
                return open_ + ", ".join(b for _, b in blocks) + close
            indent = self._child_indent(node)
            inner = ("," + nl).join(indent + b for _, b in blocks)
            return open_ + nl + inner + nl + _line_indent(text, node.start) + close
        ends = [e.node.end for e in entries]
        nexts = [e.start for e in entries[1:]] + [node.end - 1]
        gaps = [text[a:b] for a, b in zip(ends, nexts, strict=True)]
        lead = text[node.start + 1 : entries[0].start]
        multiline = any("\n" in g for g in [lead, *gaps])
        sp = "" if len(gaps) > 1 and all(g == "," for g in gaps[:-1]) else " "
        lead_head, lead_tail, lead_ls = _split_gap(lead)
        _, last_tail, last_ls = _split_gap(gaps[-1])
        trailing = entries[-1].comma is not None
        indent = self._child_indent(node)
        out: list[str] = [open_, lead_head]

        def ends_with(s: str) -> bool:
            for piece in reversed(out):
                if piece:
                    return piece.endswith(s)
            return False

        for n, (i, body) in enumerate(blocks):
            need = n < len(blocks) - 1 or trailing
            if i is None:
                tail, ls = (indent, True) if multiline else ("", False)
                head = ("," if need else "") + (nl if multiline else "")
            else:
                if i == 0:
                    tail, ls = lead_tail, lead_ls
                else:
                    _, tail, ls = _split_gap(gaps[i - 1])
                head = _split_gap(gaps[i])[0]
                has = entries[i].comma is not None
                if has and not need:
                    k = (entries[i].comma or 0) - entries[i].node.end
                    head = head[:k] + head[k + 1 :]
                elif need and not has:
                    head = "," + head
            if ls and not ends_with("\n"):
                out.append(nl)
            elif not ls and not tail and ends_with(","):
                out.append(sp)
            out += [tail, body, head]
        if last_ls and not ends_with("\n"):
            out.append(nl)
        out += [last_tail, close]
        return "".join(out)


def _split_gap(gap: str) -> tuple[str, str, bool]:
    """(up to and including the first newline, the rest, whether there was a newline)."""
    k = gap.find("\n")
    if k < 0:
        return gap, "", False
    return gap[: k + 1], gap[k + 1 :], True


# ---------------------------------------------------------------- merge


def merge_json(base: bytes, ours: bytes, theirs: bytes) -> MergeResult:
    """Three-way merge of JSON documents; `merged` is ours' text with the merged settings
    and upstream's comment-line edits. A UTF-8 BOM is kept exactly as ours has it."""
    return tree.bom_as_ours(_merge, base, ours, theirs)


def _is_comment(line: str) -> bool:
    text = line.strip()
    return text.startswith("//") or (text.startswith("/*") and text.endswith("*/"))


def _merge(base: bytes, ours: bytes, theirs: bytes) -> MergeResult:
    b_text, b = _parse(base, "base")
    o_text, o = _parse(ours, "ours")
    t_text, t = _parse(theirs, "theirs")
    if ours == base or theirs == ours:
        return MergeResult(merged=theirs, conflicts=(), format=FORMAT)
    if theirs == base:
        return MergeResult(merged=ours, conflicts=(), format=FORMAT)
    merged, conflicts = tree.merge_values(b.value, o.value, t.value)
    style = _style(o_text, o)
    writer = _Writer(o_text, style, t_text)
    text = o_text[: o.start] + writer.render(o, merged, t) + o_text[o.end :]
    if _holds(text, merged):
        text = tree.carry_comments(
            b_text, o_text, text, t_text, _is_comment, lambda c: _holds(c, merged)
        )
    else:  # never expected; a plain rewrite in ours' style is still correct
        body = writer.serialize(merged, None, "")
        text = o_text[: o.start] + body + (style.nl if ours.endswith(b"\n") else "")
    return MergeResult(merged=text.encode("utf-8"), conflicts=conflicts, format=FORMAT)


def _holds(text: str, value: Any) -> bool:
    """`text` parses to `value`."""
    try:
        return tree.same(_Parser(text).document().value, value)
    except (_ParseError, RecursionError):
        return False
