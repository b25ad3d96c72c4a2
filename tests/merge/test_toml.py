"""Tests for the TOML three-way merge (uplevel.merge.toml)."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.corpus.scenarios import (
    S01,
    S02,
    S03,
    Scenario,
    ours_01_reformatted,
    ours_02_uncommented_environment,
)
from uplevel.merge.result import MergeResult, UnparsableInput
from uplevel.merge.toml import merge_toml

MISSING = object()


class Typed:
    """A leaf value compared with its type: `true` is not `1`."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Typed):
            other = other.value
        return type(self.value) is type(other) and bool(self.value == other)

    def __hash__(self) -> int:
        return hash(repr(self.value))

    def __repr__(self) -> str:
        return repr(self.value)


def flat(data: bytes) -> dict[str, Any]:
    """Leaves of a TOML file read with the stdlib parser; list elements by `name` or position."""
    out: dict[str, Any] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                names = [v.get("name") for v in value]
                by_name = all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
                for i, element in enumerate(value):
                    walk(element, f"{path}[name={element['name']}]" if by_name else f"{path}[{i}]")
            elif isinstance(value, dict):
                walk(value, path)
            else:
                out[path] = Typed(value)

    walk(tomllib.loads(data.decode()), "")
    return out


def check(base: bytes, ours: bytes, theirs: bytes, expected_conflicts: set[str]) -> MergeResult:
    """Merged parses; ours-only and theirs-only changes are in it; conflicts are exactly these."""
    result = merge_toml(base, ours, theirs)
    assert result.format == "toml"
    b, o, t = flat(base), flat(ours), flat(theirs)
    m = flat(result.merged)
    assert {c.path for c in result.conflicts} == expected_conflicts
    for key in {*b, *o, *t}:
        bv, ov, tv = (x.get(key, MISSING) for x in (b, o, t))
        got = m.get(key, MISSING)
        if (ov != bv and tv == bv) or ov == tv:
            assert got == ov, key
        elif tv != bv and ov == bv:
            assert got == tv, key
        else:
            assert key in expected_conflicts, key
            assert got == ov, key  # the operator's value stays
    return result


def _pair(s: Scenario) -> tuple[bytes, bytes]:
    return s.base(), s.theirs()


# --- semantics -----------------------------------------------------------------------------


def test_trivial_cases_return_a_side_exactly() -> None:
    b, o, t = b"a = 1", b"a = 1 # c\n", b"a = 2\n"
    assert merge_toml(b, b, t).merged == t
    assert merge_toml(b, o, b).merged == o
    assert merge_toml(b, o, o).merged == o


def test_setting_level_rules_and_conflict_values() -> None:
    base = b'[s]\na = 1\nb = 2\nc = "x"\nd = 4\n'
    ours = b'[s]\na = 10\nb = 2\nc = "ours"\nd = 4\nmine = true\n'
    theirs = b'[s]\na = 1\nb = 20\nc = "theirs"\nnew = [1, 2]\n'
    result = check(base, ours, theirs, {"s.c"})
    assert result.conflicts[0].to_dict() == {
        "path": "s.c",
        "base": "x",
        "ours": "ours",
        "theirs": "theirs",
    }


def test_formatting_only_is_never_a_conflict_and_structural_edit_keeps_ours() -> None:
    base = b'[server]\nhostname = "localhost"\nport = 9443\n\n[db]\nurl = "u"\n'
    ours = b"# operator\n[db]\nurl = 'u'\n\n[server]\nport   = 9443  # kept\nhostname='localhost'\n"
    theirs = b'[server]\nhostname = "localhost"\nport = 9444\n\n[db]\nurl = "u2"\n'
    result = check(base, ours, theirs, set())
    assert result.merged == (
        b"# operator\n[db]\nurl = \"u2\"\n\n[server]\nport   = 9444  # kept\nhostname='localhost'\n"
    )


def test_structural_edit_still_carries_upstream_comment_edits() -> None:
    # ours reformatted x, so the line merge conflicts and ours is edited by structure;
    # upstream's reworded comment and its block appended at the end must still arrive
    base = b"# intro\n[a]\nx = 1\n#y = 2\n#old = 1\n\n[b]\nz = 3"
    ours = b"# intro\n[a]\nx=1\n#y = 2\n#old = 1\n\n[b]\nz=30"
    theirs = b"# intro\n[a]\nx = 10\n#y = 2\n#w = 4\n#new = 1\n\n[b]\nz = 3\n\n#[c]\n#v = 1\n"
    result = check(base, ours, theirs, set())
    assert (
        result.merged
        == b"# intro\n[a]\nx=10\n#y = 2\n#w = 4\n#new = 1\n\n[b]\nz=30\n\n#[c]\n#v = 1\n"
    )
    # a comment edit next to a line the operator rewrote lands too (issue 10: upstream comment
    # lines are carried whatever the operator did to neighbouring keys)
    theirs2 = b"# intro\n[a]\n# about x\nx = 10\n#y = 2\n#old = 1\n\n[b]\nz = 3\n#end\n"
    merged = check(base, ours, theirs2, set()).merged
    assert merged == b"# intro\n[a]\n# about x\nx=10\n#y = 2\n#old = 1\n\n[b]\nz=30\n#end\n"


