"""Three-way merge of XML configuration files by structure (carbon.xml, axis2.xml, ...).

The merge never re-serialises a tree. All three inputs are checked with lxml
(entities unresolved, no network), then tokenised here with byte offsets. The
setting-level changes upstream made between base and theirs are applied to the
operator's file by splicing text spans of `ours`: attribute values replaced,
attributes added or cut, element text replaced, elements and comments copied in
from theirs (re-indented like ours) or cut out. Every byte nobody changed stays
as the operator left it.

Element identity among siblings: the tag plus the first identifying attribute
present (name, id, xml:id, key, className, class), else the text of a `<name>`
child (WSO2 datasources). Twins (same tag and identity, e.g. Tomcat's Connectors)
are told apart by content, never by position alone: each side's twins are matched
to base's (equal ones first, then the most alike), so a Connector inserted or
removed on one side shifts no other. An entry upstream renamed (identity changed,
the rest alike) keeps its identity: renamed in ours if the operator left it
alone, else one conflict on the entry. Setting paths look like
`/axisconfig/transportReceiver[@name='http']/parameter[@name='port']`,
`/Server/Service[@name='Catalina']/Connector[2]@port` (attribute; the number
counts base's twins) or `/datasources/datasource[name='WSO2_CARBON_DB']/url`.

A setting only one side changed, added or removed takes that side's value;
every upstream deletion is applied or is a conflict. A conflict keeps ours for
that setting only: every other change of both sides is still spliced in.

Comments, whitespace, quoting and attribute order are formatting: they never
conflict, and no comment text either side wrote is dropped. Upstream's comment
edits, additions and removals are applied where the operator left the comment
alone; when both edited one comment, or the operator deleted one upstream
edited, upstream's text is kept too (next to ours), since it documents the new
release.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from lxml import etree

from uplevel.merge.result import MergeResult, SettingConflict, UnparsableInput

FORMAT = "xml"

_ID_ATTRS = ("name", "id", "xml:id", "key", "className", "class")
_BOM = b"\xef\xbb\xbf"

_NAME = rb"[^\s<>/=\"'!?&;]+"
_STAG = re.compile(rb"<(" + _NAME + rb")")
_ATTR = re.compile(rb"(\s+)(" + _NAME + rb")\s*=\s*(\"[^\"]*\"|'[^']*')")
_STAG_END = re.compile(rb"\s*(/?)>")
_ETAG = re.compile(rb"</(" + _NAME + rb")\s*>")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_][\w.-]*);")
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_INDENT = re.compile(rb"[ \t]*")

# (tag, identity, ordinal); identity is None (positional), ("@", attr, value) or ("name", value).
# The ordinal counts base's twins (same tag and identity); a twin only one side has gets
# "o1", "t2", ... so that it never takes the place of a base twin it does not match.
_Ident = tuple[str, ...] | None
_Key = tuple[str, _Ident, int | str]
_SIMILAR = 0.5  # least similarity for a changed twin or a renamed entry to keep its identity


class _Malformed(Exception):
    """The tokenizer met something lxml let through but we cannot place (treated as unparsable)."""


@dataclass(eq=False)
class _Attr:
    name: str
    value: str  # normalised as an XML processor reports it
    pre: int  # start of the whitespace before the name
    start: int  # start of the name
    vstart: int  # opening quote
    end: int  # after the closing quote


@dataclass(eq=False)
class _Node:
    """An element, a comment, a text run, a processing instruction, a doctype or the document."""

    kind: str  # "doc" | "e" | "c" | "t" | "p" | "d"
    lead: int  # start of the whitespace before the item (end of the previous item)
    start: int
    end: int = -1
    tag: str = ""
    attrs: dict[str, _Attr] = field(default_factory=dict)
    slash: int = -1  # offset of "/" in a self-closing "/>", else -1
    content_start: int = -1
    content_end: int = -1
    children: list[_Node] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # decoded character data, whitespace kept
    text: str = ""  # normalised text of a non-element item
    prev_end: int = -1
    sem: Hashable = None  # cached canonical form without comments
    full: Hashable = None  # cached canonical form with comments

    @property
    def self_closing(self) -> bool:
        return self.slash >= 0

    @property
    def value(self) -> str:
        return "".join(self.texts).strip()

    @property
    def is_value(self) -> bool:
        """Simple content: character data and no child elements."""
        kinds = {c.kind for c in self.children}
        return "e" not in kinds and "t" in kinds


class _Doc:
    def __init__(self, data: bytes, side: str) -> None:
        self.data = data
        self.side = side
        self.encoding = _check(data, side)
        try:
            self.root = self._tokenize()
            _prime(self.root)
        except (_Malformed, UnicodeDecodeError, ValueError, OverflowError) as exc:
            raise UnparsableInput(side, f"cannot tokenize XML: {exc}") from exc

    def dec(self, raw: bytes) -> str:
        return raw.decode(self.encoding, errors="replace")

    def raw_text(self, node: _Node) -> str:
        return self.dec(self.data[node.start : node.end])

    def _tokenize(self) -> _Node:
        data = self.data
        n = len(data)
        pos = len(_BOM) if data.startswith(_BOM) else 0
        doc = _Node(kind="doc", lead=pos, start=pos, end=n, content_start=pos, content_end=n)
        doc.prev_end = pos
        stack = [doc]
        while pos < n:
            top = stack[-1]
            lt = data.find(b"<", pos)
            stop = n if lt < 0 else lt
            if stop > pos:
                self._text(top, pos, stop)
            if lt < 0:
                break
            if data.startswith(b"<!--", lt):
                end = _find(data, b"-->", lt + 4) + 3
                self._leaf(top, "c", lt, end, self.dec(data[lt + 4 : end - 3]))
            elif data.startswith(b"<![CDATA[", lt):
                end = _find(data, b"]]>", lt + 9) + 3
                inner = self.dec(data[lt + 9 : end - 3])
                if top.kind == "doc":
                    raise _Malformed("character data outside the root element")
                top.texts.append(inner)
                self._leaf(top, "t", lt, end, inner.strip())
            elif data.startswith(b"<?", lt):
                end = _find(data, b"?>", lt + 2) + 2
                self._leaf(top, "p", lt, end, self.dec(data[lt + 2 : end - 2]).replace("'", '"'))
            elif data.startswith(b"<!", lt):
                end = _doctype_end(data, lt)
                self._leaf(top, "d", lt, end, self.dec(data[lt:end]))
            elif data.startswith(b"</", lt):
                m = _ETAG.match(data, lt)
                if m is None or top.kind != "e" or self.dec(m.group(1)) != top.tag:
                    raise _Malformed(f"unexpected end tag at byte {lt}")
                top.content_end = lt
                top.end = m.end()
                stack.pop()
                stack[-1].prev_end = top.end
                end = top.end
            else:
                node = self._start_tag(top, lt)
                end = node.end if node.self_closing else node.content_start
                if not node.self_closing:
                    stack.append(node)
            pos = end
        if len(stack) != 1 or sum(c.kind == "e" for c in doc.children) != 1:
            raise _Malformed("not exactly one root element")
        return doc

    def _text(self, top: _Node, a: int, b: int) -> None:
        raw = self.data[a:b]
        stripped = raw.strip(b" \t\r\n")
        if top.kind == "doc":
            if stripped:
                raise _Malformed("character data outside the root element")
            return
        text = _unescape(self.dec(raw))
        top.texts.append(text)
        if stripped:
            s = a + (len(raw) - len(raw.lstrip(b" \t\r\n")))
            self._leaf(top, "t", s, s + len(stripped), text.strip())

    @staticmethod
    def _leaf(top: _Node, kind: str, start: int, end: int, text: str) -> None:
        top.children.append(_Node(kind=kind, lead=top.prev_end, start=start, end=end, text=text))
        top.prev_end = end

    def _start_tag(self, top: _Node, lt: int) -> _Node:
        data = self.data
        m = _STAG.match(data, lt)
        if m is None:
            raise _Malformed(f"bad start tag at byte {lt}")
        node = _Node(kind="e", lead=top.prev_end, start=lt, tag=self.dec(m.group(1)))
        pos = m.end()
        while (a := _ATTR.match(data, pos)) is not None:
            name = self.dec(a.group(2))
            raw = self.dec(a.group(3)[1:-1])
            value = _unescape(raw.replace("\t", " ").replace("\n", " ").replace("\r", " "))
            node.attrs[name] = _Attr(name, value, a.start(1), a.start(2), a.start(3), a.end())
            pos = a.end()
        e = _STAG_END.match(data, pos)
        if e is None:
            raise _Malformed(f"bad start tag at byte {lt}")
        if e.group(1):
            node.slash = e.start(1)
            node.end = node.content_start = node.content_end = e.end()
        else:
            node.content_start = node.prev_end = e.end()
        top.children.append(node)
        top.prev_end = e.end()
        return node


def merge_xml(base: bytes, ours: bytes, theirs: bytes) -> MergeResult:
    """Merge upstream's changes (base → theirs) into the operator's file `ours`.

    Raises UnparsableInput when a side is not well-formed XML (or not in an
    ASCII-compatible encoding). Conflicting settings keep ours' value and are
    reported; the merged bytes always parse.
    """
    docs = {
        side: _Doc(data, side)
        for side, data in (("base", base), ("ours", ours), ("theirs", theirs))
    }
    if ours == base:  # theirs, with the byte order mark as the operator's file has it
        merged = theirs.removeprefix(_BOM)
        merged = _BOM + merged if ours.startswith(_BOM) else merged
        return MergeResult(merged=merged, conflicts=(), format=FORMAT)
    if theirs == base or ours == theirs:
        return MergeResult(merged=ours, conflicts=(), format=FORMAT)
    try:
        merger = _Merger(docs["base"], docs["ours"], docs["theirs"])
        merged = merger.run()
    except RecursionError as exc:  # lxml caps depth at 256, well within Python's limit
        raise UnparsableInput("ours", "document nested too deeply") from exc
    try:
        _check(merged, "merged")
    except UnparsableInput:
        whole = SettingConflict(
            path="/",
            base=docs["base"].dec(base),
            ours=docs["ours"].dec(ours),
            theirs=docs["theirs"].dec(theirs),
        )
        return MergeResult(merged=ours, conflicts=(whole,), format=FORMAT)
    return MergeResult(merged=merged, conflicts=tuple(merger.conflicts), format=FORMAT)


class _Merger:
    def __init__(self, b: _Doc, o: _Doc, t: _Doc) -> None:
        self.b, self.o, self.t = b, o, t
        self.edits: list[tuple[int, int, int, bytes]] = []  # (start, end, seq, replacement)
        self.conflicts: list[SettingConflict] = []
        crlf = b"\r\n" in o.data and b"\r\n" not in t.data
        self.eol = b"\r\n" if crlf else b"\n"

    def run(self) -> bytes:
        self._children(self.b.root, self.o.root, self.t.root, "")
        out: list[bytes] = []
        pos = 0
        for start, end, _, repl in sorted(self.edits):
            if start < pos:
                raise AssertionError(f"overlapping edits at byte {start}")
            out += [self.o.data[pos:start], repl]
            pos = end
        out.append(self.o.data[pos:])
        return b"".join(out)

    # -- edits on ours --------------------------------------------------------------------

    def _edit(self, start: int, end: int, repl: bytes) -> None:
        self.edits.append((start, end, len(self.edits), repl))

    def _copy(self, raw: bytes, t_ref: int, o_ref: int) -> bytes:
        """Text from theirs, re-indented from theirs' line at t_ref to ours' line at o_ref."""
        src = _line_indent(self.t.data, t_ref)
        dst = _line_indent(self.o.data, o_ref)
        lines = raw.split(b"\n")
        for i in range(1, len(lines)):
            if lines[i].startswith(src):
                lines[i] = dst + lines[i][len(src) :]
        out = b"\n".join(lines)
        return out.replace(b"\n", b"\r\n") if self.eol == b"\r\n" else out

    def _conflict(self, path: str, b: str | None, o: str | None, t: str | None) -> None:
        self.conflicts.append(SettingConflict(path=path or "/", base=b, ours=o, theirs=t))

    # -- elements --------------------------------------------------------------------------

    def _element(self, b: _Node | None, o: _Node, t: _Node, path: str) -> None:
        if _full(o) == _full(t) or (b is not None and _full(t) == _full(b)):
            return
        self._attributes(b, o, t, path)
        bk = None if b is None else ("v" if b.is_value else "i")
        ok, tk = ("v" if o.is_value else "i"), ("v" if t.is_value else "i")
        if ok == tk == "i" and bk in (None, "i"):
            self._children(b, o, t, path)
        elif ok == tk == "v" and bk in (None, "v"):
            bv = None if b is None else b.value
            if t.value in (bv, o.value):
                return
            if o.value == bv:
                ts, os_ = _text_span(t), _text_span(o)
                self._edit(os_[0], os_[1], self.t.data[ts[0] : ts[1]])
            else:
                self._conflict(path, bv, o.value, t.value)
        else:
            cb = None if b is None else _content(b)
            co, ct = _content(o), _content(t)
            if ct in (cb, co):
                return
            if co == cb:
                self._replace_content(o, t)
            else:
                btxt = None if b is None else self._content_text(self.b, b)
                self._conflict(
                    path, btxt, self._content_text(self.o, o), self._content_text(self.t, t)
                )

    def _content_text(self, doc: _Doc, node: _Node) -> str:
        return doc.dec(doc.data[node.content_start : node.content_end]).strip()

    def _replace_content(self, o: _Node, t: _Node) -> None:
        new = self._copy(self.t.data[t.content_start : t.content_end], t.start, o.start)
        if o.self_closing:
            self._edit(o.slash, o.end, b">" + new + b"</" + o.tag.encode(self.o.encoding) + b">")
        else:
            self._edit(o.content_start, o.content_end, new)

    def _attributes(self, b: _Node | None, o: _Node, t: _Node, path: str) -> None:
        battrs = {} if b is None else b.attrs
        names = list(o.attrs) + [n for n in t.attrs if n not in o.attrs]
        names += [n for n in battrs if n not in o.attrs and n not in t.attrs]
        for name in names:
            ba, oa, ta = battrs.get(name), o.attrs.get(name), t.attrs.get(name)
            bv = None if ba is None else ba.value
            ov = None if oa is None else oa.value
            tv = None if ta is None else ta.value
            if tv in (bv, ov):
                continue
            if ov != bv:
                self._conflict(f"{path}@{name}", bv, ov, tv)
            elif ta is None:
                assert oa is not None
                self._edit(oa.pre, oa.end, b"")
            elif oa is None:
                last = max(o.attrs.values(), key=lambda a: a.end, default=None)
                at = o.start + 1 + len(o.tag.encode(self.o.encoding)) if last is None else last.end
                sep = b" " if last is None else self.o.data[last.pre : last.start]
                self._edit(at, at, sep + self.t.data[ta.start : ta.end])
            else:
                self._edit(oa.vstart, oa.end, self.t.data[ta.vstart : ta.end])

    # -- children (the element's items, or the document's prologue, root and epilogue) ----

    def _children(self, pb: _Node | None, po: _Node, pt: _Node, path: str) -> None:
        bi = [] if pb is None else pb.children
        oi, ti = po.children, pt.children
        top = po.kind == "doc"  # one root: its tag is identity enough
        bkeys = _keys(bi, top)
        okeys, tkeys = _side_keys(bi, bkeys, oi, top, "o"), _side_keys(bi, bkeys, ti, top, "t")
        _pair_added_twins(bkeys, oi, okeys, ti, tkeys)
        renamed = _renames(bi, bkeys, okeys, ti, tkeys)
        bmap, omap, tmap = _by_key(bi, bkeys), _by_key(oi, okeys), _by_key(ti, tkeys)

        def child_path(key: _Key) -> str:
            multi = any((key[0], key[1], 2) in m for m in (bmap, omap, tmap))
            return f"{path}/{_segment(key, multi)}"

        for key, be in bmap.items():
            oe, te = omap.get(key), tmap.get(key)
            if te is None and oe is not None:
                if _sem(oe) == _sem(be):
                    self._edit(oe.lead, oe.end, b"")
                else:
                    self._conflict(child_path(key), self.b.raw_text(be), self.o.raw_text(oe), None)
            elif oe is None and te is not None:
                if _sem(te) != _sem(be):
                    self._conflict(child_path(key), self.b.raw_text(be), None, self.t.raw_text(te))
            elif oe is not None and te is not None:
                if key in renamed and _sem(oe) != _sem(be):
                    # upstream renamed an entry the operator changed: one conflict, ours kept
                    self._conflict(
                        child_path(key),
                        self.b.raw_text(be),
                        self.o.raw_text(oe),
                        self.t.raw_text(te),
                    )
                else:
                    self._element(be, oe, te, child_path(key))
        for key, te in tmap.items():
            oe = omap.get(key)
            if key not in bmap and oe is not None:
                self._element(None, oe, te, child_path(key))

        # Comments, text runs, PIs: aligned by content with the elements as anchors.
        nb, nkeys = (bi, bkeys) if pb is not None else (oi, okeys)
        b2t = _align(nb, nkeys, ti, tkeys)
        b2o = _align(nb, nkeys, oi, okeys)
        t2b = {j: i for i, j in b2t.items() if j is not None}
        if pb is not None:
            for i, item in enumerate(nb):
                if item.kind == "e" or (oj := b2o.get(i)) is None:
                    continue
                tj = b2t.get(i)
                if _full(oi[oj]) != _full(item):
                    # the operator edited it; a different upstream edit of the same comment
                    # cannot be merged into it, and dropping either would lose documentation
                    if (
                        item.kind == "c"
                        and tj is not None
                        and _full(ti[tj]) not in (_full(item), _full(oi[oj]))
                    ):
                        ot, tt = oi[oj], ti[tj]
                        raw = self.t.data[tt.lead : tt.end]
                        self._edit(ot.end, ot.end, self._copy(raw, tt.start, ot.start))
                    continue
                if tj is None:
                    self._edit(oi[oj].lead, oi[oj].end, b"")
                elif _full(ti[tj]) != _full(item):
                    self._edit(oi[oj].start, oi[oj].end, self.t.data[ti[tj].start : ti[tj].end])

        # Items only theirs has: copied after the nearest preceding item ours also has.
        def counterpart(j: int) -> _Node | None:
            if ti[j].kind == "e":
                return omap.get(tkeys[j])
            i = t2b.get(j)
            oj = None if i is None else b2o.get(i)
            return None if oj is None else oi[oj]

        groups: list[tuple[int, int, int, list[int]]] = []  # theirs ref, ours ref, at, items
        ref_t, ref_o, at = pt.start, po.start, po.content_start
        for j, item in enumerate(ti):
            mate = counterpart(j)
            if mate is not None:
                ref_t, ref_o, at = item.start, mate.start, mate.end
                continue
            if item.kind == "e" and tkeys[j] in bmap:
                continue  # ours deleted it
            if item.kind != "e" and j in t2b and not _edited_comment(item, nb[t2b[j]]):
                continue  # ours deleted it; upstream's new text of a comment is still carried
            if groups and groups[-1][2] == at:
                groups[-1][3].append(j)
            else:
                groups.append((ref_t, ref_o, at, [j]))
        for ref_t, ref_o, at, items in groups:
            raw = b"".join(self.t.data[ti[j].lead : ti[j].end] for j in items)
            last = items[-1]
            after = ti[last + 1].start if last + 1 < len(ti) else pt.content_end
            if not oi or ti[items[0]].lead == ti[items[0]].start:
                raw += self.t.data[ti[last].end : after]  # the whitespace that closes the line
            if not oi:  # ours' content is empty: rewrite it
                new = self._copy(raw, pt.start, po.start)
                if po.self_closing:
                    tag = po.tag.encode(self.o.encoding)
                    self._edit(po.slash, po.end, b">" + new + b"</" + tag + b">")
                else:
                    self._edit(po.content_start, po.content_end, new)
            else:
                self._edit(at, at, self._copy(raw, ref_t, ref_o))


def _edited_comment(new: _Node, old: _Node) -> bool:
    return new.kind == old.kind == "c" and _full(new) != _full(old)


# -- canonical forms ------------------------------------------------------------------------


def _sem(node: _Node) -> Hashable:
    """What the node means: comments, PIs and whitespace left out, attribute order ignored."""
    if node.sem is None:
        node.sem = _canon(node, comments=False)
    return node.sem


def _full(node: _Node) -> Hashable:
    """The node's meaning plus its comments (normalised whitespace)."""
    if node.full is None:
        node.full = _canon(node, comments=True)
    return node.full


