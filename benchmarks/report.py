"""Render benchmark results as Markdown: the table on stdout and benchmarks/RESULTS.md.

Why machine facts go into the file: a ratio is only comparable between runs on the same
kind of machine, so every result carries the cores, CPU, Python, file system and scale it
was measured with.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results table; `ok` is None for rows that have no target."""

    operation: str
    uplevel: str
    reference: str
    ratio: str
    target: str
    ok: bool | None


def seconds(value: float) -> str:
    return f"{value:.3f} s"


def mib(value: float) -> str:
    return f"{value / MIB:.1f} MiB"


def ratio_row(op: str, ours: float, ref: float, limit: float, unit: str = "s") -> Row:
    """A row judged by ours/ref <= limit (lower is better for every metric here)."""
    ratio = ours / ref if ref else float("inf")
    fmt = seconds if unit == "s" else mib
    return Row(op, fmt(ours), fmt(ref), f"{ratio:.2f}", f"≤ {limit:g}", ratio <= limit)


def table(rows: list[Row]) -> str:
    lines = [
        "| operation | uplevel (median) | reference, same run (median) | ratio | target | result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        verdict = "—" if r.ok is None else ("pass" if r.ok else "**FAIL**")
        lines.append(
            f"| {r.operation} | {r.uplevel} | {r.reference} | {r.ratio} | {r.target} | {verdict} |"
        )
    return "\n".join(lines)


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "?"
    return out.splitlines()[0].strip() if out else "?"


def machine_facts(workdir: Path) -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "file system of workdir": _first_line(["stat", "-f", "-c", "%T", str(workdir)]),
        "rsync": _first_line(["rsync", "--version"]),
        "git": _first_line(["git", "--version"]),
        "sha256sum": _first_line(["sha256sum", "--version"]),
    }


# Sections the other benchmarks own (each replaces only its own on a rerun); run.py keeps them.
BENCH_SECTIONS = (
    "## Update repository and server",  # repo_bench.py
    "## Configuration merge",  # merge_bench.py
    "## Updated packs",  # pack_bench.py
    "## Migration",  # migrate_bench.py
    "## Fleet rollout",  # fleet_bench.py
)


def _split_sections(text: str) -> tuple[str, dict[str, str]]:
    """RESULTS.md as (head, {heading: section text}) for the benchmark-owned sections;
    a section runs from its heading to the next owned heading or the end."""
    lines = text.splitlines(keepends=True)
    head: list[str] = []
    owned: dict[str, list[str]] = {}
    current: list[str] = head
    for line in lines:
        if line.rstrip("\n") in BENCH_SECTIONS:
            current = owned.setdefault(line.rstrip("\n"), [])
        current.append(line)
    return "".join(head), {h: "".join(v) for h, v in owned.items()}


def _join(head: str, owned: dict[str, str]) -> str:
    parts = [head.rstrip("\n") + "\n"] if head.strip() else []
    parts += [owned[h].rstrip("\n") + "\n" for h in BENCH_SECTIONS if h in owned]
    return "\n".join(parts)


def write_section(path: Path, heading: str, text: str) -> None:
    """Replace one benchmark's own section of RESULTS.md (text starts with its heading),
    leaving every other section as it was."""
    if heading not in BENCH_SECTIONS or not text.startswith(heading + "\n"):
        raise ValueError(f"{heading!r} is not a benchmark section heading of RESULTS.md")
    head, owned = _split_sections(path.read_text() if path.exists() else "")
    owned[heading] = text
    path.write_text(_join(head, owned))


def write_results(
    path: Path, rows: list[Row], facts: dict[str, str], sections: list[tuple[str, str]]
) -> None:
    """Write RESULTS.md: facts, the main table, then free-form sections (title, body)."""
    out = ["# uplevel in-place engine: benchmark results", "",
           "Produced by `benchmarks/run.py`; see `benchmarks/README.md` for what each row means.",
           "", "## Machine and run", ""]  # fmt: skip
    out += [f"- {k}: {v}" for k, v in facts.items()]
    out += ["", "## Results", "", table(rows), ""]
    for title, body in sections:
        out += [f"## {title}", "", body.rstrip(), ""]
    # Sections other benchmarks own survive a rerun of this one.
    _, owned = _split_sections(path.read_text() if path.exists() else "")
    path.write_text(_join("\n".join(out), owned))
