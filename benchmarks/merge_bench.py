"""Measure the configuration merge on the corpus: uplevel against `git merge-file`.

For each of the 15 real WSO2 pairs in tests/corpus, the operator's side and the changes
each side made come from tests/corpus/scenarios.py (the same scenarios the merge tests
use). Both tools merge the same base, ours and theirs; for each the script counts the
conflicts it stops on and the changes it loses, and times the merge of the largest file.

Usage: .venv/bin/python benchmarks/merge_bench.py [--repeat 21] [--no-write] [--check]

How it counts (also written under the table):
- conflicts: git merge-file, the number of `<<<<<<<` hunks it leaves; uplevel, the number
  of conflicting settings it reports (or of conflict hunks when the file merged line by
  line: Jinja templates, or a side that does not parse).
- lost: a change of either side (a fact of the scenario: a setting with its new value,
  present or absent, or a text) that does not hold on the result read outside its conflict
  hunks, that is with every hunk replaced by its base lines. A change that a tool left only
  inside a conflict hunk is therefore lost for that tool: the operator has to carry it by
  hand. Changes that are part of a true conflict (both sides changed the same setting
  differently: nobody can merge them) are not counted as lost for either tool; they are
  listed in the scenario and uplevel must report exactly those conflicts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HEADING = "## Configuration merge"

if str(ROOT) not in sys.path:  # the scenarios live with the tests: tests/corpus/scenarios.py
    sys.path.insert(0, str(ROOT))

from tests.corpus.scenarios import (  # noqa: E402
    SCENARIOS,
    VARIANTS,
    Fact,
    Reading,
    Scenario,
    conflict_hunks,
    resolve_conflicts,
)

from uplevel.merge.engine import merge  # noqa: E402


class BenchError(RuntimeError):
    """The environment is not fit to measure: say what to do and stop."""


@dataclass(frozen=True)
class Outcome:
    """One tool's merge of one pair."""

    merged: bytes
    conflicts: int
    lost: tuple[Fact, ...]  # one-sided changes not in the result outside conflict hunks
    in_hunks: tuple[Fact, ...]  # of those, the ones that are inside a conflict hunk
    missed: tuple[str, ...] = ()  # true conflicts the tool merged without stopping
    false_conflicts: int = 0  # conflicts (hunks or settings) that hold no true conflict
    unreadable: bool = False  # the result outside its hunks does not parse in its format


@dataclass(frozen=True)
class PairResult:
    scenario: Scenario
    size: int  # bytes of base
    git: Outcome
    uplevel: Outcome
    engine: str  # "structured (toml)" or "line merge"
    conflicts_as_expected: bool  # uplevel reported exactly the scenario's conflicts


def git_merge_file(base: bytes, ours: bytes, theirs: bytes, name: str = "file") -> bytes:
    """`git merge-file -p --diff3` on the three sides; the merged text, markers and all."""
    with tempfile.TemporaryDirectory(prefix="uplevel-merge-bench-") as tmp:
        paths = []
        for side, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            p = Path(tmp) / f"{side}.{name}"
            p.write_bytes(data)
            paths.append(str(p))
        proc = subprocess.run(
            ["git", "merge-file", "-p", "--diff3", "-L", "ours", "-L", "base", "-L", "theirs",
             *paths],
            capture_output=True, check=False,
        )  # fmt: skip
    if proc.returncode < 0 or proc.returncode > 127:
        raise BenchError(f"git merge-file failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def judge(
    s: Scenario, merged: bytes, conflicts: int, reported: tuple[str, ...] | None = None
) -> Outcome:
    """Count what a merge lost; see the module docstring for the definition.

    `reported`: the conflict paths the tool named (uplevel); None for a tool that only
    leaves hunks (git), whose true conflict counts as flagged when one of its changes is
    inside a hunk.
    """
    lost = tuple(s.missing(merged))
    outside = Reading(s.fmt, resolve_conflicts(merged, "base"))
    own = {side: Reading(s.fmt, resolve_conflicts(merged, side)) for side in ("ours", "theirs")}

    def in_hunk(fact: Fact) -> bool:  # there on its own side, inside a hunk only
        return fact.holds(own[fact.side]) and not fact.holds(outside)

    missed = []
    for name in s.conflicts:
        if reported is not None:
            flagged = name in reported
        else:
            flagged = any(in_hunk(f) for f in s.facts if f.conflict == name)
        if not flagged:
            missed.append(name)
    if reported is not None:
        false_conflicts = sum(1 for name in reported if name not in s.conflicts)
    else:  # a hunk none of whose changes is part of a true conflict
        tied = [f for f in s.facts if f.conflict is not None and not f.holds(outside)]
        false_conflicts = 0
        for i in range(conflict_hunks(merged)):
            hunk = {
                side: Reading(s.fmt, resolve_conflicts(merged, side, only=i))
                for side in ("ours", "theirs")
            }
            if not any(f.holds(hunk[f.side]) for f in tied):
                false_conflicts += 1
    return Outcome(
        merged=merged,
        conflicts=conflicts,
        lost=lost,
        in_hunks=tuple(f for f in lost if in_hunk(f)),
        missed=tuple(missed),
        false_conflicts=false_conflicts,
        unreadable=s.fmt != "text" and not outside.readable,
    )


