"""Issue 10 for the XML engine: one test per class and per rule, on small real-shaped documents.

Every merged document is read back with lxml (not the engine's tokenizer) and the exact
settings and the exact conflict list are asserted.
"""

from __future__ import annotations

from lxml import etree

from uplevel.merge.xml import merge_xml

BOM = b"\xef\xbb\xbf"


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def comments(data: bytes) -> list[str]:
    return [str(c.text).strip() for c in parse(data).iter(etree.Comment)]


def clean(base: bytes, ours: bytes, theirs: bytes) -> tuple[bytes, list[str]]:
    """The merged bytes and their comments; the merge must have no conflict."""
    result = merge_xml(base, ours, theirs)
    assert result.conflicts == ()
    return result.merged, comments(result.merged)


# -- class 1: no conflict invented by an unrelated operator edit ------------------------------

DEPLOYMENT = b"""<?xml version="1.0" encoding="UTF-8"?>
<Server>
    <HostName>localhost</HostName>
    <NodeIp>127.0.0.1</NodeIp>
    <Environments>
        <Environment name="Production and Sandbox" type="hybrid"/>
    </Environments>
    <!--<Analytics>
        <Enable>false</Enable>
    </Analytics>-->
</Server>
"""
DEPLOYMENT_THEIRS = b"""<?xml version="1.0" encoding="UTF-8"?>
<Server>
    <HostName>localhost</HostName>
    <Environments>
        <Environment name="Default" type="hybrid"/>
    </Environments>
    <Analytics>
        <Enable>false</Enable>
        <ConfigEndpoint>https://localhost:8080/auth/v1</ConfigEndpoint>
    </Analytics>
</Server>
"""


def test_issue_reproducer_merges_cleanly() -> None:
    """The issue's deployment.toml reproducer in XML shape: only the hostname is the operator's."""
    ours = DEPLOYMENT.replace(b"<HostName>localhost", b"<HostName>gw.example.org")
    result = merge_xml(DEPLOYMENT, ours, DEPLOYMENT_THEIRS)
    assert result.conflicts == ()
    assert result.merged == DEPLOYMENT_THEIRS.replace(
        b"<HostName>localhost", b"<HostName>gw.example.org"
    )


TOMCAT = b"""<Server port="-1">
    <Service name="Catalina">
        <Connector port="9763" protocol="HTTP/1.1" redirectPort="9443"/>
        <Connector port="9443" protocol="HTTP/1.1" SSLEnabled="true"/>
        <Engine name="Catalina" defaultHost="localhost"/>
    </Service>
</Server>
"""


def _ports(data: bytes) -> list[tuple[str | None, str | None]]:
    return [(c.get("port"), c.get("redirectPort")) for c in parse(data).iter("Connector")]


def test_connector_inserted_upstream_before_operators_connector_is_no_conflict() -> None:
    """Elements without an identifying attribute (Tomcat's Connectors) are matched by content,
    not by position: upstream's new first Connector is not the operator's HTTP connector."""
    ours = TOMCAT.replace(b'port="9763"', b'port="80"')
    theirs = TOMCAT.replace(
        b'        <Connector port="9763"',
        b'        <Connector port="8280" protocol="HTTP/1.1"/>\n        <Connector port="9763"',
    )
    result = merge_xml(TOMCAT, ours, theirs)
    assert result.conflicts == ()
    assert _ports(result.merged) == [("8280", None), ("80", "9443"), ("9443", None)]


def test_connector_deleted_upstream_while_operator_changed_the_other_is_no_conflict() -> None:
    ours = TOMCAT.replace(b'port="9443" protocol', b'port="8443" protocol')
    theirs = TOMCAT.replace(
        b'        <Connector port="9763" protocol="HTTP/1.1" redirectPort="9443"/>\n', b""
    )
    result = merge_xml(TOMCAT, ours, theirs)
    assert result.conflicts == ()
    assert _ports(result.merged) == [("8443", None)]


