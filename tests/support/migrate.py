"""What the migrate tests share: a published repository of a wso2am-like sample at levels
0-2, an old home that a server has used (real H2 databases, tenants, keystores, solr index,
deployed synapse configs, an added jar, a customised deployment.toml), and H2 helpers."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.homes import run_cli
from uplevel.devtools.sample import PRODUCT, write_level, write_pack
from uplevel.engine.running import holder

H2_JAR = Path("/usr/share/java/h2.jar")
CONF = "repository/conf/deployment.toml"
KEYSTORE = "repository/resources/security/wso2carbon.jks"
TRUSTSTORE = "repository/resources/security/client-truststore.jks"
WAR = "repository/deployment/server/webapps/am#sample#calculator#v1.war"
AM_DB = "repository/database/WSO2AM_DB.mv.db"
CARBON_DB = "repository/database/WSO2CARBON_DB.h2.db"  # the H2 1.x name, H2 2.x bytes
TRACE = "repository/database/WSO2AM_DB.trace.db"
JAR = "repository/components/lib/mysql-connector-j-8.4.0.jar"
SYNAPSE = "repository/deployment/server/synapse-configs/default/api/PizzaShackAPI.xml"
TENANT = "repository/tenants/1/synapse-configs/default/api/TenantAPI.xml"
TENANT_KS = "repository/tenants/1/resources/security/tenant1.jks"
SOLR = [f"solr/data/index/_{i}.cfs" for i in range(3)] + ["solr/data/index/segments_4"]
README = "README.txt"


def have_h2() -> bool:
    return H2_JAR.is_file() and shutil.which("java") is not None


needs_h2 = pytest.mark.skipif(
    not have_h2(), reason="needs Java and Debian's libh2-java (./dev test installs them)"
)


def _blob(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def write_tree(root: Path, level: int) -> None:
    """The sample product at `level`, with keystores and a webapp that level 2 replaces."""
    write_level(root, level)
    extra = {
        KEYSTORE: _blob("keystore", 2_800),
        TRUSTSTORE: _blob("truststore" if level < 2 else "truststore-2", 1_900),
        WAR: _blob("war" if level < 2 else "war-2", 25_000),
    }
    for path, data in extra.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


@dataclass
class World:
    root: Path
    trees: dict[int, Path]
    repo: Path
    databases: dict[str, bytes]  # file name → bytes of a real H2 2.x database

    def old_home(self, tmp: Path, *, level: int = 0, adopt: bool = True) -> Path:
        home = tmp / "old"
        shutil.copytree(self.trees[level], home, symlinks=True)
        if adopt:
            run_cli("init", "--home", home, "--product", PRODUCT, "--level", str(level), check=0)
        used_by_server(home, self.databases)
        return home

    def new_home(self, tmp: Path, *, level: int = 2, adopt: bool = True) -> Path:
        home = tmp / "new"
        shutil.copytree(self.trees[level], home, symlinks=True)
        if adopt:
            run_cli("init", "--home", home, "--product", PRODUCT, "--level", str(level), check=0)
        return home


def used_by_server(home: Path, databases: dict[str, bytes]) -> None:
    """What months of an API Manager's life leave in its home."""
    files = {
        AM_DB: databases["am"],
        CARBON_DB: databases["carbon"],
        TRACE: b"2026-11-20 trace of a crashed session\n",
        KEYSTORE: _blob("operator keystore", 3_100),
        JAR: _blob("mysql", 2_400_000),
        SYNAPSE: b'<api name="PizzaShackAPI" context="/pizzashack/1.0.0"/>\n',
        TENANT: b'<api name="TenantAPI" context="/t/acme.com/api/1.0"/>\n',
        TENANT_KS: _blob("tenant keystore", 2_000),
        **{p: _blob(p, 40_000 + i * 1000) for i, p in enumerate(SOLR)},
    }
    for path, data in files.items():
        (home / path).parent.mkdir(parents=True, exist_ok=True)
        (home / path).write_bytes(data)
    conf = home / CONF
    conf.write_text(
        conf.read_text().replace('hostname = "localhost"', 'hostname = "apim.acme.com"')
    )
    (home / README).unlink()