def test_dotted_keys_and_super_tables_are_the_same_setting() -> None:
    base = b"[a.b]\nc = 1\n[x]\npool.max = 5\n"
    ours = b"[a]\nb.c = 1\n[x.pool]\nmax = 6\n"
    theirs = b"[a.b]\nc = 2\n[x]\npool.max = 5\n"
    check(base, ours, theirs, set())


def test_arrays_of_tables_by_name_key() -> None:
    base = b'[[h]]\nname = "a"\nv = 1\n\n[[h]]\nname = "b"\nv = 2\n'
    ours = b'[[h]]\nname = "b"\nv = 20\n\n[[h]]\nname = "a"\nv = 1\n'  # reordered, b changed
    theirs = b'[[h]]\nname = "a"\nv = 10\n\n[[h]]\nname = "b"\nv = 2\n\n[[h]]\nname = "c"\nv = 3\n'
    result = check(base, ours, theirs, set())
    assert flat(result.merged)["h[name=c].v"] == 3
    clash = b'[[h]]\nname = "a"\nv = 5\n\n[[h]]\nname = "b"\nv = 2\n'
    assert [c.path for c in merge_toml(base, clash, theirs).conflicts] == ["h[name=a].v"]


def test_arrays_of_tables_type_name_and_position() -> None:
    base = b'[[l]]\ntype = "x"\nname = "n"\no = 1\n[[l]]\ntype = "y"\nname = "n"\no = 2\n'
    ours = base.replace(b"o = 2", b"o = 3")
    theirs = base.replace(b"o = 2", b"o = 4")
    (c,) = merge_toml(base, ours, theirs).conflicts
    assert c.path == "l[type=y,name=n].o"
    pbase = b"[[p]]\nv = 1\n[[p]]\nv = 2\n"
    (c,) = merge_toml(
        pbase, pbase.replace(b"v = 2", b"v = 5"), pbase.replace(b"v = 2", b"v = 6")
    ).conflicts
    assert c.path == "p[1].v"


def test_delete_against_change_conflicts() -> None:
    base = b"[t]\na = 1\nb = 2\n"
    check(base, b"[t]\nb = 2\n", b"[t]\na = 3\nb = 2\n", {"t.a"})
    result = check(base, b"[t]\na = 1\nb = 5\n", b"", {"t.b"})
    assert flat(result.merged) == {"t.b": 5}


def test_unparsable_sides_are_named() -> None:
    with pytest.raises(UnparsableInput) as info:
        merge_toml(b"a = 1\n", b"a = 2\n", b"a = = 3\n")
    assert info.value.side == "theirs"
    with pytest.raises(UnparsableInput) as info:
        merge_toml(b"a = 1\n", b"a = '\xff'\n", b"a = 3\n")
    assert info.value.side == "ours"


# --- corpus ------------------------------------------------------------------------------


def test_corpus_01_operator_customisations() -> None:
    base, theirs = _pair(S01)
    ours = S01.ours()  # hostname, MySQL URL, password, endpoint, offset, a comment
    # theirs drops AUTO_SERVER from the URL the operator replaced: the one true conflict
    assert S01.conflicts == ("database.apim_db.url",)
    result = check(base, ours, theirs, {"database.apim_db.url"})
    merged = flat(result.merged)
    assert merged["server.hostname"] == "apim.example.com"
    assert merged["apim.gateway.environment[name=Default].gateway_type"] == "Regular"
    assert merged["apim.ai.enable"] == Typed(True)
    assert b"# LDAP later\n" in result.merged
    assert result.merged.endswith(b'#service_password = "admin"\n')  # upstream's appended comments


def test_corpus_01_reformatted_ours_uses_structural_edit() -> None:
    base, theirs = _pair(S01)
    ours = ours_01_reformatted(base)  # every key reformatted, one hostname changed
    assert re.search(rb"(?m)^username=", ours)
    result = check(base, ours, theirs, set())
    assert b'hostname="10.0.0.5"' in result.merged
    assert b"\nusername=" in result.merged  # untouched lines stay as the operator wrote them
    # upstream's comment-only edits still arrive though ours was edited by structure
    assert b"#use_sha256_hash = false\n" in result.merged
    assert result.merged.endswith(b'#service_password = "admin"\n')


