"""`uplevel migrate` on real files, through the real CLI, with real H2 databases.

The old home is a wso2am-like sample a server has used (migrate_support.used_by_server):
tenants, custom keystores, a customised deployment.toml, an added jar, a solr index,
deployed synapse configs, H2 databases under both names. The new home is the same
product two levels newer, where an update changed deployment.toml, the truststore and a
webapp.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.homes import run_cli, snapshot
from tests.support.migrate import (
    AM_DB,
    AM_ROWS,
    CARBON_DB,
    CARBON_ROWS,
    CONF,
    JAR,
    KEYSTORE,
    README,
    SOLR,
    SYNAPSE,
    TENANT,
    TENANT_KS,
    TRACE,
    TRUSTSTORE,
    WAR,
    World,
    build_world,
    have_h2,
    held_open,
    inode,
    needs_h2,
    query,
    sleeper,
    stop,
)
from uplevel.core.paths import STATE_DIR
from uplevel.devtools.sample import PRODUCT

CARRIED = [AM_DB, CARBON_DB, KEYSTORE, JAR, SYNAPSE, TENANT, TENANT_KS, *SOLR]
RUNTIME = [AM_DB, CARBON_DB, SYNAPSE, TENANT, TENANT_KS, *SOLR]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not have_h2():
        pytest.skip("needs Java and Debian's libh2-java (./dev test installs them)")
    yield build_world(tmp_path_factory.mktemp("migrate"), with_databases=True)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def migrate(old: Path, new: Path, *args: str | Path, check: int | None = None) -> dict:
    r = run_cli("migrate", "--from", old, "--to", new, "--json", *args, check=check)
    envelope = json.loads(r.stdout)
    assert envelope["uplevel"] == 1 and envelope["command"] == "migrate"
    return envelope  # type: ignore[no-any-return]


def items(envelope: dict) -> dict[str, dict]:
    return {i["path"]: i for i in envelope["result"]["items"]}


def whole(home: Path) -> dict:
    """Everything in a home, uplevel's state included (lock file aside)."""
    snap = snapshot(home, include_state=True)
    return {p: v for p, v in snap.items() if not p.endswith("/lock")}


# --- the whole flow -----------------------------------------------------------------------


def test_everything_arrives_verified_and_configuration_merged(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path)
    old_before = whole(old)
    war_new = sha(new / WAR)

    env = migrate(old, new, "--repo", world.repo, check=0)
    r = env["result"]
    assert env["ok"] and r["status"] == "migrated"
    assert (r["old_level"], r["old_level_from"], r["new_level"]) == (0, "state", 2)
    got = items(env)
    # Runtime data is copied, byte for byte; additions and the custom keystore are carried.
    for path in CARRIED:
        assert sha(new / path) == sha(old / path), path
        assert os.stat(new / path).st_mode == os.stat(old / path).st_mode, path
    for path in RUNTIME:
        assert got[path]["action"] == "copy" and got[path]["category"] == "runtime", path
    assert got[KEYSTORE]["action"] == "carry" and got[KEYSTORE]["category"] == "config"
    assert got[JAR]["action"] == "carry" and got[JAR]["category"] == "addition"
    # deployment.toml: the operator's hostname and the update's new table, both.
    assert got[CONF]["action"] == "merge"
    merged = (new / CONF).read_text()
    assert 'hostname = "apim.acme.com"' in merged and "[apim.throttling]" in merged
    # The webapp level 2 replaced stays level 2's: OLD never touched it.
    assert sha(new / WAR) == war_new
    assert got[WAR]["action"] == "skip"
    # Never carried: the trace file. Deleted in OLD: reported, still in NEW.
    assert not (new / TRACE).exists() and got[TRACE]["action"] == "skip"
    assert got[README]["action"] == "deleted" and (new / README).exists()
    assert not (new / STATE_DIR / "txn").exists()
    # Counts and bytes add up.
    assert r["counts"]["copy"] == len(RUNTIME) and r["counts"]["carry"] == 2
    assert r["counts"]["merge"] == 1 and r["counts"]["conflict"] == 0
    assert r["bytes"]["copied"] == sum((old / p).stat().st_size for p in RUNTIME)
    assert r["links"] == {"copied": len(CARRIED), "reflinked": 0, "hardlinked": 0}
    # OLD is exactly as it was.
    assert whole(old) == old_before
    # In NEW, what was carried is a local change, the runtime data is counted apart (never
    # a local change); its history says migrated.
    status = run_cli("status", "--home", new, "--json", check=0).json["result"]
    local = status["local_changes"]
    assert set(local["added"]) == {JAR}
    assert set(local["modified"]) == {CONF, KEYSTORE}
    assert status["runtime_data"]["files"] >= len(RUNTIME)
    assert status["runtime_data"]["bytes"] >= sum((new / p).stat().st_size for p in RUNTIME)
    events = run_cli("history", "--home", new, "--json", check=0).json["result"]["events"]
    assert [e["event"] for e in events] == ["init", "migrated"]
    # The databases open in NEW and hold their rows, under both names.
    out = query(new / AM_DB.removesuffix(".mv.db"), "SELECT ID, NAME FROM AM_API ORDER BY ID")
    assert all(name in out for _, name in AM_ROWS), out
    renamed = tmp_path / "carbon"
    renamed.mkdir()
    shutil.copyfile(new / CARBON_DB, renamed / "WSO2CARBON_DB.mv.db")
    out = query(renamed / "WSO2CARBON_DB", "SELECT ID, NAME FROM AM_API ORDER BY ID")
    assert all(name in out for _, name in CARBON_ROWS), out


