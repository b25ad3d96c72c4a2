"""Tests for the structural JSON merge (uplevel.merge.json) and the shared tree merge."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.corpus.scenarios import S11, S12, S15, ours_11_reindented, ours_12_same_key_added
from tests.support import tree_oracle
from uplevel.merge import tree
from uplevel.merge.json import _parse, merge_json
from uplevel.merge.result import MergeResult, UnparsableInput

CORPUS = Path(__file__).resolve().parents[1] / "corpus"  # real WSO2 files, see INDEX.md


def corpus(name: str) -> tuple[bytes, bytes]:
    d = CORPUS / name
    return (d / "base.json").read_bytes(), (d / "theirs.json").read_bytes()


def value(data: bytes) -> Any:
    """Parsed value (comments allowed), and strict JSON when the input was strict."""
    return _parse(data, "test")[1].value


def check_merge(
    base: bytes, ours: bytes, theirs: bytes, result: MergeResult
) -> set[tuple[Any, ...]]:
    """tree_oracle.check_merge with strict/commented JSON read by our own parser's value."""
    return tree_oracle.check_merge(base, ours, theirs, result, value)


# ------------------------------------------------------------------ corpus 11


def test_corpus_11_admin_settings_operator_changes_and_conflict() -> None:
    base, theirs = corpus("11-admin-settings-json-4.4-to-4.7")
    ours = S11.ours()  # host, limit, docUrl (upstream changed it too: conflict), retries
    result = merge_json(base, ours, theirs)
    assert [c.path for c in result.conflicts] == ["app.docUrl"]
    c = result.conflicts[0]
    assert c.base == "https://apim.docs.wso2.com/en/4.4.0/"
    assert c.ours == "https://apim.docs.wso2.com/en/latest/"
    assert c.theirs == "https://apim.docs.wso2.com/en/4.7.0/"
    both = check_merge(base, ours, theirs, result)
    assert both == {("app", "docUrl")}
    app = json.loads(result.merged)["app"]  # strict JSON stays strict
    assert app["singleLogout"]["retries"] == 3
    assert app["sessionTimeout"]["idleTimeout"] == 1800
    keys = list(app)  # upstream's new key sits where upstream put it
    assert keys.index("logoutSessionStateAppender") == keys.index("singleLogout") + 1
    assert keys[-2:] == ["platformGateway", "sessionTimeout"]


def test_corpus_11_reindented_and_reordered_by_operator_is_clean() -> None:
    base, theirs = corpus("11-admin-settings-json-4.4-to-4.7")
    ours = ours_11_reindented(base)  # key order reversed, tabs, no final newline, one change
    result = merge_json(base, ours, theirs)
    assert result.clean
    assert check_merge(base, ours, theirs, result) == set()
    text = result.merged.decode()
    assert next(iter(json.loads(text)["app"])) == "docUrl"  # operator's order kept
    assert '\n\t\t"platformGateway": {\n\t\t\t"releasesUrl"' in text  # operator's indent
    assert not text.endswith("\n")
    untouched = ours.decode().split('"feedback"')[1].split("}")[0]
    assert untouched in text


# ------------------------------------------------------------------ corpus 12


def test_corpus_12_site_json_with_comments_clean() -> None:
    base, theirs = corpus("12-apimgt-publisher-site-json-2.1-to-2.2")
    ours = S12.ours()  # context, SSO enabled, client secret, proxy host
    result = merge_json(base, ours, theirs)
    assert result.clean
    assert check_merge(base, ours, theirs, result) == set()
    m = value(result.merged)
    assert m["ssoConfiguration"]["loginUserNameAttribute"] == ""
    assert m["oidcConfiguration"]["authHttpMethod"] == "POST"
    assert m["oidcConfiguration"]["clientConfiguration"]["clientSecret"] == "s3cr3t!"
    text = result.merged.decode()
    # comments, tabs and the operator's odd spacing survive byte for byte
    assert '"enabled" : false,    // values true , false , "auto"' in text
    assert '\t    "assertionEncryptionEnabled" : "false",\n' in text
    assert '      //"regContext":"" // Use only if different path is used for registry\n' in text
    assert '"verifyAssertionValidityPeriod":"true",\n' in text
    # the new member follows its upstream predecessor, then the comment line upstream
    # added after it (issue 10: upstream comments are carried), then the operator's comments
    assert (
        '"idpInitSSOURL" : "https://localhost:9443/samlsso?spEntityID=API_PUBLISHER",\n'
        '        "loginUserNameAttribute" : "",\n'
        '        //"identityProviderLogoutURL" : "https://localhost:9443/samlsso",\n'
        '        //"externalLogoutPage"'
    ) in text


