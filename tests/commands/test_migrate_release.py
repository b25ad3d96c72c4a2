"""Migration across releases: an adopted wso2am-4.1.0 home carried into a wso2am-4.2.0
home, the two products published in one repository (which supplies the merge bases).

The new release renames plugin jars, drops a file and changes deployment.toml; the operator
changed configuration, added a jar, deployed APIs, created a tenant and wrote to the H2
database. Only the operator's work may arrive: nothing of the old release's own files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.homes import run_cli
from uplevel.devtools.sample import write_level, write_pack

OLD_PRODUCT, NEW_PRODUCT = "wso2am-4.1.0", "wso2am-4.2.0"
CONF = "repository/conf/deployment.toml"
LOG4J = "repository/conf/log4j2.properties"
DB = "repository/database/WSO2AM_DB.mv.db"
JAR = "repository/components/lib/ojdbc11.jar"
API = "repository/deployment/server/synapse-configs/default/api/OrdersAPI.xml"
TENANT = "repository/tenants/3/synapse-configs/default/api/T.xml"
OLD_PLUGIN = "repository/components/plugins/org.wso2.carbon.core_0.0.0.jar"

pytestmark = pytest.mark.slow


def _tree_hashes(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            p = Path(dirpath, name)
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def _new_release(root: Path, *, password: str | None = None) -> None:
    """wso2am-4.2.0 as its pack ships: renamed plugins, a new table, README gone."""
    write_level(root, 0)
    plugins = root / "repository/components/plugins"
    for jar in sorted(plugins.iterdir()):
        jar.rename(plugins / jar.name.replace("core_", "core_42."))
    conf = root / CONF
    text = conf.read_text() + '\n[apim.ai]\nenable = true\nendpoint = "https://ai.wso2.com"\n'
    if password:
        text = text.replace('password = "admin"', f'password = "{password}"')
    conf.write_text(text)
    (root / "README.txt").unlink()


@pytest.fixture
def release_world(tmp_path: Path) -> dict[str, Path]:
    old_tree, new_tree = tmp_path / "old-tree", tmp_path / "new-tree"
    old_tree.mkdir()
    new_tree.mkdir()
    write_level(old_tree, 0)
    _new_release(new_tree)
    repo = tmp_path / "repo"
    run_cli("repo", "init", repo, check=0)
    for product, tree in ((OLD_PRODUCT, old_tree), (NEW_PRODUCT, new_tree)):
        pack = tmp_path / f"{product}.zip"
        write_pack(tree, pack, top=product)
        run_cli("repo", "add-product", repo, "--pack", pack, "--product", product, check=0)
    return {"old_tree": old_tree, "new_tree": new_tree, "repo": repo, "tmp": tmp_path}


def _old_home(w: dict[str, Path], *, password: str | None = None) -> Path:
    old = w["tmp"] / "old"
    shutil.copytree(w["old_tree"], old, symlinks=True)
    run_cli("init", "--home", old, "--product", OLD_PRODUCT, "--level", "0", check=0)
    conf = old / CONF
    text = conf.read_text().replace('hostname = "localhost"', 'hostname = "gw.acme.com"')
    if password:
        text = text.replace('password = "admin"', f'password = "{password}"')
    conf.write_text(text)
    (old / LOG4J).write_text((old / LOG4J).read_text().replace("level = INFO", "level = DEBUG"))
    for path, data in {
        JAR: b"oracle driver " * 1000,
        API: b'<api name="OrdersAPI" context="/orders"/>\n',
        TENANT: b'<api name="T" context="/t/acme.com/t"/>\n',
        DB: b"H2 pages written by the old server " * 500,
    }.items():
        (old / path).parent.mkdir(parents=True, exist_ok=True)
        (old / path).write_bytes(data)
    return old


def _new_home(w: dict[str, Path]) -> Path:
    new = w["tmp"] / "new"
    shutil.copytree(w["new_tree"], new, symlinks=True)
    run_cli("init", "--home", new, "--product", NEW_PRODUCT, "--level", "0", check=0)
    return new


def test_operator_work_crosses_releases_and_the_old_release_stays_behind(
    release_world: dict[str, Path],
) -> None:
    w = release_world
    old, new = _old_home(w), _new_home(w)
    old_before = _tree_hashes(old)

    r = run_cli("migrate", "--from", old, "--to", new, "--repo", w["repo"], "--json", check=0)
    result = json.loads(r.stdout)["result"]
    actions = {i["path"]: i["action"] for i in result["items"]}
    assert actions[CONF] == "merge"
    assert actions[LOG4J] == "carry"  # the new release left log4j2 as 4.1.0 had it
    assert {actions[p] for p in (DB, API, TENANT)} == {"copy"}
    assert actions[JAR] in ("carry", "copy")
    assert actions[OLD_PLUGIN] == "skip"  # the old release's own jar: pristine in OLD

    conf = (new / CONF).read_text()
    assert 'hostname = "gw.acme.com"' in conf  # the operator's
    assert "[apim.ai]" in conf and 'endpoint = "https://ai.wso2.com"' in conf  # 4.2.0's
    assert "rootLogger.level = DEBUG" in (new / LOG4J).read_text()
    for path in (JAR, API, TENANT, DB):
        assert (new / path).read_bytes() == (old / path).read_bytes(), path
    assert not (new / OLD_PLUGIN).exists()  # nothing of 4.1.0's own files
    assert (new / OLD_PLUGIN.replace("core_", "core_42.")).is_file()
    assert not (new / "README.txt").exists()  # removed by the new release, pristine in OLD
    lock = "updates/uplevel/lock"  # the home lock records its holder's pid
    assert {k: v for k, v in _tree_hashes(old).items() if k != lock} == {
        k: v for k, v in old_before.items() if k != lock
    }  # OLD is only read

    st = json.loads(run_cli("status", "--home", new, "--json", check=0).stdout)["result"]
    assert st["product"] == NEW_PRODUCT and st["pending"] is None
    changed = set(st["local_changes"]["modified"]) | set(st["local_changes"]["added"])
    assert {CONF, LOG4J, JAR} <= changed  # NEW's pristine is still 4.2.0's
    assert not {API, TENANT, DB} & changed  # runtime data: counted apart
    assert st["runtime_data"]["files"] >= 3
    hist = run_cli("history", "--home", new, check=0).stdout
    assert "migrat" in hist


def test_a_setting_both_releases_and_the_operator_changed_stops_in_new(
    release_world: dict[str, Path],
) -> None:
    w = release_world
    # Rebuild 4.2.0 with a new default admin password, published as its level 0.
    shutil.rmtree(w["new_tree"])
    w["new_tree"].mkdir()
    _new_release(w["new_tree"], password="changeme")
    repo2 = w["tmp"] / "repo2"
    run_cli("repo", "init", repo2, check=0)
    for product, tree in ((OLD_PRODUCT, w["old_tree"]), (NEW_PRODUCT, w["new_tree"])):
        pack = w["tmp"] / f"{product}-2.zip"
        write_pack(tree, pack, top=product)
        run_cli("repo", "add-product", repo2, "--pack", pack, "--product", product, check=0)
    old, new = _old_home(w, password="s3cret"), _new_home(w)

    r = run_cli("migrate", "--from", old, "--to", new, "--repo", repo2, "--json", check=3)
    conflicts = json.loads(r.stdout)["result"]["conflicts"]
    assert [c["path"] for c in conflicts] == [CONF]
    status = run_cli("status", "--home", new, check=0).stdout
    assert "migration into this home STOPPED on 1 conflict(s)" in status
    assert "super_admin.password" in status and "s3cret" in status and "changeme" in status
    # The rest of the operator's work is already there while the conflict waits.
    assert (new / JAR).read_bytes() == (old / JAR).read_bytes()

    # f.merge holds the structured merge with the operator's value at the conflict: the
    # operator accepts it as f.final.
    merged = (new / (CONF + ".merge")).read_text()
    assert 'password = "s3cret"' in merged and "[apim.ai]" in merged
    (new / (CONF + ".final")).write_text(merged)
    run_cli("continue", "--home", new, check=0)
    conf = (new / CONF).read_text()
    assert 'password = "s3cret"' in conf and "[apim.ai]" in conf
    assert not list(new.rglob("*.merge")) and not list(new.rglob("*.original"))