def _prime(root: _Node) -> None:
    """Compute every canonical form bottom-up, so later lookups never recurse deeply."""
    order: list[_Node] = []
    todo = [root]
    while todo:
        node = todo.pop()
        order.append(node)
        todo.extend(node.children)
    for node in reversed(order):  # children before parents
        if node.kind != "doc":
            _sem(node)
            _full(node)


def _canon(node: _Node, *, comments: bool) -> Hashable:
    if node.kind != "e":
        return (node.kind, " ".join(node.text.split()))
    attrs = frozenset((a.name, a.value) for a in node.attrs.values())
    return (node.tag, attrs, _content(node, comments=comments))


def _content(node: _Node, *, comments: bool = False) -> Hashable:
    if node.is_value:
        return ("v", node.value)
    keep = ("e", "t", "c", "p", "d") if comments else ("e", "t")
    pick = _full if comments else _sem
    return ("i", tuple(pick(c) for c in node.children if c.kind in keep))


# -- identity and alignment -----------------------------------------------------------------


def _identity(node: _Node) -> tuple[str, ...] | None:
    for name in _ID_ATTRS:
        if name in node.attrs:
            return ("@", name, node.attrs[name].value)
    names = [c for c in node.children if c.kind == "e" and c.tag == "name"]
    if len(names) == 1 and not any(c.kind == "e" for c in names[0].children):
        return ("name", names[0].value)
    return None


