"""Issue 10's three classes and its rules, pinned on deployment.toml shapes.

Each test merges small real-shaped files and reads the result with tomllib (not the engine's
parser): the settings it must hold, the comment lines it must keep, the exact conflicts.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from tests.corpus.scenarios import SCENARIOS
from uplevel.merge.engine import merge
from uplevel.merge.toml import merge_toml

BASE = b"""[server]
hostname = "localhost"
node_ip = "127.0.0.1"

[[gw.environment]]
name = "Production and Sandbox"
type = "hybrid"

#[analytics]
#enable = false
"""
OURS = BASE.replace(b'hostname = "localhost"', b'hostname = "gw.example.org"')
THEIRS = b"""[server]
hostname = "localhost"

[[gw.environment]]
name = "Default"
type = "hybrid"

[analytics]
enable = false
config_endpoint = "https://localhost:8080/auth/v1"
"""


def read(data: bytes) -> dict[str, Any]:
    return tomllib.loads(data.decode())


def conflicts(result: Any) -> list[str]:
    return sorted(c.path for c in result.conflicts)


def test_the_reproducer_merges_cleanly() -> None:
    result = merge(BASE, OURS, THEIRS, path="deployment.toml")
    assert result.format == "toml" and result.fallback is None
    assert conflicts(result) == []
    assert read(result.merged) == {
        "server": {"hostname": "gw.example.org"},
        "gw": {"environment": [{"name": "Default", "type": "hybrid"}]},
        "analytics": {"enable": False, "config_endpoint": "https://localhost:8080/auth/v1"},
    }
    # upstream's uncommented section replaces the commented-out one, in its place
    assert b"#[analytics]" not in result.merged and b"#enable" not in result.merged


def test_class1_an_unrelated_local_edit_never_makes_upstream_changes_conflict() -> None:
    # the same upstream change against an untouched and a touched ours gives the same settings
    # but for the operator's own one
    untouched = merge_toml(BASE, BASE, THEIRS)
    touched = merge_toml(BASE, OURS, THEIRS)
    assert untouched.clean and touched.clean
    expected = read(untouched.merged)
    expected["server"]["hostname"] = "gw.example.org"
    assert read(touched.merged) == expected


def test_class2_a_true_conflict_covers_only_its_setting() -> None:
    base = b"""[server]
hostname = "localhost"
node_ip = "127.0.0.1"

[database.apim_db]
url = "jdbc:h2:./repository/database/WSO2AM_DB"
username = "wso2carbon"

[keystore.tls]
file_name = "wso2carbon.jks"
"""
    # the operator changed node_ip (which upstream deletes) and the database user
    ours = base.replace(b'"127.0.0.1"', b'"10.0.0.7"').replace(b'"wso2carbon"\n', b'"apim"\n')
    # upstream deleted node_ip, added settings to tables the operator never touched, and a table
    theirs = b"""[server]
hostname = "localhost"
base_path = "${carbon.protocol}://${carbon.host}:${carbon.management.port}"

[database.apim_db]
url = "jdbc:h2:./repository/database/WSO2AM_DB"
username = "wso2carbon"
pool_options.maxActive = 50

[keystore.tls]
file_name = "wso2carbon.jks"
type = "JKS"
alias = "wso2carbon"

[apim.ai]
enable = true
"""
    result = merge_toml(base, ours, theirs)
    assert [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        ("server.node_ip", "127.0.0.1", "10.0.0.7", None)
    ]
    assert read(result.merged) == {
        "server": {
            "hostname": "localhost",
            "node_ip": "10.0.0.7",  # the operator's value until f.final
            "base_path": "${carbon.protocol}://${carbon.host}:${carbon.management.port}",
        },
        "database": {
            "apim_db": {
                "url": "jdbc:h2:./repository/database/WSO2AM_DB",
                "username": "apim",
                "pool_options": {"maxActive": 50},
            }
        },
        "keystore": {"tls": {"file_name": "wso2carbon.jks", "type": "JKS", "alias": "wso2carbon"}},
        "apim": {"ai": {"enable": True}},
    }


def test_class3_upstream_comment_blocks_arrive_when_the_operator_appended_to_the_last_table() -> (
    None
):
    base = b"""[keystore.tls]
file_name = "wso2carbon.jks"
password = "wso2carbon"
"""
    ours = base + b'alias = "apim"\n'  # a key appended to the last table
    theirs = base + (
        b"\n#[keystore.internal]\n"
        b'#file_name = "wso2carbon.jks"\n'
        b'#type = "JKS"\n'
        b"\n# reCAPTCHA for the portals\n"
        b"#[recaptcha]\n#enabled = false\n"
    )
    result = merge_toml(base, ours, theirs)
    assert result.clean
    assert read(result.merged) == {
        "keystore": {
            "tls": {"file_name": "wso2carbon.jks", "password": "wso2carbon", "alias": "apim"}
        }
    }
    for line in theirs.splitlines():
        if line.startswith(b"#"):
            assert line in result.merged.splitlines(), line


def test_upstream_comment_edits_next_to_operator_edits_are_carried() -> None:
    base = b"""[server]