def test_twin_changed_upstream_after_insertion_is_applied_to_the_right_twin() -> None:
    ours = TOMCAT.replace(b'port="9763"', b'port="80"')
    theirs = TOMCAT.replace(
        b'        <Connector port="9763"',
        b'        <Connector port="8280" protocol="HTTP/1.1"/>\n        <Connector port="9763"',
    ).replace(b'SSLEnabled="true"', b'SSLEnabled="true" maxThreads="400"')
    result = merge_xml(TOMCAT, ours, theirs)
    assert result.conflicts == ()
    root = parse(result.merged)
    assert [dict(c.attrib) for c in root.iter("Connector")] == [
        {"port": "8280", "protocol": "HTTP/1.1"},
        {"port": "80", "protocol": "HTTP/1.1", "redirectPort": "9443"},
        {"port": "9443", "protocol": "HTTP/1.1", "SSLEnabled": "true", "maxThreads": "400"},
    ]


def test_same_twin_changed_on_both_sides_still_conflicts_once() -> None:
    ours = TOMCAT.replace(b'port="9443" protocol', b'port="8443" protocol')
    theirs = TOMCAT.replace(
        b'        <Connector port="9763"',
        b'        <Connector port="8280" protocol="HTTP/1.1"/>\n        <Connector port="9763"',
    ).replace(b'port="9443" protocol', b'port="9444" protocol')
    result = merge_xml(TOMCAT, ours, theirs)
    assert [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        ("/Server/Service[@name='Catalina']/Connector[2]@port", "9443", "8443", "9444")
    ]
    assert _ports(result.merged) == [("8280", None), ("9763", "9443"), ("8443", None)]


# -- class 2: a conflicted merge still carries every other change -----------------------------


def test_conflicted_merge_keeps_every_non_conflicting_change() -> None:
    base = b"""<Server>
    <HostName>localhost</HostName>
    <NodeIp>127.0.0.1</NodeIp>
    <Database name="apim">
        <Url>jdbc:h2:./apim</Url>
        <Pool maxActive="50" maxWait="60000"/>
    </Database>
    <Ports><Offset>0</Offset></Ports>
</Server>
"""
    ours = base.replace(b"<HostName>localhost", b"<HostName>gw.example.org").replace(
        b"127.0.0.1", b"10.0.0.5"
    )
    theirs = (
        base.replace(b"    <NodeIp>127.0.0.1</NodeIp>\n", b"")
        .replace(b'maxActive="50"', b'maxActive="100"')
        .replace(b"<Offset>0</Offset>", b"<Offset>0</Offset><Enabled>true</Enabled>")
        .replace(b"</Server>", b"    <Analytics enable='false'/>\n</Server>")
    )
    result = merge_xml(base, ours, theirs)
    assert [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        ("/Server/NodeIp", "<NodeIp>127.0.0.1</NodeIp>", "<NodeIp>10.0.0.5</NodeIp>", None)
    ]
    root = parse(result.merged)
    assert root.findtext("HostName") == "gw.example.org"
    assert root.findtext("NodeIp") == "10.0.0.5"  # the conflict keeps the operator's value
    pool = root.find("Database/Pool")
    assert pool is not None and sorted(pool.items()) == [("maxActive", "100"), ("maxWait", "60000")]
    assert root.findtext("Ports/Enabled") == "true"
    analytics = root.find("Analytics")
    assert analytics is not None and analytics.get("enable") == "false"


# -- class 3: upstream comment lines are carried whatever the operator did nearby ------------

LAST = b"""<Server>
    <!-- The host name clients use -->
    <HostName>localhost</HostName>
    <Security>
        <KeyStore>
            <Location>wso2carbon.jks</Location>
        </KeyStore>
    </Security>
</Server>
"""


