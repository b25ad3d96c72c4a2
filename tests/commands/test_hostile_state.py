"""Damaged state and hostile files uplevel does not own: each ends in a clear error naming the
file (exit 1, or 4 where the product may run), in bounded time, never "this is a bug".

The reproducers of issue 16: a pid file that is a FIFO or a link to /dev/zero (read without
end before), a pid file holding 99999999999999999999 (OverflowError), a truncated manifest
(ZstdError), a garbled transaction record and journal (JSONDecodeError), a bundle descriptor
nested 100,000 levels deep (RecursionError).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.homes import CLIResult, Sample, run_cli, snapshot
from uplevel.core.paths import STATE_DIR

PID_FILE = "wso2carbon.pid"
BOUND_S = 20  # a hanging read is what the test catches; a normal run takes about a second


def run_bounded(*args: str | Path) -> tuple[CLIResult, float]:
    """The real CLI with a memory cap (a read without end must not take the machine down)."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    start = time.monotonic()
    p = subprocess.run(
        [sys.executable, "-m", "uplevel", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
        preexec_fn=cap,
    )
    return CLIResult(p.returncode, p.stdout, p.stderr), time.monotonic() - start


def error_of(r: CLIResult) -> dict[str, str]:
    error = json.loads(r.stdout)["error"]
    assert error is not None, r.stdout
    assert "this is a bug" not in (error["hint"] or ""), error
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_pid_file_that_is_not_a_regular_file_is_refused_at_once(
    sample: Sample, kind: str
) -> None:
    home = sample.home()
    pid_file = home / PID_FILE
    if kind == "fifo":
        os.mkfifo(pid_file)
    else:
        pid_file.symlink_to("/dev/zero")
    r, took = run_bounded("apply", sample.bundles[1], "--home", home, "--json")
    assert r.returncode == 4, r.stdout + r.stderr
    error = error_of(r)
    assert PID_FILE in error["message"] and "not a regular file" in error["message"]
    assert "--force" in error["hint"]
    assert took < BOUND_S
    forced, _ = run_bounded("apply", sample.bundles[1], "--home", home, "--force", "--json")
    assert forced.returncode == 0, forced.stdout + forced.stderr


def test_a_pid_no_process_can_have_is_not_a_running_product(sample: Sample) -> None:
    home = sample.home()
    (home / PID_FILE).write_text("99999999999999999999\n")
    r = run_cli("apply", sample.bundles[1], "--home", home, "--json")
    assert r.returncode == 0, r.stdout + r.stderr


def manifest_files(home: Path) -> list[Path]:
    return sorted((home / STATE_DIR / "manifests").glob("*.json.zst"))


def test_a_truncated_manifest_is_corrupt_state(sample: Sample) -> None:
    home = sample.home()
    (manifest,) = manifest_files(home)
    manifest.write_bytes(manifest.read_bytes()[:40])
    r = run_cli("verify", "--home", home, "--json")
    assert r.returncode == 1
    error = error_of(r)
    assert error["type"] == "CorruptStateError"
    assert error["message"].startswith("corrupt state: ") and str(manifest) in error["message"]
    assert "uplevel init" in error["hint"]


def test_a_garbled_transaction_record_is_corrupt_state(sample: Sample) -> None:
    home = sample.home()
    run_cli("apply", sample.bundles[1], "--home", home, check=0)
    (record,) = (home / STATE_DIR / "transactions").glob("*.json")
    record.write_bytes(record.read_bytes()[:-30] + b"\x00garbage")
    r = run_cli("revert", "--home", home, "--json")
    assert r.returncode == 1
    error = error_of(r)
    assert error["type"] == "CorruptStateError" and str(record) in error["message"]


def test_a_garbled_journal_is_corrupt_state(sample: Sample) -> None:
    home = sample.home()
    txn = home / STATE_DIR / "txn"
    txn.mkdir()
    (txn / "journal.json").write_bytes(b'{"schema_version": 1, "id": ')
    r = run_cli("status", "--home", home, "--json")
    assert r.returncode == 1
    error = error_of(r)
    assert error["type"] == "CorruptStateError" and "journal.json" in error["message"]


def test_a_garbled_state_file_is_corrupt_state(sample: Sample) -> None:
    home = sample.home()
    state = home / STATE_DIR / "state.json"
    state.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    r = run_cli("status", "--home", home, "--json")
    assert r.returncode == 1
    error = error_of(r)
    assert error["type"] == "CorruptStateError" and str(state) in error["message"]


def test_a_descriptor_nested_100000_deep_is_an_invalid_bundle(sample: Sample) -> None:
    home = sample.home()
    bundle = sample.root / "deep.bundle"
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("uplevel-bundle.json", "[" * 100_000 + "]" * 100_000)
    r = run_cli("apply", bundle, "--home", home, "--json")
    assert r.returncode == 1
    error = error_of(r)
    assert error["type"] == "BundleError" and "nested too deeply" in error["message"]


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Files made immutable (chattr +i: even root cannot rename them), undone afterwards."""
    made: list[Path] = []
    yield made
    for path in made:
        subprocess.run(["chattr", "-i", path], check=False)


def test_an_unwritable_target_is_named_by_its_path_in_the_home(
    sample: Sample, immutable: list[Path]
) -> None:
    home = sample.home()
    plan = run_cli("apply", sample.bundles[1], "--home", home, "--dry-run", "--json", check=0)
    changed = next(p["path"] for p in plan.json["result"]["plan"] if (home / p["path"]).is_file())
    target = home / changed
    if subprocess.run(["chattr", "+i", target], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this file system")
    immutable.append(target)
    before = snapshot(home)
    r = run_cli("apply", sample.bundles[1], "--home", home, "--json")
    assert r.returncode == 1
    error = error_of(r)
    assert str(target) in error["message"] and "txn/stage" not in error["message"], error
    assert "rolled back" in error["message"]
    assert snapshot(home) == before


def test_status_works_when_its_stat_cache_cannot_be_written(sample: Sample) -> None:
    """Issue 16 item 8. A directory where statcache.bin goes fails the write as a full disk
    does (an OSError from the durable write), without needing a tmpfs."""
    home = sample.home()
    cache = home / STATE_DIR / "statcache.bin"
    cache.unlink(missing_ok=True)
    cache.mkdir()
    (home / "README.added").write_text("an operator's file\n")
    r = run_cli("status", "--home", home, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.json["result"]["local_changes"]["added"] == ["README.added"]
    assert any("stat cache" in n for n in r.json["result"]["notes"]), r.json["result"]["notes"]
