"""Three-way merge of TOML files (WSO2 deployment.toml), setting by setting, with tomlkit.

Settings are the leaves: `database.apim_db.url`. Tables, super tables (`[a.b]` makes `a`)
and dotted keys (`pool.max = 1`) are only the way to them, so moving a key between those
spellings, reordering keys, requoting a string or editing comments is formatting and never a
conflict. Plain arrays and inline tables are single values (compared whole).

Arrays of tables (`[[apim.gateway.environment]]`) are lists of elements. An element is
identified by the first of these key fields that every element of that array, on all three
sides, has as a scalar and that is unique within each side's array: `name`, `id`, `key`, then
the pair `type`+`name`; failing that, by position. Paths read
`apim.gateway.environment[name=Default].service_url`,
`event_handler[type=a,name=b].enable`, or `event_listener[2].order`.

When there is no setting-level conflict, the line merge (`merge_text`) is tried first and
kept only if it is clean and reads back to exactly the setting-level result: it carries
upstream's comments and layout and puts upstream's new keys where upstream put them.
Otherwise `ours` is edited with tomlkit (its untouched text stays as it was): changed values
take upstream's item, deleted settings are removed (and tables emptied that way go if
upstream dropped them too), added settings are copied from upstream into the deepest table
ours has (tomlkit appends them to it). On conflict the operator's value stays. Upstream's
comment-only edits (commented-out samples added, reworded or removed) are then carried one
by one where the line merge places them cleanly without changing a setting; a block
appended at the end of the file is appended.

Conflict values are shown as text: strings as they are, other values as TOML literals.
Pure: bytes in, MergeResult out. Input that is not UTF-8 TOML raises UnparsableInput.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import json
import re
import tomllib
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any

import tomlkit
from tomlkit.items import AoT, Comment, InlineTable, Item, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from uplevel.merge.result import MergeResult, SettingConflict, UnparsableInput
from uplevel.merge.text import diff3_regions, merge_text
from uplevel.merge.toml_units import Unit, UnitsUnreadable, split_units
from uplevel.merge.tree import pair_renames

FORMAT = "toml"

# Key fields tried, in order, to identify the elements of an array of tables.
IDENTITY_FIELDS: tuple[tuple[str, ...], ...] = (("name",), ("id",), ("key",), ("type", "name"))

_Elem = tuple[str, tuple[tuple[str, Any], ...] | int]  # ("key", ((field, value), ...)) | ("pos", i)
_Seg = str | _Elem
_Path = tuple[_Seg, ...]
_Schema = tuple[str, ...]  # a path with its element segments left out
_Rules = dict[_Schema, tuple[str, ...] | None]
_BARE = re.compile(r"[A-Za-z0-9_-]+")


class _Mismatch(Exception):
    """An array-of-tables element does not fit its identity rule."""


def merge_toml(base: bytes, ours: bytes, theirs: bytes) -> MergeResult:
    """Merge three versions of a TOML file; conflicts keep the operator's value."""
    if ours == theirs or theirs == base:
        return MergeResult(merged=ours, conflicts=(), format=FORMAT)
    if ours == base:
        return MergeResult(merged=theirs, conflicts=(), format=FORMAT)
    bom = ours.startswith(_BOM)
    base, ours, theirs = (_strip_bom(x) for x in (base, ours, theirs))
    result = _merge(base, ours, theirs)
    if bom:
        return MergeResult(merged=_BOM + result.merged, conflicts=result.conflicts, format=FORMAT)
    return result


_BOM = b"\xef\xbb\xbf"


def _strip_bom(data: bytes) -> bytes:
    """A UTF-8 byte order mark (an editor on Windows) is not TOML: set aside, put back on ours."""
    return data[len(_BOM) :] if data.startswith(_BOM) else data


