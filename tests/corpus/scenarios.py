"""The operator's side of every corpus pair, and the changes a merge must carry.

For each real WSO2 pair in this folder (`base.*` shipped in an older release, `theirs.*`
the same file in a newer one; INDEX.md lists them) a Scenario says:

- how the operator customised `base` into `ours` (hostnames, ports, passwords, datasource
  URLs, keystores, log levels, added settings and elements, commented-out sections made
  live, keys appended to the last table, comments, reformatting);
- the operator's changes and upstream's changes as facts that can be checked on any merged
  file: a setting (located in the file's own format, read with an independent parser:
  tomllib, lxml, ruamel's safe loader, json, a transcription of java.util.Properties) that
  must have a value, be present or be absent, or a text that must be present or absent.
  Each fact has a kind, so that the benchmark counts comment lines apart from values:
  *value*, *comment* or *layout*;
- the conflicts uplevel must report: exactly the settings both sides changed differently
  (or one changed what the other removed). A fact that belongs to one of those conflicts
  says so: no merge tool can take both sides of it, so the merge tests and the benchmark
  judge it apart from the others.

The merge tests (tests/merge/) and the benchmark (benchmarks/merge_bench.py)
share these scenarios, so "every operator change and every upstream change is in the
result" means the same thing in both. Pure: no merging here, only reading files.
"""

from __future__ import annotations

import io
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from ruamel.yaml import YAML

from tests.merge.test_javaprops_reader import read_properties

CORPUS = Path(__file__).resolve().parent
Side = Literal["ours", "theirs"]
Kind = Literal["value", "comment", "layout"]
KINDS: tuple[Kind, ...] = ("value", "comment", "layout")


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


PRESENT = _Marker("PRESENT")  # the setting exists, whatever its value
ABSENT = _Marker("ABSENT")  # the setting does not exist (deleted or commented out)


@dataclass(frozen=True)
class Where:
    """Select the one element of a list of mappings whose `key` is `value`."""

    key: str
    value: Any


@dataclass(frozen=True)
class Contains:
    """The setting is a list (or a comma-separated value) that holds this item."""

    item: Any


Step = str | int | Where
# A setting's location: a key tuple (TOML, JSON, YAML), an XPath (XML), a key (.properties).
Locator = tuple[Step, ...] | str


# -- reading a merged file -----------------------------------------------------------------


class Unreadable(ValueError):
    """The file does not parse in its format (markers, broken syntax)."""


def _strip_jsonc(text: str) -> str:
    """JSON with // and /* */ comments and trailing commas (WSO2 site.json) as strict JSON."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(ch)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


class Reading:
    """One file read in its format, once; `at()` finds a setting in it."""

    def __init__(self, fmt: str, data: bytes) -> None:
        self.fmt = fmt
        self.data = data
        self.text = data.decode("utf-8", errors="replace")
        self._doc: Any = None
        self._error: str | None = None
        self._parsed = False

    def doc(self) -> Any:
        if not self._parsed:
            self._parsed = True
            try:
                self._doc = self._parse()
            except Exception as exc:  # any parser's error: the file is not readable
                self._error = f"{type(exc).__name__}: {exc}"
        if self._error is not None:
            raise Unreadable(self._error)
        return self._doc

    def _parse(self) -> Any:
        if self.fmt == "toml":
            return tomllib.loads(self.text)
        if self.fmt == "json":
            return json.loads(_strip_jsonc(self.text))
        if self.fmt == "yaml":
            return YAML(typ="safe", pure=True).load(self.data)
        if self.fmt == "xml":
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            return etree.fromstring(self.data, parser)
        if self.fmt == "properties":
            return read_properties(self.data)  # java.util.Properties, not the engine's
        raise Unreadable(f"no settings in format {self.fmt}")

    @property
    def readable(self) -> bool:
        try:
            self.doc()
        except Unreadable:
            return False
        return True

    def at(self, where: Locator) -> Any:
        """The value at `where`, or ABSENT."""
        doc = self.doc()
        if self.fmt == "xml":
            assert isinstance(where, str)
            found = doc.xpath(where)
            if not found:
                return ABSENT
            if len(found) > 1:
                return tuple(_xml_value(x) for x in found)  # never equal to one value
            return _xml_value(found[0])
        if self.fmt == "properties":
            assert isinstance(where, str)
            return doc.get(where, ABSENT)
        assert isinstance(where, tuple)
        node = doc
        for step in where:
            if isinstance(step, Where):
                hits = [x for x in node if isinstance(x, dict) and x.get(step.key) == step.value]
                if len(hits) != 1:
                    return ABSENT
                node = hits[0]
            elif isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    return ABSENT
                node = node[step]
            else:
                if not isinstance(node, dict) or step not in node:
                    return ABSENT
                node = node[step]
        return node


def _xml_value(found: Any) -> str:
    if isinstance(found, str):
        return str(found)
    return "".join(str(x) for x in found.itertext()).strip()


def _canon(value: Any) -> str:
    """Typed comparison: `true` is not `1`, `"1"` is not `1`."""
    return json.dumps(value, sort_keys=True, default=str)


# -- facts ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Fact:
    """One change of one side. `kind` says what the benchmark counts it as: a *value* (a
    setting, or a line of a template that is configuration), a *comment* (comment lines
    added, removed or edited, commented-out settings included) or *layout* (the operator's
    formatting of lines whose settings did not change, or upstream's lines as it wrote or
    re-spaced them)."""

    side: Side
    conflict: str | None = None  # the expected conflict this change is part of
    kind: Kind = "value"

    def holds(self, reading: Reading) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Setting(Fact):
    """A setting has `value` (or is PRESENT, ABSENT, or a list that Contains an item)."""

    at: Locator
    value: Any

    def holds(self, reading: Reading) -> bool:
        try:
            got = reading.at(self.at)
        except Unreadable:
            return False
        if self.value is PRESENT:
            return got is not ABSENT
        if self.value is ABSENT:
            return got is ABSENT
        if isinstance(self.value, Contains):
            if isinstance(got, str):  # a comma-separated list (log4j2 `loggers`)
                got = [x.strip() for x in got.split(",")]
            return isinstance(got, list) and any(_canon(x) == _canon(self.value.item) for x in got)
        return got is not ABSENT and _canon(got) == _canon(self.value)

    def describe(self) -> str:
        where = self.at if isinstance(self.at, str) else ".".join(map(str, self.at))
        return f"{where} = {self.value!r}"


@dataclass(frozen=True, kw_only=True)
class Text(Fact):
    """Every `present` text is in the file and no `absent` one is (comments, layout)."""

    present: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()

    def holds(self, reading: Reading) -> bool:
        return all(t in reading.text for t in self.present) and not any(
            t in reading.text for t in self.absent
        )

    def describe(self) -> str:
        parts = [f"+{t[:60]!r}" for t in self.present] + [f"-{t[:60]!r}" for t in self.absent]
        return "text " + " ".join(parts)


def op(at: Locator, value: Any, *, conflict: str | None = None) -> Setting:
    return Setting(side="ours", at=at, value=value, conflict=conflict)


def up(at: Locator, value: Any, *, conflict: str | None = None) -> Setting:
    return Setting(side="theirs", at=at, value=value, conflict=conflict)


def op_text(*present: str, absent: tuple[str, ...] = (), conflict: str | None = None) -> Text:
    """Text that is configuration (a template line, an element written by hand)."""
    return Text(side="ours", present=present, absent=absent, conflict=conflict)


def up_text(*present: str, absent: tuple[str, ...] = (), conflict: str | None = None) -> Text:
    return Text(side="theirs", present=present, absent=absent, conflict=conflict)


def op_comment(*present: str, absent: tuple[str, ...] = (), conflict: str | None = None) -> Text:
    """Comment lines the operator wrote, edited or removed."""
    return Text(side="ours", present=present, absent=absent, conflict=conflict, kind="comment")


def up_comment(*present: str, absent: tuple[str, ...] = (), conflict: str | None = None) -> Text:
    """Comment lines upstream added, edited or removed (documented commented-out blocks)."""
    return Text(side="theirs", present=present, absent=absent, conflict=conflict, kind="comment")


def op_layout(*present: str) -> Text:
    """The operator's formatting, which a merge must keep (settings unchanged there)."""
    return Text(side="ours", present=present, kind="layout")


def up_layout(*present: str) -> Text:
    """Lines upstream added or re-spaced, as upstream wrote them (a merge must not reflow
    or re-indent them)."""
    return Text(side="theirs", present=present, kind="layout")


# -- conflict markers ------------------------------------------------------------------------

_HUNK = re.compile(
    rb"^<<<<<<<[^\n]*\n(?P<ours>(?:.*\n)*?)\|\|\|\|\|\|\|[^\n]*\n(?P<base>(?:.*\n)*?)"
    rb"=======\r?\n(?P<theirs>(?:.*\n)*?)>>>>>>>[^\n]*(?:\n|\Z)",
    re.MULTILINE,
)


def conflict_hunks(data: bytes) -> int:
    """How many diff3-style conflict hunks a line merge left (git merge-file, uplevel text)."""
    return sum(1 for line in data.splitlines() if line.startswith(b"<<<<<<<"))


def resolve_conflicts(
    data: bytes, part: Literal["base", "ours", "theirs"], *, only: int | None = None
) -> bytes:
    """Every diff3-style conflict hunk (with its `|||||||` base part) replaced by one part;
    with `only`, just that hunk (counted from 0), and every other one by its base part."""
    count = iter(range(1 << 30))

    def pick(m: re.Match[bytes]) -> bytes:
        i = next(count)
        return m.group(part if only is None or i == only else "base")

    return _HUNK.sub(pick, data)


def outside_conflicts(data: bytes) -> bytes:
    """The file as the merge resolved it: every conflict hunk replaced by its base lines, so
    that a change which is only inside a hunk is not in the result and the file reads as it
    would with neither side's edit there."""
    return resolve_conflicts(data, "base")


# -- scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Scenario:
    pair: str  # "01", "02", …: the folder's number
    directory: str  # the pair's folder under tests/corpus
    variant: str = ""  # "" for the pair's main scenario, "b", "c" for the others
    fmt: str  # the format uplevel picks for the file's name (text: line merge)
    customise: Callable[[bytes], bytes]
    operator: tuple[Fact, ...]
    upstream: tuple[Fact, ...]
    conflicts: tuple[str, ...]  # setting paths (or "line N" for a line merge) uplevel reports
    summary: str = ""

    @property
    def key(self) -> str:
        return self.pair + self.variant

    @property
    def path(self) -> Path:
        return CORPUS / self.directory

    @property
    def base_file(self) -> Path:
        return next(self.path.glob("base.*"))

    @property
    def name(self) -> str:
        """The file name the format is detected from (`base.xml.j2` → text)."""
        return self.base_file.name

    def base(self) -> bytes:
        return self.base_file.read_bytes()

    def theirs(self) -> bytes:
        return next(self.path.glob("theirs.*")).read_bytes()

    def ours(self) -> bytes:
        return self.customise(self.base())

    @property
    def facts(self) -> tuple[Fact, ...]:
        return self.operator + self.upstream

    def missing(self, merged: bytes, *, include_conflicts: bool = False) -> list[Fact]:
        """The facts that do not hold on `merged`, read outside its conflict hunks; facts
        of expected conflicts only with `include_conflicts`."""
        reading = Reading(self.fmt, outside_conflicts(merged))
        return [
            f
            for f in self.facts
            if (include_conflicts or f.conflict is None) and not f.holds(reading)
        ]


def edit(data: bytes, *pairs: tuple[str, str]) -> bytes:
    """Apply text replacements, each of which must match exactly once."""
    for old, new in pairs:
        assert data.count(old.encode()) == 1, old
        data = data.replace(old.encode(), new.encode())
    return data


# 01 · API-M 4.2 → 4.3 deployment.toml ---------------------------------------------------------

MYSQL_APIM = "jdbc:mysql://db.example.com:3306/apim_db?useSSL=false"


def ours_01(base: bytes) -> bytes:
    ours = edit(
        base,
        ('[server]\nhostname = "localhost"', '[server]\nhostname = "apim.example.com"'),
        (
            'url = "jdbc:h2:./repository/database/WSO2AM_DB;AUTO_SERVER=TRUE;DB_CLOSE_ON_EXIT=FALSE"',
            f'url = "{MYSQL_APIM}"',
        ),
        ('ws_endpoint = "ws://localhost:9099"', 'ws_endpoint = "ws://gw.example.com:9099"'),
        ("#offset=0\n", "offset=1\n"),
        ("[user_store]\n", "# LDAP later\n[user_store]\n"),
    )
    return ours.replace(
        b'[super_admin]\nusername = "admin"\npassword = "admin"',
        b'[super_admin]\nusername = "admin"\npassword = "S3cret!"',
    )


def ours_01_reformatted(base: bytes) -> bytes:
    """The operator's editor rewrote every `key = value` as `key=value`; one real change."""
    ours = re.sub(rb"(?m)^(\w+) = ", rb"\1=", base)
    return edit(ours, ('[server]\nhostname="localhost"', '[server]\nhostname="10.0.0.5"'))


ENV = ("apim", "gateway", "environment", Where("name", "Default"))
APIM_DB_URL = "database.apim_db.url"

