"""The shape of a WSO2 API Manager 4.x home at level 0, as a list of entries.

Why a list of entries rather than writing files directly: the update (level 1) is derived
from the same list, and both trees are then written from their lists. Binary content is
described by a seed and a size and only materialised at write time, so 700 MB never sit
in memory and the same entry always yields the same bytes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import texts

T0 = 1_683_000_000  # mtime of every level-0 entry (2023-05-02): fixed, never the clock
KB = 1024
MB = 1024 * KB


@dataclass(frozen=True, slots=True)
class Rand:
    """Incompressible bytes, like a jar or a database page file."""

    seed: int
    size: int

    def render(self) -> bytes:
        return random.Random(self.seed).randbytes(self.size)


@dataclass(frozen=True, slots=True)
class Source:
    """Webapp source text drawn from a line pool; `rev` > 0 is the patched version."""

    seed: int
    size: int
    flavor: str
    rev: int = 0

    def render(self) -> bytes:
        return texts.source_text(self.seed, self.size, self.flavor, self.rev)


@dataclass(frozen=True, slots=True)
class Literal:
    """Exact bytes: configuration files that the update edits line by line."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def render(self) -> bytes:
        return self.data


Content = Rand | Source | Literal


@dataclass(frozen=True, slots=True)
class Entry:
    """One path in a home: a file (with content), a symlink or an (empty) directory."""

    path: str
    kind: str = "file"  # "file" | "link" | "dir"
    content: Content | None = None
    mode: int = 0o644
    target: str = ""
    mtime: int = T0


@dataclass(slots=True)
class Home:
    """Level-0 entries plus the facts the update planner needs about them."""

    entries: list[Entry] = field(default_factory=list)
    plugins: list[tuple[str, str]] = field(default_factory=list)
    webapps: list[str] = field(default_factory=list)
    loggers: list[str] = field(default_factory=list)


WEBAPPS = (
    "accountrecoveryendpoint",
    "authenticationendpoint",
    "api#am#admin",
    "api#am#devportal",
    "api#am#publisher",
    "api#am#gateway#v2",
    "api#am#service-catalog#v1",
    "api#identity#consent-mgt#v1.0",
    "api#identity#oauth2#dcr#v1.1",
    "api#identity#recovery#v0.9",
    "api#identity#user#v1.0",
    "client-registration#v0.17",
    "internal#data#v1",
    "keymanager-operations",
    "oauth2",
    "throttle#data#v1",
    "api#am#devops",
    "am#sample#pizzashack#v1",
    "api#identity#auth#v1.2",
    "api#am#gateway#v2#admin",
)
CONF_XML = (
    "carbon.xml",
    "axis2/axis2.xml",
    "axis2/axis2_client.xml",
    "tomcat/catalina-server.xml",
    "tomcat/web.xml",
    "tomcat/context.xml",
    "datasources/master-datasources.xml",
    "identity/identity.xml",
    "identity/embedded-ldap.xml",
    "user-mgt.xml",
    "registry.xml",
    "security/secret-conf.xml",
    "security/Owasp.CsrfGuard.xml",
    "security/authenticators.xml",
    "synapse-handlers.xml",
    "cache.xml",
    "metrics.xml",
    "api-manager.xml",
    "broker.xml",
    "etc/jmx.xml",
    "etc/tasks-config.xml",
    "multitenancy/tenant-mgt.xml",
    "event-processor.xml",
)


