"""The real `uplevel-tuf-client` console script against a real signed repository on loopback.

Each attack must exit 1 and leave the trusted metadata dir as it was: nothing
rejected is stored. Where an attack is detected only after a *valid* newer
timestamp/snapshot was verified (mix-and-match, endless snapshot), that valid
file is trusted and kept, as the TUF workflow and the tuf-conformance suite
(test_basic.py::test_basic_metadata_hash_support) require; the file attacked is
unchanged.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]
from tuf.api.metadata import Metadata

from tests.support.tuf import (
    DEV_TARGET,
    TOP_TARGET,
    Client,
    Repo,
    Server,
    clean_env,
    endless,
    sha256,
    tree,
)

TOP_LEVEL = {"root.json", "timestamp.json", "snapshot.json", "targets.json"}
FIRST_REFRESH = [
    "/metadata/2.root.json",
    "/metadata/timestamp.json",
    "/metadata/1.snapshot.json",
    "/metadata/1.targets.json",
]


def version(metadata_dir: Path, role: str) -> int:
    return Metadata.from_file(str(metadata_dir / f"{role}.json")).signed.version


@pytest.fixture
def trusting(client: Client, repo: Repo) -> Client:
    """A client initialised with the repository's root and refreshed once."""
    assert client.init(repo.root_bytes) == 0
    assert client.refresh() == 0, client.last_stderr
    return client


# --- the protocol ----------------------------------------------------------------------


def test_init_stores_the_root_and_makes_no_request(
    client: Client, repo: Repo, server: Server
) -> None:
    assert client.init(repo.root_bytes) == 0
    assert tree(client.metadata_dir) == {"root.json": repo.root_bytes}
    assert server.log == []


def _missing_version(root: bytes) -> bytes:
    doc = json.loads(root)
    del doc["signed"]["version"]
    return json.dumps(doc).encode()


def _bad_signature(root: bytes) -> bytes:
    doc = json.loads(root)
    doc["signatures"][0]["sig"] = "00" * 64
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "make_root",
    [
        lambda root, repo: b"{not json",
        lambda root, repo: _missing_version(root),
        lambda root, repo: _bad_signature(root),
        lambda root, repo: repo.published["timestamp"][1],
    ],
    ids=["not-json", "no-version", "bad-signature", "not-a-root"],
)
def test_malformed_initial_root_is_refused_before_any_request(
    client: Client, repo: Repo, server: Server, make_root: object
) -> None:
    bad = make_root(repo.root_bytes, repo)  # type: ignore[operator]
    assert client.init(bad) == 1
    assert tree(client.metadata_dir) == {}
    assert client.refresh() == 1
    assert server.log == []


def test_refresh_then_download_with_delegation_then_cached(
    client: Client, repo: Repo, server: Server
) -> None:
    assert client.init(repo.root_bytes) == 0
    assert client.refresh() == 0, client.last_stderr
    assert server.paths() == FIRST_REFRESH
    d = client.metadata_dir
    assert {p.name for p in d.iterdir()} == TOP_LEVEL | {"root_history"}
    assert [p.name for p in (d / "root_history").iterdir()] == ["1.root.json"]
    assert not (d / "root.json").is_symlink()
    assert (d / "root.json").read_bytes() == repo.root_bytes
    assert [version(d, role) for role in ("timestamp", "snapshot", "targets")] == [1, 1, 1]

    server.log.clear()
    assert client.download(TOP_TARGET, DEV_TARGET) == 0, client.last_stderr
    assert tree(client.target_dir) == {
        quote(TOP_TARGET, safe=""): repo.contents[TOP_TARGET],
        quote(DEV_TARGET, safe=""): repo.contents[DEV_TARGET],
    }
    assert server.paths() == [
        "/metadata/2.root.json",
        "/metadata/timestamp.json",
        repo.target_url_path(TOP_TARGET),
        "/metadata/1.dev.json",
        repo.target_url_path(DEV_TARGET),
    ]
    assert (d / "dev.json").read_bytes() == repo.published["dev"][1]

    server.log.clear()
    assert client.download(TOP_TARGET, DEV_TARGET) == 0
    assert [p for p in server.paths() if p.startswith("/targets/")] == []


