"""Three-way merge of YAML files by structure, keeping the operator's comments and layout.

The settings merge with `tree.merge_values`. When the plain line merge is clean
and reads back as exactly those settings, it is the output (both sides' lines as
they wrote them). Otherwise the output is built from the operator's document (`ours`, loaded with ruamel.yaml's round-trip loader): only
the settings that changed are replaced, deleted or inserted (new keys after
their upstream predecessor, with upstream's node, quotes and comments). The
document is dumped with the indentation detected in the operator's file; then
the change from "ours dumped as is" to "ours dumped merged" is applied to the
operator's original text with the line merge, so every line the merge did not
touch stays byte for byte (spacing, quoting, trailing blanks ruamel would
normalise); where the two overlap, the dumped lines win. If that does not
reproduce the merged settings exactly, the plain dump is used, and if even that
does not (a few ruamel emitter bugs), UnparsableInput("ours", ...) is raised so
the caller falls back to the line merge rather than write a wrong file. Comment
lines are not settings: upstream's added, removed and edited ones are carried onto
that text afterwards, and where the emitter wrote upstream's change its own way
(flow lists, indentation) upstream's lines are put back, each step kept only if the
file still reads as the merged settings. A UTF-8 BOM is as ours has it.
Single-document files only (several documents, or a file that does not load,
raise UnparsableInput too).
"""

from __future__ import annotations

import copy
import datetime
import io
import itertools
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.tokens import CommentToken

from uplevel.merge import tree
from uplevel.merge.result import MergeResult, UnparsableInput
from uplevel.merge.text import merge_text

FORMAT = "yaml"
_MAX_NODES = 200_000  # alias expansion ("billion laughs") stops here
_KEY_LINE = re.compile(r"^( *)(?:- +)*[^\s#-][^#]*:\s*(?:#.*)?$")
_DASH_LINE = re.compile(r"^( *)- +(\S)")


@dataclass(frozen=True)
class _Tagged:
    tag: str
    value: Any


@dataclass(frozen=True)
class _Opaque:
    kind: str
    text: str


class _Rebuild(Exception):
    """A merged value cannot be expressed as a ruamel node."""


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class _Layout:
    mapping: int
    sequence: int
    offset: int
    explicit_start: bool
    crlf: bool


def _yaml(layout: _Layout | None = None) -> YAML:
    y = YAML(typ="rt", pure=True)
    y.preserve_quotes = True
    y.width = 4096
    if layout is not None:
        y.indent(mapping=layout.mapping, sequence=layout.sequence, offset=layout.offset)
        y.explicit_start = layout.explicit_start
        if layout.crlf:
            y.line_break = "\r\n"  # type: ignore[assignment]
    return y


def _layout(text: str, fallback: _Layout | None = None) -> _Layout:
    """Mapping indent and block-sequence indent/offset the file itself uses."""
    maps: Counter[int] = Counter()
    seqs: Counter[tuple[int, int]] = Counter()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for prev, line in itertools.pairwise(lines):
        m = _KEY_LINE.match(prev)
        if not m or prev.rstrip().endswith(("|", ">", "|-", ">-")):
            continue
        key_col = len(prev) - len(prev.lstrip(" -"))
        d = _DASH_LINE.match(line)
        if d:
            dash = len(d.group(1))
            if dash >= key_col:
                seqs[(d.start(2) - key_col, dash - key_col)] += 1
            continue
        col = len(line) - len(line.lstrip(" "))
        if col > key_col:
            maps[col - key_col] += 1
    mapping = maps.most_common(1)[0][0] if maps else (fallback.mapping if fallback else 2)
    if seqs:
        sequence, offset = seqs.most_common(1)[0][0]
    elif fallback is not None:
        sequence, offset = fallback.sequence, fallback.offset
    else:
        sequence, offset = mapping, 0
    sequence = max(sequence, offset + 2)
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    return _Layout(mapping, sequence, offset, first.startswith("---"), "\r\n" in text)


