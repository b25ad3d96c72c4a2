"""Issue 10 for the YAML engine: one test per class and rule, on Helm `values.yaml` and
docker-compose shapes. Settings are read back with ruamel's safe loader (the engine uses the
round-trip loader); conflicts are compared exactly."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from uplevel.merge.yaml import merge_yaml

BOM = b"\xef\xbb\xbf"


def load(data: bytes) -> Any:
    return YAML(typ="safe", pure=True).load(data)


def conflicts(result: Any) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts]


VALUES = b"""\
# Helm values for API Manager
wso2:
  deployment:
    am:
      hostname: am.wso2.com
      nodeIp: 127.0.0.1
      environments:
        - name: Production and Sandbox
          type: hybrid
          displayInApiConsole: true
      # Resource limits
      resources:
        memory: 2Gi
#    analytics:
#      enabled: false
"""


def test_class1_unrelated_local_edit_invents_no_conflict() -> None:
    """The issue's reproducer in YAML: the operator changed only the hostname; upstream
    removed `nodeIp`, renamed the environment and uncommented the analytics block."""
    ours = VALUES.replace(b"hostname: am.wso2.com", b"hostname: gw.example.org")
    theirs = (
        VALUES.replace(b"      nodeIp: 127.0.0.1\n", b"")
        .replace(b"- name: Production and Sandbox", b"- name: Default")
        .replace(
            b"#    analytics:\n#      enabled: false\n",
            b"    analytics:\n      enabled: false\n      endpoint: https://localhost:8080/auth/v1\n",
        )
    )
    assert merge_yaml(VALUES, VALUES, theirs).clean  # ours = base: clean (the control)
    result = merge_yaml(VALUES, ours, theirs)
    assert conflicts(result) == []
    assert load(result.merged) == {
        "wso2": {
            "deployment": {
                "am": {
                    "hostname": "gw.example.org",
                    "environments": [
                        {"name": "Default", "type": "hybrid", "displayInApiConsole": True}
                    ],
                    "resources": {"memory": "2Gi"},
                },
                "analytics": {"enabled": False, "endpoint": "https://localhost:8080/auth/v1"},
            }
        }
    }
    assert b"#    analytics:" not in result.merged  # uncommented upstream: the comment goes
    assert b"# Resource limits\n" in result.merged


def test_class2_one_true_conflict_keeps_every_other_change() -> None:
    base = b"""\
server:
  hostname: localhost
  nodeIp: 127.0.0.1
database:
  url: jdbc:h2:./apim
  user: wso2carbon
keystore:
  file: wso2carbon.jks
"""
    ours = base.replace(b"127.0.0.1", b"10.0.0.5").replace(b"user: wso2carbon", b"user: apim")
    theirs = (
        base.replace(b"  nodeIp: 127.0.0.1\n", b"")
        .replace(b"url: jdbc:h2:./apim", b"url: jdbc:h2:./WSO2AM_DB\n  poolSize: 50")
        .replace(b"file: wso2carbon.jks", b"file: wso2carbon.jks\n  alias: wso2carbon")
        + b"tracing:\n  enabled: false\n"
    )
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == [("server.nodeIp", "127.0.0.1", "10.0.0.5", None)]
    assert load(result.merged) == {
        "server": {"hostname": "localhost", "nodeIp": "10.0.0.5"},  # the operator's value
        "database": {"url": "jdbc:h2:./WSO2AM_DB", "poolSize": 50, "user": "apim"},
        "keystore": {"file": "wso2carbon.jks", "alias": "wso2carbon"},
        "tracing": {"enabled": False},
    }


def test_class3_upstream_comments_carried_next_to_operator_edits() -> None:
    """The operator appended a key to the last mapping and changed the key under an
    upstream comment; upstream added a commented-out block at the end, edited one comment,
    removed another and documented a key."""
    base = b"""\
server:
  hostname: localhost
  # the offset of every port
  offset: 0
keystore:
  # the primary keystore
  file: wso2carbon.jks
  password: wso2carbon
