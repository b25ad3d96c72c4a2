"""Local changes against pristine, with and without the stat index that lets `status` skip
hashing files whose stat data did not change."""

from __future__ import annotations

import os
from pathlib import Path

from uplevel.commands.adopt import init
from uplevel.engine.home import Home
from uplevel.engine.localchanges import compare, current_entries, load_index

PRODUCT = "wso2am-4.2.0"


def adopted(tmp_path: Path) -> Home:
    root = tmp_path / "home"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "a.toml").write_bytes(b"a = 1\n")
    (root / "conf" / "b.toml").write_bytes(b"b = 1\n")
    (root / "lib").mkdir()
    (root / "lib" / "x.jar").write_bytes(b"jar")
    init(root, product=PRODUCT, level=0, channel="full")
    return Home(root)


def test_modified_added_and_deleted_paths_are_found(tmp_path: Path) -> None:
    home = adopted(tmp_path)
    state = home.load_state()
    assert compare(home, state.pristine, use_index=True).clean
    (home.root / "conf" / "a.toml").write_bytes(b"a = 2\n")
    (home.root / "lib" / "driver.jar").write_bytes(b"driver")
    (home.root / "conf" / "b.toml").unlink()
    for use_index in (True, False):
        local = compare(home, state.pristine, use_index=use_index)
        assert local.modified == ("conf/a.toml",)
        assert local.added == ("lib/driver.jar",)
        assert local.deleted == ("conf/b.toml",)


def test_same_size_new_bytes_with_the_old_mtime_are_still_found(tmp_path: Path) -> None:
    """The index trusts stat data only as far as it proves nothing changed: a rewrite that
    restores size and mtime still changes ctime (in the key), and a change within the racy
    window of the index's own write is hashed, never trusted."""
    home = adopted(tmp_path)
    state = home.load_state()
    path = home.root / "conf" / "a.toml"
    before = path.stat()
    path.write_bytes(b"a = 9\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert compare(home, state.pristine, use_index=True).modified == ("conf/a.toml",)


def test_the_index_lets_current_entries_skip_reading_pristine_files(tmp_path: Path) -> None:
    home = adopted(tmp_path)
    state = home.load_state()
    pristine = home.load_manifest(state.pristine)
    assert load_index(home, state.pristine) is not None  # seeded at adoption
    (home.root / "conf" / "a.toml").write_bytes(b"a = 22\n")
    entries = current_entries(home, ["conf/a.toml", "conf/b.toml", "gone"], pristine)
    assert entries["conf/b.toml"] == pristine["conf/b.toml"]
    changed = entries["conf/a.toml"]
    assert changed is not None and changed.sha256 != pristine["conf/a.toml"].sha256
    assert entries["gone"] is None
