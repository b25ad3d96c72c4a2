"""The uplevel.fleet collection as Ansible sees it: `ansible-galaxy collection build`
accepts it, `ansible-doc` reads every module's documentation, and the modules, run by
ansible-core on real homes, are idempotent, honour check mode, refuse a running product
and undo an update that stops on conflicts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.support.fleet import (
    BIN,
    CONF,
    PID_FILE,
    REPO,
    ansible_env,
    make_fleet,
    run_playbook,
    tree_digest,
    uplevel,
)

pytestmark = pytest.mark.slow

COLLECTION = REPO / "ansible_collections/uplevel/fleet"
MODULES = ("uplevel_update", "uplevel_status", "uplevel_revert")


def test_ansible_galaxy_builds_the_collection(tmp_path: Path) -> None:
    r = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", str(COLLECTION),
         "--output-path", str(tmp_path)],
        capture_output=True, text=True, env=ansible_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    (built,) = tmp_path.glob("uplevel-fleet-*.tar.gz")
    with tarfile.open(built) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("MANIFEST.json").read())  # type: ignore[union-attr]
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["license"]) == (
        "uplevel",
        "fleet",
        ["Apache-2.0"],
    )
    assert {f"plugins/modules/{m}.py" for m in MODULES} <= names
    assert {
        "plugins/module_utils/uplevel_cli.py",
        "roles/rolling_update/tasks/main.yml",
        "playbooks/rolling_update.yml",
        "playbooks/level_report.yml",
        "meta/runtime.yml",
        "README.md",
    } <= names


def test_ansible_doc_reads_every_module(tmp_path: Path) -> None:
    r = subprocess.run(
        [str(BIN / "ansible-doc"), "--json", *(f"uplevel.fleet.{m}" for m in MODULES)],
        capture_output=True, text=True, env=ansible_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    docs = json.loads(r.stdout)
    assert set(docs) == {f"uplevel.fleet.{m}" for m in MODULES}
    update = docs["uplevel.fleet.uplevel_update"]
    assert {
        "home",
        "level",
        "channel",
        "bundle",
        "server",
        "on_conflict",
        "force",
        "uplevel",
    } <= set(update["doc"]["options"])
    assert {
        "changed",
        "level_before",
        "level_after",
        "files_changed",
        "conflicts",
        "summary",
    } <= set(update["return"])
    for doc in docs.values():
        assert doc["examples"].strip()
        assert doc["doc"]["attributes"]["check_mode"]["support"] == "full"
    plain = subprocess.run(
        [str(BIN / "ansible-doc"), "uplevel.fleet.uplevel_update"],
        capture_output=True, text=True, env=ansible_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert plain.returncode == 0 and "uplevel_update" in plain.stdout, plain.stderr


def product_files_of(digest: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in digest.items() if not k.startswith("updates/uplevel")}


def product_files(home: Path) -> dict[str, str]:
    """The home's own files, without uplevel's state (which records every run)."""
    return product_files_of(tree_digest(home))


PLAYBOOK = """\
- hosts: node1
  gather_facts: false
  vars:
    common: &common
      env: "{{ uplevel_env }}"
  tasks:
    - name: status of a customised home
      uplevel.fleet.uplevel_status: {home: "{{ homes.clean }}", <<: *common}
      register: status

    - name: update, check mode
      uplevel.fleet.uplevel_update: {home: "{{ homes.clean }}", bundle: "{{ bundle }}", <<: *common}
      check_mode: true
      register: update_check

    - name: update
      uplevel.fleet.uplevel_update: {home: "{{ homes.clean }}", bundle: "{{ bundle }}", <<: *common}
      register: update

    - name: update again
      uplevel.fleet.uplevel_update:
        {home: "{{ homes.clean }}", bundle: "{{ bundle }}", level: 1, <<: *common}
      register: update_again

    - name: revert, check mode
      uplevel.fleet.uplevel_revert: {home: "{{ homes.clean }}", level: 0, <<: *common}
      check_mode: true
      register: revert_check

    - name: revert
      uplevel.fleet.uplevel_revert: {home: "{{ homes.clean }}", level: 0, <<: *common}
      register: revert

    - name: revert again
      uplevel.fleet.uplevel_revert: {home: "{{ homes.clean }}", level: 0, <<: *common}
      register: revert_again

    - name: update stopping on conflicts
      uplevel.fleet.uplevel_update:
        {home: "{{ homes.conflict }}", bundle: "{{ bundle }}", <<: *common}
      register: conflict
      ignore_errors: true

    - name: update a running product
      uplevel.fleet.uplevel_update: {home: "{{ homes.running }}", bundle: "{{ bundle }}", <<: *common}
      register: running
      ignore_errors: true

    - name: keep every result
      ansible.builtin.copy:
        dest: "{{ results }}"
        content: >-
          {{ {'status': status, 'update_check': update_check, 'update': update,
              'update_again': update_again, 'revert_check': revert_check, 'revert': revert,
              'revert_again': revert_again, 'conflict': conflict, 'running': running}
             | to_json }}
      check_mode: false