def _keys(items: list[_Node], top: bool) -> list[_Key]:
    """Per item its key (non-elements get a placeholder that no element can have)."""
    counts: dict[tuple[str, tuple[str, ...] | None], int] = {}
    keys: list[_Key] = []
    for item in items:
        if item.kind != "e":
            keys.append(("", None, 0))
            continue
        ident = None if top else _identity(item)
        n = counts.get((item.tag, ident), 0) + 1
        counts[(item.tag, ident)] = n
        keys.append((item.tag, ident, n))
    return keys


def _side_keys(
    bi: list[_Node], bkeys: list[_Key], xi: list[_Node], top: bool, side: str
) -> list[_Key]:
    """Keys of one side's items in base's key space: twins (same tag and identity) are
    matched to base's by content, so an inserted or deleted twin shifts no other."""
    keys = _keys(xi, top)
    bgroups, xgroups = _groups(bi, bkeys), _groups(xi, keys)
    for group, xs in xgroups.items():
        bs = bgroups.get(group, [])
        if not bs or (len(bs) == 1 and len(xs) <= 1):
            # none in base: numbered as on this side; one on each side: the same setting,
            # whatever changed
            continue
        pairs = dict(_pair_twins([bi[i] for i in bs], [xi[j] for j in xs]))
        new = 0
        for n, j in enumerate(xs):
            if n in pairs:
                keys[j] = bkeys[bs[pairs[n]]]
            else:
                new += 1
                keys[j] = (group[0], group[1], f"{side}{new}")
    return keys


