"""Tests for the structural XML merge in uplevel.merge.xml.

The oracle (`settings`) is written independently of the engine: it flattens a
document parsed by lxml into {path: value} with the documented identity rules,
so "every operator change and every upstream change is in the result" and
"a conflict exactly where both changed a setting differently" can be checked
setting by setting.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from lxml import etree

from tests.corpus.scenarios import (
    ACCESS_LOG,
    HTTPS_CONNECTOR,
    SCENARIOS,
    USER_MGT_JDBC,
    ours_04,
    ours_04_tuned,
    ours_07,
    ours_07_ldap,
)
from uplevel.merge.result import MergeResult, SettingConflict, UnparsableInput
from uplevel.merge.xml import merge_xml

CORPUS = Path(__file__).resolve().parents[1] / "corpus"  # real WSO2 files, see INDEX.md
ID_ATTRS = ("name", "id", "{http://www.w3.org/XML/1998/namespace}id", "key", "className", "class")


# -- the oracle ------------------------------------------------------------------------------


def parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(data, parser)


def _qname(el: etree._Element) -> str:
    q = etree.QName(el)
    prefix = el.prefix
    return f"{prefix}:{q.localname}" if prefix else q.localname


def _ident(el: etree._Element) -> str:
    for attr in ID_ATTRS:
        value = el.get(attr)
        if value is not None:
            short = "xml:id" if attr.startswith("{") else attr
            return f"[@{short}={_quote(value)}]"
    names = [c for c in el if isinstance(c.tag, str) and _qname(c) == "name"]
    if len(names) == 1 and not any(isinstance(g.tag, str) for g in names[0]):
        return f"[name={_quote((names[0].text or '').strip())}]"
    return ""


def _quote(value: str) -> str:
    return f'"{value}"' if "'" in value else f"'{value}'"


def settings_of(data: bytes) -> dict[str, str]:
    """{path: value}: every attribute (`path@attr`) and every leaf text (`path`)."""
    out: dict[str, str] = {}

    def walk(el: etree._Element, path: str) -> None:
        for name, value in el.attrib.items():
            out[f"{path}@{_attr_name(el, str(name))}"] = str(value)
        kids = [c for c in el if isinstance(c.tag, str)]
        # every element is a setting: its text if it has simple content, else ""
        out[path] = "" if kids else "".join(str(x) for x in el.itertext()).strip()
        if not kids:
            return
        seen: dict[str, int] = {}
        segs = []
        for c in kids:
            seg = _qname(c) + _ident(c)
            seen[seg] = seen.get(seg, 0) + 1
            segs.append((c, seg, seen[seg]))
        for c, seg, n in segs:
            multi = seen[seg] > 1
            walk(c, f"{path}/{seg}" + (f"[{n}]" if multi or n > 1 else ""))

    root = parse(data)
    walk(root, "/" + _qname(root))  # one root: no identity needed
    return out


def _attr_name(el: etree._Element, name: str) -> str:
    q = etree.QName(name)
    if q.namespace is None:
        return name
    if q.namespace == "http://www.w3.org/XML/1998/namespace":
        return f"xml:{q.localname}"
    prefix = next(p for p, ns in el.nsmap.items() if ns == q.namespace)
    return f"{prefix}:{q.localname}"


def covered(path: str, conflict: SettingConflict) -> bool:
    """A conflict keeps ours for its setting; one on a whole element (one side deleted it)
    keeps ours for everything inside, attributes included."""
    c = conflict.path
    whole = not is_attr(c) and (conflict.ours is None or conflict.theirs is None)
    if c == "/":
        return True
    return path == c or path.startswith(c + "/") or (whole and path.startswith(c + "@"))


def is_attr(path: str) -> bool:
    """`.../Tag[@name='x']@port` is an attribute, `.../Tag[@name='x']` an element."""
    return "@" in path.rsplit("/", 1)[-1].rsplit("]", 1)[-1]


def _under(path: str, element: str) -> bool:
    return path == element or path.startswith((element + "/", element + "@"))


def check_merge(base: bytes, ours: bytes, theirs: bytes, result: MergeResult) -> set[str]:
    """Assert the merge keeps every one-sided change and conflicts exactly on two-sided ones.

    Returns the set of setting paths both sides changed differently.
    """
    b, o, t = settings_of(base), settings_of(ours), settings_of(theirs)
    m = settings_of(result.merged)
    conflicts = result.conflicts
    both: set[str] = set()
    # an element one side deleted while the other changed something inside it
    for e in b:
        if is_attr(e):
            continue
        for gone, kept in ((o, t), (t, o)):
            if (
                e not in gone
                and e in kept
                and any(b.get(p) != kept.get(p) for p in set(b) | set(kept) if _under(p, e))
            ):
                both.add(e)
    for p in set(b) | set(o) | set(t) | set(m):
        bv, ov, tv, mv = b.get(p), o.get(p), t.get(p), m.get(p)
        is_covered = any(covered(p, c) for c in conflicts)
        if ov != bv and tv != bv and ov != tv:
            both.add(p)
            assert is_covered, f"no conflict reported for {p}: {bv!r} {ov!r} {tv!r}"
        if is_covered:
            assert mv == ov, f"{p}: conflict must keep ours {ov!r}, got {mv!r}"
        elif ov == bv:
            assert mv == tv, f"{p}: upstream change lost: {bv!r} -> {tv!r}, got {mv!r}"
        else:
            assert mv == ov, f"{p}: operator change lost: {bv!r} -> {ov!r}, got {mv!r}"
    for c in conflicts:
        assert any(covered(p, c) for p in both), f"spurious conflict {c}"
    return both


def edit(data: bytes, *pairs: tuple[str, str]) -> bytes:
    """Apply text replacements (each must match exactly once)."""
    for old, new in pairs:
        assert data.count(old.encode()) == 1, old
        data = data.replace(old.encode(), new.encode())
    return data


def corpus(name: str) -> tuple[bytes, bytes]:
    (d,) = CORPUS.glob(name + "*")
    return next(d.glob("base.*")).read_bytes(), next(d.glob("theirs.*")).read_bytes()


# -- corpus pairs ----------------------------------------------------------------------------

catalina_ours = ours_04


def test_corpus_04_catalina_server_xml() -> None:
    base, theirs = corpus("04")
    ours = catalina_ours(base)
    result = merge_xml(base, ours, theirs)
    both = check_merge(base, ours, theirs, result)
    # theirs dropped the keystore and protocol attributes (moved to SSLHostConfig) that the
    # operator changed; both rewrote the access-log pattern.
    assert {c.path for c in result.conflicts} == {
        f"{HTTPS_CONNECTOR}@keystorePass",
        f"{HTTPS_CONNECTOR}@sslEnabledProtocols",
        f"{ACCESS_LOG}@pattern",
    }
    assert both == {c.path for c in result.conflicts}
    keystore = next(c for c in result.conflicts if c.path.endswith("@keystorePass"))
    assert (keystore.base, keystore.ours, keystore.theirs) == (
        "wso2carbon",
        "Op3rator-Secret",
        None,
    )
    root = parse(result.merged)
    http, https = root.iter("Connector")
    assert (http.get("port"), https.get("port"), http.get("redirectPort")) == (
        "8080",
        "8443",
        "8443",
    )
    assert http.get("compressibleMimeType") and http.get("compressableMimeType") is None
    assert https.find("SSLHostConfig/Certificate") is not None
    classes = [v.get("className") for v in root.iter("Valve")]
    assert "org.wso2.carbon.tomcat.ext.valves.RequestCorrelationIdValve" in classes
    assert "org.apache.catalina.valves.ErrorReportValve" in classes
    assert "org.apache.catalina.valves.RemoteAddrValve" in classes
    assert "org.wso2.carbon.tomcat.ext.valves.CarbonStuckThreadDetectionValve" not in classes
    comments = [c.text for c in root.iter(etree.Comment)]
    assert not any("MemoryRealm" in (c or "") for c in comments)  # upstream removed it
    assert any("Error pages" in (c or "") for c in comments)  # upstream added it
    # untouched bytes stay: the operator's reformatted Engine tag and the original prologue
    assert b"<Engine  defaultHost='localhost'\n                name='Catalina' >" in result.merged
    assert result.merged.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<!--\n")
    # inserted elements take the indentation of their new neighbours
    assert b"\n            <SSLHostConfig\n" in result.merged


def test_corpus_04_operator_keeps_defaults_merges_cleanly() -> None:
    base, theirs = corpus("04")
    ours = ours_04_tuned(base)  # HTTP port and thread pool: values upstream left alone
    result = merge_xml(base, ours, theirs)
    assert result.clean
    check_merge(base, ours, theirs, result)
    assert settings_of(result.merged) == {
        **settings_of(theirs),
        "/Server/Service[@name='Catalina']/Connector[1]@port": "80",
        "/Server/Service[@name='Catalina']/Connector[1]@maxThreads": "400",
    }


def test_corpus_07_user_mgt_clean() -> None:
    base, theirs = corpus("07")
    ours = ours_07(base)  # password, datasource, list length, a property, reformat, comment
    result = merge_xml(base, ours, theirs)
    assert result.clean, result.conflicts
    check_merge(base, ours, theirs, result)
    merged = result.merged
    # upstream's edits to the commented-out sample stores arrive too
    assert merged.count(b"(&amp;(objectClass=person)(!(sn=Service)))") == 2
    assert merged.count(b'<Property name="StartTLSEnabled">false</Property>') == 2
    assert b"!-- Enable username claim retrieve" in merged
    assert b"internal JDBC user store (we use it)." in merged
    assert b"\n            <AddAdmin>true</AddAdmin>\n" in merged  # ours' whitespace wins
    root = parse(merged)
    jdbc = root.find("Realm/UserStoreManager")
    assert jdbc is not None
    props = {p.get("name"): p.text for p in jdbc.iter("Property")}
    assert props["LeadingOrTrailingSpaceAllowedInUserName"] == "false"
    assert props["MaxUserNameListLength"] == "500"


def test_corpus_07_user_mgt_switch_to_ldap_conflicts_on_dropped_jdbc_store() -> None:
    base, theirs = corpus("07")
    # the operator comments out the JDBC store and uncomments the read-only LDAP one
    ours = ours_07_ldap(base)
    result = merge_xml(base, ours, theirs)
    # upstream added a property to the JDBC store the operator removed: delete vs change
    assert [c.path for c in result.conflicts] == [USER_MGT_JDBC]
    conflict = result.conflicts[0]
    assert conflict.ours is None and conflict.base and conflict.theirs
    assert "LeadingOrTrailingSpaceAllowedInUserName" in conflict.theirs
    check_merge(base, ours, theirs, result)
    root = parse(result.merged)
    (store,) = root.iter("UserStoreManager")
    assert store.get("class") == "org.wso2.carbon.user.core.ldap.ReadOnlyLDAPUserStoreManager"
    assert store.find("Property[@name='ConnectionURL']").text == "ldaps://ldap.corp.example:636"  # type: ignore[union-attr]


@pytest.mark.parametrize("pair", ["05", "06", "08"])
def test_corpus_jinja_templates_merge_or_refuse(pair: str) -> None:
    scenario = SCENARIOS[pair]
    base, theirs = corpus(pair)
    ours = scenario.ours()
    assert ours != base
    unparsable = []
    for side, data in (("base", base), ("ours", ours), ("theirs", theirs)):
        try:
            parse(data)
        except etree.XMLSyntaxError:
            unparsable.append(side)
    try:
        result = merge_xml(base, ours, theirs)
    except UnparsableInput as exc:
        assert exc.side == unparsable[0]
        return
    assert not unparsable
    check_merge(base, ours, theirs, result)


# -- one rule at a time ----------------------------------------------------------------------

BASE = b"""<?xml version='1.0' encoding='UTF-8'?>
<!-- carbon.xml -->
<Server xmlns="http://wso2.org/projects/carbon/carbon.xml">
    <Name>WSO2 API Manager</Name>
    <HostName>localhost</HostName>
    <Ports>
        <Offset>0</Offset>
    </Ports>
    <Security>
        <KeyStore>
            <Location>wso2carbon.jks</Location>
            <Password>wso2carbon</Password>
        </KeyStore>
    </Security>
    <Connector port="9763" scheme="http"/>
    <Connector port="9443" scheme="https"/>
