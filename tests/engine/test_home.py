"""The home's state under updates/uplevel/: state.json, manifests, the backup store, the lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uplevel.commands.adopt import adoption, write_adoption
from uplevel.core.manifest import Entry, Manifest
from uplevel.engine.home import Event, Home, State, adopted_state_files, state_file_bytes
from uplevel.engine.scan import read_tree
from uplevel.errors import BusyError, HomeError

PRODUCT = "wso2am-4.2.0"


def adopted(tmp_path: Path) -> tuple[Home, State, Manifest]:
    root = tmp_path / "home"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "start.sh").write_bytes(b"#!/bin/sh\n")
    manifest = read_tree(root)
    home = Home(root)
    state = adoption(PRODUCT, "full", 3, manifest, detail="test")
    with home.locked():
        write_adoption(home, state, manifest)
    return home, state, manifest


def test_state_and_manifest_round_trip_through_the_home(tmp_path: Path) -> None:
    home, state, manifest = adopted(tmp_path)
    assert home.adopted
    assert home.load_state() == state
    assert home.load_manifest(state.pristine) == manifest
    assert home.state_file.read_bytes() == state_file_bytes(state)


def test_a_pack_embeds_the_same_state_files_an_adoption_writes(tmp_path: Path) -> None:
    home, state, manifest = adopted(tmp_path)
    for name, data in adopted_state_files(state, manifest).items():
        assert (home.state_dir / name).read_bytes() == data, name


def test_an_unadopted_home_is_refused_with_the_way_to_adopt_it(tmp_path: Path) -> None:
    with pytest.raises(HomeError, match="not an uplevel home") as info:
        Home(tmp_path).require_adopted()
    assert info.value.hint is not None and "uplevel init" in info.value.hint


def test_a_state_from_a_newer_uplevel_is_refused_not_misread(tmp_path: Path) -> None:
    home, _, _ = adopted(tmp_path)
    doc = json.loads(home.state_file.read_bytes())
    doc["schema_version"] = 99
    home.state_file.write_text(json.dumps(doc))
    with pytest.raises(HomeError, match="schema_version 99"):
        home.load_state()
    home.state_file.write_text("{")
    with pytest.raises(HomeError, match="not valid JSON"):
        home.load_state()


def test_a_missing_manifest_is_a_home_error(tmp_path: Path) -> None:
    home, _, _ = adopted(tmp_path)
    with pytest.raises(HomeError, match="missing"):
        home.load_manifest("0" * 64)


def test_the_store_keeps_one_read_only_copy_of_each_content(tmp_path: Path) -> None:
    home, _, _ = adopted(tmp_path)
    sha = Entry.for_bytes(b"backup\n", 0o644).sha256
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(b"backup\n")
        home.store_by_rename(tmp_path / name, sha)
        assert not (tmp_path / name).exists()
    assert home.has_object(sha)
    assert home.object_path(sha).read_bytes() == b"backup\n"
    assert home.object_path(sha).stat().st_mode & 0o777 == 0o444


def test_one_uplevel_per_home(tmp_path: Path) -> None:
    home, _, _ = adopted(tmp_path)
    with home.locked(), pytest.raises(BusyError, match="another uplevel"), Home(home.root).locked():
        pass


def test_events_are_appended_to_the_history(tmp_path: Path) -> None:
    _, state, _ = adopted(tmp_path)
    event = Event(time="2026-01-01T00:00:00Z", event="applied", from_level=3, to_level=4)
    later = state.with_event(event, level=4)
    assert [e.event for e in later.history] == ["init", "applied"] and later.level == 4
    assert State.from_dict(later.to_dict(), "test") == later
