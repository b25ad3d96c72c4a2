"""Measure the configuration merge on the corpus: uplevel against `git merge-file`.

For each real WSO2 pair in tests/corpus (and each variant: the same pair customised another
way), the operator's side and the changes each side made come from
tests/corpus/scenarios.py, the same scenarios the merge tests assert on. Both tools merge
the same base, ours and theirs; for each the script counts, per scenario, per format and in
total, the changes it loses (values, comment lines and layout apart), the conflicts it
stops on that hold no true conflict (spurious), the true conflicts it stops on out of those
planted, and whether a merge that stopped on a conflict still holds every other change.
It also times the merge of the largest file.

Usage: .venv/bin/python benchmarks/merge_bench.py [--repeat 21] [--no-write] [--check]
(`--no-write` prints the section without touching benchmarks/RESULTS.md).

How it counts (also written under the tables):
- lost: a change of either side (a fact of the scenario: a setting with its new value,
  present or absent, or a text) that does not hold on the result read outside its conflict
  hunks, that is with every hunk replaced by its base lines. A change that a tool left only
  inside a conflict hunk is therefore lost for that tool: the operator has to carry it by
  hand. Changes that are part of a true conflict (both sides changed the same setting
  differently, or one changed what the other removed: nobody can merge them) are not
  counted as lost for either tool; they are listed in the scenario, and uplevel must report
  exactly those conflicts.
- spurious: uplevel, a reported conflict the scenario does not expect; git, a hunk none of
  whose changes is part of a true conflict.
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
    KINDS,
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
    """One tool's merge of one scenario."""

    merged: bytes
    conflicts: int
    lost: tuple[Fact, ...]  # one-sided changes not in the result outside conflict hunks
    in_hunks: tuple[Fact, ...]  # of those, the ones that are inside a conflict hunk
    missed: tuple[str, ...] = ()  # true conflicts the tool merged without stopping
    false_conflicts: int = 0  # conflicts (hunks or settings) that hold no true conflict
    spurious: tuple[str, ...] = ()  # uplevel: the names of those conflicts
    unreadable: bool = False  # the result outside its hunks does not parse in its format

    def lost_of(self, kind: str) -> int:
        return sum(1 for f in self.lost if f.kind == kind)

    @property
    def complete(self) -> bool | None:
        """A merge that stopped on a conflict: does it hold every other change? (None:
        it did not stop.)"""
        return None if not self.conflicts else not self.lost


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
    spurious: tuple[str, ...] = ()
    if reported is not None:
        spurious = tuple(name for name in reported if name not in s.conflicts)
        false_conflicts = len(spurious)
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
        spurious=spurious,
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

FORMAT_LABELS = {
    "toml": "TOML",
    "xml": "XML",
    "yaml": "YAML",
    "json": "JSON",
    "properties": ".properties",
    "text": "Jinja templates (lines)",
}
TOOLS = (("uplevel", "uplevel"), ("git", "git merge-file"))


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def totals(results: list[PairResult]) -> dict[str, int]:
    t = {
        "scenarios": len(results),
        "operator": sum(len(r.scenario.operator) for r in results),
        "upstream": sum(len(r.scenario.upstream) for r in results),
        "true_conflicts": sum(len(r.scenario.conflicts) for r in results),
    }
    for kind in KINDS:
        t[f"facts_{kind}"] = sum(1 for r in results for f in r.scenario.facts if f.kind == kind)
    for tool, short in (("git", "git"), ("uplevel", "up")):
        outcomes: list[Outcome] = [getattr(r, tool) for r in results]
        t[f"{short}_conflicts"] = sum(o.conflicts for o in outcomes)
        t[f"{short}_lost"] = sum(len(o.lost) for o in outcomes)
        for kind in KINDS:
            t[f"{short}_lost_{kind}"] = sum(o.lost_of(kind) for o in outcomes)
        t[f"{short}_in_hunks"] = sum(len(o.in_hunks) for o in outcomes)
        t[f"{short}_missed"] = sum(len(o.missed) for o in outcomes)
        t[f"{short}_found"] = t["true_conflicts"] - t[f"{short}_missed"]
        t[f"{short}_false"] = sum(o.false_conflicts for o in outcomes)
        t[f"{short}_stopped"] = sum(1 for o in outcomes if o.complete is not None)
        t[f"{short}_complete"] = sum(1 for o in outcomes if o.complete)
        t[f"{short}_unreadable"] = sum(
            len(o.lost) - len(o.in_hunks) for o in outcomes if o.unreadable
        )
    return t


def reduction(results: list[PairResult]) -> float:
    t = totals(results)
    return 100.0 * (1 - t["up_conflicts"] / t["git_conflicts"]) if t["git_conflicts"] else 0.0


def _kinds(counts: list[int]) -> str:
    return " / ".join(str(n) for n in counts)