def measure_pair(s: Scenario) -> PairResult:
    base, ours, theirs = s.base(), s.ours(), s.theirs()
    git_out = git_merge_file(base, ours, theirs, s.name)
    git = judge(s, git_out, conflict_hunks(git_out))
    result = merge(base, ours, theirs, path=s.name)
    paths = tuple(c.path for c in result.conflicts)
    up = judge(s, result.merged, len(paths), paths)
    engine = "line merge" if result.format == "text" else f"structured ({result.format})"
    if result.fallback:
        engine += " (fallback)"
    expected = sorted(c.path for c in result.conflicts) == sorted(s.conflicts)
    return PairResult(s, len(base), git, up, engine, expected)


def median_seconds(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    samples = []
    fn()  # warm-up: imports, page cache
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), samples


@dataclass(frozen=True)
class Timing:
    scenario: Scenario
    size: int
    uplevel: float  # in-process engine
    cli: float  # `uplevel merge` process
    git: float  # `git merge-file` process
    repeat: int


def time_pair(s: Scenario, repeat: int, uplevel_cli: list[str]) -> Timing:
    base, ours, theirs = s.base(), s.ours(), s.theirs()
    with tempfile.TemporaryDirectory(prefix="uplevel-merge-time-") as tmp:
        files = []
        for side, data in (("base", base), ("ours", ours), ("theirs", theirs)):
            p = Path(tmp) / f"{side}.{s.name}"
            p.write_bytes(data)
            files.append(str(p))
        out = str(Path(tmp) / f"out.{s.name}")
        git_argv = ["git", "merge-file", "-p", "--diff3", files[1], files[0], files[2]]
        cli_argv = [*uplevel_cli, "merge", *files, "-o", out, "--name", s.name]

        def git() -> None:
            subprocess.run(git_argv, stdout=subprocess.DEVNULL, check=False)

        def cli() -> None:
            proc = subprocess.run(cli_argv, capture_output=True, check=False)
            if proc.returncode not in (0, 1):
                raise BenchError(f"uplevel merge failed: {proc.stderr.decode(errors='replace')}")

        up, _ = median_seconds(lambda: merge(base, ours, theirs, path=s.name), repeat)
        g, _ = median_seconds(git, repeat)
        c, _ = median_seconds(cli, max(3, repeat // 3))
    return Timing(s, len(base), up, c, g, repeat)


# -- report ------------------------------------------------------------------------------------


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _row(label: str, fmt: str, size: str, rs: list[PairResult], engine: str = "") -> str:
    t = totals(rs)
    return (
        f"| {label} | {fmt} | {size} | {t['operator']} | {t['upstream']} | {t['true_conflicts']} "
        f"| {t['git_conflicts']} | {t['up_conflicts']} | {_lost(rs, 'git')} | {_lost(rs, 'uplevel')} "
        f"| {engine} |"
    )


def _lost(rs: list[PairResult], tool: str) -> str:
    outcomes = [getattr(r, tool) for r in rs]
    lost = sum(len(o.lost) for o in outcomes)
    if not lost:
        return "0"
    why = [f"{sum(len(o.in_hunks) for o in outcomes)} in hunks"]
    unreadable = sum(len(o.lost) - len(o.in_hunks) for o in outcomes if o.unreadable)
    if unreadable:
        why.append(f"{unreadable} in a file that does not parse outside hunks")
    return f"{lost} ({', '.join(why)})"


def table(main: list[PairResult], variants: list[PairResult]) -> str:
    lines = [
        "| pair | format | file size | operator changes | upstream changes | true conflicts "
        "| git merge-file conflicts | uplevel conflicts | lost (git) | lost (uplevel) "
        "| uplevel engine |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in main + variants:
        s = r.scenario
        label = s.directory if not s.variant else f"{s.key}: {s.summary}"
        engine = r.engine + ("" if r.conflicts_as_expected else " **unexpected conflicts**")
        lines.append(_row(label, s.name.split(".", 1)[1], _kib(r.size), [r], engine))
        if r is main[-1]:
            lines.append(_row(f"**total, {len(main)} pairs**", "", "", main))
    if variants:
        lines.append(_row(f"**total, {len(variants)} variants**", "", "", variants))
        lines.append(_row(f"**total, all {len(main + variants)}**", "", "", main + variants))
    return "\n".join(lines)


def totals(results: list[PairResult]) -> dict[str, int]:
    return {
        "operator": sum(len(r.scenario.operator) for r in results),
        "upstream": sum(len(r.scenario.upstream) for r in results),
        "true_conflicts": sum(len(r.scenario.conflicts) for r in results),
        "git_conflicts": sum(r.git.conflicts for r in results),
        "up_conflicts": sum(r.uplevel.conflicts for r in results),
        "git_lost": sum(len(r.git.lost) for r in results),
        "up_lost": sum(len(r.uplevel.lost) for r in results),
        "git_in_hunks": sum(len(r.git.in_hunks) for r in results),
        "git_missed": sum(len(r.git.missed) for r in results),
        "up_missed": sum(len(r.uplevel.missed) for r in results),
        "git_false": sum(r.git.false_conflicts for r in results),
        "up_false": sum(r.uplevel.false_conflicts for r in results),
        "git_unreadable": sum(
            len(r.git.lost) - len(r.git.in_hunks) for r in results if r.git.unreadable
        ),
    }


def reduction(results: list[PairResult]) -> float:
    t = totals(results)
    return 100.0 * (1 - t["up_conflicts"] / t["git_conflicts"]) if t["git_conflicts"] else 0.0


def _summary(name: str, rs: list[PairResult]) -> list[str]:
    t = totals(rs)
    cut = reduction(rs)
    dropped = t["git_lost"] - t["git_in_hunks"] - t["git_unreadable"]
    return [
        f"- {name}: conflicts git merge-file {t['git_conflicts']}, uplevel {t['up_conflicts']}: "
        f"**{cut:.0f} % fewer** (goal ≥ 90 %: {'met' if cut >= 90 else '**missed**'}); "
        f"{t['true_conflicts']} of them are true conflicts (both sides changed the same "
        f"setting differently), which every tool must stop on. Conflicts holding no true "
        f"conflict: git {t['git_false']} hunks, uplevel {t['up_false']}. True conflicts "
        f"merged without stopping: git {t['git_missed']}, uplevel {t['up_missed']}. Lost "
        f"changes: git {t['git_lost']} ({t['git_in_hunks']} inside conflict hunks, "
        f"{t['git_unreadable']} in a file that does not parse outside its hunks, {dropped} "
        f"dropped), uplevel "
        f"{t['up_lost']} (goal 0: {'met' if t['up_lost'] == 0 else '**missed**'}), of "
        f"{t['operator'] + t['upstream']} checked changes.",
    ]


def section(
    main: list[PairResult],
    variants: list[PairResult],
    timings: list[Timing],
    facts: dict[str, str],
) -> str:
    out = [
        HEADING,
        "",
        "Produced by `benchmarks/merge_bench.py` (`./dev bench-merge`): the 15 real WSO2 "
        "configuration pairs of `tests/corpus`, each with the operator customisation of "
        "`tests/corpus/scenarios.py` (the one the merge tests use), then the same pairs "
        "customised other ways (variants: reformatted or re-indented files, values upstream "
        "left alone, the same key added on both sides), merged by `git merge-file -p --diff3` "
        "and by uplevel (`uplevel.merge.engine.merge`, what `uplevel merge` and the in-place "
        "update run).",
        "",
        f"- date (UTC): {facts['date (UTC)']}; {facts['cores']} cores, {facts['cpu']}; "
        f"python {facts['python']}; {facts['git']}"
        + (f"; load average (1 min) {facts['load']}" if "load" in facts else ""),
        "",
        table(main, variants),
        "",
        *_summary(f"the {len(main)} pairs", main),
    ]
    if variants:
        out += _summary(f"all {len(main + variants)} scenarios", main + variants)
    for r in main + variants:
        for tool in ("git", "uplevel"):
            o: Outcome = getattr(r, tool)
            for name in o.missed:
                out.append(f"  - {r.scenario.key}: {tool} merged the true conflict `{name}`")
        for fact in r.uplevel.lost:
            out.append(f"  - {r.scenario.key}: uplevel lost {fact.side} {fact.describe()}")
    for tm in timings:
        out.append(
            f"- merge time, {tm.scenario.directory} ({_kib(tm.size)}, median of {tm.repeat}): "
            f"uplevel engine {_ms(tm.uplevel)}, `git merge-file` {_ms(tm.git)} "
            f"(ratio {tm.uplevel / tm.git:.2f}); the `uplevel merge` command, a new Python "
            f"process, {_ms(tm.cli)} (ratio {tm.cli / tm.git:.2f})."
        )
    out += [
        "",
        "How counted:",
        "",
        "- *operator / upstream changes*: the facts of each scenario, each checked on the "
        "real merged file: a setting located in the file's format (a key path for TOML, "
        "JSON and YAML, an XPath for XML, a key for .properties) that must have a value, "
        "exist or be absent, read with an independent parser (tomllib, lxml, ruamel safe "
        "loader, json), or a text that must be present or absent (comments, Jinja lines). "
        "Every fact holds on its own side and not on base (the merge tests check this).",
        "- *true conflicts*: the settings both sides changed differently, listed in the "
        "scenario; uplevel must report exactly those. A git hunk counts as stopping on one "
        "when one of its changes is inside the hunk.",
        "- *conflicts*: git merge-file, the `<<<<<<<` hunks it leaves; uplevel, the "
        "conflicting settings it reports, or its conflict hunks when it merged by lines "
        "(Jinja templates: pairs 05, 06, 08). One git hunk can hold several settings and "
        "one setting conflict of uplevel is one decision for the operator.",
        "- *lost*: a change that does not hold on the result read outside its conflict "
        "hunks, i.e. with every hunk replaced by its base lines (a change that sits only "
        'inside a hunk is not merged: the operator must carry it by hand); "in hunks" '
        "says how many of those were inside a hunk on their own side; when the file outside "
        "its hunks does not parse in its format (a re-indented YAML file, an XML comment "
        "cut in two) its settings cannot be read, and the row says so; the rest were "
        "dropped. "
        "Changes that are part of a true conflict are not counted as lost for either tool; "
        "uplevel keeps the operator's value there and reports the three values.",
        "- *merge time*: the file with the largest base (and the largest merged by "
        "structure), each tool on the same three files in the same run, after one warm-up; "
        "git merge-file is a process, the uplevel engine is measured in-process (as the "
        "in-place update calls it) and as the `uplevel merge` command.",
    ]
    return "\n".join(out) + "\n"


def check_tools() -> None:
    if not shutil.which("git"):
        raise BenchError("git is needed for the baseline: apt-get install -y git")
    probe = subprocess.run(["git", "merge-file", "-h"], capture_output=True, check=False)
    if b"diff3" not in probe.stdout + probe.stderr:
        raise BenchError("this git's merge-file has no --diff3")


def find_uplevel_cli() -> list[str]:
    script = Path(sys.prefix) / "bin" / "uplevel"
    return [str(script)] if script.exists() else [sys.executable, "-m", "uplevel"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=21, help="timed merges of the largest file")
    ap.add_argument("--no-write", action="store_true", help="do not touch benchmarks/RESULTS.md")
    ap.add_argument("--check", action="store_true", help="exit 3 if a goal is missed")
    args = ap.parse_args(argv)
    try:
        check_tools()
    except BenchError as exc:
        print(f"merge_bench: {exc}", file=sys.stderr)
        return 2
    import report

    load_at_start = os.getloadavg()[0]
    main_results = [measure_pair(s) for s in SCENARIOS.values()]
    variant_results = [measure_pair(s) for s in VARIANTS.values()]
    largest = max(SCENARIOS.values(), key=lambda s: len(s.base()))
    structured = [s for s in SCENARIOS.values() if s.fmt != "text"]
    largest_structured = max(structured, key=lambda s: len(s.base()))
    cli = find_uplevel_cli()
    timings = [time_pair(largest, args.repeat, cli)]
    if largest_structured is not largest:
        timings.append(time_pair(largest_structured, args.repeat, cli))
    facts = report.machine_facts(ROOT)
    facts["load"] = f"{load_at_start:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    text = section(main_results, variant_results, timings, facts)
    print(text)
    if not args.no_write:
        report.write_section(HERE / "RESULTS.md", HEADING, text)
    every = main_results + variant_results
    missed = totals(every)["up_lost"] > 0 or reduction(main_results) < 90.0
    return 3 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
