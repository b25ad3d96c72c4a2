"""Property tests (Hypothesis) of the .properties merge: issue 10's invariants on generated files.

A base document of the real shape (log4j2-style keys, `a = b` / `a=b` / `a: b` / `a b`
separators, list values over continuation lines, comment blocks, commented-out settings,
blank lines) is edited by two scripts, one making ours and one making theirs; the edits change
the text, so formatting is realistic (the operator's file may be CRLF, carry a BOM or lack the
final newline). Settings are read by the independent reader (tests/merge/test_javaprops_reader.py),
never by the engine's parser; comment lines and written lines are checked as text.

- Disjoint scripts: the merge is clean, every edit of both scripts is in the output (its value,
  and a setting line a side wrote as that side wrote it: re-spacing too), and every
  comment line either side has is there unless the other side removed it.
- Overlapping scripts: the conflicts are exactly the settings both changed to different values
  (each with its three values), conflicts keep ours, every other edit is in the output.

.properties has no repeated elements, so the scripts have no identity rename (a log4j2 prefix
rename is deletions plus additions, covered by test_javaprops_rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.merge.test_javaprops_reader import read_properties
from uplevel.merge.properties import merge_properties

EXAMPLES = 400

KEYS = [
    "rootLogger.level",
    "appenders",
    "loggers",
    "appender.CARBON_LOGFILE.fileName",
    "appender.CARBON_LOGFILE.layout.pattern",
    "appender.CARBON_CONSOLE.type",
    "appender.AUDIT_LOGFILE.policies.size.size",
    "logger.org-wso2.level",
    "logger.synapse-wire.name",
    "logger.trace-messages.additivity",
    "appender.CARBON:SYS.host",  # a key Java needs escaped
    "property.carbon home",
]
PARTS = [
    "INFO",
    "DEBUG",
    "${sys:carbon.home}/repository/logs/wso2carbon.log",
    "CARBON_LOGFILE",
    "[%d] %5p {%c} - %m%n",
    "true",
    "org.wso2.carbon",
    "10MB",
    "é-ü",
    "C:\\logs",
]
SEPARATORS = [" = ", "=", ": ", " ", "\t=\t"]


@dataclass(frozen=True)
class Setting:
    key: str
    parts: tuple[str, ...]
    sep: str
    continued: bool  # a list value over continuation lines

    @property
    def value(self) -> str:
        return ", ".join(self.parts)

    def render(self) -> str:
        key = "".join("\\" + c if c in " :=#!" else c for c in self.key)
        parts = [p.replace("\\", "\\\\") for p in self.parts]
        joiner = ", \\\n    " if self.continued else ", "
        return key + self.sep + joiner.join(parts) + "\n"


@dataclass(frozen=True)
class Comment:
    text: str  # with its "#" or "!"

    def render(self) -> str:
        return self.text + "\n"


@dataclass(frozen=True)
class CommentedOut:
    """`#key = value`: a setting upstream documents but leaves off."""

    setting: Setting

    @property
    def text(self) -> str:
        return "#" + self.setting.render().rstrip("\n")

    def render(self) -> str:
        return self.text + "\n"


@dataclass(frozen=True)
class Blank:
    def render(self) -> str:
        return "\n"


Entry = Setting | Comment | CommentedOut | Blank


def render(entries: list[Entry]) -> bytes:
    return "".join(e.render() for e in entries).encode()


def comment_lines(data: bytes) -> list[str]:
    """The comment lines of a document, whatever its line endings or BOM."""
    text = data.decode().removeprefix("\ufeff")
    return [line.strip() for line in text.splitlines() if line.strip()[:1] in ("#", "!")]


@st.composite
def settings_of(draw: st.DrawFn, key: str) -> Setting:
    parts = tuple(draw(st.lists(st.sampled_from(PARTS), min_size=1, max_size=3)))
    continued = len(parts) > 1 and draw(st.booleans())
    return Setting(key, parts, draw(st.sampled_from(SEPARATORS)), continued)


@st.composite
def base_documents(draw: st.DrawFn) -> list[Entry]:
    """Unique keys (some commented out) and unique comment texts, in a realistic order."""
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=8))
    entries: list[Entry] = []
    for n, key in enumerate(keys):
        if draw(st.booleans()):
            entries.append(Comment(f"# about {key} (note {n})"))
        setting = draw(settings_of(key))
        if draw(st.integers(0, 3)) == 0:  # commented out: uncommenting it is an addition
            entries.append(CommentedOut(Setting(key, setting.parts, " = ", False)))
        else:
            entries.append(setting)
        if draw(st.booleans()):
            entries.append(Blank())
    return entries


@dataclass
class Script:
    """One side's edits, kept as what they must do to the merged settings and comments."""

    entries: list[Entry]
    comments_removed: set[str]
    lines: dict[str, str]  # key -> its line as this side wrote it (changed, re-spaced, added)
    touched: set[str]  # every key this side changed, re-spaced, deleted or added