def test_download_refreshes_first_and_stops_at_the_first_failure(
    client: Client, repo: Repo, server: Server
) -> None:
    assert client.init(repo.root_bytes) == 0
    assert client.download(TOP_TARGET, "missing.txt", DEV_TARGET) == 1
    assert {p.name for p in client.metadata_dir.iterdir()} >= TOP_LEVEL
    assert list(tree(client.target_dir)) == [quote(TOP_TARGET, safe="")]
    assert repo.target_url_path(DEV_TARGET) not in server.paths()


def test_root_rotation_keeps_root_json_a_durable_regular_file(trusting: Client, repo: Repo) -> None:
    old, new = repo.signers["root"][0], CryptoSigner.generate_ed25519()
    repo.root.signed.revoke_key(old.public_key.keyid, "root")
    repo.root.signed.add_key(new.public_key, "root")
    repo.root.signed.version = 2
    repo.signers["root"] = [new]
    v2 = repo.publish_root(signers=[old, new])
    assert trusting.refresh() == 0, trusting.last_stderr
    d = trusting.metadata_dir
    assert (d / "root.json").read_bytes() == v2
    assert not (d / "root.json").is_symlink()
    assert sorted(p.name for p in (d / "root_history").iterdir()) == ["1.root.json", "2.root.json"]


def test_every_metadata_write_is_an_fsio_step(client: Client, repo: Repo, tmp_path: Path) -> None:
    assert client.init(repo.root_bytes) == 0
    log = tmp_path / "steps.log"
    assert client.refresh(env=clean_env(UPLEVEL_STEP_LOG=str(log))) == 0
    written = {line.split(" ", 2)[2] for line in log.read_text().splitlines() if " write " in line}
    d = client.metadata_dir
    expected = {"timestamp.json", "snapshot.json", "targets.json", "root_history/1.root.json"}
    assert written == {str(d / name) for name in expected}  # root.json unchanged: not rewritten


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--metadata-dir", "D"],
        ["--metadata-dir", "D", "refresh"],
        ["--metadata-dir", "D", "--metadata-url", "http://127.0.0.1:9", "download"],
        ["--metadata-dir", "D", "--bogus", "refresh"],
        ["--metadata-dir", "D", "sync"],
        ["--metadata-dir", "D", "init"],
    ],
    ids=["nothing", "no-command", "refresh-no-url", "download-no-target", "bogus", "sync", "init"],
)
def test_usage_errors_exit_1(client: Client, args: list[str]) -> None:
    assert client.run(*args) == 1
    assert "usage:" in client.last_stderr


# --- attacks ---------------------------------------------------------------------------


def refused(client: Client, before: dict[str, bytes | str], *, may_change: set[str]) -> None:
    """Trusted files other than may_change are byte-identical; no file was added or removed."""
    after = tree(client.metadata_dir)
    assert set(after) == set(before)
    assert {name for name in after if after[name] != before[name]} <= may_change


def test_rollback_of_timestamp_is_refused(trusting: Client, repo: Repo, server: Server) -> None:
    repo.timestamp.signed.version = 2
    repo.publish_timestamp()
    assert trusting.refresh() == 0
    before = tree(trusting.metadata_dir)
    server.files["/metadata/timestamp.json"] = repo.published["timestamp"][1]
    assert trusting.refresh() == 1
    assert "BadVersionNumberError" in trusting.last_stderr
    refused(trusting, before, may_change=set())


def test_rollback_of_snapshot_is_refused(trusting: Client, repo: Repo) -> None:
    repo.new_version()
    assert trusting.refresh() == 0
    before = tree(trusting.metadata_dir)
    old_snapshot = repo.published["snapshot"][1]
    repo.timestamp.signed.version = 3
    repo.timestamp.signed.snapshot_meta.version = 1
    repo.timestamp.signed.snapshot_meta.length = len(old_snapshot)
    repo.timestamp.signed.snapshot_meta.hashes = {"sha256": sha256(old_snapshot)}
    repo.publish_timestamp()
    assert trusting.refresh() == 1
    assert "BadVersionNumberError" in trusting.last_stderr
    refused(trusting, before, may_change=set())


def test_freeze_expired_timestamp_is_refused(trusting: Client, repo: Repo) -> None:
    before = tree(trusting.metadata_dir)
    repo.timestamp.signed.version = 2
    repo.timestamp.signed.expires = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    repo.publish_timestamp()
    assert trusting.refresh() == 1
    assert "ExpiredMetadataError" in trusting.last_stderr
    refused(trusting, before, may_change=set())


