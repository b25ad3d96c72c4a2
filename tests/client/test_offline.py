"""Signed offline bundles end to end, every step through the real CLI: export from a home and
from a bare server URL while a real server runs on 127.0.0.1, then — with every server
stopped — apply on homes adopted from that server, and attacks on the bundle file (tampered
blob, tampered metadata, another repository's bundle, a rollback, a home with no pinned
root, an expired timestamp), each refused with the home untouched."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.homes import Snapshot, level_trees, run_cli, snapshot
from tests.support.server import serving
from uplevel.devtools.sample import PRODUCT, write_pack

pytestmark = pytest.mark.e2e

CONF = "repository/conf/deployment.toml"
TUF = "updates/uplevel/tuf"
LOCK = "updates/uplevel/lock"


@dataclass
class Offline:
    """Everything made while the servers ran; the tests run after they stopped."""

    trees: dict[int, Path]
    url: str
    template: Path  # adopted at level 0 from the server, before the repository re-signed
    exporter: Path  # adopted later, then `export --home`: trusts the newest metadata
    from_home: Path  # 0 → 3, `export --home exporter`
    from_server: Path  # 0 → 2, `export --server URL --product P`
    stale: Path  # 0 → 3, exported before the repository re-signed its metadata
    foreign: Path  # 0 → 1, exported from another repository (another root)


def _publish(repo: Path, trees: dict[int, Path], levels: int) -> str:
    """A repository with levels 0..`levels`; returns a subscriber token."""
    pack = repo.with_name(repo.name + "-pack.zip")
    write_pack(trees[0], pack)
    run_cli("repo", "init", repo, check=0)
    run_cli("repo", "add-product", repo, "--pack", pack, "--product", PRODUCT, check=0)
    for n in range(1, levels + 1):
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
    return str(
        run_cli(
            "repo",
            "token",
            "create",
            repo,
            "--subscriber",
            "acme",
            "--product",
            "wso2am-*",
            "--channel",
            "full",
            "--json",
            check=0,
        ).json["result"]["token"]
    )


def _adopt(tree: Path, home: Path, url: str, token: str) -> Path:
    shutil.copytree(tree, home, symlinks=True)
    run_cli(
        "init",
        "--home",
        home,
        "--product",
        PRODUCT,
        "--server",
        url,
        "--level",
        "0",
        env={"UPLEVEL_TOKEN": token},
        check=0,
    )
    return home


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Offline:
    root = tmp_path_factory.mktemp("offline")
    trees = level_trees(root / "trees")
    repo = root / "repo"
    token = _publish(repo, trees, 3)
    env = {"UPLEVEL_TOKEN": token}
    with serving(repo) as url:
        stale = root / "stale.bundle"
        run_cli(
            "export",
            "--server",
            url,
            "--product",
            PRODUCT,
            "--from",
            "0",
            "--to",
            "3",
            "-o",
            stale,
            env=env,
            check=0,
        )
        template = _adopt(trees[0], root / "template", url, token)
        # New versions of targets, snapshot and timestamp: what the template trusts is now old.
        run_cli("repo", "refresh", repo, check=0)
        exporter = _adopt(trees[0], root / "exporter", url, token)
        from_home = root / "from-home.bundle"
        exported = run_cli(
            "export",
            "--home",
            exporter,
            "--from",
            "0",
            "--to",
            "3",
            "-o",
            from_home,
            "--json",
            env=env,
            check=0,
        ).json["result"]
        assert [u["level"] for u in exported["updates"]] == [1, 2, 3]
        assert exported["server"] == url and exported["bytes"] == from_home.stat().st_size
        from_server = root / "from-server.bundle"
        run_cli(
            "export",
            "--server",
            url,
            "--product",
            PRODUCT,
            "--from",
            "0",
            "--to",
            "2",
            "-o",
            from_server,
            env=env,
            check=0,
        )
    other = root / "other-repo"
    other_token = _publish(other, trees, 1)
    with serving(other) as other_url:
        foreign = root / "foreign.bundle"
        run_cli(
            "export",
            "--server",
            other_url,
            "--product",
            PRODUCT,
            "--from",
            "0",
            "--to",
            "1",
            "-o",
            foreign,
            env={"UPLEVEL_TOKEN": other_token},
            check=0,
        )
    return Offline(trees, url, template, exporter, from_home, from_server, stale, foreign)


def _copy_home(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


def _assert_no_server(url: str) -> None:
    """The apply below cannot have used the network: nothing listens at the server's URL."""
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/health", timeout=2)


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _untouched(home: Path) -> Snapshot:
    """The whole home, uplevel's state and trusted metadata included (the lock file aside:
    every command takes it)."""
    snap = snapshot(home, include_state=True)
    snap.pop(LOCK, None)
    return snap


