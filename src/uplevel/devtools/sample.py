"""A small sample product shaped like WSO2 API Manager, at levels 0, 1 and 2.

Used by `uplevel demo` and by the tests: deterministic bytes, real shapes
(deployment.toml, XML, shell scripts with modes, jars, a webapp, a symlink, an
empty directory), and updates that replace, add and remove files.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

PRODUCT = "wso2am-4.2.0"

DEPLOYMENT_TOML = """\
[server]
hostname = "localhost"
node_ip = "127.0.0.1"
server_role = "default"
offset = 0

[super_admin]
username = "admin"
password = "admin"
create_admin_account = true

[database.apim_db]
type = "h2"
url = "jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE"
username = "wso2carbon"
password = "wso2carbon"

[keystore.tls]
file_name = "wso2carbon.jks"
type = "JKS"
password = "wso2carbon"
alias = "wso2carbon"
key_password = "wso2carbon"

[apim.analytics]
enable = false
"""

LOG4J2 = """\
appenders = CARBON_CONSOLE, CARBON_LOGFILE
appender.CARBON_LOGFILE.type = RollingFile
appender.CARBON_LOGFILE.fileName = ${sys:carbon.home}/repository/logs/wso2carbon.log
appender.CARBON_LOGFILE.layout.pattern = [%d] %5p {%c} - %m%ex%n
rootLogger.level = INFO
"""

API_MANAGER_SH = """\
#!/bin/sh
# Start script of the sample product.
JAVA_OPTS="-Xms256m -Xmx1024m"
exec java $JAVA_OPTS -jar "$CARBON_HOME/bin/launcher.jar" "$@"
"""


def _blob(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def write_level(root: Path, level: int) -> None:
    """Write the sample product's pristine tree at `level` (0, 1 or 2) into an empty `root`."""
    if level not in (0, 1, 2):
        raise ValueError("the sample product has levels 0, 1 and 2")
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    toml = DEPLOYMENT_TOML
    log4j = LOG4J2
    sh = API_MANAGER_SH
    jars = {
        f"repository/components/plugins/org.wso2.carbon.core_{i}.0.{i}.jar": f"core{i}"
        for i in range(12)
    }
    if level >= 1:
        toml = toml.replace(
            "[apim.analytics]",
            "[apim.throttling]\nenable_data_publishing = true\n\n[apim.analytics]",
        )
        jars.pop("repository/components/plugins/org.wso2.carbon.core_3.0.3.jar")
        jars["repository/components/plugins/org.wso2.carbon.core_3.0.4.jar"] = "core3-fixed"
        log4j = log4j.replace(
            "rootLogger.level = INFO", "rootLogger.level = INFO\nlogger.audit.level = INFO"
        )
        files["repository/deployment/server/webapps/api#am#publisher/site/public/theme.js"] = (
            b"var theme = 'fixed';\n"
        )
    if level >= 2:
        sh = sh.replace("-Xmx1024m", "-Xmx1024m -Djdk.tls.ephemeralDHKeySize=2048")
        jars["repository/components/plugins/org.wso2.carbon.core_7.0.7.jar"] = "core7-security"
        files.pop("repository/deployment/server/webapps/api#am#publisher/site/public/theme.js")
        files["repository/components/plugins/org.wso2.carbon.apimgt.gateway_9.1.0.jar"] = _blob(
            "gw", 40_000
        )
    files["repository/conf/deployment.toml"] = toml.encode()
    files["repository/conf/log4j2.properties"] = log4j.encode()
    files["bin/api-manager.sh"] = sh.encode()
    modes["bin/api-manager.sh"] = 0o755
    files["bin/launcher.jar"] = _blob("launcher", 20_000)
    files["README.txt"] = b"Sample product for uplevel.\n"
    for path, seed in jars.items():
        files[path] = _blob(seed, 8_000 + len(seed) * 500)
    for i in range(6):
        files[f"repository/deployment/server/webapps/api#am#publisher/site/public/page{i}.html"] = (
            f"<html><body>page {i}</body></html>\n".encode()
        )
    files["repository/database/WSO2AM_DB.mv.db"] = _blob("h2", 30_000)
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, modes.get(path, 0o644))
    (root / "repository/logs").mkdir(parents=True, exist_ok=True)  # an empty directory
    link = root / "bin/wso2server.sh"
    if not os.path.lexists(link):
        os.symlink("api-manager.sh", link)


def write_security_fix(root: Path) -> None:
    """Turn a level-1 tree into the next level with a security fix that touches only files
    level 1 left alone, so the same update also applies to the security channel's level 0."""
    sh = root / "bin/api-manager.sh"
    sh.write_text(
        sh.read_text().replace("-Xmx1024m", "-Xmx1024m -Djdk.tls.ephemeralDHKeySize=2048")
    )
    jar = root / "repository/components/plugins/org.wso2.carbon.core_7.0.7.jar"
    jar.write_bytes(_blob("core7-security", 11_500))


def write_pack(tree: Path, pack: Path, top: str = PRODUCT) -> None:
    """Zip a tree the way WSO2 ships packs: one top folder, modes and symlinks kept."""
    import stat
    import zipfile

    with zipfile.ZipFile(pack, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(tree.rglob("*")):
            rel = path.relative_to(tree).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                info = zipfile.ZipInfo(f"{top}/{rel}")
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                z.writestr(info, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                if not any(path.iterdir()):
                    z.write(path, f"{top}/{rel}/")
            else:
                z.write(path, f"{top}/{rel}")
