"""Issue 10 for the JSON engine: one test per class and rule, on WSO2's JSON shapes
(`settings.json` of the portals, Jaggery `site.json` with comments, `infer.json`).
Strict JSON is read back with Python's json module, commented JSON after dropping its
comment lines (the engine has its own parser); conflicts are compared exactly."""

from __future__ import annotations

import json
from typing import Any

from uplevel.merge.json import merge_json

BOM = b"\xef\xbb\xbf"


def load(data: bytes) -> Any:
    """Python's json on the text without its `//` comment lines."""
    lines = data.decode("utf-8-sig").splitlines()
    return json.loads("\n".join(x for x in lines if not x.strip().startswith("//")))


def conflicts(result: Any) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts]


SETTINGS = {
    "app": {
        "context": "/publisher",
        "origin": {"host": "localhost"},
        "nodeIp": "127.0.0.1",
        "environments": [
            {"name": "Production and Sandbox", "type": "hybrid", "showInConsole": True}
        ],
    },
    "analytics": {"enable": False},
}


def dump(value: Any) -> bytes:
    return json.dumps(value, indent=4).encode() + b"\n"


def test_class1_unrelated_local_edit_invents_no_conflict() -> None:
    ours = json.loads(json.dumps(SETTINGS))
    ours["app"]["origin"]["host"] = "gw.example.org"
    theirs = json.loads(json.dumps(SETTINGS))
    del theirs["app"]["nodeIp"]
    theirs["app"]["environments"][0]["name"] = "Default"
    theirs["analytics"] = {"enable": False, "configEndpoint": "https://localhost:8080/auth/v1"}
    result = merge_json(dump(SETTINGS), dump(ours), dump(theirs))
    assert conflicts(result) == []
    assert load(result.merged) == {
        "app": {
            "context": "/publisher",
            "origin": {"host": "gw.example.org"},
            "environments": [{"name": "Default", "type": "hybrid", "showInConsole": True}],
        },
        "analytics": {"enable": False, "configEndpoint": "https://localhost:8080/auth/v1"},
    }


def test_class2_one_true_conflict_keeps_every_other_change() -> None:
    base = {"server": {"nodeIp": "127.0.0.1", "port": 9443}, "db": {"url": "h2", "user": "sa"}}
    ours = {"server": {"nodeIp": "10.0.0.5", "port": 9443}, "db": {"url": "h2", "user": "apim"}}
    theirs = {
        "server": {"port": 9443, "offset": 0},
        "db": {"url": "jdbc:h2:./WSO2AM_DB", "user": "sa", "poolSize": 50},
        "tracing": {"enabled": False},
    }
    result = merge_json(dump(base), dump(ours), dump(theirs))
    assert conflicts(result) == [("server.nodeIp", "127.0.0.1", "10.0.0.5", None)]
    assert load(result.merged) == {
        "server": {"nodeIp": "10.0.0.5", "port": 9443, "offset": 0},
        "db": {"url": "jdbc:h2:./WSO2AM_DB", "user": "apim", "poolSize": 50},
        "tracing": {"enabled": False},
    }


SITE = b"""\
{
    "context" : "/publisher",
    "ssoConfiguration" : {
        "enabled" : "false",
        // the IdP of the portal
        "issuer" : "API_PUBLISHER",
        "identityProviderURL" : "https://localhost:9443/samlsso"
    }
}
"""


def test_class3_upstream_comments_carried_next_to_operator_edits() -> None:
    """site.json: the operator appended a member to the last object; upstream documented
    a member, edited a comment and added a commented-out member at the end."""
    ours = SITE.replace(
        b'"https://localhost:9443/samlsso"\n',
        b'"https://idp.example.org/samlsso",\n        "acsURL" : "https://gw.example.org/acs"\n',
    )
    theirs = (
        SITE.replace(b"// the IdP of the portal", b"// the SAML issuer of the portal")
        .replace(
            b'        "enabled"', b'        // true to log in through the IdP\n        "enabled"'
        )
        .replace(
            b'"https://localhost:9443/samlsso"\n',
            b'"https://localhost:9443/samlsso"\n'
            b'        //"externalLogoutPage" : "https://localhost:9443/samlsso?slo=true"\n',
        )
    )
    result = merge_json(SITE, ours, theirs)
    assert conflicts(result) == []
    assert load(result.merged) == {
        "context": "/publisher",
        "ssoConfiguration": {
            "enabled": "false",
            "issuer": "API_PUBLISHER",
            "identityProviderURL": "https://idp.example.org/samlsso",
            "acsURL": "https://gw.example.org/acs",
        },
    }
    text = result.merged.decode()
    assert "// the IdP of the portal" not in text
    assert '        // the SAML issuer of the portal\n        "issuer"' in text
    assert '        // true to log in through the IdP\n        "enabled"' in text
    assert '        //"externalLogoutPage" : "https://localhost:9443/samlsso?slo=true"\n' in text


