"""The shipped `tomcat` profile on real Tomcat homes from Debian's archive.

Two releases of Debian bookworm's tomcat10 (10.1.55 and the security release 10.1.60) are
downloaded with `apt-get download` (cached), unpacked with `dpkg-deb -x` and assembled into
CATALINA_HOME = CATALINA_BASE trees (bin/, lib/ with Debian's symlinks resolved, conf/,
webapps/ROOT). An operator's home at 10.1.55 with its own configuration, jar, webapp and a
server's runtime files is updated to 10.1.60 in place, and reverted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.homes import run_cli

pytestmark = pytest.mark.slow

PRODUCT = "tomcat-10.1"
OLD, NEW = "10.1.55-1~deb12u1", "10.1.60-1~deb12u1"
PACKAGES = ("libtomcat10-java", "tomcat10-common", "tomcat10")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "uplevel-tests/debian"


def _debs(version: str) -> list[Path]:
    """The three packages of one release, downloaded once into the cache."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("needs Debian's apt-get and dpkg-deb")
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = [CACHE / f"{p}_{version}_all.deb" for p in PACKAGES]
    missing = [p for p, deb in zip(PACKAGES, wanted, strict=True) if not deb.exists()]
    if missing:
        r = subprocess.run(
            ["apt-get", "download", "-q", *(f"{p}={version}" for p in missing)],
            cwd=CACHE, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if r.returncode != 0:
            pytest.skip(f"apt-get download failed (run `apt-get update`?): {r.stderr[-300:]}")
    return wanted


def tomcat_home(root: Path, version: str) -> Path:
    """CATALINA_HOME assembled from Debian's packages, as Tomcat's binary zip lays it out."""
    unpacked = root / f"deb-{version}"
    for deb in _debs(version):
        subprocess.run(["dpkg-deb", "-x", deb, unpacked], check=True)
    share = unpacked / "usr/share/tomcat10"
    home = root / f"tomcat-{version}"
    for sub in ("bin", "lib"):
        (home / sub).mkdir(parents=True)
        for f in sorted((share / sub).iterdir()):
            shutil.copy2(f.resolve(), home / sub / f.name)  # Debian links into /usr/share/java
    shutil.copytree(share / "etc", home / "conf")
    shutil.copytree(unpacked / "usr/share/tomcat10-root/default_root", home / "webapps/ROOT")
    for scratch in ("logs", "temp", "work"):
        (home / scratch).mkdir()
    return home


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_profile_resolves_for_tomcat_products() -> None:
    r = run_cli("profile", "--product", PRODUCT, "--json", check=0).json["result"]
    (profile,) = r["profiles"]
    assert profile["name"] == "tomcat" and profile["source"] == "uplevel/profiles/tomcat.toml"
    assert "conf/**" in profile["config"] and "work/**" in profile["runtime"]


def test_tomcat_home_updated_in_place_and_reverted(tmp_path: Path) -> None:
    old, new = tomcat_home(tmp_path, OLD), tomcat_home(tmp_path, NEW)
    changed = [
        p.name for p in (old / "lib").iterdir() if sha(p) != sha(new / "lib" / p.name)
    ]  # the jars of the security release
    assert "catalina.jar" in changed
    bundle = tmp_path / "10.1.60.bundle"
    run_cli(
        "bundle", "create", "--product", PRODUCT, "--from-tree", old, "--to-tree", new,
        "--from-level", "0", "--to-level", "1", "--title", "Tomcat 10.1.60",
        "--advisory", "DEBIAN-TOMCAT10-10.1.60=high", "-o", bundle, check=0,
    )  # fmt: skip

    home = tmp_path / "home"
    shutil.copytree(old, home, symlinks=True)
    run_cli("init", "--home", home, "--product", PRODUCT, check=0)
    # The operator's configuration, jar and webapp; what the server writes while it runs.
    server_xml = home / "conf/server.xml"
    server_xml.write_text(server_xml.read_text().replace('port="8080"', 'port="8081"'))
    (home / "lib/postgresql.jar").write_bytes(b"driver")
    (home / "webapps/shop/WEB-INF").mkdir(parents=True)
    (home / "webapps/shop/WEB-INF/web.xml").write_text("<web-app/>\n")
    runtime = {
        "work/Catalina/localhost/shop/org/apache/jsp/index_jsp.class": b"\xca\xfe",
        "conf/Catalina/localhost/shop.xml": b"<Context/>\n",
        "logs/catalina.out": b"started\n",
        "temp/catalina.pid": b"999999\n",
    }
    for rel, data in runtime.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_bytes(data)

    st = run_cli("status", "--home", home, "--json", check=0).json["result"]
    assert st["local_changes"] == {
        "modified": ["conf/server.xml"],
        "added": ["lib/postgresql.jar", "webapps/shop/WEB-INF/web.xml"],
        "deleted": [],
    }
    assert st["runtime_data"]["files"] == len(runtime)

    run_cli("apply", "--home", home, bundle, check=0)
    for name in changed:
        assert sha(home / "lib" / name) == sha(new / "lib" / name), name
    assert 'port="8081"' in server_xml.read_text()
    assert (home / "lib/postgresql.jar").read_bytes() == b"driver"
    for rel, data in runtime.items():
        assert (home / rel).read_bytes() == data, rel
    assert (
        run_cli("verify", "--home", home, "--json").json["result"]["local_changes"]
        == (st["local_changes"])
    )

    run_cli("revert", "--home", home, check=0)
    for name in changed:
        assert sha(home / "lib" / name) == sha(old / "lib" / name), name
    assert 'port="8081"' in server_xml.read_text()