def h2(cls: str, *args: str | Path) -> str:
    p = subprocess.run(
        ["java", "-cp", str(H2_JAR), f"org.h2.tools.{cls}", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def make_database(directory: Path, name: str, rows: list[tuple[int, str]]) -> bytes:
    """A real H2 2.x database (NAME.mv.db) with one table of rows; returns its bytes."""
    script = directory / f"{name}.sql"
    values = ", ".join(f"({i}, '{s}')" for i, s in rows)
    script.write_text(
        f"CREATE TABLE AM_API(ID INT PRIMARY KEY, NAME VARCHAR(64));\n"
        f"INSERT INTO AM_API VALUES {values};\n"
    )
    url = f"jdbc:h2:{directory / name}"
    h2("RunScript", "-url", url, "-user", "sa", "-password", "", "-script", script)
    return (directory / f"{name}.mv.db").read_bytes()


def query(db_without_suffix: Path, sql: str) -> str:
    return h2(
        "Shell", "-url", f"jdbc:h2:{db_without_suffix}", "-user", "sa", "-password", "", "-sql", sql
    )


AM_ROWS = [(1, "PizzaShackAPI"), (2, "CalculatorAPI")]
CARBON_ROWS = [(7, "tenant-acme"), (8, "tenant-globex")]


def build_world(root: Path, *, with_databases: bool) -> World:
    trees = {}
    for n in (0, 1, 2):
        trees[n] = root / f"level{n}"
        trees[n].mkdir(parents=True)
        write_tree(trees[n], n)
    pack = root / "pack.zip"
    write_pack(trees[0], pack)
    repo = root / "repo"
    run_cli("repo", "init", repo, check=0)
    run_cli("repo", "add-product", repo, "--pack", pack, "--product", PRODUCT, check=0)
    for n in (1, 2):
        run_cli(
            "repo",
            "add-update",
            repo,
            "--product",
            PRODUCT,
            "--from-tree",
            trees[n - 1],
            "--to-tree",
            trees[n],
            "--title",
            f"update {n}",
            check=0,
        )
    if with_databases:
        dbdir = root / "h2"
        dbdir.mkdir()
        databases = {
            "am": make_database(dbdir, "WSO2AM_DB", AM_ROWS),
            "carbon": make_database(dbdir, "WSO2CARBON_DB", CARBON_ROWS),
        }
    else:  # stand-ins: the crash tests look at bytes, not at rows
        databases = {"am": _blob("am-db", 20_480), "carbon": _blob("carbon-db", 16_384)}
    return World(root, trees, repo, databases)


@contextlib.contextmanager
def held_open(db_without_suffix: Path) -> Iterator[subprocess.Popen[str]]:
    """A running H2 process (the Shell, waiting for input) that keeps the database open."""
    shell = subprocess.Popen(
        [
            "java",
            "-cp",
            str(H2_JAR),
            "org.h2.tools.Shell",
            "-url",
            f"jdbc:h2:{db_without_suffix}",
            "-user",
            "sa",
            "-password",
            "",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        mv = db_without_suffix.with_name(db_without_suffix.name + ".mv.db")
        deadline = time.monotonic() + 30
        while holder(mv) is None:
            assert shell.poll() is None, "the H2 shell exited"
            assert time.monotonic() < deadline, "H2 never locked the database"
            time.sleep(0.05)
        # H2 writes to the file for a moment after it locks it; tests compare the home
        # before and after a refused command, so wait until the file has settled.
        last, stable_since = None, time.monotonic()
        while time.monotonic() - stable_since < 1.0:
            st = mv.stat()
            now = (st.st_size, st.st_mtime_ns)
            if now != last:
                last, stable_since = now, time.monotonic()
            assert time.monotonic() < deadline, "H2 kept writing the database"
            time.sleep(0.05)
        yield shell
    finally:
        assert shell.stdin is not None
        shell.stdin.close()
        try:
            shell.wait(timeout=20)
        except subprocess.TimeoutExpired:
            shell.kill()
            shell.wait()


def sleeper() -> subprocess.Popen[bytes]:
    """A live process whose pid a test writes in a pid file."""
    return subprocess.Popen(["sleep", "60"])


def stop(p: subprocess.Popen[bytes]) -> None:
    p.terminate()
    p.wait(timeout=10)


def inode(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