</Server>"""


def merge_edits(
    ours_edits: list[tuple[str, str]], theirs_edits: list[tuple[str, str]], base: bytes = BASE
) -> tuple[MergeResult, bytes, bytes]:
    ours, theirs = edit(base, *ours_edits), edit(base, *theirs_edits)
    result = merge_xml(base, ours, theirs)
    check_merge(base, ours, theirs, result)
    return result, ours, theirs


def test_trivial_cases_are_byte_exact() -> None:
    other = BASE.replace(b"localhost", b"example.org")
    assert merge_xml(BASE, BASE, other).merged == other
    assert merge_xml(BASE, other, BASE).merged == other
    assert merge_xml(BASE, other, other).merged == other
    assert merge_xml(BASE, BASE, other).format == "xml"


def test_one_sided_changes_and_untouched_bytes() -> None:
    result, ours, _ = merge_edits(
        [("<HostName>localhost</HostName>", "<HostName>apim.example.org</HostName>")],
        [("<Offset>0</Offset>", "<Offset>1</Offset>")],
    )
    assert result.clean
    assert result.merged == ours.replace(b"<Offset>0</Offset>", b"<Offset>1</Offset>")


def test_same_change_on_both_sides_is_applied_once() -> None:
    change = ("<Password>wso2carbon</Password>", "<Password>s3cret</Password>")
    result, _, _ = merge_edits([change], [change, ('port="9763"', 'port="9764"')])
    assert result.clean
    assert result.merged.count(b"s3cret") == 1
    assert b'port="9764"' in result.merged


def test_different_changes_conflict_and_keep_ours() -> None:
    result, ours, _ = merge_edits(
        [
            ("<Password>wso2carbon</Password>", "<Password>ours</Password>"),
            ('port="9443"', 'port="8443"'),
        ],
        [
            ("<Password>wso2carbon</Password>", "<Password>theirs</Password>"),
            ('port="9443"', 'port="9444"'),
        ],
    )
    assert [c.to_dict() for c in result.conflicts] == [
        {
            "path": "/Server/Security/KeyStore/Password",
            "base": "wso2carbon",
            "ours": "ours",
            "theirs": "theirs",
        },
        {"path": "/Server/Connector[2]@port", "base": "9443", "ours": "8443", "theirs": "9444"},
    ]
    assert result.merged == ours


def test_attribute_added_and_removed() -> None:
    result, _, _ = merge_edits(
        [('port="9763" scheme="http"', 'port="9763" scheme="http" proxyPort="80"')],
        [
            ('port="9443" scheme="https"', 'port="9443"'),
            ('port="9763"', 'port="9763" secure="false"'),
        ],
    )
    assert result.clean
    assert (
        b'<Connector port="9763" secure="false" scheme="http" proxyPort="80"/>' not in result.merged
    )
    assert b'<Connector port="9763" scheme="http" proxyPort="80" secure="false"/>' in result.merged
    assert b'<Connector port="9443"/>' in result.merged


def test_removed_attribute_changed_by_operator_conflicts() -> None:
    result, ours, _ = merge_edits([('scheme="https"', 'scheme="wss"')], [(' scheme="https"', "")])
    assert [(c.path, c.ours, c.theirs) for c in result.conflicts] == [
        ("/Server/Connector[2]@scheme", "wss", None)
    ]
    assert result.merged == ours


def test_element_added_upstream_is_indented_like_ours() -> None:
    base = BASE.replace(b"    ", b"\t")
    ours = edit(base, ("<Offset>0</Offset>", "<Offset>2</Offset>"))
    theirs = BASE.replace(
        b"<Offset>0</Offset>", b"<Offset>0</Offset>\n        <ServicePort>9000</ServicePort>"
    )
    theirs = theirs.replace(b"</KeyStore>", b"    <Type>JKS</Type>\n        </KeyStore>")
    result = merge_xml(BASE.replace(b"    ", b"\t"), ours, theirs.replace(b"    ", b"\t"))
    assert result.clean
    assert (
        b"\t\t<Offset>2</Offset>\n\t\t<ServicePort>9000</ServicePort>\n\t</Ports>" in result.merged
    )
    assert b"\t\t\t<Type>JKS</Type>\n\t\t</KeyStore>" in result.merged
    # spaces upstream, tabs for the operator: the insertion follows ours
    result = merge_xml(
        BASE,
        edit(BASE, ("    <Ports>", "\t<Ports>"), ("        <Offset>0", "\t\t<Offset>0")),
        theirs,
    )
    assert b"\t\t<Offset>0</Offset>\n\t\t<ServicePort>9000</ServicePort>" in result.merged


def test_element_deleted_upstream() -> None:
    result, ours, _ = merge_edits(
        [("<HostName>localhost</HostName>", "<HostName>h</HostName>")],
        [("\n    <Name>WSO2 API Manager</Name>", "")],
    )
    assert result.clean
    assert result.merged == edit(ours, ("\n    <Name>WSO2 API Manager</Name>", ""))


def test_element_deleted_upstream_but_changed_by_operator_conflicts() -> None:
    result, ours, _ = merge_edits(
        [("<Offset>0</Offset>", "<Offset>5</Offset>")],
        [("\n    <Ports>\n        <Offset>0</Offset>\n    </Ports>", "")],
    )
    assert [c.path for c in result.conflicts] == ["/Server/Ports"]
    assert result.conflicts[0].theirs is None and "<Offset>5</Offset>" in (
        result.conflicts[0].ours or ""
    )
    assert result.merged == ours


def test_commented_out_by_operator_and_changed_upstream_conflicts() -> None:
    result, ours, _ = merge_edits(
        [("<KeyStore>", "<!--KeyStore>"), ("</KeyStore>", "</KeyStore-->")],
        [("<Location>wso2carbon.jks</Location>", "<Location>new.p12</Location>")],
    )
    (conflict,) = result.conflicts
    assert (conflict.path, conflict.ours) == ("/Server/Security/KeyStore", None)
    assert "new.p12" in (conflict.theirs or "")
    assert result.merged == ours


def test_commented_out_by_operator_and_untouched_upstream_stays_out() -> None:
    result, _, _ = merge_edits(
        [("<HostName>localhost</HostName>", "<!--HostName>localhost</HostName-->")],
        [("<Offset>0</Offset>", "<Offset>3</Offset>")],
    )
    assert result.clean
    assert b"<!--HostName>localhost</HostName-->" in result.merged
    assert b"<Offset>3</Offset>" in result.merged


def test_formatting_only_upstream_changes_leave_ours_untouched() -> None:
    ours = edit(BASE, ("<Offset>0</Offset>", "<Offset>4</Offset>"))
    theirs = (
        BASE.replace(b'port="9763" scheme="http"', b"scheme='http'   port='9763'")
        .replace(b"    ", b"  ")
        .replace(b"<Name>WSO2 API Manager</Name>", b"<Name>\n    WSO2 API Manager\n  </Name>")
        + b"\n"
    )
    result = merge_xml(BASE, ours, theirs)
    assert result.clean and result.merged == ours
    # and the same when the operator is the one who reformatted
    result = merge_xml(BASE, theirs, ours)
    assert result.clean and result.merged == theirs.replace(
        b"<Offset>0</Offset>", b"<Offset>4</Offset>"
    )


def test_comment_edits_apply_when_untouched_and_never_conflict() -> None:
    result, _, _ = merge_edits([], [("<!-- carbon.xml -->", "<!-- carbon.xml, 4.2 -->")])
    assert b"<!-- carbon.xml, 4.2 -->" in result.merged
    result, ours, _ = merge_edits(
        [("<!-- carbon.xml -->", "<!-- ours -->"), ("<Offset>0", "<Offset>1")],
        [("<!-- carbon.xml -->", "<!-- theirs -->")],
    )
    # both edited the same comment: neither edit is dropped (issue 10), ours comes first
    assert result.clean
    assert result.merged == ours.replace(b"<!-- ours -->", b"<!-- ours -->\n<!-- theirs -->")


def test_identity_by_name_survives_insertions_before() -> None:
    base = b'<axisconfig name="AxisJava2.0">\n  <transportReceiver name="http">\n    <parameter name="port">8280</parameter>\n    <parameter name="non-blocking">true</parameter>\n  </transportReceiver>\n</axisconfig>\n'
    ours = edit(
        base, ('<parameter name="non-blocking">true', '<parameter name="non-blocking">false')
    )
    theirs = edit(
        base,
        (
            '    <parameter name="port">',
            '    <parameter name="hostname">h</parameter>\n    <parameter name="port">',
        ),
        (">8280<", ">8281<"),
    )
    result = merge_xml(base, ours, theirs)
    assert result.clean
    check_merge(base, ours, theirs, result)
    ours2 = edit(base, (">8280<", ">9000<"))
    result = merge_xml(base, ours2, theirs)
    assert [c.path for c in result.conflicts] == [
        "/axisconfig/transportReceiver[@name='http']/parameter[@name='port']"
    ]


def test_datasource_identity_by_name_child() -> None:
    base = b"""<datasources-configuration>
    <datasources>
        <datasource>
            <name>WSO2_CARBON_DB</name>
            <definition type="RDBMS"><configuration>
                <url>jdbc:h2:./repository/database/WSO2CARBON_DB</url>
            </configuration></definition>
        </datasource>
    </datasources>