S01 = Scenario(
    pair="01",
    directory="01-apim-deployment-toml-4.2-to-4.3",
    fmt="toml",
    customise=ours_01,
    summary="hostname, MySQL URL, admin password, WebSocket endpoint, port offset, comment",
    operator=(
        op(("server", "hostname"), "apim.example.com"),
        op(("database", "apim_db", "url"), MYSQL_APIM, conflict=APIM_DB_URL),
        op(("super_admin", "password"), "S3cret!"),
        op((*ENV, "ws_endpoint"), "ws://gw.example.com:9099"),
        op(("server", "offset"), 1),
        op_comment("# LDAP later\n[user_store]"),
    ),
    upstream=(
        up(
            ("database", "apim_db", "url"),
            "jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE",
            conflict=APIM_DB_URL,
        ),
        up((*ENV, "gateway_type"), "Regular"),
        up(("apim", "ai"), {"enable": True, "token": "", "endpoint": ""}),
        up_comment("#use_sha256_hash = false\n"),
        up_comment("#[apim.publisher]\n#enable_portal_configuration_only_mode = false\n"),
        up_comment(
            '#notifier_impl = "org.wso2.carbon.apimgt.notification.TokenRevocationNotifierImpl"',
            absent=('"org.wso2.carbon.apimgt.keymgt.events.TokenRevocationNotifierImpl"',),
        ),
        up_comment("\n#[integration.transaction_counter]\n", '#service_password = "admin"\n'),
    ),
    conflicts=(APIM_DB_URL,),
)


# 02 · API-M control plane 4.5 → 4.6 deployment.toml -------------------------------------------


def ours_02(base: bytes) -> bytes:
    return edit(
        base,
        ('gateway_type = "Regular,APK,AWS"', 'gateway_type = "Regular,APK"'),
        ('hostname = "localhost"', 'hostname = "acp.example.com"'),
        (
            'url = "jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE"',
            'url = "jdbc:postgresql://pg.example.com:5432/apim_db"',
        ),
        ('type = "h2"\nurl = "jdbc:postgresql', 'type = "postgre"\nurl = "jdbc:postgresql'),
        ('password = "admin"\ncreate_admin_account', 'password = "Adm1n!"\ncreate_admin_account'),
        (
            'key_password =  "wso2carbon"\n\n#[keystore.primary]',
            'key_password =  "Tls-K3y"\n\n#[keystore.primary]',
        ),
    )


def ours_02_uncommented_environment(base: bytes) -> bytes:
    """The operator uncommented the gateway environment themselves, placeholders kept."""
    lines = base.split(b"\n")
    start = lines.index(b"#[[apim.gateway.environment]]")
    for i in range(start, start + 15):
        lines[i] = lines[i][1:]
    return b"\n".join(lines)


S02 = Scenario(
    pair="02",
    directory="02-apim-acp-deployment-toml-4.5-to-4.6",
    fmt="toml",
    customise=ours_02,
    summary="gateway types, hostname, PostgreSQL database, admin and TLS key passwords",
    operator=(
        op(("apim", "gateway_type"), "Regular,APK", conflict="apim.gateway_type"),
        op(("server", "hostname"), "acp.example.com"),
        op(("database", "apim_db", "url"), "jdbc:postgresql://pg.example.com:5432/apim_db"),
        op(("database", "apim_db", "type"), "postgre"),
        op(("super_admin", "password"), "Adm1n!"),
        op(("keystore", "tls", "key_password"), "Tls-K3y"),
    ),
    upstream=(
        up(
            ("apim", "gateway_type"),
            "Regular,APK,AWS,Azure,Kong,Envoy",
            conflict="apim.gateway_type",
        ),
        up((*ENV, "service_url"), "https://localhost:9443/services/"),
        up((*ENV, "http_endpoint"), "http://localhost:8280"),
        up((*ENV, "https_endpoint"), "https://localhost:8243"),
        up((*ENV, "ws_endpoint"), "ws://localhost:9099"),
    ),
    conflicts=("apim.gateway_type",),
)


# 03 · Identity Server 7.0 → 7.1 deployment.toml ---------------------------------------------


def ours_03(base: bytes) -> bytes:
    return edit(
        base,
        ('file_name = "wso2carbon.jks"', 'file_name = "prod-keystore.jks"'),
        (
            '[keystore.primary]\nfile_name = "prod-keystore.jks"\npassword = "wso2carbon"',
            '[keystore.primary]\nfile_name = "prod-keystore.jks"\npassword = "ks-pass"',
        ),
        ('hostname = "localhost"', 'hostname = "is.example.com"'),
    )


S03 = Scenario(
    pair="03",
    directory="03-is-deployment-toml-7.0-to-7.1",
    fmt="toml",
    customise=ours_03,
    summary="own keystore file and password, hostname",
    operator=(
        op(
            ("keystore", "primary", "file_name"),
            "prod-keystore.jks",
            conflict="keystore.primary.file_name",
        ),
        op(("keystore", "primary", "password"), "ks-pass"),
        op(("server", "hostname"), "is.example.com"),
    ),
    upstream=(
        up(
            ("keystore", "primary", "file_name"),
            "wso2carbon.p12",
            conflict="keystore.primary.file_name",
        ),
        up(("keystore", "primary", "type"), "PKCS12"),
        up(("truststore", "file_name"), "client-truststore.p12"),
        up(("truststore", "type"), "PKCS12"),
    ),
    conflicts=("keystore.primary.file_name",),
)


# 04 · API-M 2.6 → 3.0 catalina-server.xml ---------------------------------------------------

HTTPS_CONNECTOR = "/Server/Service[@name='Catalina']/Connector[2]"
ACCESS_LOG = (
    "/Server/Service[@name='Catalina']/Engine[@name='Catalina']/Host[@name='localhost']"
    "/Valve[@className='org.apache.catalina.valves.AccessLogValve']"
)
_HOST = "/Server/Service/Engine/Host"
_HTTP = "/Server/Service/Connector[1]"
_HTTPS = "/Server/Service/Connector[2]"


def _valve(cls: str) -> str:
    return f"{_HOST}/Valve[@className='{cls}']"


def ours_04(base: bytes) -> bytes:
    return edit(
        base,
        ('port="9763"', 'port="8080"'),
        ('port="9443"\n', 'port="8443"\n'),
        ('redirectPort="9443"', 'redirectPort="8443"'),
        ('sslEnabledProtocols="TLSv1,TLSv1.1,TLSv1.2"\n', 'sslEnabledProtocols="TLSv1.2"\n'),
        ('keystorePass="wso2carbon"', 'keystorePass="Op3rator-Secret"'),
        ('pattern="combined"', "pattern='%h %l %u %t \"%r\" %s %b'"),
        # comment out a valve the operator does not want
        (
            '<Valve className="org.wso2.carbon.tomcat.ext.valves.CarbonStuckThreadDetectionValve"'
            ' threshold="600"/>',
            '<!--Valve className="org.wso2.carbon.tomcat.ext.valves.CarbonStuckThreadDetectionValve"'
            ' threshold="600"/-->',
        ),
        # add a valve, reformat the Engine start tag (quotes, attribute order)
        (
            "            </Host>",
            '                <Valve className="org.apache.catalina.valves.RemoteAddrValve"'
            ' allow="10\\.0\\..*"/>\n            </Host>',
        ),
        (
            '<Engine name="Catalina" defaultHost="localhost">',
            "<Engine  defaultHost='localhost'\n                name='Catalina' >",
        ),
    )


def ours_04_tuned(base: bytes) -> bytes:
    """Only values upstream did not touch: the HTTP port and the thread pool."""
    return edit(
        base,
        ('port="9763"', 'port="80"'),
        (
            'maxThreads="250"\n                   minSpareThreads="50"\n                   disableUploadTimeout="false"\n                   connectionUploadTimeout',
            'maxThreads="400"\n                   minSpareThreads="50"\n                   disableUploadTimeout="false"\n                   connectionUploadTimeout',
        ),
    )


S04 = Scenario(
    pair="04",
    directory="04-apim-catalina-server-xml-2.6-to-3.0",
    fmt="xml",
    customise=ours_04,
    summary="ports, TLS protocols, keystore password, access-log pattern, valves, reformat",
    operator=(
        op(f"{_HTTP}/@port", "8080"),
        op(f"{_HTTPS}/@port", "8443"),
        op(f"{_HTTP}/@redirectPort", "8443"),
        op(
            f"{_HTTPS}/@sslEnabledProtocols",
            "TLSv1.2",
            conflict=f"{HTTPS_CONNECTOR}@sslEnabledProtocols",
        ),
        op(
            f"{_HTTPS}/@keystorePass", "Op3rator-Secret", conflict=f"{HTTPS_CONNECTOR}@keystorePass"
        ),
        op(
            f"{_valve('org.apache.catalina.valves.AccessLogValve')}/@pattern",
            '%h %l %u %t "%r" %s %b',
            conflict=f"{ACCESS_LOG}@pattern",
        ),
        op(_valve("org.wso2.carbon.tomcat.ext.valves.CarbonStuckThreadDetectionValve"), ABSENT),
        op(f"{_valve('org.apache.catalina.valves.RemoteAddrValve')}/@allow", "10\\.0\\..*"),
        op_layout("<Engine  defaultHost='localhost'\n                name='Catalina' >"),
    ),
    upstream=(
        up(f"{_HTTP}/@compressibleMimeType", PRESENT),
        up(f"{_HTTP}/@compressableMimeType", ABSENT),
        up(f"{_HTTPS}/@compressibleMimeType", PRESENT),
        up(
            f"{_HTTPS}/SSLHostConfig/Certificate/@certificateKeystoreFile",
            "${carbon.home}/repository/resources/security/wso2carbon.jks",
        ),
        up(f"{_HTTPS}/SSLHostConfig/@protocols", "+TLSv1,+TLSv1.1,+TLSv1.2"),
        up(f"{_HTTPS}/@keystoreFile", ABSENT),
        up(f"{_HTTPS}/@clientAuth", ABSENT),
        up(
            f"{_HTTPS}/@sslEnabledProtocols",
            ABSENT,
            conflict=f"{HTTPS_CONNECTOR}@sslEnabledProtocols",
        ),
        up(f"{_HTTPS}/@keystorePass", ABSENT, conflict=f"{HTTPS_CONNECTOR}@keystorePass"),
        up(
            f"{_valve('org.apache.catalina.valves.AccessLogValve')}/@pattern",
            "%h %l %u %t %r %s %b %{Referer}i %{User-Agent}i %T",
            conflict=f"{ACCESS_LOG}@pattern",
        ),
        up(f"{_valve('org.apache.catalina.valves.ErrorReportValve')}/@showReport", "false"),
        up(_valve("org.wso2.carbon.tomcat.ext.valves.RequestCorrelationIdValve"), PRESENT),
        up_comment("Error pages", absent=("MemoryRealm",)),
    ),
    conflicts=(
        f"{HTTPS_CONNECTOR}@keystorePass",
        f"{HTTPS_CONNECTOR}@sslEnabledProtocols",
        f"{ACCESS_LOG}@pattern",
    ),
)


# 05 · API-M 4.0 → 4.1 axis2.xml.j2 (a Jinja template: line merge) -----------------------------


def ours_05(base: bytes) -> bytes:
    return edit(
        base,
        (
            '<parameter name="manageTransportSession" locked="false">true<',
            '<parameter name="manageTransportSession" locked="false">false<',
        ),
        (
            '<parameter name="hotdeployment" locked="false">true</parameter>',
            "<!-- operator: no hot deployment in production\n"
            '    <parameter name="hotdeployment" locked="false">true</parameter>\n'
            "    -->",
        ),
        (
            '<parameter name="SynapseConfig.ServerName" locked="false">localhost<',
            '<parameter name="SynapseConfig.ServerName" locked="false">gw-node-1<',
        ),
        (
            "            <fileReadInterval>{{transport.passthru_https.sender.ssl_profile.interval}}</fileReadInterval>\n",
            "            <fileReadInterval>{{transport.passthru_https.sender.ssl_profile.interval}}</fileReadInterval>\n"
            "            <!-- operator: profiles reloaded by the ops team -->\n",
        ),
    )


S05 = Scenario(
    pair="05",
    directory="05-apim-axis2-xml-j2-4.0-to-4.1",
    fmt="text",
    customise=ours_05,
    summary="session management off, hot deployment commented out, server name, a note",
    operator=(
        op_text(
            '<parameter name="manageTransportSession" locked="false">false<',
            absent=('<parameter name="manageTransportSession" locked="false">true<',),
        ),
        op_text(
            "<!-- operator: no hot deployment in production\n"
            '    <parameter name="hotdeployment" locked="false">true</parameter>\n'
            "    -->"
        ),
        op_text('<parameter name="SynapseConfig.ServerName" locked="false">gw-node-1<'),
        op_comment("            <!-- operator: profiles reloaded by the ops team -->\n"),
    ),
    upstream=(
        up_text("{% if transport.http.proxy_profile is defined %}"),
        up_text('<transportSender name="httpws" class="{{transport.netty.http.sender.class}}">'),
        up_text("{% if transport.http.secured_proxy_profile is defined %}"),
        up_text('<transportSender name="httpswss" class="{{transport.netty.https.sender.class}}">'),
        up_text("<CacheSize>{{transport.netty.http.sender.certificate_revocation_cache_size}}"),
    ),
    conflicts=(),
)


# 06 · API-M 4.1 → 4.2 catalina-server.xml.j2 (line merge) ---------------------------------------


def ours_06(base: bytes) -> bytes:
    return edit(
        base,
        ('threshold="600"', 'threshold="900"'),
        (
            '<Valve className="org.apache.catalina.valves.ErrorReportValve" showServerInfo="false" showReport="false"/>',
            '<Valve className="org.apache.catalina.valves.ErrorReportValve" showServerInfo="false" showReport="false" errorCode.404="/errors/404.html"/>',
        ),
        (
            '<Server port="8005" shutdown="SHUTDOWN"',
            '<Server port="8005" shutdown="Sh0tDown-Op"',
        ),
    )


