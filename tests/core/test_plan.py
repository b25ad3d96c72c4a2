"""The planner: one example per rule of `uplevel.core.plan`, then properties over random small trees.

Properties (pristine A, upstream B = edits of A, local L = operator edits of A):
(a) no local change is silently dropped: where L differs from A the decision is never a take or
    remove that would lose L's content or mode;
(b) where L equals A the path ends up exactly as B;
(c) paths that only the operator added (in neither A nor B) never appear in the plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from uplevel.core.manifest import Entry, Manifest
from uplevel.core.plan import Decision, changed_paths, decide, plan_update, same


def f(content: bytes | str, mode: int = 0o644) -> Entry:
    data = content.encode() if isinstance(content, str) else content
    return Entry(kind="file", mode=mode, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def link(target: str) -> Entry:
    return Entry(kind="symlink", target=target)


def d(mode: int = 0o755) -> Entry:
    return Entry(kind="dir", mode=mode)


P = "conf/app.toml"
A = f("base\n")
B = f("upstream\n")
L = f("local\n")


# --- one example per rule ---------------------------------------------------------------------


def test_unchanged_locally_takes_new_pristine() -> None:
    r = decide(P, A, B, A)
    assert r.action == "take" and r.result == B


def test_unchanged_locally_removed_upstream_is_removed() -> None:
    r = decide(P, A, None, A)
    assert r.action == "remove" and r.result is None


def test_already_as_upstream_is_noop() -> None:
    assert decide(P, A, B, B).action == "noop"
    # an upstream addition the operator already made identically
    assert decide(P, None, B, B).action == "noop"


def test_deleted_on_both_sides_is_noop() -> None:
    assert decide(P, A, None, None).action == "noop"


def test_changed_locally_only_is_kept() -> None:
    # upstream content unchanged (decided directly, as plan_update never lists an untouched path)
    r = decide(P, A, A, L)
    assert r.action == "keep"
    assert not r.changes_home


def test_changed_locally_and_mode_both_sides_is_kept() -> None:
    """Upstream changed only the mode, the operator changed content and the same mode: keep."""
    a, b, loc = f("x\n", 0o644), f("x\n", 0o755), f("mine\n", 0o755)
    assert decide(P, a, b, loc).action == "keep"


def test_changed_on_both_sides_is_merged_with_upstream_mode() -> None:
    r = decide(P, A, B, L)
    assert r.action == "merge"
    assert r.result == B  # upstream entry (content placeholder) with the merged mode


def test_merge_keeps_local_mode_change() -> None:
    a, b, loc = f("x\n", 0o644), f("y\n", 0o644), f("z\n", 0o600)
    r = decide(P, a, b, loc)
    assert r.action == "merge"
    assert r.result is not None and r.result.mode == 0o600 and r.result.sha256 == b.sha256


def test_merge_takes_upstream_mode_change() -> None:
    a, b, loc = f("x\n", 0o644), f("y\n", 0o755), f("z\n", 0o644)
    r = decide(P, a, b, loc)
    assert r.action == "merge" and r.result is not None and r.result.mode == 0o755


def test_local_mode_only_change_takes_upstream_content_with_local_mode() -> None:
    a, b, loc = f("x\n", 0o644), f("y\n", 0o644), f("x\n", 0o600)
    r = decide(P, a, b, loc)
    assert r.action == "take"
    assert r.result == f("y\n", 0o600)


def test_upstream_mode_only_change_keeps_local_content_with_new_mode() -> None:
    a, b, loc = f("x\n", 0o644), f("x\n", 0o755), f("mine\n", 0o644)
    r = decide(P, a, b, loc)
    assert r.action == "take"
    assert r.result == f("mine\n", 0o755)


def test_changed_on_both_sides_different_kinds_is_conflict() -> None:
    assert decide(P, A, B, link("elsewhere")).action == "conflict"
    assert decide(P, link("x"), link("y"), link("z")).action == "conflict"
    assert decide(P, A, link("y"), L).action == "conflict"


def test_deleted_locally_changed_upstream_is_conflict() -> None:
    r = decide(P, A, B, None)
    assert r.action == "conflict" and "deleted locally" in r.reason


def test_changed_locally_removed_upstream_is_conflict() -> None:
    r = decide(P, A, None, L)
    assert r.action == "conflict" and "removed upstream" in r.reason


def test_added_upstream_where_operator_created_something_different_is_conflict() -> None:
    r = decide(P, None, B, L)
    assert r.action == "conflict" and "added upstream" in r.reason


def test_same_treats_all_dirs_alike() -> None:
    assert same(d(0o755), d(0o700))
    assert not same(d(), None)
    assert same(None, None)
    assert not same(f("a"), f("a", 0o755))


def test_plan_lists_only_paths_a_to_b_touches() -> None:
    old = Manifest({"keep": f("k"), "mod": f("1"), "gone": f("g"), "mine": f("m")})
    new = Manifest({"keep": f("k"), "mod": f("2"), "new": f("n"), "mine": f("m")})
    local = {
        "keep": f("operator"),
        "mod": f("1"),
        "gone": f("g"),
        "new": None,
        "mine": f("edited"),
        "operator-only": f("o"),
    }
    plan = {x.path: x for x in plan_update(old, new, local)}
    assert sorted(plan) == ["gone", "mod", "new"]
    assert plan["mod"].action == "take" and plan["mod"].result == f("2")
    assert plan["gone"].action == "remove"
    assert plan["new"].action == "take" and plan["new"].result == f("n")


def test_plan_skips_empty_dir_that_upstream_fills() -> None:
    old = Manifest({"logs": d()})
    new = Manifest({"logs/a.log": f("a")})
    plan = plan_update(old, new, {"logs": d(), "logs/a.log": None})
    assert [(x.path, x.action) for x in plan] == [("logs/a.log", "take")]


def test_plan_removes_empty_dir_that_upstream_drops() -> None:
    old = Manifest({"logs": d()})
    new = Manifest({"other": f("o")})
    plan = {x.path: x.action for x in plan_update(old, new, {"logs": d(), "other": None})}
    assert plan == {"logs": "remove", "other": "take"}


def test_plan_dir_mode_change_only_is_not_a_change() -> None:
    old = Manifest({"logs": d(0o755)})
    new = Manifest({"logs": d(0o700)})
    assert changed_paths(old, new) == []
    assert plan_update(old, new, {"logs": d(0o755)}) == []


# --- properties -------------------------------------------------------------------------------

PATHS = ("README.txt", "bin/run.sh", "conf/app.toml", "conf/sub/log.xml", "lib/a.jar", "lib/b.jar")
OPERATOR_ONLY = ("custom/mine.txt", "conf/extra.toml", "lib/driver.jar")
CONTENTS = (b"", b"one\n", b"two\n", b"three\n", b"\x00bin")
MODES = (0o644, 0o755, 0o600)

files = st.builds(f, st.sampled_from(CONTENTS), st.sampled_from(MODES))
entries = st.one_of(files, files, files, st.builds(link, st.sampled_from(("a", "../b", "c/d"))))


@st.composite
def edits(draw: st.DrawFn, base: Mapping[str, Entry]) -> dict[str, Entry]:
    """Random modify / chmod / add / remove edits of `base` over PATHS."""
    out = dict(base)
    for p in PATHS:
        e = base.get(p)
        if e is None:
            if draw(st.booleans()):
                out[p] = draw(entries)
            continue
        op = draw(st.sampled_from(("same", "same", "modify", "chmod", "replace", "remove")))
        if op == "modify" and e.kind == "file":
            out[p] = f(draw(st.sampled_from(CONTENTS)), e.mode)
        elif op == "chmod" and e.kind == "file":
            out[p] = Entry(
                kind="file", mode=draw(st.sampled_from(MODES)), size=e.size, sha256=e.sha256
            )
        elif op == "replace":
            out[p] = draw(entries)
        elif op == "remove":
            del out[p]
    return out


Scenario = tuple[dict[str, Entry], dict[str, Entry], dict[str, Entry | None]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    a = draw(st.dictionaries(st.sampled_from(PATHS), entries, max_size=len(PATHS)))
    b = draw(edits(a))
    local_tree = draw(edits(a))
    # the operator sometimes adds, where upstream adds, the identical thing or something else
    for p in sorted(set(b) - set(a)):
        choice = draw(st.sampled_from(("leave", "identical", "different")))
        if choice == "identical":
            local_tree[p] = b[p]
        elif choice == "different":
            local_tree[p] = draw(entries)
    for p in OPERATOR_ONLY:
        if draw(st.booleans()):
            local_tree[p] = draw(files)
    every = set(PATHS) | set(OPERATOR_ONLY)
    local: dict[str, Entry | None] = {p: local_tree.get(p) for p in sorted(every)}
    return a, b, local


def _result_of(x: Decision) -> Entry | None:
    """What the path holds after the decision is carried out (merge: the upstream side's entry,
    standing for merged content; conflict/keep/noop: unchanged)."""
    if x.action == "take":
        return x.result
    if x.action == "remove":
        return None
    return x.local


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_plan_covers_exactly_the_changed_paths(scn: Scenario) -> None:
    a, b, local = scn
    plan = plan_update(Manifest(a), Manifest(b), local)
    paths = [x.path for x in plan]
    assert paths == sorted(set(paths))
    assert paths == changed_paths(Manifest(a), Manifest(b))
    for x in plan:
        assert x.base == a.get(x.path) and x.upstream == b.get(x.path)
        assert x.local == local[x.path]


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_no_local_change_is_silently_dropped(scn: Scenario) -> None:
    a, b, local = scn
    for x in plan_update(Manifest(a), Manifest(b), local):
        base, loc = a.get(x.path), local[x.path]
        if same(loc, base):
            continue
        # the operator changed this path
        assert x.action != "remove", x
        if x.action in ("keep", "conflict"):
            continue
        if x.action == "noop":
            assert same(loc, b.get(x.path)), x
            continue
        assert loc is not None, x  # a take or merge over a local deletion would resurrect it
        assert x.result is not None, x
        if x.action == "take":
            assert loc.kind == "file" and base is not None and base.kind == "file", x
            if loc.sha256 != base.sha256:
                assert x.result.sha256 == loc.sha256, x  # local content survives
            if loc.mode != base.mode:
                assert x.result.mode == loc.mode, x  # local mode survives
        else:
            assert x.action == "merge", x
            assert loc.kind == "file", x
            assert base is not None and base.kind == "file", x
            if loc.mode != base.mode:
                assert x.result.mode == loc.mode, x


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_untouched_local_paths_end_exactly_as_upstream(scn: Scenario) -> None:
    a, b, local = scn
    plan = {x.path: x for x in plan_update(Manifest(a), Manifest(b), local)}
    for p in PATHS:
        if not same(local[p], a.get(p)):
            continue
        after = _result_of(plan[p]) if p in plan else local[p]
        assert after == b.get(p), (p, plan.get(p))
        if p in plan:
            assert plan[p].action in ("take", "remove", "noop"), plan[p]


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_operator_only_paths_never_planned(scn: Scenario) -> None:
    a, b, local = scn
    plan_paths = {x.path for x in plan_update(Manifest(a), Manifest(b), local)}
    assert plan_paths.isdisjoint(OPERATOR_ONLY)
    assert plan_paths <= set(a) | set(b)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_upstream_additions_meeting_local_additions(scn: Scenario) -> None:
    a, b, local = scn
    plan = {x.path: x for x in plan_update(Manifest(a), Manifest(b), local)}
    for p in set(b) - set(a):
        x = plan[p]
        if local[p] is None:
            assert x.action == "take" and x.result == b[p]
        elif same(local[p], b[p]):
            assert x.action == "noop"
        else:
            assert x.action == "conflict", x


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_decide_is_consistent_with_plan(scn: Scenario) -> None:
    a, b, local = scn
    for x in plan_update(Manifest(a), Manifest(b), local):
        assert decide(x.path, a.get(x.path), b.get(x.path), local[x.path]) == x
