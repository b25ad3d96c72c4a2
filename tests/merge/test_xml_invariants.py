"""Property tests of the XML merge: the invariants of issue 10 on generated carbon.xml shapes.

A document is a root holding sections (`<Security enabled="true">`) and comment blocks. A
section holds leaf settings (`<HostName>localhost</HostName>`), entries identified by their
`name` attribute (`<Property name="x" type="y">value</Property>`), Tomcat-style Connectors
with no identifying attribute (twins, told apart only by content), commented-out samples
(`<!--<Property name="s">v</Property>-->`) and comment blocks, one or several lines.

Two edit scripts are drawn on one base. Each edit names what it claims (a value, an attribute,
a whole entry, a comment); one script makes `ours`, the other `theirs`, by editing the model
and serialising it the same way (so only the edited lines change, as in a real edit). On
disjoint claims the merge must be clean and equal, read by lxml, to the document both scripts
make together: same settings, same comments under the same parents. On overlapping claims the
conflicts are exactly the settings both sides set differently, the operator's value is kept
for them, and every other edit of both sides is in the output.
"""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from lxml import etree

from uplevel.merge.xml import merge_xml

EXAMPLES = 600
PROPS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the model -------------------------------------------------------------------------------


@dataclass
class Item:
    uid: int
    kind: str  # "section" | "leaf" | "prop" | "twin" | "comment" | "sample"
    tag: str = ""  # section and leaf tag
    name: str = ""  # prop and sample identity
    attrs: dict[str, str] = field(default_factory=dict)
    value: str = ""
    lines: list[str] = field(default_factory=list)  # comment text, one entry per line
    items: list[Item] = field(default_factory=list)  # a section's content


@dataclass
class Doc:
    header: Item
    items: list[Item]


class Fresh:
    """Unique names and values, so that no two edits make equal things by accident."""

    def __init__(self) -> None:
        self.n = itertools.count(1)

    def __call__(self, prefix: str) -> str:
        return f"{prefix}{next(self.n)}"


VALUES = ["localhost", "9443", "true", "jdbc:h2:./db", "a&b", "x<y", 'say "hi"']
ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def esc(text: str) -> str:
    return "".join(ESC.get(c, c) for c in text)


def render(doc: Doc, unit: str) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', _comment(doc.header, ""), "<Server>"]
    for item in doc.items:
        out.append(_render(item, unit, unit))
    out.append("</Server>")
    return ("\n".join(out) + "\n").encode()


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' {k}="{esc(v)}"' for k, v in attrs.items())


def _comment(item: Item, indent: str) -> str:
    if len(item.lines) == 1:
        return f"{indent}<!-- {item.lines[0]} -->"
    body = "".join(f"\n{indent}     {line}" for line in item.lines)
    return f"{indent}<!--{body}\n{indent}-->"


def _render(item: Item, indent: str, unit: str) -> str:
    if item.kind == "comment":
        return _comment(item, indent)
    if item.kind == "sample":
        return f'{indent}<!--<Property name="{item.name}">{esc(item.value)}</Property>-->'
    if item.kind == "leaf":
        return f"{indent}<{item.tag}>{esc(item.value)}</{item.tag}>"
    if item.kind == "prop":
        attrs = _attrs({"name": item.name, **item.attrs})
        return f"{indent}<Property{attrs}>{esc(item.value)}</Property>"
    if item.kind == "twin":
        return f"{indent}<Connector{_attrs(item.attrs)}/>"
    inner = "\n".join(_render(x, indent + unit, unit) for x in item.items)
    return f"{indent}<{item.tag}{_attrs(item.attrs)}>\n{inner}\n{indent}</{item.tag}>"


# -- base documents --------------------------------------------------------------------------


@st.composite
def comment(draw: st.DrawFn, fresh: Fresh) -> Item:
    n = draw(st.integers(1, 3))
    return Item(next(UID), "comment", lines=[fresh("Documentation line ") for _ in range(n)])


UID = itertools.count(1)


@st.composite
def twin(draw: st.DrawFn, fresh: Fresh) -> Item:
    # four attributes, one of them shared by every Connector: a changed Connector stays
    # more alike to its old self than to a new one, as real ones are
    attrs = {
        "port": fresh("9"),
        "protocol": draw(st.sampled_from(["HTTP/1.1", "AJP/1.3"])),
        "redirectPort": fresh("8"),
        "maxThreads": fresh("2"),
    }
    return Item(next(UID), "twin", attrs=attrs)


