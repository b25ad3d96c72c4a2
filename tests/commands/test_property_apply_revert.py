"""Apply then revert over random trees on disk: the home comes back exactly, and no local byte is lost.

Random pristine A, upstream B (edits of A) and operator edits of the adopted home (text and
binary files, executable modes, a symlink, nested and empty directories, additions where
upstream also adds). A bundle A→B is made in-process, applied with `--on-conflict new|local`,
then reverted. The use cases are called in-process for speed; the CLI is covered elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.homes import snapshot, store_hashes
from uplevel.commands import adopt, inspect, revert
from uplevel.commands import apply as update
from uplevel.devtools.sample import PRODUCT
from uplevel.repo.bundle_create import bundle_create

# A path → spec: ("file", bytes, mode) | ("link", target) | ("dir", mode) (an empty directory)
Spec = tuple[Any, ...]
Tree = dict[str, Spec]

TEXT_PATHS = ("README.txt", "bin/run.sh", "conf/app.toml", "conf/sub/deep.xml", "docs/guide.md")
BIN_PATHS = ("bin/tool.bin", "lib/a.jar", "lib/b.jar", "lib/ext/c.jar")
LINK_PATH = "bin/start"
EMPTY_DIR = "var/empty"
UNIVERSE = (*TEXT_PATHS, *BIN_PATHS, LINK_PATH)
OPERATOR_ONLY = ("custom/mine.txt", "conf/local.toml", "lib/driver.jar")

WORDS = ("alpha", "beta", "gamma", "delta", "port = 80", "host = a", "debug = false", "x")
MODES = (0o644, 0o755, 0o600)

lines = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6)
binary = st.binary(min_size=0, max_size=48).map(lambda b: b"\x00\xffBIN" + b)


def text(ls: list[str]) -> bytes:
    return ("\n".join(ls) + "\n").encode()


def content_for(path: str) -> st.SearchStrategy[bytes]:
    return lines.map(text) if path in TEXT_PATHS else binary


@st.composite
def edited_text(draw: st.DrawFn, data: bytes) -> bytes:
    """Change, insert or delete a line of a text file (so that merges are sometimes clean)."""
    ls = data.decode().splitlines()
    op = draw(st.sampled_from(("change", "append", "prepend", "delete", "rewrite")))
    i = draw(st.integers(0, max(len(ls) - 1, 0)))
    word = draw(st.sampled_from(WORDS)) + draw(st.sampled_from(("", "!", " # edited")))
    if op == "change" and ls:
        ls[i] = word
    elif op == "append":
        ls.append(word)
    elif op == "prepend":
        ls.insert(0, word)
    elif op == "delete" and len(ls) > 1:
        del ls[i]
    else:
        ls = draw(lines)
    return text(ls)


@st.composite
def pristine(draw: st.DrawFn) -> Tree:
    tree: Tree = {}
    for p in (*TEXT_PATHS, *BIN_PATHS):
        if draw(st.integers(0, 4)) > 0:  # most paths exist
            tree[p] = ("file", draw(content_for(p)), draw(st.sampled_from(MODES)))
    if draw(st.booleans()):
        tree[LINK_PATH] = ("link", draw(st.sampled_from(("run.sh", "tool.bin"))))
    if draw(st.booleans()):
        tree[EMPTY_DIR] = ("dir", 0o755)
    return tree


@st.composite
def modified(draw: st.DrawFn, base: Tree, *, operator: bool) -> Tree:
    """Random edits of `base`: modify, chmod, remove, add (and for the operator, retype)."""
    out = dict(base)
    for p in UNIVERSE:
        spec = base.get(p)
        if spec is None:
            if draw(st.integers(0, 3)) == 0:
                if p == LINK_PATH:
                    out[p] = ("link", draw(st.sampled_from(("run.sh", "../conf/app.toml"))))
                else:
                    out[p] = ("file", draw(content_for(p)), draw(st.sampled_from(MODES)))
            continue
        ops = ["same", "same", "modify", "chmod", "remove"]
        if operator:
            ops.append("to-link")
        op = draw(st.sampled_from(ops))
        if spec[0] == "link":
            if op == "modify":
                out[p] = ("link", draw(st.sampled_from(("run.sh", "tool.bin", "missing"))))
            elif op == "remove":
                del out[p]
            continue
        _, data, mode = spec
        if op == "modify":
            new = draw(edited_text(data)) if p in TEXT_PATHS else draw(binary)
            out[p] = ("file", new, mode)
        elif op == "chmod":
            out[p] = ("file", data, draw(st.sampled_from(MODES)))
        elif op == "remove":
            del out[p]
        elif op == "to-link":
            out[p] = ("link", "README.txt")
    if EMPTY_DIR in base and draw(st.integers(0, 3)) == 0:
        del out[EMPTY_DIR]
    elif EMPTY_DIR not in base and draw(st.integers(0, 5)) == 0:
        out[EMPTY_DIR] = ("dir", 0o755)
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Tree, Tree, Tree, str]:
    a = draw(pristine())
    b = draw(modified(a, operator=False))
    local = draw(modified(a, operator=True))
    for p in sorted(set(b) - set(a)):  # upstream adds: the operator may have done it too
        if p == EMPTY_DIR:
            continue
        choice = draw(st.sampled_from(("leave", "leave", "identical", "different")))
        if choice == "identical":
            local[p] = b[p]
        elif choice == "different" and b[p][0] == "file":
            local[p] = ("file", draw(content_for(p)), b[p][2])
    for p in OPERATOR_ONLY:
        if draw(st.booleans()):
            local[p] = ("file", draw(content_for(p)), draw(st.sampled_from(MODES)))
    if draw(st.integers(0, 4)) == 0:
        local[EMPTY_DIR + "/note.txt"] = ("file", b"operator note\n", 0o644)
        local.pop(EMPTY_DIR, None)
    return a, b, local, draw(st.sampled_from(("new", "local")))


def write_tree(root: Path, tree: Tree) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for p, spec in sorted(tree.items()):
        target = root / p
        target.parent.mkdir(parents=True, exist_ok=True)
        if spec[0] == "file":
            target.write_bytes(spec[1])
            os.chmod(target, spec[2])
        elif spec[0] == "link":
            os.symlink(spec[1], target)
        else:
            target.mkdir(exist_ok=True)
            os.chmod(target, spec[1])


def edit_home(home: Path, a: Tree, local: Tree) -> None:
    """Turn the adopted copy of A into `local` the way an operator would (rm, write, chmod)."""
    for p in sorted(set(a) - set(local)):
        if a[p][0] == "dir":
            if os.path.isdir(home / p) and not any((home / p).iterdir()):
                os.rmdir(home / p)
        else:
            os.unlink(home / p)
    for p, spec in sorted(local.items()):
        if a.get(p) == spec:
            continue
        target = home / p
        if os.path.lexists(target) and not os.path.isdir(target):
            os.unlink(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if spec[0] == "file":
            target.write_bytes(spec[1])
            os.chmod(target, spec[2])
        elif spec[0] == "link":
            os.symlink(spec[1], target)
        else:
            target.mkdir(exist_ok=True)
            os.chmod(target, spec[1])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_scenario(a: Tree, b: Tree, local: Tree, on_conflict: str) -> None:
    with tempfile.TemporaryDirectory(prefix="uplevel-prop-") as tmp:
        t = Path(tmp)
        write_tree(t / "A", a)
        write_tree(t / "B", b)
        bundle = t / "a-b.bundle"
        bundle_create(
            product=PRODUCT,
            from_tree=t / "A",
            to_tree=t / "B",
            from_level=0,
            to_level=1,
            output=bundle,
        )
        home = t / "home"
        shutil.copytree(t / "A", home, symlinks=True)
        adopt.init(home, product=PRODUCT, level=0, channel="full")
        edit_home(home, a, local)
        before = snapshot(home)

        result = update.apply(home, bundle, on_conflict=on_conflict)  # type: ignore[arg-type]
        assert result.status == "applied", result
        assert not (home / "updates/uplevel/txn").exists()
        after = snapshot(home)
        in_home = {v[2] for v in after.values() if v[0] == "file"}
        stored = store_hashes(home)
        # (1) every locally changed file's bytes survive, in the home or in the backup store
        for p, spec in local.items():
            if spec[0] == "file" and a.get(p) != spec:
                h = sha(spec[1])
                assert h in in_home or h in stored, (p, on_conflict)
        # (2) paths the operator did not touch are exactly upstream's
        for p in UNIVERSE:
            if local.get(p) != a.get(p):
                continue
            want = b.get(p)
            got = after.get(p)
            if want is None:
                assert got is None, p
            elif want[0] == "file":
                assert got == ("file", want[2], sha(want[1])), p
            else:
                assert got == ("link", 0, want[1]), p

        r = revert.revert(home)
        assert (r.from_level, r.to_level) == (1, 0)
        assert not (home / "updates/uplevel/txn").exists()
        assert snapshot(home) == before
        st_ = inspect.status(home)
        assert st_.level == 0


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_apply_then_revert_restores_home_and_keeps_local_bytes(
    scn: tuple[Tree, Tree, Tree, str],
) -> None:
    check_scenario(*scn)


# --- minimal cases Hypothesis found, kept as plain regression tests -------------------------------

TOML_A = ("file", b"alpha\n", 0o644)
JAR_A = ("file", b"\x00\xffBIN", 0o644)


def test_upstream_removes_empty_dir_the_operator_filled() -> None:
    """A lists the empty dir var/empty, B drops it, the operator put a file in it.

    The file must stay (and with it var/empty and var); apply must not fail.
    """
    a: Tree = {"conf/app.toml": TOML_A, EMPTY_DIR: ("dir", 0o755)}
    b: Tree = {"conf/app.toml": TOML_A}
    local: Tree = {"conf/app.toml": TOML_A, EMPTY_DIR + "/note.txt": ("file", b"note\n", 0o644)}
    check_scenario(a, b, local, "new")


def test_revert_keeps_directory_the_operator_emptied() -> None:
    """The operator deleted lib/a.jar (lib/ stays, empty); B adds lib/b.jar; revert.

    Before the apply the home had an empty lib/; after revert it must still have it.
    """
    a: Tree = {"README.txt": TOML_A, "lib/a.jar": JAR_A}
    b: Tree = {**a, "lib/b.jar": JAR_A}
    local: Tree = {"README.txt": TOML_A}
    check_scenario(a, b, local, "new")


@pytest.mark.parametrize("on_conflict", ["new", "local"])
def test_conflicting_text_and_binary_edits(on_conflict: str) -> None:
    """A control with every kind of decision at once (merge, conflict, keep, add/add)."""
    a: Tree = {
        "conf/app.toml": ("file", b"alpha\nbeta\ngamma\n", 0o644),
        "conf/sub/deep.xml": ("file", b"x\n", 0o644),
        "bin/run.sh": ("file", b"alpha\n", 0o755),
        "lib/a.jar": JAR_A,
        "lib/b.jar": JAR_A,
        LINK_PATH: ("link", "run.sh"),
    }
    b: Tree = {
        **a,
        "conf/app.toml": ("file", b"alpha\nbeta\ngamma\ndelta\n", 0o644),  # clean merge
        "conf/sub/deep.xml": ("file", b"upstream\n", 0o644),  # conflict
        "lib/a.jar": ("file", b"\x00new", 0o644),  # binary conflict
        "docs/guide.md": ("file", b"guide\n", 0o644),  # add/add, different
        LINK_PATH: ("link", "tool.bin"),
    }
    del b["lib/b.jar"]  # changed locally, removed upstream
    local: Tree = {
        **a,
        "conf/app.toml": ("file", b"ALPHA\nbeta\ngamma\n", 0o644),
        "conf/sub/deep.xml": ("file", b"mine\n", 0o644),
        "lib/a.jar": ("file", b"\x00mine", 0o644),
        "lib/b.jar": ("file", b"\x00patched", 0o644),
        "docs/guide.md": ("file", b"my guide\n", 0o600),
        "custom/mine.txt": ("file", b"mine\n", 0o644),
        "bin/run.sh": ("file", b"alpha\n", 0o700),
    }
    check_scenario(a, b, local, on_conflict)