def _merge(base: bytes, ours: bytes, theirs: bytes) -> MergeResult:
    docs = {
        side: _parse(data, side)
        for side, data in (("base", base), ("ours", ours), ("theirs", theirs))
    }
    b, o, t = docs["base"], docs["ours"], docs["theirs"]
    rules = _choose_rules([b, o, t])
    fb, fo, ft = (_flatten(d, rules) for d in (b, o, t))
    target, source, conflicts = _merge_settings(fb, fo, ft)
    _renamed_entries(fb, fo, ft, target, source, conflicts)
    _drop_filled_tables(target, source)

    # 1. The line merge, when it is clean and reads as the merged settings. With conflicts,
    # of upstream carrying the operator's value wherever they conflict.
    resolved: bytes | None = theirs
    if conflicts:
        names = {c.path for c in conflicts}
        wanted = dict(ft)
        for path in [p for p in {**fb, **fo, **ft} if _under(render_path(p), names)]:
            wanted.pop(path, None)
            if path in fo:
                wanted[path] = fo[path]
        data, failed = _apply(t, o, ft, wanted, dict.fromkeys(wanted, "theirs"), rules)
        resolved = None if failed else data
    if resolved is not None:
        text = merge_text(base, ours, resolved)
        if text.clean and _reads_as(text.merged, rules, target):
            return MergeResult(merged=text.merged, conflicts=tuple(conflicts), format=FORMAT)

    # 2. The merge of units: settings matched by path, comment lines by text.
    merged = _unit_merge(base, ours, theirs, rules, target, source)
    if merged is not None:
        return MergeResult(merged=merged, conflicts=tuple(conflicts), format=FORMAT)

    # 3. Ours edited with tomlkit, then upstream's comment edits carried where they fit.
    merged, failed = _apply(o, t, fo, target, source, rules)
    merged = _carry_comment_edits(base, merged, theirs, rules)
    reported = {c.path for c in conflicts}
    for path in failed:
        if _under(render_path(path), reported):
            continue
        conflicts.append(
            SettingConflict(
                path=render_path(path),
                base=_show(fb.get(path)),
                ours=_show(fo.get(path)),
                theirs=_show(ft.get(path)),
            )
        )
    return MergeResult(merged=merged, conflicts=tuple(conflicts), format=FORMAT)


def _under(path: str, names: set[str]) -> bool:
    """`path` is one of `names` or inside one (an entry named by a conflict)."""
    return path in names or any(path.startswith(n + ".") or path.startswith(n + "[") for n in names)


# --- the merge of units -----------------------------------------------------------------


def _unit_merge(
    base: bytes,
    ours: bytes,
    theirs: bytes,
    rules: _Rules,
    target: dict[_Path, Any],
    source: dict[_Path, str],
) -> bytes | None:
    """diff3 over the three files' units (toml_units), or None when no way of ordering the
    regions both sides changed reads back as the merged settings.

    Settings come once each, in the merged value's spelling (the side it comes from),
    and only if they are in the merged settings. Headers and other lines follow diff3:
    a line one side added is added, one it removed is removed. Where both sides changed
    the same region, both sides' lines are kept (never one dropped), placed first by where
    each side anchored them in base, else ours' before theirs', else theirs' before ours';
    the first of these that reads back as the merged settings is the result.
    """
    try:
        ub, uo, ut = (split_units(x, rules, _element_id) for x in (base, ours, theirs))
    except (UnitsUnreadable, UnicodeDecodeError, _Mismatch, tomllib.TOMLDecodeError):
        return None
    o_at = {u.path: u for u in uo if u.kind == "setting"}
    t_at = {u.path: u for u in ut if u.kind == "setting"}
    regions = list(
        diff3_regions([u.ident for u in ub], [u.ident for u in uo], [u.ident for u in ut])
    )

    spelled: dict[_Path, bytes] = {}  # each setting's text, worked out once for every order

    def assemble(mode: str) -> bytes:
        out: list[bytes] = []
        placed: set[Hashable] = set()
        for stable, rb, ro, rt in regions:
            cb, co, ct = [ub[i] for i in rb], [uo[i] for i in ro], [ut[i] for i in rt]
            counted = not stable
            if stable:
                order = co
            elif [u.ident for u in co] == [u.ident for u in cb]:
                order = ct + co
            elif [u.ident for u in ct] == [u.ident for u in cb]:
                order = co + ct
            elif mode == "anchored":
                order, counted = _anchored(cb, co, ct, target), False
            else:
                order = _join(co, ct) if mode == "ours-first" else _join(ct, co)
            allowed: dict[Hashable, int] = {}
            if counted:
                for units, sign in ((co, 1), (ct, 1), (cb, -1)):
                    for u in units:
                        allowed[u.ident] = allowed.get(u.ident, 0) + sign
            for u in order:
                if u.kind == "setting":
                    if u.path in placed or u.path not in target:
                        continue
                    placed.add(u.path)
                    if u.path not in spelled:
                        spelled[u.path] = _spelling(u.path, source[u.path], o_at, t_at)
                    out.append(spelled[u.path])
                    continue
                if counted:
                    if allowed.get(u.ident, 0) <= 0:
                        continue
                    allowed[u.ident] -= 1
                if u.kind == "header":
                    if u.ident in placed:
                        continue
                    placed.add(u.ident)
                out.append(u.text)
        for i, text in enumerate(out[:-1]):
            if not text.endswith(b"\n"):
                out[i] = text + b"\n"
        return b"".join(out)

    both = any(
        not stable
        and [ub[i].ident for i in rb] != [uo[i].ident for i in ro]
        and [ub[i].ident for i in rb] != [ut[i].ident for i in rt]
        for stable, rb, ro, rt in regions
    )
    for mode in ("anchored", "ours-first", "theirs-first") if both else ("anchored",):
        merged = assemble(mode)
        if _reads_as(merged, rules, target):
            return merged
    return None