def _load(data: bytes, side: str) -> tuple[str, Any, Any]:
    """(text, round-trip document, plain value)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnparsableInput(side, f"not UTF-8: {exc}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            docs = list(_yaml().load_all(text))
    except RecursionError:
        raise UnparsableInput(side, "invalid YAML: nesting too deep") from None
    except Exception as exc:  # ruamel raises many types for bad input
        raise UnparsableInput(side, f"invalid YAML: {exc}") from None
    if len(docs) > 1:
        raise UnparsableInput(
            side, "several YAML documents in one file are not merged by structure"
        )
    doc = docs[0] if docs else None
    try:
        plain = _plain(doc, [0])
    except RecursionError:
        raise UnparsableInput(side, "invalid YAML: recursive alias") from None
    return text, doc, plain


def _plain(node: Any, count: list[int]) -> Any:
    count[0] += 1
    if count[0] > _MAX_NODES:
        raise UnparsableInput("?", "too many nodes after alias expansion")
    if isinstance(node, dict):
        return {_plain_key(k): _plain(v, count) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, count) for v in node]
    if isinstance(node, TaggedScalar):
        return _Tagged(str(node.tag), node.value)
    if isinstance(node, ScalarBoolean | bool):
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if node is None or isinstance(node, datetime.date):
        return node
    return _Opaque(type(node).__name__, repr(node))


def _plain_key(key: Any) -> Any:
    if isinstance(key, ScalarBoolean | bool):
        return bool(key)
    if isinstance(key, str):
        return str(key)
    if isinstance(key, int | float) and not isinstance(key, bool):
        return int(key) if isinstance(key, int) else float(key)
    if isinstance(key, tuple):
        return tuple(_plain_key(k) for k in key)
    return key


def _plain1(node: Any) -> Any:
    return _plain(node, [0])


# ---------------------------------------------------------------- comments


def _slot(container: Any, key: Any) -> tuple[Any, Any, int]:
    """Where ruamel keeps the comment after `container[key]`: the deepest last entry."""
    value = container[key]
    if isinstance(value, CommentedMap) and len(value):
        return _slot(value, list(value.keys())[-1])
    if isinstance(value, CommentedSeq) and len(value):
        return _slot(value, len(value) - 1)
    return container, key, 2 if isinstance(container, CommentedMap) else 0


def _get_comment(slot: tuple[Any, Any, int]) -> str:
    container, key, i = slot
    entry = container.ca.items.get(key)
    if not entry or len(entry) <= i or entry[i] is None:
        return ""
    return str(entry[i].value)


def _set_comment(slot: tuple[Any, Any, int], value: str) -> None:
    container, key, i = slot
    entry = container.ca.items.get(key)
    if not value:
        if entry and len(entry) > i:
            entry[i] = None
        return
    if not entry:
        entry = [None, None, None, None] if i == 2 else [None, None]
        container.ca.items[key] = entry
    if entry[i] is None:
        entry[i] = CommentToken(value, CommentMark(0))
    else:
        entry[i].value = value


def _split_comment(value: str) -> tuple[str, str]:
    """(end-of-line part including its newline, the full-line comments after it)."""
    k = value.find("\n")
    return (value, "") if k < 0 else (value[: k + 1], value[k + 1 :])


# ---------------------------------------------------------------- patching


def _patch(node: Any, want: Any, donor: Any) -> Any:
    """`node` (ours, ruamel) changed to hold `want`; `donor` is theirs' node there, if any."""
    if tree.same(_plain1(node), want):
        return node
    if want == {} or want == []:  # ruamel mis-places comments of emptied collections
        return CommentedMap() if isinstance(want, dict) else CommentedSeq()
    if isinstance(node, CommentedMap) and isinstance(want, dict) and not node.merge:
        _patch_map(node, want, donor if isinstance(donor, CommentedMap) else None)
        return node
    if isinstance(node, CommentedSeq) and isinstance(want, list):
        _patch_seq(node, want, donor if isinstance(donor, CommentedSeq) else None)
        return node
    if isinstance(node, ScalarString) and isinstance(want, str):
        return type(node)(want)
    return _make(want, donor)


def _patch_map(node: CommentedMap, want: dict[Any, Any], donor: CommentedMap | None) -> None:
    keys = {_plain_key(k): k for k in node}
    orphan = ""  # comment lines that preceded a deleted first key's successor
    for pk, k in list(keys.items()):
        if pk not in want:
            orphan = _delete_key(node, k) or orphan
            del keys[pk]
    for pk, k in keys.items():
        d = _donor_get(donor, pk)
        new = _patch(node[k], want[pk], d)
        if new is not node[k]:
            if isinstance(new, CommentedMap | CommentedSeq) and (
                not new or type(new) is not type(node[k])
            ):
                # ruamel mis-emits a key's comment before an emptied or retyped collection
                node.ca.items.pop(k, None)
            node[k] = new
    order = tree.order_keys(list(keys), list(want), want)
    for pos, pk in enumerate(order):
        if pk not in keys:
            _insert_key(node, pos, pk, want[pk], donor, orphan if pos == 0 else "")
            keys[pk] = pk


