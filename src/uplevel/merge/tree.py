"""Three-way merge of plain nested values (dict / list / scalar), with setting paths.

Shared by the YAML and JSON engines. Pure: no I/O, inputs are never mutated.

Semantics, per setting: changed on one side only → that side; the same change on
both → once; different changes → a conflict that keeps the operator's (`ours`)
value; added on one side → added; deleted on one side and unchanged on the other
→ deleted; deleted on one side and changed on the other → conflict (ours kept).
Mappings merge key by key. Lists whose items are all mappings carrying a unique
identity key (`name`, `id`, `key`) merge item by item by that key; an entry one side
renamed (its other settings at least half equal) is that entry renamed, and a
conflict naming it once if the other side changed it. Other lists merge as sequences:
diff3 on whole items, and inside a run both sides changed, items each side kept,
changed, deleted or inserted combine unless both touched the same item or gap.

Comments are not values: `carry_comments` adds to the merged text the comment-line
edits of both sides that the rewrite did not keep, and `upstream_text` puts back
upstream's own lines where the emitter re-wrote them, each checked by the engine's
reader so that no setting changes.

Equality is strict on types (`1`, `1.0`, `True` and `"1"` all differ) and ignores
key order. Paths look like `wso2.deployment.am.imageTag`, `apis[2].name`,
`containers[name=web].image`; keys that would be ambiguous in a path
(containing `.`, `[`, `]`, spaces, or empty) are written `["user_store.type"]`.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, Final, TypeVar

from uplevel.merge.result import MergeResult, SettingConflict
from uplevel.merge.text import stable_runs

IDENTITY_KEYS: Final = ("name", "id", "key")


class _Missing:
    """The setting is absent on that side."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


# ---------------------------------------------------------------- equality


def canon(value: Any) -> str:
    """A string that is equal for two values exactly when they are equal as settings."""
    if isinstance(value, dict):
        items = sorted(f"{canon(k)}:{canon(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canon(v) for v in value) + "]"
    if isinstance(value, float) and math.isnan(value):
        return "float:nan"
    return f"{type(value).__name__}:{value!r}"


def same(a: Any, b: Any) -> bool:
    """Equal as settings (types strict, key order ignored)."""
    if a is b:
        return True
    return canon(a) == canon(b)


def render(value: Any) -> str | None:
    """A value as conflict-report text; None when absent."""
    if value is MISSING:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------- paths


def key_path(parent: str, key: Any) -> str:
    text = key if isinstance(key, str) else str(key)
    if not text or any(c in text for c in ".[] \t\n\"'=") or not isinstance(key, str):
        seg = "[" + json.dumps(text, ensure_ascii=False) + "]"
        return parent + seg if parent else seg
    return f"{parent}.{text}" if parent else text


