"""Every corpus scenario through the merge dispatcher, and the benchmark's counting.

The scenarios (tests/corpus/scenarios.py) hold the operator's side of each real WSO2 pair
and the changes both sides made; the per-format test modules check the same pairs setting by
setting with their own oracles. Here: the facts are sound (each holds on its own side and
not on base), uplevel carries every one of them (values, comment lines and layout), reports
exactly the true conflicts, and a merge that stops on a conflict still holds every other
change; and benchmarks/merge_bench.py counts the way its section says.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.corpus.scenarios import (
    KINDS,
    SCENARIOS,
    VARIANTS,
    Reading,
    Scenario,
    Setting,
    conflict_hunks,
    outside_conflicts,
    resolve_conflicts,
)
from uplevel.merge.engine import merge

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
PAIRS = sorted(SCENARIOS)
ALL = {**SCENARIOS, **VARIANTS}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("merge_bench")
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_there_is_one_scenario_per_corpus_pair() -> None:
    folders = sorted(p.name for p in SCENARIOS["01"].path.parent.iterdir() if p.is_dir())
    folders = [f for f in folders if f[:2].isdigit()]
    assert [SCENARIOS[p].directory for p in PAIRS] == folders
    assert len(folders) == 25
    for folder in folders:  # every pair says where its bytes come from
        assert (
            (SCENARIOS["01"].path.parent / folder / "source.txt").read_text().startswith("repo: ")
        )


@pytest.mark.parametrize("key", sorted(ALL))
def test_facts_hold_on_their_own_side_and_not_on_base(key: str) -> None:
    s = ALL[key]
    base, ours, theirs = (Reading(s.fmt, x) for x in (s.base(), s.ours(), s.theirs()))
    assert s.operator and s.upstream
    for fact in s.operator:
        assert fact.side == "ours"
        assert fact.holds(ours) and not fact.holds(base), fact.describe()
    for fact in s.upstream:
        assert fact.side == "theirs"
        assert fact.holds(theirs) and not fact.holds(base), fact.describe()
    for fact in s.facts:  # a fact that names a conflict names one the scenario expects
        assert fact.conflict is None or fact.conflict in s.conflicts
        assert fact.kind in KINDS and (fact.kind == "value" or not isinstance(fact, Setting))
    for name in s.conflicts:  # every planted conflict has a change of each side
        assert {f.side for f in s.facts if f.conflict == name} == {"ours", "theirs"}, name
    if s.fmt != "text":
        assert base.readable and ours.readable and theirs.readable


@pytest.mark.parametrize("key", sorted(ALL))
def test_uplevel_carries_every_change_and_stops_only_on_true_conflicts(key: str) -> None:
    s = ALL[key]
    result = merge(s.base(), s.ours(), s.theirs(), path=s.name)
    assert result.format == s.fmt and result.fallback is None
    reported = sorted(c.path for c in result.conflicts)
    spurious = [c for c in reported if c not in s.conflicts]
    unreported = [c for c in s.conflicts if c not in reported]
    # outside its conflicts the result holds every change of both sides, conflicted or not
    lost = [f"{f.side} {f.kind}: {f.describe()}" for f in s.missing(result.merged)]
    assert (spurious, unreported, lost) == ([], [], [])
    assert len(reported) == len(s.conflicts)  # each conflict named once
    if s.fmt == "text":
        assert conflict_hunks(result.merged) == len(s.conflicts)
        return
    merged = Reading(s.fmt, result.merged)
    assert merged.readable
    for fact in s.operator:  # on a conflict the operator's value stays
        assert fact.holds(merged), fact.describe()
    for fact in s.upstream:
        assert fact.holds(merged) == (fact.conflict is None), fact.describe()


def test_outside_conflicts_takes_the_base_part_of_every_hunk() -> None:
    merged = (
        b"a\n<<<<<<< ours\nO\n||||||| base\nB\n=======\nT\n>>>>>>> theirs\nc\n"
        b"<<<<<<< ours\n||||||| base\nX\nY\n=======\nZ\n>>>>>>> theirs\n"
    )
    assert conflict_hunks(merged) == 2
    assert outside_conflicts(merged) == b"a\nB\nc\nX\nY\n"
    assert resolve_conflicts(merged, "ours") == b"a\nO\nc\n"
    assert resolve_conflicts(merged, "theirs") == b"a\nT\nc\nZ\n"
    assert resolve_conflicts(merged, "theirs", only=1) == b"a\nB\nc\nZ\n"
    assert outside_conflicts(b"no markers\n") == b"no markers\n"


def _scenario(key: str) -> Scenario:
    return ALL[key]


def test_bench_counts_conflicts_and_lost_changes_on_real_pairs(bench: ModuleType) -> None:
    start = time.monotonic()
    s = _scenario("15")  # JSON re-serialised by the operator: git conflicts on lines
    r = bench.measure_pair(s)
    assert r.git.conflicts == conflict_hunks(r.git.merged) >= 2
    assert r.uplevel.conflicts == len(s.conflicts) == 1 and r.conflicts_as_expected
    assert r.uplevel.lost == () and r.engine == "structured (json)"
    # what git left inside hunks is lost for it, and those changes are there on their side
    assert r.git.lost and set(r.git.lost) == set(r.git.in_hunks)
    assert all(f.conflict is None for f in r.git.lost)
    assert r.git.false_conflicts == r.git.conflicts - 1 and r.uplevel.false_conflicts == 0
    assert r.git.missed == r.uplevel.missed == () and not r.git.unreadable
    assert set(s.missing(r.git.merged)) == set(r.git.lost)
    # the counting can fail: a "merge" that keeps base loses every one-sided change
    nothing = bench.judge(s, s.base(), 0)
    assert set(nothing.lost) == {f for f in s.facts if f.conflict is None}
    assert nothing.in_hunks == ()
    # a line merge: conflicts are hunks on both sides
    j2 = bench.measure_pair(_scenario("08"))
    assert j2.engine == "line merge" and j2.uplevel.conflicts == j2.git.conflicts == 1
    assert j2.uplevel.lost == () and j2.git.lost == ()
    # both sides add the same key with different values: git takes both lines, silently
    same_key = bench.measure_pair(_scenario("12b"))
    assert same_key.git.conflicts == 0 and same_key.git.missed == same_key.scenario.conflicts
    assert same_key.uplevel.conflicts == 1 and same_key.uplevel.missed == ()
    # lost changes by kind, and whether a conflicted merge kept the rest
    assert {k: nothing.lost_of(k) for k in KINDS} == {
        k: sum(1 for f in s.facts if f.conflict is None and f.kind == k) for k in KINDS
    }
    assert nothing.complete is None and bench.judge(s, s.base(), 1).complete is False
    assert r.uplevel.complete is True and r.git.complete is False
    comments = bench.measure_pair(_scenario("21b"))  # a documented line edited by each side
    assert comments.uplevel.spurious == () and comments.uplevel.lost_of("comment") == 0
    assert sum(f.kind == "comment" for f in comments.scenario.facts) == 2
    formats = bench.format_table([r, j2, same_key, comments])
    assert "| JSON | uplevel | 2 |" in formats and "| TOML | git merge-file | 1 |" in formats
    assert "| **total** (4 pairs) | uplevel | 4 |" in formats
    t = bench.totals([r, j2, same_key, comments])
    assert t["up_found"] == t["true_conflicts"] == 4 and t["git_found"] == 3
    assert t["up_stopped"] == t["up_complete"] == 4
    text = bench.table([r, j2], [same_key])
    assert "| **total, 2 pairs** |" in text and "| **total, all 3** |" in text
    assert bench.totals([r, j2])["up_conflicts"] == 2
    section = bench.section(
        [r, j2],
        [same_key],
        [],
        {"date (UTC)": "d", "cores": "2", "cpu": "c", "python": "p", "git": "g"},
    )
    assert "12b: git merged the true conflict" in section
    assert section.startswith(bench.HEADING + "\n") and "How counted" in section
    assert "### Per format" in section and "| format | tool |" in section
    assert time.monotonic() - start < 5
