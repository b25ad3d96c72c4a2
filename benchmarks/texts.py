"""Text content for the synthetic product home: configuration files and webapp sources.

Why it exists: the in-place engine treats configuration differently from binaries (it
merges TOML, XML and .properties), so the benchmark needs text that parses and looks like
a WSO2 API Manager 4.x home, not random bytes. Everything here is a pure function of its
arguments (a seed, a size), so two runs of the generator write identical trees.
"""

from __future__ import annotations

import random

DEPLOYMENT_TOML = """\
[server]
hostname = "localhost"
#offset=0
base_path = "${carbon.protocol}://${carbon.host}:${carbon.management.port}"
#discard_empty_caches = false
server_role = "default"

[super_admin]
username = "admin"
password = "admin"
create_admin_account = true

[user_store]
type = "database_unique_id"

[database.apim_db]
type = "h2"
url = "jdbc:h2:./repository/database/WSO2AM_DB;AUTO_SERVER=TRUE;DB_CLOSE_ON_EXIT=FALSE"
username = "wso2carbon"
password = "wso2carbon"

[database.shared_db]
type = "h2"
url = "jdbc:h2:./repository/database/WSO2SHARED_DB;DB_CLOSE_ON_EXIT=FALSE"
username = "wso2carbon"
password = "wso2carbon"

[keystore.tls]
file_name =  "wso2carbon.jks"
type =  "JKS"
password =  "wso2carbon"
alias =  "wso2carbon"
key_password =  "wso2carbon"

[[apim.gateway.environment]]
name = "Default"
type = "hybrid"
provider = "wso2"
display_in_api_console = true
description = "This is a hybrid gateway that handles both production and sandbox token traffic."
show_as_token_endpoint_url = true
service_url = "https://localhost:${mgt.transport.https.port}/services/"
username= "${admin.username}"
password= "${admin.password}"
ws_endpoint = "ws://localhost:9099"
wss_endpoint = "wss://localhost:8099"
http_endpoint = "http://localhost:${http.nio.port}"
https_endpoint = "https://localhost:${https.nio.port}"

[apim.analytics]
enable = false
config_endpoint = "https://analytics-event-auth.choreo.dev/auth/v1"
auth_token = ""

[apim.key_manager]
enable_apikey_subscription_validation = true

[apim.cache.gateway_token]
enable = true
expiry_time = "900s"

[apim.cache.resource]
enable = true
expiry_time = "900s"

[apim.oauth_config]
enable_outbound_auth_header = false
auth_header = "Authorization"

[apim.devportal]
url = "https://localhost:${mgt.transport.https.port}/devportal"
enable_application_sharing = false
enable_cross_tenant_subscriptions = true
enable_ratings = true
enable_comments = true

[apim.cors]
allow_origins = "*"
allow_methods = ["GET","PUT","POST","DELETE","PATCH","OPTIONS"]
allow_headers = ["authorization","Access-Control-Allow-Origin","Content-Type","SOAPAction"]
allow_credentials = false

[[event_handler]]
name="userPostSelfRegistration"
subscriptions=["POST_ADD_USER"]

[service_provider]
sp_name_regex = "^[\\\\sa-zA-Z0-9._-]*$"

[database.local]
url = "jdbc:h2:./repository/database/WSO2CARBON_DB;DB_CLOSE_ON_EXIT=FALSE"

[[event_listener]]
id = "token_revocation"
type = "org.wso2.carbon.identity.core.handler.AbstractIdentityHandler"
name = "org.wso2.is.notification.ApimOauthEventInterceptor"
order = 1

[event_listener.properties]
notification_endpoint = "https://localhost:${mgt.transport.https.port}/internal/data/v1/notify"
username = "${admin.username}"
password = "${admin.password}"
'header.X-WSO2-KEY-MANAGER' = "default"

[oauth.grant_type.token_exchange]
enable = false
allow_refresh_tokens = true
iat_validity_period = "1h"
"""