def _groups(
    items: list[_Node], keys: list[_Key], skip: set[_Key] | None = None
) -> dict[tuple[str, _Ident], list[int]]:
    """Element indices by tag and identity (those whose key is in `skip` left out)."""
    out: dict[tuple[str, _Ident], list[int]] = {}
    for i, (item, key) in enumerate(zip(items, keys, strict=True)):
        if item.kind == "e" and (skip is None or key not in skip):
            out.setdefault((key[0], key[1]), []).append(i)
    return out


def _pair_twins(bs: list[_Node], xs: list[_Node]) -> list[tuple[int, int]]:
    """(side index, base index) of the twins that are the same element: equal ones in order,
    then in each changed run the most similar ones. Bare values (`<value>a</value>`), which
    nothing but their place tells apart, pair by position in a run of the same length."""
    out: list[tuple[int, int]] = []
    matcher = SequenceMatcher(None, [_sem(b) for b in bs], [_sem(x) for x in xs], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        bare = i2 - i1 == j2 - j1 and all(map(_bare, bs[i1:i2] + xs[j1:j2]))
        if tag == "equal" or (tag == "replace" and bare):
            out.extend(zip(range(j1, j2), range(i1, i2), strict=True))
        elif tag == "replace":
            out.extend((j1 + j, i1 + i) for i, j in _most_similar(bs[i1:i2], xs[j1:j2]))
    return out


def _bare(node: _Node) -> bool:
    return not node.attrs and not any(c.kind == "e" for c in node.children)


def _most_similar(bs: list[_Node], xs: list[_Node]) -> list[tuple[int, int]]:
    """Order-preserving pairs (base, side) of greatest total similarity, each at least _SIMILAR."""
    n, m = len(bs), len(xs)
    if n * m > 40_000:  # too long to weigh every pair: by position, if the lengths agree
        return list(zip(range(n), range(m), strict=True)) if n == m else []
    fx = [_features(x) for x in xs]
    sim = [[_similarity(fb, f) for f in fx] for fb in map(_features, bs)]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            paired = sim[i][j] + best[i + 1][j + 1] if sim[i][j] >= _SIMILAR else -1.0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], paired)
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if sim[i][j] >= _SIMILAR and best[i][j] == sim[i][j] + best[i + 1][j + 1]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def _pair_added_twins(
    bkeys: list[_Key], oi: list[_Node], okeys: list[_Key], ti: list[_Node], tkeys: list[_Key]
) -> None:
    """Elements both sides added (base has no match) pair up like base's twins, by content
    (theirs then takes ours' key). One of a tag base lacks on each side is one setting: it
    may be a single setting like <HostName>, which both sides set."""
    bset = set(bkeys)
    based = {k[:2] for k in bkeys}
    onew, tnew = _groups(oi, okeys, skip=bset), _groups(ti, tkeys, skip=bset)
    for group, tjs in tnew.items():
        ois = onew.get(group, [])
        if len(ois) == len(tjs) == 1 and group not in based:
            tkeys[tjs[0]] = okeys[ois[0]]
            continue
        pairs = dict(_pair_twins([oi[i] for i in ois], [ti[j] for j in tjs]))
        for n, j in enumerate(tjs):
            tkeys[j] = okeys[ois[pairs[n]]] if n in pairs else (group[0], group[1], f"t{n + 1}")