S06 = Scenario(
    pair="06",
    directory="06-apim-catalina-server-xml-j2-4.1-to-4.2",
    fmt="text",
    customise=ours_06,
    summary="stuck-thread threshold, own 404 page, shutdown command",
    operator=(
        op_text('CarbonStuckThreadDetectionValve" threshold="900"/>'),
        op_text('showReport="false" errorCode.404="/errors/404.html"/>'),
        op_text('<Server port="8005" shutdown="Sh0tDown-Op"'),
    ),
    upstream=(
        up_text('className="org.apache.catalina.valves.RemoteIpValve"'),
        up_text(
            '<Valve className="org.wso2.carbon.identity.organization.management.tomcat.ext.tenant.resolver.CarbonContextCreatorValve"/>',
            absent=(
                '<Valve className="org.wso2.carbon.tomcat.ext.valves.CarbonContextCreatorValve"/>',
            ),
        ),
        up_text('maxDays="{{http_access_log.maxDays}}" enabled="{{http_access_log.enabled}}"/>'),
        up_text('<Valve className="org.wso2.carbon.tomcat.ext.valves.SameSiteCookieValve"/>'),
        up_text(
            '<Valve className="org.wso2.carbon.identity.context.rewrite.valve.OrganizationContextRewriteValve"/>'
        ),
    ),
    conflicts=(),
)


# 07 · carbon-kernel 4.4.20 → 4.4.40 user-mgt.xml ---------------------------------------------

USER_MGT_JDBC = "/UserManager/Realm/UserStoreManager[@class='org.wso2.carbon.user.core.jdbc.JDBCUserStoreManager']"
_JDBC = "/UserManager/Realm/UserStoreManager[@class='org.wso2.carbon.user.core.jdbc.JDBCUserStoreManager']"


def ours_07(base: bytes) -> bytes:
    return edit(
        base,
        ("<Password>admin</Password>", "<Password>Adm1n-Pa55</Password>"),
        (
            '<Property name="dataSource">jdbc/WSO2CarbonDB</Property>',
            '<Property name="dataSource">jdbc/WSO2UM_DB</Property>',
        ),
        (
            '<Property name="MaxUserNameListLength">100</Property>\n            <Property name="MaxRoleNameListLength">100</Property>\n            <Property name="UserRolesCacheEnabled">true</Property>\n            <Property name="UserNameUniqueAcrossTenants">',
            '<Property name="MaxUserNameListLength">500</Property>\n            <Property name="MaxRoleNameListLength">100</Property>\n            <Property name="UserRolesCacheEnabled">true</Property>\n            <Property name="CountRetrieverClass">org.wso2.carbon.identity.user.store.count.jdbc.JDBCUserStoreCountRetriever</Property>\n            <Property name="UserNameUniqueAcrossTenants">',
        ),
        ("\t\t<AddAdmin>true</AddAdmin>", "            <AddAdmin>true</AddAdmin>"),  # reformat
        ("internal JDBC user store.", "internal JDBC user store (we use it)."),  # comment edit
    )


def ours_07_ldap(base: bytes) -> bytes:
    """The operator comments out the JDBC store and uncomments the read-only LDAP one."""
    return edit(
        base,
        (
            '<UserStoreManager class="org.wso2.carbon.user.core.jdbc.JDBCUserStoreManager">',
            '<!--UserStoreManager class="org.wso2.carbon.user.core.jdbc.JDBCUserStoreManager">',
        ),
        (
            '<Property name="UserNameUniqueAcrossTenants">false</Property>\n        </UserStoreManager>',
            '<Property name="UserNameUniqueAcrossTenants">false</Property>\n        </UserStoreManager-->',
        ),
        (
            '<!--UserStoreManager class="org.wso2.carbon.user.core.ldap.ReadOnlyLDAPUserStoreManager">',
            '<UserStoreManager class="org.wso2.carbon.user.core.ldap.ReadOnlyLDAPUserStoreManager">',
        ),
        (
            '<Property name="ReplaceEscapeCharactersAtUserLogin">true</Property>\n        </UserStoreManager-->',
            '<Property name="ReplaceEscapeCharactersAtUserLogin">true</Property>\n        </UserStoreManager>',
        ),
        (
            '<Property name="ConnectionURL">ldap://localhost:10389</Property>',
            '<Property name="ConnectionURL">ldaps://ldap.corp.example:636</Property>',
        ),
    )


S07 = Scenario(
    pair="07",
    directory="07-kernel-user-mgt-xml-4.4.20-to-4.4.40",
    fmt="xml",
    customise=ours_07,
    summary="admin password, user-store datasource, list length, count retriever, reformat",
    operator=(
        op("/UserManager/Realm/Configuration/AdminUser/Password", "Adm1n-Pa55"),
        op("/UserManager/Realm/Configuration/Property[@name='dataSource']", "jdbc/WSO2UM_DB"),
        op(f"{_JDBC}/Property[@name='MaxUserNameListLength']", "500"),
        op(
            f"{_JDBC}/Property[@name='CountRetrieverClass']",
            "org.wso2.carbon.identity.user.store.count.jdbc.JDBCUserStoreCountRetriever",
        ),
        op_comment("internal JDBC user store (we use it)."),
        op_layout("\n            <AddAdmin>true</AddAdmin>\n"),
    ),
    upstream=(
        up("/UserManager/Realm/Configuration/OverrideUsernameClaimFromInternalUsername", "true"),
        up(f"{_JDBC}/Property[@name='LeadingOrTrailingSpaceAllowedInUserName']", "false"),
        up_comment(  # inside the commented-out LDAP and AD stores
            "(&amp;(objectClass=person)(!(sn=Service)))",
            "(&amp;(objectClass=user)(!(sn=Service)))",
            absent=('<Property name="UserNameListFilter">(objectClass=person)</Property>',),
        ),
        up_comment('<Property name="StartTLSEnabled">false</Property>'),
        up_comment(
            "!-- Enable username claim retrieve from the UM_USER_NAME in JDBC datasources -->"
        ),
    ),
    conflicts=(),
)


# 08 · carbon-apimgt master-datasources.xml.j2 3.1 → 3.2 (line merge) --------------------------


def ours_08(base: bytes) -> bytes:
    return edit(
        base,
        # the local registry database: a bigger pool (upstream templated this block: conflict)
        (
            "<driverClassName>org.h2.Driver</driverClassName>\n                    <maxActive>50</maxActive>\n                    <maxWait>60000</maxWait>\n                    <testOnBorrow>true</testOnBorrow>\n                    <validationQuery>SELECT 1</validationQuery>\n                    <validationInterval>30000</validationInterval>\n                    <defaultAutoCommit>true</defaultAutoCommit>",
            "<driverClassName>org.h2.Driver</driverClassName>\n                    <maxActive>150</maxActive>\n                    <maxWait>60000</maxWait>\n                    <testOnBorrow>true</testOnBorrow>\n                    <validationQuery>SELECT 1</validationQuery>\n                    <validationInterval>30000</validationInterval>\n                    <defaultAutoCommit>true</defaultAutoCommit>",
        ),
        # the message-broker store moves to MySQL
        (
            "<url>jdbc:h2:./repository/database/WSO2MB_DB;DB_CLOSE_ON_EXIT=FALSE;LOCK_TIMEOUT=60000;MVCC=TRUE</url>",
            "<url>jdbc:mysql://mb-db.example.com:3306/WSO2MB_DB?useSSL=false</url>",
        ),
        (
            "<defaultAutoCommit>false</defaultAutoCommit>",
            "<defaultAutoCommit>false</defaultAutoCommit>\n                    <testWhileIdle>true</testWhileIdle>",
        ),
    )


S08 = Scenario(
    pair="08",
    directory="08-apimgt-master-datasources-xml-j2-3.1-to-3.2",
    fmt="text",
    customise=ours_08,
    summary="registry pool size (templated upstream), broker store on MySQL, idle test",
    operator=(
        op_text("<maxActive>150</maxActive>", conflict="line 18"),
        op_text("<url>jdbc:mysql://mb-db.example.com:3306/WSO2MB_DB?useSSL=false</url>"),
        op_text(
            "<defaultAutoCommit>false</defaultAutoCommit>\n"
            "                    <testWhileIdle>true</testWhileIdle>"
        ),
    ),
    upstream=(
        up_text(
            "<username>{{database.local.username}}</username>",
            "{% for property_name,property_value in database.local.pool_options.items() %}",
            conflict="line 18",
        ),
        up_text("<name>WSO2AS_DB</name>", "{% if database.sync_runtime_artifacts_db is defined %}"),
        up_text("<url>{{database.sync_runtime_artifacts_db.url}}</url>"),
    ),
    conflicts=("line 18",),
)


# 09 · API-M 4.6 → 4.7 log4j2.properties ---------------------------------------------------------

LOGFILE = "${sys:carbon.home}/repository/logs/wso2carbon.log"


def ours_09(base: bytes) -> bytes:
    ours = edit(
        base,
        (
            "appender.CARBON_LOGFILE.fileName = ",
            "appender.CARBON_LOGFILE.fileName = /var/log/wso2/",
        ),
        (
            "appender.CORRELATION.filter.threshold.level = INFO",
            "appender.CORRELATION.filter.threshold.level = WARN",
        ),
        # the operator silenced synapse wire logs another way and tuned org.wso2 to DEBUG
        ("logger.synapse-wire.level = DEBUG\n", "logger.synapse-wire.level = OFF\n"),
        ("logger.org-wso2.level = INFO\n", "logger.org-wso2.level=DEBUG\n"),
        (
            "appender.CARBON_SYS_LOG.host = localhost\n",
            "appender.CARBON_SYS_LOG.host = syslog.internal\n",
        ),
    )
    return ours + b"\nlogger.acme.name = com.acme\nlogger.acme.level = DEBUG\n"


def ours_09_untouched_by_upstream(base: bytes) -> bytes:
    ours = edit(
        base,
        ("appender.CARBON_CONSOLE.layout.pattern = ", "appender.CARBON_CONSOLE.layout.pattern =  "),
    )
    return ours.replace(b"= INFO\n", b"= ERROR\n", 1)


S09 = Scenario(
    pair="09",
    directory="09-apim-log4j2-properties-4.6-to-4.7",
    fmt="properties",
    customise=ours_09,
    summary="log file path, thresholds and levels, syslog host, an own logger",
    operator=(
        op("appender.CARBON_LOGFILE.fileName", "/var/log/wso2/" + LOGFILE),
        op("appender.CORRELATION.filter.threshold.level", "WARN"),
        op("logger.synapse-wire.level", "OFF", conflict="logger.synapse-wire.level"),
        op("logger.org-wso2.level", "DEBUG", conflict="logger.org-wso2.level"),
        op(
            "appender.CARBON_SYS_LOG.host",
            "syslog.internal",
            conflict="appender.CARBON_SYS_LOG.host",
        ),
        op("logger.acme.name", "com.acme"),
        op("logger.acme.level", "DEBUG"),
    ),
    upstream=(
        up("logger.synapse-wire.level", ABSENT, conflict="logger.synapse-wire.level"),
        up("logger.org-wso2.level", ABSENT, conflict="logger.org-wso2.level"),
        up("appender.CARBON_SYS_LOG.host", ABSENT, conflict="appender.CARBON_SYS_LOG.host"),
        up("appender.CARBON_SYS_LOG.type", ABSENT),
        up("appender.CARBON_SYS_LOG.facility", ABSENT),
        up("appender.CARBON_SYS_LOG.layout.pattern", ABSENT),
        up("logger.org-apache.level", ABSENT),
        up("logger.org-apache.name", ABSENT),
        up("logger.org-wso2.name", ABSENT),
        up("logger.synapse-headers.level", ABSENT),
        up("logger.synapse-wire.name", ABSENT),
        up_comment("# appender.CARBON_SYS_LOG.facility = USER\n"),
    ),
    conflicts=(
        "logger.synapse-wire.level",
        "logger.org-wso2.level",
        "appender.CARBON_SYS_LOG.host",
    ),
)


# 10 · Identity Server 7.0 → 7.1 log4j2.properties --------------------------------------------


def ours_10(base: bytes) -> bytes:
    # the operator adds its own logger and appends it to the loggers list: a conflict with
    # upstream's four new loggers on the list (a plain value); their definitions still merge
    ours = base.replace(b", org-eclipse-jetty\n", b", org-eclipse-jetty, acme\n", 1)
    ours += b"logger.acme.name = com.acme\nlogger.acme.level = DEBUG\n"
    return ours.replace(b"rootLogger.level = INFO", b"rootLogger.level = DEBUG")


def ours_10_elsewhere(base: bytes) -> bytes:
    ours = base.replace(
        b"appender.CARBON_LOGFILE.fileName = ", b"appender.CARBON_LOGFILE.fileName=/logs/", 1
    )
    return ours.replace(
        b"rootLogger.level = INFO", b"#rootLogger.level = INFO\nrootLogger.level = WARN"
    )


S10 = Scenario(
    pair="10",
    directory="10-is-log4j2-properties-7.0-to-7.1",
    fmt="properties",
    customise=ours_10,
    summary="an own logger added to the loggers list, root level DEBUG",
    operator=(
        op("logger.acme.name", "com.acme"),
        op("logger.acme.level", "DEBUG"),
        op("rootLogger.level", "DEBUG"),
        op("loggers", Contains("acme"), conflict="loggers"),
    ),
    upstream=(
        up("loggers", Contains("org-wso2-carbon-event"), conflict="loggers"),
        up("logger.org-wso2-carbon-event.level", "WARN"),
        up("logger.org-wso2-carbon-event.name", "org.wso2.carbon.event"),
        up("logger.org-apache-cxf-endpoint-ServerImpl.level", "WARN"),
        up(
            "logger.org-apache-cxf-endpoint-ServerImpl.appenderRef.CARBON_CONSOLE.ref",
            "CARBON_CONSOLE",
        ),
        up("logger.org-wso2-carbon-core-deployment-DeploymentInterceptor.level", "WARN"),
        up("logger.org-wso2-carbon-webapp-mgt-TomcatGenericWebappsDeployer.level", "WARN"),
    ),
    conflicts=("loggers",),
)


