"""Three-way merge of plain nested values (dict / list / scalar), with setting paths.

Shared by the YAML and JSON engines. Pure: no I/O, inputs are never mutated.

Semantics, per setting: changed on one side only → that side; the same change on
both → once; different changes → a conflict that keeps the operator's (`ours`)
value; added on one side → added; deleted on one side and unchanged on the other
→ deleted; deleted on one side and changed on the other → conflict (ours kept).
Mappings merge key by key. Lists whose items are all mappings carrying a unique
identity key (`name`, `id`, `key`) merge item by item by that key; other lists
merge as sequences (diff3 on whole items; equal-sized changed runs merge item by
item by position).

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
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, Final

from uplevel.merge.result import SettingConflict
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
    values: dict[str, Any] = {}
    for c in _union_keys(io, it):
        item = io[c] if c in io else it[c]
        sub = ident_path(path, key, render(item[key]))
        v = _merge(ib.get(c, MISSING), io.get(c, MISSING), it.get(c, MISSING), sub, out)
        if v is not MISSING:
            values[c] = v
    return [values[str(c)] for c in order_keys(list(io), list(it), values)]


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


def _blocks(a: list[str], b: list[str]) -> list[tuple[int, int, int]]:
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(i, j, n) for i, j, n in matcher.get_matching_blocks() if n]


def _stable(b: list[str], o: list[str], t: list[str]) -> Iterator[tuple[int, int, int, int]]:
    """(base, ours, theirs, length) runs equal on all three sides, then an empty end run."""
    return stable_runs(_blocks(b, o), _blocks(b, t), (len(b), len(o), len(t)))