def test_dry_run_prints_the_plan_and_changes_nothing(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path)
    before_old, before_new = whole(old), whole(new)
    env = migrate(old, new, "--repo", world.repo, "--dry-run", check=0)
    assert env["result"]["status"] == "dry-run"
    assert set(env["result"]) == {  # docs/json-output.md and docs/migrate.md name these keys
        "old_home", "new_home", "status", "product", "old_product", "old_level",
        "old_level_from", "new_level", "new_pristine_from", "link", "counts", "bytes",
        "links", "items", "conflicts", "closeness", "notes",
    }  # fmt: skip
    assert set(env["result"]["counts"]) == {"copy", "carry", "merge", "conflict", "skip", "deleted"}
    assert items(env)[CONF]["action"] == "merge"
    assert env["result"]["counts"]["copy"] == len(RUNTIME)
    assert whole(old) == before_old and whole(new) == before_new
    human = run_cli("migrate", "--from", old, "--to", new, "--repo", world.repo, "--dry-run")
    assert human.returncode == 0
    assert "would be copied" in human.stdout and f"merged    config   {CONF}" in human.stdout
    assert whole(new) == before_new


def test_without_the_pristine_base_a_merge_is_refused_with_a_hint(
    world: World, tmp_path: Path
) -> None:
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path)
    before = whole(new)
    env = migrate(old, new, check=1)
    assert "three-way merge" in env["error"]["message"] and "--repo" in env["error"]["hint"]
    assert whole(new) == before


# --- conflicts ------------------------------------------------------------------------------


def conflicting(old: Path) -> None:
    """A setting the update also sets, differently; and the truststore changed on both sides."""
    conf = old / CONF
    conf.write_text(
        conf.read_text().replace(
            "[apim.analytics]",
            "[apim.throttling]\nenable_data_publishing = false\n\n[apim.analytics]",
        )
    )
    (old / TRUSTSTORE).write_bytes(b"operator's truststore\x00\x01")