def _renames(
    bi: list[_Node], bkeys: list[_Key], okeys: list[_Key], ti: list[_Node], tkeys: list[_Key]
) -> set[_Key]:
    """Entries upstream renamed (identity changed, the rest alike): theirs takes base's key.

    Returns the base keys so renamed. An identity ours also has, or one that base already
    had, is no rename; nor is a pair alike in fewer than two attributes, values or children.
    """
    bset, oset, tset = set(bkeys), set(okeys), set(tkeys)
    gone = [i for i, k in enumerate(bkeys) if bi[i].kind == "e" and k[1] and k not in tset]
    new = [
        j
        for j, k in enumerate(tkeys)
        if ti[j].kind == "e" and k[1] and k not in bset and k not in oset
    ]
    if len(gone) * len(new) > 40_000:  # upstream rewrote the section: no guessing
        return set()
    # one alike value is no evidence: `<Property name="a">true</Property>` gone and
    # `<Property name="b">true</Property>` new are two settings
    fb = {i: f for i in gone if (f := _features(bi[i], drop_identity=True)).total() >= 2}
    ft = {j: f for j in new if (f := _features(ti[j], drop_identity=True)).total() >= 2}
    scored = []
    for i, bf in fb.items():
        for j, tf in ft.items():
            if _kind_of(bkeys[i]) != _kind_of(tkeys[j]):
                continue
            if (score := _similarity(bf, tf)) >= _SIMILAR:
                scored.append((-score, i, j))
    renamed: set[_Key] = set()
    used: set[int] = set()
    for _, i, j in sorted(scored):
        if bkeys[i] in renamed or j in used:
            continue
        renamed.add(bkeys[i])
        used.add(j)
        tkeys[j] = bkeys[i]
    return renamed