def test_corpus_12_both_add_same_key_differently_conflicts() -> None:
    base, theirs = corpus("12-apimgt-publisher-site-json-2.1-to-2.2")
    ours = ours_12_same_key_added(base)
    result = merge_json(base, ours, theirs)
    assert [c.to_dict() for c in result.conflicts] == [
        {
            "path": "ssoConfiguration.loginUserNameAttribute",
            "base": None,
            "ours": "email",
            "theirs": "",
        }
    ]
    assert check_merge(base, ours, theirs, result) == {
        ("ssoConfiguration", "loginUserNameAttribute")
    }


# ------------------------------------------------------------------ corpus 15


def test_corpus_15_infer_json() -> None:
    base, theirs = corpus("15-is-infer-json-6.1-to-7.0")
    ours = S15.ours()  # two user-name rules (one conflicts), a redirect parameter
    result = merge_json(base, ours, theirs)
    assert [c.path for c in result.conflicts] == [
        '["user_store.type"].database["user_store.properties.UsernameJavaRegEx"]'
    ]
    both = check_merge(base, ours, theirs, result)
    assert both == {("user_store.type", "database", "user_store.properties.UsernameJavaRegEx")}
    m = json.loads(result.merged)
    assert len(m["resident_idp.enable"]["true"]["server.hide_menu_items"]) == 17
    assert (
        m["user_store.type"]["database_unique_id"]
        == json.loads(theirs)["user_store.type"]["database_unique_id"]
    )
    assert (
        '\n        "true": {\n            "server.hide_menu_items": [\n' in result.merged.decode()
    )


# ------------------------------------------------------------------ semantics


def j(v: Any) -> bytes:
    return json.dumps(v, indent=2).encode()


@pytest.mark.parametrize(
    ("b", "o", "t", "want", "paths"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, {"a": 1, "b": 2, "c": 3}, {"a": 1, "c": 3}, []),
        ({"a": {"x": 1}}, {}, {"a": {"x": 2}}, {}, ["a"]),
        ({"a": {"x": 1}}, {"a": {"x": 5}}, {}, {"a": {"x": 5}}, ["a"]),
        ({"a": 1}, {"a": 2}, {"a": 2}, {"a": 2}, []),
        ({"a": 1}, {"a": True}, {"a": 1.0}, {"a": True}, ["a"]),
        ({"l": [1, 2, 3]}, {"l": [0, 1, 2, 3]}, {"l": [1, 2, 3, 4]}, {"l": [0, 1, 2, 3, 4]}, []),
        ({"l": [1, 2]}, {"l": [1, 5]}, {"l": [1, 6]}, {"l": [1, 5]}, ["l[1]"]),
        (
            {"apis": [{"name": "a", "v": 1}, {"name": "b", "v": 1}]},
            {"apis": [{"name": "b", "v": 1}, {"name": "a", "v": 2}]},
            {"apis": [{"name": "a", "v": 1}, {"name": "b", "v": 3}, {"name": "c", "v": 1}]},
            {"apis": [{"name": "b", "v": 3}, {"name": "c", "v": 1}, {"name": "a", "v": 2}]},
            [],
        ),
        (
            {"apis": [{"id": 1, "v": 1}]},
            {"apis": [{"id": 1, "v": 2}]},
            {"apis": [{"id": 1, "v": 3}]},
            {"apis": [{"id": 1, "v": 2}]},
            ["apis[id=1].v"],
        ),
        (
            {"apis": [{"x": 1}, {"x": 2}, {"x": 3}]},
            {"apis": [{"x": 1}, {"x": 2}, {"x": 3, "y": 0}]},
            {"apis": [{"x": 1}, {"x": 9}, {"x": 3}]},
            {"apis": [{"x": 1}, {"x": 9}, {"x": 3, "y": 0}]},
            [],
        ),
        ({"a": [1]}, {"a": [1, 2]}, {"a": [1, 3]}, {"a": [1, 2]}, ["a[1]"]),
        # both sides dropped 2; only ours dropped 1 and added 3, 4, 5: no item of both
        ({"a": [1, 2]}, {"a": [3, 4, 5]}, {"a": [1]}, {"a": [3, 4, 5]}, []),
        ({"a": [1, 2]}, {"a": [3, 4, 5]}, {"a": [1, 6]}, {"a": [3, 4, 5]}, ["a[1]"]),
        ({"a": [1, 2, 3]}, {"a": [1, 3]}, {"a": [1, 2]}, {"a": [1]}, []),  # side by side
    ],
)
def test_semantics(b: Any, o: Any, t: Any, want: Any, paths: list[str]) -> None:
    result = merge_json(j(b), j(o), j(t))
    assert json.loads(result.merged) == want
    assert [c.path for c in result.conflicts] == paths