LOG4J2_HEAD = """\
# Copyright (c) 2019, WSO2 Inc. (http://www.wso2.org) All Rights Reserved.
#
# WSO2 Inc. licenses this file to you under the Apache License,
# Version 2.0 (the "License"); you may not use this file except
# in compliance with the License.

appenders = CARBON_CONSOLE, CARBON_LOGFILE, AUDIT_LOGFILE, ATOMIKOS_LOGFILE, \\
CARBON_TRACE_LOGFILE, DELETE_EVENT_LOGFILE, TRANSACTION_LOGFILE, osgi, HTTP_ACCESS

appender.CARBON_CONSOLE.type = Console
appender.CARBON_CONSOLE.name = CARBON_CONSOLE
appender.CARBON_CONSOLE.layout.type = PatternLayout
appender.CARBON_CONSOLE.layout.pattern = [%d] %5p {%c{1}} - %mm%ex%n
appender.CARBON_CONSOLE.filter.threshold.type = ThresholdFilter
appender.CARBON_CONSOLE.filter.threshold.level = DEBUG

appender.CARBON_LOGFILE.type = RollingFile
appender.CARBON_LOGFILE.name = CARBON_LOGFILE
appender.CARBON_LOGFILE.fileName = ${sys:carbon.home}/repository/logs/wso2carbon.log
appender.CARBON_LOGFILE.filePattern = ${sys:carbon.home}/repository/logs/wso2carbon-%d{MM-dd}.%i.log
appender.CARBON_LOGFILE.layout.type = PatternLayout
appender.CARBON_LOGFILE.layout.pattern = TID: [%tenantId] [%appName] [%d] %5p {%c} - %mm%ex%n
appender.CARBON_LOGFILE.policies.type = Policies
appender.CARBON_LOGFILE.policies.time.type = TimeBasedTriggeringPolicy
appender.CARBON_LOGFILE.policies.time.interval = 1
appender.CARBON_LOGFILE.policies.size.type = SizeBasedTriggeringPolicy
appender.CARBON_LOGFILE.policies.size.size=10MB
appender.CARBON_LOGFILE.strategy.type = DefaultRolloverStrategy
appender.CARBON_LOGFILE.strategy.max = 20

"""

JAVA_PACKAGES = (
    "org.wso2.carbon.apimgt.impl",
    "org.wso2.carbon.apimgt.gateway",
    "org.wso2.carbon.apimgt.keymgt",
    "org.wso2.carbon.apimgt.rest.api.publisher.v1",
    "org.wso2.carbon.apimgt.rest.api.store.v1",
    "org.wso2.carbon.identity.oauth2",
    "org.wso2.carbon.identity.application.authentication.framework",
    "org.wso2.carbon.user.core",
    "org.wso2.carbon.registry.core",
    "org.apache.synapse.mediators",
    "org.apache.axis2.transport",
)

PLUGIN_STEMS = (
    ("org.wso2.carbon.apimgt", 9, 28, 116),
    ("org.wso2.carbon.identity", 5, 25, 405),
    ("org.wso2.carbon.identity.oauth", 6, 11, 128),
    ("org.wso2.carbon.identity.framework", 5, 25, 405),
    ("org.wso2.carbon.core", 4, 9, 10),
    ("org.wso2.carbon.registry", 4, 8, 31),
    ("org.wso2.carbon.user", 4, 9, 10),
    ("org.wso2.carbon.mediation", 4, 7, 175),
    ("org.apache.synapse", 4, 0, 0),
    ("org.wso2.carbon.analytics", 3, 0, 12),
    ("org.wso2.carbon.event", 5, 2, 8),
    ("org.wso2.carbon.deployment", 4, 9, 10),
)

ORBIT_STEMS = (
    "axis2",
    "axiom",
    "commons-io",
    "commons-lang",
    "jackson-databind",
    "jackson-core",
    "netty-codec-http",
    "netty-handler",
    "netty-transport",
    "guava",
    "gson",
    "json-smart",
    "nimbus-jose-jwt",
    "bcprov-jdk18on",
    "httpclient",
    "httpcore",
    "slf4j-api",
    "log4j-core",
    "cxf-rt-frontend-jaxrs",
    "cxf-core",
    "swagger-parser",
    "swagger-models",
    "graphql-java",
    "xmlsec",
    "wss4j",
    "opensaml",
    "woodstox-core",
    "stax2-api",
    "hazelcast",
    "quartz",
    "h2",
    "tomcat-catalina",
    "tomcat-coyote",
    "spring-core",
    "spring-web",
    "feign-core",
    "okhttp",
    "okio",
    "kotlin-stdlib",
    "caffeine",
    "json-path",
    "antlr4-runtime",
    "snakeyaml",
    "jaxb-api",
    "jaxb-impl",
    "javax.servlet-api",
    "geronimo-jms",
    "activemq-client",
)

PLUGIN_SUFFIXES = (
    "impl",
    "core",
    "common",
    "api",
    "ui",
    "stub",
    "server",
    "client",
    "mgt",
    "feature",
    "rest.api",
    "rest.api.common",
    "gateway",
    "keymgt",
    "notification",
    "persistence",
    "throttling",
    "usage",
    "handlers",
    "listeners",
    "validators",
    "dao",
    "cache",
    "endpoint",
    "extension",
    "util",
    "admin",
    "store",
    "publisher",
    "devportal",
    "internal",
)

