"""fsio directly: durable writes appear whole or not at all, steps are counted and can be
crashed at, locks exclude, and the home-path guard refuses symlinked parents."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from uplevel.engine import fsio
from uplevel.errors import BusyError, UnsafePathError, UplevelError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_write_durable_replaces_the_file_with_its_mode_and_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    fsio.write_durable(target, b"new contents", mode=0o600)
    assert target.read_bytes() == b"new contents"
    assert target.stat().st_mode & 0o7777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_durable_output_appears_only_when_the_block_ends(tmp_path: Path) -> None:
    dest = tmp_path / "level-3.zip"
    with fsio.durable_output(dest) as tmp:
        tmp.write_bytes(b"zip bytes")
        assert not dest.exists() and tmp.parent == tmp_path
    assert dest.read_bytes() == b"zip bytes"
    assert dest.stat().st_mode & 0o7777 == 0o644 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["level-3.zip"]


def test_durable_output_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    dest = tmp_path / "level-3.zip"
    dest.write_bytes(b"the previous pack")
    with pytest.raises(RuntimeError), fsio.durable_output(dest) as tmp:
        tmp.write_bytes(b"half a pa")
        raise RuntimeError("the writer failed")
    assert dest.read_bytes() == b"the previous pack"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["level-3.zip"]


def test_rename_refuses_to_replace_a_path_that_appeared(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    with pytest.raises(UplevelError, match="refusing to overwrite"):
        fsio.rename(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"b"


def test_a_crash_comes_exactly_before_the_step_asked_for(tmp_path: Path) -> None:
    """What the crash-safety suites rely on: step k dies before doing anything."""
    pid = os.fork()
    if pid == 0:  # the child: no pytest cleanup, it must leave through os._exit
        try:
            fsio.set_crash_at(2)
            fsio.mkdir(tmp_path / "first")
            fsio.mkdir(tmp_path / "second")
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 137
    assert (tmp_path / "first").is_dir()
    assert not (tmp_path / "second").exists()


def test_exclusive_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with (
        fsio.exclusive_lock(lock, busy="another uplevel is working", hint="wait"),
        pytest.raises(BusyError, match=rf"another uplevel is working \(pid {os.getpid()}\)"),
        fsio.exclusive_lock(lock, busy="another uplevel is working", hint="wait"),
    ):
        pass
    with fsio.exclusive_lock(lock, busy="busy", hint="wait"):
        pass  # released with the first holder


def test_check_in_home_refuses_a_symlinked_or_file_parent(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "afile").write_bytes(b"")
    fsio.check_in_home(tmp_path, "real/new/file.txt")  # missing parents are created later
    with pytest.raises(UnsafePathError, match="symlink"):
        fsio.check_in_home(tmp_path, "linked/file.txt")
    with pytest.raises(UnsafePathError, match="not a directory"):
        fsio.check_in_home(tmp_path, "afile/file.txt")
    known: set[str] = set()
    fsio.check_in_home(tmp_path, "real/x", known)
    assert known == {"real"}