"""


def test_modules_are_idempotent_honour_check_mode_and_undo_conflicts(tmp_path: Path) -> None:
    def threads_32(home: Path) -> None:
        conf = home / CONF
        conf.write_text(conf.read_text().replace("threads = 8", "threads = 32"))

    fleet = make_fleet(tmp_path, {"node2": threads_32}, start=False)
    homes = {"clean": fleet.homes["node1"], "conflict": fleet.homes["node2"]}
    homes["running"] = fleet.homes["node3"]
    (homes["running"] / PID_FILE).write_text(f"{os.getpid()}\n")  # a live process
    digests = {k: tree_digest(v) for k, v in homes.items()}
    playbook = tmp_path / "modules.yml"
    playbook.write_text(PLAYBOOK)
    results = tmp_path / "results.json"
    variables = {
        "homes": {k: str(v) for k, v in homes.items()},
        "bundle": str(fleet.bundle),
        "uplevel_env": fleet.env,
        "results": str(results),
    }

    r = run_playbook(tmp_path, fleet.inventory, playbook, variables)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(results.read_text())

    status = got["status"]
    assert (status["product"], status["level"], status["channel"]) == ("standin-1.0.0", 0, "full")
    assert status["local_changes"]["modified"] == [CONF]  # the node's own port
    assert status["stopped"] is False and status["running"] is False
    assert status["profile"]["name"] == "standin"
    assert status["ansible_facts"]["uplevel"]["level"] == 0

    check = got["update_check"]
    assert check["changed"] is True and check["result"]["status"] == "dry-run"
    assert (check["level_before"], check["level_after"]) == (0, 1)
    assert sorted(check["files_changed"]) == [
        "conf/log.properties", CONF, "lib/core.jar", "lib/core.txt"
    ]  # fmt: skip

    update = got["update"]
    assert update["changed"] is True and update["result"]["status"] == "applied"
    assert (update["level_before"], update["level_after"]) == (0, 1)
    assert update["files_changed"] == check["files_changed"]
    assert update["summary"] == "level 0 -> 1, 1 update(s) (0 security), 4 file(s)"
    assert update["updates"][0]["title"] == "threads and heap cap"
    assert update["conflicts"] == []
    assert got["update_again"]["changed"] is False
    assert "result" not in got["update_again"]  # uplevel was not even asked to apply

    assert got["revert_check"]["changed"] is True
    assert got["revert"]["changed"] is True and got["revert"]["level_after"] == 0
    assert got["revert_again"]["changed"] is False
    assert product_files(homes["clean"]) == product_files_of(digests["clean"])  # as before

    conflict = got["conflict"]
    assert conflict["failed"] is True and conflict["aborted"] is True
    assert conflict["level_after"] == 0
    assert conflict["conflicts"] == [
        {
            "path": CONF,
            "reason": "changed on both sides",
            "format": "toml",
            "settings": [{"setting": "server.threads", "base": "8", "local": "32", "update": "16"}],
            "helpers": [f"{CONF}.merge", f"{CONF}.new", f"{CONF}.original"],
        }
    ]
    assert (
        "stopped on conflicts: conf/server.toml: server.threads (base 8, local 32, update 16)"
        in (conflict["msg"])
    )
    assert "the update was aborted: the home is as it was" in conflict["msg"]
    after = uplevel("status", "--home", homes["conflict"], env=fleet.env)["result"]
    assert isinstance(after, dict) and after["pending"] is None and after["level"] == 0

    running = got["running"]
    assert running["failed"] is True and running["rc"] == 4
    assert "refused: the product is running" in running["msg"]
    assert running["running"] is True
    # abort leaves the operator's bytes as they were (only uplevel's state records it);
    # the refused home is not touched at all
    assert product_files(homes["conflict"]) == product_files_of(digests["conflict"])
    assert tree_digest(homes["running"]) == digests["running"]


ONLINE = """\
- hosts: node1
  gather_facts: false
  vars:
    args: &args
      home: "{{ home }}"
      server: "{{ server }}"
      env: "{{ uplevel_env }}"
  tasks:
    - name: update from the server, check mode
      uplevel.fleet.uplevel_update: {<<: *args}
      check_mode: true
      register: online_check

    - name: update from the server
      uplevel.fleet.uplevel_update: {<<: *args, channel: full}
      register: online

    - name: update again (newest already)
      uplevel.fleet.uplevel_update: {<<: *args}
      register: online_again

    - name: another server
      uplevel.fleet.uplevel_update: {<<: *args, server: "http://127.0.0.1:9/"}
      register: other_server
      ignore_errors: true

    - name: keep every result
      ansible.builtin.copy:
        dest: "{{ results }}"
        content: >-
          {{ {'online_check': online_check, 'online': online, 'online_again': online_again,
              'other_server': other_server} | to_json }}