_WORDS = (
    "api",
    "token",
    "gateway",
    "tenant",
    "scope",
    "policy",
    "throttle",
    "subscription",
    "application",
    "endpoint",
    "resource",
    "mediation",
    "key",
    "manager",
    "consumer",
    "publisher",
    "store",
    "cache",
    "config",
    "user",
    "role",
    "claim",
    "oauth",
    "jwt",
    "revoke",
    "event",
    "handler",
    "listener",
    "registry",
    "artifact",
    "deploy",
    "sequence",
)


def plugin_names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """Return `count` distinct (symbolic name, version) pairs shaped like OSGi bundles.

    Versions end in an integer (``9.28.116`` or ``1.6.1.wso2v89``) so an update can bump
    the last component, as WSO2 updates do when they ship a rebuilt bundle.
    """
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < count:
        if rng.random() < 0.6:
            stem, major, minor, patch = rng.choice(PLUGIN_STEMS)
            name = f"{stem}.{rng.choice(_WORDS)}.{rng.choice(PLUGIN_SUFFIXES)}"
            version = f"{major}.{minor}.{patch + rng.randrange(40)}"
        else:
            name = f"{rng.choice(ORBIT_STEMS)}.{rng.choice(_WORDS)}"
            version = (
                f"{rng.randrange(1, 5)}.{rng.randrange(20)}.{rng.randrange(10)}"
                f".wso2v{rng.randrange(1, 120)}"
            )
        if name not in seen:
            seen.add(name)
            out.append((name, version))
    return out


def bump_version(version: str) -> str:
    """``1.2.3`` -> ``1.2.4``, ``1.6.1.wso2v89`` -> ``1.6.1.wso2v90``: next patch build."""
    head = version.rstrip("0123456789")
    tail = version[len(head) :]
    return f"{head}{int(tail) + 1}"


def log4j2_properties(loggers: list[str]) -> str:
    """A log4j2.properties with the usual appender block and one logger per name."""
    keys = [f"logger.{n.rsplit('.', 1)[-1]}_{i}" for i, n in enumerate(loggers)]
    lines = [LOG4J2_HEAD, "loggers = " + ", ".join(k.split(".", 1)[1] for k in keys), ""]
    for key, name in zip(keys, loggers, strict=True):
        lines += [f"{key}.name = {name}", f"{key}.level = INFO", ""]
    lines += [
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.CARBON_CONSOLE.ref = CARBON_CONSOLE",
        "rootLogger.appenderRef.CARBON_LOGFILE.ref = CARBON_LOGFILE",
        "",
    ]
    return "\n".join(lines)


def xml_config(rng: random.Random, root: str, entries: int) -> str:
    """A carbon-style XML configuration with nested, plausible property elements."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!--",
        "  ~ Copyright (c) 2005-2023, WSO2 LLC. (https://www.wso2.com).",
        "  ~ Licensed under the Apache License, Version 2.0.",
        "  -->",
        f'<{root} xmlns="http://wso2.org/projects/carbon/{root.lower()}.xml">',
    ]
    for _ in range(entries):
        group = "".join(w.title() for w in rng.sample(_WORDS, 2))
        out.append(f"    <{group}>")
        for _ in range(rng.randrange(2, 7)):
            name = "".join(w.title() for w in rng.sample(_WORDS, 2))
            value = rng.choice(
                (
                    "true",
                    "false",
                    str(rng.randrange(1, 100000)),
                    f"${{carbon.home}}/repository/{rng.choice(_WORDS)}",
                    rng.choice(JAVA_PACKAGES) + "." + name + "Impl",
                )
            )
            out.append(f"        <{name}>{value}</{name}>")
        out.append(f"    </{group}>")
    out.append(f"</{root}>")
    return "\n".join(out) + "\n"


def bundles_info(plugins: list[tuple[str, str]]) -> str:
    """Equinox simpleconfigurator's bundle list: the file a jar version bump must edit."""
    head = "#encoding=UTF-8\n#version=1\n"
    rows = [f"{n},{v},../plugins/{n}_{v}.jar,4,true" for n, v in sorted(plugins)]
    return head + "\n".join(rows) + "\n"


def shell_script(rng: random.Random, name: str) -> str:
    """A bin/*.sh launcher: long, mostly boilerplate, like the real ones."""
    body = [
        "#!/bin/sh",
        "# ----------------------------------------------------------------",
        f"# {name} - start script for the WSO2 Carbon server",
        "#",
        "# Environment Variable Prerequisites",
        "#   CARBON_HOME   Home of WSO2 Carbon",
        "#   JAVA_HOME     Must point at your Java Development Kit installation.",
        "# ----------------------------------------------------------------",
        "",
        'PRG="$0"',
        'while [ -h "$PRG" ]; do',
        '  ls=`ls -ld "$PRG"`',
        "  link=`expr \"$ls\" : '.*-> \\(.*\\)$'`",
        "done",
        "",
    ]
    for i in range(rng.randrange(40, 160)):
        var = rng.choice(_WORDS).upper()
        body.append(f'{var}_{i}="${{CARBON_HOME}}/{rng.choice(_WORDS)}/{rng.choice(_WORDS)}"')
    body += [
        'exec "$JAVA_HOME/bin/java" $JAVA_OPTS -Dcarbon.home="$CARBON_HOME" \\',
        "  org.wso2.carbon.bootstrap.Bootstrap $*",
        "",
    ]
    return "\n".join(body)