@st.composite
def edited(
    draw: st.DrawFn, base: list[Entry], owned: set[int], side: str, new_keys: list[str]
) -> Script:
    """Apply a random script to the entries of `base` this side owns (and add new lines)."""
    entries: list[Entry | None] = list(base)
    removed: set[str] = set()
    lines: dict[str, str] = {}
    touched: set[str] = set()
    for i in sorted(owned):
        e = base[i]
        if isinstance(e, Setting):
            op = draw(st.sampled_from(["change", "delete", "reformat", "keep"]))
            if op != "keep":
                touched.add(e.key)
            if op == "change":
                new = draw(settings_of(e.key))
                entries[i] = new if new.value != e.value else Setting(e.key, ("OFF",), e.sep, False)
            elif op == "delete":
                entries[i] = None
            elif op == "reformat":
                entries[i] = Setting(
                    e.key,
                    e.parts,
                    draw(st.sampled_from(SEPARATORS)),
                    not e.continued and len(e.parts) > 1,
                )
        elif isinstance(e, Comment | CommentedOut):
            ops = ["remove", "edit", "keep"] + (
                ["uncomment"] if isinstance(e, CommentedOut) else []
            )
            op = draw(st.sampled_from(ops))
            if op != "keep":
                removed.add(e.text)
            if op == "remove":
                entries[i] = None
            elif op == "edit":
                entries[i] = Comment(e.text + f" ({side} edit)")
            elif op == "uncomment" and isinstance(e, CommentedOut):
                entries[i] = e.setting
                touched.add(e.setting.key)
    for i in owned:
        new_entry = entries[i]
        if isinstance(new_entry, Setting) and new_entry != base[i]:
            lines[new_entry.key] = new_entry.render()
    kept: list[Entry] = [e for e in entries if e is not None]
    for n, key in enumerate(new_keys):
        at = draw(st.integers(0, len(kept)))
        setting = draw(settings_of(key))
        lines[key] = setting.render()
        touched.add(key)
        block: list[Entry] = [setting]
        if draw(st.booleans()):
            block.insert(0, Comment(f"# {side} adds {key} (note {n})"))
        kept[at:at] = block
    for n in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(kept)))
        kept[at:at] = [
            Comment(f"# {side} comment {n}"),
            *([Blank()] if draw(st.booleans()) else []),
        ]
    return Script(kept, removed, lines, touched)


@st.composite
def operator_format(draw: st.DrawFn, data: bytes) -> bytes:
    """The operator's file as an editor may save it: CRLF, a BOM, no final newline."""
    if draw(st.booleans()):
        data = data.replace(b"\n", b"\r\n")
    if draw(st.integers(0, 3)) == 0:
        data = data.rstrip(b"\r\n")
    if draw(st.integers(0, 3)) == 0:
        data = b"\xef\xbb\xbf" + data
    return data


@st.composite
def disjoint_merges(draw: st.DrawFn) -> tuple[bytes, bytes, bytes, Script, Script]:
    base = draw(base_documents())
    owner = [draw(st.sampled_from("otn")) for _ in base]
    used = {e.key for e in base if isinstance(e, Setting)} | {
        e.setting.key for e in base if isinstance(e, CommentedOut)
    }
    free = [k for k in KEYS if k not in used]
    split = draw(st.integers(0, len(free)))
    o_new = draw(st.lists(st.sampled_from(free[:split]), unique=True, max_size=2)) if split else []
    t_new = (
        draw(st.lists(st.sampled_from(free[split:]), unique=True, max_size=2))
        if split < len(free)
        else []
    )
    ours = draw(edited(base, {i for i, w in enumerate(owner) if w == "o"}, "ours", o_new))
    theirs = draw(edited(base, {i for i, w in enumerate(owner) if w == "t"}, "theirs", t_new))
    ours_bytes = draw(operator_format(render(ours.entries)))
    return render(base), ours_bytes, render(theirs.entries), ours, theirs