def test_upstream_comment_block_after_operators_appended_element() -> None:
    sample = b"    <!--<Recaptcha>\n        <Enabled>false</Enabled>\n    </Recaptcha>-->\n"
    ours = LAST.replace(b"    </Security>\n", b"    </Security>\n    <Custom>1</Custom>\n")
    theirs = LAST.replace(b"    </Security>\n", b"    </Security>\n" + sample)
    merged, found = clean(LAST, ours, theirs)
    assert found == [
        "The host name clients use",
        "<Recaptcha>\n        <Enabled>false</Enabled>\n    </Recaptcha>",
    ]
    assert parse(merged).findtext("Custom") == "1"


def test_upstream_comment_in_operators_last_element_changed_by_operator() -> None:
    ours = LAST.replace(
        b"<Location>wso2carbon.jks</Location>\n",
        b"<Location>prod.p12</Location>\n            <Type>PKCS12</Type>\n",
    )
    theirs = LAST.replace(
        b"<Location>wso2carbon.jks</Location>\n",
        b"<Location>wso2carbon.jks</Location>\n            <!--<KeyAlias>wso2carbon</KeyAlias>-->\n",
    ).replace(b"<!-- The host name clients use -->", b"<!-- The host name clients use (FQDN) -->")
    merged, found = clean(LAST, ours, theirs)
    assert found == [
        "The host name clients use (FQDN)",
        "<KeyAlias>wso2carbon</KeyAlias>",
    ]
    root = parse(merged)
    assert (
        root.findtext("Security/KeyStore/Location"),
        root.findtext("Security/KeyStore/Type"),
    ) == (
        "prod.p12",
        "PKCS12",
    )


def test_upstream_comment_removed_next_to_operators_edit() -> None:
    ours = LAST.replace(b"<HostName>localhost", b"<HostName>gw.example.org")
    theirs = LAST.replace(b"    <!-- The host name clients use -->\n", b"")
    merged, found = clean(LAST, ours, theirs)
    assert found == []
    assert parse(merged).findtext("HostName") == "gw.example.org"


def test_both_sides_edit_the_same_comment_both_are_kept() -> None:
    ours = LAST.replace(b"clients use -->", b"clients use: set to the LB name -->")
    theirs = LAST.replace(b"clients use -->", b"clients use (FQDN) -->")
    _, found = clean(LAST, ours, theirs)
    assert found == [
        "The host name clients use: set to the LB name",
        "The host name clients use (FQDN)",
    ]


def test_upstream_edit_of_a_comment_the_operator_deleted_is_carried() -> None:
    ours = LAST.replace(b"    <!-- The host name clients use -->\n", b"")
    theirs = LAST.replace(b"clients use -->", b"clients use (FQDN) -->")
    _, found = clean(LAST, ours, theirs)
    assert found == ["The host name clients use (FQDN)"]


def test_interleaved_comment_edits_of_both_sides_are_all_kept() -> None:
    """Ours deletes one comment and edits the next; which of the two it edited is ambiguous.
    Theirs edits the second: every line either side wrote is in the output."""
    base = b"<Server>\n    <!-- first -->\n    <!-- second -->\n    <A>1</A>\n</Server>\n"
    ours = base.replace(b"    <!-- first -->\n", b"").replace(b"second", b"second, ours")
    theirs = base.replace(b"second", b"second, theirs")
    _, found = clean(base, ours, theirs)
    assert sorted(found) == ["second, ours", "second, theirs"]


def test_both_sides_add_comments_at_the_same_place_both_are_kept() -> None:
    ours = LAST.replace(b"    <Security>", b"    <!-- ours: managed by ansible -->\n    <Security>")
    theirs = LAST.replace(
        b"    <Security>", b"    <!-- Keystores used by the server -->\n    <Security>"
    )
    _, found = clean(LAST, ours, theirs)
    assert sorted(found) == [
        "Keystores used by the server",
        "The host name clients use",
        "ours: managed by ansible",
    ]


# -- rules --------------------------------------------------------------------------------------

