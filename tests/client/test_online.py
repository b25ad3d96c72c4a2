"""The online flow end to end over real HTTP on 127.0.0.1, every step through the real CLI:
publish, serve, init --server, check, update in steps and in one jump, summary; and attacks
on the server's files, each refused with the home untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from tests.support.homes import level_trees, run_cli, snapshot
from tests.support.server import serving
from uplevel.devtools.sample import PRODUCT, write_pack

pytestmark = pytest.mark.e2e

LOCK = "updates/uplevel/lock"


@dataclass
class Published:
    repo: Path
    trees: dict[int, Path]
    url: str
    token: str

    def env(self) -> dict[str, str]:
        return {"UPLEVEL_TOKEN": self.token}


def _publish(root: Path) -> tuple[Path, dict[int, Path]]:
    trees = level_trees(root)
    pack = root / "pack.zip"
    write_pack(trees[0], pack)
    repo = root / "repo"
    run_cli("repo", "init", repo, check=0)
    run_cli("repo", "add-product", repo, "--pack", pack, "--product", PRODUCT, check=0)
    for n, extra in ((1, []), (2, ["--security", "--advisory", "WSO2-2026-1=high"]), (3, [])):
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
            *extra,
            check=0,
        )
    return repo, trees


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    root = tmp_path_factory.mktemp("online")
    repo, trees = _publish(root)
    token = run_cli(
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
    with serving(repo, "--access-log", root / "access.log") as url:
        yield Published(repo, trees, url, token)


def _home(p: Published, tmp: Path, name: str = "home", level: int = 0) -> Path:
    home = tmp / name
    shutil.copytree(p.trees[level], home, symlinks=True)
    return home


def _init(p: Published, home: Path, *extra: str) -> dict[str, object]:
    r = run_cli(
        "init",
        "--home",
        home,
        "--product",
        PRODUCT,
        "--server",
        p.url,
        "--json",
        *extra,
        env=p.env(),
        check=0,
    )
    return r.json["result"]  # type: ignore[no-any-return]


def _state(home: Path) -> dict[str, object]:
    return json.loads((home / "updates/uplevel/state.json").read_text())  # type: ignore[no-any-return]


def test_init_identifies_the_level_and_local_changes(published: Published, tmp_path: Path) -> None:
    home = _home(published, tmp_path, level=1)
    conf = home / "repository/conf/deployment.toml"
    conf.write_text(
        conf.read_text().replace('hostname = "localhost"', 'hostname = "apim.example.com"')
    )
    result = _init(published, home)
    assert result["level"] == 1 and result["level_identified"] is True
    assert result["local_changes"] == {
        "modified": ["repository/conf/deployment.toml"],
        "added": [],
        "deleted": [],
    }
    assert (home / "updates/uplevel/tuf/root.json").is_file()


def test_check_update_in_steps_and_summary(published: Published, tmp_path: Path) -> None:
    home = _home(published, tmp_path)
    conf = home / "repository/conf/deployment.toml"
    conf.write_text(
        conf.read_text().replace('hostname = "localhost"', 'hostname = "apim.example.com"')
    )
    _init(published, home, "--level", "0")
    check = run_cli("check", "--home", home, "--json", env=published.env(), check=0).json["result"]
    assert check["available"] == [1, 2, 3]
    assert check["security_updates"] == 1 and check["highest_severity"] == "high"
    assert [u["title"] for u in check["updates"]] == ["update 1", "update 2", "update 3"]
    before = snapshot(home)
    dry = run_cli("update", "--home", home, "--dry-run", "--json", env=published.env(), check=0)
    assert dry.json["result"]["status"] == "dry-run"
    assert snapshot(home) == before
    run_cli("update", "--home", home, "--level", "1", env=published.env(), check=0)
    assert _state(home)["level"] == 1
    r = run_cli("update", "--home", home, "--json", env=published.env(), check=0).json["result"]
    assert r["status"] == "applied" and r["to_level"] == 3
    text = conf.read_text()
    assert (
        'hostname = "apim.example.com"' in text
        and "[apim.throttling]" in text
        and "[apim.ai]" in text
    )
    for p in ("bin/api-manager.sh", "repository/components/plugins/org.wso2.carbon.core_7.0.7.jar"):
        assert (home / p).read_bytes() == (published.trees[3] / p).read_bytes()
    assert run_cli("update", "--home", home, "--json", env=published.env(), check=0).json[
        "result"
    ] == {"status": "up-to-date", "level": 3, "transfer": {}}
    md = run_cli(
        "summary", "--home", home, "--from", "0", "--to", "3", env=published.env(), check=0
    ).stdout
    for text in (
        "update 1",
        "update 2 [security]",
        "WSO2-2026-1 (high)",
        "`repository/conf/deployment.toml`",
    ):
        assert text in md
    js = run_cli(
        "summary",
        "--server",
        published.url,
        "--product",
        PRODUCT,
        "--from",
        "1",
        "--to",
        "2",
        "--format",
        "json",
        env=published.env(),
        check=0,
    ).json["result"]
    assert [u["level"] for u in js["updates"]] == [2]


def test_one_jump_fetches_each_content_once(published: Published, tmp_path: Path) -> None:
    """deployment.toml changes at levels 1 and 3: the jump fetches only its level-3 bytes."""
    home = _home(published, tmp_path)
    _init(published, home, "--level", "0")
    r = run_cli("update", "--home", home, "--json", env=published.env(), check=0).json["result"]
    from uplevel.engine.scan import read_tree

    old, new = read_tree(published.trees[0]), read_tree(published.trees[3])
    distinct = {e.sha256: e.size for p, e in new.items() if e.kind == "file" and old.get(p) != e}
    stored = sum(
        (published.repo / "blobs" / h[:2] / h).stat().st_size
        if (published.repo / "blobs" / h[:2] / h).exists()
        else (published.repo / "blobs" / h[:2] / f"{h}.zst").stat().st_size
        for h in distinct
    )
    assert r["transfer"]["downloaded"] == stored
    assert snapshot(home) == snapshot(published.trees[3])


def test_tampered_blob_is_refused_and_home_untouched(published: Published, tmp_path: Path) -> None:
    home = _home(published, tmp_path)
    _init(published, home, "--level", "2")
    before = snapshot(home, include_state=True)
    before.pop(LOCK)
    conf_sha = [h for h in _changed_blobs(published, 2, 3)]
    assert conf_sha
    victims = []
    for h in conf_sha:
        for name in (h, f"{h}.zst"):
            path = published.repo / "blobs" / h[:2] / name
            if path.exists():
                victims.append((path, path.read_bytes()))
                os.chmod(path, 0o644)
                data = bytearray(path.read_bytes())
                data[len(data) // 2] ^= 0xFF
                path.write_bytes(bytes(data))
    try:
        r = run_cli("update", "--home", home, env=published.env())
        assert r.returncode == 1, r.stdout + r.stderr
        assert "does not match" in r.stderr or "corrupt" in r.stderr
        after = snapshot(home, include_state=True)
        after.pop(LOCK)
        after = {k: v for k, v in after.items() if not k.startswith("updates/uplevel/tuf")}
        before_cmp = {k: v for k, v in before.items() if not k.startswith("updates/uplevel/tuf")}
        assert {
            k: v for k, v in after.items() if not k.startswith("updates/uplevel/downloads")
        } == before_cmp
    finally:
        for path, data in victims:
            path.write_bytes(data)


def test_tampered_metadata_is_refused(published: Published, tmp_path: Path) -> None:
    """timestamp.json is fetched on every refresh: a version bump without the key is refused.
    (A tampered targets file the client already trusts is never fetched again: TUF only
    downloads what the signed snapshot says changed.)"""
    home = _home(published, tmp_path)
    _init(published, home, "--level", "0")
    before = snapshot(home)
    trusted = (home / "updates/uplevel/tuf/timestamp.json").read_bytes()
    timestamp = published.repo / "metadata" / "timestamp.json"
    original = timestamp.read_bytes()
    doc = json.loads(original)
    doc["signed"]["version"] += 1
    try:
        timestamp.write_text(json.dumps(doc))
        r = run_cli("update", "--home", home, env=published.env())
        assert r.returncode == 1 and "verification" in r.stderr, r.stderr
        assert snapshot(home) == before
        assert (home / "updates/uplevel/tuf/timestamp.json").read_bytes() == trusted
    finally:
        timestamp.write_bytes(original)


def test_no_token_and_wrong_product_are_refused(published: Published, tmp_path: Path) -> None:
    home = _home(published, tmp_path)
    r = run_cli(
        "init",
        "--home",
        home,
        "--product",
        PRODUCT,
        "--server",
        published.url,
        env={"UPLEVEL_TOKEN": ""},
    )
    assert r.returncode == 1 and "401" in r.stderr and "uplevel login" in r.stderr
    other = run_cli(
        "repo",
        "token",
        "create",
        published.repo,
        "--subscriber",
        "x",
        "--product",
        "wso2is-*",
        "--channel",
        "full",
        "--json",
        check=0,
    ).json["result"]["token"]
    r = run_cli(
        "init",
        "--home",
        home,
        "--product",
        PRODUCT,
        "--server",
        published.url,
        env={"UPLEVEL_TOKEN": other},
    )
    assert r.returncode == 1 and "403" in r.stderr
    assert not (home / "updates").exists()


def _changed_blobs(p: Published, a: int, b: int) -> list[str]:
    from uplevel.engine.scan import read_tree

    old, new = read_tree(p.trees[a]), read_tree(p.trees[b])
    return [e.sha256 for path, e in new.items() if e.kind == "file" and old.get(path) != e]


# --- attacks on the metadata a home trusts (each refused, the home untouched) ---------------


def _signed(path: Path):  # type: ignore[no-untyped-def]
    from tuf.api.metadata import Metadata

    return Metadata.from_file(str(path))


def _timestamp_signers(repo: Path) -> list[object]:
    from uplevel.repo.keys import KeyStore
    from uplevel.repo.layout import RepoLayout

    root = _signed(
        max((repo / "metadata").glob("*.root.json"), key=lambda p: int(p.name.split(".")[0]))
    )
    return list(KeyStore(RepoLayout(repo), None).signers("timestamp", root.signed))


def _attack(
    published: Published, tmp_path: Path, change: dict[str, bytes], *, fresh: bool = False
) -> str:
    """Replace server files with `change`, run a command on a home, restore; return stderr."""
    home = _home(published, tmp_path, name="victim")
    if not fresh:
        _init(published, home, "--level", "0")
    before = snapshot(home, include_state=True)
    before.pop(LOCK, None)
    saved = {name: (published.repo / "metadata" / name).read_bytes() for name in change}
    try:
        for name, data in change.items():
            (published.repo / "metadata" / name).write_bytes(data)
        if fresh:
            r = run_cli(
                "init",
                "--home",
                home,
                "--product",
                PRODUCT,
                "--server",
                published.url,
                env=published.env(),
            )
        else:
            r = run_cli("update", "--home", home, env=published.env())
    finally:
        for name, data in saved.items():
            (published.repo / "metadata" / name).write_bytes(data)
    assert r.returncode == 1, r.stdout + r.stderr
    after = snapshot(home, include_state=True)
    after.pop(LOCK, None)
    assert after == before
    return r.stderr


def test_freeze_expired_timestamp_is_refused(published: Published, tmp_path: Path) -> None:
    from datetime import datetime, timedelta

    md = _signed(published.repo / "metadata" / "timestamp.json")
    md.signed.version += 1
    md.signed.expires = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    md.signatures.clear()
    for signer in _timestamp_signers(published.repo):
        md.sign(signer, append=True)  # type: ignore[arg-type]
    err = _attack(published, tmp_path, {"timestamp.json": md.to_bytes()})
    assert "expired" in err.lower()


def test_wrong_key_is_refused(published: Published, tmp_path: Path) -> None:
    from securesystemslib.signer import CryptoSigner

    md = _signed(published.repo / "metadata" / "timestamp.json")
    md.signed.version += 1
    md.signatures.clear()
    md.sign(CryptoSigner.generate_ed25519())
    assert "signed by 0/1 keys" in _attack(published, tmp_path, {"timestamp.json": md.to_bytes()})


def test_rollback_to_an_older_timestamp_is_refused(published: Published, tmp_path: Path) -> None:
    md = _signed(published.repo / "metadata" / "timestamp.json")
    old_version = md.signed.version
    md.signed.version = 1  # correctly signed, but older than what the home trusts
    md.signatures.clear()
    for signer in _timestamp_signers(published.repo):
        md.sign(signer, append=True)  # type: ignore[arg-type]
    assert old_version > 1
    err = _attack(published, tmp_path, {"timestamp.json": md.to_bytes()})
    assert f"version 1 must be >= {old_version}" in err


def test_mix_and_match_targets_is_refused(published: Published, tmp_path: Path) -> None:
    """The newest snapshot names targets version N; serve version N-1's bytes under N's name."""
    meta = published.repo / "metadata"
    versions = sorted(int(p.name.split(".")[0]) for p in meta.glob("*.targets.json"))
    newest, older = versions[-1], versions[-2]
    err = _attack(
        published,
        tmp_path,
        {f"{newest}.targets.json": (meta / f"{older}.targets.json").read_bytes()},
        fresh=True,
    )
    assert "does not match expected length" in err
    assert not (tmp_path / "victim" / "updates").exists()


def test_endless_timestamp_is_refused(published: Published, tmp_path: Path) -> None:
    data = (published.repo / "metadata" / "timestamp.json").read_bytes()
    err = _attack(published, tmp_path, {"timestamp.json": data + b" " * (4 << 20)})
    assert "more than the 16384 allowed" in err


def test_tls_server_with_a_custom_ca_bundle(published: Published, tmp_path: Path) -> None:
    """`uplevel serve --tls-cert/--tls-key` and a client trusting it only through --ca-bundle."""
    from tests.support.tuf import self_signed_cert

    cert, key = self_signed_cert(tmp_path)
    with serving(
        published.repo, "--tls-cert", cert, "--tls-key", key, "--access-log", tmp_path / "tls.log"
    ) as url:
        assert url.startswith("https://127.0.0.1:")
        home = _home(published, tmp_path)
        r = run_cli(
            "init", "--home", home, "--product", PRODUCT, "--server", url, env=published.env()
        )
        assert r.returncode == 1 and "certificate" in r.stderr.lower()  # not trusted by default
        assert not (home / "updates").exists()
        run_cli(
            "init",
            "--home",
            home,
            "--product",
            PRODUCT,
            "--server",
            url,
            "--ca-bundle",
            cert,
            env=published.env(),
            check=0,
        )
        run_cli(
            "update",
            "--home",
            home,
            env={**published.env(), "UPLEVEL_CA_BUNDLE": str(cert)},
            check=0,
        )
        assert snapshot(home) == snapshot(published.trees[3])


def test_login_keeps_the_token_in_a_private_credentials_file(
    published: Published, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    env = {"XDG_CONFIG_HOME": str(config), "UPLEVEL_TOKEN": ""}
    bad = subprocess.run(
        [sys.executable, "-m", "uplevel", "login", "--server", published.url],
        input="upl_not-a-token\n",
        text=True,
        capture_output=True,
        env={**os.environ, **env},
    )
    assert bad.returncode == 1 and "403" in bad.stderr
    assert not (config / "uplevel/credentials.json").exists()
    ok = subprocess.run(
        [sys.executable, "-m", "uplevel", "login", "--server", published.url],
        input=published.token + "\n",
        text=True,
        capture_output=True,
        env={**os.environ, **env},
    )
    assert ok.returncode == 0, ok.stderr
    creds = config / "uplevel/credentials.json"
    assert creds.stat().st_mode & 0o777 == 0o600
    assert published.token not in ok.stdout + ok.stderr
    home = _home(published, tmp_path)
    run_cli(
        "init", "--home", home, "--product", PRODUCT, "--server", published.url, env=env, check=0
    )
    assert run_cli("check", "--home", home, "--json", env=env, check=0).json["result"][
        "available"
    ] == [1, 2, 3]


def test_homes_follow_key_rotation(tmp_path: Path) -> None:
    """Root and timestamp keys rotated on the server: a home pinned to root v1 walks the chain."""
    repo, trees = _publish(tmp_path / "pub")
    token = run_cli(
        "repo",
        "token",
        "create",
        repo,
        "--subscriber",
        "a",
        "--product",
        "wso2am-*",
        "--channel",
        "full",
        "--json",
        check=0,
    ).json["result"]["token"]
    with serving(repo, "--access-log", tmp_path / "access.log") as url:
        home = tmp_path / "home"
        shutil.copytree(trees[0], home, symlinks=True)
        env = {"UPLEVEL_TOKEN": token}
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
            env=env,
            check=0,
        )
        pinned = json.loads((home / "updates/uplevel/tuf/root.json").read_text())["signed"][
            "version"
        ]
        run_cli("repo", "rotate-key", repo, "root", check=0)
        run_cli("repo", "rotate-key", repo, "timestamp", check=0)
        run_cli("update", "--home", home, env=env, check=0)
        now = json.loads((home / "updates/uplevel/tuf/root.json").read_text())["signed"]
        assert (
            now["version"] == pinned + 2
        )  # one new root per rotation, each signed by the one before
        assert snapshot(home) == snapshot(trees[3])


def test_an_interrupted_download_resumes_from_what_it_verified(
    published: Published, tmp_path: Path
) -> None:
    """A blob refused half-way leaves the verified ones in the download cache for the next run."""
    home = _home(published, tmp_path)
    _init(published, home, "--level", "0")
    changed = sorted(_changed_blobs(published, 0, 3))
    victim = changed[-1]  # downloads run in sorted order: the others are verified before it
    path = next(
        p
        for p in (published.repo / "blobs" / victim[:2] / n for n in (victim, f"{victim}.zst"))
        if p.exists()
    )
    original = path.read_bytes()
    os.chmod(path, 0o644)
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        assert run_cli("update", "--home", home, env=published.env()).returncode == 1
    finally:
        path.write_bytes(original)
    cached = {p.name for p in (home / "updates/uplevel/downloads").iterdir()}
    assert cached and victim not in cached
    r = run_cli("update", "--home", home, "--json", env=published.env(), check=0).json["result"]
    assert r["transfer"]["cached"] > 0 and r["status"] == "applied"
    assert not (home / "updates/uplevel/downloads").exists()
    assert snapshot(home) == snapshot(published.trees[3])