"""
    ours = base.replace(b"offset: 0", b"offset: 1") + b"  alias: gateway\n"
    theirs = (
        base.replace(b"  # the offset of every port\n", b"")
        .replace(b"# the primary keystore", b"# the primary keystore (JKS or PKCS12)")
        .replace(
            b"  password: wso2carbon\n",
            b"  # keep it out of the file in production\n  password: wso2carbon\n",
        )
        + b"\n#recaptcha:\n#  enabled: true\n#  api_url: https://www.google.com/recaptcha/api.js\n"
    )
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == []
    assert load(result.merged) == {
        "server": {"hostname": "localhost", "offset": 1},
        "keystore": {"file": "wso2carbon.jks", "password": "wso2carbon", "alias": "gateway"},
    }
    text = result.merged.decode()
    assert "# the offset of every port" not in text
    assert "  # the primary keystore (JKS or PKCS12)\n  file: wso2carbon.jks\n" in text
    assert "  # keep it out of the file in production\n  password: wso2carbon\n" in text
    assert text.endswith(
        "  alias: gateway\n\n#recaptcha:\n#  enabled: true\n"
        "#  api_url: https://www.google.com/recaptcha/api.js\n"
    )


def test_class3_upstream_comment_on_key_the_operator_changed() -> None:
    base = b"am:\n  imageTag: 4.2.0\n  replicas: 1\n"
    ours = b"am:\n  imageTag: 4.2.0-hotfix3\n  replicas: 1\n"
    theirs = b"am:\n  # the image of this release\n  imageTag: 4.3.0\n  replicas: 1\n"
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == [("am.imageTag", "4.2.0", "4.2.0-hotfix3", "4.3.0")]
    assert result.merged == (
        b"am:\n  # the image of this release\n  imageTag: 4.2.0-hotfix3\n  replicas: 1\n"
    )


def test_rename_of_untouched_entry_is_a_rename() -> None:
    base = b"""\
env:
  - name: JVM_MEM_OPTS
    value: -Xms512m -Xmx2048m
  - name: PROFILE
    value: gateway-worker
replicas: 1
"""
    ours = base.replace(b"replicas: 1", b"replicas: 3")
    theirs = base.replace(b"name: JVM_MEM_OPTS", b"name: JAVA_OPTS")
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == []
    assert load(result.merged) == {
        "env": [
            {"name": "JAVA_OPTS", "value": "-Xms512m -Xmx2048m"},
            {"name": "PROFILE", "value": "gateway-worker"},
        ],
        "replicas": 3,
    }


def test_rename_of_entry_the_operator_touched_is_one_conflict() -> None:
    base = b"""\
env:
  - name: JVM_MEM_OPTS
    value: -Xms512m -Xmx2048m
    secret: false
  - name: PROFILE
    value: gateway-worker
"""
    ours = base.replace(b"-Xmx2048m", b"-Xmx4096m")
    theirs = base.replace(b"name: JVM_MEM_OPTS", b"name: JAVA_OPTS").replace(
        b"gateway-worker", b"control-plane"
    )
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == [
        (
            "env[name=JVM_MEM_OPTS]",
            '{"name": "JVM_MEM_OPTS", "value": "-Xms512m -Xmx2048m", "secret": false}',
            '{"name": "JVM_MEM_OPTS", "value": "-Xms512m -Xmx4096m", "secret": false}',
            '{"name": "JAVA_OPTS", "value": "-Xms512m -Xmx2048m", "secret": false}',
        )
    ]
    assert load(result.merged) == {
        "env": [
            {"name": "JVM_MEM_OPTS", "value": "-Xms512m -Xmx4096m", "secret": False},
            {"name": "PROFILE", "value": "control-plane"},
        ]
    }


def test_uncommented_block_is_an_addition_by_that_side() -> None:
    base = b"""\
gateway:
  replicas: 1