class Shaper:
    """Builds the entry list; `scale` multiplies counts, never individual file sizes."""

    def __init__(self, seed: int, scale: float) -> None:
        self.rng = random.Random(seed)
        self.scale = scale
        self.home = Home()

    def n(self, count: int) -> int:
        return max(1, round(count * self.scale))

    def seed(self) -> int:
        return self.rng.getrandbits(62)

    def lognormal(self, median: int, sigma: float, lo: int, hi: int) -> int:
        value = int(math.exp(self.rng.gauss(math.log(median), sigma)))
        return min(hi, max(lo, value))

    def rand(self, path: str, size: int, mode: int = 0o644) -> None:
        self.home.entries.append(Entry(path, content=Rand(self.seed(), size), mode=mode))

    def text(self, path: str, text: str, mode: int = 0o644) -> None:
        self.home.entries.append(Entry(path, content=Literal(text.encode()), mode=mode))

    def jars(self, folder: str, count: int, median: int) -> None:
        for name, version in texts.plugin_names(self.rng, count):
            self.rand(f"{folder}/{name}-{version}.jar", self.lognormal(median, 1.0, 5 * KB, 2 * MB))

    def build(self) -> Home:
        self.top_and_bin()
        self.components()
        self.conf()
        self.deployment()
        self.runtime_data()
        return self.home

    def top_and_bin(self) -> None:
        r = self.rng
        self.text("README.txt", "WSO2 API Manager 4.2.0\n\nSee https://apim.docs.wso2.com\n")
        self.text("LICENSE.txt", "Apache License\nVersion 2.0, January 2004\n" * 200)
        self.text("updates/product.txt", "wso2am-4.2.0\n")
        for name in ("api-manager.sh", "ciphertool.sh", "tomcat-juli.sh", "gateway.sh"):
            self.text(f"bin/{name}", texts.shell_script(r, name), mode=0o755)
        # Shipped without its exec bit: the update fixes that (the one mode change).
        self.text("bin/profileSetup.sh", texts.shell_script(r, "profileSetup.sh"))
        for name in ("api-manager.bat", "ciphertool.bat", "build.xml", "version.txt"):
            self.text(f"bin/{name}", texts.shell_script(r, name))
        for name in (
            "bootstrap.jar",
            "tomcat-juli-9.0.58.jar",
            "org.wso2.carbon.bootstrap-4.9.10.jar",
        ):
            self.rand(f"bin/{name}", self.lognormal(60 * KB, 0.5, 5 * KB, MB))
        self.home.entries.append(Entry("bin/wso2server.sh", kind="link", target="api-manager.sh"))
        for dialect in ("h2", "mysql", "mssql", "oracle", "postgresql", "db2"):
            for sub in ("", "apimgt/", "identity/", "consent/", "metrics/"):
                self.text(
                    f"dbscripts/{sub}{dialect}.sql",
                    texts.sql_script(r, dialect, r.randrange(5, 60)),
                )

    def components(self) -> None:
        r = self.rng
        plugins = texts.plugin_names(r, self.n(1500))
        self.home.plugins = plugins
        for name, version in plugins:
            # WSO2's own bundles are the big ones (apimgt impl is several MB).
            median = 250 * KB if name.startswith("org.wso2.carbon.apimgt") else 135 * KB
            size = self.lognormal(median, 1.25, 5 * KB, 5 * MB)
            self.rand(f"repository/components/plugins/{name}_{version}.jar", size)
        self.jars("lib", self.n(120), 90 * KB)
        self.jars("lib/runtimes/cxf3", self.n(30), 150 * KB)
        self.jars("repository/components/lib", self.n(60), 100 * KB)
        self.jars("repository/components/dropins", self.n(40), 40 * KB)
        for name, version in texts.plugin_names(r, self.n(250)):
            base = f"repository/components/features/{name}_{version}"
            self.text(f"{base}/feature.xml", texts.xml_config(r, "feature", r.randrange(2, 12)))
            self.text(f"{base}/feature.properties", f"featureName={name}\nproviderName=WSO2\n")
            self.text(
                f"{base}/p2.inf",
                "instructions.configure = org.eclipse.equinox.p2.touchpoint.natives"
                f".copy(source:${{installFolder}}/../{name})\n",
            )
        eqx = "repository/components/default/configuration"
        self.text(
            f"{eqx}/org.eclipse.equinox.simpleconfigurator/bundles.info",
            texts.bundles_info(plugins),
        )
        self.text(
            f"{eqx}/config.ini", "osgi.bundles=org.eclipse.equinox.simpleconfigurator@1:start\n"
        )
        self.home.entries.append(Entry("repository/components/patches", kind="dir"))

    def conf(self) -> None:
        r = self.rng
        self.text("repository/conf/deployment.toml", texts.DEPLOYMENT_TOML)
        self.home.loggers = [
            f"{r.choice(texts.JAVA_PACKAGES)}.{w}"
            for w in ("Handler", "Util", "Dao", "Service") * 20
        ]
        self.text("repository/conf/log4j2.properties", texts.log4j2_properties(self.home.loggers))
        for name in CONF_XML:
            self.text(
                f"repository/conf/{name}",
                texts.xml_config(
                    r, name.rsplit("/", 1)[-1][:-4].title().replace("-", ""), r.randrange(10, 80)
                ),
            )
        tmpl = "repository/resources/conf/templates/repository/conf"
        for i in range(self.n(100)):
            self.text(
                f"{tmpl}/extra/{i:03d}-template.xml.j2",
                texts.xml_config(r, "Template", r.randrange(5, 60)),
            )
        for name in CONF_XML:
            self.text(f"{tmpl}/{name}.j2", texts.xml_config(r, "Template", r.randrange(10, 80)))
        for name in ("default.json", "infer.json", "key-mappings.json", "validator.json"):
            self.text(
                f"repository/resources/conf/{name}", texts.json_config(r, r.randrange(200, 2000))
            )
        for i in range(self.n(90)):
            self.text(
                f"repository/conf/security/policy-{i:02d}.xml",
                texts.xml_config(r, "Policy", r.randrange(3, 20)),
            )
        self.rand("repository/resources/security/wso2carbon.jks", 5 * KB)
        self.rand("repository/resources/security/client-truststore.jks", 160 * KB)
        self.home.entries.append(
            Entry(
                "repository/resources/security/truststore.jks",
                kind="link",
                target="client-truststore.jks",
            )
        )

    def deployment(self) -> None:
        r = self.rng
        base = "repository/deployment/server"
        for i in range(self.n(80)):
            kind = r.choice(
                ("api", "sequences", "endpoints", "proxy-services", "inbound-endpoints")
            )
            self.text(
                f"{base}/synapse-configs/default/{kind}/{i:03d}.xml",
                texts.xml_config(r, "Api", r.randrange(2, 15)),
            )
        self.home.entries.append(Entry(f"{base}/userstores", kind="dir"))
        names = list(WEBAPPS[: max(2, round(len(WEBAPPS) * min(1.0, self.scale * 4)))])
        self.home.webapps = names
        for name in names:
            self.webapp(f"{base}/webapps/{name}", self.n(r.randrange(250, 750)))

    def webapp(self, root: str, files: int) -> None:
        """An exploded webapp plus its .war beside it, as Tomcat leaves them."""
        r = self.rng
        total = 0
        start = len(self.home.entries)
        self.text(f"{root}/WEB-INF/web.xml", texts.xml_config(r, "WebApp", r.randrange(5, 40)))
        self.text(f"{root}/META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: Maven\n")
        for name, version in texts.plugin_names(r, r.randrange(2, 10)):
            self.rand(
                f"{root}/WEB-INF/lib/{name}-{version}.jar",
                self.lognormal(100 * KB, 1.0, 5 * KB, 2 * MB),
            )
        for i in range(files):
            pkg = r.choice(texts.JAVA_PACKAGES).replace(".", "/")
            kind = r.choices(("class", "jsp", "js", "css"), weights=(50, 17, 23, 10))[0]
            if kind == "class":
                self.rand(
                    f"{root}/WEB-INF/classes/{pkg}/C{i:04d}.class",
                    self.lognormal(5 * KB, 0.9, 400, 200 * KB),
                )
                continue
            size = self.lognormal(4 * KB, 1.0, 200, 400 * KB)
            folder = {"jsp": "", "js": "site/public/dist/", "css": "site/public/css/"}[kind]
            self.home.entries.append(
                Entry(f"{root}/{folder}f{i:04d}.{kind}", content=Source(self.seed(), size, kind))
            )
        for e in self.home.entries[start:]:
            total += e.content.size if e.content else 0
        self.rand(f"{root}.war", int(total * 0.45))

    def runtime_data(self) -> None:
        r = self.rng
        for name, size in (
            ("WSO2AM_DB", 6 * MB),
            ("WSO2SHARED_DB", 3 * MB),
            ("WSO2METRICS_DB", MB),
            ("WSO2CARBON_DB", 2 * MB),
        ):
            self.rand(f"repository/database/{name}.mv.db", size)
        for seg in range(8):
            for ext, median in (
                ("fdt", 400 * KB),
                ("fdx", 4 * KB),
                ("fnm", KB),
                ("si", 400),
                ("nvd", 30 * KB),
                ("tim", 300 * KB),
                ("tip", 8 * KB),
                ("doc", 60 * KB),
            ):
                self.rand(
                    f"solr/data/data/index/_{seg:x}.{ext}", self.lognormal(median, 0.6, 100, 4 * MB)
                )
        self.text("solr/data/data/index/segments_9", "segments\n")
        self.text("solr/data/conf/schema.xml", texts.xml_config(r, "Schema", 40))
        for d in ("repository/logs", "tmp", "repository/tenants"):
            self.home.entries.append(Entry(d, kind="dir"))


def build_level0(seed: int, scale: float) -> Home:
    """The level-0 home for a seed and a scale (scale 1.0: ~13,000 files, ~700 MB)."""
    return Shaper(seed, scale).build()