# 11 · API-M admin portal settings.json 4.4 → 4.7 ----------------------------------------------


def ours_11(base: bytes) -> bytes:
    return (
        base.replace(b'"host": "localhost"', b'"host": "apim.example.com"')
        .replace(b'"limit": 30', b'"limit": 50')
        .replace(b"en/4.4.0/", b"en/latest/")  # upstream changed docUrl too: conflict
        .replace(b'"timeout": 2000', b'"timeout": 2000,\n      "retries": 3')
    )


def ours_11_reindented(base: bytes) -> bytes:
    """Key order reversed, tabs, no final newline (not changes), and one real change."""
    data = json.loads(base)
    data["app"] = dict(reversed(list(data["app"].items())))
    data["app"]["origin"]["host"] = "gw.internal"
    return json.dumps(data, indent="\t").encode()


S11 = Scenario(
    pair="11",
    directory="11-admin-settings-json-4.4-to-4.7",
    fmt="json",
    customise=ours_11,
    summary="origin host, workflow limit, docs URL, single-logout retries",
    operator=(
        op(("app", "origin", "host"), "apim.example.com"),
        op(("app", "workflows", "limit"), 50),
        op(("app", "docUrl"), "https://apim.docs.wso2.com/en/latest/", conflict="app.docUrl"),
        op(("app", "singleLogout", "retries"), 3),
    ),
    upstream=(
        up(("app", "docUrl"), "https://apim.docs.wso2.com/en/4.7.0/", conflict="app.docUrl"),
        up(("app", "logoutSessionStateAppender"), ""),
        up(
            ("app", "platformGateway", "releasesUrl"),
            "https://github.com/wso2/api-platform/releases",
        ),
        up(
            ("app", "sessionTimeout"),
            {"enable": True, "idleTimeout": 1800, "idleWarningTimeout": 1740},
        ),
    ),
    conflicts=("app.docUrl",),
)


# 12 · API-M publisher site.json 2.1 → 2.2 (comments, tabs) ------------------------------------


def ours_12(base: bytes) -> bytes:
    return (
        base.replace(b'"context" : "/publisher"', b'"context" : "/apipublisher"')
        .replace(
            b'"enabled" : "false",\n        "issuer"', b'"enabled" : "true",\n        "issuer"'
        )
        .replace(b'"clientSecret" : "secret"', b'"clientSecret" : "s3cr3t!"')
        .replace(b'"host" : "sample.proxydomain.com"', b'"host" : "proxy.example.com"')
    )


def ours_12_same_key_added(base: bytes) -> bytes:
    return base.replace(
        b'"idpInit" : "false",',
        b'"idpInit" : "false",\n        "loginUserNameAttribute" : "email",',
    )


S12 = Scenario(
    pair="12",
    directory="12-apimgt-publisher-site-json-2.1-to-2.2",
    fmt="json",
    customise=ours_12,
    summary="context path, SSO on, OIDC client secret, reverse-proxy host",
    operator=(
        op(("context",), "/apipublisher"),
        op(("ssoConfiguration", "enabled"), "true"),
        op(("oidcConfiguration", "clientConfiguration", "clientSecret"), "s3cr3t!"),
        op(("reverseProxy", "host"), "proxy.example.com"),
    ),
    upstream=(
        up(("oidcConfiguration", "authHttpMethod"), "POST"),
        up(
            ("oidcConfiguration", "clientConfiguration", "postLogoutRedirectURI"),
            "https://localhost:9443/store/",
        ),
        up(
            ("oidcConfiguration", "logoutEndpointURI"),
            "http://localhost:8080/openid-connect-server-webapp/logout",
        ),
        up(("ssoConfiguration", "loginUserNameAttribute"), ""),
    ),
    conflicts=(),
)


# 13 · kubernetes-apim single-node values.yaml 4.1.0.1 → 4.1.0.2 --------------------------------


def values_13_ours(base: bytes, *, disable_mysql: bool) -> bytes:
    ours = (
        base.replace(
            b'    username: ""\n    password: ""',
            b'    username: "ops@example.com"\n    password: "Sup3r$ecret"',
        )
        .replace(b'hostname: "am.wso2.com"', b'hostname: "apim.prod.example.com"')
        .replace(b'      # dockerRegistry: ""', b'      dockerRegistry: "registry.example.com"')
        .replace(
            b"      imagePullPolicy: Always",
            b"      # imagePullPolicy: Always  (operator: use the default)",
        )
        .replace(b'xmx: "1024m"', b'xmx: "2048m"  # sized for prod')
        .replace(b"      nfsServerProvisioner: true", b"      nfsServerProvisioner: false")
    )
    if disable_mysql:
        ours = ours.replace(b"      mysql: true", b"      mysql: false  # external RDS")
    return ours


def ours_13(base: bytes) -> bytes:
    return values_13_ours(base, disable_mysql=True)


_AM = ("wso2", "deployment", "am")
_DEPS = ("wso2", "deployment", "dependencies")
MYSQL_DEP = "wso2.deployment.dependencies.mysql"

S13 = Scenario(
    pair="13",
    directory="13-k8s-am-single-values-yaml-4.1.0.1-to-4.1.0.2",
    fmt="yaml",
    customise=ours_13,
    summary="subscription, hostname, registry, pull policy, heap, no in-cluster MySQL or NFS",
    operator=(
        op(("wso2", "subscription", "username"), "ops@example.com"),
        op(("wso2", "subscription", "password"), "Sup3r$ecret"),
        op((*_AM, "ingress", "management", "hostname"), "apim.prod.example.com"),
        op((*_AM, "dockerRegistry"), "registry.example.com"),
        op((*_AM, "imagePullPolicy"), ABSENT),
        op((*_AM, "resources", "jvm", "heap", "memory", "xmx"), "2048m"),
        op((*_DEPS, "nfsServerProvisioner"), False),
        op((*_DEPS, "mysql"), False, conflict=MYSQL_DEP),
    ),
    upstream=(
        up((*_DEPS, "mysql"), ABSENT, conflict=MYSQL_DEP),
        up((*_DEPS, "cluster_mysql"), True),
        up((*_AM, "ingress", "websocket", "hostname"), "websocket.am.wso2.com"),
        up((*_AM, "db", "type"), "mysql"),
        up((*_AM, "db", "apim", "username"), "wso2carbon"),
        up((*_AM, "db", "apim_shared", "url"), PRESENT),
    ),
    conflicts=(MYSQL_DEP,),
)


# 14 · docker-apim docker-compose.yml 3.2 → 4.0 (analytics services dropped) --------------------


def compose_14_ours(base: bytes) -> bytes:
    return (
        base.replace(b"MYSQL_ROOT_PASSWORD: root", b"MYSQL_ROOT_PASSWORD: Ch4ngeMe")
        .replace(b'      - "8243:8243"\n', b'      - "8243:8243"\n      - "9763:9763"\n')
        .replace(
            b"      start_period: 180s\n      retries: 20",
            b"      start_period: 300s\n      retries: 30",
        )
        .replace(
            b"    build: ./dockerfiles/apim\n",
            b"    build: ./dockerfiles/apim\n    restart: unless-stopped\n",
        )
    )


def ours_14(base: bytes) -> bytes:
    return (
        compose_14_ours(base)
        .replace(b"image: mysql:5.7.31", b"image: mysql:8.0.36")
        .replace(b'      - "9643:9643"', b'      - "19643:9643"')
    )


_SVC = ("services",)
DASHBOARD = "services.am-analytics-dashboard"

S14 = Scenario(
    pair="14",
    directory="14-docker-compose-analytics-yml-3.2-to-4.0",
    fmt="yaml",
    customise=ours_14,
    summary="root password, extra port, health check, restart policy, MySQL 8, dashboard port",
    operator=(
        op((*_SVC, "mysql", "environment", "MYSQL_ROOT_PASSWORD"), "Ch4ngeMe"),
        op((*_SVC, "api-manager", "ports"), Contains("9763:9763")),
        op((*_SVC, "api-manager", "healthcheck", "start_period"), "300s"),
        op((*_SVC, "api-manager", "healthcheck", "retries"), 30),
        op((*_SVC, "api-manager", "restart"), "unless-stopped"),
        op((*_SVC, "mysql", "image"), "mysql:8.0.36", conflict="services.mysql.image"),
        op((*_SVC, "am-analytics-dashboard", "ports"), ["19643:9643"], conflict=DASHBOARD),
    ),
    upstream=(
        up((*_SVC, "mysql", "image"), "mysql:5.7.34", conflict="services.mysql.image"),
        up((*_SVC, "am-analytics-dashboard"), ABSENT, conflict=DASHBOARD),
        up((*_SVC, "am-analytics-worker"), ABSENT),
        up((*_SVC, "api-manager", "depends_on"), {"mysql": {"condition": "service_healthy"}}),
    ),
    conflicts=("services.mysql.image", DASHBOARD),
)


# 15 · Identity Server infer.json 6.1 → 7.0 ----------------------------------------------------

INFER_DB_REGEX = '["user_store.type"].database["user_store.properties.UsernameJavaRegEx"]'
_STORES = ("user_store.type",)
_REGEX = "user_store.properties.UsernameJavaRegEx"
_PARAMS = (
    "authenticationendpoint.enable_url_parameter_filtering",
    "true",
    "authentication.endpoint.redirect_params.parameters",
)


def ours_15(base: bytes) -> bytes:
    data = json.loads(base)
    stores = data["user_store.type"]
    stores["database"][_REGEX] = "^[\\w]{3,30}$"  # upstream changed it too: conflict
    stores["read_only_ldap"][_REGEX] = "^[a-z]{3,30}$"
    data[_PARAMS[0]][_PARAMS[1]][_PARAMS[2]].append("lang")
    return json.dumps(data, indent=4).encode() + b"\n"


S15 = Scenario(
    pair="15",
    directory="15-is-infer-json-6.1-to-7.0",
    fmt="json",
    customise=ours_15,
    summary="user-name rules of two stores, one more redirect parameter, re-serialised",
    operator=(
        op((*_STORES, "database", _REGEX), "^[\\w]{3,30}$", conflict=INFER_DB_REGEX),
        op((*_STORES, "read_only_ldap", _REGEX), "^[a-z]{3,30}$"),
        op(_PARAMS, Contains("lang")),
    ),
    upstream=(
        up((*_STORES, "database", _REGEX), "^[^\\s*?%]{3,50}$", conflict=INFER_DB_REGEX),
        up((*_STORES, "database_unique_id", _REGEX), "^[^\\s*?%]{3,50}$"),
        up(("resident_idp.enable", "true", "server.hide_menu_items"), Contains("claim_mgt_menu")),
    ),
    conflicts=(INFER_DB_REGEX,),
)


def one_sided(
    facts: tuple[Fact, ...], *, drop: tuple[str, ...] = (), keep: tuple[str, ...] = ()
) -> tuple[Fact, ...]:
    """`facts` with their conflicts dropped but those in `keep` (`drop`: leave out the
    facts of these): the same upstream change is one-sided where the operator left it alone."""
    return tuple(
        f if f.conflict in keep else replace(f, conflict=None)
        for f in facts
        if f.conflict not in drop
    )


# 16-18 · API-M deployment.toml 3.2 → 4.0 → 4.1 → 4.2 (the all-in-one distribution's default) ---
# One operator customises every release the same way: hostname, port offset, MySQL for both
# databases (with a note), an own TLS keystore.

MYSQL_SHARED = "jdbc:mysql://db.example.com:3306/shared_db?useSSL=false"
_H2_APIM = "jdbc:h2:./repository/database/WSO2AM_DB;AUTO_SERVER=TRUE;DB_CLOSE_ON_EXIT=FALSE"
_H2_SHARED = "jdbc:h2:./repository/database/WSO2SHARED_DB;DB_CLOSE_ON_EXIT=FALSE"
_DB_NOTE = "# MySQL 8 on db.example.com, managed by the DBA team"


def apim_toml_operator(base: bytes, h2_apim: str = _H2_APIM) -> bytes:
    return edit(
        base,
        ('[server]\nhostname = "localhost"', '[server]\nhostname = "apim.example.com"'),
        ("#offset=0\n", "offset=1\n"),
        (
            f'[database.apim_db]\ntype = "h2"\nurl = "{h2_apim}"\n'
            'username = "wso2carbon"\npassword = "wso2carbon"',
            f'{_DB_NOTE}\n[database.apim_db]\ntype = "mysql"\nurl = "{MYSQL_APIM}"\n'
            'username = "apimadmin"\npassword = "Db-S3cret"',
        ),
        (
            f'[database.shared_db]\ntype = "h2"\nurl = "{_H2_SHARED}"',
            f'[database.shared_db]\ntype = "mysql"\nurl = "{MYSQL_SHARED}"',
        ),
        (
            '[keystore.tls]\nfile_name =  "wso2carbon.jks"\ntype =  "JKS"\n'
            'password =  "wso2carbon"\nalias =  "wso2carbon"\nkey_password =  "wso2carbon"',
            '[keystore.tls]\nfile_name =  "apim-tls.jks"\ntype =  "JKS"\n'
            'password =  "Tls-S3cret"\nalias =  "wso2carbon"\nkey_password =  "Tls-S3cret"',
        ),
    )


