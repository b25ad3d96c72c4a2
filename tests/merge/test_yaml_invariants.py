"""Issue 10's invariants for the YAML engine, as properties over generated Helm-style values.

A document is a list of sections (top-level mappings) holding scalar settings, each with
its comment lines above it, a keyed list (`- name: ...` entries), maybe a commented-out
block at its end, and comment lines at the end of the file. Two edit scripts are drawn
against the same base: change, add or delete a setting, add / remove / edit a comment
line, rename an entry or change one of its fields, append an entry, uncomment a block,
append a commented-out block. Each script is applied to the model and the model is
written out as text (the shape a person or a chart release leaves), giving ours and
theirs. The merge is read back with ruamel's safe loader, never the engine's own loader.

- Disjoint scripts: the merge is clean, every edit of both is in it, every comment line
  upstream added is in it and every one it removed (and the operator kept) is not.
- Overlapping scripts (both change some settings): the conflicts are exactly the shared
  settings whose new values differ, each keeping the operator's value; the rest as above.

The model and scripts are shared with test_json_invariants.py (no comments there).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from uplevel.merge.yaml import merge_yaml

Scalar = int | bool | str

SECTIONS = ["gateway", "database", "keystore", "analytics", "transport", "tracing"]
KEYS = ["hostname", "port", "enabled", "url", "username", "poolSize", "timeout", "alias"]
FIELDS = ["type", "host", "weight", "secure"]
LIST_KEY = "environments"
ITEMS_KEY = "ports"


@dataclass
class Entry:
    ident: str
    fields: dict[str, Scalar]


@dataclass
class Items:
    """A list of scalars (ports); each item has an id for the test's bookkeeping only:
    the base's are "00", "01", ..., a side's new ones sort after them, ours' first."""

    items: list[tuple[str, int]]


@dataclass
class Setting:
    key: str
    value: Scalar | list[Entry] | Items
    lead: list[str] = field(default_factory=list)  # comment lines above it


@dataclass
class Section:
    name: str
    settings: list[Setting]
    block: list[tuple[str, Scalar]] | None = None  # commented-out settings at its end
    lead: list[str] = field(default_factory=list)


@dataclass
class Doc:
    sections: list[Section]
    tail: list[str] = field(default_factory=list)  # comment lines at the end of the file

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)


# ---------------------------------------------------------------- documents

SCALARS: st.SearchStrategy[Scalar] = st.one_of(
    st.integers(0, 65535),
    st.booleans(),
    st.from_regex(r"[a-z][a-z0-9.\-]{0,10}", fullmatch=True).filter(
        lambda s: s not in ("yes", "no", "on", "off", "y", "n", "true", "false", "null")
    ),
)


def other_than(old: Any) -> st.SearchStrategy[Scalar]:
    return SCALARS.filter(lambda v: type(v) is not type(old) or v != old)


@st.composite
def entries(draw: st.DrawFn, tag: str) -> list[Entry]:
    n = draw(st.integers(1, 3))
    out = []
    for i in range(n):
        names = draw(st.lists(st.sampled_from(FIELDS), min_size=2, max_size=4, unique=True))
        out.append(Entry(f"{tag}-env{i}", {k: draw(SCALARS) for k in names}))
    return out


@st.composite
def docs(draw: st.DrawFn, comments: bool = True) -> Doc:
    names = draw(st.lists(st.sampled_from(SECTIONS), min_size=1, max_size=4, unique=True))
    sections = []
    for s in names:
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=5, unique=True))
        settings_ = [Setting("kind", s)]  # never edited: a section never ends up empty
        for k in keys:
            lead = [f"about {s}.{k}"] if comments and draw(st.booleans()) else []
            settings_.append(Setting(k, draw(SCALARS), lead))
        if draw(st.booleans()):
            ports = draw(st.lists(st.integers(8000, 8999), min_size=1, max_size=5, unique=True))
            items = Items([(f"{i:02d}", v) for i, v in enumerate(ports)])
            settings_.insert(draw(st.integers(1, len(settings_))), Setting(ITEMS_KEY, items))
        if draw(st.booleans()):
            settings_.insert(
                draw(st.integers(1, len(settings_))), Setting(LIST_KEY, draw(entries(s)))
            )
        block = None
        if comments and draw(st.booleans()):
            block = [(f"opt{i}", draw(SCALARS)) for i in range(draw(st.integers(1, 2)))]
        lead = [f"{s} settings"] if comments and draw(st.booleans()) else []
        sections.append(Section(s, settings_, block, lead))
    return Doc(sections, [])