def _kind_of(key: _Key) -> tuple[str, _Ident]:
    """The tag and identifying attribute (or child) of a key, without the identity's value."""
    return key[0], None if key[1] is None else key[1][:-1]


def _features(node: _Node, *, drop_identity: bool = False) -> Counter[Hashable]:
    """What an element is made of, for similarity: attributes, value, child elements."""
    ident = _identity(node) if drop_identity else None
    out: Counter[Hashable] = Counter()
    for a in node.attrs.values():
        if not (ident and ident[0] == "@" and a.name == ident[1]):
            out[("@", a.name, a.value)] += 1
    if node.is_value:
        out[("v", node.value)] += 1
    for c in node.children:
        if c.kind == "e" and not (ident and ident[0] == "name" and c.tag == "name"):
            out[_sem(c)] += 1
    return out


def _similarity(a: Counter[Hashable], b: Counter[Hashable]) -> float:
    total = sum(a.values()) + sum(b.values())
    return 1.0 if not total else 2 * sum((a & b).values()) / total


def _by_key(items: list[_Node], keys: list[_Key]) -> dict[_Key, _Node]:
    return {k: it for it, k in zip(items, keys, strict=True) if it.kind == "e"}


def _align(
    bi: list[_Node], bkeys: list[_Key], xi: list[_Node], xkeys: list[_Key]
) -> dict[int, int | None]:
    """Base index → side index (None: gone) for every non-element item of base."""

    def sigs(items: list[_Node], keys: list[_Key]) -> list[Hashable]:
        return [
            ("e", k) if it.kind == "e" else _full(it) for it, k in zip(items, keys, strict=True)
        ]

    out: dict[int, int | None] = {}
    matcher = SequenceMatcher(None, sigs(bi, bkeys), sigs(xi, xkeys), autojunk=False)
    for _, i1, i2, j1, j2 in matcher.get_opcodes():
        bs = [i for i in range(i1, i2) if bi[i].kind != "e"]
        xs = [j for j in range(j1, j2) if xi[j].kind != "e"]
        for n, i in enumerate(bs):
            j = xs[n] if n < len(xs) else None
            out[i] = j if j is not None and xi[j].kind == bi[i].kind else None
    return out