@st.composite
def prop(draw: st.DrawFn, fresh: Fresh) -> Item:
    attrs = draw(
        st.dictionaries(st.sampled_from(["type", "encrypted"]), st.sampled_from(VALUES), max_size=2)
    )
    return Item(
        next(UID), "prop", name=fresh("prop"), attrs=attrs, value=draw(st.sampled_from(VALUES))
    )


@st.composite
def section_item(draw: st.DrawFn, fresh: Fresh) -> Item:
    kind = draw(st.sampled_from(["leaf", "leaf", "prop", "prop", "comment", "sample"]))
    if kind == "leaf":
        return Item(next(UID), "leaf", tag=fresh("Setting"), value=draw(st.sampled_from(VALUES)))
    if kind == "prop":
        return draw(prop(fresh))
    if kind == "sample":
        return Item(next(UID), "sample", name=fresh("sample"), value=draw(st.sampled_from(VALUES)))
    return draw(comment(fresh))


@st.composite
def section(draw: st.DrawFn, fresh: Fresh) -> Item:
    attrs = draw(
        st.dictionaries(st.sampled_from(["enabled", "mode"]), st.sampled_from(VALUES), max_size=2)
    )
    items = draw(st.lists(section_item(fresh), min_size=1, max_size=6))
    # a run of Connectors, as in Tomcat's <Service>. Never a single one: to the engine a
    # single element is one setting however much it changed (it may be a <KeyStore>), so a
    # lone Connector deleted and another added reads as one changed Connector
    if draw(st.booleans()):
        at = draw(st.integers(0, len(items)))
        items[at:at] = draw(st.lists(twin(fresh), min_size=2, max_size=3))
    return Item(next(UID), "section", tag=fresh("Section"), attrs=attrs, items=items)


@st.composite
def documents(draw: st.DrawFn) -> tuple[Doc, Fresh]:
    fresh = Fresh()
    items = draw(
        st.lists(st.one_of(section(fresh), section(fresh), comment(fresh)), min_size=1, max_size=4)
    )
    if not any(i.kind == "section" for i in items):
        items.append(draw(section(fresh)))
    return Doc(draw(comment(fresh)), items), fresh


# -- edits -----------------------------------------------------------------------------------

Claim = tuple[str, int, str]  # ("item" | "sec", uid, what): what "*" is the whole thing


@dataclass
class Edit:
    op: str
    uid: int  # the item (or section, for insertions) it changes
    claims: list[Claim]
    arg: Any = None
    index: int = 0

    def apply(self, doc: Doc) -> None:
        _APPLY[self.op](doc, self)


def overlaps(a: Claim, b: Claim) -> bool:
    """Two claims on the same thing; "content" (an edit inside a section) only meets "*"."""
    if a[:2] != b[:2]:
        return False
    return "*" in (a[2], b[2]) or (a[2] == b[2] and a[2] != "content")


def find(doc: Doc, uid: int) -> tuple[list[Item], int]:
    if doc.header.uid == uid:
        return [doc.header], 0
    for lst in [doc.items] + [s.items for s in doc.items if s.kind == "section"]:
        for i, item in enumerate(lst):
            if item.uid == uid:
                return lst, i
    raise KeyError(uid)


def _get(doc: Doc, e: Edit) -> Item:
    lst, i = find(doc, e.uid)
    return lst[i]


def _set_value(doc: Doc, e: Edit) -> None:
    _get(doc, e).value = e.arg


def _set_attr(doc: Doc, e: Edit) -> None:
    name, value = e.arg
    _get(doc, e).attrs[name] = value


def _del_attr(doc: Doc, e: Edit) -> None:
    del _get(doc, e).attrs[e.arg]


def _rename(doc: Doc, e: Edit) -> None:
    _get(doc, e).name = e.arg


def _delete(doc: Doc, e: Edit) -> None:
    lst, i = find(doc, e.uid)
    del lst[i]


def _insert(doc: Doc, e: Edit) -> None:
    lst = doc.items if e.uid == 0 else _get(doc, e).items
    lst.insert(min(e.index, len(lst)), copy.deepcopy(e.arg))


def _set_lines(doc: Doc, e: Edit) -> None:
    _get(doc, e).lines = list(e.arg)


def _uncomment(doc: Doc, e: Edit) -> None:
    item = _get(doc, e)
    item.kind = "prop"


_APPLY: dict[str, Callable[[Doc, Edit], None]] = {
    "value": _set_value,
    "attr": _set_attr,
    "delattr": _del_attr,
    "rename": _rename,
    "delete": _delete,
    "insert": _insert,
    "lines": _set_lines,
    "uncomment": _uncomment,
}