def test_mix_and_match_targets_is_refused(trusting: Client, repo: Repo, server: Server) -> None:
    before = tree(trusting.metadata_dir)
    repo.new_version()  # snapshot v2 names targets v2 by its sha256
    genuine_v2 = repo.published["targets"][2]
    # A validly signed targets v2 of the same length from another repository state:
    # only the sha256 in snapshot v2 tells them apart.
    swapped = bytes(reversed(repo.contents[TOP_TARGET]))
    repo.add_target("targets", TOP_TARGET, swapped)
    other_v2 = repo.sign(repo.targets, "targets")
    assert len(other_v2) == len(genuine_v2) and other_v2 != genuine_v2
    server.files["/metadata/2.targets.json"] = other_v2
    assert trusting.refresh() == 1
    assert "LengthOrHashMismatchError" in trusting.last_stderr
    refused(trusting, before, may_change={"timestamp.json", "snapshot.json"})
    assert version(trusting.metadata_dir, "targets") == 1
    assert other_v2 not in tree(trusting.metadata_dir).values()


def test_timestamp_signed_by_a_wrong_key_is_refused(trusting: Client, repo: Repo) -> None:
    before = tree(trusting.metadata_dir)
    repo.timestamp.signed.version = 2
    repo.publish_timestamp(signers=[CryptoSigner.generate_ed25519()])
    assert trusting.refresh() == 1
    assert "UnsignedMetadataError: timestamp was signed by 0/1 keys" in trusting.last_stderr
    refused(trusting, before, may_change=set())


def test_root_below_its_threshold_is_refused(trusting: Client, repo: Repo) -> None:
    before = tree(trusting.metadata_dir)
    second = CryptoSigner.generate_ed25519()
    repo.root.signed.add_key(second.public_key, "root")
    repo.root.signed.roles["root"].threshold = 2
    repo.root.signed.version = 2
    repo.publish_root(signers=repo.signers["root"])  # 1 of the 2 signatures v2 requires
    assert trusting.refresh() == 1
    assert "UnsignedMetadataError: root was signed by 1/2 keys" in trusting.last_stderr
    refused(trusting, before, may_change=set())


def test_target_altered_on_the_server_is_refused(
    trusting: Client, repo: Repo, server: Server
) -> None:
    before = tree(trusting.metadata_dir)
    path = repo.target_url_path(TOP_TARGET)
    good = server.files[path]
    server.files[path] = bytes([good[0] ^ 1]) + good[1:]  # same length, other bytes
    assert trusting.download(TOP_TARGET) == 1
    assert "LengthOrHashMismatchError" in trusting.last_stderr
    refused(trusting, before, may_change=set())
    assert tree(trusting.target_dir) == {}


def _stream_forever(server: Server, path: str) -> tuple[list[int], threading.Event]:
    sent: list[int] = []
    done = threading.Event()
    server.routes[path] = endless(sent, done)
    return sent, done


def _assert_cut_off(client: Client, sent: list[int], done: threading.Event) -> None:
    assert "DownloadLengthMismatchError" in client.last_stderr
    assert done.wait(10)
    assert sent[0] < 64 << 20  # the client hung up long before the 1 GiB the server had


def test_endless_timestamp_is_cut_off(trusting: Client, server: Server) -> None:
    before = tree(trusting.metadata_dir)
    sent, done = _stream_forever(server, "/metadata/timestamp.json")
    assert trusting.refresh() == 1
    _assert_cut_off(trusting, sent, done)
    refused(trusting, before, may_change=set())


def test_endless_snapshot_beyond_its_declared_length_is_cut_off(
    trusting: Client, repo: Repo, server: Server
) -> None:
    before = tree(trusting.metadata_dir)
    repo.new_version()
    sent, done = _stream_forever(server, "/metadata/2.snapshot.json")
    assert trusting.refresh() == 1
    _assert_cut_off(trusting, sent, done)
    refused(trusting, before, may_change={"timestamp.json"})
    assert version(trusting.metadata_dir, "snapshot") == 1


def test_endless_target_is_cut_off(trusting: Client, repo: Repo, server: Server) -> None:
    sent, done = _stream_forever(server, repo.target_url_path(DEV_TARGET))
    assert trusting.download(DEV_TARGET) == 1
    _assert_cut_off(trusting, sent, done)
    assert tree(trusting.target_dir) == {}