ENVIRONMENTS = b"""<APIManager>
    <Environments>
        <Environment name="Production and Sandbox" type="hybrid">
            <ServerURL>https://localhost:9443/services/</ServerURL>
        </Environment>
        <Environment name="Internal" type="production">
            <ServerURL>https://localhost:9444/services/</ServerURL>
        </Environment>
    </Environments>
</APIManager>
"""
RENAMED = ENVIRONMENTS.replace(b'name="Production and Sandbox"', b'name="Default"')


def _environments(data: bytes) -> list[tuple[str | None, str | None, str | None]]:
    return [
        (e.get("name"), e.get("type"), e.findtext("ServerURL"))
        for e in parse(data).iter("Environment")
    ]


def test_identity_rename_upstream_of_untouched_entry_is_a_rename() -> None:
    ours = ENVIRONMENTS.replace(b"localhost:9444", b"internal.example.org:9444")
    result = merge_xml(ENVIRONMENTS, ours, RENAMED)
    assert result.conflicts == ()
    assert result.merged == RENAMED.replace(b"localhost:9444", b"internal.example.org:9444")


def test_identity_rename_with_other_upstream_changes_of_untouched_entry_is_a_rename() -> None:
    ours = ENVIRONMENTS.replace(b"localhost:9444", b"internal.example.org:9444")
    theirs = RENAMED.replace(b"localhost:9443/services/", b"localhost:9443/services")
    result = merge_xml(ENVIRONMENTS, ours, theirs)
    assert result.conflicts == ()
    assert _environments(result.merged) == [
        ("Default", "hybrid", "https://localhost:9443/services"),
        ("Internal", "production", "https://internal.example.org:9444/services/"),
    ]


def test_identity_rename_upstream_of_entry_the_operator_changed_is_one_conflict() -> None:
    ours = ENVIRONMENTS.replace(b"localhost:9443", b"gw.example.org:9443")
    result = merge_xml(ENVIRONMENTS, ours, RENAMED)
    path = "/APIManager/Environments/Environment[@name='Production and Sandbox']"
    assert [
        (c.path, c.base is not None, c.ours is not None, c.theirs) for c in result.conflicts
    ] == [
        (
            path,
            True,
            True,
            '<Environment name="Default" type="hybrid">\n'
            "            <ServerURL>https://localhost:9443/services/</ServerURL>\n"
            "        </Environment>",
        )
    ]
    assert result.merged == ours  # the operator's entry, once; no second "Default" entry


def test_datasource_renamed_by_its_name_child() -> None:
    base = b"""<datasources>
    <datasource>
        <name>WSO2_CARBON_DB</name>
        <url>jdbc:h2:./carbon</url>
    </datasource>
    <datasource>
        <name>WSO2AM_DB</name>
        <url>jdbc:h2:./am</url>
    </datasource>
</datasources>
"""
    ours = base.replace(b"jdbc:h2:./am", b"jdbc:mysql://db/am")
    theirs = base.replace(b"<name>WSO2_CARBON_DB</name>", b"<name>WSO2_SHARED_DB</name>")
    result = merge_xml(base, ours, theirs)
    assert result.conflicts == ()
    assert [
        (d.findtext("name"), d.findtext("url")) for d in parse(result.merged).iter("datasource")
    ] == [
        ("WSO2_SHARED_DB", "jdbc:h2:./carbon"),
        ("WSO2AM_DB", "jdbc:mysql://db/am"),
    ]


def test_commented_out_block_uncommented_upstream_is_an_addition() -> None:
    ours = DEPLOYMENT.replace(b"<NodeIp>127.0.0.1", b"<NodeIp>10.0.0.5")
    theirs = DEPLOYMENT.replace(b"<!--<Analytics>", b"<Analytics>").replace(
        b"</Analytics>-->", b"</Analytics>"
    )
    result = merge_xml(DEPLOYMENT, ours, theirs)
    assert result.conflicts == ()
    root = parse(result.merged)
    assert (root.findtext("NodeIp"), root.findtext("Analytics/Enable")) == ("10.0.0.5", "false")
    assert comments(result.merged) == []