APIM_TOML_OPERATOR = (
    op(("server", "hostname"), "apim.example.com"),
    op(("server", "offset"), 1),
    op(("database", "apim_db", "type"), "mysql"),
    op(("database", "apim_db", "url"), MYSQL_APIM),
    op(("database", "apim_db", "username"), "apimadmin"),
    op(("database", "apim_db", "password"), "Db-S3cret"),
    op(("database", "shared_db", "type"), "mysql"),
    op(("database", "shared_db", "url"), MYSQL_SHARED),
    op(("keystore", "tls", "file_name"), "apim-tls.jks"),
    op(("keystore", "tls", "password"), "Tls-S3cret"),
    op(("keystore", "tls", "key_password"), "Tls-S3cret"),
    op_comment(f"{_DB_NOTE}\n[database.apim_db]\n"),
)

NODE_IP = "server.node_ip"
CORS_HEADERS = "apim.cors.allow_headers"
_CORS_BASE = ["authorization", "Access-Control-Allow-Origin", "Content-Type", "SOAPAction"]
OLD_ENV = ("apim", "gateway", "environment", Where("name", "Production and Sandbox"))


def ours_16(base: bytes) -> bytes:
    return edit(
        apim_toml_operator(base),
        ('node_ip = "127.0.0.1"', 'node_ip = "10.0.0.5"'),
        ('"apikey", "testKey"]', '"apikey", "testKey", "X-Tenant"]'),
    )


def ours_16_analytics(base: bytes) -> bytes:
    """The 3.2 operator turned the (commented-out) analytics on; the rest stays commented."""
    return edit(
        base,
        (
            '#[apim.analytics]\n#enable = false\n#store_api_url = "https://localhost:7444"\n',
            '[apim.analytics]\nenable = true\nstore_api_url = "https://analytics.example.com:7444"\n',
        ),
    )


def ours_16_endpoints(base: bytes) -> bytes:
    """The operator points the gateway environment (renamed upstream) at its own host."""
    return edit(
        base,
        ('ws_endpoint = "ws://localhost:9099"', 'ws_endpoint = "ws://gw.example.com:9099"'),
        ('wss_endpoint = "wss://localhost:8099"', 'wss_endpoint = "wss://gw.example.com:8099"'),
    )


_ANALYTICS_4 = {
    "enable": False,
    "config_endpoint": "https://localhost:8080/auth/v1",
    "auth_token": "",
}

UP16 = (
    up(("server", "node_ip"), ABSENT, conflict=NODE_IP),
    up(("server", "mode"), ABSENT),
    up(OLD_ENV, ABSENT),  # renamed: the entry keeps its settings under the new name
    up((*ENV, "type"), "hybrid"),
    up((*ENV, "service_url"), "https://localhost:${mgt.transport.https.port}/services/"),
    up((*ENV, "websub_event_receiver_http_endpoint"), "http://localhost:9021"),
    up((*ENV, "websub_event_receiver_https_endpoint"), "https://localhost:8021"),
    up(("apim", "sync_runtime_artifacts", "gateway", "gateway_labels"), ["Default"]),
    up(("apim", "analytics"), _ANALYTICS_4),
    up_comment(  # the documented 3.x analytics blocks are gone
        absent=(
            '#username = "$ref{super_admin.username}"\n#password = "$ref{super_admin.password}"\n'
            '#event_publisher_type = "default"',
            "#publish_response_size = true",
            "#[[apim.analytics.url_group]]",
            '#analytics_url =["tcp://analytics1:7611","tcp://analytics2:7611"]',
        )
    ),
    up_comment(
        "#enable_anonymous_mode=true\n#enable_cross_tenant_subscriptions = true\n"
        '#default_reserved_username = "apim_reserved_user"\n'
    ),
    up(
        ("apim", "cors", "allow_headers"),
        [*_CORS_BASE, "apikey", "Internal-Key"],
        conflict=CORS_HEADERS,
    ),
)

S16 = Scenario(
    pair="16",
    directory="16-apim-deployment-toml-3.2-to-4.0",
    fmt="toml",
    customise=ours_16,
    summary="hostname, offset, MySQL, TLS keystore, node IP (removed upstream), CORS header",
    operator=(
        *APIM_TOML_OPERATOR,
        op(("server", "node_ip"), "10.0.0.5", conflict=NODE_IP),
        op(
            ("apim", "cors", "allow_headers"),
            [*_CORS_BASE, "apikey", "testKey", "X-Tenant"],
            conflict=CORS_HEADERS,
        ),
    ),
    upstream=UP16,
    conflicts=(NODE_IP, CORS_HEADERS),
)


def ours_17(base: bytes) -> bytes:
    """Own primary keystore (the commented block made live), analytics endpoint, a header
    appended to the last table of the file."""
    ours = edit(
        apim_toml_operator(base),
        (
            '#[keystore.primary]\n#file_name =  "wso2carbon.jks"\n#type =  "JKS"\n'
            '#password =  "wso2carbon"\n#alias =  "wso2carbon"\n#key_password =  "wso2carbon"',
            '[keystore.primary]\nfile_name =  "apim-primary.jks"\ntype =  "JKS"\n'
            'password =  "Prim-S3cret"\nalias =  "wso2carbon"\nkey_password =  "Prim-S3cret"',
        ),
        (
            'config_endpoint = "https://localhost:8080/auth/v1"',
            'config_endpoint = "https://analytics.example.com/auth/v1"',
        ),
    )
    return ours + b"\n'header.X-WSO2-Tenant' = \"carbon.super\""


ANALYTICS_ENDPOINT = "apim.analytics.config_endpoint"
_LISTENER = ("event_listener", Where("id", "token_revocation"), "properties")

UP17 = (
    # its own paragraph between the TLS and the primary keystore, not inside a table
    up_comment('\n\n#[keystore.listener_profile]\n#bind_address = "0.0.0.0"\n\n'),
    up((*ENV, "provider"), "wso2"),
    up(("apim", "analytics", "config_endpoint"), ABSENT, conflict=ANALYTICS_ENDPOINT),
    up(
        ("oauth", "grant_type", "token_exchange"),
        {"enable": True, "allow_refresh_tokens": True, "iat_validity_period": "1h"},
    ),
)

S17 = Scenario(
    pair="17",
    directory="17-apim-deployment-toml-4.0-to-4.1",
    fmt="toml",
    customise=ours_17,
    summary="as 16, primary keystore uncommented, analytics endpoint, a key on the last table",
    operator=(
        *APIM_TOML_OPERATOR,
        op(("keystore", "primary", "file_name"), "apim-primary.jks"),
        op(("keystore", "primary", "password"), "Prim-S3cret"),
        op(("keystore", "primary", "alias"), "wso2carbon"),
        op(
            ("apim", "analytics", "config_endpoint"),
            "https://analytics.example.com/auth/v1",
            conflict=ANALYTICS_ENDPOINT,
        ),
        op((*_LISTENER, "header.X-WSO2-Tenant"), "carbon.super"),
    ),
    upstream=UP17,
    conflicts=(ANALYTICS_ENDPOINT,),
)

_KM_URL = "https://km.example.com:9443/services/"
KM_SUBSCRIPTION = "apim.key_manager.enable_apikey_subscription_validation"
KM_SUB = ("apim", "key_manager", "enable_apikey_subscription_validation")


def ours_18(base: bytes) -> bytes:
    """As 16, and an external key manager: the documented block made live by hand."""
    return edit(
        apim_toml_operator(base),
        (
            '#[apim.key_manager]\n#service_url = "https://localhost:${mgt.transport.https.port}'
            '/services/"\n#username = "$ref{super_admin.username}"\n',
            f'[apim.key_manager]\nservice_url = "{_KM_URL}"\n'
            'username = "$ref{super_admin.username}"\n',
        ),
    )


def ours_18_subscription(base: bytes) -> bytes:
    """The operator made the key-manager table live with the key upstream added, set off."""
    return edit(
        base,
        (
            "#[apim.key_manager]\n",
            "[apim.key_manager]\nenable_apikey_subscription_validation = false\n",
        ),
    )


UP18 = (up(("apim", "key_manager", "enable_apikey_subscription_validation"), True),)

S18 = Scenario(
    pair="18",
    directory="18-apim-deployment-toml-4.1-to-4.2",
    fmt="toml",
    customise=ours_18,
    summary="as 16, key manager block uncommented by hand (upstream uncommented its header)",
    operator=(
        *APIM_TOML_OPERATOR,
        op(("apim", "key_manager", "service_url"), _KM_URL),
        op(("apim", "key_manager", "username"), "$ref{super_admin.username}"),
    ),
    upstream=UP18,
    conflicts=(),
)


# 19 · API-M 4.2 → 4.3 log4j2.properties --------------------------------------------------------

_ACME_NOTE = "# acme: the payments team's own logger"
_METRICS = "appender.APIM_METRICS_APPENDER"


def ours_19(base: bytes) -> bytes:
    ours = edit(
        base,
        (
            "appender.CARBON_LOGFILE.fileName = ${sys:carbon.home}/repository/logs/wso2carbon.log",
            "appender.CARBON_LOGFILE.fileName = /var/log/wso2/wso2carbon.log",
        ),
        (
            "appender.CARBON_LOGFILE.policies.size.size = 10MB",
            "appender.CARBON_LOGFILE.policies.size.size = 100MB",
        ),
        ("rootLogger.level = ERROR", "rootLogger.level = WARN"),
        ("correlation, API_LOG\n", "correlation, API_LOG, acme\n"),
    )
    return (
        ours + f"\n{_ACME_NOTE}\nlogger.acme.name = com.acme\nlogger.acme.level = DEBUG\n".encode()
    )


def ours_19_reformatted(base: bytes) -> bytes:
    """The operator's tool rewrote every `key = value` as `key=value`; one real change."""
    ours = re.sub(rb"(?m)^([\w.-]+) = ", rb"\1=", base)
    return edit(
        ours,
        (
            "appender.CARBON_LOGFILE.policies.size.size=10MB",
            "appender.CARBON_LOGFILE.policies.size.size=100MB",
        ),
    )


_ERROR_PATTERN = "appender.ERROR_LOGFILE.layout.pattern"
_CALLHOME = "logger.wso2-callhome.level"


def ours_19_callhome(base: bytes) -> bytes:
    """The operator debugs call-home (removed upstream) and re-shapes the error log lines."""
    return edit(
        base,
        ("logger.wso2-callhome.level = INFO", "logger.wso2-callhome.level = DEBUG"),
        (
            "appender.ERROR_LOGFILE.layout.pattern = %d{ISO8601} [%X{ip}-%X{host}] [%t] %5p %c{1} %m%n",
            "appender.ERROR_LOGFILE.layout.pattern = %d{ISO8601} [%t] %5p %c %m%n",
        ),
    )


UP19 = (
    up("appenders", Contains("APIM_METRICS_APPENDER")),
    *(
        up(f"{_METRICS}.{key}", value)
        for key, value in (
            ("type", "RollingFile"),
            ("name", "APIM_METRICS_APPENDER"),
            ("fileName", "${sys:carbon.home}/repository/logs/apim_metrics.log"),
            (
                "filePattern",
                "${sys:carbon.home}/repository/logs/apim_metrics-%d{MM-dd-yyyy}-%i.log",
            ),
            ("layout.type", "PatternLayout"),
            ("layout.pattern", "%d{HH:mm:ss,SSS} [%X{ip}-%X{host}] [%t] %5p %c{1} %m%n"),
            ("policies.type", "Policies"),
            ("policies.time.type", "TimeBasedTriggeringPolicy"),
            ("policies.time.interval", "1"),
            ("policies.time.modulate", "true"),
            ("policies.size.type", "SizeBasedTriggeringPolicy"),
            ("policies.size.size", "1000MB"),
            ("strategy.type", "DefaultRolloverStrategy"),
            ("strategy.max", "10"),
        )
    ),
    up("loggers", Contains("reporter"), conflict="loggers"),
    up("logger.reporter.name", "org.wso2.am.analytics.publisher.reporter.elk"),
    up("logger.reporter.level", "INFO"),
    up("logger.reporter.additivity", "false"),
    up("logger.reporter.appenderRef.APIM_METRICS_APPENDER.ref", "APIM_METRICS_APPENDER"),
    up("logger.wso2-callhome.name", ABSENT),
    up(_CALLHOME, ABSENT, conflict=_CALLHOME),
    up(_ERROR_PATTERN, "%d{ISO8601} [%X{ip}-%X{host}] [%t] %5p {%c} %m%n", conflict=_ERROR_PATTERN),
)

S19 = Scenario(
    pair="19",
    directory="19-apim-log4j2-properties-4.2-to-4.3",
    fmt="properties",
    customise=ours_19,
    summary="log file path and size, root level, an own logger added to the loggers list",
    operator=(
        op("appender.CARBON_LOGFILE.fileName", "/var/log/wso2/wso2carbon.log"),
        op("appender.CARBON_LOGFILE.policies.size.size", "100MB"),
        op("rootLogger.level", "WARN"),
        op("logger.acme.name", "com.acme"),
        op("logger.acme.level", "DEBUG"),
        op("loggers", Contains("acme"), conflict="loggers"),
        op_comment(f"\n{_ACME_NOTE}\nlogger.acme.name"),
    ),
    upstream=one_sided(UP19, keep=("loggers",)),
    conflicts=("loggers",),
)


# 20 · helm-apim all-in-one values.yaml, chart 4.3.0 → 4.4.0 ----------------------------------

_K8S = ("kubernetes",)
_APIM = ("wso2", "apim")
_CONF = ("wso2", "apim", "configurations")
RUN_AS_USER = "kubernetes.securityContext.runAsUser"
_VALUES_NOTE = "        # prod: Amazon RDS for MySQL, credentials from the vault"