</datasources-configuration>
"""
    ours = edit(
        base, ("jdbc:h2:./repository/database/WSO2CARBON_DB", "jdbc:mysql://db:3306/carbon")
    )
    # upstream adds a datasource in front: positional identity would pair the wrong ones
    new_ds = '        <datasource>\n            <name>WSO2AS_DB</name>\n            <definition type="RDBMS"><configuration>\n                <url>jdbc:h2:./as</url>\n            </configuration></definition>\n        </datasource>\n'
    theirs = edit(base, ("    <datasources>\n", "    <datasources>\n" + new_ds))
    result = merge_xml(base, ours, theirs)
    assert result.clean
    check_merge(base, ours, theirs, result)
    assert (
        b"<name>WSO2AS_DB</name>" in result.merged
        and b"jdbc:mysql://db:3306/carbon" in result.merged
    )
    ours3 = edit(base, ("jdbc:h2:./repository/database/WSO2CARBON_DB", "jdbc:oracle:thin"))
    theirs3 = edit(base, ("jdbc:h2:./repository/database/WSO2CARBON_DB", "jdbc:h2:./db2"))
    result = merge_xml(base, ours3, theirs3)
    assert [c.path for c in result.conflicts] == [
        "/datasources-configuration/datasources/datasource[name='WSO2_CARBON_DB']"
        "/definition/configuration/url"
    ]


def test_self_closing_element_gains_content() -> None:
    base = b'<Server>\n    <Connector port="9443"/>\n</Server>\n'
    ours = edit(base, ('"9443"', '"8443"'))
    theirs = edit(
        base,
        (
            '<Connector port="9443"/>',
            '<Connector port="9443">\n        <SSLHostConfig protocols="TLSv1.2"/>\n    </Connector>',
        ),
    )
    result = merge_xml(base, ours, theirs)
    assert (
        result.merged
        == b'<Server>\n    <Connector port="8443">\n        <SSLHostConfig protocols="TLSv1.2"/>\n    </Connector>\n</Server>\n'
    )
    # text value into a self-closing element
    result = merge_xml(b"<a><b/><c>1</c></a>", b"<a><b/><c>2</c></a>", b"<a><b>x</b><c>1</c></a>")
    assert result.merged == b"<a><b>x</b><c>2</c></a>"


def test_value_versus_structure_conflict() -> None:
    base = b"<a>\n  <b>1</b>\n</a>"
    result = merge_xml(
        base, base.replace(b"1", b"2"), base.replace(b"<b>1</b>", b"<b><c>1</c></b>")
    )
    assert [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        ("/a/b", "1", "2", "<c>1</c>")
    ]


def test_prologue_declaration_and_final_newline_kept() -> None:
    base = b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\r\n<!-- top -->\r\n<a>\r\n  <b>1</b>\r\n</a>'
    ours = base.replace(b"<b>1</b>", b"<b>2</b>")
    theirs = base.replace(b"\r\n", b"\n").replace(b"</a>", b"  <c>3</c>\n</a>\n")
    result = merge_xml(base, ours, theirs)
    assert result.merged == ours.replace(b"  <b>2</b>\r\n", b"  <b>2</b>\r\n  <c>3</c>\r\n")


def test_declaration_added_upstream_goes_first() -> None:
    base = b"<a>\n  <b>1</b>\n</a>\n"
    theirs = b"<?xml version='1.0'?>\n" + base
    result = merge_xml(base, base.replace(b"1", b"2"), theirs)
    assert result.merged == b"<?xml version='1.0'?>\n<a>\n  <b>2</b>\n</a>\n"


def test_namespaces_cdata_and_entities() -> None:
    base = b"""<ns:cfg xmlns:ns="urn:x" xmlns:y="urn:y">
  <ns:item y:key="k1">a &amp; b</ns:item>
  <ns:item y:key="k2"><![CDATA[<raw>]]></ns:item>
  <ns:filter>(objectClass=person)</ns:filter>