def test_conflicts_stop_then_continue_with_final(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    conflicting(old)
    new = world.new_home(tmp_path)
    env = migrate(old, new, "--repo", world.repo, check=3)
    r = env["result"]
    assert not env["ok"] and r["status"] == "conflicts"
    by_path = {c["path"]: c for c in r["conflicts"]}
    assert set(by_path) == {CONF, TRUSTSTORE}
    assert [s["path"] for s in by_path[CONF]["settings"]] == [
        "apim.throttling.enable_data_publishing"
    ]
    # As a stopped apply leaves it: f holds the operator's (OLD's) file, beside the helpers.
    assert (new / CONF).read_bytes() == (old / CONF).read_bytes()
    for suffix in (".original", ".new", ".merge"):
        assert (new / (CONF + suffix)).is_file(), suffix
    assert (new / (TRUSTSTORE + ".new")).read_bytes() == (world.trees[2] / TRUSTSTORE).read_bytes()
    # Runtime data arrived already; status shows the stop; other commands refuse.
    assert sha(new / AM_DB) == sha(old / AM_DB)
    status = run_cli("status", "--home", new, "--json", check=0).json["result"]
    assert {c["path"] for c in status["pending"]["conflicts"]} == {CONF, TRUSTSTORE}
    final = (new / (CONF + ".merge")).read_text()
    assert "<<<<<<<" in final or "enable_data_publishing" in final
    resolved = (
        (new / (CONF + ".new"))
        .read_text()
        .replace('hostname = "localhost"', 'hostname = "apim.acme.com"')
    )
    (new / (CONF + ".final")).write_text(resolved)
    (new / (TRUSTSTORE + ".final")).write_bytes(b"merged truststore")
    done = run_cli("continue", "--home", new, "--json", check=0).json["result"]
    assert done["status"] == "applied"
    assert (new / CONF).read_text() == resolved
    assert (new / TRUSTSTORE).read_bytes() == b"merged truststore"
    leftovers = [p for p in os.listdir(new / "repository/conf") if p.startswith("deployment.toml.")]
    assert leftovers == []
    events = run_cli("history", "--home", new, "--json", check=0).json["result"]["events"]
    assert [e["event"] for e in events] == ["init", "stopped", "migrated"]


def test_conflicts_stop_then_abort_restores_new_exactly(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    conflicting(old)
    new = world.new_home(tmp_path)
    before = snapshot(new)
    assert not (new / TENANT).parent.exists()
    migrate(old, new, "--repo", world.repo, check=3)
    assert snapshot(new) != before
    assert (new / TENANT).read_bytes() == (old / TENANT).read_bytes()  # moved in as a tree
    (new / (CONF + ".final")).write_text("kept by abort\n")
    r = run_cli("abort", "--home", new, "--json", check=0).json["result"]
    assert r["status"] == "aborted" and r["kept_in_store"] == [CONF + ".final"]
    assert snapshot(new) == before
    assert not (new / TENANT).parent.exists() and not (new / "repository/tenants/1").exists()
    # Migrating again after a fix works.
    (old / TRUSTSTORE).write_bytes((world.trees[0] / TRUSTSTORE).read_bytes())
    conf = old / CONF
    conf.write_text(
        conf.read_text().replace("enable_data_publishing = false", "enable_data_publishing = true")
    )
    assert migrate(old, new, "--repo", world.repo, check=0)["result"]["status"] == "migrated"


# --- an old home uplevel never adopted -------------------------------------------------------


def test_unadopted_old_level_found_by_closest_level_or_given(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path, level=1, adopt=False)
    new = world.new_home(tmp_path)
    before = whole(new)
    refused = migrate(old, new, check=2)
    assert "never adopted" in refused["error"]["message"]
    assert "--repo" in refused["error"]["hint"]
    plan = migrate(old, new, "--repo", world.repo, "--dry-run", check=0)["result"]
    assert (plan["old_level"], plan["old_level_from"]) == (1, "closest")
    scores = {s["level"]: s for s in plan["closeness"]}
    assert scores[1]["differing"] < scores[0]["differing"]
    given = migrate(old, new, "--repo", world.repo, "--from-level", "1", "--dry-run", check=0)
    assert (given["result"]["old_level"], given["result"]["old_level_from"]) == (1, "given")
    assert whole(new) == before
    assert not (old / STATE_DIR).exists()
    done = migrate(old, new, "--repo", world.repo, check=0)["result"]
    assert done["status"] == "migrated" and done["counts"]["merge"] == 0
    # Level 1 already had the throttling table: the operator's file is carried as it is.
    assert (new / CONF).read_bytes() == (old / CONF).read_bytes()
    assert not (old / STATE_DIR).exists(), "migrate wrote into an unadopted OLD"


def test_unadopted_new_is_adopted_at_its_published_level(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path, adopt=False)
    r = migrate(old, new, "--repo", world.repo, check=0)["result"]
    assert (r["new_level"], r["new_pristine_from"]) == (2, "repository, adopted")
    state = json.loads((new / STATE_DIR / "state.json").read_text())
    assert (state["product"], state["level"]) == (PRODUCT, 2)
    assert sha(new / AM_DB) == sha(old / AM_DB)


# --- refusals -------------------------------------------------------------------------------


def refused(old: Path, new: Path, *args: str | Path) -> dict:
    before_new, before_old = whole(new), whole(old)
    env = migrate(old, new, *args, check=4)
    assert env["error"]["type"] == "BusyError"
    assert whole(new) == before_new and whole(old) == before_old
    return env  # type: ignore[no-any-return]


def test_refused_while_the_old_server_runs(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path)
    server = sleeper()
    try:
        (old / "wso2carbon.pid").write_text(f"{server.pid}\n")
        env = refused(old, new, "--repo", world.repo)
        assert f"pid {server.pid}" in env["error"]["message"] and "OLD" in env["error"]["message"]
    finally:
        stop(server)
    # A stale pid file (the process is gone) does not block.
    assert migrate(old, new, "--repo", world.repo, "--dry-run", check=0)["ok"]


def test_refused_while_the_new_server_runs(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path)
    server = sleeper()
    try:
        (new / "wso2carbon.pid").write_text(f"{server.pid}\n")
        env = refused(old, new, "--repo", world.repo)
        assert "NEW" in env["error"]["message"]
    finally:
        stop(server)


def test_refused_while_an_h2_lock_file_exists_unless_forced(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path)
    (old / "repository/database/WSO2CARBON_DB.lock.db").write_bytes(b"lock")
    env = refused(old, new, "--repo", world.repo)
    assert "WSO2CARBON_DB.lock.db" in env["error"]["message"]
    forced = migrate(old, new, "--repo", world.repo, "--force", check=0)
    assert items(forced)["repository/database/WSO2CARBON_DB.lock.db"]["action"] == "skip"
    assert not (new / "repository/database/WSO2CARBON_DB.lock.db").exists()


@needs_h2
def test_refused_while_a_database_is_held_open_even_forced(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path)
    with held_open(old / AM_DB.removesuffix(".mv.db")):
        # H2 2.x leaves no *.lock.db: only the POSIX lock on the .mv.db says it is open.
        assert not list((old / "repository/database").glob("*.lock.db"))
        env = refused(old, new, "--repo", world.repo, "--force")
        assert AM_DB in env["error"]["message"] and "holds its lock" in env["error"]["message"]


# --- links ----------------------------------------------------------------------------------


def test_link_shares_runtime_files_and_copies_the_rest(world: World, tmp_path: Path) -> None:
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path)
    env = migrate(old, new, "--repo", world.repo, "--link", check=0)
    links = env["result"]["links"]
    assert links["reflinked"] + links["hardlinked"] == len(RUNTIME)
    for path in RUNTIME:
        assert items(env)[path]["how"] in ("reflinked", "hardlinked")
        if items(env)[path]["how"] == "hardlinked":
            assert inode(new / path) == inode(old / path), path
        assert sha(new / path) == sha(old / path)
    for path in (KEYSTORE, JAR):  # configuration and additions: always copies
        assert inode(new / path) != inode(old / path)
        assert sha(new / path) == sha(old / path)
    # Linked files were not read: the record says so; NEW's status counts them as runtime data.
    record = next((new / STATE_DIR / "transactions").glob("*.json"))
    after = {c["path"]: c["after"] for c in json.loads(record.read_text())["changes"]}
    assert after[TENANT]["sha256"] == "0" * 64 and after[JAR]["sha256"] == sha(old / JAR)
    status = run_cli("status", "--home", new, "--json", check=0).json["result"]
    assert TENANT not in status["local_changes"]["added"]
    assert status["runtime_data"]["files"] >= len(RUNTIME)


# --- pristine files from an update server ------------------------------------------------------


def test_server_supplies_old_level_and_merge_base(world: World, tmp_path: Path) -> None:
    """An old home never adopted, a server as the only source: its level is found against
    the TUF-verified manifests, and the merge base comes from its verified blobs."""
    from tests.support.server import serving

    token = run_cli(
        "repo", "token", "create", world.repo, "--subscriber", "ops", "--product", "wso2am-*",
        "--channel", "full", "--json", check=0,
    ).json["result"]["token"]  # fmt: skip
    old = world.old_home(tmp_path, adopt=False)
    new = world.new_home(tmp_path)
    with serving(world.repo) as url:
        r = run_cli(
            "migrate", "--from", old, "--to", new, "--server", url, "--json",
            env={"UPLEVEL_TOKEN": token}, check=0,
        ).json["result"]  # fmt: skip
    assert (r["old_level"], r["old_level_from"]) == (0, "closest")
    assert r["counts"]["merge"] == 1
    merged = (new / CONF).read_text()
    assert 'hostname = "apim.acme.com"' in merged and "[apim.throttling]" in merged
    assert sha(new / AM_DB) == sha(old / AM_DB)


# --- the whole WUM-style flow: a fresh pack at the new level, then migrate -----------------------


@pytest.mark.skipif(shutil.which("unzip") is None, reason="needs Info-ZIP unzip")
def test_into_an_unzipped_uplevel_pack(world: World, tmp_path: Path) -> None:
    """`uplevel pack` builds level 2; unzipped it is an adopted home, so migrate needs no
    init on NEW, takes its pristine from the pack's state and reads the merge base from the
    repository."""
    import subprocess

    zipped = tmp_path / "wso2am-level2.zip"
    run_cli(
        "pack", "--product", PRODUCT, "--level", "2", "--repo", world.repo, "-o", zipped, check=0
    )
    subprocess.run(["unzip", "-q", str(zipped), "-d", str(tmp_path / "unzipped")], check=True)
    new = tmp_path / "unzipped" / PRODUCT
    assert (new / STATE_DIR / "state.json").is_file()
    old = world.old_home(tmp_path)
    r = migrate(old, new, "--repo", world.repo, check=0)["result"]
    assert (r["new_level"], r["new_pristine_from"], r["status"]) == (2, "state", "migrated")
    for path in CARRIED:
        assert sha(new / path) == sha(old / path), path
    merged = (new / CONF).read_text()
    assert 'hostname = "apim.acme.com"' in merged and "[apim.throttling]" in merged
    assert sha(new / WAR) == sha(world.trees[2] / WAR)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another user")
def test_copies_and_new_directories_keep_owner_and_mode(world: World, tmp_path: Path) -> None:
    """The server runs as its own user: in NEW it must own its databases and tenants again."""
    old = world.old_home(tmp_path)
    new = world.new_home(tmp_path)
    tenant = old / "repository/tenants/1"
    for p in (tenant, old / TENANT, old / AM_DB):
        os.lchown(p, 4321, 4321)
    tenant.chmod(0o750)
    migrate(old, new, "--repo", world.repo, check=0)
    for rel in ("repository/tenants/1", TENANT, AM_DB):
        st = os.lstat(new / rel)
        assert (st.st_uid, st.st_gid) == (4321, 4321), rel
    assert os.lstat(new / "repository/tenants/1").st_mode & 0o777 == 0o750
    assert os.lstat(new / JAR).st_uid == 0  # an untouched owner stays the runner's