def helm_operator(base: bytes) -> bytes:
    """Ingress hosts, MySQL (with a note), the keystore secret and an own TLS keystore."""
    return edit(
        base,
        ('hostname: "am.wso2.com"', 'hostname: "apim.example.com"'),
        ('hostname: "gw.wso2.com"', 'hostname: "gw.example.com"'),
        (
            '        # -- Database type. eg: mysql, oracle, mssql, postgres\n        type: ""\n'
            '        jdbc:\n          # -- JDBC driver class name\n          driver: ""',
            f"{_VALUES_NOTE}\n"
            '        # -- Database type. eg: mysql, oracle, mssql, postgres\n        type: "mysql"\n'
            "        jdbc:\n          # -- JDBC driver class name\n"
            '          driver: "com.mysql.cj.jdbc.Driver"',
        ),
        (
            '          # -- APIM APIMDB URL\n          url: ""\n'
            '          # -- APIM APIMDB username\n          username: ""',
            f'          # -- APIM APIMDB URL\n          url: "{MYSQL_APIM}"\n'
            '          # -- APIM APIMDB username\n          username: "apimadmin"',
        ),
        (
            '          # -- APIM SharedDB URL\n          url: ""',
            f'          # -- APIM SharedDB URL\n          url: "{MYSQL_SHARED}"',
        ),
        ('        jksSecretName: ""', '        jksSecretName: "apim-keystores"'),
        (
            '            # -- TLS keystore name\n            name: "wso2carbon.jks"',
            '            # -- TLS keystore name\n            name: "apim-tls.jks"',
        ),
        (
            '            # -- TLS keystore password\n            password: "wso2carbon"',
            '            # -- TLS keystore password\n            password: "Tls-S3cret"',
        ),
    )


def ours_20(base: bytes) -> bytes:
    """As every Helm operator, and the container's user set by the cluster's policy."""
    return edit(helm_operator(base), ("    runAsUser: 802\n", "    runAsUser: 1000\n"))


def ours_20_reindented(base: bytes) -> bytes:
    """The operator's YAML tool re-indented the file to 4 spaces; one real change."""
    y = YAML()
    y.allow_duplicate_keys = True  # the chart repeats `memory:` under jvm (the second wins)
    y.indent(mapping=4, sequence=6, offset=4)
    y.width = 4096
    doc = y.load(base)
    doc["wso2"]["deployment"]["resources"]["limits"]["memory"] = "4Gi"
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue().encode()


HELM_OPERATOR = (
    op((*_K8S, "ingress", "management", "hostname"), "apim.example.com"),
    op((*_K8S, "ingress", "gateway", "hostname"), "gw.example.com"),
    op((*_CONF, "databases", "type"), "mysql"),
    op((*_CONF, "databases", "jdbc", "driver"), "com.mysql.cj.jdbc.Driver"),
    op((*_CONF, "databases", "apim_db", "url"), MYSQL_APIM),
    op((*_CONF, "databases", "apim_db", "username"), "apimadmin"),
    op((*_CONF, "databases", "shared_db", "url"), MYSQL_SHARED),
    op((*_CONF, "security", "jksSecretName"), "apim-keystores"),
    op((*_CONF, "security", "keystores", "tls", "name"), "apim-tls.jks"),
    op((*_CONF, "security", "keystores", "tls", "password"), "Tls-S3cret"),
    op_comment(f"{_VALUES_NOTE}\n        # -- Database type."),
)

UP20 = (
    up((*_K8S, "securityContext", "runAsUser"), 10001, conflict=RUN_AS_USER),
    up((*_K8S, "securityContext", "runAsGroup"), 10001),
    up((*_APIM, "version"), "4.4.0"),
    up((*_APIM, "portOffset"), 0),
    up((*_APIM, "mountStartupScript"), False),
    up_comment(
        "    # -- Port Offset for APIM deployment\n    portOffset: 0\n"
        "    # -- Startup script mount status\n    mountStartupScript: false\n"
    ),
    up((*_CONF, "ai"), {"enabled": False, "token": "", "endpoint": ""}),
    up_comment("      # -- APIM AI related configurations\n      ai:\n"),
    up(
        (*_CONF, "keyManager"),
        {"enableLightweightAPIKeyGeneration": True, "allowSubscriptionValidationDisabling": True},
    ),
    up((*_CONF, "transactionCounter"), {"enabled": False, "serverId": "Gateway"}),
)

S20 = Scenario(
    pair="20",
    directory="20-helm-all-in-one-values-yaml-4.3-to-4.4",
    fmt="yaml",
    customise=ours_20,
    summary="ingress hosts, MySQL, keystore secret and TLS keystore, container user (changed upstream)",
    operator=(
        *HELM_OPERATOR,
        op((*_K8S, "securityContext", "runAsUser"), 1000, conflict=RUN_AS_USER),
    ),
    upstream=UP20,
    conflicts=(RUN_AS_USER,),
)


# 21 · API-M 4.3 → 4.4 deployment.toml ----------------------------------------------------------

_H2_APIM_43 = "jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE"
AI_ENDPOINT = "apim.ai.endpoint"
_TX_HEADER_OLD = "#[integration.transaction_counter]\n"
_TX_HEADER_NEW = "#[apim.transaction_counter]\n"


def ours_21(base: bytes) -> bytes:
    """As 16 (4.3 has a shorter H2 URL), and the AI features pointed at an own service."""
    return edit(
        apim_toml_operator(base, _H2_APIM_43),
        ('[apim.ai]\nenable = true\ntoken = ""\nendpoint = ""', '[apim.ai]\nenable = true\n'
         'token = "ai-t0ken"\nendpoint = "https://ai.example.com/v1"'),
    )  # fmt: skip


def ours_21_subscription(base: bytes) -> bytes:
    """Subscription validation kept off (upstream removed the key); the documented
    transaction-counter block edited next to the header upstream renamed."""
    return edit(
        base,
        (
            "enable_apikey_subscription_validation = true",
            "enable_apikey_subscription_validation = false",
        ),
        ('#server_id = "Gateway1"', '#server_id = "GW-prod-1"'),
    )


UP21 = (
    up(("apim", "ai", "endpoint"), ABSENT, conflict=AI_ENDPOINT),
    up(KM_SUB, ABSENT, conflict=KM_SUBSCRIPTION),
    up(("apim", "key_manager", "enable_lightweight_apikey_generation"), True),
    up_comment(
        "\n\n" + _TX_HEADER_NEW + "#enable = true\n",
        absent=(_TX_HEADER_OLD,),
    ),
)

S21 = Scenario(
    pair="21",
    directory="21-apim-deployment-toml-4.3-to-4.4",
    fmt="toml",
    customise=ours_21,
    summary="as 16, AI token and endpoint (the endpoint removed upstream)",
    operator=(
        *APIM_TOML_OPERATOR,
        op(("apim", "ai", "token"), "ai-t0ken"),
        op(("apim", "ai", "endpoint"), "https://ai.example.com/v1", conflict=AI_ENDPOINT),
    ),
    upstream=one_sided(UP21, keep=(AI_ENDPOINT,)),
    conflicts=(AI_ENDPOINT,),
)


# 22 · API-M 4.0 → 4.1 log4j2.properties (upstream re-spaced many lines) ------------------------

_CARBON_PATTERN = "appender.CARBON_LOGFILE.filePattern"
_API_APPENDER = "appender.API_LOGFILE"
_OPS_NOTE = "# ops: these files are also rotated by logrotate"
_BOT_ADDITIVITY = "logger.org-wso2-carbon-apimgt-gateway-mediators-BotDetectionMediator.additivity"


def ours_22(base: bytes) -> bytes:
    """Logs under /var/log (a line upstream changed, two it only re-spaced), bigger files,
    root level, a note."""
    return edit(
        base,
        (
            "appender.CARBON_LOGFILE.type = RollingFile\n",
            f"{_OPS_NOTE}\nappender.CARBON_LOGFILE.type = RollingFile\n",
        ),
        (
            "appender.CARBON_LOGFILE.fileName = ${sys:carbon.home}/repository/logs/wso2carbon.log",
            "appender.CARBON_LOGFILE.fileName = /var/log/wso2/wso2carbon.log",
        ),
        (
            "appender.CARBON_LOGFILE.filePattern = ${sys:carbon.home}/repository/logs/"
            "wso2carbon-%d{MM-dd-yyyy}.log",
            "appender.CARBON_LOGFILE.filePattern = /var/log/wso2/wso2carbon-%d{MM-dd-yyyy}.log",
        ),
        (
            "appender.CARBON_LOGFILE.policies.size.size=10MB",
            "appender.CARBON_LOGFILE.policies.size.size=50MB",
        ),
        (
            "appender.CORRELATION.fileName =${sys:carbon.home}/repository/logs/correlation.log",
            "appender.CORRELATION.fileName =/var/log/wso2/correlation.log",
        ),
        ("rootLogger.level = ERROR", "rootLogger.level = WARN"),
    )


def ours_22_reformatted(base: bytes) -> bytes:
    """The operator's tool rewrote every `key = value` as `key=value` (upstream went the
    other way on some lines); one real change."""
    ours = re.sub(rb"(?m)^([\w.-]+) = ", rb"\1=", base)
    return edit(ours, ("rootLogger.level=ERROR", "rootLogger.level=WARN"))


UP22 = (
    up("appenders", Contains("API_LOGFILE")),
    up(
        _CARBON_PATTERN,
        "${sys:carbon.home}/repository/logs/wso2carbon-%d{MM-dd-yyyy}-%i.log",
        conflict=_CARBON_PATTERN,
    ),
    *(
        up(f"{_API_APPENDER}.{key}", value)
        for key, value in (
            ("type", "RollingFile"),
            ("name", "API_LOGFILE"),
            ("fileName", "${sys:carbon.home}/repository/logs/api.log"),
            ("filePattern", "${sys:carbon.home}/repository/logs/api-%d{MM-dd-yyyy}-%i.log"),
            ("layout.type", "PatternLayout"),
            ("layout.pattern", "[%d] %5p {%c} %X{apiName} - %m%ex%n"),
            ("policies.type", "Policies"),
            ("policies.time.type", "TimeBasedTriggeringPolicy"),
            ("policies.time.interval", "1"),
            ("policies.time.modulate", "true"),
            ("policies.size.type", "SizeBasedTriggeringPolicy"),
            ("policies.size.size", "10MB"),
            ("strategy.type", "DefaultRolloverStrategy"),
            ("strategy.max", "20"),
            ("filter.threshold.type", "ThresholdFilter"),
            ("filter.threshold.level", "DEBUG"),
        )
    ),
    up_comment("\n# Appender config API logging\nappender.API_LOGFILE.type"),
    up("loggers", Contains("API_LOG")),
    up("logger.API_LOG.name", "API_LOG"),
    up("logger.API_LOG.level", "INFO"),
    up("logger.API_LOG.appenderRef.API_LOGFILE.ref", "API_LOGFILE"),
    up("logger.API_LOG.additivity", "false"),
    up("logger.trace.name", "tracer"),
    up(_BOT_ADDITIVITY, "false"),  # was "false " (a trailing blank is part of the value)
    up_comment(
        "\n# Following are to remove false error messages from startup (IS)\n",
        "\n# Hive Related Log configurations\n",
        absent=("#Following are", "#Hive Related"),
    ),
)

S22 = Scenario(
    pair="22",
    directory="22-apim-log4j2-properties-4.0-to-4.1",
    fmt="properties",
    customise=ours_22,
    summary="logs under /var/log (one line changed upstream too, two only re-spaced), size, level",
    operator=(
        op("appender.CARBON_LOGFILE.fileName", "/var/log/wso2/wso2carbon.log"),
        op(
            _CARBON_PATTERN,
            "/var/log/wso2/wso2carbon-%d{MM-dd-yyyy}.log",
            conflict=_CARBON_PATTERN,
        ),
        op("appender.CARBON_LOGFILE.policies.size.size", "50MB"),
        op("appender.CORRELATION.fileName", "/var/log/wso2/correlation.log"),
        op("rootLogger.level", "WARN"),
        op_comment(f"\n{_OPS_NOTE}\nappender.CARBON_LOGFILE.type"),
    ),
    upstream=(
        *UP22,
        # lines upstream only re-spaced and the operator left alone read as upstream wrote them
        up_layout(
            "\nappender.AUDIT_LOGFILE.policies.size.size = 10MB\n",
            "\nappender.ERROR_LOGFILE.fileName = ${sys:carbon.home}/repository/logs/"
            "wso2-apigw-errors.log\n",
        ),
    ),
    conflicts=(_CARBON_PATTERN,),
)


# 23 · helm-apim all-in-one values.yaml, chart 4.4.0 → 4.5.0 ----------------------------------

GATEWAY_TYPE = "wso2.apim.configurations.gatewayType"


def ours_23(base: bytes) -> bytes:
    """As 20 (no container user), gateway types, the AI service and transaction counter on."""
    ours = edit(
        helm_operator(base),
        ('      gatewayType: "Regular"\n      userStore:', '      gatewayType: "Regular,APK"\n      userStore:'),
        ('        enabled: false\n        token: ""\n        endpoint: ""',
         '        enabled: true\n        token: "ai-t0ken"\n        endpoint: "https://ai.example.com/v1"'),
        ('        enabled: false\n        serverId: "Gateway"',
         '        enabled: true\n        serverId: "GW-prod"'),
    )  # fmt: skip
    return ours


