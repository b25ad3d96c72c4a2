"""Issue 16, item 12: set-ID files and symlinks out of the home are refused unless allowed.

A product home needs neither, so an unsigned bundle carrying one is refused before the home
is opened, and the publisher's `bundle create` and `repo add-update` refuse to make one;
`--allow-special-files` is the explicit way through. Real CLI runs on real trees.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.homes import run_cli, snapshot
from uplevel.core.jump import special_changes
from uplevel.core.manifest import Entry
from uplevel.devtools.sample import PRODUCT, write_level


def _file(mode: int) -> Entry:
    return Entry(kind="file", size=1, mode=mode, sha256="0" * 64)


def _link(target: str) -> Entry:
    return Entry(kind="symlink", target=target)


def test_special_changes_names_set_id_files_and_links_leaving_the_home() -> None:
    found = special_changes(
        {
            "bin/run.sh": _file(0o755),
            "bin/su-tool": _file(0o4755),
            "bin/group-tool": _file(0o2755),
            "lib/current": _link("lib-1.2"),
            "bin/conf": _link("../repository/conf"),
            "shadow": _link("/etc/shadow"),
            "bin/up": _link("../../etc/passwd"),
            "gone": None,
        }
    )
    assert found == [
        "bin/group-tool: set-user-ID or set-group-ID file (mode 2755)",
        "bin/su-tool: set-user-ID or set-group-ID file (mode 4755)",
        "bin/up: symlink to '../../etc/passwd', outside the home",
        "shadow: symlink to '/etc/shadow', outside the home",
    ]


@pytest.mark.parametrize("kind", ["setuid", "absolute-link"])
def test_bundle_create_and_apply_refuse_special_files_unless_allowed(
    tmp_path: Path, kind: str
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    write_level(old, 0)
    shutil.copytree(old, new, symlinks=True)
    if kind == "setuid":
        tool = new / "bin/helper"
        tool.write_bytes(b"#!/bin/sh\n")
        os.chmod(tool, 0o4755)
    else:
        os.symlink("/etc/shadow", new / "shadow-link")
    create = ["bundle", "create", "--product", PRODUCT, "--from-tree", old, "--to-tree", new]
    create += ["--from-level", "0", "--to-level", "1", "--title", "t"]

    refused = run_cli(*create, "-o", tmp_path / "refused.bundle", "--json")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "special file" in refused.json["error"]["message"]
    assert "--allow-special-files" in refused.json["error"]["hint"]
    assert not (tmp_path / "refused.bundle").exists()

    bundle = tmp_path / "allowed.bundle"
    run_cli(*create, "-o", bundle, "--allow-special-files", check=0)

    home = tmp_path / "home"
    shutil.copytree(old, home, symlinks=True)
    run_cli("init", "--home", home, "--product", PRODUCT, check=0)
    before = snapshot(home, include_state=True)
    r = run_cli("apply", "--home", home, bundle, "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "special file" in r.json["error"]["message"]
    assert snapshot(home, include_state=True) == before  # refused before the home was opened

    run_cli("apply", "--home", home, bundle, "--allow-special-files", check=0)
    if kind == "setuid":
        assert os.stat(home / "bin/helper").st_mode & 0o7777 == 0o4755
    else:
        assert os.readlink(home / "shadow-link") == "/etc/shadow"


def test_repo_add_update_refuses_special_files_before_writing(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    write_level(old, 0)
    shutil.copytree(old, new, symlinks=True)
    os.symlink("/etc/passwd", new / "passwd")
    repo = tmp_path / "repo"
    run_cli("repo", "init", repo, check=0)
    before = snapshot(repo)
    r = run_cli(
        "repo", "add-update", repo, "--product", PRODUCT, "--from-tree", old, "--to-tree", new,
        "--title", "t", "--json",
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "passwd: symlink to '/etc/passwd', outside the home" in r.json["error"]["message"]
    assert snapshot(repo) == before