def scalar_yaml(v: Scalar) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int) or "." not in v:
        return str(v)
    return f'"{v}"'  # as charts quote hostnames and versions


def plain(doc: Doc, ident: str) -> dict[str, Any]:
    """The model as a document value, keyed lists as lists of mappings."""
    out: dict[str, Any] = {}
    for sec in doc.sections:
        m: dict[str, Any] = {}
        for s in sec.settings:
            if isinstance(s.value, list):
                m[s.key] = [{ident: e.ident, **e.fields} for e in s.value]
            elif isinstance(s.value, Items):
                m[s.key] = [v for _, v in s.value.items]
            else:
                m[s.key] = s.value
        out[sec.name] = m
    return out


def write_yaml(doc: Doc) -> bytes:
    lines: list[str] = []
    for sec in doc.sections:
        lines += [f"# {c}" for c in sec.lead]
        lines.append(f"{sec.name}:")
        for s in sec.settings:
            lines += [f"  # {c}" for c in s.lead]
            if isinstance(s.value, list):
                lines.append(f"  {s.key}:")
                for e in s.value:
                    lines.append(f"    - name: {e.ident}")
                    lines += [f"      {k}: {scalar_yaml(v)}" for k, v in e.fields.items()]
            elif isinstance(s.value, Items):
                lines.append(f"  {s.key}:" if s.value.items else f"  {s.key}: []")
                lines += [f"    - {v}" for _, v in s.value.items]
            else:
                lines.append(f"  {s.key}: {scalar_yaml(s.value)}")
        if sec.block is not None:
            lines += [f"  #{k}: {scalar_yaml(v)}" for k, v in sec.block]
    lines += [f"# {c}" for c in doc.tail]
    return ("\n".join(lines) + "\n").encode()


def value(doc: Doc) -> dict[str, Any]:
    """The settings of a model; keyed lists as a mapping by identity (their order is
    upstream's and the operator's to interleave, not a setting)."""
    out: dict[str, Any] = {}
    for sec in doc.sections:
        m: dict[str, Any] = {}
        for s in sec.settings:
            if isinstance(s.value, list):
                m[s.key] = {e.ident: dict(e.fields) for e in s.value}
            elif isinstance(s.value, Items):  # by item id; `unflatten` makes it a list again
                m[s.key] = {("item", i): v for i, v in s.value.items}
            else:
                m[s.key] = s.value
        out[sec.name] = m
    return out


def normalise(loaded: Any, ident: str) -> Any:
    """A loaded document in the shape of `value`: keyed lists as a mapping by identity,
    a list both sides emptied left out (as `expected`, built from leaf settings, has it)."""
    if isinstance(loaded, dict):
        out = {k: normalise(v, ident) for k, v in loaded.items()}
        return {k: v for k, v in out.items() if v != {}}
    if isinstance(loaded, list) and all(isinstance(x, dict) and ident in x for x in loaded):
        out = {x[ident]: {k: v for k, v in x.items() if k != ident} for x in loaded}
        assert len(out) == len(loaded), "an entry is in the merge twice"
        return out
    return loaded


# ---------------------------------------------------------------- edit scripts


@dataclass
class Script:
    """The edits of one side, applied to its copy of the model, and what they touched."""

    side: str
    doc: Doc
    claimed: set[tuple[str, ...]] = field(default_factory=set)
    counter: int = 0
    log: list[str] = field(default_factory=list)

    def fresh(self, what: str) -> str:
        self.counter += 1
        return f"{what}-{self.side}{self.counter}"