UP23 = (
    up((*_APIM, "version"), "4.5.0"),
    up((*_APIM, "mountFrontendConfig"), False),
    up_comment("    # -- Frontend settings.json mount status\n    mountFrontendConfig: false\n"),
    up((*_CONF, "gatewayType"), "Regular,APK,AWS", conflict=GATEWAY_TYPE),
    up((*_CONF, "ai", "key"), ""),
    up((*_CONF, "ai", "token_endpoint"), ""),
    up((*_CONF, "gateway", "environments", Where("name", "Default"), "visibility"), None),
    up_layout(
        '          provider: "wso2"\n          visibility:\n          displayInApiConsole: true\n'
    ),
    up((*_CONF, "publisher", "enable_api_doc_visibility"), False),
    up((*_CONF, "transactionCounter", "serverURL"), ""),
    up(
        (*_CONF, "governance"),
        {
            "scheduler": {
                "thread_pool_size": "",
                "queue_size": "",
                "task_check_interval_minutes": "",
                "task_cleanup_interval_minutes": "",
            }
        },
    ),
    up((*_CONF, "sdk", "supportedLanguages"), Contains("swift5")),
    up_layout(
        '        supportedLanguages: ["android", "java", "csharp", "dart", "groovy", "javascript",'
        ' "jmeter", "perl", "php", "python", "ruby", "swift5", "clojure"]\n'
    ),
    up(
        (*_CONF, "organization_based_access_control"),
        {
            "enabled": True,
            "organization_name_local_claim": "http://wso2.org/claims/organization",
            "organization_id_local_claim": "http://wso2.org/claims/organizationId",
        },
    ),
    up_comment(
        "        # -- Override the default values of governance.scheduler if any value exists\n",
        "      # APIM SDK configurations\n      sdk:\n",
        "      # Organization level access control configurations\n",
    ),
)

S23 = Scenario(
    pair="23",
    directory="23-helm-all-in-one-values-yaml-4.4-to-4.5",
    fmt="yaml",
    customise=ours_23,
    summary="as 20, gateway types (changed upstream), AI service, transaction counter",
    operator=(
        *HELM_OPERATOR,
        op((*_CONF, "gatewayType"), "Regular,APK", conflict=GATEWAY_TYPE),
        op((*_CONF, "ai", "enabled"), True),
        op((*_CONF, "ai", "token"), "ai-t0ken"),
        op((*_CONF, "ai", "endpoint"), "https://ai.example.com/v1"),
        op((*_CONF, "transactionCounter", "enabled"), True),
        op((*_CONF, "transactionCounter", "serverId"), "GW-prod"),
    ),
    upstream=UP23,
    conflicts=(GATEWAY_TYPE,),
)


# 24 · kubernetes-apim pattern-1 values.yaml 4.2.0.1 → 4.2.0.2 (upstream adds a comment block) ---

_DEP = ("wso2", "deployment")
_MI_BLOCK = (
    "      #  ENV_NAME: ENV_VALUE\n\n"
    "      # Add the customized deployment configurations for the WSO2 MI v4.2.0"
    " (<WSO2MI>/conf/deployment.toml)\n"
    "      # config:\n"
    "      #   deployment.toml: |-\n"
    "      #     # toml configurations for the WSO2 MI v4.2.0\n\n"
    "      # Configure synapse testing.\n"
)


def ours_24(base: bytes) -> bytes:
    """Subscription, external MySQL, ingress hosts, and the Micro Integrator tuned right
    around the place where upstream documents its deployment.toml."""
    return edit(
        base,
        ('    username: ""\n    password: ""', '    username: "ops@example.com"\n    password: "Sup3r$ecret"'),
        ("      cluster_mysql: true", "      cluster_mysql: false  # Amazon RDS"),
        ('hostname: "am.wso2.com"', 'hostname: "apim.example.com"'),
        ('hostname: "gateway.am.wso2.com"', 'hostname: "gw.example.com"'),
        ("        hostname: wso2am-mysql-db-service\n", "        hostname: mysql.example.com\n"),
        ("        apim:\n          username: wso2carbon\n          password: wso2carbon",
         "        apim:\n          username: wso2carbon\n          password: Db-S3cret"),
        ("      # Number of deployment replicas\n      replicas: 2",
         "      # Number of deployment replicas\n      replicas: 3"),
        ("      envs:\n      #  ENV_NAME: ENV_VALUE\n",
         '      envs:\n        JAVA_OPTS: "-Xmx1g"\n      #  ENV_NAME: ENV_VALUE\n'),
        ("      synapseTest:\n        enabled: false", "      synapseTest:\n        enabled: true"),
        ('hostname: "management.mi.wso2.com"', 'hostname: "mi.example.com"'),
    )  # fmt: skip


_AM_TOML = '[server]\nhostname = "apim.example.com"\noffset = 1\n'


def ours_24_am_config(base: bytes) -> bytes:
    """The documented (commented-out) API-M deployment.toml block made live."""
    return edit(
        base,
        (
            "      # config:\n      #   deployment.toml: |-\n      #     # deployment configurations"
            " for the WSO2 API Manager v4.0.0 (<WSO2AM>/repository/conf/deployment.toml)\n",
            "      config:\n        deployment.toml: |-\n"
            '          [server]\n          hostname = "apim.example.com"\n          offset = 1\n',
        ),
    )


UP24 = (up_comment(_MI_BLOCK),)

S24 = Scenario(
    pair="24",
    directory="24-k8s-am-pattern-1-values-yaml-4.2.0.1-to-4.2.0.2",
    fmt="yaml",
    customise=ours_24,
    summary="subscription, external MySQL, ingress hosts, MI replicas, env and tests",
    operator=(
        op(("wso2", "subscription", "username"), "ops@example.com"),
        op(("wso2", "subscription", "password"), "Sup3r$ecret"),
        op((*_DEP, "dependencies", "cluster_mysql"), False),
        op_comment("      cluster_mysql: false  # Amazon RDS\n"),
        op((*_DEP, "am", "ingress", "management", "hostname"), "apim.example.com"),
        op((*_DEP, "am", "ingress", "gateway", "hostname"), "gw.example.com"),
        op((*_DEP, "am", "db", "hostname"), "mysql.example.com"),
        op((*_DEP, "am", "db", "apim", "password"), "Db-S3cret"),
        op((*_DEP, "mi", "replicas"), 3),
        op((*_DEP, "mi", "envs"), {"JAVA_OPTS": "-Xmx1g"}),
        op((*_DEP, "mi", "synapseTest", "enabled"), True),
        op((*_DEP, "mi", "ingress", "management", "hostname"), "mi.example.com"),
    ),
    upstream=UP24,
    conflicts=(),
)


# 25 · Identity Server 5.11 → 6.0 deployment.toml (the default user store becomes JDBC) --------

_USER_STORE_GONE = ("connection_url", "connection_name", "connection_password", "base_dn")
USER_STORE = tuple(f"user_store.{k}" for k in ("type", *_USER_STORE_GONE))
_LDAP = {
    "type": "read_only_ldap_unique_id",
    "connection_url": "ldaps://ldap.corp.example:636",
    "connection_name": "cn=wso2-is,ou=services,dc=corp,dc=example",
    "connection_password": "Ld4p-S3cret",
    "base_dn": "dc=corp,dc=example",
}


def ours_25(base: bytes) -> bytes:
    """The corporate read-only LDAP as user store, hostname, own keystore, MySQL, and the
    documented e-mail adapter made live at the end of the file."""
    ours = edit(
        base,
        ('hostname = "localhost"', 'hostname = "is.example.com"'),
        ('type = "read_write_ldap_unique_id"', f'type = "{_LDAP["type"]}"'),
        ('connection_url = "ldap://localhost:${Ports.EmbeddedLDAP.LDAPServerPort}"',
         f'connection_url = "{_LDAP["connection_url"]}"'),
        ('connection_name = "uid=admin,ou=system"', f'connection_name = "{_LDAP["connection_name"]}"'),
        ('connection_password = "admin"', f'connection_password = "{_LDAP["connection_password"]}"'),
        ('base_dn = "dc=wso2,dc=org"', f'base_dn = "{_LDAP["base_dn"]}"'),
        ('[keystore.primary]\nfile_name = "wso2carbon.jks"\npassword = "wso2carbon"',
         '[keystore.primary]\nfile_name = "is-prod.jks"\npassword = "Ks-S3cret"'),
        ('[database.identity_db]\ntype = "h2"\nurl = "jdbc:h2:./repository/database/WSO2IDENTITY_DB;'
         'DB_CLOSE_ON_EXIT=FALSE;LOCK_TIMEOUT=60000"',
         '[database.identity_db]\ntype = "mysql"\n'
         'url = "jdbc:mysql://db.example.com:3306/identity_db?useSSL=false"'),
    )  # fmt: skip
    return edit(
        ours,
        (
            '#[output_adapter.email]\n#from_address= "abcd@gmail.com"\n#username= "abcd"\n'
            '#password= "xxxx"\n#hostname= "smtp.gmail.com"\n#port= 587',
            '[output_adapter.email]\nfrom_address= "iam@example.com"\nusername= "iam"\n'
            'password= "Sm7p-S3cret"\nhostname= "smtp.example.com"\nport= 587',
        ),
    )


S25 = Scenario(
    pair="25",
    directory="25-is-deployment-toml-5.11-to-6.0",
    fmt="toml",
    customise=ours_25,
    summary="corporate read-only LDAP (upstream dropped the LDAP store), keystore, MySQL, mail",
    operator=(
        op(("server", "hostname"), "is.example.com"),
        *(op(("user_store", k), v, conflict=f"user_store.{k}") for k, v in _LDAP.items()),
        op(("keystore", "primary", "file_name"), "is-prod.jks"),
        op(("keystore", "primary", "password"), "Ks-S3cret"),
        op(("database", "identity_db", "type"), "mysql"),
        op(
            ("database", "identity_db", "url"),
            "jdbc:mysql://db.example.com:3306/identity_db?useSSL=false",
        ),
        op(("output_adapter", "email", "hostname"), "smtp.example.com"),
        op(("output_adapter", "email", "port"), 587),
    ),
    upstream=(
        up(("user_store", "type"), "database_unique_id", conflict=USER_STORE[0]),
        *(up(("user_store", k), ABSENT, conflict=f"user_store.{k}") for k in _USER_STORE_GONE),
        # a documented value corrected inside a commented-out block
        up_comment("#[recaptcha]\n#enabled = true\n#api_url", absent=('#enabled = "true"',)),
    ),
    conflicts=USER_STORE,
)


SCENARIOS: dict[str, Scenario] = {
    s.pair: s
    for s in (
        *(S01, S02, S03, S04, S05, S06, S07, S08, S09, S10, S11, S12, S13, S14, S15),
        *(S16, S17, S18, S19, S20, S21, S22, S23, S24, S25),
    )
}


# -- variants: the same pairs customised another way -------------------------------------------
# Reformatting and re-indenting, values upstream left alone, a store switched off, the same
# key added on both sides. The facts of the main scenario are reused where the variant leaves
# them one-sided: a change that was part of a conflict there is a plain upstream change here.


def ours_13_reindented(base: bytes) -> bytes:
    """The operator's YAML tool re-indented the whole file to 4 spaces; one real change."""
    y = YAML()
    y.indent(mapping=4, sequence=6, offset=4)
    doc = y.load(base)
    doc["wso2"]["deployment"]["am"]["imageTag"] = "4.1.0-hotfix3"
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue().encode()


def ours_01_cache_and_last_table(base: bytes) -> bytes:
    """A commented-out cache section made live, and a key appended to the file's last table
    (upstream appends a commented-out block after it)."""
    ours = edit(
        base,
        (
            '#[apim.cache.gateway_token]\n#enable = true\n#expiry_time = "900s"\n',
            '[apim.cache.gateway_token]\nenable = true\nexpiry_time = "3600s"\n',
        ),
    )
    return ours + b'\nmax_lifetime = "2h"'


def ours_17_reformatted(base: bytes) -> bytes:
    """Every `key = value` rewritten as `key=value`; one real change."""
    ours = re.sub(rb"(?m)^(\w+) =  ?", rb"\1=", base)
    return edit(ours, ('[server]\nhostname="localhost"', '[server]\nhostname="10.0.0.7"'))


AN_ENABLE = "apim.analytics.enable"
_ENV0 = ("apim", "gateway", "environment", 0)
RENAMED_ENV = "apim.gateway.environment[name=Production and Sandbox]"
_LIMITS = ("wso2", "deployment", "resources", "limits")


def ours_16_reformatted(base: bytes) -> bytes:
    """`key = value` rewritten as `key=value`, and a header appended to the last table."""
    ours = re.sub(rb"(?m)^(\w+) =  ?", rb"\1=", base)
    return ours + b"\n'header.X-WSO2-Tenant'=\"carbon.super\""


def ours_19_syslog(base: bytes) -> bytes:
    """Logs to syslog as the file documents: the appender listed, the commented-out root
    reference made live (its typo fixed)."""
    return edit(
        base,
        ("BOTDATA_APPENDER, API_LOGFILE\n", "BOTDATA_APPENDER, API_LOGFILE, CARBON_SYS_LOG\n"),
        (
            "#rootLogger.appenderReg.CARBON_SYS_LOG.ref = CARBON_SYS_LOG",
            "rootLogger.appenderRef.CARBON_SYS_LOG.ref = CARBON_SYS_LOG",
        ),
    )


def ours_21_last_table(base: bytes) -> bytes:
    """A key added at the end of the last table, just above the commented-out block whose
    header upstream renamed."""
    return edit(
        base,
        ('iat_validity_period = "1h"\n', 'iat_validity_period = "1h"\nmax_lifetime = "2h"\n'),
    )


_ENV_PATH = "apim.gateway.environment[name=Default]"
_ENV_CLASH = tuple(f"{_ENV_PATH}.{k}" for k in ("service_url", "http_endpoint", "https_endpoint"))

