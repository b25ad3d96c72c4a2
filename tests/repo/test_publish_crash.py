"""A publisher killed at any step leaves the published repository as it was, and the next
run publishes the update completely (fault injection through UPLEVEL_CRASH_AT_STEP)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from tests.support.homes import Sample, run_cli
from tests.support.repo import copy_tree, new_repo, tuf_client
from uplevel.devtools.sample import PRODUCT
from uplevel.engine.scan import read_tree
from uplevel.repo.catalog import list_repo
from uplevel.repo.product import add_product
from uplevel.repo.state import open_repo
from uplevel.repo.update import UpdateDetails, add_update_from_trees

CRASH_EXIT = 137


def _change(tree: Path) -> None:
    (tree / "README.txt").write_text("patched\n")
    (tree / "lib").mkdir()
    (tree / "lib/new.jar").write_bytes(b"new jar" * 100)


def _levels(repo: Path) -> list[int]:
    [product] = list_repo(repo).products
    assert [lv.level for lv in product.channels["security"]] == [0]
    return [lv.level for lv in product.channels["full"]]


def test_crash_at_every_step_of_add_update(tmp_path: Path, sample: Sample, pack0: Path) -> None:
    base = new_repo(tmp_path / "base")
    add_product(base, pack=pack0, product=PRODUCT)
    old = sample.trees[0]
    new = copy_tree(old, tmp_path / "new", _change)
    args = ("repo", "add-update", "--product", PRODUCT, "--title", "t")
    trees = ("--from-tree", old, "--to-tree", new)

    log = tmp_path / "steps.log"
    probe = tmp_path / "probe"
    shutil.copytree(base, probe)
    run_cli(*args[:2], probe, *args[2:], *trees, env={"UPLEVEL_STEP_LOG": str(log)}, check=0)
    steps = log.read_text().splitlines()
    assert "timestamp.json" in steps[-1]  # the commit point is the last step
    assert len(steps) >= 8

    for k in range(1, len(steps) + 1):
        repo = tmp_path / f"crash{k}"
        shutil.copytree(base, repo)
        env = {"UPLEVEL_CRASH_AT_STEP": str(k)}
        r = run_cli(*args[:2], repo, *args[2:], *trees, env=env)
        assert r.returncode == CRASH_EXIT, (k, steps[k - 1], r.stderr)

        client = tuf_client(repo, tmp_path / "client")
        client.refresh()  # what clients see is consistent, and it is the old state
        assert client.get_targetinfo(f"{PRODUCT}/full/1/manifest.json") is None
        assert _levels(repo) == [0]

        result = add_update_from_trees(
            repo, product=PRODUCT, old_tree=old, new_tree=new, details=UpdateDetails(title="t")
        )
        assert result.levels == {"full": 1}, steps[k - 1]
        assert _levels(repo) == [0, 1]
        with open_repo(repo) as opened:
            level1 = opened.pristine(PRODUCT, "full")
        assert level1 is not None and level1.manifest.digest == read_tree(new).digest
        with sqlite3.connect(repo / "uplevel.db") as conn:
            rows = conn.execute("SELECT channel, level FROM levels ORDER BY 1, 2").fetchall()
        assert rows == [("full", 0), ("full", 1), ("security", 0)]
        client = tuf_client(repo, tmp_path / "client")
        client.refresh()
        assert client.get_targetinfo(f"{PRODUCT}/full/1/manifest.json") is not None
        shutil.rmtree(repo)
