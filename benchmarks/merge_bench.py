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


def judge(s: Scenario, merged: bytes, conflicts: int) -> Outcome:
    """Count what a merge lost; see the module docstring for the definition."""
    lost = tuple(s.missing(merged))
    in_hunks = []
    for fact in lost:  # was it there, inside a hunk, on its own side?
        own = Reading(s.fmt, resolve_conflicts(merged, fact.side))
        if fact.holds(own):
            in_hunks.append(fact)
    return Outcome(merged=merged, conflicts=conflicts, lost=lost, in_hunks=tuple(in_hunks))


def measure_pair(s: Scenario) -> PairResult:
    base, ours, theirs = s.base(), s.ours(), s.theirs()
    git_out = git_merge_file(base, ours, theirs, s.name)
    git = judge(s, git_out, conflict_hunks(git_out))
    result = merge(base, ours, theirs, path=s.name)
    up = judge(s, result.merged, len(result.conflicts))
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


def table(results: list[PairResult]) -> str:
    lines = [
        "| pair | format | file size | operator changes | upstream changes "
        "| git merge-file conflicts | uplevel conflicts | lost (git) | lost (uplevel) "
        "| uplevel engine |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        s = r.scenario
        fmt = s.name.split(".", 1)[1]
        lines.append(
            f"| {s.directory} | {fmt} | {_kib(r.size)} | {len(s.operator)} | {len(s.upstream)} "
            f"| {r.git.conflicts} | {r.uplevel.conflicts} | {_lost(r.git)} | {_lost(r.uplevel)} "
            f"| {r.engine}{'' if r.conflicts_as_expected else ' **unexpected conflicts**'} |"
        )
    t = totals(results)
    lines.append(
        f"| **total** ({len(results)} pairs) | | | {t['operator']} | {t['upstream']} "
        f"| {t['git_conflicts']} | {t['up_conflicts']} | {t['git_lost']} | {t['up_lost']} | |"
    )
    return "\n".join(lines)


def _lost(o: Outcome) -> str:
    if not o.lost:
        return "0"
    return f"{len(o.lost)} ({len(o.in_hunks)} in hunks)"


def totals(results: list[PairResult]) -> dict[str, int]:
    return {
        "operator": sum(len(r.scenario.operator) for r in results),
        "upstream": sum(len(r.scenario.upstream) for r in results),
        "git_conflicts": sum(r.git.conflicts for r in results),
        "up_conflicts": sum(r.uplevel.conflicts for r in results),
        "git_lost": sum(len(r.git.lost) for r in results),
        "up_lost": sum(len(r.uplevel.lost) for r in results),
        "git_in_hunks": sum(len(r.git.in_hunks) for r in results),
        "true_conflicts": sum(len(r.scenario.conflicts) for r in results),
    }


def reduction(results: list[PairResult]) -> float:
    t = totals(results)
    return 100.0 * (1 - t["up_conflicts"] / t["git_conflicts"]) if t["git_conflicts"] else 0.0


def section(results: list[PairResult], timings: list[Timing], facts: dict[str, str]) -> str:
    t = totals(results)
    cut = reduction(results)
    ok_lost = t["up_lost"] == 0
    ok_cut = cut >= 90.0
    out = [
        HEADING,
        "",
        "Produced by `benchmarks/merge_bench.py` (`./dev bench-merge`): the 15 real WSO2 "
        "configuration pairs of `tests/corpus` with the operator customisations of "
        "`tests/corpus/scenarios.py`, merged by `git merge-file -p --diff3` and by uplevel "
        "(`uplevel.merge.engine.merge`, what `uplevel merge` and the in-place update run).",
        "",
        f"- date (UTC): {facts['date (UTC)']}; {facts['cores']} cores, {facts['cpu']}; "
        f"python {facts['python']}; {facts['git']}",
        "",
        table(results),
        "",
        f"- conflicts: git merge-file {t['git_conflicts']}, uplevel {t['up_conflicts']}: "
        f"**{cut:.0f} % fewer** (goal ≥ 90 %: {'met' if ok_cut else '**missed**'}). "
        f"The scenarios hold {t['true_conflicts']} true conflicts (both sides changed the "
        "same setting differently); uplevel reported exactly those on "
        f"{sum(r.conflicts_as_expected for r in results)} of {len(results)} pairs.",
        f"- lost changes: git merge-file {t['git_lost']} (all {t['git_in_hunks']} of them "
        "inside conflict hunks)"
        if t["git_lost"] == t["git_in_hunks"]
        else f"- lost changes: git merge-file {t['git_lost']} ({t['git_in_hunks']} inside "
        "conflict hunks, the rest dropped)",
    ]
    out[-1] += (
        f", uplevel {t['up_lost']} (goal 0: {'met' if ok_lost else '**missed**'}), of "
        f"{t['operator'] + t['upstream']} checked changes."
    )
    for r in results:
        for fact in r.uplevel.lost:
            out.append(f"  - uplevel lost on {r.scenario.pair}: {fact.side} {fact.describe()}")
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
        "- *conflicts*: git merge-file, the `<<<<<<<` hunks it leaves; uplevel, the "
        "conflicting settings it reports, or its conflict hunks when it merged by lines "
        "(Jinja templates: pairs 05, 06, 08).",
        "- *lost*: a change that does not hold on the result read outside its conflict "
        "hunks, i.e. with every hunk replaced by its base lines (a change that sits only "
        'inside a hunk is not merged: the operator must carry it by hand); "in hunks" '
        "says how many of those were inside a hunk on their own side rather than dropped. "
        "Changes that are part of a true conflict are not counted as lost for either tool; "
        "uplevel keeps the operator's value there and reports the three values.",
        "- *merge time*: the file with the largest base, each tool on the same three files "
        "in the same run, after one warm-up; git merge-file is a process, the uplevel "
        "engine is measured in-process (as the in-place update calls it) and as the "
        "`uplevel merge` command.",
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

    results = [measure_pair(s) for s in SCENARIOS.values()]
    largest = max(SCENARIOS.values(), key=lambda s: len(s.base()))
    structured = [s for s in SCENARIOS.values() if s.fmt != "text"]
    largest_structured = max(structured, key=lambda s: len(s.base()))
    cli = find_uplevel_cli()
    timings = [time_pair(largest, args.repeat, cli)]
    if largest_structured is not largest:
        timings.append(time_pair(largest_structured, args.repeat, cli))
    text = section(results, timings, report.machine_facts(ROOT))
    print(text)
    if not args.no_write:
        report.write_section(HERE / "RESULTS.md", HEADING, text)
    missed = totals(results)["up_lost"] > 0 or reduction(results) < 90.0
    return 3 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