def test_commented_out_block_uncommented_by_operator_is_an_addition() -> None:
    ours = DEPLOYMENT.replace(b"<!--<Analytics>", b"<Analytics>").replace(
        b"</Analytics>-->", b"</Analytics>"
    )
    theirs = DEPLOYMENT.replace(b"<NodeIp>127.0.0.1", b"<NodeIp>0.0.0.0")
    result = merge_xml(DEPLOYMENT, ours, theirs)
    assert result.conflicts == ()
    root = parse(result.merged)
    assert (root.findtext("NodeIp"), root.findtext("Analytics/Enable")) == ("0.0.0.0", "false")


def test_block_both_sides_uncomment_pairs_its_twins_by_content() -> None:
    base = b"""<Server>
    <!--<Service name="Internal">
        <Connector port="9763" protocol="HTTP/1.1" redirectPort="9443"/>
        <Connector port="9443" protocol="HTTP/1.1" SSLEnabled="true"/>
    </Service>-->
</Server>
"""
    uncommented = base.replace(b"<!--<Service", b"<Service").replace(
        b"</Service>-->", b"</Service>"
    )
    ours = uncommented.replace(b'port="9763"', b'port="80"')
    theirs = uncommented.replace(b'SSLEnabled="true"', b'SSLEnabled="true" maxThreads="400"')
    result = merge_xml(base, ours, theirs)
    assert [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        ("/Server/Service[@name='Internal']/Connector[1]@port", None, "80", "9763")
    ]
    assert [dict(c.items()) for c in parse(result.merged).iter("Connector")] == [
        {"port": "80", "protocol": "HTTP/1.1", "redirectPort": "9443"},
        {"port": "9443", "protocol": "HTTP/1.1", "SSLEnabled": "true", "maxThreads": "400"},
    ]


def test_every_upstream_deletion_is_applied_or_a_conflict() -> None:
    base = b"""<Server>
    <A x="1" y="1"/>
    <B>1</B>
    <C>1</C>
    <D><E>1</E></D>
</Server>
"""
    ours = base.replace(b"<C>1", b"<C>2").replace(b"<E>1", b"<E>2")
    theirs = (
        base.replace(b' y="1"', b"")
        .replace(b"    <B>1</B>\n", b"")
        .replace(b"    <C>1</C>\n", b"")
        .replace(b"    <D><E>1</E></D>\n", b"")
    )
    result = merge_xml(base, ours, theirs)
    assert [(c.path, c.theirs) for c in result.conflicts] == [
        ("/Server/C", None),
        ("/Server/D", None),
    ]
    root = parse(result.merged)
    a = root.find("A")
    assert a is not None and a.items() == [("x", "1")]
    assert root.find("B") is None
    assert (root.findtext("C"), root.findtext("D/E")) == ("2", "2")


# -- BOM (issue 16, item 4) --------------------------------------------------------------------


def test_bom_follows_ours() -> None:
    doc = b'<?xml version="1.0" encoding="UTF-8"?>\n<a>\n  <b>1</b>\n  <c>1</c>\n</a>\n'
    for b_bom in (b"", BOM):
        for o_bom in (b"", BOM):
            for t_bom in (b"", BOM):
                base = b_bom + doc
                ours = o_bom + doc.replace(b"<b>1", b"<b>2")
                theirs = t_bom + doc.replace(b"<c>1", b"<c>2")
                result = merge_xml(base, ours, theirs)
                assert result.merged == o_bom + doc.replace(b"<b>1", b"<b>2").replace(
                    b"<c>1", b"<c>2"
                ), (b_bom, o_bom, t_bom)
                # ours unchanged from base but for the BOM, or exactly base
                for ours2 in (o_bom + doc, base):
                    merged = merge_xml(base, ours2, theirs).merged
                    want_bom = ours2.startswith(BOM)
                    assert merged.startswith(BOM) == want_bom, (b_bom, o_bom, t_bom)
                    assert merged.removeprefix(BOM) == doc.replace(b"<c>1", b"<c>2")