VARIANTS: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario(
            pair="01",
            variant="b",
            directory=S01.directory,
            fmt="toml",
            customise=ours_01_reformatted,
            summary="every `key = value` rewritten as `key=value`, hostname",
            operator=(
                op(("server", "hostname"), "10.0.0.5"),
                op_layout('[super_admin]\nusername="admin"\npassword="admin"'),
            ),
            upstream=one_sided(S01.upstream),
            conflicts=(),
        ),
        Scenario(
            pair="02",
            variant="b",
            directory=S02.directory,
            fmt="toml",
            customise=ours_02_uncommented_environment,
            summary="the gateway environment uncommented by hand, placeholders kept",
            operator=(
                op((*ENV, "type"), "hybrid"),
                op(
                    (*ENV, "service_url"),
                    "https://localhost:${mgt.transport.https.port}/services/",
                    conflict=_ENV_CLASH[0],
                ),
                op(
                    (*ENV, "http_endpoint"),
                    "http://localhost:${http.nio.port}",
                    conflict=_ENV_CLASH[1],
                ),
                op(
                    (*ENV, "https_endpoint"),
                    "https://localhost:${https.nio.port}",
                    conflict=_ENV_CLASH[2],
                ),
            ),
            upstream=(
                up(("apim", "gateway_type"), "Regular,APK,AWS,Azure,Kong,Envoy"),
                up(
                    (*ENV, "service_url"),
                    "https://localhost:9443/services/",
                    conflict=_ENV_CLASH[0],
                ),
                up((*ENV, "http_endpoint"), "http://localhost:8280", conflict=_ENV_CLASH[1]),
                up((*ENV, "https_endpoint"), "https://localhost:8243", conflict=_ENV_CLASH[2]),
            ),
            conflicts=_ENV_CLASH,
        ),
        Scenario(
            pair="04",
            variant="b",
            directory=S04.directory,
            fmt="xml",
            customise=ours_04_tuned,
            summary="HTTP port and thread pool only",
            operator=(op(f"{_HTTP}/@port", "80"), op(f"{_HTTP}/@maxThreads", "400")),
            upstream=one_sided(S04.upstream),
            conflicts=(),
        ),
        Scenario(
            pair="07",
            variant="b",
            directory=S07.directory,
            fmt="xml",
            customise=ours_07_ldap,
            summary="JDBC user store commented out, read-only LDAP store enabled",
            operator=(
                op(_JDBC, ABSENT, conflict=USER_MGT_JDBC),
                op(
                    "/UserManager/Realm/UserStoreManager"
                    "[@class='org.wso2.carbon.user.core.ldap.ReadOnlyLDAPUserStoreManager']"
                    "/Property[@name='ConnectionURL']",
                    "ldaps://ldap.corp.example:636",
                ),
            ),
            upstream=(
                up(
                    f"{_JDBC}/Property[@name='LeadingOrTrailingSpaceAllowedInUserName']",
                    "false",
                    conflict=USER_MGT_JDBC,
                ),
                up(
                    "/UserManager/Realm/Configuration/OverrideUsernameClaimFromInternalUsername",
                    "true",
                ),
            ),
            conflicts=(USER_MGT_JDBC,),
        ),
        Scenario(
            pair="09",
            variant="b",
            directory=S09.directory,
            fmt="properties",
            customise=ours_09_untouched_by_upstream,
            summary="audit threshold ERROR, console pattern re-spaced",
            operator=(op("appender.AUDIT_LOGFILE.filter.threshold.level", "ERROR"),),
            upstream=one_sided(S09.upstream),
            conflicts=(),
        ),
        Scenario(
            pair="10",
            variant="b",
            directory=S10.directory,
            fmt="properties",
            customise=ours_10_elsewhere,
            summary="log file path, root level WARN with the old line kept as a comment",
            operator=(
                op("appender.CARBON_LOGFILE.fileName", "/logs/" + LOGFILE),
                op("rootLogger.level", "WARN"),
                op_comment("#rootLogger.level = INFO\n"),
            ),
            upstream=one_sided(S10.upstream),
            conflicts=(),
        ),
        Scenario(
            pair="11",
            variant="b",
            directory=S11.directory,
            fmt="json",
            customise=ours_11_reindented,
            summary="re-serialised with tabs and reversed key order, origin host",
            operator=(
                op(("app", "origin", "host"), "gw.internal"),
                op_layout('\n\t"app": {\n\t\t"docUrl"'),
            ),
            upstream=one_sided(S11.upstream),
            conflicts=(),
        ),
        Scenario(
            pair="12",
            variant="b",
            directory=S12.directory,
            fmt="json",
            customise=ours_12_same_key_added,
            summary="the operator added the key upstream added, with another value",
            operator=(
                op(
                    ("ssoConfiguration", "loginUserNameAttribute"),
                    "email",
                    conflict="ssoConfiguration.loginUserNameAttribute",
                ),
            ),
            upstream=tuple(
                replace(f, conflict="ssoConfiguration.loginUserNameAttribute")
                if isinstance(f, Setting) and f.at == ("ssoConfiguration", "loginUserNameAttribute")
                else f
                for f in S12.upstream
            ),
            conflicts=("ssoConfiguration.loginUserNameAttribute",),
        ),
        Scenario(
            pair="13",
            variant="b",
            directory=S13.directory,
            fmt="yaml",
            customise=lambda base: values_13_ours(base, disable_mysql=False),
            summary="as 13 but keeping the in-cluster MySQL",
            operator=one_sided(S13.operator, drop=(MYSQL_DEP,)),
            upstream=one_sided(S13.upstream),
            conflicts=(),
        ),
        Scenario(
            pair="13",
            variant="c",
            directory=S13.directory,
            fmt="yaml",
            customise=ours_13_reindented,
            summary="re-indented to 4 spaces by a YAML tool, image tag",
            operator=(op((*_AM, "imageTag"), "4.1.0-hotfix3"),),
            upstream=one_sided(S13.upstream),
            conflicts=(),
        ),
        Scenario(
            pair="14",
            variant="b",
            directory=S14.directory,
            fmt="yaml",
            customise=compose_14_ours,
            summary="as 14 but leaving the MySQL image and the dashboard alone",
            operator=one_sided(S14.operator, drop=("services.mysql.image", DASHBOARD)),
            upstream=one_sided(S14.upstream),
            conflicts=(),
        ),
        Scenario(
            pair="01",
            variant="c",
            directory=S01.directory,
            fmt="toml",
            customise=ours_01_cache_and_last_table,
            summary="a commented-out cache section made live, a key appended to the last table",
            operator=(
                op(("apim", "cache", "gateway_token"), {"enable": True, "expiry_time": "3600s"}),
                op(("oauth", "grant_type", "token_exchange", "max_lifetime"), "2h"),
            ),
            upstream=one_sided(S01.upstream),
            conflicts=(),
        ),
        Scenario(
            pair="16",
            variant="b",
            directory=S16.directory,
            fmt="toml",
            customise=ours_16_analytics,
            summary="the 3.x analytics section made live (upstream made its own live)",
            operator=(
                op(("apim", "analytics", "enable"), True, conflict=AN_ENABLE),
                op(("apim", "analytics", "store_api_url"), "https://analytics.example.com:7444"),
            ),
            upstream=(
                *(
                    f
                    for f in one_sided(UP16)
                    if not (isinstance(f, Setting) and f.at == ("apim", "analytics"))
                ),
                up(("apim", "analytics", "enable"), False, conflict=AN_ENABLE),
                up(("apim", "analytics", "config_endpoint"), _ANALYTICS_4["config_endpoint"]),
                up(("apim", "analytics", "auth_token"), ""),
            ),
            conflicts=(AN_ENABLE,),
        ),
        Scenario(
            pair="16",
            variant="c",
            directory=S16.directory,
            fmt="toml",
            customise=ours_16_endpoints,
            summary="WebSocket endpoints of the gateway environment upstream renamed",
            # the entry's identity is its name: upstream replaced the entry the operator
            # edited, so the conflict is that entry, named once (issue 10)
            operator=(
                op((*_ENV0, "ws_endpoint"), "ws://gw.example.com:9099", conflict=RENAMED_ENV),
                op((*_ENV0, "wss_endpoint"), "wss://gw.example.com:8099", conflict=RENAMED_ENV),
            ),
            upstream=tuple(
                replace(f, conflict=RENAMED_ENV)
                if isinstance(f, Setting) and isinstance(f.at, tuple) and f.at[:3] == _ENV0[:3]
                else f
                for f in one_sided(UP16)
            ),
            conflicts=(RENAMED_ENV,),
        ),
        Scenario(
            pair="17",
            variant="b",
            directory=S17.directory,
            fmt="toml",
            customise=ours_17_reformatted,
            summary="every `key = value` rewritten as `key=value`, hostname",
            operator=(
                op(("server", "hostname"), "10.0.0.7"),
                op_layout('[super_admin]\nusername="admin"\npassword="admin"'),
            ),
            upstream=one_sided(UP17),
            conflicts=(),
        ),
        Scenario(
            pair="18",
            variant="b",
            directory=S18.directory,
            fmt="toml",
            customise=ours_18_subscription,
            summary="key-manager table made live with the key upstream added, set off",
            operator=(op(KM_SUB, False, conflict=KM_SUBSCRIPTION),),
            upstream=(up(KM_SUB, True, conflict=KM_SUBSCRIPTION),),
            conflicts=(KM_SUBSCRIPTION,),
        ),
        Scenario(
            pair="19",
            variant="b",
            directory=S19.directory,
            fmt="properties",
            customise=ours_19_reformatted,
            summary="every `key = value` rewritten as `key=value`, log file size",
            operator=(
                op("appender.CARBON_LOGFILE.policies.size.size", "100MB"),
                op_layout("\nappender.CARBON_LOGFILE.type=RollingFile\n"),
            ),
            upstream=one_sided(UP19),
            conflicts=(),
        ),
        Scenario(
            pair="19",
            variant="c",
            directory=S19.directory,
            fmt="properties",
            customise=ours_19_callhome,
            summary="call-home logger at DEBUG (removed upstream), own error-log pattern",
            operator=(
                op(_CALLHOME, "DEBUG", conflict=_CALLHOME),
                op(_ERROR_PATTERN, "%d{ISO8601} [%t] %5p %c %m%n", conflict=_ERROR_PATTERN),
            ),
            upstream=one_sided(UP19, keep=(_CALLHOME, _ERROR_PATTERN)),
            conflicts=(_CALLHOME, _ERROR_PATTERN),
        ),
        Scenario(
            pair="20",
            variant="b",
            directory=S20.directory,
            fmt="yaml",
            customise=ours_20_reindented,
            summary="re-indented to 4 spaces by a YAML tool, memory limit",
            operator=(op((*_LIMITS, "memory"), "4Gi"),),
            upstream=(
                *(f for f in one_sided(UP20) if f.kind != "comment"),
                # the operator's indentation, not upstream's: the comment lines, not their indent
                up_comment(
                    "# -- Port Offset for APIM deployment\n",
                    "# -- Startup script mount status\n",
                    "# -- APIM AI related configurations\n",
                ),
            ),
            conflicts=(),
        ),
        Scenario(
            pair="21",
            variant="b",
            directory=S21.directory,
            fmt="toml",
            customise=ours_21_subscription,
            summary="subscription validation kept off (key removed upstream), a documented value",
            operator=(
                op(KM_SUB, False, conflict=KM_SUBSCRIPTION),
                op_comment('#server_id = "GW-prod-1"\n', absent=('#server_id = "Gateway1"',)),
            ),
            upstream=one_sided(UP21, keep=(KM_SUBSCRIPTION,)),
            conflicts=(KM_SUBSCRIPTION,),
        ),
        Scenario(
            pair="22",
            variant="b",
            directory=S22.directory,
            fmt="properties",
            customise=ours_22_reformatted,
            summary="every `key = value` rewritten as `key=value` (upstream re-spaced the other way)",
            operator=(
                op("rootLogger.level", "WARN"),
                op_layout("\nappender.CARBON_LOGFILE.type=RollingFile\n"),
            ),
            upstream=one_sided(UP22),
            conflicts=(),
        ),
        Scenario(
            pair="24",
            variant="b",
            directory=S24.directory,
            fmt="yaml",
            customise=ours_24_am_config,
            summary="the documented API-M deployment.toml block made live",
            operator=(
                op(
                    ("wso2", "deployment", "am", "config", "deployment.toml"), _AM_TOML.rstrip("\n")
                ),
            ),
            upstream=UP24,
            conflicts=(),
        ),
        Scenario(
            pair="16",
            variant="d",
            directory=S16.directory,
            fmt="toml",
            customise=ours_16_reformatted,
            summary="every `key = value` rewritten as `key=value`, a key appended to the last table",
            operator=(
                op((*_LISTENER, "header.X-WSO2-Tenant"), "carbon.super"),
                op_layout('[super_admin]\nusername="admin"\npassword="admin"'),
            ),
            upstream=one_sided(UP16),
            conflicts=(),
        ),
        Scenario(
            pair="19",
            variant="d",
            directory=S19.directory,
            fmt="properties",
            customise=ours_19_syslog,
            summary="syslog appender listed (the list changed upstream), root reference uncommented",
            operator=(
                op("appenders", Contains("CARBON_SYS_LOG"), conflict="appenders"),
                op("rootLogger.appenderRef.CARBON_SYS_LOG.ref", "CARBON_SYS_LOG"),
            ),
            upstream=tuple(
                replace(f, conflict="appenders")
                if isinstance(f, Setting) and f.at == "appenders"
                else f
                for f in one_sided(UP19)
            ),
            conflicts=("appenders",),
        ),
        Scenario(
            pair="21",
            variant="c",
            directory=S21.directory,
            fmt="toml",
            customise=ours_21_last_table,
            summary="a key appended to the last table, above the block upstream renamed",
            operator=(op(("oauth", "grant_type", "token_exchange", "max_lifetime"), "2h"),),
            upstream=one_sided(UP21),
            conflicts=(),
        ),
    )
}