Edit = Callable[[st.DrawFn, Script, set[tuple[str, ...]]], None]


def _free(draw: st.DrawFn, options: Sequence[tuple[str, ...]], taken: set[tuple[str, ...]]) -> Any:
    free = [o for o in options if o not in taken]
    return draw(st.sampled_from(free)) if free else None


def _scalar_targets(doc: Doc) -> list[tuple[str, ...]]:
    return [
        ("s", sec.name, s.key)
        for sec in doc.sections
        for s in sec.settings
        if s.key != "kind" and not isinstance(s.value, list | Items)
    ]


def edit_change(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    t = _free(draw, _scalar_targets(sc.doc), taken)
    if t is None:
        return
    s = next(x for x in sc.doc.section(t[1]).settings if x.key == t[2])
    new = draw(other_than(s.value))
    sc.log.append(f"change {t[1]}.{t[2]} = {new!r}")
    s.value = new
    sc.claimed.add(t)


def edit_delete(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    t = _free(draw, _scalar_targets(sc.doc), taken | {("c", *x[1:]) for x in taken})
    if t is None or ("c", *t[1:]) in taken:
        return
    sec = sc.doc.section(t[1])
    sec.settings = [x for x in sec.settings if x.key != t[2]]  # with its comment lines
    sc.log.append(f"delete {t[1]}.{t[2]}")
    sc.claimed |= {t, ("c", *t[1:])}


def edit_add(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    sec = draw(st.sampled_from(sc.doc.sections))
    pos = draw(st.integers(1, len(sec.settings)))
    key = sc.fresh("new").replace("-", "_")
    lead = [f"{key} documented"] if draw(st.booleans()) else []
    sec.settings.insert(pos, Setting(key, draw(SCALARS), lead))
    sc.log.append(f"add {sec.name}.{key} at {pos}")
    sc.claimed.add(("s", sec.name, key))


def edit_comment(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    options = [("c", sec.name, s.key) for sec in sc.doc.sections for s in sec.settings]
    taken_c = taken | {("c", *x[1:]) for x in taken if x[0] == "s"}  # deleted keys' comments
    t = _free(draw, options, taken_c)
    if t is None:
        return
    s = next(x for x in sc.doc.section(t[1]).settings if x.key == t[2])
    how = draw(st.sampled_from(["add", "remove", "edit"] if s.lead else ["add"]))
    if how == "add":
        s.lead.insert(draw(st.integers(0, len(s.lead))), sc.fresh("note"))
    elif how == "remove":
        del s.lead[draw(st.integers(0, len(s.lead) - 1))]
    else:
        i = draw(st.integers(0, len(s.lead) - 1))
        s.lead[i] = s.lead[i] + " " + sc.fresh("edited")
    sc.log.append(f"comment {how} above {t[1]}.{t[2]}")
    sc.claimed.add(t)


def _lists(doc: Doc) -> list[tuple[Section, Setting]]:
    return [(sec, s) for sec in doc.sections for s in sec.settings if isinstance(s.value, list)]


def edit_entry(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    options = [("e", sec.name, e.ident) for sec, s in _lists(sc.doc) for e in _entries(s)]
    t = _free(draw, options, taken)
    if t is None:
        return
    s = next(s for sec, s in _lists(sc.doc) if sec.name == t[1])
    assert isinstance(s.value, list)
    e = next(x for x in s.value if x.ident == t[2])
    if draw(st.booleans()):
        e.ident = sc.fresh(e.ident)
        sc.log.append(f"rename {t[1]} entry {t[2]} -> {e.ident}")
    else:
        k = draw(st.sampled_from(sorted(e.fields)))
        e.fields[k] = draw(other_than(e.fields[k]))
        sc.log.append(f"change {t[1]} entry {t[2]}.{k} = {e.fields[k]!r}")
    sc.claimed.add(t)


def edit_delete_entry(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    options = [
        ("e", sec.name, e.ident)
        for sec, s in _lists(sc.doc)
        if isinstance(s.value, list) and len(s.value) > 1
        for e in s.value
    ]
    t = _free(draw, options, taken)
    if t is None:
        return
    s = next(s for sec, s in _lists(sc.doc) if sec.name == t[1])
    assert isinstance(s.value, list)
    s.value = [e for e in s.value if e.ident != t[2]]
    sc.log.append(f"delete {t[1]} entry {t[2]}")
    sc.claimed.add(t)


def edit_item(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    options = [
        ("i", sec.name, i)
        for sec in sc.doc.sections
        for s in sec.settings
        if isinstance(s.value, Items)
        for i, _ in s.value.items
        if not i.startswith(("o", "t"))
    ]
    t = _free(draw, options, taken)
    if t is None:
        return
    s = next(x for x in sc.doc.section(t[1]).settings if isinstance(x.value, Items))
    assert isinstance(s.value, Items)
    if draw(st.booleans()):
        s.value.items = [(i, v) for i, v in s.value.items if i != t[2]]
        sc.log.append(f"delete {t[1]}.{ITEMS_KEY} item {t[2]}")
    else:
        sc.counter += 1
        new = (20000 if sc.side == "o" else 30000) + sc.counter
        s.value.items = [(i, new if i == t[2] else v) for i, v in s.value.items]
        sc.log.append(f"change {t[1]}.{ITEMS_KEY} item {t[2]} = {new}")
    sc.claimed.add(t)


def edit_append_item(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    """Only one side appends to a list: two different appends in one place conflict."""
    options = [
        ("ia", sec.name)
        for sec in sc.doc.sections
        if any(isinstance(x.value, Items) for x in sec.settings)
    ]
    t = _free(draw, options, taken)
    if t is None:
        return
    s = next(x for x in sc.doc.section(t[1]).settings if isinstance(x.value, Items))
    assert isinstance(s.value, Items)
    sc.counter += 1
    new = (20000 if sc.side == "o" else 30000) + sc.counter
    s.value.items.append((f"{sc.side}{sc.counter:02d}", new))
    sc.log.append(f"append {t[1]}.{ITEMS_KEY} item {new}")
    sc.claimed.add(t)


def edit_append_entry(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    lists = _lists(sc.doc)
    if not lists:
        return
    sec, s = draw(st.sampled_from(lists))
    assert isinstance(s.value, list)
    ident = sc.fresh(f"{sec.name}-env")
    s.value.append(Entry(ident, {"type": draw(SCALARS), "host": draw(SCALARS)}))
    sc.log.append(f"append {sec.name} entry {ident}")
    sc.claimed.add(("e", sec.name, ident))


def edit_uncomment(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    options = [("b", sec.name) for sec in sc.doc.sections if sec.block]
    t = _free(draw, options, taken)
    if t is None:
        return
    sec = sc.doc.section(t[1])
    assert sec.block is not None
    sec.settings += [Setting(k, v) for k, v in sec.block]
    sec.block = None
    sc.log.append(f"uncomment the block of {sec.name}")
    sc.claimed.add(t)


def edit_tail(draw: st.DrawFn, sc: Script, taken: set[tuple[str, ...]]) -> None:
    name = sc.fresh("recaptcha")
    sc.doc.tail += [f"{name}:", f"  enabled: {draw(st.booleans())}".lower()]
    sc.log.append(f"append commented-out block {name}")


SETTING_EDITS: list[Edit] = [
    edit_change,
    edit_delete,
    edit_add,
    edit_entry,
    edit_delete_entry,
    edit_append_entry,
    edit_item,
    edit_append_item,
]
COMMENT_EDITS: list[Edit] = [edit_comment, edit_uncomment, edit_tail]


@dataclass
class Shared:
    """What both scripts touched: scalar settings both changed (ours', theirs' value) and
    entries one side renamed while the other changed a field (section, base identity,
    ours' identity, theirs' identity)."""

    values: dict[tuple[str, ...], tuple[Scalar, Scalar]] = field(default_factory=dict)
    entries: list[tuple[str, str, str, str]] = field(default_factory=list)

    def conflicts(self, ident: str) -> list[str]:
        """The conflict paths the engine must report, sorted."""
        paths = [
            f"{p[1]}.{p[2]}"
            for p, (vo, vt) in self.values.items()
            if (type(vo), vo) != (type(vt), vt)
        ]
        paths += [f"{sec}.{LIST_KEY}[{ident}={b}]" for sec, b, _, _ in self.entries]
        return sorted(paths)


@st.composite
def disjoint(
    draw: st.DrawFn, base: Doc, edits: list[Edit], shared: int = 0
) -> tuple[Script, Script, Shared]:
    """Ours and theirs on disjoint targets; with `shared`, up to that many scalar settings
    both sides change as well, and up to one entry one renames and the other edits."""
    ours, theirs = Script("o", copy.deepcopy(base)), Script("t", copy.deepcopy(base))
    both = Shared()
    targets = _scalar_targets(base)
    for t in (
        draw(st.lists(st.sampled_from(targets), max_size=shared, unique=True)) if targets else []
    ):
        old = next(x for x in base.section(t[1]).settings if x.key == t[2]).value
        assert not isinstance(old, list | Items)
        vo = draw(other_than(old))
        vt = vo if draw(st.booleans()) else draw(other_than(old))
        for sc, v in ((ours, vo), (theirs, vt)):
            next(x for x in sc.doc.section(t[1]).settings if x.key == t[2]).value = v
            sc.claimed.add(t)
            sc.log.append(f"change {t[1]}.{t[2]} = {v!r} (shared)")
        both.values[t] = (vo, vt)
    entry_targets = [(sec.name, e.ident) for sec, s in _lists(base) for e in _entries(s)]
    if shared and entry_targets and draw(st.booleans()):
        sec_name, ident = draw(st.sampled_from(entry_targets))
        renamer, editor = draw(st.sampled_from([(ours, theirs), (theirs, ours)]))
        for sc in (renamer, editor):
            s = next(s for sec, s in _lists(sc.doc) if sec.name == sec_name)
            e = next(x for x in _entries(s) if x.ident == ident)
            if sc is renamer:
                e.ident = sc.fresh(ident)
                sc.log.append(f"rename {sec_name} entry {ident} -> {e.ident} (shared)")
            else:
                k = draw(st.sampled_from(sorted(e.fields)))
                e.fields[k] = draw(other_than(e.fields[k]))
                sc.log.append(f"change {sec_name} entry {ident}.{k} (shared)")
            sc.claimed.add(("e", sec_name, ident))
        new = ident + "-" + renamer.side + str(renamer.counter)
        o_id, t_id = (new, ident) if renamer is ours else (ident, new)
        both.entries.append((sec_name, ident, o_id, t_id))
    taken = set(both.values) | {("e", x[0], i) for x in both.entries for i in x[1:]}
    for _ in range(draw(st.integers(1, 6))):
        sc, other = draw(st.sampled_from([(ours, theirs), (theirs, ours)]))
        draw(st.sampled_from(edits))(draw, sc, other.claimed | taken)
    note("ours:   " + "; ".join(ours.log))
    note("theirs: " + "; ".join(theirs.log))
    return ours, theirs, both


def _entries(s: Setting) -> list[Entry]:
    assert isinstance(s.value, list)
    return s.value


def expected(base: Doc, ours: Doc, theirs: Doc, shared: Shared | None = None) -> dict[str, Any]:
    """Both scripts' settings applied to base (disjoint, so in any order): a three-way
    merge of the flattened settings, ours winning where both changed one; an entry in
    conflict is ours' entry whole."""
    b, o, t = (flatten(value(d)) for d in (base, ours, theirs))
    out: dict[tuple[str, ...], Any] = {}
    for p in {*b, *o, *t}:
        bv, ov, tv = b.get(p, MISSING), o.get(p, MISSING), t.get(p, MISSING)
        v = tv if ov == bv else ov
        if v is not MISSING:
            out[p] = v
    for sec, b_id, o_id, t_id in shared.entries if shared else []:
        for p in [p for p in out if p[:3] in ((sec, LIST_KEY, b_id), (sec, LIST_KEY, t_id))]:
            del out[p]
        entry = next(e for _, s in _lists(ours) for e in _entries(s) if e.ident == o_id)
        out.update(
            {(sec, LIST_KEY, o_id, k): (type(v).__name__, v) for k, v in entry.fields.items()}
        )
    return unflatten(out)


MISSING = object()


def flatten(v: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Leaf settings by path, typed; an empty list (a mapping here) has none."""
    if isinstance(v, dict):
        out: dict[tuple[str, ...], Any] = {}
        for k, x in v.items():
            out.update(flatten(x, (*path, k)))
        return out
    return {path: (type(v).__name__, v)}


def unflatten(flat: dict[tuple[Any, ...], Any]) -> dict[str, Any]:
    out: dict[Any, Any] = {}
    for p, (_, v) in flat.items():
        node = out
        for k in p[:-1]:
            node = node.setdefault(k, {})
        node[p[-1]] = v
    result: dict[str, Any] = _lists_back(out)
    return result


def _lists_back(v: Any) -> Any:
    """Scalar lists kept by item id become lists again, in item id order."""
    if isinstance(v, dict) and v and all(isinstance(k, tuple) for k in v):
        return [x for _, x in sorted(v.items())]
    if isinstance(v, dict):  # an emptied list is left out, as `normalise` does
        out = {k: _lists_back(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in ({}, [])}
    return v


def comment_lines(data: bytes) -> list[str]:
    return [x.strip() for x in data.decode().splitlines() if x.strip().startswith("#")]


# ---------------------------------------------------------------- properties


def load(data: bytes) -> Any:
    return YAML(typ="safe", pure=True).load(data)


def check_comments(b: bytes, o: bytes, t: bytes, merged: bytes) -> None:
    """Every comment line upstream added is in the merge; every one upstream removed is
    gone unless the operator added it; the operator's comments are kept likewise."""
    cb, co, ct, cm = (set(comment_lines(x)) for x in (b, o, t, merged))
    for line in ct - cb:
        assert line in cm, f"upstream comment lost: {line}"
    for line in co - cb:
        assert line in cm, f"operator comment lost: {line}"
    for line in (cb - ct) | (cb - co):
        assert line not in cm, f"comment removed by one side is back: {line}"


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(st.data())
def test_disjoint_scripts_merge_clean_with_every_edit_and_comment(data: st.DataObject) -> None:
    base = data.draw(docs())
    ours, theirs, _ = data.draw(disjoint(base, SETTING_EDITS + COMMENT_EDITS))
    b, o, t = write_yaml(base), write_yaml(ours.doc), write_yaml(theirs.doc)
    note(o.decode())
    note(t.decode())
    result = merge_yaml(b, o, t)
    note(result.merged.decode())
    assert [c.path for c in result.conflicts] == []
    assert normalise(load(result.merged), "name") == expected(base, ours.doc, theirs.doc)
    check_comments(b, o, t, result.merged)


@PROPS
@given(st.data())
def test_overlapping_scripts_conflict_exactly_on_shared_settings(data: st.DataObject) -> None:
    base = data.draw(docs())
    ours, theirs, both = data.draw(disjoint(base, SETTING_EDITS + COMMENT_EDITS, shared=3))
    b, o, t = write_yaml(base), write_yaml(ours.doc), write_yaml(theirs.doc)
    result = merge_yaml(b, o, t)
    note(result.merged.decode())
    assert sorted(c.path for c in result.conflicts) == both.conflicts("name")
    assert normalise(load(result.merged), "name") == expected(base, ours.doc, theirs.doc, both)
    check_comments(b, o, t, result.merged)
