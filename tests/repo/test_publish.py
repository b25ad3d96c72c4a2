"""add-product, add-update (trees, bundles, the changes hook), channels and levels, list."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from tests.support.homes import Sample, run_cli
from tests.support.repo import Member, copy_tree, new_repo, repo_snapshot, tuf_client, write_zip
from uplevel.core.jump import diff_manifests
from uplevel.core.manifest import Entry, Manifest
from uplevel.devtools.sample import PRODUCT
from uplevel.engine.scan import read_tree
from uplevel.errors import BundleError, UplevelError
from uplevel.repo.catalog import list_repo
from uplevel.repo.documents import LevelManifest, LevelUpdate
from uplevel.repo.state import open_repo
from uplevel.repo.update import (
    AddUpdateResult,
    UpdateDetails,
    add_update_from_changes,
    add_update_from_trees,
)

README = "README.txt"
LOG4J = "repository/conf/log4j2.properties"
JAR = "repository/components/plugins/org.wso2.carbon.core_0.0.0.jar"


def pristine(repo: Path, channel: str) -> LevelManifest:
    with open_repo(repo) as r:
        doc = r.pristine(PRODUCT, channel)
    assert doc is not None
    return doc


def update_doc(repo: Path, channel: str, level: int) -> LevelUpdate:
    with open_repo(repo) as r:
        path = f"{PRODUCT}/{channel}/{level}/update.json"
        return LevelUpdate.from_bytes(r.read_target(path), where=path)


def levels(repo: Path) -> dict[str, list[int]]:
    listing = list_repo(repo)
    assert [p.product for p in listing.products] == [PRODUCT]
    return {c: [lv.level for lv in lvs] for c, lvs in listing.products[0].channels.items()}


def blob_files(repo: Path) -> list[Path]:
    return sorted(p for p in (repo / "blobs").rglob("*") if p.is_file())


def test_add_product_cli_stores_level_0_of_both_channels(
    tmp_path: Path, sample: Sample, pack0: Path
) -> None:
    repo = new_repo(tmp_path / "repo")
    r = run_cli("repo", "add-product", repo, "--pack", pack0, "--product", PRODUCT, "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert doc["command"] == "repo add-product"
    result = doc["result"]
    assert result["profile"] == "wso2am" and result["levels"] == {"full": 0, "security": 0}

    expected = read_tree(sample.trees[0])
    assert expected["bin/wso2server.sh"].kind == "symlink"
    assert expected["bin/api-manager.sh"].mode == 0o755
    for channel in ("full", "security"):
        level0 = pristine(repo, channel)
        assert level0.level == 0 and level0.manifest.digest == expected.digest
        assert update_doc(repo, channel, 0).from_level is None
    assert levels(repo) == {"full": [0], "security": [0]}

    files = {e.sha256: p for p, e in expected.items() if e.kind == "file"}
    assert result["blobs_written"] == len(files) == len(blob_files(repo))
    encodings = {e.encoding for e in pristine(repo, "full").blobs.values()}
    assert encodings == {"raw", "zstd"}  # text shrinks, random jars do not
    for sha, rel in files.items():
        [stored] = list((repo / "blobs" / sha[:2]).glob(f"{sha}*"))
        data = stored.read_bytes()
        if stored.suffix == ".zst":
            data = zstandard.ZstdDecompressor().decompress(data)
        assert data == (sample.trees[0] / rel).read_bytes()

    with sqlite3.connect(repo / "uplevel.db") as conn:
        rows = conn.execute("SELECT channel, level, manifest_digest FROM levels").fetchall()
        assert sorted(rows) == [("full", 0, expected.digest), ("security", 0, expected.digest)]
        assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 2 * len(files)
        assert conn.execute("SELECT profile FROM products").fetchall() == [("wso2am",)]

    client = tuf_client(repo, tmp_path / "client")
    client.refresh()
    info = client.get_targetinfo(f"{PRODUCT}/full/0/manifest.json")
    assert info is not None
    fetched = Path(client.download_target(info))
    assert LevelManifest.from_bytes(fetched.read_bytes()).manifest.digest == expected.digest


def test_add_product_refuses_a_hostile_pack_and_writes_nothing(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    before = repo_snapshot(repo)
    for name, members in {
        "dup.zip": [Member("p/a", b"1"), Member("p/b", b"2"), Member("p/a", b"3")],
        "evil.zip": [Member("p/a", b"1"), Member("../evil", b"x")],
    }.items():
        pack = write_zip(tmp_path / name, members)
        r = run_cli("repo", "add-product", repo, "--pack", pack, "--product", PRODUCT)
        assert r.returncode == 1, r.stderr
        assert "more than once" in r.stderr or "'..'" in r.stderr
    assert repo_snapshot(repo) == before


def test_add_product_twice_is_refused(product_repo: Path, pack0: Path) -> None:
    r = run_cli("repo", "add-product", product_repo, "--pack", pack0, "--product", PRODUCT)
    assert r.returncode == 2 and "already in" in r.stderr


def test_add_update_cli_from_trees_and_from_bundle(
    tmp_path: Path, sample: Sample, product_repo: Path
) -> None:
    notes = tmp_path / "steps.txt"
    notes.write_text("restart the gateway\n")
    r = run_cli(
        "repo", "add-update", product_repo, "--product", PRODUCT,
        "--from-tree", sample.trees[0], "--to-tree", sample.trees[1],
        "--title", "throttling fix", "--fix", "APIM-1=throttling", "--advisory", "WSO2-1=high",
        "--instructions", notes, "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)["result"]
    assert result["levels"] == {"full": 1} and result["security"] is False
    level1 = pristine(product_repo, "full")
    assert level1.level == 1 and level1.manifest.digest == read_tree(sample.trees[1]).digest
    u = update_doc(product_repo, "full", 1)
    assert u.from_level == 0 and u.update.title == "throttling fix"
    assert [f.id for f in u.update.fixes] == ["APIM-1"]
    assert u.update.advisories[0].severity == "high"
    assert u.update.instructions == "restart the gateway\n"
    assert u.changes == diff_manifests(read_tree(sample.trees[0]), read_tree(sample.trees[1]))

    r = run_cli("repo", "add-update", product_repo, sample.bundles[2], "--product", PRODUCT)
    assert r.returncode == 0, r.stderr
    assert "full level 2" in r.stdout
    level2 = pristine(product_repo, "full")
    assert level2.manifest.digest == read_tree(sample.trees[2]).digest
    assert update_doc(product_repo, "full", 2).update.title == "update 2"  # the bundle's
    assert levels(product_repo) == {"full": [0, 1, 2], "security": [0]}

    r = run_cli("repo", "list", product_repo, "--json", check=0)
    [product] = json.loads(r.stdout)["result"]["products"]
    titles = [lv["title"] for lv in product["channels"]["full"]]
    assert titles == [f"{PRODUCT} base pack", "throttling fix", "update 2"]


def test_add_update_needs_one_source(product_repo: Path, sample: Sample) -> None:
    r = run_cli("repo", "add-update", product_repo, "--product", PRODUCT)
    assert r.returncode == 2 and "either BUNDLE" in r.stderr
    r = run_cli(
        "repo", "add-update", product_repo, "--product", PRODUCT,
        "--from-tree", sample.trees[0], "--to-tree", sample.trees[1],
    )  # fmt: skip
    assert r.returncode == 2 and "--title is required" in r.stderr


def _edit(path: str, text: str) -> Callable[[Path], None]:
    def change(tree: Path) -> None:
        (tree / path).write_text(text)

    return change


def publish(
    repo: Path, old: Path, new: Path, title: str = "bug fix", security: bool = False
) -> AddUpdateResult:
    details = UpdateDetails(title=title)
    return add_update_from_trees(
        repo, product=PRODUCT, old_tree=old, new_tree=new, details=details, security=security
    )


def test_security_updates_get_a_level_in_both_channels(
    tmp_path: Path, sample: Sample, product_repo: Path
) -> None:
    t0 = sample.trees[0]
    t1 = copy_tree(t0, tmp_path / "t1", _edit(README, "one\n"))
    t2 = copy_tree(t1, tmp_path / "t2", _edit(LOG4J, "rootLogger.level = WARN\n"))
    t3 = copy_tree(t2, tmp_path / "t3", _edit(JAR, "patched jar"))
    t4 = copy_tree(t3, tmp_path / "t4", _edit(README, "four\n"))
    assert publish(product_repo, t0, t1).levels == {"full": 1}
    assert publish(product_repo, t1, t2).levels == {"full": 2}
    r = publish(product_repo, t2, t3, "CVE fix", security=True)
    assert r.levels == {"full": 3, "security": 1}
    assert publish(product_repo, t3, t4).levels == {"full": 4}
    assert levels(product_repo) == {"full": [0, 1, 2, 3, 4], "security": [0, 1]}

    security = pristine(product_repo, "security")
    assert security.level == 1
    expected = read_tree(t0).with_changes({JAR: read_tree(t3)[JAR]})
    assert security.manifest.digest == expected.digest
    u = update_doc(product_repo, "security", 1)
    assert u.from_level == 0 and u.update.security is True and u.update.level == 1
    assert list(u.changes) == [JAR]
    assert update_doc(product_repo, "full", 3).update.level == 3
    assert pristine(product_repo, "full").manifest.digest == read_tree(t4).digest


def test_an_update_that_does_not_apply_is_refused_and_nothing_is_written(
    sample: Sample, product_repo: Path
) -> None:
    before = repo_snapshot(product_repo)
    r = run_cli(
        "repo", "add-update", product_repo, "--product", PRODUCT, "--title", "skips a level",
        "--from-tree", sample.trees[1], "--to-tree", sample.trees[2],
    )  # fmt: skip
    assert r.returncode == 1
    assert "does not apply to the full channel at level 0" in r.stderr
    assert "theme.js is absent there" in r.stderr
    assert repo_snapshot(product_repo) == before

    r = run_cli("repo", "add-update", product_repo, sample.bundles[1], "--product", PRODUCT)
    assert r.returncode == 0, r.stderr
    before = repo_snapshot(product_repo)
    r = run_cli(
        "repo", "add-update", product_repo, sample.bundles[2], "--product", PRODUCT,
        "--security", "--json",
    )  # fmt: skip
    assert r.returncode == 1
    message = json.loads(r.stdout)["error"]["message"]
    assert "does not apply to the security channel at level 0" in message
    assert "theme.js" in message
    assert repo_snapshot(product_repo) == before
    assert levels(product_repo) == {"full": [0, 1], "security": [0]}


def test_blobs_are_shared_across_levels(tmp_path: Path, sample: Sample, product_repo: Path) -> None:
    first = len(blob_files(product_repo))
    t0 = sample.trees[0]
    t1 = copy_tree(t0, tmp_path / "t1", _edit(README, "changed\n"))
    assert publish(product_repo, t0, t1).blobs_written == 1
    assert (
        publish(product_repo, t1, t0).blobs_written == 0
    )  # back to the level-0 content, which is stored already
    assert len(blob_files(product_repo)) == first + 1
    names = [p.name.removesuffix(".zst") for p in blob_files(product_repo)]
    assert len(names) == len(set(names))  # never both raw and .zst
    assert pristine(product_repo, "full").manifest.digest == read_tree(t0).digest


def test_the_changes_hook_checks_contents(product_repo: Path, sample: Sample) -> None:
    """What the WUM importer will call: changes, base, and contents by sha256."""
    base = read_tree(sample.trees[0])
    data = b"imported from WUM\n"
    entry = Entry(kind="file", mode=0o644, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    changes = {README: entry, LOG4J: None}
    details = UpdateDetails(title="WUM 4.2.0.12")

    with pytest.raises(BundleError, match="does not match sha256"):
        add_update_from_changes(
            product_repo, PRODUCT, changes, base, lambda sha: b"x" * len(data), details, False
        )
    contents = {entry.sha256: data}.__getitem__
    elsewhere = Manifest({"new.txt": entry})  # a base this repository has never seen
    with pytest.raises(UplevelError, match=r"new\.txt is absent there"):
        add_update_from_changes(
            product_repo, PRODUCT, {"new.txt": None}, elsewhere, contents, details, False
        )
    r = add_update_from_changes(product_repo, PRODUCT, changes, base, contents, details, True)
    assert r.levels == {"full": 1, "security": 1}
    assert (r.added, r.modified, r.removed) == (0, 1, 1)
    for channel in ("full", "security"):
        manifest = pristine(product_repo, channel).manifest
        assert manifest[README] == entry and LOG4J not in manifest


def test_published_metadata_stays_verifiable(
    tmp_path: Path, sample: Sample, product_repo: Path
) -> None:
    publish(product_repo, sample.trees[0], sample.trees[1])
    client = tuf_client(product_repo, tmp_path / "client")
    client.refresh()
    for name in ("manifest.json", "update.json"):
        info = client.get_targetinfo(f"{PRODUCT}/full/1/{name}")
        assert info is not None
        client.download_target(info)
    assert client.get_targetinfo(f"{PRODUCT}/security/1/manifest.json") is None
    with open_repo(product_repo) as r:
        assert r.tuf.timestamp().signed.version == 3  # init, add-product, add-update