def changes(base: dict[str, str], side: dict[str, str]) -> dict[str, str | None]:
    """Key -> new value (None: deleted) of every setting a side changed."""
    return {k: side.get(k) for k in {*base, *side} if base.get(k) != side.get(k)}


def apply_changes(settings_: dict[str, str], *edits: dict[str, str | None]) -> dict[str, str]:
    out = dict(settings_)
    for e in edits:
        for k, v in e.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
    return out


def check_comments(merged: bytes, ours: bytes, theirs: bytes, o: Script, t: Script) -> None:
    lines = set(comment_lines(merged))
    for line in comment_lines(theirs):
        if line not in o.comments_removed:
            assert line in lines, f"upstream comment lost: {line!r}"
    for line in comment_lines(ours):
        if line not in t.comments_removed:
            assert line in lines, f"operator comment lost: {line!r}"
    for line in o.comments_removed | t.comments_removed:
        assert line not in lines, f"removed comment still there: {line!r}"


def check_lines(merged: bytes, o: Script, t: Script) -> None:
    """A setting line one side wrote (and the other left alone) is in the file as written,
    whatever the line endings: upstream's re-spacing included."""
    text = "\n" + merged.decode().removeprefix("\ufeff").replace("\r\n", "\n").rstrip("\n") + "\n"
    for side, other in ((o, t), (t, o)):
        for key, line in side.lines.items():
            if key not in other.touched:
                assert "\n" + line in text, f"line lost: {line!r}"


@settings(max_examples=EXAMPLES, deadline=None)
@given(disjoint_merges())
def test_disjoint_scripts_merge_clean_and_keep_every_edit(
    case: tuple[bytes, bytes, bytes, Script, Script],
) -> None:
    base, ours, theirs, o, t = case
    b, ov, tv = read_properties(base), read_properties(ours), read_properties(theirs)
    result = merge_properties(base, ours, theirs)
    assert result.conflicts == ()
    merged = read_properties(result.merged)
    assert merged == apply_changes(b, changes(b, ov), changes(b, tv))
    check_comments(result.merged, ours, theirs, o, t)
    check_lines(result.merged, o, t)
    assert result.merged.startswith(b"\xef\xbb\xbf") == ours.startswith(b"\xef\xbb\xbf")


@st.composite
def overlapping_merges(draw: st.DrawFn) -> tuple[bytes, bytes, bytes, Script, Script]:
    base = draw(base_documents())
    owner = [draw(st.sampled_from("otbn")) for _ in base]
    # both sides may edit the same settings and add the same keys; comments stay single-owned
    for i, e in enumerate(base):
        if owner[i] == "b" and not isinstance(e, Setting):
            owner[i] = draw(st.sampled_from("otn"))
    used = {e.key for e in base if isinstance(e, Setting)} | {
        e.setting.key for e in base if isinstance(e, CommentedOut)
    }
    free = [k for k in KEYS if k not in used]
    o_new = draw(st.lists(st.sampled_from(free), unique=True, max_size=2)) if free else []
    t_new = draw(st.lists(st.sampled_from(free), unique=True, max_size=2)) if free else []
    ours = draw(edited(base, {i for i, w in enumerate(owner) if w in "ob"}, "ours", o_new))
    theirs = draw(edited(base, {i for i, w in enumerate(owner) if w in "tb"}, "theirs", t_new))
    ours_bytes = draw(operator_format(render(ours.entries)))
    return render(base), ours_bytes, render(theirs.entries), ours, theirs


@settings(max_examples=EXAMPLES, deadline=None)
@given(overlapping_merges())
def test_overlapping_scripts_conflict_exactly_where_values_differ(
    case: tuple[bytes, bytes, bytes, Script, Script],
) -> None:
    base, ours, theirs, o, t = case
    b, ov, tv = read_properties(base), read_properties(ours), read_properties(theirs)
    oc, tc = changes(b, ov), changes(b, tv)
    clashing = {k for k in oc.keys() & tc.keys() if oc[k] != tc[k]}
    result = merge_properties(base, ours, theirs)
    assert sorted((c.path, c.base, c.ours, c.theirs) for c in result.conflicts) == sorted(
        (k, b.get(k), ov.get(k), tv.get(k)) for k in clashing
    )
    merged = read_properties(result.merged)
    theirs_only = {k: v for k, v in tc.items() if k not in clashing}
    assert merged == apply_changes(b, oc, theirs_only)  # conflicts keep ours
    check_comments(result.merged, ours, theirs, o, t)
    check_lines(result.merged, o, t)