# Uncomment to enable analytics
#analytics:
#  enabled: true
#  type: elk
"""
    uncommented = base.replace(
        b"#analytics:\n#  enabled: true\n#  type: elk\n",
        b"analytics:\n  enabled: true\n  type: elk\n",
    )
    edited = base.replace(b"replicas: 1", b"replicas: 2")
    for ours, theirs in ((edited, uncommented), (uncommented, edited)):
        result = merge_yaml(base, ours, theirs)
        assert conflicts(result) == []
        assert load(result.merged) == {
            "gateway": {"replicas": 2},
            "analytics": {"enabled": True, "type": "elk"},
        }
        assert b"#analytics:" not in result.merged
        assert b"#  type: elk" not in result.merged
        assert b"# Uncomment to enable analytics\n" in result.merged


def test_every_upstream_deletion_is_applied_or_a_conflict() -> None:
    base = b"ports:\n  http: 9763\n  https: 9443\n  thrift: 10397\n  ws: 9099\ntransport: {}\n"
    ours = base.replace(b"9443", b"8443").replace(b"transport: {}", b"transport: {x: 1}")
    theirs = b"ports:\n  http: 9763\ntransport: {}\n"
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == [("ports.https", "9443", "8443", None)]
    assert load(result.merged) == {"ports": {"http": 9763, "https": 8443}, "transport": {"x": 1}}


def test_independent_edits_of_neighbouring_list_items_combine() -> None:
    """docker-compose ports: the operator changed the last one, upstream appended one and
    removed another; each item was touched by one side only."""
    base = b'ports:\n  - "9443:9443"\n  - "8280:8280"\n  - "8243:8243"\n'
    ours = base.replace(b'"8243:8243"', b'"18243:8243"')
    theirs = base.replace(b'  - "8280:8280"\n', b"") + b'  - "9763:9763"\n'
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == []
    assert load(result.merged) == {"ports": ["9443:9443", "18243:8243", "9763:9763"]}
    clash = merge_yaml(base, ours, base.replace(b'"8243:8243"', b'"28243:8243"'))
    assert conflicts(clash) == [("ports[2]", "8243:8243", "18243:8243", "28243:8243")]


def test_interleaving_comments_of_both_sides_are_both_kept() -> None:
    base = b"server:\n  hostname: localhost\n  offset: 0\n"
    ours = b"server:\n  hostname: localhost\n  # operator: ports shifted for the DMZ\n  offset: 0\n"
    theirs = b"server:\n  hostname: localhost\n  # port offset, added to every port\n  offset: 0\n"
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == []
    text = result.merged.decode()
    assert "  # operator: ports shifted for the DMZ\n" in text
    assert "  # port offset, added to every port\n" in text
    assert load(result.merged) == load(base)


def test_bom_is_no_failure_and_follows_ours() -> None:
    base = b"a: 1\nb: 2\n# note\n"
    ours = b"a: 3\nb: 2\n# note\n"
    theirs = b"a: 1\nb: 4\n# upstream note\n"
    for bb, bo, bt in ((1, 1, 1), (1, 0, 1), (0, 1, 0), (0, 0, 1), (1, 1, 0)):
        result = merge_yaml(BOM * bb + base, BOM * bo + ours, BOM * bt + theirs)
        assert result.clean
        assert result.merged.startswith(BOM) == bool(bo)
        assert result.merged.removeprefix(BOM) == b"a: 3\nb: 4\n# upstream note\n"
    # a file the operator never changed is upstream's, byte for byte (docs/merge.md)
    assert merge_yaml(BOM + base, BOM + base, theirs).merged == theirs


def test_upstream_block_reads_as_upstream_wrote_it_beside_a_conflict() -> None:
    """Helm chart 4.5's new `sdk` block with a flow list before a comment: ruamel's emitter
    puts the closing bracket after the comment; the merge writes upstream's lines."""
    base = b"""\
apim:
  version: 4.4.0
  gatewayType: "Regular"

  # Organization level access control configurations
  org:
    enabled: false
"""
    ours = base.replace(b'"Regular"', b'"Regular,APK"')
    theirs = (
        base.replace(b"4.4.0", b"4.5.0")
        .replace(b'"Regular"', b'"Regular,APK,AWS"')
        .replace(
            b"\n\n",
            b'\n  # APIM SDK configurations\n  sdk:\n    supportedLanguages: ["java", "swift5"]\n\n',
        )
    )
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == [("apim.gatewayType", "Regular", "Regular,APK", "Regular,APK,AWS")]
    assert result.merged == theirs.replace(b'"Regular,APK,AWS"', b'"Regular,APK"')


def test_both_sides_append_commented_blocks_at_the_end() -> None:
    base = b"database:\n  timeout: 3\n  port: 1\n"
    ours = b"database:\n  timeout: 0\n  port: 1\n# recaptcha-o1:\n#   enabled: false\n"
    theirs = b"database:\n  timeout: 3\n  port: 1\n# recaptcha-t1:\n#   enabled: false\n"
    result = merge_yaml(base, ours, theirs)
    assert conflicts(result) == []
    assert load(result.merged) == {"database": {"timeout": 0, "port": 1}}
    assert b"# recaptcha-o1:\n" in result.merged
    assert b"# recaptcha-t1:\n" in result.merged