def _lost_cell(o: Outcome) -> str:
    cell = _kinds([o.lost_of(k) for k in KINDS])
    if o.lost and len(o.in_hunks) < len(o.lost):
        why = "does not parse outside hunks" if o.unreadable else "dropped"
        cell += f" ({len(o.lost) - len(o.in_hunks)} {why})"
    return cell


def _conflict_cell(o: Outcome, planted: int) -> str:
    cell = f"{o.conflicts}"
    extra = []
    if o.false_conflicts:
        extra.append(f"{o.false_conflicts} spurious")
    if o.missed:
        extra.append(f"{planted - len(o.missed)} of {planted} true found")
    return cell + (f" ({', '.join(extra)})" if extra else "")


def format_table(results: list[PairResult]) -> str:
    """Per format and in total, both tools: the figures issue 10 asks for."""
    lines = [
        "| format | tool | scenarios | changes checked (values / comments / layout) "
        "| lost values | lost comment lines | lost layout | spurious conflicts "
        "| true conflicts found / planted | conflicted merges holding every other change |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    groups = [
        (FORMAT_LABELS.get(fmt, fmt), [r for r in results if r.scenario.fmt == fmt])
        for fmt in FORMAT_LABELS
    ]
    groups = [(label, rs) for label, rs in groups if rs]
    groups.append((f"**total** ({len({r.scenario.pair for r in results})} pairs)", results))
    for label, rs in groups:
        t = totals(rs)
        checked = _kinds([t[f"facts_{k}"] for k in KINDS])
        for tool, name in TOOLS:
            short = "up" if tool == "uplevel" else "git"
            lines.append(
                f"| {label} | {name} | {t['scenarios']} | {checked} "
                f"| {t[f'{short}_lost_value']} | {t[f'{short}_lost_comment']} "
                f"| {t[f'{short}_lost_layout']} | {t[f'{short}_false']} "
                f"| {t[f'{short}_found']} / {t['true_conflicts']} "
                f"| {t[f'{short}_complete']} of {t[f'{short}_stopped']} |"
            )
    return "\n".join(lines)


def _row(label: str, fmt: str, size: str, rs: list[PairResult], engine: str = "") -> str:
    t = totals(rs)
    if len(rs) == 1:
        r = rs[0]
        planted = len(r.scenario.conflicts)
        git_c, up_c = _conflict_cell(r.git, planted), _conflict_cell(r.uplevel, planted)
        git_l, up_l = _lost_cell(r.git), _lost_cell(r.uplevel)
    else:
        git_c = f"{t['git_conflicts']} ({t['git_false']} spurious)"
        up_c = f"{t['up_conflicts']} ({t['up_false']} spurious)"
        git_l = _kinds([t[f"git_lost_{k}"] for k in KINDS])
        up_l = _kinds([t[f"up_lost_{k}"] for k in KINDS])
    return (
        f"| {label} | {fmt} | {size} | {t['operator']} | {t['upstream']} | {t['true_conflicts']} "
        f"| {git_c} | {up_c} | {git_l} | {up_l} | {engine} |"
    )