# the host name
hostname = "localhost"
#offset = 0
"""
    ours = base.replace(b'"localhost"', b'"apim.example.com"').replace(
        b"#offset = 0", b"offset = 1"
    )
    theirs = base.replace(b"# the host name", b"# the host name the portals use")
    theirs += b"# read https://apim.docs.wso2.com/en/latest/\n"
    result = merge_toml(base, ours, theirs)
    assert result.clean
    assert read(result.merged) == {"server": {"hostname": "apim.example.com", "offset": 1}}
    lines = result.merged.splitlines()
    assert b"# the host name the portals use" in lines and b"# the host name" not in lines
    assert b"# read https://apim.docs.wso2.com/en/latest/" in lines


def test_both_sides_comments_in_the_same_place_are_both_kept() -> None:
    base = b"[a]\nx = 1\n"
    ours = b"[a]\nx = 1\n# operator: x stays 1\n"
    theirs = b"[a]\nx = 1\n# upstream: x is the pool size\n"
    result = merge_toml(base, ours, theirs)
    assert result.clean
    assert b"# operator: x stays 1" in result.merged
    assert b"# upstream: x is the pool size" in result.merged


def test_an_entry_renamed_upstream_and_untouched_locally_is_renamed_in_place() -> None:
    base = b"""[[event_listener]]
name = "a"
order = 1

[[event_listener]]
name = "b"
order = 2

[[event_listener]]
name = "c"
order = 3
"""
    ours = base.replace(b"order = 3", b"order = 30")
    theirs = base.replace(b'name = "b"', b'name = "b2"')
    result = merge_toml(base, ours, theirs)
    assert result.clean
    assert read(result.merged)["event_listener"] == [
        {"name": "a", "order": 1},
        {"name": "b2", "order": 2},  # in its place, not moved to the end
        {"name": "c", "order": 30},
    ]


def test_an_entry_renamed_upstream_and_changed_locally_is_one_conflict_naming_the_entry() -> None:
    result = merge_toml(
        BASE,
        BASE.replace(b'type = "hybrid"', b'type = "production"'),
        THEIRS,
    )
    assert [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        (
            "gw.environment[name=Production and Sandbox]",
            '{name = "Production and Sandbox", type = "hybrid"}',
            '{name = "Production and Sandbox", type = "production"}',
            '{name = "Default", type = "hybrid"}',
        )
    ]
    merged = read(result.merged)
    # the operator's entry stays whole; every other upstream change is in
    assert merged["gw"]["environment"] == [{"name": "Production and Sandbox", "type": "production"}]
    assert "node_ip" not in merged["server"]
    assert merged["analytics"]["config_endpoint"] == "https://localhost:8080/auth/v1"


def test_a_commented_out_section_the_operator_uncomments_is_the_operators_addition() -> None:
    ours = BASE.replace(b"#[analytics]\n#enable = false", b"[analytics]\nenable = true")
    theirs = BASE.replace(b'node_ip = "127.0.0.1"\n', b"")
    result = merge_toml(BASE, ours, theirs)
    assert result.clean
    assert read(result.merged) == {
        "server": {"hostname": "localhost"},
        "gw": {"environment": [{"name": "Production and Sandbox", "type": "hybrid"}]},
        "analytics": {"enable": True},
    }


def test_every_upstream_deletion_is_applied_or_listed() -> None:
    base = b"[a]\nx = 1\ny = 2\nz = 3\n\n[b]\nw = 1\n\n[c]\nv = 1\n"
    ours = b"[a]\nx = 10\ny = 2\nz = 3\n\n[b]\nw = 1\n\n[c]\nv = 1\nu = 2\n"
    theirs = b"[a]\ny = 2\n\n[c]\nv = 1\n"  # x, z and the whole [b] gone upstream
    result = merge_toml(base, ours, theirs)
    assert [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        ("a.x", "1", "10", None)
    ]
    assert read(result.merged) == {"a": {"x": 10, "y": 2}, "c": {"v": 1, "u": 2}}


def test_a_byte_order_mark_is_kept_as_ours_has_it() -> None:
    bom = b"\xef\xbb\xbf"
    for o_bom, t_bom in ((True, False), (False, True), (True, True)):
        ours = (bom if o_bom else b"") + OURS
        theirs = (bom if t_bom else b"") + THEIRS
        result = merge(bom + BASE, ours, theirs, path="deployment.toml")
        assert result.fallback is None and result.clean
        assert result.merged.startswith(bom) == o_bom
        assert read(result.merged.removeprefix(bom))["server"] == {"hostname": "gw.example.org"}


CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def test_class2_on_the_real_3_2_to_4_0_deployment_toml_one_conflict_and_every_upstream_change() -> (
    None
):
    pair = next(CORPUS.glob("16-apim-deployment-toml-3.2-to-4.0"))
    base, theirs = (pair / "base.toml").read_bytes(), (pair / "theirs.toml").read_bytes()
    ours = base.replace(b'node_ip = "127.0.0.1"', b'node_ip = "10.0.0.5"')
    result = merge_toml(base, ours, theirs)
    # 4.0 dropped node_ip, which the operator changed: that conflict, and nothing else
    assert [(c.path, c.ours, c.theirs) for c in result.conflicts] == [
        ("server.node_ip", "10.0.0.5", None)
    ]
    expected = read(theirs)
    expected["server"]["node_ip"] = "10.0.0.5"
    assert read(result.merged) == expected


def test_class3_on_the_real_4_0_to_4_1_deployment_toml_upstreams_new_comment_block_arrives() -> (
    None
):
    scenario = SCENARIOS["17"]  # the operator uncommented [keystore.primary] among other edits
    result = merge_toml(scenario.base(), scenario.ours(), scenario.theirs())
    assert b'\n\n#[keystore.listener_profile]\n#bind_address = "0.0.0.0"\n\n' in result.merged
    assert scenario.missing(result.merged) == []