def test_rename_of_untouched_entry_is_a_rename() -> None:
    base = {
        "apis": [{"id": "pizzashack", "context": "/pizza"}, {"id": "petstore", "context": "/pets"}]
    }
    ours = {**base, "limit": 10}
    theirs = {"apis": [{"id": "pizzashack-v2", "context": "/pizza"}, base["apis"][1]]}
    result = merge_json(dump(base), dump(ours), dump(theirs))
    assert conflicts(result) == []
    assert load(result.merged) == {**theirs, "limit": 10}


def test_rename_of_entry_the_operator_touched_is_one_conflict() -> None:
    base = {"apis": [{"id": "pizzashack", "context": "/pizza", "version": "1.0"}]}
    ours = {"apis": [{"id": "pizzashack", "context": "/pizzas", "version": "1.0"}]}
    theirs = {"apis": [{"id": "pizzashack-v2", "context": "/pizza", "version": "1.0"}]}
    result = merge_json(dump(base), dump(ours), dump(theirs))
    assert conflicts(result) == [
        (
            "apis[id=pizzashack]",
            '{"id": "pizzashack", "context": "/pizza", "version": "1.0"}',
            '{"id": "pizzashack", "context": "/pizzas", "version": "1.0"}',
            '{"id": "pizzashack-v2", "context": "/pizza", "version": "1.0"}',
        )
    ]
    assert load(result.merged) == ours


def test_uncommented_member_is_an_addition_by_that_side() -> None:
    base = b'{\n    "a" : 1,\n    //"proxyContextPath" : "/apim",\n    "b" : 2\n}\n'
    uncommented = base.replace(b'//"proxyContextPath"', b'"proxyContextPath"')
    edited = base.replace(b'"b" : 2', b'"b" : 3')
    for ours, theirs in ((edited, uncommented), (uncommented, edited)):
        result = merge_json(base, ours, theirs)
        assert conflicts(result) == []
        assert load(result.merged) == {"a": 1, "proxyContextPath": "/apim", "b": 3}
        assert b"//" not in result.merged


def test_every_upstream_deletion_is_applied_or_a_conflict() -> None:
    base = {"ports": {"http": 9763, "https": 9443, "thrift": 10397}, "x": [1, 2, 3]}
    ours = {"ports": {"http": 9763, "https": 8443, "thrift": 10397}, "x": [1, 2, 3, 4]}
    theirs = {"ports": {"http": 9763}, "x": [1, 3]}
    result = merge_json(dump(base), dump(ours), dump(theirs))
    assert conflicts(result) == [("ports.https", "9443", "8443", None)]
    assert load(result.merged) == {"ports": {"http": 9763, "https": 8443}, "x": [1, 3, 4]}


def test_independent_edits_of_neighbouring_array_items_combine() -> None:
    base = {"hide_menu_items": ["claims", "users", "roles", "tenants"]}
    ours = {"hide_menu_items": ["claims", "roles", "tenants", "workflows"]}
    theirs = {"hide_menu_items": ["claims", "users", "tenants"]}
    result = merge_json(dump(base), dump(ours), dump(theirs))
    assert conflicts(result) == []
    assert load(result.merged) == {"hide_menu_items": ["claims", "tenants", "workflows"]}


def test_interleaving_comments_of_both_sides_are_both_kept() -> None:
    base = b'{\n  "a": 1,\n  "b": 2\n}\n'
    ours = b'{\n  "a": 1,\n  // operator: b is tuned\n  "b": 2\n}\n'
    theirs = b'{\n  "a": 1,\n  // b: the pool size\n  "b": 2\n}\n'
    result = merge_json(base, ours, theirs)
    assert conflicts(result) == []
    assert b"  // operator: b is tuned\n" in result.merged
    assert b"  // b: the pool size\n" in result.merged
    assert load(result.merged) == {"a": 1, "b": 2}


def test_bom_is_no_failure_and_follows_ours() -> None:
    base = b'{\n  "a": 1,\n  "b": 2\n}\n'
    ours = base.replace(b'"a": 1', b'"a": 3')
    theirs = base.replace(b'"b": 2', b'"b": 4')
    for bb, bo, bt in ((1, 1, 1), (1, 0, 1), (0, 1, 0), (0, 0, 1), (1, 1, 0)):
        result = merge_json(BOM * bb + base, BOM * bo + ours, BOM * bt + theirs)
        assert result.clean
        assert result.merged.startswith(BOM) == bool(bo)
        assert result.merged.removeprefix(BOM) == b'{\n  "a": 3,\n  "b": 4\n}\n'
    # a file the operator never changed is upstream's, byte for byte (docs/merge.md)
    assert merge_json(BOM + base, BOM + base, theirs).merged == theirs