def table(main: list[PairResult], variants: list[PairResult]) -> str:
    """One row per scenario; lost changes as values / comments / layout."""
    lines = [
        "| scenario | format | file size | operator changes | upstream changes | true conflicts "
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


def _summary(name: str, rs: list[PairResult]) -> list[str]:
    t = totals(rs)
    cut = reduction(rs)
    goals = {
        "0 lost changes": t["up_lost"] == 0,
        "0 spurious conflicts": t["up_false"] == 0,
        "every true conflict reported": t["up_missed"] == 0,
        "conflicted merges complete": t["up_complete"] == t["up_stopped"],
    }
    met = ", ".join(f"{g}: {'met' if ok else '**missed**'}" for g, ok in goals.items())
    return [
        f"- {name}: uplevel lost {t['up_lost']} of {t['operator'] + t['upstream']} checked "
        f"changes ({t['up_lost_value']} values, {t['up_lost_comment']} comment lines, "
        f"{t['up_lost_layout']} layout), git merge-file {t['git_lost']} "
        f"({t['git_lost_value']} / {t['git_lost_comment']} / {t['git_lost_layout']}; "
        f"{t['git_in_hunks']} inside conflict hunks, {t['git_unreadable']} in a file that "
        f"does not parse outside its hunks). Conflicts: git {t['git_conflicts']} hunks "
        f"({t['git_false']} spurious), uplevel {t['up_conflicts']} ({t['up_false']} "
        f"spurious), {cut:.0f} % fewer; true conflicts found: git {t['git_found']}, uplevel "
        f"{t['up_found']}, of {t['true_conflicts']} planted. Goals (issue 10): {met}.",
    ]


def _details(results: list[PairResult]) -> list[str]:
    out = []
    for r in results:
        for tool in ("git", "uplevel"):
            o: Outcome = getattr(r, tool)
            for name in o.missed:
                out.append(f"  - {r.scenario.key}: {tool} merged the true conflict `{name}`")
        for name in r.uplevel.spurious:
            out.append(f"  - {r.scenario.key}: uplevel reported the spurious conflict `{name}`")
        for fact in r.uplevel.lost:
            out.append(
                f"  - {r.scenario.key}: uplevel lost {fact.side} {fact.kind} {fact.describe()}"
            )
    return out


def section(
    main: list[PairResult],
    variants: list[PairResult],
    timings: list[Timing],
    facts: dict[str, str],
) -> str:
    every = main + variants
    out = [
        HEADING,
        "",
        f"Produced by `benchmarks/merge_bench.py` (`./dev bench-merge`): the {len(main)} real "
        "WSO2 configuration pairs of `tests/corpus`, each with the operator customisation of "
        "`tests/corpus/scenarios.py` (the one the merge tests use), then the same pairs "
        f"customised other ways ({len(variants)} variants: reformatted or re-indented files, "
        "commented-out sections made live, keys appended to the last table, values upstream "
        "left alone, the same key added on both sides), merged by `git merge-file -p --diff3` "
        "and by uplevel (`uplevel.merge.engine.merge`, what `uplevel merge` and the in-place "
        "update run).",
        "",
        f"- date (UTC): {facts['date (UTC)']}; {facts['cores']} cores, {facts['cpu']}; "
        f"python {facts['python']}; {facts['git']}"
        + (f"; load average (1 min) {facts['load']}" if "load" in facts else ""),
        "",
        f"### Per format, all {len(every)} scenarios",
        "",
        format_table(every),
        "",
        *_summary(f"the {len(main)} pairs", main),
    ]
    if variants:
        out += _summary(f"all {len(every)} scenarios", every)
    out += _details(every)
    for tm in timings:
        out.append(
            f"- merge time, {tm.scenario.directory} ({_kib(tm.size)}, median of {tm.repeat}): "
            f"uplevel engine {_ms(tm.uplevel)}, `git merge-file` {_ms(tm.git)} "
            f"(ratio {tm.uplevel / tm.git:.2f}); the `uplevel merge` command, a new Python "
            f"process, {_ms(tm.cli)} (ratio {tm.cli / tm.git:.2f})."
        )
    out += [
        "",
        "### Per scenario",
        "",
        "Lost changes as values / comment lines / layout.",
        "",
        table(main, variants),
        "",
        "How counted:",
        "",
        "- *changes*: the facts of each scenario, each checked on the real merged file: a "
        "setting located in the file's format (a key path for TOML, JSON and YAML, an XPath "
        "for XML, a key for .properties) that must have a value, exist or be absent, read "
        "with an independent parser (tomllib, lxml, ruamel safe loader, json, a "
        "transcription of java.util.Properties), or a text that must be present or absent. "
        "Every fact holds on its own side and not on base (the merge tests check this). A "
        "fact is a *value* (a setting, or a "
        "template line that is configuration), a *comment* (comment lines added, removed or "
        "edited, commented-out documented blocks included) or *layout* (formatting: the "
        "operator's, of lines whose settings did not change, or upstream's lines as it "
        "wrote or re-spaced them).",
        "- *true conflicts*: the settings both sides changed differently (or one changed "
        "what the other removed), listed in the scenario; uplevel must report exactly "
        "those. A git hunk counts as stopping on one when one of its changes is inside it.",
        "- *conflicts*: git merge-file, the `<<<<<<<` hunks it leaves; uplevel, the "
        "conflicting settings it reports, or its conflict hunks when it merged by lines "
        "(Jinja templates). One git hunk can hold several settings and one setting conflict "
        "of uplevel is one decision for the operator.",
        "- *spurious conflicts*: uplevel, a reported conflict the scenario does not list "
        "(a setting only one side touched); git, a hunk none of whose changes is part of a "
        "true conflict.",
        "- *lost*: a change that does not hold on the result read outside its conflict "
        "hunks, i.e. with every hunk replaced by its base lines (a change that sits only "
        "inside a hunk is not merged: the operator must carry it by hand). Per scenario "
        "the cell says how many were not inside a hunk either: dropped, or in a file that "
        "does not parse outside its hunks (a re-indented YAML file, an XML comment cut in "
        "two). Changes that are part of a true conflict are not counted as lost for either "
        "tool; uplevel keeps the operator's value there and reports the three values.",
        "- *conflicted merges holding every other change*: of the scenarios where the tool "
        "stopped on at least one conflict, those whose result holds every change that is "
        "not part of a true conflict.",
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
    t = totals(main_results + variant_results)
    missed = t["up_lost"] or t["up_false"] or t["up_missed"] or t["up_complete"] < t["up_stopped"]
    return 3 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