def index_path(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def ident_path(parent: str, key: str, ident: Any) -> str:
    return f"{parent}[{key}={ident}]"


# ---------------------------------------------------------------- identity lists


def identity_key(*lists: Sequence[Any]) -> str | None:
    """The identity key shared by every item of every list, if there is one."""
    items = [item for lst in lists for item in lst]
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in IDENTITY_KEYS:
        ok = True
        for lst in lists:
            seen: set[str] = set()
            for item in lst:
                ident = item.get(key, MISSING)
                if not isinstance(ident, str | int) or isinstance(ident, bool):
                    ok = False
                    break
                c = canon(ident)
                if c in seen:
                    ok = False
                    break
                seen.add(c)
            if not ok:
                break
        if ok:
            return key
    return None


# ---------------------------------------------------------------- alignment


def align(a: Sequence[Any], b: Sequence[Any]) -> list[tuple[int | None, int | None]]:
    """Pair items of `a` with items of `b`: identity key if both lists have one, else diff.

    Returns (i, j) pairs covering every index of both lists exactly once; (i, None)
    is an `a` item with no counterpart, (None, j) a `b` item with none. Pairs keep
    `b`'s order, with unmatched `a` items placed where they were.
    """
    key = identity_key(a, b)
    pairs: list[tuple[int | None, int | None]] = []
    if key is not None:
        where = {canon(item[key]): i for i, item in enumerate(a)}
        used: set[int] = set()
        for j, item in enumerate(b):
            i = where.get(canon(item[key]))
            if i is not None:
                used.add(i)
            pairs.append((i, j))
        for i in range(len(a)):
            if i not in used:
                pairs.append((i, None))
        return pairs
    ca, cb = [canon(x) for x in a], [canon(x) for x in b]
    matcher = difflib.SequenceMatcher(None, ca, cb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            pairs.extend(zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        n = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        pairs.extend(zip(range(i1, i1 + n), range(j1, j1 + n), strict=True))
        pairs.extend((i, None) for i in range(i1 + n, i2))
        pairs.extend((None, j) for j in range(j1 + n, j2))
    return pairs


# ---------------------------------------------------------------- merge


def merge_values(base: Any, ours: Any, theirs: Any) -> tuple[Any, tuple[SettingConflict, ...]]:
    """Merge three plain values; returns the merged value and the conflicts (ours kept)."""
    conflicts: list[SettingConflict] = []
    merged = _merge(base, ours, theirs, "", conflicts)
    return merged, tuple(conflicts)


def _conflict(path: str, b: Any, o: Any, t: Any, out: list[SettingConflict]) -> None:
    out.append(SettingConflict(path=path or "$", base=render(b), ours=render(o), theirs=render(t)))


def _merge(b: Any, o: Any, t: Any, path: str, out: list[SettingConflict]) -> Any:
    if same(o, t):
        return o
    if same(b, o):
        return t
    if same(b, t):
        return o
    if isinstance(o, dict) and isinstance(t, dict) and (b is MISSING or isinstance(b, dict)):
        return _merge_dict(b if isinstance(b, dict) else {}, o, t, path, out)
    if isinstance(o, list) and isinstance(t, list) and (b is MISSING or isinstance(b, list)):
        return _merge_list(b if isinstance(b, list) else [], o, t, path, out)
    _conflict(path, b, o, t, out)
    return o


def _merge_dict(
    b: dict[Any, Any], o: dict[Any, Any], t: dict[Any, Any], path: str, out: list[SettingConflict]
) -> dict[Any, Any]:
    values: dict[Any, Any] = {}
    for k in _union_keys(o, t):
        v = _merge(b.get(k, MISSING), o.get(k, MISSING), t.get(k, MISSING), key_path(path, k), out)
        if v is not MISSING:
            values[k] = v
    order = order_keys(list(o), list(t), values)
    return {k: values[k] for k in order}


def _union_keys(o: dict[Any, Any], t: dict[Any, Any]) -> Iterator[Any]:
    yield from o
    for k in t:
        if k not in o:
            yield k


def order_keys(
    ours: list[Hashable], theirs: list[Hashable], keep: dict[Any, Any]
) -> list[Hashable]:
    """Ours' order; items only theirs has go right after their predecessor in theirs."""
    order = [k for k in ours if k in keep]
    placed = set(order)
    prev: Hashable | None = None
    have_prev = False
    for k in theirs:
        if k not in keep:
            continue
        if k not in placed:
            pos = order.index(prev) + 1 if have_prev else 0
            order.insert(pos, k)
            placed.add(k)
        prev, have_prev = k, True
    return order


def _merge_list(
    b: list[Any], o: list[Any], t: list[Any], path: str, out: list[SettingConflict]
) -> list[Any]:
    key = identity_key(b, o, t)
    if key is not None:
        return _merge_keyed(b, o, t, key, path, out)
    return _merge_seq(b, o, t, path, out)


def _merge_keyed(
    b: list[Any], o: list[Any], t: list[Any], key: str, path: str, out: list[SettingConflict]
) -> list[Any]:
    def index(items: list[Any]) -> dict[str, Any]:
        return {canon(item[key]): item for item in items}

    ib, io, it = index(b), index(o), index(t)
    by_theirs, by_ours = _renames(ib, it, io, key), _renames(ib, io, it, key)
    # Each rename is one entry: its base identity, ours' and theirs' identities for it.
    groups: dict[str, tuple[str, str, str]] = {}
    for g in {*by_theirs, *by_ours}:
        group = (g, by_ours.get(g, g), by_theirs.get(g, g))
        for c in group:
            groups[c] = group
    ours_order: list[Hashable] = list(io)
    values: dict[str, Any] = {}
    done: set[tuple[str, str, str]] = set()
    for c in _union_keys(io, it):
        if c not in groups:
            item = io[c] if c in io else it[c]
            sub = ident_path(path, key, render(item[key]))
            v = _merge(ib.get(c, MISSING), io.get(c, MISSING), it.get(c, MISSING), sub, out)
            if v is not MISSING:
                values[c] = v
            continue
        group = groups[c]
        if group in done:
            continue
        done.add(group)
        g, co, ct = group
        bv, ov, tv = ib[g], io.get(co, MISSING), it.get(ct, MISSING)
        if co == g and same(bv, ov):  # upstream renamed an entry the operator left alone
            values[ct] = tv
            ours_order[ours_order.index(g)] = ct
        elif ct == g and same(bv, tv):  # the operator renamed an entry upstream left alone
            values[co] = ov
        else:  # renamed on one side, touched on the other: one conflict on the entry
            _conflict(ident_path(path, key, render(bv[key])), bv, ov, tv, out)
            if ov is not MISSING:
                values[co] = ov
    return [values[str(c)] for c in order_keys(ours_order, list(it), values)]


def _renames(
    base: dict[str, Any], side: dict[str, Any], other: dict[str, Any], key: str
) -> dict[str, str]:
    """Base identities one side renamed: an entry gone from that side paired with one only
    that side added, when at least half of their other settings are equal (best first)."""
    gone = [c for c in base if c not in side]
    new = [c for c in side if c not in base and c not in other]
    return pair_renames(gone, new, lambda g, n: _likeness(base[g], side[n], key))


G = TypeVar("G", bound=Hashable)
N = TypeVar("N", bound=Hashable)


def pair_renames(
    gone: Sequence[G], new: Sequence[N], likeness: Callable[[G, N], float]
) -> dict[G, N]:
    """Entries gone from a side paired with entries only it added, best likeness first (ties
    in the given order), each at most once, when at least half alike. Shared by the engines
    whose entries have an identifying key (tree-shaped YAML/JSON, TOML arrays of tables)."""
    scored = sorted(
        ((likeness(g, n), i, j) for i, g in enumerate(gone) for j, n in enumerate(new)),
        key=lambda x: (-x[0], x[1], x[2]),
    )
    pairs: dict[G, N] = {}
    taken: set[int] = set()
    for score, i, j in scored:
        if score < 0.5:
            break
        if gone[i] not in pairs and j not in taken:
            pairs[gone[i]] = new[j]
            taken.add(j)
    return pairs


def _likeness(a: dict[Any, Any], b: dict[Any, Any], key: str) -> float:
    """Share of the settings besides the identity key that two entries hold equal."""
    ra = {k: v for k, v in a.items() if k != key}
    rb = {k: v for k, v in b.items() if k != key}
    if not ra or not rb:
        return 0.0  # an entry that is only its identity cannot be told from a new one
    equal = sum(1 for k, v in ra.items() if k in rb and same(v, rb[k]))
    return equal / max(len(ra), len(rb))


def _merge_seq(
    b: list[Any], o: list[Any], t: list[Any], path: str, out: list[SettingConflict]
) -> list[Any]:
    cb, co, ct = [canon(x) for x in b], [canon(x) for x in o], [canon(x) for x in t]
    result: list[Any] = []
    ib = io = it = 0
    for sb, so, st, n in _stable(cb, co, ct):
        chunk_b, chunk_o, chunk_t = b[ib:sb], o[io:so], t[it:st]
        kb, ko, kt = cb[ib:sb], co[io:so], ct[it:st]
        if ko in (kt, kb):
            result.extend(chunk_t)
        elif kt == kb:
            result.extend(chunk_o)
        elif (fine := _interleave(kb, ko, kt)) is not None:
            for src, x in fine:
                if src == "b":
                    assert isinstance(x, tuple)
                    xb, xo, xt = (chunk_b[x[0]], chunk_o[x[1]], chunk_t[x[2]])
                    result.append(_merge(xb, xo, xt, index_path(path, len(result)), out))
                else:
                    assert isinstance(x, int)
                    result.append(chunk_o[x] if src == "o" else chunk_t[x])
        elif len(chunk_b) == len(chunk_o) == len(chunk_t):
            for xb, xo, xt in zip(chunk_b, chunk_o, chunk_t, strict=True):
                result.append(_merge(xb, xo, xt, index_path(path, len(result)), out))
        else:
            where = len(result)
            _conflict(
                index_path(path, where) if len(chunk_o) == 1 else path,
                chunk_b if len(chunk_b) != 1 else chunk_b[0],
                chunk_o if len(chunk_o) != 1 else chunk_o[0],
                chunk_t if len(chunk_t) != 1 else chunk_t[0],
                out,
            )
            result.extend(chunk_o)
        result.extend(o[so : so + n])
        ib, io, it = sb + n, so + n, st + n
    return result


_Step = tuple[str, int | tuple[int, int, int]]


def _interleave(b: list[str], o: list[str], t: list[str]) -> list[_Step] | None:
    """Both sides changed one run of a list, but different items of it: the merged run.

    Each base item is kept, changed in place or deleted by each side; each side inserts
    runs between base items. Unless one side deleted an item the other changed, or both
    inserted different items in one gap (None: a conflict on the run), the changes combine
    (ours deletes one port, upstream another next to it); an item both changed merges item
    by item. A run a side replaced by one of another length is read first as items changed
    from its start (then deleted or inserted), then as all deleted and all inserted.
    Steps: ("o", i) / ("t", i) insert ours'/theirs' item i; ("b", (ib, io, it)) an item
    from all three sides, merged item by item."""
    for pair in (True, False):
        steps = _combine(_fates(b, o, pair), _fates(b, t, pair), o, t, len(b))
        if steps is not None:
            return steps
    return None


_Fates = tuple[list[tuple[str, int]], list[list[int]]]


def _combine(fo_: _Fates, ft_: _Fates, o: list[str], t: list[str], n: int) -> list[_Step] | None:
    (so, io_), (st, it_) = fo_, ft_
    steps: list[_Step] = []
    for i in range(n + 1):
        ins_o, ins_t = io_[i], it_[i]
        if ins_o and ins_t and [o[k] for k in ins_o] != [t[k] for k in ins_t]:
            return None
        steps.extend(("o", k) for k in ins_o)
        steps.extend(("t", k) for k in ins_t if not ins_o)
        if i == n:
            break
        (fo, jo), (ft, jt) = so[i], st[i]
        if {fo, ft} == {"mod", "del"}:
            return None
        if fo == "del" or ft == "del":
            continue
        steps.append(("b", (i, jo, jt)))
    return steps


def _fates(b: list[str], x: list[str], pair: bool) -> _Fates:
    """Per base item ("keep" | "mod" | "del", index in x), and per gap the x items inserted."""
    fate: list[tuple[str, int]] = [("del", -1)] * len(b)
    ins: list[list[int]] = [[] for _ in range(len(b) + 1)]
    matcher = difflib.SequenceMatcher(None, b, x, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        n = min(i2 - i1, j2 - j1)
        if tag == "equal" or (tag == "replace" and (pair or i2 - i1 == j2 - j1)):
            for k in range(n):
                fate[i1 + k] = ("keep" if tag == "equal" else "mod", j1 + k)
        else:
            n = 0
        ins[i2].extend(range(j1 + n, j2))  # the rest goes before the next base item
    return fate, ins


def _blocks(a: list[str], b: list[str]) -> list[tuple[int, int, int]]:
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(i, j, n) for i, j, n in matcher.get_matching_blocks() if n]


def _stable(b: list[str], o: list[str], t: list[str]) -> Iterator[tuple[int, int, int, int]]:
    """(base, ours, theirs, length) runs equal on all three sides, then an empty end run."""
    return stable_runs(_blocks(b, o), _blocks(b, t), (len(b), len(o), len(t)))


# ---------------------------------------------------------------- comment lines


def carry_comments(
    base: str,
    ours: str,
    merged: str,
    theirs: str,
    is_comment: Callable[[str], bool],
    keeps_settings: Callable[[str], bool],
) -> str:
    """`merged` (the operator's text with the merged settings) plus the comment-line edits
    a merge by settings cannot see: lines upstream added, removed or changed, then any line
    of the operator's that rewriting a setting lost.

    Lines compare stripped of indentation and line end. How many copies of a comment line
    the result holds is a three-way merge of the counts (the same addition or removal on
    both sides happens once; `merged` may already hold upstream's lines where it inserted
    a new setting with them). Where upstream's edit lands comes from a diff3 of base,
    merged and theirs: an added comment goes before the line it preceded upstream, else
    after the line it followed, else where its run of lines starts or ends. Settings are
    never taken from these lines: `keeps_settings(text)` must hold (the engine re-reads
    the settings); each region that breaks it is left as `merged` has it.
    """
    text = _carry(base, ours, merged, theirs, is_comment, keeps_settings)
    return _carry(base, theirs, text, ours, is_comment, keeps_settings)


def _carry(
    base: str,
    ours: str,
    merged: str,
    theirs: str,
    is_comment: Callable[[str], bool],
    keeps_settings: Callable[[str], bool],
) -> str:
    b, m, t = _lines(base), _lines(merged), _lines(theirs)
    if not any(is_comment(x) for x in (*b, *t)):
        return merged
    quota = _comment_quota(b, _lines(ours), m, t, is_comment)
    eol = "\r\n" if m and m[0].endswith("\r\n") else "\n"
    kb, km, kt = ([x.strip() for x in side] for side in (b, m, t))
    plain: list[list[str]] = []  # merged's lines, region by region: changed, stable, ...
    carried: list[list[str]] = []  # the same with upstream's comment edits
    ib = im = it = 0
    for sb, sm, st, n in _stable(kb, km, kt):
        region = m[im:sm]
        new = list(region)
        if kt[it:st] != kb[ib:sb] and km[im:sm] != kt[it:st]:
            new = _apply_comment_edits(b[ib:sb], region, t[it:st], quota, is_comment, eol)
        plain += [region, m[sm : sm + n]]
        carried += [new, m[sm : sm + n]]
        ib, im, it = sb + n, sm + n, st + n
    # Copies neither side wants that `merged` still holds (a new setting brought along the
    # comment lines that followed it upstream): the last ones go.
    for region in reversed(carried):
        for k in range(len(region) - 1, -1, -1):
            line = region[k].strip()
            if quota[line] < 0 and is_comment(line):
                del region[k]
                quota[line] += 1
    if carried == plain:
        return merged
    text = _join(carried, eol)
    if keeps_settings(text):
        return text
    kept = list(plain)  # some region broke a setting: take the regions that do not
    for k, region in enumerate(carried):
        if region != plain[k]:
            trial = [*kept[:k], region, *kept[k + 1 :]]
            if keeps_settings(_join(trial, eol)):
                kept = trial
    return _join(kept, eol)


def _join(regions: list[list[str]], eol: str) -> str:
    lines = [x for region in regions for x in region]
    for k in range(len(lines) - 1):
        if not lines[k].endswith("\n"):  # merged's last line, no longer last
            lines[k] += eol
    return "".join(lines)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _comment_quota(
    b: list[str], o: list[str], m: list[str], t: list[str], is_comment: Callable[[str], bool]
) -> Counter[str]:
    """Per comment line: how many copies to add (> 0) or remove (< 0) from `merged`."""
    cb, co, cm, ct = (Counter(x.strip() for x in side if is_comment(x)) for side in (b, o, m, t))
    quota: Counter[str] = Counter()
    for line in {*cb, *ct}:
        do, dt = co[line] - cb[line], ct[line] - cb[line]
        if do * dt > 0:  # the same edit on both sides: once
            final = cb[line] + (max(do, dt) if do > 0 else min(do, dt))
        else:
            final = cb[line] + do + dt
        quota[line] = max(final, 0) - cm[line]
    return quota


def _apply_comment_edits(
    b: list[str],
    m: list[str],
    t: list[str],
    quota: Counter[str],
    is_comment: Callable[[str], bool],
    eol: str,
) -> list[str]:
    """Merged's lines of one region, with upstream's comment edits of that region."""
    out = list(m)
    kb, kt = [x.strip() for x in b], [x.strip() for x in t]
    ops = difflib.SequenceMatcher(None, kb, kt, autojunk=False).get_opcodes()
    for tag, i1, i2, _, _ in ops:
        if tag in ("delete", "replace"):
            for line in kb[i1:i2]:
                if quota[line] < 0 and is_comment(line):
                    k = next((k for k, x in enumerate(out) if x.strip() == line), None)
                    if k is not None:
                        del out[k]
                        quota[line] += 1

    def settled(x: str) -> bool:  # a line that holds settings, not layout
        return bool(x.strip()) and not is_comment(x)

    for tag, _, _, j1, j2 in ops:
        if tag not in ("insert", "replace"):
            continue
        j = j1
        while j < j2:
            if settled(t[j]):
                j += 1
                continue
            end = j
            while end < j2 and not settled(t[end]):
                end += 1
            group: list[str] = []
            for x in t[j:end]:
                if is_comment(x):
                    if quota[x.strip()] <= 0:
                        continue
                    quota[x.strip()] -= 1
                group.append(x)
            if any(is_comment(x) for x in group):
                lines = [x.rstrip("\r\n") + eol for x in group]
                pos = _anchor(out, t, j, end, settled)
                out[pos:pos] = lines
            j = end
    return out


def _anchor(
    out: list[str], t: list[str], start: int, end: int, settled: Callable[[str], bool]
) -> int:
    """Where in `out` the comment lines t[start:end] go: before the setting line they
    precede upstream, else after the one they follow, else at the region's start or end."""
    nxt = next((x for x in t[end:] if settled(x)), None)
    if nxt is not None and (k := _find(out, nxt, settled)) is not None:
        return k
    prv = next((x for x in reversed(t[:start]) if settled(x)), None)
    if prv is not None and (k := _find(out, prv, settled)) is not None:
        return k + 1
    return 0 if prv is None and nxt is not None else len(out)


def _find(out: list[str], line: str, settled: Callable[[str], bool]) -> int | None:
    """The line of `out` that is `line`, or holds the same key (text before its ':')."""
    want = line.strip()
    for k, x in enumerate(out):
        if settled(x) and x.strip() == want:
            return k
    head = want.split(":", 1)[0].strip() if ":" in want else None
    if head:
        for k, x in enumerate(out):
            if settled(x) and ":" in x and x.split(":", 1)[0].strip() == head:
                return k
    return None


def upstream_text(
    ours: str,
    merged: str,
    theirs: str,
    is_comment: Callable[[str], bool],
    keeps_settings: Callable[[str], bool],
) -> str:
    """`merged` with upstream's own lines where the structural rewrite wrote its own: a run
    of lines that is in neither the operator's text nor upstream's (quoting, flow style,
    indentation the emitter chose, a bracket it put on a line of its own) gives way to the
    lines upstream has in its place. Comment lines are not touched (`carry_comments` placed
    them). Runs a few lines apart go together (one flow list can span several); each group
    is kept only if `keeps_settings` still holds."""
    o, m, t = _lines(ours), _lines(merged), _lines(theirs)
    ko, km, kt = ([x.rstrip("\r\n") for x in side] for side in (o, m, t))
    written = [True] * len(m)  # merged's lines the rewrite wrote (not the operator's)
    for _, i, n in _blocks(ko, km):
        written[i : i + n] = [False] * n
    eol = "\r\n" if m and m[0].endswith("\r\n") else "\n"
    regions: list[list[str]] = []
    groups: list[dict[int, list[str]]] = []  # region index → upstream's lines for it
    gap = _NEAR
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, km, kt, autojunk=False).get_opcodes():
        settings_only = not any(is_comment(x) for x in (*m[i1:i2], *t[j1:j2]))
        if tag in ("replace", "delete") and all(written[i1:i2]) and settings_only:
            if gap >= _NEAR:
                groups.append({})
            groups[-1][len(regions)] = [x.rstrip("\r\n") + eol for x in t[j1:j2]]
            gap = 0
        else:
            gap += i2 - i1
        regions.append(m[i1:i2])
    if not groups:
        return merged
    every = {k: v for g in groups for k, v in g.items()}
    trial = [every.get(k, r) for k, r in enumerate(regions)]
    if keeps_settings(_join(trial, eol)):
        return _join(trial, eol)
    kept = list(regions)
    for group in groups:
        attempt = [group.get(k, r) for k, r in enumerate(kept)]
        if keeps_settings(_join(attempt, eol)):
            kept = attempt
    return _join(kept, eol)


_NEAR = 3  # lines between two rewritten runs that still make them one group


# ---------------------------------------------------------------- byte order mark

BOM: Final = b"\xef\xbb\xbf"


def bom_as_ours(
    merge: Callable[[bytes, bytes, bytes], MergeResult], base: bytes, ours: bytes, theirs: bytes
) -> MergeResult:
    """`merge` on the three sides without a UTF-8 BOM (not content, and an editor on one
    side may add or drop it); the result has one exactly when ours has. A file the operator
    never changed is upstream's, byte for byte (the inputs are still read, so a side that
    does not parse is still named)."""
    result = merge(*(x.removeprefix(BOM) for x in (base, ours, theirs)))
    merged = result.merged.removeprefix(BOM)
    if ours == base:
        merged = theirs
    elif ours.startswith(BOM):
        merged = BOM + merged
    return MergeResult(merged=merged, conflicts=result.conflicts, format=result.format)
