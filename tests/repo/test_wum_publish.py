"""`uplevel repo add-update --wum-zip`: a real-format WSO2 update zip becomes the next level."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.support.homes import run_cli, snapshot
from tests.support.repo import tree_members, write_zip
from tests.support.wum import CARBON, GONE, JAR, build

PRODUCT = "wso2am-2.6.0"


def _base(tmp: Path) -> Path:
    tree = tmp / "base"
    for path, data in {
        JAR: b"samlsso 5.1.0",
        GONE: b"xmlsec 1.5.8",
        "bin/wso2server.sh": b"#!/bin/sh\n",
    }.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(data)
    os.chmod(tree / "bin/wso2server.sh", 0o755)
    return tree


def test_wum_zip_is_published_as_the_next_level(tmp_path: Path) -> None:
    tree = _base(tmp_path)
    repo = tmp_path / "repo"
    run_cli("repo", "init", repo, check=0)
    pack = write_zip(tmp_path / "pack.zip", tree_members(tree, top=PRODUCT))
    run_cli("repo", "add-product", repo, "--pack", pack, "--product", PRODUCT, check=0)
    wum = build(tmp_path)
    r = run_cli(
        "repo",
        "add-update",
        repo,
        "--product",
        PRODUCT,
        "--wum-zip",
        wum,
        "--security",
        "--advisory",
        "WSO2-2019-0001=high",
        "--json",
        check=0,
    ).json["result"]
    assert r["levels"] == {"full": 1, "security": 1}
    assert (r["added"], r["modified"], r["removed"]) == (1, 1, 1)
    listing = run_cli("repo", "list", repo, "--json", check=0).stdout
    assert "WSO2-CARBON-UPDATE-4.4.0-0327" in listing
    # The published level-1 tree is the base with the zip's files in, the removed one out.
    expect = tmp_path / "expect"
    shutil.copytree(tree, expect)
    (expect / GONE).unlink()
    for path, data in CARBON.items():
        (expect / path).parent.mkdir(parents=True, exist_ok=True)
        (expect / path).write_bytes(data)
    from uplevel.repo.state import open_repo

    with open_repo(repo) as opened:
        level1 = opened.pristine(PRODUCT, "full")
    assert level1 is not None and level1.level == 1
    from uplevel.engine.scan import read_tree

    got = {p: (e.kind, e.sha256) for p, e in level1.manifest.items()}
    want = {p: (e.kind, e.sha256) for p, e in read_tree(expect).items()}
    assert got == want
    assert level1.manifest["bin/wso2server.sh"].mode == 0o755


def test_wum_zip_that_does_not_fit_is_refused_and_nothing_written(tmp_path: Path) -> None:
    tree = _base(tmp_path)
    (tree / GONE).unlink()  # the zip removes a file this product does not have
    repo = tmp_path / "repo"
    run_cli("repo", "init", repo, check=0)
    pack = write_zip(tmp_path / "pack.zip", tree_members(tree, top=PRODUCT))
    run_cli("repo", "add-product", repo, "--pack", pack, "--product", PRODUCT, check=0)
    before = snapshot(repo, include_state=True)
    before.pop(".lock", None)
    r = run_cli(
        "repo", "add-update", repo, "--product", PRODUCT, "--wum-zip", build(tmp_path), "--json"
    )
    assert r.returncode == 1, r.stdout
    assert GONE in json.loads(r.stdout)["error"]["message"]
    after = snapshot(repo, include_state=True)
    after.pop(".lock", None)
    assert after == before