def _places(doc: Doc) -> list[tuple[Item | None, Item]]:
    """(section or None for the root, item) for every item but the header."""
    out: list[tuple[Item | None, Item]] = []
    for item in doc.items:
        out.append((None, item))
        if item.kind == "section":
            out.extend((item, x) for x in item.items)
    return out


@st.composite
def one_edit(draw: st.DrawFn, doc: Doc, fresh: Fresh, side: str) -> Edit:
    """One edit of `doc`, of any kind the document allows."""
    places = _places(doc)
    parent, item = draw(st.sampled_from(places))
    inside: list[Claim] = [] if parent is None else [("sec", parent.uid, "content")]
    whole: list[Claim] = [("item", item.uid, "*"), *inside]
    kinds = ["insert-comment", "insert"]
    if item.kind in ("leaf", "prop"):
        kinds += ["value", "delete"]
    if item.kind == "prop":
        kinds += ["attr", "delattr", "rename"]
    if item.kind in ("twin", "section"):
        kinds += ["attr", "delattr", "delete"]
    if item.kind == "comment":
        kinds += ["lines", "delete"]
    if item.kind == "sample":
        kinds += ["uncomment"]
    kind = draw(st.sampled_from(kinds))
    if kind == "value":
        claims: list[Claim] = [("item", item.uid, "value"), *inside]
        return Edit("value", item.uid, claims, fresh(f"{side}-value-"))
    if item.kind == "twin":
        # one edit per Connector and side: one rewritten beyond recognition (3 of its 4
        # attributes) is a Connector removed and another added as much as a changed one
        inside = [*inside, ("item", item.uid, "#" + side)]
    if kind in ("attr", "delattr"):
        pool = {"prop": ["type", "encrypted"], "section": ["enabled", "mode"]}
        names = pool.get(item.kind, list(item.attrs))
        if kind == "delattr" and item.attrs:
            name = draw(st.sampled_from(sorted(item.attrs)))
            return Edit("delattr", item.uid, [("item", item.uid, "@" + name), *inside], name)
        name = draw(st.sampled_from(names))
        value = fresh(f"{side}-{name}-")
        return Edit("attr", item.uid, [("item", item.uid, "@" + name), *inside], (name, value))
    if kind == "rename":
        return Edit("rename", item.uid, whole, fresh(f"{side}-renamed-"))
    if kind == "delete":
        if item.kind == "section":
            whole = [("item", item.uid, "*"), ("sec", item.uid, "*")]
        return Edit("delete", item.uid, whole)
    if kind == "lines":
        return Edit("lines", item.uid, whole, [fresh(f"{side} edited line ")])
    if kind == "uncomment":
        return Edit("uncomment", item.uid, whole)
    # insertions: into the item's section, or at the root
    into = parent if parent is not None else (item if item.kind == "section" else None)
    target = 0 if into is None else into.uid
    claims = [] if into is None else [("sec", into.uid, "content")]
    size = len(doc.items) if into is None else len(into.items)
    index = draw(st.integers(0, size))
    if kind == "insert-comment":
        new = Item(next(UID), "comment", lines=[fresh(f"{side} new line ")])
    elif into is None:
        new = draw(section(fresh))
        new.tag = fresh(f"{side}Section")
    elif any(x.kind == "twin" for x in into.items) and draw(st.booleans()):
        new = draw(twin(fresh))  # another Connector
    else:
        # (a Connector both sides add where base has none is one setting to the engine, as
        # a <HostName> would be: a clash, not a disjoint edit)
        new = draw(section_item(fresh))
        if new.kind == "leaf":
            new.tag = fresh(f"{side}Setting")
        elif new.kind in ("prop", "sample"):
            # a new setting with a new value: one alike an entry the same side deleted
            # would be a rename to the engine (tested in test_xml_issue10)
            new.name, new.value = fresh(f"{side}-prop"), fresh(f"{side}-new-")
            new.attrs = {k: fresh(f"{side}-new-") for k in new.attrs}
        elif new.kind == "comment":
            new.lines = [fresh(f"{side} new line ")]
    return Edit("insert", target, claims, new, index)