def _segment(key: _Key, multi: bool) -> str:
    tag, ident, n = key
    seg = tag
    if ident is not None:
        value = ident[-1]
        q = '"' if "'" in value else "'"
        seg += f"[@{ident[1]}={q}{value}{q}]" if ident[0] == "@" else f"[name={q}{value}{q}]"
    if isinstance(n, str) or n > 1 or multi:
        seg += f"[{n}]"
    return seg


# -- low-level helpers ----------------------------------------------------------------------


def _check(data: bytes, side: str) -> str:
    """Parse with lxml (safely) to prove well-formedness; return the document's encoding."""
    if b"\0" in data:
        raise UnparsableInput(side, "not XML in an ASCII-compatible encoding (NUL bytes)")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError) as exc:
        raise UnparsableInput(side, f"not well-formed XML: {exc}") from exc
    encoding = root.getroottree().docinfo.encoding or "utf-8"
    try:
        "".encode(encoding)
        b"<".decode(encoding)
    except LookupError as exc:
        raise UnparsableInput(side, f"unknown encoding {encoding!r}") from exc
    return encoding


def _find(data: bytes, needle: bytes, pos: int) -> int:
    at = data.find(needle, pos)
    if at < 0:
        raise _Malformed(f"unterminated {needle!r}")
    return at


def _doctype_end(data: bytes, pos: int) -> int:
    """End of a <!DOCTYPE ...> declaration, internal subset and quoted literals included."""
    i, depth, n = pos + 2, 0, len(data)
    while i < n:
        c = data[i : i + 1]
        if c in (b'"', b"'"):
            i = _find(data, c, i + 1)
        elif data.startswith(b"<!--", i):
            i = _find(data, b"-->", i + 4) + 2
        elif c == b"[":
            depth += 1
        elif c == b"]":
            depth -= 1
        elif c == b">" and depth == 0:
            return i + 1
        i += 1
    raise _Malformed("unterminated declaration")


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref.startswith("#x"):
            return chr(int(ref[2:], 16))
        if ref.startswith("#"):
            return chr(int(ref[1:]))
        return _PREDEFINED.get(ref, m.group(0))

    return _ENTITY.sub(one, text)


def _text_span(node: _Node) -> tuple[int, int]:
    runs = [c for c in node.children if c.kind == "t"]
    return runs[0].start, runs[-1].end


def _line_indent(data: bytes, pos: int) -> bytes:
    start = data.rfind(b"\n", 0, pos) + 1
    m = _INDENT.match(data, start)
    return b"" if m is None else m.group(0)