def test_added_object_into_empty_and_nested_positions() -> None:
    base = b'{"a": {}, "b": [],\n "c": 1}\n'
    ours = b'{"a": {}, "b": [], "c": 2}\n'
    theirs = b'{"a": {"k": [1, {"z": null}]}, "b": ["x"], "c": 1, "d": "e"}\n'
    result = merge_json(base, ours, theirs)
    assert result.clean
    assert json.loads(result.merged) == {"a": {"k": [1, {"z": None}]}, "b": ["x"], "c": 2, "d": "e"}


def test_deleting_the_last_member_keeps_commas_right() -> None:
    base = b'{\n  "a": 1,\n  "b": 2, // about b\n  "c": 3\n}\n'
    ours = b'{\n  "a": 10,\n  "b": 2, // about b\n  "c": 3\n}\n'
    theirs = b'{\n  "a": 1,\n  "b": 2\n}\n'
    result = merge_json(base, ours, theirs)
    assert result.merged == b'{\n  "a": 10,\n  "b": 2 // about b\n}\n'


def test_crlf_and_bom_are_kept() -> None:
    base = b'\xef\xbb\xbf{\r\n  "a": 1,\r\n  "b": 2\r\n}\r\n'
    ours = base.replace(b'"a": 1', b'"a": 7')
    theirs = base.replace(b'"b": 2', b'"b": 2,\r\n  "c": {"d": 4}')
    result = merge_json(base, ours, theirs)
    assert result.merged.startswith(b"\xef\xbb\xbf{\r\n")
    assert b"\n" not in result.merged.replace(b"\r\n", b"")
    assert value(result.merged) == {"a": 7, "b": 2, "c": {"d": 4}}


def test_whitespace_and_key_order_only_is_clean_and_keeps_ours() -> None:
    base = b'{"a": 1, "b": {"c": 2}}'
    ours = b'{\n    "b" : { "c" : 2 },\n    "a" : 1\n}\n'
    theirs = b'{"b":{"c":2},"a":1}'
    result = merge_json(base, ours, theirs)
    assert result.clean
    assert result.merged == ours


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"{",
        b'{"a": 1,,}',
        b'{"a": 1, "a": 2}',
        b"[1 2]",
        b"\xff",
        b"{'a': 1}",
        b"[1]]",
        b"NaN",
    ],
)
@pytest.mark.parametrize("side", ["base", "ours", "theirs"])
def test_unparsable_side_is_named(bad: bytes, side: str) -> None:
    good = b'{"a": 1}'
    args = {"base": good, "ours": good, "theirs": good, side: bad}
    with pytest.raises(UnparsableInput) as info:
        merge_json(args["base"], args["ours"], args["theirs"])
    assert info.value.side == side


def test_deep_nesting_is_unparsable_not_a_crash() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    with pytest.raises(UnparsableInput):
        merge_json(b"[]", deep, b"[]")


# ------------------------------------------------------------------ properties

