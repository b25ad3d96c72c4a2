"""Property tests of the TOML merge: the invariants of issue 10 on generated deployment.toml shapes.

A document is a list of tables (`[server]`, `[database.apim_db]`, dotted keys such as
`pool.max_active`), array-of-tables elements identified by `name` (`[[gw.environment]]`),
commented-out sections (`#[analytics]` with `#key = value` lines) and comment blocks. Two edit
scripts are drawn on it: one makes `ours`, the other `theirs`. Each edit names what it claims
(a setting, a comment line, a whole entry); scripts on disjoint claims must merge cleanly into
exactly the document both scripts make together, read with tomllib (not the engine's parser),
and the comment lines of the result are exactly those of that document. With overlapping
scripts, the conflicts are exactly the settings both sides set to different values.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from uplevel.merge.toml import merge_toml

EXAMPLES = 300

_uid = itertools.count()


@dataclass(frozen=True)
class Line:
    uid: int
    kind: str  # "kv" | "comment" | "blank"
    key: str = ""
    value: Any = None
    text: str = ""


@dataclass(frozen=True)
class Block:
    uid: int
    header: str  # "server", "database.apim_db", "gw.environment"
    aot: bool = False
    commented: bool = False
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Doc:
    intro: tuple[Line, ...]
    blocks: tuple[Block, ...]

    def render(self, *, spaced: bool = True) -> str:
        eq = " = " if spaced else "="
        out = [_line(x, eq) for x in self.intro]
        for b in self.blocks:
            head = f"[[{b.header}]]" if b.aot else f"[{b.header}]"
            # the operator's editor reformats settings, not commented-out samples
            body = [_line(x, " = " if b.commented else eq) for x in b.lines]
            if b.commented:
                head, body = (
                    "#" + head,
                    [x if x.startswith("#") or not x else "#" + x for x in body],
                )
            out += ["", head, *body]
        return "\n".join(out) + "\n"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return str(value)


def _line(line: Line, eq: str) -> str:
    if line.kind == "kv":
        return f"{line.key}{eq}{_literal(line.value)}"
    return line.text if line.kind == "comment" else ""


# -- generating documents --------------------------------------------------------------------

KEYS = ("hostname", "port", "url", "enable", "username", "password", "pool.max_active",
        "pool.min_idle", "type", "file_name", "alias", "offset")  # fmt: skip
TABLES = ("server", "database.apim_db", "database.shared_db", "keystore.tls", "apim.cache",
          "transport.https.properties", "apim.key_manager")  # fmt: skip
SECTIONS = ("analytics", "recaptcha", "keystore.internal", "apim.ai")
NAMES = ("Default", "Production and Sandbox", "Internal", "External")

values = st.one_of(
    st.integers(min_value=0, max_value=9999),
    st.sampled_from(["localhost", "admin", "wso2carbon", "jdbc:h2:./db", "https://x:9443/a"]),
    st.booleans(),
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
)


def _comment() -> Line:
    uid = next(_uid)
    return Line(uid, "comment", text=f"# note {uid}: documented here")


@st.composite
def kv_lines(draw: st.DrawFn, *, required: tuple[tuple[str, Any], ...] = ()) -> tuple[Line, ...]:
    keys = draw(
        st.lists(st.sampled_from([k for k in KEYS if k != "type"]), unique=True, max_size=5)
    )
    lines = [Line(next(_uid), "kv", key=k, value=v) for k, v in required]
    lines += [Line(next(_uid), "kv", key=k, value=draw(values)) for k in keys]
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, _comment())
    return tuple(lines)


@st.composite
def documents(draw: st.DrawFn) -> Doc:
    blocks: list[Block] = []
    for name in draw(st.lists(st.sampled_from(TABLES), unique=True, min_size=1, max_size=4)):
        blocks.append(Block(next(_uid), name, lines=draw(kv_lines())))
    for name in draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=3)):
        lines = draw(kv_lines(required=(("name", name), ("type", "hybrid"))))
        blocks.append(Block(next(_uid), "gw.environment", aot=True, lines=lines))
    for name in draw(st.lists(st.sampled_from(SECTIONS), unique=True, max_size=2)):
        lines = draw(kv_lines())
        blocks.append(Block(next(_uid), name, commented=True, lines=lines))
    order = draw(st.permutations(range(len(blocks))))
    # arrays of tables stay together, as TOML needs an array's elements adjacent to read them
    # as one array only when nothing splits them: keep it simple and keep them in a run
    ordered = [blocks[i] for i in order if not blocks[i].aot]
    aots = [b for b in blocks if b.aot]
    at = draw(st.integers(0, len(ordered)))
    ordered[at:at] = aots
    return Doc(intro=(_comment(),), blocks=tuple(ordered))


# -- edits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    kind: str
    block: int  # block uid
    line: int = -1  # line uid, or -1
    value: Any = None
    claims: frozenset[tuple[Any, ...]] = field(default_factory=frozenset)


def _settings_of(block: Block) -> list[Line]:
    return [x for x in block.lines if x.kind == "kv"]


@st.composite
def edits(draw: st.DrawFn, doc: Doc, side: str) -> list[Edit]:
    out: list[Edit] = []
    for _ in range(draw(st.integers(1, 6))):
        block = draw(st.sampled_from(doc.blocks))
        # an entry (array-of-tables element) is claimed by any edit of its settings, so that a
        # rename on one side and an edit of the same entry on the other are never "disjoint"
        entry = {("entry", block.uid)} if block.aot else set()
        kvs = [x for x in _settings_of(block) if x.key != "name"]
        comments = [x for x in block.lines if x.kind == "comment"]
        choices = ["add_kv", "add_comment"]
        if block.commented:
            choices = ["uncomment"]
        else:
            choices += ["set", "delete"] * bool(kvs) + ["del_comment", "edit_comment"] * bool(
                comments
            )
            choices += ["rename"] * block.aot + ["add_table"]
        kind = draw(st.sampled_from(choices))
        if kind in ("set", "delete"):
            line = draw(st.sampled_from(kvs))
            value = draw(values) if kind == "set" else None
            out.append(
                Edit(kind, block.uid, line.uid, value, frozenset({("kv", line.uid), *entry}))
            )
        elif kind == "add_kv":
            anchor = draw(st.sampled_from([-1, *(x.uid for x in block.lines)]))
            key = f"{side}_added_{next(_uid)}"
            out.append(Edit(kind, block.uid, anchor, (key, draw(values)), frozenset(entry)))
        elif kind == "add_comment":
            anchor = draw(st.sampled_from([-1, *(x.uid for x in block.lines)]))
            out.append(Edit(kind, block.uid, anchor, f"# {side} comment {next(_uid)}"))
        elif kind in ("del_comment", "edit_comment"):
            line = draw(st.sampled_from(comments))
            value = f"# {side} reworded {next(_uid)}"
            out.append(Edit(kind, block.uid, line.uid, value, frozenset({("comment", line.uid)})))
        elif kind == "uncomment":
            out.append(Edit(kind, block.uid, claims=frozenset({("table", block.uid)})))
        elif kind == "rename":
            taken = {x.value for b in doc.blocks if b.aot for x in b.lines if x.key == "name"}
            name = draw(st.sampled_from([f"{side}-renamed-{next(_uid)}", *set(NAMES) - taken]))
            out.append(Edit(kind, block.uid, value=name, claims=frozenset({*entry, ("names",)})))
        else:
            out.append(Edit("add_table", -1, value=f"{side}_table_{next(_uid)}"))
    return out


def apply(doc: Doc, script: list[Edit]) -> Doc:
    blocks = list(doc.blocks)
    for e in script:
        if e.kind == "add_table":
            lines = (Line(next(_uid), "kv", key="enable", value=True),)
            blocks.append(Block(next(_uid), e.value, lines=lines))
            continue
        i = next((n for n, b in enumerate(blocks) if b.uid == e.block), None)
        if i is None:
            continue
        b = blocks[i]
        lines = list(b.lines)
        at = next((n for n, x in enumerate(lines) if x.uid == e.line), None)
        if e.kind in ("set", "delete", "del_comment", "edit_comment") and at is None:
            continue  # already gone by an earlier edit of the same script
        if e.kind == "set":
            assert at is not None
            lines[at] = replace(lines[at], value=e.value)
        elif e.kind in ("delete", "del_comment"):
            assert at is not None
            del lines[at]
        elif e.kind == "edit_comment":
            assert at is not None
            lines[at] = replace(lines[at], text=e.value)
        elif e.kind in ("add_kv", "add_comment"):
            new = (
                Line(next(_uid), "kv", key=e.value[0], value=e.value[1])
                if e.kind == "add_kv"
                else Line(next(_uid), "comment", text=e.value)
            )
            lines.insert(len(lines) if at is None else at + 1, new)
        elif e.kind == "uncomment":
            b = replace(b, commented=False)
        elif e.kind == "rename":
            lines = [replace(x, value=e.value) if x.key == "name" else x for x in lines]
        blocks[i] = replace(b, lines=tuple(lines))
    return Doc(intro=doc.intro, blocks=tuple(blocks))


def disjoint(ours: list[Edit], theirs: list[Edit]) -> list[Edit]:
    """Theirs' edits that claim nothing ours claims (and no entry ours' renames touch)."""
    claimed = set().union(*(e.claims for e in ours)) if ours else set()
    return [e for e in theirs if not (e.claims & claimed)]


def comment_lines(text: str) -> list[str]:
    return sorted(x.strip() for x in text.splitlines() if x.strip().startswith("#"))


def _reads(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


# -- the properties ----------------------------------------------------------------------------


@st.composite
def disjoint_cases(draw: st.DrawFn) -> tuple[Doc, list[Edit], list[Edit], bool]:
    doc = draw(documents())
    ours = draw(edits(doc, "o"))
    theirs = disjoint(ours, draw(edits(doc, "t")))
    return doc, ours, theirs, draw(st.booleans())


@settings(max_examples=EXAMPLES, deadline=None)
@given(disjoint_cases())
def test_disjoint_edits_merge_cleanly_and_keep_every_change(
    case: tuple[Doc, list[Edit], list[Edit], bool],
) -> None:
    doc, ours_script, theirs_script, reformat = case
    base = doc.render()
    ours_doc, theirs_doc = apply(doc, ours_script), apply(doc, theirs_script)
    expected = apply(ours_doc, theirs_script)
    ours = ours_doc.render(spaced=not reformat)  # the operator's editor may drop the spaces
    theirs = theirs_doc.render()
    result = merge_toml(base.encode(), ours.encode(), theirs.encode())
    merged = result.merged.decode()
    assert result.conflicts == (), (base, ours, theirs, merged)
    assert _reads(merged) == _reads(expected.render()), (base, ours, theirs, merged)
    assert comment_lines(merged) == comment_lines(expected.render()), (base, ours, theirs, merged)


@st.composite
def overlapping_cases(draw: st.DrawFn) -> tuple[Doc, list[Edit], list[Edit]]:
    doc = draw(documents())
    tables = [b for b in doc.blocks if not b.commented and not b.aot and _settings_of(b)]
    block = draw(st.sampled_from(tables)) if tables else None
    both = (
        draw(st.lists(st.sampled_from(_settings_of(block)), unique_by=lambda x: x.uid, min_size=1))
        if block
        else []
    )
    shared = {("kv", x.uid) for x in both}
    ours = [e for e in draw(edits(doc, "o")) if not e.claims & shared]
    theirs = [e for e in disjoint(ours, draw(edits(doc, "t"))) if not e.claims & shared]
    ours = [e for e in ours if e.kind not in ("rename", "uncomment")]
    theirs = [e for e in theirs if e.kind not in ("rename", "uncomment")]
    for line in both:  # both sides set the same settings, to equal or different values
        assert block is not None
        ov = draw(values)
        tv = draw(st.one_of(st.just(ov), values))
        ours.append(Edit("set", block.uid, line.uid, ov, frozenset({("kv", line.uid)})))
        theirs.append(Edit("set", block.uid, line.uid, tv, frozenset({("kv", line.uid)})))
    return doc, ours, theirs


def _path(block: Block, key: str) -> str:
    parts = [
        p if all(c.isalnum() or c in "_-" for c in p) else f'"{p}"' for p in block.header.split(".")
    ]
    return ".".join([*parts, key])


@settings(max_examples=EXAMPLES, deadline=None)
@given(overlapping_cases())
def test_overlapping_edits_conflict_exactly_where_values_differ(
    case: tuple[Doc, list[Edit], list[Edit]],
) -> None:
    doc, ours_script, theirs_script = case
    base = doc.render()
    ours_doc, theirs_doc = apply(doc, ours_script), apply(doc, theirs_script)
    ours, theirs = ours_doc.render(), theirs_doc.render()
    result = merge_toml(base.encode(), ours.encode(), theirs.encode())
    merged = result.merged.decode()
    # the conflicting settings: set by both sides, the final values differ, base differs
    o_kv = {x.uid: (b, x) for b in ours_doc.blocks for x in b.lines if x.kind == "kv"}
    t_kv = {x.uid: (b, x) for b in theirs_doc.blocks for x in b.lines if x.kind == "kv"}
    b_kv = {x.uid: x for b in doc.blocks for x in b.lines if x.kind == "kv"}
    expected: set[str] = set()
    for uid, (block, line) in o_kv.items():
        if uid in t_kv and uid in b_kv and not block.commented:
            ov, tv, bv = line.value, t_kv[uid][1].value, b_kv[uid].value
            if not _eq(ov, tv) and not _eq(ov, bv) and not _eq(tv, bv):
                expected.add(_path(block, line.key))
    assert {c.path for c in result.conflicts} == expected, (base, ours, theirs, merged)
    # every non-conflicting change of both sides is there; conflicts keep ours' value
    b_values = {x.uid: x.value for b in doc.blocks for x in b.lines if x.kind == "kv"}
    t_values = {x.uid: x.value for b in theirs_doc.blocks for x in b.lines if x.kind == "kv"}
    keep = [
        e
        for e in theirs_script
        if _path_of(doc, e) not in expected
        # a setting theirs ends at its base value (set back, or set twice) is no change of theirs
        and not (e.kind == "set" and _eq(b_values.get(e.line), t_values.get(e.line)))
    ]
    want = apply(ours_doc, keep)
    assert _reads(merged) == _reads(want.render()), (base, ours, theirs, merged)


def _eq(a: Any, b: Any) -> bool:
    """Equal as TOML values: `1` is not `true`."""
    return repr(a) == repr(b)


def _path_of(doc: Doc, edit: Edit) -> str | None:
    """The setting a set or delete edit changes (other edits name a line only as an anchor)."""
    if edit.kind not in ("set", "delete"):
        return None
    for b in doc.blocks:
        for x in b.lines:
            if x.uid == edit.line and x.kind == "kv":
                return _path(b, x.key)
    return None