def _line_pool(flavor: str) -> list[str]:
    """A fixed pool of source lines per file type; files are random draws from it."""
    rng = random.Random(f"pool-{flavor}")
    pool: list[str] = []
    for _ in range(600):
        a, b, c = rng.sample(_WORDS, 3)
        if flavor == "js":
            pool.append(
                rng.choice(
                    (
                        f"    const {a}{b.title()} = useState(props.{c});",
                        f"import {a.title()}{b.title()} from './{c}/{a}{b.title()}';",
                        f"        return {{ ...state, {a}: action.payload.{b} }};",
                        f"export default function {a.title()}{c.title()}() {{",
                        f"    if (!{a}) {{ throw new Error('{b} {c} is required'); }}",
                        f"  {a}{b.title()}: PropTypes.{rng.choice(('string', 'bool', 'func'))},",
                    )
                )
            )
        elif flavor == "css":
            pool.append(
                rng.choice(
                    (
                        f".{a}-{b} {{ margin: {rng.randrange(24)}px; "
                        f"color: #{rng.randrange(16**6):06x}; }}",
                        f"  padding: {rng.randrange(16)}px {rng.randrange(16)}px;",
                        f"#{a}-{c} > .{b} {{ display: flex; }}",
                    )
                )
            )
        else:  # jsp
            pool.append(
                rng.choice(
                    (
                        f'<%@ page import="{rng.choice(JAVA_PACKAGES)}.{a.title()}{b.title()}" %>',
                        f'    <div class="{a}-{b}"><fmt:message key="{a}.{b}.{c}"/></div>',
                        f'    <% String {a} = request.getParameter("{b}"); %>',
                        f'    <input type="hidden" name="{a}" value="<%=Encode.forHtml({b})%>"/>',
                    )
                )
            )
    return pool


_POOLS: dict[str, list[str]] = {}


def source_text(seed: int, size: int, flavor: str, rev: int = 0) -> bytes:
    """About `size` bytes of webapp source (js/css/jsp) for a seed.

    `rev` > 0 gives the same file after a fix: a few lines changed and a block added,
    which is what a real patch to a webapp looks like to a diff.
    """
    pool = _POOLS.get(flavor) or _POOLS.setdefault(flavor, _line_pool(flavor))
    rng = random.Random(seed)
    lines = rng.choices(pool, k=max(1, size // 48))
    if rev:
        edit = random.Random(seed * 7919 + rev)
        for _ in range(edit.randrange(1, 4)):
            lines[edit.randrange(len(lines))] = f"    // fixed in update {rev}: {edit.random():.8f}"
        at = edit.randrange(len(lines))
        lines[at:at] = edit.choices(pool, k=edit.randrange(3, 12))
    return ("\n".join(lines) + "\n").encode()


def sql_script(rng: random.Random, dialect: str, tables: int) -> str:
    """A dbscripts/*.sql file: CREATE TABLE statements in the product's style."""
    out = [f"-- {dialect} script for WSO2 API Manager tables", ""]
    for _ in range(tables):
        name = "AM_" + "_".join(w.upper() for w in rng.sample(_WORDS, 2))
        out.append(f"CREATE TABLE IF NOT EXISTS {name} (")
        out.append("    ID INTEGER AUTO_INCREMENT,")
        for word in rng.sample(_WORDS, rng.randrange(3, 9)):
            kind = rng.choice(("VARCHAR(255)", "INTEGER", "TIMESTAMP", "BLOB", "BOOLEAN"))
            out.append(f"    {word.upper()}_{rng.randrange(10)} {kind},")
        out += ["    PRIMARY KEY (ID)", ");", ""]
    return "\n".join(out)


def json_config(rng: random.Random, keys: int) -> str:
    """A repository/resources/conf/*.json file: flat dotted keys, as default.json has."""
    import json

    data = {
        f"{rng.choice(_WORDS)}.{rng.choice(_WORDS)}.{rng.choice(_WORDS)}_{i}": rng.choice(
            (
                True,
                False,
                rng.randrange(100000),
                f"$ref{{{rng.choice(_WORDS)}.{rng.choice(_WORDS)}}}",
            )
        )
        for i in range(keys)
    }
    return json.dumps(data, indent=2) + "\n"