def _rewrite(bundle: Path, dest: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """A copy of a bundle with each member's bytes passed through `change`."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(dest, "w") as out:
        for info in src.infolist():
            out.writestr(info, change(info.filename, src.read(info)))
    return dest


def _apply(home: Path, bundle: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uplevel", "apply", "--home", str(home), str(bundle), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_export_from_home_applies_offline_and_keeps_the_merge(
    offline: Offline, tmp_path: Path
) -> None:
    _assert_no_server(offline.url)
    home = _copy_home(offline.template, tmp_path / "home")
    conf = home / CONF
    conf.write_text(conf.read_text().replace('hostname = "localhost"', 'hostname = "apim.corp"'))
    r = run_cli("apply", "--home", home, offline.from_home, "--json", check=0).json["result"]
    assert (r["status"], r["from_level"], r["to_level"]) == ("applied", 0, 3)
    assert r["counts"]["merged"] == 1
    assert any("signed bundle verified" in n for n in r["notes"])
    text = conf.read_text()
    assert 'hostname = "apim.corp"' in text and "[apim.throttling]" in text and "[apim.ai]" in text
    want, got = snapshot(offline.trees[3]), snapshot(home)
    assert {k: v for k, v in got.items() if k != CONF} == {
        k: v for k, v in want.items() if k != CONF
    }
    assert json.loads((home / "updates/uplevel/state.json").read_text())["level"] == 3
    # The trust it leaves is byte for byte what the exporter's online refresh wrote.
    assert _files(home / TUF) == _files(offline.exporter / TUF)


def test_export_from_server_reaches_the_exact_level_tree(offline: Offline, tmp_path: Path) -> None:
    _assert_no_server(offline.url)
    home = _copy_home(offline.template, tmp_path / "home")
    run_cli("apply", "--home", home, offline.from_server, check=0)
    assert snapshot(home) == snapshot(offline.trees[2])


def test_tampered_blob_is_refused_and_home_untouched(offline: Offline, tmp_path: Path) -> None:
    home = _copy_home(offline.template, tmp_path / "home")
    before = _untouched(home)

    def flip(name: str, data: bytes) -> bytes:
        if name.startswith("blobs/") and len(data) > 1000:
            return data[:500] + bytes([data[500] ^ 0xFF]) + data[501:]
        return data

    bundle = _rewrite(offline.from_home, tmp_path / "tampered.bundle", flip)
    r = _apply(home, bundle)
    assert r.returncode == 1 and "does not match the signed manifest" in r.stderr, r.stderr
    assert _untouched(home) == before


def _bump_version(data: bytes) -> bytes:
    doc = json.loads(data)
    doc["signed"]["version"] += 1
    return json.dumps(doc).encode()


def _grow_a_target(data: bytes) -> bytes:
    doc = json.loads(data)
    target = next(iter(doc["signed"]["targets"].values()))
    target["length"] += 1
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("member", "change", "message"),
    [
        ("metadata/timestamp.json", _bump_version, "not signed by the keys this home trusts"),
        (".targets.json", _grow_a_target, "failed verification"),
        (".manifest.json", lambda d: d.replace(b'"level":3', b'"level":4'), "failed verification"),
    ],
    ids=["timestamp", "targets", "document"],
)
def test_tampered_metadata_is_refused(
    offline: Offline,
    tmp_path: Path,
    member: str,
    change: Callable[[bytes], bytes],
    message: str,
) -> None:
    home = _copy_home(offline.template, tmp_path / "home")
    before = _untouched(home)
    seen = []

    def tamper(name: str, data: bytes) -> bytes:
        if name.endswith(member) and change(data) != data:
            seen.append(name)
            return change(data)
        return data

    bundle = _rewrite(offline.from_home, tmp_path / "tampered.bundle", tamper)
    assert seen
    r = _apply(home, bundle)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert _untouched(home) == before


def test_bundle_of_another_repository_is_refused(offline: Offline, tmp_path: Path) -> None:
    home = _copy_home(offline.template, tmp_path / "home")
    before = _untouched(home)
    r = _apply(home, offline.foreign)
    assert r.returncode == 1 and "not signed by the keys this home trusts" in r.stderr, r.stderr
    assert "another repository" in r.stderr
    assert _untouched(home) == before


def test_rollback_is_refused(offline: Offline, tmp_path: Path) -> None:
    """The stale bundle is genuine, but older than what the exporter's home already trusts."""
    home = _copy_home(offline.exporter, tmp_path / "home")
    before = _untouched(home)
    r = _apply(home, offline.stale)
    assert r.returncode == 1 and "refused as a rollback" in r.stderr, r.stderr
    assert _untouched(home) == before


def test_home_without_pinned_root_is_refused(offline: Offline, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(offline.trees[0], home, symlinks=True)
    run_cli("init", "--home", home, "--product", PRODUCT, "--level", "0", check=0)
    before = _untouched(home)
    r = _apply(home, offline.from_home)
    assert r.returncode == 1 and "no pinned root of trust" in r.stderr, r.stderr
    assert "uplevel init --server" in r.stderr
    assert _untouched(home) == before


def test_expired_timestamp_is_judged_by_max_age(offline: Offline, tmp_path: Path) -> None:
    """Three days on, the one-day timestamp has expired: refused under --max-age 1d,
    accepted under the default (30 days after it expired), with a note saying so."""
    faketime = shutil.which("faketime")
    assert faketime, "the faketime command (Debian package faketime) is needed"
    home = _copy_home(offline.template, tmp_path / "home")
    before = _untouched(home)
    late = [faketime, "-f", "+3d", sys.executable, "-m", "uplevel", "apply", "--home", str(home)]
    r = subprocess.run(
        [*late, str(offline.from_server), "--max-age", "1d"], capture_output=True, text=True
    )
    assert r.returncode == 1 and "expired" in r.stderr and "--max-age 1d" in r.stderr, r.stderr
    assert _untouched(home) == before
    r = subprocess.run([*late, str(offline.from_server), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    notes = json.loads(r.stdout)["result"]["notes"]
    assert any("timestamp expired" in n for n in notes), notes
    assert snapshot(home) == snapshot(offline.trees[2])
