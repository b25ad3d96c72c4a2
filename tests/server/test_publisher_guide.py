"""What docs/publisher-guide.md tells a publisher to do, done: the systemd units pass
`systemd-analyze verify`, and the key backup and restore drill brings a lost publishing
machine back so that a home adopted before the loss keeps updating from it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.support.homes import level_trees, run_cli, snapshot
from tests.support.server import serving
from uplevel.devtools.sample import PRODUCT, write_pack

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy/systemd"
INSTALLED = "/opt/uplevel/bin/uplevel"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_units_verify_cleanly(tmp_path: Path) -> None:
    """`systemd-analyze verify` only warns about a bad value (and exits 0): no output at all."""
    names = sorted(p.name for p in UNITS.iterdir())
    assert names == ["uplevel-refresh.service", "uplevel-refresh.timer", "uplevel-serve.service"]
    uplevel = Path(sys.executable).with_name("uplevel")  # the guide installs to /opt/uplevel
    for name in names:
        text = (UNITS / name).read_text()
        if name.endswith(".service"):
            assert INSTALLED in text
            for line in ("ProtectSystem=strict", "ReadWritePaths=/srv/uplevel", "User=uplevel"):
                assert line in text.splitlines(), (name, line)
        (tmp_path / name).write_text(text.replace(INSTALLED, str(uplevel)))
    r = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / n) for n in names)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def _add_update(repo: Path, trees: dict[int, Path], n: int, *extra: str | Path) -> None:
    run_cli(
        "repo", "add-update", repo, "--product", PRODUCT, "--from-tree", trees[n - 1],
        "--to-tree", trees[n], "--title", f"update {n}", *extra, check=0,
    )  # fmt: skip


def _backup(tar: Path, directory: Path) -> None:
    with tarfile.open(tar, "w:gz") as t:
        t.add(directory, arcname=".")


def _restore(tar: Path, directory: Path) -> None:
    directory.mkdir(mode=0o700)
    with tarfile.open(tar) as t:
        t.extractall(directory, filter="tar")  # keeps the 0600 / 0700 modes of the keys


def test_key_backup_and_restore_drill(tmp_path: Path) -> None:
    trees = level_trees(tmp_path / "trees")
    pack = tmp_path / "pack.zip"
    write_pack(trees[0], pack)
    repo, offline = tmp_path / "srv/uplevel", tmp_path / "usb/root-keys"
    run_cli("repo", "init", repo, "--root-key-dir", offline, check=0)
    run_cli("repo", "add-product", repo, "--pack", pack, "--product", PRODUCT, check=0)
    _add_update(repo, trees, 1)
    token = run_cli(
        "repo", "token", "create", repo, "--subscriber", "acme", "--product", "wso2am-*",
        "--channel", "full", "--json", check=0,
    ).json["result"]["token"]  # fmt: skip
    env = {"UPLEVEL_TOKEN": token}
    # The subscriber's root.json and its fingerprint, handed over out of band.
    root_json = tmp_path / "handed-over-root.json"
    shutil.copy(repo / "metadata/root.json", root_json)
    fingerprint = hashlib.sha256(root_json.read_bytes()).hexdigest()
    home = tmp_path / "home"
    shutil.copytree(trees[0], home, symlinks=True)
    with serving(repo) as url:
        assert hashlib.sha256(root_json.read_bytes()).hexdigest() == fingerprint
        run_cli(
            "init", "--home", home, "--product", PRODUCT, "--server", url, "--root", root_json,
            env=env, check=0,
        )  # fmt: skip

    # The drill: back up the repository (online keys inside) and the offline root keys
    # apart; the publishing machine is lost; both are restored on a new one.
    _backup(tmp_path / "repo.tgz", repo)
    _backup(tmp_path / "root-keys.tgz", offline)
    shutil.rmtree(repo)
    shutil.rmtree(offline)
    _restore(tmp_path / "repo.tgz", repo)
    _restore(tmp_path / "root-keys.tgz", offline)
    assert all(
        p.stat().st_mode & 0o077 == 0 for p in [*offline.rglob("*.pem"), *repo.rglob("*.pem")]
    )

    # The restored machine publishes, re-signs and rotates a key with the restored keys…
    _add_update(repo, trees, 2, "--security", "--advisory", "WSO2-2026-1=high")
    run_cli("repo", "refresh", repo, check=0)
    run_cli("repo", "rotate-key", repo, "timestamp", check=0)
    # …and the home adopted before the loss follows it: same root of trust, new levels.
    with serving(repo) as url:
        # The new machine answers at the old name; here, a new port on 127.0.0.1.
        state = home / "updates/uplevel/state.json"
        doc = json.loads(state.read_text())
        state.write_text(json.dumps({**doc, "server": url}))
        check = run_cli("check", "--home", home, "--exit-code", "--json", env=env)
        assert check.returncode == 101, check.stderr
        run_cli("update", "--home", home, env=env, check=0)
    assert snapshot(home) == snapshot(trees[2])