def _anchored(
    cb: list[Unit], co: list[Unit], ct: list[Unit], target: dict[_Path, Any]
) -> list[Unit]:
    """A region both sides changed, each side's insertions placed before the base unit they
    were made in front of. At the same place, a pure insertion goes before the other side's
    replacement of what follows (upstream's new comment block stays in front of the section
    the operator uncommented). A base unit stays if both sides kept it, or if it is a setting
    that the merged settings keep (a conflict's operator value)."""
    plans = [_plan(cb, co), _plan(cb, ct)]
    order: list[Unit] = []
    for i in range(len(cb) + 1):
        (o_ins, o_rep), (t_ins, t_rep) = plans[0][0][i], plans[1][0][i]
        order += _join(t_ins, o_ins) if o_rep and not t_rep else _join(o_ins, t_ins)
        if i < len(cb):
            kept = plans[0][1][i], plans[1][1][i]
            unit = cb[i]
            if all(kept) or (any(kept) and unit.kind == "setting" and unit.path in target):
                order.append(unit)
    return order


def _join(first: list[Unit], second: list[Unit]) -> list[Unit]:
    """Two sides' units for one place: what each puts in the table already open there comes
    before the first table header of either (with the lines in front of that header), so that
    no key lands in the other side's table."""

    def split(units: list[Unit]) -> tuple[list[Unit], list[Unit]]:
        at = next((i for i, u in enumerate(units) if u.kind == "header"), len(units))
        while at < len(units) and at > 0 and units[at - 1].kind == "line":
            at -= 1  # the blank and comment lines in front of a header go with it
        return units[:at], units[at:]

    (lead1, rest1), (lead2, rest2) = split(first), split(second)
    return lead1 + lead2 + rest1 + rest2