KEYS = st.sampled_from(["a", "b", "c", "name", "id", "x.y", "é"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text("ab\"\\\n'é", max_size=3),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=15,
)
DOCS = st.dictionaries(KEYS, VALUES, max_size=5)
INDENTS = st.sampled_from([None, 0, 2, 4, "\t"])
SEPS = st.sampled_from([(", ", ": "), (",", ":"), (", ", " : ")])


@st.composite
def edit(draw: st.DrawFn, doc: Any) -> Any:
    """A copy of `doc` with a few settings changed, added or deleted."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(0, 3))):
        node = doc
        while True:
            if isinstance(node, dict) and node and draw(st.booleans()):
                k = draw(st.sampled_from(sorted(node)))
                if isinstance(node[k], dict | list) and draw(st.booleans()):
                    node = node[k]
                    continue
                action = draw(st.sampled_from(["set", "del"]))
                if action == "del":
                    del node[k]
                else:
                    node[k] = draw(VALUES)
            elif isinstance(node, dict):
                node[draw(KEYS)] = draw(VALUES)
            elif isinstance(node, list):
                if len(node) > 0 and draw(st.booleans()):
                    node[draw(st.integers(0, len(node) - 1))] = draw(VALUES)
                else:
                    node.insert(draw(st.integers(0, len(node))), draw(VALUES))
            break
    return doc


def dump(draw: Callable[[st.SearchStrategy[Any]], Any], doc: Any) -> bytes:
    indent, seps = draw(INDENTS), draw(SEPS)
    text = json.dumps(doc, indent=indent, separators=seps, ensure_ascii=draw(st.booleans()))
    return text.encode() + (b"\n" if draw(st.booleans()) else b"")


@st.composite
def triples(draw: st.DrawFn) -> tuple[bytes, bytes, bytes]:
    base = draw(DOCS)
    return dump(draw, base), dump(draw, draw(edit(base))), dump(draw, draw(edit(base)))


PROP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(triples())
def test_identities_are_byte_exact(docs: tuple[bytes, bytes, bytes]) -> None:
    b, o, t = docs
    assert merge_json(b, b, t).merged == t
    assert merge_json(b, o, b).merged == o
    assert merge_json(b, o, o).merged == o


@PROP
@given(triples())
def test_merge_matches_tree_and_is_symmetric_when_clean(docs: tuple[bytes, bytes, bytes]) -> None:
    b, o, t = docs
    r1 = merge_json(b, o, t)
    expected, conflicts = tree.merge_values(json.loads(b), json.loads(o), json.loads(t))
    assert tree.same(json.loads(r1.merged), expected)  # strict JSON in, strict JSON out
    assert r1.conflicts == conflicts
    if r1.clean:
        r2 = merge_json(b, t, o)
        assert r2.clean
        assert tree.same(json.loads(r1.merged), json.loads(r2.merged))
    check_merge(b, o, t, r1)


@PROP
@given(st.data())
def test_untouched_members_stay_byte_identical(data: st.DataObject) -> None:
    base = data.draw(DOCS)
    o_doc = data.draw(edit(base))
    ours = json.dumps(o_doc, indent=3, separators=(",", " :  ")).encode()
    theirs_doc = json.loads(json.dumps(base))
    theirs_doc["zz_new"] = {"k": [1, 2]}
    result = merge_json(json.dumps(base).encode() + b" ", ours, json.dumps(theirs_doc).encode())
    assert result.clean
    text = result.merged.decode()
    assert json.loads(text) == {**o_doc, "zz_new": {"k": [1, 2]}}
    # every member the operator had is still the operator's text, byte for byte
    o_text, o_root = _parse(ours, "ours")
    for e in o_root.entries:
        assert o_text[e.start : e.node.end] in text
    assert (
        not o_doc
        or '\n   "zz_new" :  {\n      "k" :  [\n         1,\n         2\n      ]\n   }' in text
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_random_bytes(junk: bytes) -> None:
    try:
        merge_json(b"{}", junk, b'{"a": 1}')
    except UnparsableInput as exc:
        assert exc.side == "ours"


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_documents(data: st.DataObject) -> None:
    good = dump(data.draw, data.draw(DOCS))
    i = data.draw(st.integers(0, len(good)))
    junk = data.draw(st.sampled_from([b"", b"{", b"}", b",", b'"', b"/*", b"//", b"\\", b"]"]))
    cut = data.draw(st.integers(0, 2))
    bad = good[:i] + junk + good[i + cut :]
    try:
        result = merge_json(good, bad, good)
    except UnparsableInput as exc:
        assert exc.side == "ours"
    else:
        assert result.merged == bad
