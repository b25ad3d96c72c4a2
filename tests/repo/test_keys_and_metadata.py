"""repo init, rotate-key, refresh and refresh_timestamp: keys on disk and the TUF metadata."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from tuf.api.exceptions import UnsignedMetadataError

from tests.support.homes import run_cli
from tests.support.repo import new_repo, tuf_client
from uplevel.errors import UsageError
from uplevel.repo.metadata import refresh_timestamp
from uplevel.repo.roles import init_repo, resign, rotate_key
from uplevel.repo.tufapi import (
    CryptoSigner,
    Metadata,
    Root,
    Snapshot,
    SSlibKey,
    Targets,
    Timestamp,
)


def load(repo: Path, name: str) -> Metadata[Any]:
    return Metadata.from_file(str(repo / "metadata" / name))


def signer(pem: Path, root: Root, keyid: str) -> CryptoSigner:
    """A signer from a key file and the public key the root lists for it."""
    public = root.keys[keyid]
    assert isinstance(public, SSlibKey)
    private = load_pem_private_key(pem.read_bytes(), None)
    return CryptoSigner(private, public)


def key_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.pem"))


def assert_private(path: Path, mode: int) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == mode, path


def verify_all(repo: Path) -> Root:
    """Every published role verifies against the newest root; the chain is consistent."""
    root_md = load(repo, "root.json")
    root = root_md.signed
    assert isinstance(root, Root)
    root.verify_delegate("root", root_md.signed_bytes, root_md.signatures)
    ts = load(repo, "timestamp.json")
    assert isinstance(ts.signed, Timestamp)
    root.verify_delegate("timestamp", ts.signed_bytes, ts.signatures)
    snap = load(repo, f"{ts.signed.snapshot_meta.version}.snapshot.json")
    assert isinstance(snap.signed, Snapshot)
    root.verify_delegate("snapshot", snap.signed_bytes, snap.signatures)
    targets = load(repo, f"{snap.signed.meta['targets.json'].version}.targets.json")
    assert isinstance(targets.signed, Targets)
    root.verify_delegate("targets", targets.signed_bytes, targets.signatures)
    return root


def test_init_cli_writes_private_keys_and_verifiable_version_1_metadata(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    r = run_cli("repo", "init", repo, "--expires", "targets=30d,timestamp=2d", "--json", check=0)
    doc = json.loads(r.stdout)
    assert doc["command"] == "repo init" and doc["ok"] is True
    result = doc["result"]
    assert result["thresholds"] == {"root": 1, "targets": 1, "snapshot": 1, "timestamp": 1}
    assert result["expires_days"] == {"root": 365, "targets": 30, "snapshot": 7, "timestamp": 2}

    assert_private(repo / "keys", 0o700)
    for role in ("root", "targets", "snapshot", "timestamp"):
        assert_private(repo / "keys" / role, 0o700)
        files = key_files(repo / "keys" / role)
        assert [f.stem for f in files] == result["keys"][role]
        for f in files:
            assert_private(f, 0o600)
            assert load_pem_private_key(f.read_bytes(), None)

    for name in ("1.root.json", "1.targets.json", "1.snapshot.json", "timestamp.json"):
        assert load(repo, name).signed.version == 1
    assert (repo / "metadata/root.json").read_bytes() == (
        repo / "metadata/1.root.json"
    ).read_bytes()
    root = verify_all(repo)
    assert root.consistent_snapshot is True
    now = datetime.now(UTC)
    expires = load(repo, "1.targets.json").signed.expires
    assert timedelta(days=29) < expires - now <= timedelta(days=30)

    config = json.loads((repo / "repo.json").read_text())
    assert config["schema_version"] == 1 and config["root_key_dir"] is None
    with sqlite3.connect(repo / "uplevel.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_separate_root_key_dir_and_thresholds_of_two(tmp_path: Path) -> None:
    repo, offline = tmp_path / "repo", tmp_path / "offline-root"
    init_repo(
        repo,
        expires_days={"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1},
        thresholds={"root": 2, "targets": 2, "snapshot": 1, "timestamp": 1},
        root_key_dir=offline,
    )
    assert not (repo / "keys/root").exists()
    assert len(key_files(offline)) == 2
    assert_private(offline, 0o700)
    for f in key_files(offline):
        assert_private(f, 0o600)
    assert len(key_files(repo / "keys/targets")) == 2
    assert json.loads((repo / "repo.json").read_text())["root_key_dir"] == str(offline)

    root_md = load(repo, "1.root.json")
    assert root_md.signed.roles["root"].threshold == 2
    assert root_md.signed.roles["targets"].threshold == 2
    assert len(root_md.signatures) == 2
    assert len(load(repo, "1.targets.json").signatures) == 2
    verify_all(repo)


def test_init_usage_errors_exit_2(tmp_path: Path) -> None:
    r = run_cli("repo", "init", tmp_path / "a", "--threshold", "targets=0")
    assert r.returncode == 2 and "--threshold" in r.stderr
    r = run_cli("repo", "init", tmp_path / "b", "--expires", "targets=12h", "--json")
    assert r.returncode == 2 and "whole days" in json.loads(r.stdout)["error"]["message"]
    new_repo(tmp_path / "c")
    r = run_cli("repo", "init", tmp_path / "c")
    assert r.returncode == 2 and "not empty" in r.stderr


def test_rotate_root_key_new_version_signed_by_old_and_new(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    old_md = load(repo, "1.root.json")
    old_root = old_md.signed
    assert isinstance(old_root, Root)
    old_key = old_root.roles["root"].keyids[0]

    r = rotate_key(repo, "root")
    assert r.old_keys == [old_key] and r.root_version == 2
    new_md = load(repo, "2.root.json")
    new_root = new_md.signed
    assert isinstance(new_root, Root)
    assert new_root.roles["root"].keyids == r.new_keys
    assert set(new_md.signatures) == {old_key, *r.new_keys}
    old_root.verify_delegate("root", new_md.signed_bytes, new_md.signatures)  # the chain
    new_root.verify_delegate("root", new_md.signed_bytes, new_md.signatures)
    assert (repo / "metadata/root.json").read_bytes() == (
        repo / "metadata/2.root.json"
    ).read_bytes()
    assert [f.stem for f in key_files(repo / "keys/root")] == r.new_keys

    # A version signed by the new key alone would not be accepted by the old root.
    lone = Metadata(new_root)
    lone.sign(signer(repo / "keys/root" / f"{r.new_keys[0]}.pem", new_root, r.new_keys[0]))
    with pytest.raises(UnsignedMetadataError):
        old_root.verify_delegate("root", lone.signed_bytes, lone.signatures)

    client = tuf_client(repo, tmp_path / "client")  # trusts only 1.root.json
    client.refresh()
    trusted = Metadata.from_file(str(tmp_path / "client/meta/root.json"))
    assert trusted.signed.version == 2


def test_rotate_timestamp_key_resigns_timestamp_under_new_root(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    old_ts = load(repo, "timestamp.json")
    old_key = next(iter(old_ts.signatures))
    snapshot_before = (repo / "metadata/1.snapshot.json").read_bytes()

    r = run_cli("repo", "rotate-key", repo, "timestamp", "--json", check=0)
    result = json.loads(r.stdout)["result"]
    assert result["versions"] == {"root": 2, "timestamp": 2}
    new_root = verify_all(repo)
    assert new_root.version == 2 and new_root.roles["timestamp"].keyids == result["new_keys"]
    ts = load(repo, "timestamp.json")
    assert ts.signed.version == 2 and set(ts.signatures) == set(result["new_keys"])
    assert old_key not in new_root.keys
    with pytest.raises(UnsignedMetadataError):
        new_root.verify_delegate("timestamp", old_ts.signed_bytes, old_ts.signatures)
    assert not (repo / "keys/timestamp" / f"{old_key}.pem").exists()
    assert (repo / "metadata/1.snapshot.json").read_bytes() == snapshot_before

    tuf_client(repo, tmp_path / "client").refresh()


def test_rotate_targets_resigns_the_whole_chain(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    r = rotate_key(repo, "targets")
    assert r.versions == {"root": 2, "targets": 2, "snapshot": 2, "timestamp": 2}
    assert set(load(repo, "2.targets.json").signatures) == set(r.new_keys)
    verify_all(repo)
    tuf_client(repo, tmp_path / "client").refresh()


def test_rotate_needs_the_offline_root_keys(tmp_path: Path) -> None:
    repo, offline = tmp_path / "repo", tmp_path / "usb"
    init_repo(
        repo,
        expires_days={"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1},
        thresholds=dict.fromkeys(("root", "targets", "snapshot", "timestamp"), 1),
        root_key_dir=offline,
    )
    moved = tmp_path / "mounted-elsewhere"
    offline.rename(moved)
    before = sorted(p.name for p in (repo / "metadata").iterdir())
    with pytest.raises(UsageError, match="root needs 1 key") as exc:
        rotate_key(repo, "snapshot")
    assert exc.value.hint and "--root-key-dir" in exc.value.hint
    assert sorted(p.name for p in (repo / "metadata").iterdir()) == before
    r = rotate_key(repo, "snapshot", root_key_dir=moved)
    assert r.versions == {"root": 2, "snapshot": 2, "timestamp": 2}
    verify_all(repo)


def _expire_timestamp_soon(repo: Path) -> None:
    """Re-sign timestamp.json (same version) so that it expires in one hour."""
    md = load(repo, "timestamp.json")
    root = load(repo, "root.json").signed
    keyid = root.roles["timestamp"].keyids[0]
    md.signed.expires = datetime.now(UTC) + timedelta(hours=1)
    md.sign(signer(repo / "keys/timestamp" / f"{keyid}.pem", root, keyid))
    (repo / "metadata/timestamp.json").write_bytes(md.to_bytes())


def test_refresh_timestamp_only_when_less_than_half_is_left(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    assert refresh_timestamp(repo, if_less_than_half_left=True) is None
    assert load(repo, "timestamp.json").signed.version == 1
    _expire_timestamp_soon(repo)
    assert refresh_timestamp(repo, if_less_than_half_left=True) == 2
    ts = load(repo, "timestamp.json")
    assert ts.signed.expires - datetime.now(UTC) > timedelta(hours=23)
    assert refresh_timestamp(repo, if_less_than_half_left=False) == 3
    verify_all(repo)
    tuf_client(repo, tmp_path / "client").refresh()


def test_refresh_command_resigns_snapshot_and_timestamp(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    r = run_cli("repo", "refresh", repo, "--role", "snapshot", "--json", check=0)
    assert json.loads(r.stdout)["result"]["versions"] == {"snapshot": 2, "timestamp": 2}
    assert resign(repo).versions == {"targets": 2, "snapshot": 3, "timestamp": 3}
    verify_all(repo)


def test_a_second_publisher_is_refused_with_exit_4(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    fd = os.open(repo / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        r = run_cli("repo", "rotate-key", repo, "snapshot", "--json")
        assert r.returncode == 4
        assert json.loads(r.stdout)["error"]["type"] == "BusyError"
    finally:
        os.close(fd)
    assert load(repo, "timestamp.json").signed.version == 1
