"""The main flow through the real CLI: apply, conflicts, continue, abort, revert."""

from __future__ import annotations

from pathlib import Path

from tests.support.homes import (
    Sample,
    conflicting_change,
    customise,
    run_cli,
    snapshot,
    store_hashes,
)


def test_apply_pristine_home_reaches_exact_new_tree(sample: Sample) -> None:
    home = sample.home()
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    assert snapshot(home) == snapshot(sample.trees[1])
    run_cli("apply", "--home", home, sample.bundles[2], check=0)
    assert snapshot(home) == snapshot(sample.trees[2])
    assert run_cli("verify", "--home", home).returncode == 0


def test_revert_restores_exact_bytes_including_local_changes(sample: Sample) -> None:
    home = sample.home()
    customise(home)
    before = snapshot(home)
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    after_1 = snapshot(home)
    assert after_1 != before
    conf = (home / "repository/conf/deployment.toml").read_text()
    assert 'hostname = "apim.example.com"' in conf and "[apim.throttling]" in conf
    run_cli("apply", "--home", home, sample.bundles[2], check=0)
    run_cli("revert", "--home", home, check=0)
    assert snapshot(home) == after_1
    run_cli("revert", "--home", home, check=0)
    assert snapshot(home) == before
    st = run_cli("status", "--home", home, "--json", check=0).json["result"]
    assert st["level"] == 0


def test_revert_to_level_in_one_step(sample: Sample) -> None:
    home = sample.home()
    customise(home)
    before = snapshot(home)
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    run_cli("apply", "--home", home, sample.bundles[2], check=0)
    run_cli("revert", "--home", home, "--level", "0", check=0)
    assert snapshot(home) == before


def test_backup_store_keeps_every_replaced_byte(sample: Sample) -> None:
    home = sample.home()
    customise(home)
    before = snapshot(home)
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    after = snapshot(home)
    replaced = {
        before[p][2] for p in before if before[p][0] == "file" and after.get(p) != before[p]
    }
    assert replaced and replaced <= store_hashes(home)


def test_conflict_stop_continue(sample: Sample) -> None:
    home = sample.home()
    conflicting_change(home)
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    r = run_cli("apply", "--home", home, sample.bundles[2], "--json")
    assert r.returncode == 3, r.stdout + r.stderr
    conflicts = r.json["result"]["conflicts"]
    assert [c["path"] for c in conflicts] == ["bin/api-manager.sh"]
    sh = home / "bin/api-manager.sh"
    for suffix in (".original", ".new", ".merge"):
        assert (home / f"bin/api-manager.sh{suffix}").is_file()
    assert b"<<<<<<<" in (home / "bin/api-manager.sh.merge").read_bytes()
    # other changing commands refuse while conflicts are pending
    assert run_cli("revert", "--home", home).returncode == 1
    assert run_cli("apply", "--home", home, sample.bundles[2]).returncode == 1
    assert run_cli("continue", "--home", home).returncode == 3  # no .final yet
    final = b"#!/bin/sh\necho resolved\n"
    (home / "bin/api-manager.sh.final").write_bytes(final)
    run_cli("continue", "--home", home, check=0)
    assert sh.read_bytes() == final
    assert oct(sh.stat().st_mode & 0o777) == oct(0o755)
    assert not any(
        (home / f"bin/api-manager.sh{s}").exists()
        for s in (".original", ".new", ".merge", ".final")
    )
    assert run_cli("status", "--home", home, "--json", check=0).json["result"]["level"] == 2


def test_conflict_abort_restores_exact_bytes(sample: Sample) -> None:
    home = sample.home()
    run_cli("apply", "--home", home, sample.bundles[1], check=0)
    conflicting_change(home)
    before = snapshot(home)
    assert run_cli("apply", "--home", home, sample.bundles[2]).returncode == 3
    final = home / "bin/api-manager.sh.final"
    final.write_bytes(b"operator work in progress\n")
    run_cli("abort", "--home", home, check=0)
    assert snapshot(home) == before
    # the operator's unfinished .final is not lost: it is in the backup store
    import hashlib

    assert hashlib.sha256(b"operator work in progress\n").hexdigest() in store_hashes(home)


def test_on_conflict_new_and_local(sample: Sample, tmp_path: Path) -> None:
    for side in ("new", "local"):
        home = sample.home(f"home-{side}")
        run_cli("apply", "--home", home, sample.bundles[1], check=0)
        conflicting_change(home)
        local = (home / "bin/api-manager.sh").read_bytes()
        run_cli("apply", "--home", home, sample.bundles[2], "--on-conflict", side, check=0)
        got = (home / "bin/api-manager.sh").read_bytes()
        upstream = (sample.trees[2] / "bin/api-manager.sh").read_bytes()
        assert got == (upstream if side == "new" else local)
        import hashlib

        other = local if side == "new" else upstream
        assert hashlib.sha256(other).hexdigest() in store_hashes(home)


def test_dry_run_changes_nothing(sample: Sample) -> None:
    home = sample.home()
    customise(home)
    lock = "updates/uplevel/lock"  # holds the pid of the last uplevel that locked the home
    before = snapshot(home, include_state=True)
    before.pop(lock)
    r = run_cli("apply", "--home", home, "--dry-run", "--json", sample.bundles[1], check=0)
    assert r.json["result"]["status"] == "dry-run"
    actions = {d["path"]: d["action"] for d in r.json["result"]["plan"]}
    assert actions["repository/conf/deployment.toml"] == "merge"
    after = snapshot(home, include_state=True)
    after.pop(lock)
    assert after == before
