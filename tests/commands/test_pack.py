"""`uplevel pack` end to end through the real CLI: a real repository with levels, a real
`uplevel serve` on 127.0.0.1, packs unzipped with Info-ZIP's `unzip`, and the unzipped
folder used as a home by the real status, verify, update and apply."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.homes import level_trees, run_cli, snapshot
from tests.support.server import serving
from uplevel.core.manifest import Entry, Manifest
from uplevel.devtools.sample import PRODUCT, write_pack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("unzip") is None, reason="needs Info-ZIP unzip"),
]

INSTRUCTIONS = "Restart every gateway node after applying.\n"
STATE = "updates/uplevel"


@dataclass
class Published:
    root: Path
    repo: Path
    trees: dict[int, Path]
    url: str
    token: str

    def env(self) -> dict[str, str]:
        return {"UPLEVEL_TOKEN": self.token}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    root = tmp_path_factory.mktemp("pack")
    trees = level_trees(root)
    write_pack(trees[0], root / "base.zip")
    (root / "steps.txt").write_text(INSTRUCTIONS)
    repo = root / "repo"
    run_cli("repo", "init", repo, check=0)
    run_cli("repo", "add-product", repo, "--pack", root / "base.zip", "--product", PRODUCT, check=0)
    extras: dict[int, list[str | Path]] = {
        1: ["--fix", "APIMINTERNAL-1=throttling data publishing", "--description", "Throttling."],
        2: [
            "--security",
            "--advisory",
            "WSO2-2026-0001=critical",
            "--advisory",
            "WSO2-2026-0002=medium",
            "--instructions",
            root / "steps.txt",
        ],
        3: ["--fix", "APIMINTERNAL-3=AI settings"],
    }
    for n in (1, 2, 3):
        run_cli("repo", "add-update", repo, "--product", PRODUCT, "--from-tree", trees[n - 1],
                "--to-tree", trees[n], "--title", f"update {n}", *extras[n], check=0)  # fmt: skip
    token = run_cli("repo", "token", "create", repo, "--subscriber", "acme", "--product",
                    "wso2am-*", "--channel", "full", "--json", check=0).json["result"]["token"]  # fmt: skip
    with serving(repo) as url:
        yield Published(root, repo, trees, url, token)


def pack(p: Published, out: Path, *args: str | Path, check: int | None = 0) -> dict[str, object]:
    r = run_cli("pack", "--product", PRODUCT, "-o", out, "--json", *args, env=p.env(), check=check)
    return r.json  # type: ignore[no-any-return]


def unzip(pack_file: Path, into: Path) -> Path:
    """Info-ZIP unzip, as an operator would: modes, symlinks and empty directories kept."""
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["unzip", "-q", str(pack_file), "-d", str(into)], check=True)
    return into / PRODUCT


def updated_in_place(p: Published, tmp: Path, level: int, channel: str = "full") -> Path:
    """A home made from the base pack, adopted at 0, brought to `level` by `uplevel update`."""
    home = unzip(p.root / "base.zip", tmp / "inplace")
    run_cli("init", "--home", home, "--product", PRODUCT, "--server", p.url, "--level", "0",
            "--channel", channel, env=p.env(), check=0)  # fmt: skip
    run_cli("update", "--home", home, "--level", str(level), env=p.env(), check=0)
    return home


# --- reproducible -------------------------------------------------------------------------


def test_same_inputs_give_the_same_bytes_whatever_the_clock_umask_and_time_zone(
    published: Published, tmp_path: Path
) -> None:
    first = pack(published, tmp_path / "a.zip", "--repo", published.repo)["result"]
    assert isinstance(first, dict)
    # Another wall clock, time zone and umask, in a process of its own.
    other = tmp_path / "b.zip"
    argv = [sys.executable, "-m", "uplevel", "pack", "--product", PRODUCT, "--repo",
            str(published.repo), "-o", str(other)]  # fmt: skip
    faketime = ["faketime", "2031-07-09 13:14:15"] if shutil.which("faketime") else []
    env = {**os.environ, "TZ": "Pacific/Chatham", "LC_ALL": "C"}
    subprocess.run(["sh", "-c", 'umask 077 && exec "$@"', "sh", *faketime, *argv], env=env,
                   check=True, capture_output=True)  # fmt: skip
    assert (tmp_path / "a.zip").read_bytes() == other.read_bytes()
    assert hashlib.sha256(other.read_bytes()).hexdigest() == first["sha256"]
    assert stat.S_IMODE(other.stat().st_mode) == 0o600  # the umask shapes the file, not the zip
    with zipfile.ZipFile(other) as z:
        for info in z.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            assert info.create_system == 3 and info.extra == b"" and info.comment == b""
            assert info.flag_bits & 0x08 == 0  # no data descriptors
        names = z.namelist()
    assert names == sorted(names, key=str.encode) and names[0] == f"{PRODUCT}/"
    assert all(n.startswith(f"{PRODUCT}/") for n in names)


def test_source_date_epoch_sets_every_timestamp(published: Published, tmp_path: Path) -> None:
    out = tmp_path / "dated.zip"
    epoch = {"SOURCE_DATE_EPOCH": "1767225600"}  # 2026-01-01 00:00 UTC
    run_cli("pack", "--product", PRODUCT, "--repo", published.repo, "-o", out, env=epoch, check=0)
    with zipfile.ZipFile(out) as z:
        assert {i.date_time for i in z.infolist()} == {(2026, 1, 1, 0, 0, 0)}
        state = json.loads(z.read(f"{PRODUCT}/{STATE}/state.json"))
    assert state["history"][0]["time"] == "2026-01-01T00:00:00+00:00"


# --- the same tree as an update in place -----------------------------------------------------


@pytest.mark.parametrize("level", [0, 2, 3])
def test_a_pack_at_level_n_equals_a_home_updated_in_place_to_n(
    published: Published, tmp_path: Path, level: int
) -> None:
    out = tmp_path / "p.zip"
    pack(published, out, "--repo", published.repo, "--level", str(level))
    unpacked = unzip(out, tmp_path / "unpacked")
    expected = (
        unzip(published.root / "base.zip", tmp_path / "inplace")
        if level == 0
        else updated_in_place(published, tmp_path, level)
    )
    got, want = snapshot(unpacked), snapshot(expected)
    assert got == want
    assert got["repository/logs"][0] == "dir"  # the empty directory is there
    assert got["bin/wso2server.sh"] == ("link", 0, "api-manager.sh")
    assert got["bin/api-manager.sh"][1] == 0o755


def test_the_security_channel_pack_equals_a_security_home_updated_in_place(
    published: Published, tmp_path: Path
) -> None:
    result = pack(published, tmp_path, "--repo", published.repo, "--channel", "security")
    r = result["result"]
    assert isinstance(r, dict)
    assert r["level"] == 1 and r["channel"] == "security"
    assert Path(str(r["output"])).name == f"{PRODUCT}+1.security.zip"
    unpacked = unzip(Path(str(r["output"])), tmp_path / "unpacked")
    assert snapshot(unpacked) == snapshot(updated_in_place(published, tmp_path, 1, "security"))
    status = run_cli("status", "--home", unpacked, "--json", check=0).json["result"]
    assert (status["level"], status["channel"]) == (1, "security")
    summary = (unpacked / STATE / "UPDATE-SUMMARY.md").read_text()
    assert "update 2" in summary and "update 1" not in summary and "update 3" not in summary


# --- an adopted home -------------------------------------------------------------------------


def test_an_unzipped_repo_pack_is_adopted_and_takes_a_bundle(
    published: Published, tmp_path: Path
) -> None:
    out = tmp_path / "p.zip"
    pack(published, out, "--repo", published.repo, "--level", "2")
    home = unzip(out, tmp_path / "site")
    status = run_cli("status", "--home", home, "--json", check=0).json["result"]
    assert (status["product"], status["level"], status["channel"]) == (PRODUCT, 2, "full")
    assert status["local_changes"] == {"modified": [], "added": [], "deleted": []}
    assert status["pending"] is None
    verify = run_cli("verify", "--home", home, "--json", check=0).json["result"]
    assert verify["pristine"] is True and verify["files_hashed"] > 10
    assert verify["files_hashed"] + verify["runtime_data"]["files"] > 20  # runtime: not hashed
    bundle = tmp_path / "l3.bundle"
    run_cli("bundle", "create", "--product", PRODUCT, "--from-tree", published.trees[2],
            "--to-tree", published.trees[3], "--from-level", "2", "--to-level", "3",
            "-o", bundle, check=0)  # fmt: skip
    applied = run_cli("apply", "--home", home, bundle, "--json", check=0).json["result"]
    assert applied["status"] == "applied" and applied["to_level"] == 3
    assert snapshot(home) == snapshot(published.trees[3])
    run_cli("verify", "--home", home, check=0)


def test_a_repo_pack_pins_the_repository_root_so_signed_bundles_apply(
    published: Published, tmp_path: Path
) -> None:
    pack(published, tmp_path / "p.zip", "--repo", published.repo, "--level", "1")
    home = unzip(tmp_path / "p.zip", tmp_path / "site")
    assert json.loads((home / STATE / "state.json").read_text())["server"] is None
    signed = tmp_path / "1-3.zip"
    run_cli("export", "--server", published.url, "--product", PRODUCT, "--from", "1", "--to",
            "3", "-o", signed, env=published.env(), check=0)  # fmt: skip
    applied = run_cli("apply", "--home", home, signed, "--json", check=0).json["result"]
    assert applied["status"] == "applied" and applied["to_level"] == 3
    assert snapshot(home) == snapshot(published.trees[3])


def test_an_unzipped_server_pack_follows_its_server(published: Published, tmp_path: Path) -> None:
    result = pack(published, tmp_path / "s.zip", "--server", published.url, "--level", "1")
    r = result["result"]
    assert isinstance(r, dict)
    assert (r["source"], r["server"], r["root_pinned"]) == ("server", published.url, True)
    home = unzip(tmp_path / "s.zip", tmp_path / "site")
    state = json.loads((home / STATE / "state.json").read_text())
    assert state["server"] == published.url and state["level"] == 1
    assert (home / STATE / "tuf/root.json").read_bytes() == (
        published.repo / "metadata/root.json"
    ).read_bytes()
    run_cli("status", "--home", home, check=0)
    run_cli("verify", "--home", home, check=0)
    check = run_cli("check", "--home", home, "--json", env=published.env(), check=0)
    assert check.json["result"]["available"] == [2, 3]
    run_cli("update", "--home", home, env=published.env(), check=0)
    assert snapshot(home) == snapshot(published.trees[3])
    assert run_cli("status", "--home", home, "--json", check=0).json["result"]["level"] == 3


def test_server_and_repo_packs_hold_the_same_tree(published: Published, tmp_path: Path) -> None:
    pack(published, tmp_path / "repo.zip", "--repo", published.repo)
    pack(published, tmp_path / "server.zip", "--server", published.url)
    a = unzip(tmp_path / "repo.zip", tmp_path / "a")
    b = unzip(tmp_path / "server.zip", tmp_path / "b")
    assert snapshot(a) == snapshot(b)
    with (
        zipfile.ZipFile(tmp_path / "repo.zip") as za,
        zipfile.ZipFile(tmp_path / "server.zip") as zb,
    ):
        differ = {
            i.filename
            for i in za.infolist()
            if zb.getinfo(i.filename).CRC != i.CRC
            or zb.getinfo(i.filename).compress_type != i.compress_type
        }
        assert differ == {f"{PRODUCT}/{STATE}/state.json"}  # only "server" differs
        assert set(za.namelist()) == set(zb.namelist())


# --- what is inside ----------------------------------------------------------------------------


def test_jars_are_stored_text_is_deflated_and_modes_are_the_manifests(
    published: Published, tmp_path: Path
) -> None:
    r = pack(published, tmp_path / "p.zip", "--repo", published.repo)["result"]
    assert isinstance(r, dict)
    with zipfile.ZipFile(tmp_path / "p.zip") as z:
        infos = {i.filename.removeprefix(f"{PRODUCT}/"): i for i in z.infolist()}
        assert z.testzip() is None
    jars = [i for n, i in infos.items() if n.endswith(".jar")]
    assert len(jars) >= 12 and all(i.compress_type == zipfile.ZIP_STORED for i in jars)
    for name in ("repository/conf/deployment.toml", "bin/api-manager.sh", f"{STATE}/state.json"):
        assert infos[name].compress_type == zipfile.ZIP_DEFLATED, name
    assert infos["bin/api-manager.sh"].external_attr >> 16 == stat.S_IFREG | 0o755
    assert infos["README.txt"].external_attr >> 16 == stat.S_IFREG | 0o644
    assert infos["bin/wso2server.sh"].external_attr >> 16 == stat.S_IFLNK | 0o777
    assert infos["repository/logs/"].external_attr >> 16 == stat.S_IFDIR | 0o755
    members = r["members"]
    assert isinstance(members, dict)
    assert members["stored"] == sum(
        1 for i in infos.values() if not i.is_dir() and i.compress_type == zipfile.ZIP_STORED
    )
    assert members["deflated"] == sum(
        1 for i in infos.values() if i.compress_type == zipfile.ZIP_DEFLATED
    )
    assert members["stored"] + members["deflated"] == members["files"] + members["symlinks"]
    assert r["bytes"] == (tmp_path / "p.zip").stat().st_size


def test_update_summary_lists_every_level_fix_advisory_and_instruction(
    published: Published, tmp_path: Path
) -> None:
    pack(published, tmp_path / "p.zip", "--repo", published.repo)
    with zipfile.ZipFile(tmp_path / "p.zip") as z:
        text = z.read(f"{PRODUCT}/{STATE}/UPDATE-SUMMARY.md").decode()
    assert text.startswith(f"# {PRODUCT} at update level 3 (full channel)")
    for line in (
        "## Level 1: update 1",
        "Throttling.",
        "- APIMINTERNAL-1: throttling data publishing",
        "## Level 2: update 2 [security]",
        "- WSO2-2026-0001 (severity: critical)",
        "- WSO2-2026-0002 (severity: medium)",
        INSTRUCTIONS.strip(),
        "## Level 3: update 3",
        "- APIMINTERNAL-3: AI settings",
        "3 update(s) included, 1 security, highest severity: critical.",
        "| 2 | update 2 | yes | WSO2-2026-0001 (critical), WSO2-2026-0002 (medium) |",
    ):
        assert line in text.splitlines(), line


def test_json_result_and_naming(published: Published, tmp_path: Path) -> None:
    doc = pack(published, tmp_path, "--repo", published.repo, "--level", "latest")
    assert doc["uplevel"] == 1 and doc["command"] == "pack" and doc["ok"] is True
    r = doc["result"]
    assert isinstance(r, dict)
    assert set(r) >= {"output", "bytes", "sha256", "product", "channel", "level", "members",
                      "summary", "updates", "manifest_digest", "source", "origin"}  # fmt: skip
    assert r["output"] == str(tmp_path / f"{PRODUCT}+3.full.zip")
    assert [u["level"] for u in r["updates"]] == [0, 1, 2, 3]
    # -o FILE is used as given; without -o the conventional name lands in the current dir
    named = tmp_path / "custom-name.zip"
    pack(published, named, "--repo", published.repo, "--level", "1")
    assert named.is_file()
    cwd = tmp_path / "here"
    cwd.mkdir()
    subprocess.run([sys.executable, "-m", "uplevel", "pack", "--product", PRODUCT, "--repo",
                    str(published.repo), "--level", "1"], cwd=cwd, check=True,
                   capture_output=True)  # fmt: skip
    assert [p.name for p in cwd.iterdir()] == [f"{PRODUCT}+1.full.zip"]
    assert (cwd / f"{PRODUCT}+1.full.zip").read_bytes() == named.read_bytes()


def test_help_names_the_options() -> None:
    text = run_cli("pack", "--help", check=0).stdout
    for option in ("--product", "--level", "--channel", "--repo", "--server", "-o", "--json"):
        assert option in text


# --- errors ------------------------------------------------------------------------------------


def test_usage_errors_are_clear_and_write_nothing(published: Published, tmp_path: Path) -> None:
    out = tmp_path / "x.zip"
    cases: list[tuple[list[str | Path], int, str]] = [
        (["--repo", published.repo, "--level", "9"], 2, "level 9 of wso2am-4.2.0 is not published"),
        (["--repo", published.repo, "--level", "two"], 2, "expected a level number or 'latest'"),
        (["--repo", published.repo, "--server", published.url], 2, "exactly one of"),
        ([], 2, "exactly one of"),
    ]
    for args, code, message in cases:
        doc = pack(published, out, *args, check=code)
        error = doc["error"]
        assert isinstance(error, dict) and message in error["message"], (args, error)
    r = run_cli("pack", "--product", "wso2is-7.0.0", "--repo", published.repo, check=2)
    assert "wso2is-7.0.0 is not in" in r.stderr
    r = run_cli("pack", "--product", PRODUCT, "--repo", published.repo, "--channel", "nightly")
    assert r.returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_the_server_wants_a_token(published: Published, tmp_path: Path) -> None:
    r = run_cli("pack", "--product", PRODUCT, "--server", published.url, "-o", tmp_path,
                env={"UPLEVEL_TOKEN": "", "HOME": str(tmp_path / "nohome")})  # fmt: skip
    assert r.returncode == 1
    assert "401" in r.stderr and "token" in r.stderr
    assert list(tmp_path.iterdir()) == []
    r = run_cli("pack", "--product", PRODUCT, "--server", published.url, "-o", tmp_path,
                env={"UPLEVEL_TOKEN": "upl_" + "A" * 43})  # fmt: skip
    assert r.returncode == 1 and "403" in r.stderr
    assert list(tmp_path.iterdir()) == []


# --- hostile repository content ------------------------------------------------------------------


def _copy_repo(p: Published, tmp: Path) -> Path:
    repo = tmp / "repo"
    shutil.copytree(p.repo, repo, symlinks=True)
    return repo


def _publish_raw_level(repo: Path, manifest: Manifest, contents: dict[str, bytes]) -> None:
    """Sign a level 4 whose manifest the normal publishing commands would never write."""
    from uplevel.core.updateinfo import UpdateInfo
    from uplevel.repo.state import NewLevel, open_repo

    with open_repo(repo) as r:
        for sha, data in contents.items():
            r.blobs.put(sha, data, where="test")
        r.publish_levels(
            [
                NewLevel(
                    product=PRODUCT,
                    channel="full",
                    level=4,
                    from_level=3,
                    manifest=manifest,
                    changes={},
                    info=UpdateInfo(level=4, title="hostile"),
                )
            ]
        )


def _file(data: bytes) -> Entry:
    return Entry(kind="file", mode=0o644, size=len(data), sha256=hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ({"../outside.txt": "file"}, "not a normalised relative path"),
        ({"/etc/cron.d/evil": "file"}, "is absolute"),
        ({"lib": "symlink", "lib/evil.jar": "file"}, "is both a directory and a symlink"),
    ],
)
def test_a_hostile_manifest_is_refused_before_the_output_is_written(
    published: Published, tmp_path: Path, paths: dict[str, str], message: str
) -> None:
    repo = _copy_repo(published, tmp_path)
    data = b"evil\n"
    entries = {
        p: _file(data) if kind == "file" else Entry(kind="symlink", target="/etc")
        for p, kind in paths.items()
    }
    _publish_raw_level(repo, Manifest({"README.txt": _file(b"x\n"), **entries}),
                       {hashlib.sha256(d).hexdigest(): d for d in (data, b"x\n")})  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    r = run_cli("pack", "--product", PRODUCT, "--repo", repo, "-o", out, "--json", check=1)
    assert message in r.json["error"]["message"]
    assert list(out.iterdir()) == []


def test_a_blob_that_does_not_match_its_hash_is_refused(
    published: Published, tmp_path: Path
) -> None:
    repo = _copy_repo(published, tmp_path)
    jar = "repository/components/plugins/org.wso2.carbon.core_7.0.7.jar"
    sha = hashlib.sha256((published.trees[3] / jar).read_bytes()).hexdigest()
    (blob,) = (repo / "blobs" / sha[:2]).glob(f"{sha}*")
    os.chmod(blob, 0o644)
    if blob.suffix == ".zst":
        import zstandard

        raw = zstandard.ZstdDecompressor().decompress(blob.read_bytes())
        blob.write_bytes(zstandard.ZstdCompressor().compress(raw[:-1] + b"!"))
    else:
        blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    out = tmp_path / "out"
    out.mkdir()
    existing = out / f"{PRODUCT}+3.full.zip"
    existing.write_bytes(b"an older pack")
    r = run_cli("pack", "--product", PRODUCT, "--repo", repo, "-o", out, check=1)
    assert f"{PRODUCT}/{jar}" in r.stderr and "does not match its sha256" in r.stderr
    assert list(out.iterdir()) == [existing]  # no temp file left, the old pack untouched
    assert existing.read_bytes() == b"an older pack"


def test_a_zstd_frame_that_declares_more_than_its_size_is_refused_before_decompressing() -> None:
    import zstandard

    from uplevel.repo.blobs import decompress  # what pack and the online client both use

    frame = zstandard.ZstdCompressor().compress(b"x" * 5000)
    assert decompress(frame, 5000) == b"x" * 5000
    with pytest.raises(zstandard.ZstdError, match="declares 5000 bytes"):
        decompress(frame, 4999)


def test_a_manifest_path_inside_the_state_directory_is_refused() -> None:
    from uplevel.commands.pack import pack_items
    from uplevel.errors import UnsafePathError

    evil = Manifest({f"{STATE}/state.json": _file(b"{}")})
    with pytest.raises(UnsafePathError, match="inside uplevel's own state"):
        pack_items(PRODUCT, evil, {"state.json": b"{}"})
    clash = Manifest({"updates": _file(b"not a directory")})
    with pytest.raises(UnsafePathError, match="updates is both a directory and a file"):
        pack_items(PRODUCT, clash, {"state.json": b"{}"})