@st.composite
def script(draw: st.DrawFn, doc: Doc, fresh: Fresh, side: str, taken: list[Claim]) -> list[Edit]:
    """Edits of `doc` whose claims overlap neither `taken` nor each other."""
    edits: list[Edit] = []
    mine: list[Claim] = []
    header = doc.header
    free = not any(overlaps(("item", header.uid, "*"), c) for c in taken)
    if free and draw(st.booleans()):  # the header comment block, edited or left
        edits.append(
            Edit("lines", header.uid, [("item", header.uid, "*")], [fresh(f"{side} header ")])
        )
        mine.append(("item", header.uid, "*"))
    for _ in range(draw(st.integers(1, 5))):
        e = draw(one_edit(doc, fresh, side))
        if any(overlaps(a, b) for a in e.claims for b in taken + mine):
            continue
        edits.append(e)
        mine += e.claims
    return edits


def apply(doc: Doc, edits: list[Edit]) -> Doc:
    out = copy.deepcopy(doc)
    for e in edits:
        e.apply(out)
    return out


# -- the oracle: lxml, not the engine ---------------------------------------------------------


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def settings_of(data: bytes) -> dict[str, Any]:
    """Every setting by path; Connectors (no identity) as the multiset of their attributes."""
    out: dict[str, Any] = {}
    for sec in parse(data):
        if not isinstance(sec.tag, str):
            continue
        base = f"/{sec.tag}"
        out[base] = "section"
        out.update({f"{base}@{k!s}": v for k, v in sec.items()})
        twins = []
        for el in sec:
            if not isinstance(el.tag, str):
                continue
            if el.tag == "Connector":
                twins.append(tuple(sorted(el.items())))
            elif el.tag == "Property":
                path = f"{base}/Property[{el.get('name')}]"
                out[path] = el.text or ""
                out.update({f"{path}@{k!s}": v for k, v in el.items() if k != "name"})
            else:
                out[f"{base}/{el.tag}"] = el.text or ""
        if twins:
            out[f"{base}/Connector"] = sorted(twins)
    return out


def comments_of(data: bytes) -> Counter[tuple[str, str]]:
    """(parent, text with whitespace normalised) of every comment, the prologue's included."""
    root = parse(data)
    found = [("#document", c) for c in root.itersiblings(preceding=True)]
    found += [(c.getparent().tag, c) for c in root.iter(etree.Comment)]  # type: ignore[union-attr]
    return Counter(
        (str(parent), " ".join(str(c.text).split()))
        for parent, c in found
        if isinstance(c, etree._Comment)
    )


# -- properties ------------------------------------------------------------------------------


@PROPS
@given(documents(), st.sampled_from(["    ", "  ", "\t"]), st.data())
def test_disjoint_edits_merge_cleanly_into_both(
    doc_fresh: tuple[Doc, Fresh], unit: str, data: st.DataObject
) -> None:
    doc, fresh = doc_fresh
    ours_edits = data.draw(script(doc, fresh, "o", []))
    theirs_edits = data.draw(script(doc, fresh, "t", [c for e in ours_edits for c in e.claims]))
    base, ours, theirs = (
        render(d, unit) for d in (doc, apply(doc, ours_edits), apply(doc, theirs_edits))
    )
    want = render(apply(doc, ours_edits + theirs_edits), unit)
    note(f"base:\n{base.decode()}\nours:\n{ours.decode()}\ntheirs:\n{theirs.decode()}")
    result = merge_xml(base, ours, theirs)
    note(f"merged:\n{result.merged.decode()}")
    assert result.conflicts == ()
    assert settings_of(result.merged) == settings_of(want)
    assert comments_of(result.merged) == comments_of(want)
    # spelled out: every comment upstream added or edited is in the output
    upstream = comments_of(theirs) - comments_of(base)
    assert not upstream - comments_of(result.merged)


_CHANGE_OPS = ("value", "attr")


@st.composite
def clash(draw: st.DrawFn, e: Edit, doc: Doc, fresh: Fresh) -> Edit | None:
    """An edit of theirs on what ours' edit `e` claims: a second value, a deletion, a comment
    edit; None where no clash of that kind is defined."""
    t = draw(_clash(e, doc, fresh))
    if t is not None:  # theirs' own claim of one edit per Connector
        t.claims = [("item", c[1], "#t") if c[2] == "#o" else c for c in t.claims]
    return t