def _donor_get(donor: CommentedMap | None, pk: Any) -> Any:
    if donor is None:
        return None
    for k in donor:
        if _plain_key(k) == pk and type(_plain_key(k)) is type(pk):
            return donor[k]
    return None


def _delete_key(node: CommentedMap, key: Any) -> str:
    """Delete, moving the comments that preceded the next key onto the previous entry.

    Returns those comments when there is no previous entry (the key was first)."""
    keys = list(node.keys())
    pos = keys.index(key)
    _, after = _split_comment(_get_comment(_slot(node, key)))
    if pos > 0:
        prev = _slot(node, keys[pos - 1])
        eol, _ = _split_comment(_get_comment(prev))
        _set_comment(prev, eol + after if eol.endswith("\n") or not eol else eol + "\n" + after)
        after = ""
    del node[key]
    return after if len(keys) > 1 else ""


def _insert_key(
    node: CommentedMap, pos: int, pk: Any, value: Any, donor: CommentedMap | None, orphan: str
) -> None:
    keys = list(node.keys())
    new = _make(value, _donor_get(donor, pk))
    node.insert(pos, pk, new)
    # Comments: the lines before ours' next key stay before it; upstream's lines before
    # the new key come along from upstream's previous entry.
    if pos == 0 and orphan and keys:
        mine = _slot(node, pk)
        m_eol, _ = _split_comment(_get_comment(mine))
        _set_comment(mine, (m_eol if m_eol.endswith("\n") else m_eol + "\n") + orphan)
    if pos == 0 or donor is None:
        return
    dkeys = [k for k in donor if _plain_key(k) == pk]
    if not dkeys:
        return
    dpos = list(donor.keys()).index(dkeys[0])
    prev = _slot(node, keys[pos - 1])
    eol, before_next = _split_comment(_get_comment(prev))
    lead = (
        _split_comment(_get_comment(_slot(donor, list(donor.keys())[dpos - 1])))[1] if dpos else ""
    )
    _set_comment(prev, eol + lead if eol.endswith("\n") or not eol else eol + "\n" + lead)
    mine = _slot(node, pk)
    m_eol, _ = _split_comment(_get_comment(mine))
    if m_eol and not m_eol.endswith("\n"):
        m_eol += "\n"
    if before_next or m_eol:
        _set_comment(mine, (m_eol or "\n") + before_next if before_next else m_eol)


def _patch_seq(node: CommentedSeq, want: list[Any], donor: CommentedSeq | None) -> None:
    mine = [_plain1(v) for v in node]
    pairs = [(i, j) for i, j in tree.align(mine, want) if j is not None]
    to_donor: dict[int, int] = {}
    if donor is not None:
        theirs = [_plain1(v) for v in donor]
        to_donor = {j: i for i, j in tree.align(theirs, want) if i is not None and j is not None}
    values: list[Any] = []
    comments: dict[int, Any] = {}
    for i, j in sorted(pairs, key=lambda p: p[1] if p[1] is not None else -1):
        assert j is not None
        d = to_donor.get(j)
        d_node = donor[d] if donor is not None and d is not None else None
        if i is not None:
            values.append(_patch(node[i], want[j], d_node))
            if i in node.ca.items:
                comments[j] = node.ca.items[i]
        else:
            values.append(_make(want[j], d_node))
            if donor is not None and d is not None and d in donor.ca.items:
                comments[j] = donor.ca.items[d]
    list.clear(node)
    list.extend(node, values)
    node.ca.items.clear()
    node.ca.items.update(comments)


def _make(want: Any, donor: Any) -> Any:
    """A ruamel node for `want`, reusing theirs' node (style, comments) when it holds it."""
    if donor is not None and tree.same(_plain1(donor), want):
        node = copy.deepcopy(donor)
        if isinstance(node, CommentedMap | CommentedSeq) and node.ca.comment:
            node.ca.comment = None  # the comment on the key line stays with the key
        return node
    if isinstance(want, dict):
        out = CommentedMap()
        for k, v in want.items():
            out[k] = _make(v, _donor_get(donor, k) if isinstance(donor, CommentedMap) else None)
        return out
    if isinstance(want, list):
        items = list(donor) if isinstance(donor, CommentedSeq) else []
        return CommentedSeq(
            _make(v, items[i] if i < len(items) else None) for i, v in enumerate(want)
        )
    if isinstance(want, _Tagged | _Opaque):
        raise _Rebuild(repr(want))
    return want


