"""The client's pure parts: changelog between levels, closest published level."""

from __future__ import annotations

from uplevel.core.changelog import LevelNotes, changelog
from uplevel.core.closest import closest_level
from uplevel.core.manifest import Entry
from uplevel.core.updateinfo import Advisory, Fix, UpdateInfo


def f(h: str) -> Entry:
    return Entry(kind="file", mode=0o644, size=1, sha256=h * 64)


def test_changelog_nets_file_changes_and_orders_levels() -> None:
    old = {"a": f("1"), "b": f("2"), "c": f("3")}
    new = {"a": f("1"), "b": f("9"), "d": f("4")}
    notes = [
        LevelNotes(
            info=UpdateInfo(
                level=3,
                title="three",
                security=True,
                advisories=(Advisory(id="S-1", severity="high"),),
            ),
            changes={},
        ),
        LevelNotes(
            info=UpdateInfo(
                level=2,
                title="two",
                fixes=(Fix(id="B-1", summary="x"),),
                instructions="restart twice",
            ),
            changes={},
        ),
        LevelNotes(
            info=UpdateInfo(
                level=4,
                title="four",
                security=True,
                advisories=(Advisory(id="S-2", severity="critical"),),
            ),
            changes={},
        ),
    ]
    log = changelog(
        product="p-1.0", channel="full", from_level=1, to_level=4, levels=notes, old=old, new=new
    )
    assert [n.info.level for n in log.levels] == [2, 3, 4]
    assert (log.added, log.changed, log.removed) == (("d",), ("b",), ("c",))
    assert log.security_count == 2 and log.highest_severity == "critical"
    md = log.to_markdown()
    assert md.index("Level 2: two") < md.index("Level 3: three") < md.index("Level 4: four")
    for text in ("B-1: x", "S-1 (high)", "restart twice", "`d`", "`c`"):
        assert text in md
    d = log.to_dict()
    assert d["files"] == {"added": ["d"], "changed": ["b"], "removed": ["c"]}


def test_closest_level_prefers_most_matching_then_newest() -> None:
    levels = {
        0: {"a": f("1"), "b": f("2"), "c": f("3")},
        1: {"a": f("1"), "b": f("5"), "c": f("3")},
        2: {"a": f("1"), "b": f("5"), "c": f("6")},
    }
    home = {"a": f("1"), "b": f("5"), "c": f("3"), "extra": f("7")}
    best, scores = closest_level(levels, home)
    assert best.level == 1 and best.matching == 3 and best.differing == 0
    assert [s.level for s in scores] == [0, 1, 2]
    # identical trees at two levels: the newer one wins
    best, _ = closest_level({3: {"a": f("1")}, 4: {"a": f("1")}}, {"a": f("1")})
    assert best.level == 4