def _plan(cb: list[Unit], cx: list[Unit]) -> tuple[list[tuple[list[Unit], bool]], list[bool]]:
    """One side's edit of a region: per base position, the units inserted before it (and
    whether they replace what follows), and per base unit, whether the side kept it."""
    inserted: list[tuple[list[Unit], bool]] = [([], False) for _ in range(len(cb) + 1)]
    kept = [False] * len(cb)
    matcher = difflib.SequenceMatcher(None, [u.ident for u in cb], [u.ident for u in cx], False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            kept[i1:i2] = [True] * (i2 - i1)
        elif j2 > j1:
            inserted[i1] = (inserted[i1][0] + cx[j1:j2], tag == "replace")
    return inserted, kept


def _spelling(path: _Path, side: str, o_at: dict[_Path, Unit], t_at: dict[_Path, Unit]) -> bytes:
    """A setting's line(s): the side its value comes from; upstream's value in the operator's
    spelling of the key (`x=1` stays `x=`) when the operator has the setting too."""
    if side != "theirs" or path not in t_at:
        return (o_at.get(path) or t_at[path]).text
    if path not in o_at:
        return t_at[path].text
    try:
        mine, new = tomlkit.parse(o_at[path].text.decode()), tomlkit.parse(t_at[path].text.decode())
        node, other = mine, new
        while True:
            (key,) = node.keys()
            if isinstance(node[key], Table) and not isinstance(node[key], InlineTable):
                node, other = node[key], other[key]
                continue
            node[key] = other[key]
            return mine.as_string().encode()
    except Exception:  # a spelling tomlkit cannot edit: upstream's line as it is
        return t_at[path].text


def _drop_filled_tables(target: dict[_Path, Any], source: dict[_Path, str]) -> None:
    """An empty table one side left (it removed the keys, or uncommented a bare header) is not
    empty once the other side's keys are merged into it: only truly empty ones stay settings."""
    prefixes = {p[:n] for p in target for n in range(1, len(p))}
    for path in [p for p, v in target.items() if v == {} and p in prefixes]:
        del target[path]
        source.pop(path, None)


# --- entries renamed -------------------------------------------------------------------


def _elements(flat: dict[_Path, Any]) -> dict[_Path, dict[_Path, Any]]:
    """Every identified array-of-tables element: its path → its settings (relative)."""
    out: dict[_Path, dict[_Path, Any]] = {}
    for path, value in flat.items():
        for n, seg in enumerate(path):
            if isinstance(seg, tuple) and seg[0] == "key":
                out.setdefault(path[: n + 1], {})[path[n + 1 :]] = value
    return out


def _renames(
    eb: dict[_Path, dict[_Path, Any]], ex: dict[_Path, dict[_Path, Any]]
) -> dict[_Path, _Path]:
    """Elements of base that one side renamed (its identifying key changed, the rest mostly
    kept): base element path → that side's. Paired within the same array, best match first."""
    gone = [p for p in eb if p not in ex]
    new = [p for p in ex if p not in eb]

    def likeness(g: _Path, n: _Path) -> float:
        if g[:-1] != n[:-1]:
            return 0.0  # another array
        a, c = _without_ids(g, eb[g]), _without_ids(n, ex[n])
        if not a and not c:  # only identities: a rename when it is the array's only change
            alone = sum(1 for x in gone if x[:-1] == g[:-1]) == 1
            return 1.0 if alone and sum(1 for x in new if x[:-1] == n[:-1]) == 1 else 0.0
        return sum(1 for k in a if k in c and _same(a[k], c[k])) / max(len(a), len(c))

    return pair_renames(gone, new, likeness)


def _without_ids(element: _Path, settings: dict[_Path, Any]) -> dict[_Path, Any]:
    seg = element[-1]
    fields = {f for f, _ in seg[1]} if isinstance(seg[1], tuple) else set()
    return {k: v for k, v in settings.items() if not (len(k) == 1 and k[0] in fields)}


def _renamed_entries(
    fb: dict[_Path, Any],
    fo: dict[_Path, Any],
    ft: dict[_Path, Any],
    target: dict[_Path, Any],
    source: dict[_Path, str],
    conflicts: list[SettingConflict],
) -> None:
    """An entry one side renamed and the other side also changed (or renamed otherwise) is
    one conflict naming the entry, and keeps the operator's version of it whole. A rename of
    an entry the other side left alone needs nothing here: the settings merge already
    removes the old entry and adds the new one, and the merge of units keeps its place."""
    eb, eo, et = _elements(fb), _elements(fo), _elements(ft)
    clashes: list[tuple[_Path, _Path, _Path]] = []  # (base path, ours' path, theirs' path)
    ours_renames, theirs_renames = _renames(eb, eo), _renames(eb, et)
    for g, n in theirs_renames.items():
        mine = ours_renames.get(g, g)
        if mine == g and g in eo and _same_maps(eo[g], eb[g]):
            continue  # the operator left the entry alone: upstream's rename applies
        if mine == n and _same_maps(eo.get(n, {}), et[n]):
            continue  # both sides made the same rename
        clashes.append((g, mine, n))
    for g, n in ours_renames.items():
        if g in theirs_renames:
            continue
        if g not in et or not _same_maps(et[g], eb[g]):
            clashes.append((g, n, g))
    for g, mine, theirs in clashes:
        names = {render_path(p) for p in (g, mine, theirs)}
        conflicts[:] = [c for c in conflicts if not _under(c.path, names)]
        for path in [p for p in [*target, *fo] if any(p[: len(e)] == e for e in (g, mine, theirs))]:
            target.pop(path, None)
            source.pop(path, None)
            if path in fo:
                target[path], source[path] = fo[path], "ours"
        conflicts.append(
            SettingConflict(
                path=render_path(g),
                base=_entry_text(eb.get(g)),
                ours=_entry_text(eo.get(mine)),
                theirs=_entry_text(et.get(theirs)),
            )
        )


def _entry_text(settings: dict[_Path, Any] | None) -> str | None:
    if settings is None:
        return None
    return "{" + ", ".join(f"{render_path(k)} = {_literal(v)}" for k, v in settings.items()) + "}"


def _is_comment(line: bytes) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(b"#")


def _carry_comment_edits(base: bytes, merged: bytes, theirs: bytes, rules: _Rules) -> bytes:
    """`merged` with upstream's comment-only hunks applied where they fit (see the docstring).

    Each hunk is tried alone with the line merge against base, so one that touches lines
    the operator rewrote is left out without holding back the others; a result that no
    longer reads as the same settings is never kept.
    """
    try:
        settings = _flatten(_parse(merged, "merged"), rules)
    except (UnparsableInput, _Mismatch):
        return merged
    b_lines, t_lines = base.splitlines(keepends=True), theirs.splitlines(keepends=True)
    # matched without line ends: a last line that only gained its newline is not a change
    matcher = difflib.SequenceMatcher(
        None, [x.rstrip(b"\r\n") for x in b_lines], [x.rstrip(b"\r\n") for x in t_lines], False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or not all(map(_is_comment, b_lines[i1:i2] + t_lines[j1:j2])):
            continue
        added = b"".join(t_lines[j1:j2])
        if i1 == i2 == len(b_lines):  # appended at the end of the file
            candidate = merged + (b"\n" if merged and not merged.endswith(b"\n") else b"") + added
        else:
            one = b"".join(b_lines[:i1]) + added + b"".join(b_lines[i2:])
            text = merge_text(base, merged, one)
            if not text.clean:
                continue
            candidate = text.merged
        if _reads_as(candidate, rules, settings):
            merged = candidate
    return merged


def render_path(path: Iterable[_Seg]) -> str:
    """`a.b[name=x].c`, `a[2].c`; keys that are not bare TOML keys are quoted."""
    out = ""
    for seg in path:
        if isinstance(seg, str):
            key = seg if _BARE.fullmatch(seg) else json.dumps(seg)
            out = f"{out}.{key}" if out else key
        elif seg[0] == "pos":
            out += f"[{seg[1]}]"
        else:
            fields = seg[1]
            assert isinstance(fields, tuple)
            out += "[" + ",".join(f"{f}={v}" for f, v in fields) + "]"
    return out


# --- parsing and flattening ------------------------------------------------------------


def _parse(data: bytes, side: str) -> TOMLDocument:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnparsableInput(side, f"not UTF-8: {exc}") from None
    try:
        return tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises several kinds on malformed input
        raise UnparsableInput(side, f"not valid TOML: {exc}") from None


def _reads_as(data: bytes, rules: _Rules, target: dict[_Path, Any]) -> bool:
    try:
        flat = _flatten(_parse(data, "merged"), rules)
    except (UnparsableInput, _Mismatch):
        return False
    # a table header both sides kept may stand empty when their deletions together emptied it
    flat = {p: v for p, v in flat.items() if p in target or v != {}}
    return _same_maps(flat, target)


def _children(node: Any) -> Iterator[tuple[str, Any]]:
    yield from node.items()


def _is_table(node: Any) -> bool:
    return isinstance(node, Mapping) and not isinstance(node, InlineTable)


def _value(node: Any) -> Any:
    return node.unwrap() if isinstance(node, Item) else node


def _choose_rules(docs: list[TOMLDocument]) -> _Rules:
    arrays: dict[_Schema, list[list[Any]]] = {}

    def walk(node: Any, schema: _Schema) -> None:
        for key, child in _children(node):
            s = (*schema, key)
            if isinstance(child, AoT):
                arrays.setdefault(s, []).append(list(child))
                for element in child:
                    walk(element, s)
            elif _is_table(child):
                walk(child, s)

    for doc in docs:
        walk(doc, ())
    return {schema: _rule_for(lists) for schema, lists in arrays.items()}


def _rule_for(lists: list[list[Any]]) -> tuple[str, ...] | None:
    for fields in IDENTITY_FIELDS:
        ok = True
        for elements in lists:
            ids = []
            for element in elements:
                if not all(f in element for f in fields):
                    ok = False
                    break
                values = [_value(element[f]) for f in fields]
                if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
                    ok = False
                    break
                ids.append(tuple(values))
            if not ok or len(set(ids)) != len(ids):
                ok = False
                break
        if ok:
            return fields
    return None


def _element_id(element: Any, index: int, fields: tuple[str, ...] | None) -> _Elem:
    if fields is None:
        return ("pos", index)
    try:
        values = tuple((f, _value(element[f])) for f in fields)
    except KeyError:
        raise _Mismatch(fields) from None
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for _, v in values):
        raise _Mismatch(fields)
    return ("key", values)


def _flatten(doc: Any, rules: _Rules) -> dict[_Path, Any]:
    """Every setting (leaf) of the document: path -> plain Python value. A table with no
    keys (`[analytics]` uncommented bare) is a setting too, valued {}: its presence is a change."""
    out: dict[_Path, Any] = {}

    def walk(node: Any, path: _Path, schema: _Schema) -> None:
        for key, child in _children(node):
            p, s = (*path, key), (*schema, key)
            if isinstance(child, AoT):
                fields = rules.get(s)
                seen: set[_Elem] = set()
                for i, element in enumerate(child):
                    eid = _element_id(element, i, fields)
                    if eid in seen:
                        raise _Mismatch(s)
                    seen.add(eid)
                    walk(element, (*p, eid), s)
            elif _is_table(child):
                if len(child) == 0:
                    out[p] = {}
                walk(child, p, s)
            else:
                out[p] = _value(child)

    walk(doc, (), ())
    return out


# --- setting-level merge ---------------------------------------------------------------


def _canon(value: Any) -> str:
    """A comparison key: equal values of equal TOML types (nan included) compare equal."""
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k!r}:{_canon(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canon(v) for v in value) + "]"
    return f"{type(value).__name__}:{value!r}"


def _same(a: Any, b: Any, present_a: bool = True, present_b: bool = True) -> bool:
    if present_a != present_b:
        return False
    return not present_a or _canon(a) == _canon(b)


def _same_maps(a: dict[_Path, Any], b: dict[_Path, Any]) -> bool:
    return a.keys() == b.keys() and all(_canon(a[k]) == _canon(b[k]) for k in a)


_MISSING = object()


def _merge_settings(
    fb: dict[_Path, Any], fo: dict[_Path, Any], ft: dict[_Path, Any]
) -> tuple[dict[_Path, Any], dict[_Path, str], list[SettingConflict]]:
    """Merged settings (ours' value on conflict), which side each comes from, and conflicts."""
    target: dict[_Path, Any] = {}
    source: dict[_Path, str] = {}
    conflicts: list[SettingConflict] = []
    keys = dict.fromkeys([*fo, *ft, *fb])
    for path in keys:
        bv, ov, tv = (m.get(path, _MISSING) for m in (fb, fo, ft))
        o_eq_t = _same(ov, tv, ov is not _MISSING, tv is not _MISSING)
        t_eq_b = _same(tv, bv, tv is not _MISSING, bv is not _MISSING)
        o_eq_b = _same(ov, bv, ov is not _MISSING, bv is not _MISSING)
        if o_eq_t or t_eq_b:
            value, side = ov, "ours"
        elif o_eq_b:
            value, side = tv, "theirs"
        else:
            value, side = ov, "ours"
            conflicts.append(
                SettingConflict(
                    path=render_path(path),
                    base=_show(None if bv is _MISSING else bv),
                    ours=_show(None if ov is _MISSING else ov),
                    theirs=_show(None if tv is _MISSING else tv),
                )
            )
        if value is not _MISSING:
            target[path] = value
            source[path] = side
    return target, source, conflicts


def _show(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else _literal(value)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(f"{render_path([k])} = {_literal(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


# --- applying the result to ours -------------------------------------------------------


def _apply(
    o: TOMLDocument,
    t: TOMLDocument,
    fo: dict[_Path, Any],
    target: dict[_Path, Any],
    source: dict[_Path, str],
    rules: _Rules,
) -> tuple[bytes, list[_Path]]:
    """Edit (a copy of) ours with tomlkit until it reads as `target`.

    Returns the bytes and the paths that could not be brought to their merged value
    (e.g. a value in ours where upstream has a table); those keep ours' value.
    """
    doc = copy.deepcopy(o)
    failed: list[_Path] = []
    for path in fo:
        if path not in target:
            try:
                _delete(doc, t, path, rules)
            except Exception:
                failed.append(path)
    for path, value in target.items():
        if source[path] == "theirs" and not _same(fo.get(path, _MISSING), value, path in fo):
            try:
                _put(doc, t, path, rules)
            except Exception:
                failed.append(path)
    try:
        extra = [p for p in _flatten(doc, rules) if p not in target]
    except _Mismatch:
        extra = []
    for path in extra:
        try:
            _delete(doc, t, path, rules)
        except Exception:
            failed.append(path)
    data = _bytes_of(doc)
    try:
        result = _flatten(_parse(data, "merged"), rules)
    except (UnparsableInput, _Mismatch):
        # ours as it was: every setting it does not have at its merged value is listed, the
        # upstream deletions included, so nothing is dropped without a word
        differ = {
            p for p in {*fo, *target} if not _same(fo.get(p), target.get(p), p in fo, p in target)
        }
        return _bytes_of(o), sorted({*failed, *differ}, key=str)
    for path in {*result, *target}:
        if path in failed:
            continue
        if not _same(result.get(path), target.get(path), path in result, path in target):
            failed.append(path)
    return data, failed


def _bytes_of(doc: TOMLDocument) -> bytes:
    return doc.as_string().encode("utf-8")


def _locate(node: Any, seg: _Seg, rules: _Rules, schema: _Schema) -> Any:
    """The child of `node` named by `seg` (a key or an AoT element id), or KeyError."""
    if isinstance(seg, str):
        if not isinstance(node, Mapping) or seg not in node:
            raise KeyError(seg)
        return node[seg]
    if not isinstance(node, AoT):
        raise KeyError(seg)
    fields = rules.get(schema)
    for i, element in enumerate(node):
        if _element_id(element, i, fields) == seg:
            return element
    raise KeyError(seg)


def _walk(doc: Any, path: _Path, rules: _Rules) -> list[Any]:
    """The nodes along `path` from the document down, as far as they exist."""
    nodes = [doc]
    schema: _Schema = ()
    for seg in path:
        try:
            nodes.append(_locate(nodes[-1], seg, rules, schema))
        except KeyError:
            break
        if isinstance(seg, str):
            schema = (*schema, seg)
    return nodes


def _put(doc: TOMLDocument, t: TOMLDocument, path: _Path, rules: _Rules) -> None:
    """Set `path` in doc to theirs' item, copying theirs' missing tables/elements whole."""
    have = _walk(doc, path, rules)
    theirs = _walk(t, path, rules)
    depth = len(have) - 1  # segments of path that exist in doc
    if depth == len(path):
        depth -= 1  # the leaf exists: replace it in its parent
    parent, seg, item = have[depth], path[depth], copy.deepcopy(theirs[depth + 1])
    _trim(item)
    if isinstance(seg, str):
        parent[seg] = item
    elif isinstance(parent, AoT):
        parent.append(item)
    else:
        raise KeyError(seg)


def _delete(doc: TOMLDocument, t: TOMLDocument, path: _Path, rules: _Rules) -> None:
    """Remove `path` from doc, then the tables and elements it leaves empty that theirs lacks."""
    nodes = _walk(doc, path, rules)
    if len(nodes) != len(path) + 1:
        return
    for depth in range(len(path) - 1, -1, -1):
        parent, seg = nodes[depth], path[depth]
        if depth < len(path) - 1:
            child = nodes[depth + 1]
            in_theirs = len(_walk(t, path[: depth + 1], rules)) == depth + 2
            if len(child) or in_theirs:
                return
        if isinstance(seg, str):
            del parent[seg]
        else:
            child = nodes[depth + 1]
            del parent[next(i for i, e in enumerate(parent) if e is child)]


def _trim(item: Any) -> None:
    """Drop the comment lines trailing a copied table: tomlkit counts what follows a table's
    last key (often upstream's commented-out next section) as part of it."""
    if isinstance(item, AoT):
        if item.body:
            _trim(item.body[-1])
        return
    if not isinstance(item, Table):
        return
    body = item.value.body
    if body and isinstance(body[-1][1], Table | AoT):
        _trim(body[-1][1])
        return
    dropped = False
    while body and body[-1][0] is None and isinstance(body[-1][1], Comment | Whitespace):
        body.pop()
        dropped = True
    if dropped:
        body.append((None, Whitespace("\n")))