"""


def test_update_module_online_from_the_server_the_home_follows(tmp_path: Path) -> None:
    from tests.support.server import serving
    from uplevel.devtools.sample import write_pack

    fleet = make_fleet(tmp_path, start=False)
    trees = {n: tmp_path / f"level{n}" for n in (0, 1)}
    pack, repo = tmp_path / "pack.zip", tmp_path / "repo"
    write_pack(trees[0], pack, top="standin-1.0.0")
    product = ["--product", "standin-1.0.0"]
    assert uplevel("repo", "init", repo)["ok"]
    assert uplevel("repo", "add-product", repo, "--pack", pack, *product)["ok"]
    assert uplevel(
        "repo", "add-update", repo, *product, "--from-tree", trees[0], "--to-tree", trees[1],
        "--title", "threads and heap cap",
    )["ok"]  # fmt: skip
    token = uplevel(
        "repo", "token", "create", repo, "--subscriber", "fleet", "--product", "standin-*",
        "--channel", "full",
    )["result"]  # fmt: skip
    assert isinstance(token, dict)
    env = {**fleet.env, "UPLEVEL_TOKEN": token["token"]}
    home = tmp_path / "online-home"
    shutil.copytree(trees[0], home)
    playbook = tmp_path / "online.yml"
    playbook.write_text(ONLINE)
    results = tmp_path / "results.json"
    with serving(repo) as url:
        init = uplevel("init", "--home", home, *product, "--server", url, env=env)
        assert init["ok"], init
        variables = {"home": str(home), "server": url, "uplevel_env": env, "results": str(results)}
        r = run_playbook(tmp_path, fleet.inventory, playbook, variables)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(results.read_text())

    check = got["online_check"]
    assert check["changed"] is True and check["level_after"] == 1
    assert check["command"][1] == "update" and "--dry-run" in check["command"]
    online = got["online"]
    assert online["changed"] is True and (online["level_before"], online["level_after"]) == (0, 1)
    assert online["result"]["status"] == "applied"
    assert online["summary"] == "level 0 -> 1, 1 update(s) (0 security), 4 file(s)"
    again = got["online_again"]
    assert again["changed"] is False and again["result"]["status"] == "up-to-date"
    assert got["other_server"]["failed"] is True
    assert "follows the update server" in got["other_server"]["msg"]
    status = uplevel("status", "--home", home, env=env)["result"]
    assert isinstance(status, dict) and status["level"] == 1
