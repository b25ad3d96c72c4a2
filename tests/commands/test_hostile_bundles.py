"""Hostile bundles through the real CLI: each is refused (exit 1, a message naming the problem)
and leaves the adopted home byte-for-byte as it was, with no transaction left behind.

The bundles are crafted here from a valid one (`uplevel bundle create` via the `sample`
fixture): the descriptor and members are rewritten with zipfile, and wherever the change is
not itself about the digest, `to_manifest_digest` is recomputed so the refusal can only come
from the problem under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.support.homes import Sample, Snapshot, run_cli, snapshot
from uplevel.core.manifest import Entry, Manifest
from uplevel.devtools.sample import PRODUCT

DESCRIPTOR = "uplevel-bundle.json"
LOCK = "updates/uplevel/lock"
TXN = "updates/uplevel/txn"
JAR_304 = "repository/components/plugins/org.wso2.carbon.core_3.0.4.jar"
TOML = "repository/conf/deployment.toml"
THEME = "repository/deployment/server/webapps/api#am#publisher/site/public/theme.js"

Members = list[tuple[str, bytes]]


# --- crafting ----------------------------------------------------------------------------


def read_bundle(path: Path) -> tuple[dict[str, Any], Members]:
    """The descriptor (parsed) and the blob members, in archive order."""
    with zipfile.ZipFile(path) as zf:
        desc = json.loads(zf.read(DESCRIPTOR))
        blobs = [(i.filename, zf.read(i)) for i in zf.infolist() if i.filename != DESCRIPTOR]
    return desc, blobs


def recompute_digest(desc: dict[str, Any]) -> None:
    """Make `to_manifest_digest` agree with from_manifest + changes (as a careful forger would)."""
    old = Manifest((p, Entry.from_dict(e)) for p, e in desc["from_manifest"]["entries"].items())
    changes = {p: (Entry.from_dict(e) if e else None) for p, e in desc["changes"].items()}
    desc["to_manifest_digest"] = old.with_changes(changes).digest


def write_bundle(
    out: Path,
    members: Members,
    *,
    descriptor: dict[str, Any] | None = None,
    descriptor_bytes: bytes | None = None,
) -> Path:
    """Write a zip: the descriptor first (unless None given for both), then `members` as given."""
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        warnings.simplefilter("ignore")  # duplicate names are deliberate in some cases
        if descriptor_bytes is None and descriptor is not None:
            descriptor_bytes = json.dumps(descriptor, indent=1, sort_keys=True).encode()
        if descriptor_bytes is not None:
            info = zipfile.ZipInfo(DESCRIPTOR, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, descriptor_bytes)
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return out


def craft(
    src: Path,
    out: Path,
    edit: Callable[[dict[str, Any], Members], None] | None = None,
    *,
    fix_digest: bool = True,
) -> Path:
    """Copy bundle `src` to `out` through the descriptor/members rewriter, after `edit`."""
    desc, members = read_bundle(src)
    if edit is not None:
        edit(desc, members)
    if fix_digest:
        recompute_digest(desc)
    return write_bundle(out, members, descriptor=desc)


def some_blob(desc: dict[str, Any]) -> dict[str, Any]:
    """A file entry whose content the bundle really carries (so only the path is wrong)."""
    e = desc["changes"][THEME]
    assert e is not None and e["sha256"] in desc["blobs"]
    return dict(e)


# --- the home and the checks ---------------------------------------------------------------


def state_snapshot(home: Path) -> Snapshot:
    snap = snapshot(home, include_state=True)
    snap.pop(LOCK, None)
    return snap


def assert_refused(home: Path, bundle: Path, before: Snapshot, *needles: str) -> str:
    r = run_cli("apply", "--home", home, bundle)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    msg = r.stderr
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    assert not os.path.lexists(home / TXN)
    assert state_snapshot(home) == before
    return msg


@pytest.fixture
def home(sample: Sample) -> Path:
    return sample.home()


# --- positive control -----------------------------------------------------------------------


def test_control_crafted_copy_applies(sample: Sample, home: Path, tmp_path: Path) -> None:
    """The rewriter alone (digest recomputed too) yields a bundle that applies cleanly."""
    crafted = craft(sample.bundles[1], tmp_path / "control.bundle")
    before = state_snapshot(home)
    r = run_cli("apply", "--home", home, crafted)
    assert r.returncode == 0, r.stdout + r.stderr
    assert state_snapshot(home) != before
    assert snapshot(home) == snapshot(sample.trees[1])
    assert not os.path.lexists(home / TXN)


def test_control_edited_descriptor_still_applies(
    sample: Sample, home: Path, tmp_path: Path
) -> None:
    """An edit that is legitimate (a new title) passes: the edit path itself is not the refusal."""

    def edit(desc: dict[str, Any], members: Members) -> None:
        desc["updates"][0]["title"] = "retitled"

    crafted = craft(sample.bundles[1], tmp_path / "retitled.bundle", edit)
    run_cli("apply", "--home", home, crafted, check=0)
    assert snapshot(home) == snapshot(sample.trees[1])
    hist = run_cli("history", "--home", home, "--json", check=0).json["result"]["events"]
    assert hist[-1]["titles"] == ["retitled"]


# --- unsafe paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("../evil", "'..', '.', '//'"),
        ("repository/../../evil", "'..', '.', '//'"),
        ("repository/conf/..", "'..', '.', '//'"),
        ("/tmp/uplevel-evil", "is absolute"),
        ("repository//evil", "'..', '.', '//'"),
        ("./evil", "'..', '.', '//'"),
        ("repository/./evil", "'..', '.', '//'"),
        ("updates/uplevel/state.json", "inside uplevel's state directory"),
        ("updates/uplevel/objects/ab/evil", "inside uplevel's state directory"),
        ("updates/uplevel", "inside uplevel's state directory"),
        ("repository\\evil", "backslash"),
        ("repository/evil/", "'..', '.', '//'"),
        ("repository/\x00evil", "NUL byte"),
    ],
)
def test_unsafe_change_path(
    sample: Sample, home: Path, tmp_path: Path, path: str, needle: str
) -> None:
    def edit(desc: dict[str, Any], members: Members) -> None:
        desc["changes"][path] = some_blob(desc)

    bundle = craft(sample.bundles[1], tmp_path / "b.bundle", edit)
    before = state_snapshot(home)
    msg = assert_refused(home, bundle, before, needle)
    assert "descriptor.changes" in msg
    assert not (tmp_path / "evil").exists() and not Path("/tmp/uplevel-evil").exists()


@pytest.mark.parametrize(
    "path", ["../victim", "/etc/victim", "a//victim", "updates/uplevel/state.json"]
)
def test_unsafe_from_manifest_path_being_removed(
    sample: Sample, home: Path, tmp_path: Path, path: str
) -> None:
    """A path in from_manifest that the update removes would make apply delete it."""

    def edit(desc: dict[str, Any], members: Members) -> None:
        desc["from_manifest"]["entries"][path] = some_blob(desc)
        desc["changes"][path] = None

    bundle = craft(sample.bundles[1], tmp_path / "b.bundle", edit)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "descriptor.from_manifest", repr(path))


def test_symlinked_directory_in_home_is_not_written_through(
    sample: Sample, home: Path, tmp_path: Path
) -> None:
    """repository/deployment -> a directory outside the home; bundle 1 adds a file under it."""
    outside = tmp_path / "outside-deployment"
    shutil.copytree(home / "repository/deployment", outside, symlinks=True)
    shutil.rmtree(home / "repository/deployment")
    os.symlink(outside, home / "repository/deployment")
    before = state_snapshot(home)
    before_outside = snapshot(outside)
    msg = assert_refused(home, sample.bundles[1], before, "symlink", "repository/deployment")
    assert THEME in msg
    assert snapshot(outside) == before_outside
    assert not (outside / "server/webapps/api#am#publisher/site/public/theme.js").exists()


def test_symlinked_file_parent_created_by_operator(
    sample: Sample, home: Path, tmp_path: Path
) -> None:
    """A symlink at a parent the bundle only *adds* under (repository/conf → outside)."""
    outside = tmp_path / "outside-conf"
    shutil.copytree(home / "repository/conf", outside)
    shutil.rmtree(home / "repository/conf")
    os.symlink(outside, home / "repository/conf")
    before = state_snapshot(home)
    before_outside = snapshot(outside)
    assert_refused(home, sample.bundles[1], before, "symlink", "repository/conf")
    assert snapshot(outside) == before_outside


def test_bundle_symlink_with_a_child_written_through_it(
    sample: Sample, home: Path, tmp_path: Path
) -> None:
    """The bundle itself adds `repository/evil` -> outside dir and a file `repository/evil/x.js`."""
    outside = tmp_path / "outside-target"
    outside.mkdir()

    def edit(desc: dict[str, Any], members: Members) -> None:
        desc["changes"]["repository/evil"] = {"kind": "symlink", "target": str(outside)}
        desc["changes"]["repository/evil/x.js"] = some_blob(desc)

    bundle = craft(sample.bundles[1], tmp_path / "b.bundle", edit)
    before = state_snapshot(home)
    before_home = snapshot(home)
    r = run_cli("apply", "--home", home, bundle)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "repository/evil" in r.stderr
    assert list(outside.iterdir()) == []
    assert snapshot(home) == before_home
    assert not os.path.lexists(home / TXN)
    assert state_snapshot(home) == before


# --- malformed descriptor and archive ----------------------------------------------------------


def test_duplicated_json_key_in_changes(sample: Sample, home: Path, tmp_path: Path) -> None:
    desc, members = read_bundle(sample.bundles[1])
    text = json.dumps(desc, indent=1, sort_keys=True)
    # The first occurrence says "remove the toml"; the last (what a naive parser keeps) is the
    # genuine entry, so the digest check alone would not catch it.
    marker = '"changes": {\n'
    assert text.count(marker) == 1
    text = text.replace(marker, marker + f'  "{TOML}": null,\n', 1)
    assert text.count(f'"{TOML}"') == 3  # from_manifest, and twice in changes
    json.loads(text)  # still JSON that a lax parser accepts
    bundle = write_bundle(tmp_path / "b.bundle", members, descriptor_bytes=text.encode())
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "appears twice", TOML)


def test_duplicated_json_key_at_top_level(sample: Sample, home: Path, tmp_path: Path) -> None:
    desc, members = read_bundle(sample.bundles[1])
    text = json.dumps(desc, indent=1, sort_keys=True)
    text = text.replace('"channel": "full"', '"channel": "security",\n "channel": "full"', 1)
    bundle = write_bundle(tmp_path / "b.bundle", members, descriptor_bytes=text.encode())
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "appears twice", "'channel'")


@pytest.mark.parametrize("which", ["descriptor", "blob"])
def test_duplicated_zip_member(sample: Sample, home: Path, tmp_path: Path, which: str) -> None:
    desc, members = read_bundle(sample.bundles[1])
    if which == "descriptor":
        other = json.loads(json.dumps(desc))
        other["updates"][0]["title"] = "second descriptor"
        members = [*members, (DESCRIPTOR, json.dumps(other).encode())]
        name = DESCRIPTOR
    else:
        name = f"blobs/{desc['changes'][JAR_304]['sha256']}"
        data = dict(members)[name]
        members = [*members, (name, bytes([data[0] ^ 1]) + data[1:])]
    bundle = write_bundle(tmp_path / "b.bundle", members, descriptor=desc)
    with zipfile.ZipFile(bundle) as zf:
        assert [i.filename for i in zf.infolist()].count(name) == 2
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "appears twice", name)


@pytest.mark.parametrize("target", [JAR_304, TOML])
def test_blob_content_does_not_match_hash(
    sample: Sample, home: Path, tmp_path: Path, target: str
) -> None:
    """Same size, one byte flipped (re-compressed if the blob is zstd): found while staging."""
    desc, members = read_bundle(sample.bundles[1])
    sha = desc["changes"][target]["sha256"]
    info = desc["blobs"][sha]
    name = f"blobs/{sha}"
    stored = dict(members)[name]
    raw = zstandard.ZstdDecompressor().decompress(stored) if info["encoding"] == "zstd" else stored
    assert len(raw) == info["size"] and hashlib.sha256(raw).hexdigest() == sha
    mid = len(raw) // 2
    bad = raw[:mid] + bytes([raw[mid] ^ 0x20]) + raw[mid + 1 :]
    assert len(bad) == len(raw) and bad != raw
    if info["encoding"] == "zstd":
        bad = zstandard.ZstdCompressor(level=3).compress(bad)
    members = [(n, bad if n == name else d) for n, d in members]
    bundle = write_bundle(tmp_path / "b.bundle", members, descriptor=desc)

    before = state_snapshot(home)
    before_home = snapshot(home)
    r = run_cli("apply", "--home", home, bundle)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "does not match its hash" in r.stderr
    assert sha[:12] in r.stderr
    # the home proper is untouched and the staging area is gone
    assert snapshot(home) == before_home
    assert not os.path.lexists(home / TXN)
    # state.json, manifests, records and the store did not change either
    assert state_snapshot(home) == before
    st = run_cli("status", "--home", home, "--json", check=0).json["result"]
    assert st["level"] == 0 and st["pending"] is None
    # and the genuine bundle still applies afterwards
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    assert snapshot(home) == snapshot(sample.trees[1])


def test_blob_listed_but_missing(sample: Sample, home: Path, tmp_path: Path) -> None:
    desc, members = read_bundle(sample.bundles[1])
    sha = desc["changes"][JAR_304]["sha256"]
    members = [(n, d) for n, d in members if n != f"blobs/{sha}"]
    bundle = write_bundle(tmp_path / "b.bundle", members, descriptor=desc)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "listed but missing", sha[:12])


def test_blob_needed_but_not_listed(sample: Sample, home: Path, tmp_path: Path) -> None:
    """A change whose content is neither listed nor present."""
    desc, members = read_bundle(sample.bundles[1])
    sha = desc["changes"][JAR_304]["sha256"]
    del desc["blobs"][sha]
    members = [(n, d) for n, d in members if n != f"blobs/{sha}"]
    bundle = write_bundle(tmp_path / "b.bundle", members, descriptor=desc)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "is not in the bundle", JAR_304)


@pytest.mark.parametrize(
    "name", ["../evil", "blobs/../../evil", "/abs/evil", "blobs/" + "A" * 64, "extra.txt"]
)
def test_unexpected_member(sample: Sample, home: Path, tmp_path: Path, name: str) -> None:
    desc, members = read_bundle(sample.bundles[1])
    bundle = write_bundle(tmp_path / "b.bundle", [*members, (name, b"evil\n")], descriptor=desc)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "unexpected member")
    assert not (tmp_path / "evil").exists()


def test_no_descriptor(sample: Sample, home: Path, tmp_path: Path) -> None:
    _desc, members = read_bundle(sample.bundles[1])
    bundle = write_bundle(tmp_path / "b.bundle", members)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, DESCRIPTOR)


# --- not for this home -------------------------------------------------------------------------


def test_wrong_product(sample: Sample, home: Path, tmp_path: Path) -> None:
    def edit(desc: dict[str, Any], members: Members) -> None:
        desc["product"] = "wso2is-6.1.0"

    bundle = craft(sample.bundles[1], tmp_path / "b.bundle", edit)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "wso2is-6.1.0", PRODUCT)


def test_wrong_from_level(sample: Sample, home: Path) -> None:
    before = state_snapshot(home)
    assert_refused(home, sample.bundles[2], before, "from level 1", "at level 0")


def test_wrong_channel(sample: Sample) -> None:
    home = sample.root / "sec-home"
    shutil.copytree(sample.trees[0], home, symlinks=True)
    run_cli(
        "init",
        "--home",
        home,
        "--product",
        PRODUCT,
        "--level",
        "0",
        "--channel",
        "security",
        check=0,
    )
    before = state_snapshot(home)
    assert_refused(home, sample.bundles[1], before, "full channel", "follows security")


# --- inconsistent or unreadable ------------------------------------------------------------------


def test_to_manifest_digest_mismatch(sample: Sample, home: Path, tmp_path: Path) -> None:
    def edit(desc: dict[str, Any], members: Members) -> None:
        desc["to_manifest_digest"] = "0" * 64

    bundle = craft(sample.bundles[1], tmp_path / "b.bundle", edit, fix_digest=False)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "to_manifest_digest does not match")


def test_changes_altered_without_fixing_digest(sample: Sample, home: Path, tmp_path: Path) -> None:
    """Drop a removal from `changes` but keep the publisher's digest: inconsistent."""

    def edit(desc: dict[str, Any], members: Members) -> None:
        removed = [p for p, e in desc["changes"].items() if e is None]
        assert removed
        del desc["changes"][removed[0]]

    bundle = craft(sample.bundles[1], tmp_path / "b.bundle", edit, fix_digest=False)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "to_manifest_digest does not match")


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_unknown_schema_version(
    sample: Sample, home: Path, tmp_path: Path, version: object
) -> None:
    def edit(desc: dict[str, Any], members: Members) -> None:
        desc["schema_version"] = version

    bundle = craft(sample.bundles[1], tmp_path / "b.bundle", edit)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "schema_version", repr(version), "not supported")


def test_wrong_format_name(sample: Sample, home: Path, tmp_path: Path) -> None:
    def edit(desc: dict[str, Any], members: Members) -> None:
        desc["format"] = "something-else"

    bundle = craft(sample.bundles[1], tmp_path / "b.bundle", edit)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "descriptor.format")


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a zip\n", b"PK\x03\x04" + b"\x00" * 40],
    ids=["empty", "text", "truncated-zip"],
)
def test_not_a_zip(home: Path, tmp_path: Path, content: bytes) -> None:
    bundle = tmp_path / "b.bundle"
    bundle.write_bytes(content)
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "not a readable bundle")


def test_descriptor_not_json(sample: Sample, home: Path, tmp_path: Path) -> None:
    _desc, members = read_bundle(sample.bundles[1])
    bundle = write_bundle(tmp_path / "b.bundle", members, descriptor_bytes=b"{not json")
    before = state_snapshot(home)
    assert_refused(home, bundle, before, "not valid JSON")