# ---------------------------------------------------------------- merge


def _dump(y: YAML, doc: Any) -> str:
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


def _loads(data: bytes) -> Any:
    try:
        return _load(data, "merged")[2]
    except UnparsableInput:
        return _Opaque("invalid", repr(data))


_LABEL = "uplevel-yaml-splice"


def _splice(before: bytes, ours: bytes, after: bytes) -> bytes:
    """Apply the change before → after (both ruamel dumps) to the operator's own text.

    `before` is ours re-dumped, so ours differs from it only in formatting; where the
    line merge finds both touched the same lines, the dumped (`after`) lines win.
    """
    result = merge_text(
        before, ours, after, base_label=_LABEL, ours_label=_LABEL, theirs_label=_LABEL
    )
    if result.clean:
        return result.merged
    out: list[bytes] = []
    keep = True
    for line in result.merged.splitlines(keepends=True):
        mark = line.rstrip(b"\r\n")
        if mark in (b"<<<<<<< " + _LABEL.encode(), b"||||||| " + _LABEL.encode()):
            keep = False
        elif (mark == b"=======" and not keep) or mark == b">>>>>>> " + _LABEL.encode():
            keep = True
        elif keep:
            out.append(line)
    return b"".join(out)


def merge_yaml(base: bytes, ours: bytes, theirs: bytes) -> MergeResult:
    """Three-way merge of YAML documents; `merged` is ours' text with the merged settings
    and upstream's comment-line edits. A UTF-8 BOM is kept exactly as ours has it."""
    return tree.bom_as_ours(_merge, base, ours, theirs)


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _merge(base: bytes, ours: bytes, theirs: bytes) -> MergeResult:
    b_text, _, b = _load(base, "base")
    o_text, o_doc, o = _load(ours, "ours")
    t_text, t_doc, t = _load(theirs, "theirs")
    if ours == base or theirs == ours:
        return MergeResult(merged=theirs, conflicts=(), format=FORMAT)
    if theirs == base:
        return MergeResult(merged=ours, conflicts=(), format=FORMAT)
    if b is None and isinstance(o, dict) and isinstance(t, dict):
        b = {}  # an empty base document: both sides added their settings
    merged, conflicts = tree.merge_values(b, o, t)

    def holds(candidate: str) -> bool:
        return tree.same(_loads(candidate.encode("utf-8")), merged)

    def done(text: bytes) -> MergeResult:
        out = tree.carry_comments(b_text, o_text, text.decode("utf-8"), t_text, _is_comment, holds)
        out = tree.upstream_text(o_text, out, t_text, _is_comment, holds)
        return MergeResult(merged=out.encode("utf-8"), conflicts=conflicts, format=FORMAT)

    lines = merge_text(base, ours, theirs)  # both sides' own text, where it reads right
    if lines.clean and tree.same(_loads(lines.merged), merged):
        return MergeResult(merged=lines.merged, conflicts=conflicts, format=FORMAT)
    if tree.same(o, merged):
        return done(ours)
    if not isinstance(o_doc, dict | list) and tree.same(t, merged):
        return MergeResult(merged=theirs, conflicts=conflicts, format=FORMAT)
    y = _yaml(_layout(o_text, _layout(t_text)))
    try:
        if not isinstance(o_doc, dict | list):
            raise _Rebuild("scalar document")
        before = _dump(y, o_doc)
        after = _dump(y, _patch(o_doc, merged, t_doc))
    except Exception as exc:  # ruamel cannot represent the result: let the caller fall back
        raise UnparsableInput("ours", f"cannot be rewritten structurally: {exc}") from None
    spliced = _splice(before.encode("utf-8"), ours, after.encode("utf-8"))
    if tree.same(_loads(spliced), merged):
        return done(spliced)
    if not tree.same(_loads(after.encode("utf-8")), merged):
        raise UnparsableInput("ours", "the merged document does not round-trip")
    return done(after.encode("utf-8"))