def test_corpus_02_gateway_types_and_uncommented_environment() -> None:
    base, theirs = _pair(S02)
    ours = S02.ours()  # the gateway types narrowed, and hostname, database, passwords
    assert b'gateway_type = "Regular,APK"' in ours
    result = check(base, ours, theirs, {"apim.gateway_type"})
    assert result.conflicts[0].theirs == "Regular,APK,AWS,Azure,Kong,Envoy"
    # the operator had uncommented the environment themselves, keeping the placeholders
    ours2 = ours_02_uncommented_environment(base)
    env = "apim.gateway.environment[name=Default]"
    check(
        base,
        ours2,
        theirs,
        {f"{env}.service_url", f"{env}.http_endpoint", f"{env}.https_endpoint"},
    )


def test_corpus_03_keystore() -> None:
    base, theirs = _pair(S03)
    ours = S03.ours()  # own keystore file and password, hostname
    result = check(base, ours, theirs, {"keystore.primary.file_name"})
    assert flat(result.merged)["keystore.primary.password"] == "ks-pass"
    merged = flat(result.merged)
    assert merged["keystore.primary.type"] == "PKCS12"
    assert merged["truststore.file_name"] == "client-truststore.p12"


# --- properties ------------------------------------------------------------------------------

TABLES = ["server", "db.apim", "x"]
KEYS = st.sampled_from(["a", "b", "c"])
VALUES = st.sampled_from([1, 2, "h", "k", True])

Model = dict[str, dict[str, Any]]


def render(model: Model, envs: list[dict[str, Any]], style: int) -> bytes:
    def lit(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f"'{v}'" if style % 2 else f'"{v}"'
        return str(v)

    eq = " = " if style < 2 else "="
    out = []
    for table in sorted(model, reverse=style == 3):
        out.append(f"[{table}]")
        out += [f"{k}{eq}{lit(v)}" for k, v in model[table].items()]
        out.append("")
    for env in envs:
        out.append("[[env]]")
        out += [f"{k}{eq}{lit(v)}" for k, v in env.items()]
        out.append("")
    return "\n".join(out).encode()


@st.composite
def models(draw: st.DrawFn) -> tuple[Model, list[dict[str, Any]]]:
    model = {
        t: draw(st.dictionaries(KEYS, VALUES, max_size=3))
        for t in draw(st.sets(st.sampled_from(TABLES)))
    }
    names = draw(st.lists(st.sampled_from(["n1", "n2", "n3"]), unique=True, max_size=3))
    envs = [{"name": n, **draw(st.dictionaries(KEYS, VALUES, max_size=2))} for n in names]
    return model, envs


@st.composite
def triples(draw: st.DrawFn) -> tuple[bytes, bytes, bytes]:
    model, envs = draw(models())

    def edit() -> bytes:
        m = {t: dict(kv) for t, kv in model.items()}
        e = [dict(x) for x in envs]
        for _ in range(draw(st.integers(0, 3))):
            if m and draw(st.booleans()):
                t = draw(st.sampled_from(sorted(m)))
                k = draw(KEYS)
                if draw(st.booleans()):
                    m[t][k] = draw(VALUES)
                else:
                    m[t].pop(k, None)
            elif e:
                x = draw(st.sampled_from(e))
                x[draw(KEYS)] = draw(VALUES)
        return render(m, e, draw(st.integers(0, 3)))

    return render(model, envs, 0), edit(), edit()


@settings(max_examples=100, deadline=None)
@given(triples())
def test_identity_laws(tri: tuple[bytes, bytes, bytes]) -> None:
    b, x, y = tri
    assert merge_toml(b, b, y).merged == y
    assert merge_toml(b, x, b).merged == x
    assert merge_toml(b, x, x).merged == x


@settings(max_examples=200, deadline=None)
@given(triples())
def test_merge_follows_setting_rules_and_is_symmetric(tri: tuple[bytes, bytes, bytes]) -> None:
    b, o, t = tri
    bm, om, tm = flat(b), flat(o), flat(t)
    expected = set()
    for k in {*bm, *om, *tm}:
        bv, ov, tv = (x.get(k, MISSING) for x in (bm, om, tm))
        if ov != tv and ov != bv and tv != bv:
            expected.add(k)
    forward = check(b, o, t, expected)
    backward = check(b, t, o, expected)
    if forward.clean:
        assert flat(forward.merged) == flat(backward.merged)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60) | st.text(alphabet="[]a=.\"'#\n 1{},", max_size=40).map(str.encode))
def test_garbage_gives_unparsable_or_a_result(x: bytes) -> None:
    for args in (
        (x, b"a = 1\n", b"a = 2\n"),
        (b"a = 1\n", x, b"a = 2\n"),
        (b"a = 1\n", b"a = 2\n", x),
    ):
        try:
            result = merge_toml(*args)
        except UnparsableInput:
            continue
        assert isinstance(result.merged, bytes)