</ns:cfg>"""
    ours = edit(base, ("<![CDATA[<raw>]]>", "&lt;cooked&gt;"))
    theirs = edit(base, ("a &amp; b", "a &#38; b"), ("(objectClass=person)", "(&amp;(a)(b))"))
    result = merge_xml(base, ours, theirs)
    assert result.clean  # &amp; vs &#38; is the same value
    check_merge(base, ours, theirs, result)
    assert b"(&amp;(a)(b))" in result.merged and b"a &amp; b" in result.merged


def test_root_replaced_upstream_and_changed_by_operator_is_whole_file_conflict() -> None:
    base = b"<old><v>1</v></old>"
    result = merge_xml(base, b"<old><v>2</v></old>", b"<new><v>1</v></new>")
    (conflict,) = result.conflicts  # two roots cannot be merged: the whole file conflicts
    assert (conflict.path, conflict.ours, conflict.theirs) == (
        "/",
        "<old><v>2</v></old>",
        "<new><v>1</v></new>",
    )
    assert result.merged == b"<old><v>2</v></old>"


def test_deepest_document_lxml_accepts_merges() -> None:
    depth = 255  # libxml2 refuses 257 levels without XML_PARSE_HUGE
    base = b"<a>" * depth + b"<v>1</v>" + b"</a>" * depth
    theirs = b'<a x="1">' + base[3:]
    result = merge_xml(base, base.replace(b">1<", b">2<"), theirs)
    assert result.clean
    assert result.merged == theirs.replace(b">1<", b">2<")


# -- security and malformed input ------------------------------------------------------------


def test_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    base = f'<!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]>\n<a>\n  <b>&x;</b>\n  <c>1</c>\n</a>\n'.encode()
    result = merge_xml(base, base.replace(b"<c>1", b"<c>2"), base.replace(b"<b>&x;", b"<b>&x;z"))
    assert b"TOP-SECRET" not in result.merged
    assert b"<b>&x;z</b>" in result.merged and b"<c>2</c>" in result.merged


def test_billion_laughs_is_not_expanded() -> None:
    ents = '<!ENTITY l0 "ha">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    base = f"<!DOCTYPE a [{ents}]>\n<a><b>&l9;</b><c>1</c></a>".encode()
    start = time.monotonic()
    try:
        result = merge_xml(
            base, base.replace(b"<c>1", b"<c>2"), base.replace(b"<b>&l9;", b"<b>&l8;")
        )
    except UnparsableInput:
        pass  # libxml2 may refuse the amplification outright: also fine
    else:
        assert len(result.merged) < 2000
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"   ",
        b"<a>",
        b"<a></b>",
        b"<a x='1' x='2'/>",
        b"<a/><b/>",
        b"text",
        b"<a>&undefined;</a>",
        b"<a><!-- unterminated </a>",
        "<a/>".encode("utf-16"),
        b"\x00<a/>",
        b"<?xml version='1.0' encoding='nope'?><a/>",
        b"{% if x %}<a/>{% endif %}",
    ],
)
@pytest.mark.parametrize("side", ["base", "ours", "theirs"])
def test_malformed_input_is_unparsable(bad: bytes, side: str) -> None:
    good = b"<a><b>1</b></a>"
    args = {"base": good, "ours": good.replace(b"1", b"2"), "theirs": good.replace(b"1", b"3")}
    args[side] = bad
    with pytest.raises(UnparsableInput) as info:
        merge_xml(**args)
    assert info.value.side == side


VALID = [BASE, b"<a><b>1</b><!--c--><c x='1'/></a>", *(corpus(n)[0] for n in ("04", "07"))]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(VALID), st.data())
def test_fuzz_mutated_documents_never_crash(doc: bytes, data: st.DataObject) -> None:
    mutated = bytearray(doc)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        i = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if op == "flip" and mutated:
            mutated[i] = data.draw(st.sampled_from(b"<>/=\"'&!?-[] \n\tax\x00\xff"))
        elif op == "cut":
            del mutated[i : i + data.draw(st.integers(1, 40))]
        elif op == "dup":
            mutated[i:i] = mutated[i : i + data.draw(st.integers(1, 40))]
        else:
            mutated[i:i] = data.draw(
                st.sampled_from(
                    [
                        b"<x>",
                        b"</x>",
                        b"<!--",
                        b"-->",
                        b"<![CDATA[",
                        b"]]>",
                        b"&amp;",
                        b"<?p?>",
                        b"<!DOCTYPE a>",
                    ]
                )
            )
    side = data.draw(st.sampled_from([0, 1, 2]))
    args = [doc, doc.replace(b">1<", b">9<"), doc]
    args[side] = bytes(mutated)
    try:
        result = merge_xml(*args)
    except UnparsableInput:
        return
    parse(result.merged)


# -- properties on generated documents -------------------------------------------------------

TAGS = ["a", "b", "Property", "c"]
Tree = tuple[str, dict[str, str], list["Tree"] | str]


def trees(depth: int = 2) -> st.SearchStrategy[Tree]:
    attrs = st.dictionaries(
        st.sampled_from(["name", "port", "host", "enabled"]),
        st.sampled_from(["x", "y", "8080", "true", "a&b", "q'"]),
        max_size=3,
    )
    leaf = st.sampled_from(["", "v1", "v2", "jdbc:h2:./db", "<x>"])
    if depth == 0:
        return st.tuples(st.sampled_from(TAGS), attrs, leaf)
    note_: st.SearchStrategy[Tree] = st.tuples(
        st.just("#comment"), st.just({}), st.sampled_from([" note ", "a\n b"])
    )
    kids = st.lists(st.one_of(trees(depth - 1), note_), max_size=4)
    return st.tuples(st.sampled_from(TAGS), attrs, st.one_of(leaf, kids))


def render(
    tree: Tree, style: int, indent: str = "", commented: frozenset[int] = frozenset()
) -> str:
    """Serialise with one of a few formatting styles (indent unit, quotes, attribute order)."""
    tag, attrs, body = tree
    if tag == "#comment":  # a comment, or an element the author commented out
        text = body if isinstance(body, str) else render(body[0], style, indent)
        return f"<!--{text if '--' not in text else ' (nested comment) '}-->"
    q = "'" if style % 2 else '"'
    unit = ["  ", "\t", "    "][style % 3]
    items = sorted(attrs.items(), reverse=bool(style & 4))
    esc = {"&": "&amp;", "<": "&lt;", "'": "&apos;", '"': "&quot;"}
    att = "".join(f" {k}={q}{''.join(esc.get(ch, ch) for ch in v)}{q}" for k, v in items)
    if isinstance(body, str):
        text = body.replace("&", "&amp;").replace("<", "&lt;")
        return f"<{tag}{att}/>" if not text and style & 8 else f"<{tag}{att}>{text}</{tag}>"
    inner = ""
    for i, child in enumerate(body):
        rendered = render(child, style, indent + unit)
        if i in commented and "--" not in rendered:
            rendered = f"<!--{rendered}-->"
        inner += f"\n{indent}{unit}{rendered}"
    return f"<{tag}{att}>{inner}\n{indent}</{tag}>"


@st.composite
def mutated(draw: st.DrawFn, tree: Tree) -> Tree:
    tag, attrs, body = tree
    attrs = dict(attrs)
    ops = ["keep", "keep", "attr", "delattr", "text", "add", "del", "deep", "comment-out"]
    op = draw(st.sampled_from(ops))
    if op == "attr":
        attrs[draw(st.sampled_from(["name", "port", "host"]))] = draw(
            st.sampled_from(["x", "z", "9443"])
        )
    elif op == "delattr" and attrs:
        attrs.pop(draw(st.sampled_from(sorted(attrs))))
    elif op == "text" and isinstance(body, str):
        body = draw(st.sampled_from(["v1", "v3", "ldap://h"]))
    elif op == "add" and isinstance(body, list):
        body = list(body)
        body.insert(draw(st.integers(0, len(body))), draw(trees(0)))
    elif op == "del" and isinstance(body, list) and body:
        body = list(body)
        del body[draw(st.integers(0, len(body) - 1))]
    elif op == "comment-out" and isinstance(body, list) and body:
        body = list(body)
        i = draw(st.integers(0, len(body) - 1))
        body[i] = ("#comment", {}, [body[i]])
    elif op == "deep" and isinstance(body, list) and body:
        body = list(body)
        i = draw(st.integers(0, len(body) - 1))
        body[i] = draw(mutated(body[i]))
    return (tag, attrs, body)


ROOTS: st.SearchStrategy[Tree] = st.tuples(
    st.just("root"), st.just({}), st.lists(trees(), min_size=1, max_size=4)
)
PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _unique_keys(tree: Tree) -> bool:
    body = tree[2]
    if isinstance(body, str):
        return True
    keys = [(c[0], c[1].get("name")) for c in body if c[0] != "#comment"]
    return len(keys) == len(set(keys)) and all(map(_unique_keys, body))


def _doc(tree: Tree, style: int) -> bytes:
    return ("<?xml version='1.0' encoding='UTF-8'?>\n" + render(tree, style) + "\n").encode()


@PROPS
@given(ROOTS, st.data())
def test_property_trivial_merges_are_exact(root: Tree, data: st.DataObject) -> None:
    b = _doc(root, data.draw(st.integers(0, 15)))
    x = _doc(data.draw(mutated(root)), data.draw(st.integers(0, 15)))
    assert merge_xml(b, b, x).merged == x
    assert merge_xml(b, x, b).merged == x
    assert merge_xml(b, x, x).merged == x


@PROPS
@given(ROOTS, st.data())
def test_property_formatting_only_theirs_gives_ours(root: Tree, data: st.DataObject) -> None:
    b = _doc(root, 0)
    o = _doc(data.draw(mutated(root)), 0)
    t = _doc(root, data.draw(st.integers(1, 15)))
    result = merge_xml(b, o, t)
    assert result.clean and result.merged == (t if o == b else o)


@PROPS
@given(ROOTS, st.data())
def test_property_merge_keeps_both_sides_changes(root: Tree, data: st.DataObject) -> None:
    ours, theirs = data.draw(mutated(root)), data.draw(mutated(root))
    # positional identity shifts paths when an earlier twin goes: the oracle needs unique keys
    assume(all(map(_unique_keys, (root, ours, theirs))))
    b = _doc(root, 0)
    o = _doc(ours, data.draw(st.sampled_from([0, 1, 4])))
    t = _doc(theirs, data.draw(st.integers(0, 15)))
    note(f"base={b!r}\nours={o!r}\ntheirs={t!r}")
    result = merge_xml(b, o, t)
    check_merge(b, o, t, result)
    swapped = merge_xml(b, t, o)
    if result.clean and swapped.clean:
        assert settings_of(result.merged) == settings_of(swapped.merged)


def test_corpus_merges_are_fast() -> None:
    start = time.monotonic()
    for name, customise in (("04", catalina_ours), ("07", _noop_user_mgt)):
        base, theirs = corpus(name)
        merge_xml(base, customise(base), theirs)
    assert time.monotonic() - start < 1


def _noop_user_mgt(base: bytes) -> bytes:
    return edit(base, ("<Password>admin</Password>", "<Password>x</Password>"))