@st.composite
def _clash(draw: st.DrawFn, e: Edit, doc: Doc, fresh: Fresh) -> Edit | None:
    inside = [c for c in e.claims if c[0] == "sec" or c[2] == "#o"]
    item = _get(doc, e)
    if e.op == "value":
        if draw(st.booleans()):
            same = draw(st.booleans())
            return Edit("value", e.uid, e.claims, e.arg if same else fresh("t-value-"))
        return Edit("delete", e.uid, [("item", e.uid, "*"), *inside])
    if e.op == "attr":
        name, value = e.arg
        if draw(st.booleans()):
            same = draw(st.booleans())
            return Edit("attr", e.uid, e.claims, (name, value if same else fresh("t-attr-")))
        if name in item.attrs:
            return Edit("delattr", e.uid, e.claims, name)
        return None
    if e.op == "delattr":
        return Edit("attr", e.uid, e.claims, (e.arg, fresh("t-attr-")))
    if e.op in ("delete", "rename") and item.kind in ("leaf", "prop", "twin"):
        if item.kind == "twin":
            name = draw(st.sampled_from(sorted(item.attrs)))
            return Edit("attr", e.uid, [("item", e.uid, "@" + name), *inside], (name, "t-x"))
        return Edit("value", e.uid, [("item", e.uid, "value"), *inside], fresh("t-value-"))
    if e.op == "lines" and item.kind == "comment":
        return Edit("lines", e.uid, e.claims, [fresh("t edited line ")])
    return None


def _path(doc: Doc, uid: int) -> str:
    """The engine's documented setting path of an item of base."""
    for sec in doc.items:
        if sec.uid == uid:
            return f"/Server/{sec.tag}"
        for item in sec.items:
            if item.uid != uid:
                continue
            if item.kind == "leaf":
                return f"/Server/{sec.tag}/{item.tag}"
            if item.kind == "prop":
                return f"/Server/{sec.tag}/Property[@name='{item.name}']"
            twins = [x.uid for x in sec.items if x.kind == "twin"]
            n = twins.index(uid) + 1
            return f"/Server/{sec.tag}/Connector" + (f"[{n}]" if len(twins) > 1 else "")
    raise KeyError(uid)


def expected_conflict(doc: Doc, ours: Edit, theirs: Edit) -> str | None:
    """The conflict two clashing edits make, or None when they agree (or are comments)."""
    if ours.op == "lines":
        return None
    path = _path(doc, ours.uid)
    if ours.op == theirs.op == "value":
        return None if ours.arg == theirs.arg else path
    if ours.op == theirs.op == "attr":
        return None if ours.arg == theirs.arg else f"{path}@{ours.arg[0]}"
    if {ours.op, theirs.op} == {"attr", "delattr"}:
        name = ours.arg[0] if ours.op == "attr" else ours.arg
        return f"{path}@{name}"
    return path  # a deletion or a rename against a change: the whole entry


@PROPS
@given(documents(), st.data())
def test_overlapping_edits_conflict_exactly_where_values_differ(
    doc_fresh: tuple[Doc, Fresh], data: st.DataObject
) -> None:
    doc, fresh = doc_fresh
    ours_edits = data.draw(script(doc, fresh, "o", []))
    ours_edits = [e for e in ours_edits if e.uid != doc.header.uid]
    clashes: list[tuple[Edit, Edit]] = []
    for e in ours_edits:
        if e.op != "insert" and data.draw(st.booleans()):
            t = data.draw(clash(e, doc, fresh))
            mine = [c for _, x in clashes for c in x.claims]
            if t is not None and not any(overlaps(a, b) for a in t.claims for b in mine):
                clashes.append((e, t))
    taken = [c for e in ours_edits for c in e.claims] + [c for _, t in clashes for c in t.claims]
    theirs_edits = [t for _, t in clashes] + data.draw(script(doc, fresh, "t", taken))
    base, ours, theirs = (
        render(d, "    ") for d in (doc, apply(doc, ours_edits), apply(doc, theirs_edits))
    )
    # the operator's value wins each clash; an upstream comment edit is kept beside ours
    free = [e for e in theirs_edits if all(e is not t for _, t in clashes)]
    want_doc = apply(doc, free + ours_edits)
    for o, t in clashes:
        if o.op == "lines":
            lst, i = find(want_doc, o.uid)
            lst.insert(i + 1, Item(-1, "comment", lines=list(t.arg)))
    want = render(want_doc, "    ")
    note(f"base:\n{base.decode()}\nours:\n{ours.decode()}\ntheirs:\n{theirs.decode()}")
    result = merge_xml(base, ours, theirs)
    note(f"merged:\n{result.merged.decode()}")
    expected = {p for o, t in clashes if (p := expected_conflict(doc, o, t)) is not None}
    assert sorted(c.path for c in result.conflicts) == sorted(expected)
    assert settings_of(result.merged) == settings_of(want)
    assert comments_of(result.merged) == comments_of(want)
